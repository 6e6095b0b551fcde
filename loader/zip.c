/* Zip structure reader (see zip.h for why it is ours).  It parses the end
 * record, zip64 locator/record, the central directory and every local
 * header, then walks the gaps between entries for local headers that no
 * directory lists.  Everything is read in place from the mapped input; only
 * the entry table is allocated (bounded arena).  Tensor data is never
 * touched: only headers. */
#include "zip.h"

#include "container.h"

#include <stdlib.h>
#include <string.h>

enum {
    SIG_LOCAL = 0x04034b50,
    SIG_CENTRAL = 0x02014b50,
    SIG_EOCD = 0x06054b50,
    SIG_EOCD64 = 0x06064b50,
    SIG_LOC64 = 0x07064b50,
    SIG_DESC = 0x08074b50,
    EOCD_LEN = 22,
    CD_LEN = 46,
    LOCAL_LEN = 30,
    MAX_REPORTS_PER_KIND = 12,
};

/* Findings of one kind per zip are capped; the last says how many more. */
typedef struct counter {
    unsigned n;
} counter;

static bool report_ok(counter *c) { return c->n++ < MAX_REPORTS_PER_KIND; }

static bool fits(size_t n, uint64_t off, uint64_t len) { return off <= n && len <= n - off; }

/* Last end record with room for its fixed part, searched back over at most
 * 64 KiB of comment: what both CPython (rfind) and miniz do. */
static bool find_eocd(const uint8_t *d, size_t n, uint64_t *at)
{
    if (n < EOCD_LEN)
        return false;
    size_t hi = n - EOCD_LEN;
    size_t lo = hi > 65535 ? hi - 65535 : 0;
    for (size_t i = hi + 1; i-- > lo;) {
        if (d[i] == 'P' && pj_le32(d + i) == SIG_EOCD) {
            *at = i;
            return true;
        }
    }
    return false;
}

typedef struct eocd_info {
    uint64_t eocd, entries, cd_size, cd_ofs, comment_len;
    bool zip64;
    uint64_t eocd64;
} eocd_info;

static bool read_eocd(const uint8_t *d, size_t n, eocd_info *e)
{
    memset(e, 0, sizeof *e);
    if (!find_eocd(d, n, &e->eocd))
        return false;
    const uint8_t *p = d + e->eocd;
    e->entries = pj_le16(p + 10);
    e->cd_size = pj_le32(p + 12);
    e->cd_ofs = pj_le32(p + 16);
    e->comment_len = pj_le16(p + 20);
    if (e->eocd >= 20 && pj_le32(d + e->eocd - 20) == SIG_LOC64) {
        uint64_t o = pj_le64(d + e->eocd - 20 + 8);
        if (fits(n, o, 56) && pj_le32(d + o) == SIG_EOCD64) {
            e->zip64 = true;
            e->eocd64 = o;
            e->entries = pj_le64(d + o + 32);
            e->cd_size = pj_le64(d + o + 40);
            e->cd_ofs = pj_le64(d + o + 48);
        }
    }
    return true;
}

/* CPython: concat = eocd location - cd size - cd offset (- zip64 records). */
static int64_t cpython_concat(const eocd_info *e)
{
    uint64_t end_of_cd = e->zip64 ? e->eocd - 20 - 56 : e->eocd;
    if (e->zip64 && e->eocd < 76)
        return 0;
    if (e->cd_size > end_of_cd || e->cd_ofs > end_of_cd - e->cd_size)
        return -1;
    return (int64_t)(end_of_cd - e->cd_size - e->cd_ofs);
}

bool pj_zip_has_directory(const uint8_t *d, size_t n)
{
    eocd_info e;
    if (!read_eocd(d, n, &e))
        return false;
    int64_t c = cpython_concat(&e);
    if (c < 0)
        return false;
    uint64_t at = e.cd_ofs + (uint64_t)c;
    if (e.entries == 0)
        return true;
    return fits(n, at, 4) && pj_le32(d + at) == SIG_CENTRAL;
}

/* zip64 extended information: the fields present are those whose 32-bit
 * value is 0xffffffff, in this order. */
static void zip64_extra(const uint8_t *x, size_t xl, uint64_t *usize, uint64_t *csize,
                        uint64_t *lofs, bool local)
{
    size_t i = 0;
    while (i + 4 <= xl) {
        uint16_t id = pj_le16(x + i), sz = pj_le16(x + i + 2);
        if (sz > xl - i - 4)
            return;
        if (id == 0x0001) {
            const uint8_t *f = x + i + 4;
            size_t left = sz;
            if (*usize == 0xffffffffu || (local && left >= 16)) {
                if (left < 8)
                    return;
                *usize = pj_le64(f);
                f += 8;
                left -= 8;
            }
            if (*csize == 0xffffffffu || (local && left >= 8)) {
                if (left < 8)
                    return;
                *csize = pj_le64(f);
                f += 8;
                left -= 8;
            }
            if (lofs != NULL && *lofs == 0xffffffffu && left >= 8)
                *lofs = pj_le64(f);
            return;
        }
        i += 4 + (size_t)sz;
    }
}

static pj_zip_entry *add_entry(pj_scan_ctx *ctx, pj_arena *a, pj_zip *z, const char *loc)
{
    if (z->n == z->cap) {
        size_t ncap = z->cap ? z->cap * 2 : 16;
        pj_zip_entry *ne = pj_arena_array(a, ncap, sizeof *ne);
        if (ne == NULL) {
            pj_cfinding(ctx, loc, PJ_LIMIT_ARENA, 0,
                        "zip lists more entries (%zu) than the memory budget allows; the rest "
                        "was not read",
                        z->n);
            return NULL;
        }
        if (z->n)
            memcpy(ne, z->e, z->n * sizeof *ne);
        z->e = ne;
        z->cap = ncap;
    }
    pj_zip_entry *e = &z->e[z->n++];
    memset(e, 0, sizeof *e);
    e->cd_ofs = UINT64_MAX;
    return e;
}

/* Where does a STORED member with a data descriptor end, when the local
 * header does not say?  At a descriptor whose size field matches. */
static uint64_t find_descriptor_end(const uint8_t *d, size_t n, uint64_t start)
{
    static const uint8_t sig[4] = {'P', 'K', 7, 8};
    uint64_t pos = start;
    while (pos + 16 <= n) {
        const uint8_t *p = memmem(d + pos, n - pos, sig, 4);
        if (p == NULL)
            break;
        uint64_t at = (uint64_t)(p - d);
        if (at + 16 <= n && pj_le32(p + 8) == (uint32_t)(at - start))
            return at;
        if (at + 24 <= n && pj_le64(p + 8) == at - start)
            return at;
        pos = at + 1;
    }
    return n;
}

/* Length of a data descriptor at off (0 when none fits). */
static uint64_t descriptor_len(const uint8_t *d, size_t n, uint64_t off, bool zip64)
{
    uint64_t base = (fits(n, off, 4) && pj_le32(d + off) == SIG_DESC) ? 4 : 0;
    uint64_t len = base + (zip64 ? 20 : 12);
    return fits(n, off, len) ? len : 0;
}

/* Parse the local header at e->local_ofs into e.  Returns false when there
 * is no local header there. */
static bool read_local(const uint8_t *d, size_t n, pj_zip_entry *e)
{
    uint64_t o = e->local_ofs;
    if (!fits(n, o, LOCAL_LEN) || pj_le32(d + o) != SIG_LOCAL)
        return false;
    const uint8_t *p = d + o;
    e->lflags = pj_le16(p + 6);
    e->lmethod = pj_le16(p + 8);
    e->lcrc = pj_le32(p + 14);
    e->lcsize = pj_le32(p + 18);
    e->lusize = pj_le32(p + 22);
    uint16_t nl = pj_le16(p + 26), xl = pj_le16(p + 28);
    uint64_t name_at = o + LOCAL_LEN;
    e->local_ok = true;
    if (fits(n, name_at, nl)) {
        e->lname = d + name_at;
        e->lname_len = nl;
    } else {
        e->lname = d + name_at;
        e->lname_len = n > name_at ? n - name_at : 0;
    }
    if (fits(n, name_at + nl, xl))
        zip64_extra(d + name_at + nl, xl, &e->lusize, &e->lcsize, NULL, true);
    e->data_ofs = name_at + nl + xl;
    return true;
}

/* A local header no central directory lists: a streaming reader sees it. */
static pj_zip_entry *add_local_only(pj_scan_ctx *ctx, pj_arena *a, pj_zip *z, const uint8_t *d,
                                    size_t n, uint64_t at, const char *loc)
{
    pj_zip_entry *e = add_entry(ctx, a, z, loc);
    if (e == NULL)
        return NULL;
    e->local_ofs = at;
    if (!read_local(d, n, e)) {
        z->n--;
        return NULL;
    }
    e->name = e->lname;
    e->name_len = e->lname_len;
    e->flags = e->lflags;
    e->method = e->lmethod;
    e->crc = e->lcrc;
    e->csize = e->lcsize;
    e->usize = e->lusize;
    uint64_t data_end;
    if ((e->lflags & 0x8) && e->lcsize == 0) {
        if (e->lmethod == 8) {
            /* Deflate knows where it ends; inflate only to find that out
             * would cost a full decode, so bound it by the next header. */
            static const uint8_t sig[4] = {'P', 'K', 7, 8};
            const uint8_t *p = e->data_ofs <= n ? memmem(d + e->data_ofs, n - e->data_ofs, sig, 4)
                                                : NULL;
            data_end = p ? (uint64_t)(p - d) : n;
        } else {
            data_end = find_descriptor_end(d, n, e->data_ofs);
        }
        e->csize = data_end >= e->data_ofs ? data_end - e->data_ofs : 0;
        e->usize = e->method == 0 ? e->csize : e->usize;
        e->end_ofs = data_end + descriptor_len(d, n, data_end, false);
    } else {
        data_end = e->data_ofs + e->csize;
        e->end_ofs = data_end;
        if (e->lflags & 0x8)
            e->end_ofs += descriptor_len(d, n, data_end, false);
    }
    if (data_end > n || e->data_ofs > n) {
        e->data_truncated = true;
        e->end_ofs = n;
    } else if (e->lflags & 0x8) {
        /* No directory: the data descriptor holds the real CRC and sizes. */
        uint64_t q = data_end;
        if (fits(n, q, 4) && pj_le32(d + q) == SIG_DESC)
            q += 4;
        if (fits(n, q, 12)) {
            e->crc = pj_le32(d + q);
            if (e->lcsize == 0 && pj_le32(d + q + 4) == e->csize)
                e->usize = pj_le32(d + q + 8);
        }
    }
    return e;
}

/* ---------- miniz's view ---------- */

static uint8_t mz_lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c; }

/* mz_zip_reader_filename_less */
static bool mz_less(const pj_zip *z, uint32_t l, uint32_t r)
{
    const pj_zip_entry *L = &z->e[l], *R = &z->e[r];
    size_t m = L->name_len < R->name_len ? L->name_len : R->name_len;
    uint8_t lc = 0, rc = 0;
    size_t i = 0;
    for (; i < m; i++) {
        lc = mz_lower(L->name[i]);
        rc = mz_lower(R->name[i]);
        if (lc != rc)
            break;
    }
    return i == m ? L->name_len < R->name_len : lc < rc;
}

/* mz_zip_reader_sort_central_dir_offsets_by_filename: the same heap sort,
 * step for step, so duplicates land where miniz puts them. */
static void mz_sort(const pj_zip *z, uint32_t *idx, uint32_t size)
{
    if (size <= 1)
        return;
    uint32_t start = (size - 2u) >> 1u;
    for (;;) {
        uint64_t child, root = start;
        for (;;) {
            if ((child = (root << 1u) + 1u) >= size)
                break;
            child += ((child + 1u) < size) && mz_less(z, idx[child], idx[child + 1u]);
            if (!mz_less(z, idx[root], idx[child]))
                break;
            uint32_t t = idx[root];
            idx[root] = idx[child];
            idx[child] = t;
            root = child;
        }
        if (!start)
            break;
        start--;
    }
    uint32_t end = size - 1;
    while (end > 0) {
        uint64_t child, root = 0;
        uint32_t t = idx[end];
        idx[end] = idx[0];
        idx[0] = t;
        for (;;) {
            if ((child = (root << 1u) + 1u) >= end)
                break;
            child += ((child + 1u) < end) && mz_less(z, idx[child], idx[child + 1u]);
            if (!mz_less(z, idx[root], idx[child]))
                break;
            t = idx[root];
            idx[root] = idx[child];
            idx[child] = t;
            root = child;
        }
        end--;
    }
}

long pj_zip_miniz_locate(const pj_zip *z, const char *name)
{
    if (z->miniz_sorted == NULL || z->n_miniz == 0)
        return -1;
    size_t nl = strlen(name);
    int64_t l = 0, h = (int64_t)z->n_miniz - 1;
    while (l <= h) {
        int64_t m = l + ((h - l) >> 1);
        uint32_t fi = z->miniz_sorted[m];
        const pj_zip_entry *e = &z->e[fi];
        /* mz_zip_filename_compare */
        size_t k = e->name_len < nl ? e->name_len : nl, i = 0;
        uint8_t lc = 0, rc = 0;
        for (; i < k; i++) {
            lc = mz_lower(e->name[i]);
            rc = mz_lower((uint8_t)name[i]);
            if (lc != rc)
                break;
        }
        int comp = i == k ? (int)((long)e->name_len - (long)nl) : (int)lc - (int)rc;
        if (comp == 0)
            return (long)fi;
        if (comp < 0)
            l = m + 1;
        else
            h = m - 1;
    }
    return -1;
}

long pj_zip_cpython_locate(const pj_zip *z, const uint8_t *name, size_t len)
{
    long found = -1;
    for (size_t i = 0; i < z->n_cd; i++)
        if (z->e[i].name_len == len && memcmp(z->e[i].name, name, len) == 0)
            found = (long)i;
    return found;
}

/* ---------- the parse ---------- */

static int cmp_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

/* qsort has no context argument: sort (local_ofs, index) pairs instead. */
typedef struct ofs_idx {
    uint64_t ofs;
    uint32_t idx;
} ofs_idx;

static int cmp_ofs(const void *a, const void *b)
{
    const ofs_idx *x = a, *y = b;
    int c = cmp_u64(x->ofs, y->ofs);
    return c ? c : cmp_u64(x->idx, y->idx);
}

static const char *ename(pj_arena *a, const pj_zip_entry *e)
{
    return pj_escape_name(a, e->name, e->name_len > 200 ? 200 : e->name_len);
}

static void check_entry(pj_scan_ctx *ctx, pj_arena *a, const uint8_t *d, size_t n, pj_zip_entry *e,
                        size_t i, const char *loc, counter *c_mis, counter *c_oob, counter *c_flag)
{
    const char *nm = ename(a, e);
    if (!read_local(d, n, e)) {
        if (report_ok(c_oob))
            pj_cfinding(ctx, loc,
                        fits(n, e->local_ofs, 4) ? PJ_ZIP_MALFORMED : PJ_ZIP_OUT_OF_BOUNDS,
                        e->local_ofs,
                        "zip member '%s' (directory entry %zu): no local header at offset %llu "
                        "(file is %zu bytes); loaders fail to read it",
                        nm, i, (unsigned long long)e->local_ofs, n);
        e->data_ofs = e->local_ofs;
        e->end_ofs = e->local_ofs;
        e->data_truncated = true;
        return;
    }
    uint64_t data_end = e->data_ofs + e->csize;
    if (e->data_ofs > n || e->csize > n - (e->data_ofs > n ? n : e->data_ofs)) {
        e->data_truncated = true;
        if (report_ok(c_oob))
            pj_cfinding(ctx, loc, PJ_ZIP_OUT_OF_BOUNDS, e->local_ofs,
                        "zip member '%s': its %llu bytes of data at offset %llu run past the end "
                        "of the file (%zu bytes): truncated or crafted",
                        nm, (unsigned long long)e->csize, (unsigned long long)e->data_ofs, n);
        e->end_ofs = n;
    } else {
        e->end_ofs = data_end;
        if ((e->flags | e->lflags) & 0x8)
            e->end_ofs += descriptor_len(d, n, data_end, e->csize >= 0xffffffffu);
    }
    /* Central vs local. */
    if (e->lname_len != e->name_len || memcmp(e->lname, e->name, e->name_len) != 0) {
        if (report_ok(c_mis))
            pj_cfinding(ctx, loc, PJ_ZIP_CD_LOCAL_MISMATCH, e->local_ofs,
                        "zip member name differs: central directory says '%s', local header at "
                        "offset %llu says '%s' (Python's zipfile refuses the member, PyTorch "
                        "ignores the local name); scanned under both names",
                        nm, (unsigned long long)e->local_ofs,
                        pj_escape_name(a, e->lname, e->lname_len > 200 ? 200 : e->lname_len));
    }
    if (e->lmethod != e->method && report_ok(c_mis))
        pj_cfinding(ctx, loc, PJ_ZIP_CD_LOCAL_MISMATCH, e->local_ofs,
                    "zip member '%s': compression method %u in the central directory, %u in the "
                    "local header (loaders use the central one; streaming readers the local one)",
                    nm, e->method, e->lmethod);
    uint16_t fmask = 0x1 | 0x8 | 0x20 | 0x40;
    if ((e->lflags & fmask) != (e->flags & fmask) && report_ok(c_mis))
        pj_cfinding(ctx, loc, PJ_ZIP_CD_LOCAL_MISMATCH, e->local_ofs,
                    "zip member '%s': flag bits 0x%04x in the central directory, 0x%04x in the "
                    "local header",
                    nm, e->flags, e->lflags);
    if (!(e->lflags & 0x8) &&
        (e->lcsize != e->csize || e->lusize != e->usize || e->lcrc != e->crc) && report_ok(c_mis))
        pj_cfinding(ctx, loc, PJ_ZIP_CD_LOCAL_MISMATCH, e->local_ofs,
                    "zip member '%s': sizes/CRC differ between central directory (%llu/%llu/%08x) "
                    "and local header (%llu/%llu/%08x); loaders read the central sizes",
                    nm, (unsigned long long)e->csize, (unsigned long long)e->usize, e->crc,
                    (unsigned long long)e->lcsize, (unsigned long long)e->lusize, e->lcrc);
    uint16_t fl = e->flags | e->lflags;
    if ((fl & (0x1 | 0x20 | 0x40 | 0x2000)) && report_ok(c_flag))
        pj_cfinding(ctx, loc, PJ_ZIP_FLAGS, e->local_ofs,
                    "zip member '%s' has flag bits 0x%04x (%s%s%s%s): Python's zipfile refuses or "
                    "asks for a password, other readers may ignore the bits; its bytes were "
                    "scanned as stored",
                    nm, fl, (fl & 0x1) ? "encrypted " : "", (fl & 0x20) ? "patch-data " : "",
                    (fl & 0x40) ? "strong-encryption " : "", (fl & 0x2000) ? "masked-directory" : "");
}

bool pj_zip_parse(pj_scan_ctx *ctx, pj_arena *a, const uint8_t *d, size_t n, const char *loc,
                  pj_zip *z)
{
    memset(z, 0, sizeof *z);
    counter c_mis = {0}, c_oob = {0}, c_flag = {0}, c_ovl = {0}, c_gap = {0};
    eocd_info ei;
    if (read_eocd(d, n, &ei)) {
        z->have_eocd = true;
        z->eocd_ofs = ei.eocd;
        z->zip64 = ei.zip64;
        z->declared_entries = ei.entries;
        uint64_t rec_end = ei.eocd + EOCD_LEN + ei.comment_len;
        if (rec_end > n)
            pj_cfinding(ctx, loc, PJ_ZIP_MALFORMED, ei.eocd,
                        "zip end record at offset %llu claims a %llu-byte comment that runs past "
                        "the end of the file",
                        (unsigned long long)ei.eocd, (unsigned long long)ei.comment_len);
        else if (rec_end < n)
            pj_cfinding(ctx, loc, PJ_ZIP_APPENDED_DATA, rec_end,
                        "%llu bytes after the zip end record (offset %llu): ignored by zip readers, "
                        "seen by anything that reads the file another way",
                        (unsigned long long)(n - rec_end), (unsigned long long)rec_end);
        int64_t concat = cpython_concat(&ei);
        uint64_t start = ei.cd_ofs;
        bool raw_ok = fits(n, ei.cd_ofs, 4) && pj_le32(d + ei.cd_ofs) == SIG_CENTRAL;
        if (concat > 0) {
            uint64_t shifted = ei.cd_ofs + (uint64_t)concat;
            bool sh_ok = fits(n, shifted, 4) && pj_le32(d + shifted) == SIG_CENTRAL;
            pj_cfinding(ctx, loc, PJ_ZIP_PREPENDED_DATA, 0,
                        "zip offsets are %lld bytes short of where the directory is: data was "
                        "prepended; Python's zipfile shifts every offset by %lld, PyTorch's miniz "
                        "does not (%s)",
                        (long long)concat, (long long)concat,
                        raw_ok ? "both read a directory: two readings" : "miniz fails to open it");
            if (sh_ok) {
                start = shifted;
                z->concat = (uint64_t)concat;
            }
        } else if (concat < 0 && ei.entries > 0) {
            pj_cfinding(ctx, loc, PJ_ZIP_OUT_OF_BOUNDS, ei.eocd,
                        "zip central directory (offset %llu, %llu bytes) does not fit before the "
                        "end record",
                        (unsigned long long)ei.cd_ofs, (unsigned long long)ei.cd_size);
        }
        z->cd_start = start;
        z->cd_size = ei.cd_size;
        /* Walk the directory the way CPython does: records until cd_size is
         * used up (miniz instead trusts the entry count). */
        uint64_t pos = start;
        uint64_t cd_end = fits(n, start, ei.cd_size) ? start + ei.cd_size : n;
        if (!fits(n, start, ei.cd_size) && ei.entries > 0)
            pj_cfinding(ctx, loc, PJ_ZIP_OUT_OF_BOUNDS, ei.eocd,
                        "zip central directory at offset %llu (%llu bytes) runs past the end of "
                        "the file",
                        (unsigned long long)start, (unsigned long long)ei.cd_size);
        while (pos < cd_end) {
            if (!fits(n, pos, CD_LEN) || pj_le32(d + pos) != SIG_CENTRAL) {
                pj_cfinding(ctx, loc, PJ_ZIP_MALFORMED, pos,
                            "zip central directory record %zu at offset %llu is broken (bad "
                            "signature or cut short)",
                            z->n, (unsigned long long)pos);
                break;
            }
            const uint8_t *p = d + pos;
            uint16_t nl = pj_le16(p + 28), xl = pj_le16(p + 30), cl = pj_le16(p + 32);
            if (!fits(n, pos + CD_LEN, (uint64_t)nl + xl + cl)) {
                pj_cfinding(ctx, loc, PJ_ZIP_MALFORMED, pos,
                            "zip central directory record %zu at offset %llu runs past the end",
                            z->n, (unsigned long long)pos);
                break;
            }
            pj_zip_entry *e = add_entry(ctx, a, z, loc);
            if (e == NULL)
                break;
            e->in_cd = true;
            e->cd_ofs = pos;
            e->flags = pj_le16(p + 8);
            e->method = pj_le16(p + 10);
            e->crc = pj_le32(p + 16);
            e->csize = pj_le32(p + 20);
            e->usize = pj_le32(p + 24);
            e->local_ofs = pj_le32(p + 42);
            e->name = p + CD_LEN;
            e->name_len = nl;
            zip64_extra(p + CD_LEN + nl, xl, &e->usize, &e->csize, &e->local_ofs, false);
            e->local_ofs += z->concat;
            e->miniz_visible = z->n <= ei.entries;
            pos += CD_LEN + (uint64_t)nl + xl + cl;
        }
        z->n_cd = z->n;
        if (z->n_cd != ei.entries)
            pj_cfinding(ctx, loc, PJ_ZIP_MALFORMED, ei.eocd,
                        "zip end record declares %llu entries but the central directory holds "
                        "%zu: PyTorch's miniz reads %llu, Python's zipfile reads %zu",
                        (unsigned long long)ei.entries, z->n_cd,
                        (unsigned long long)(ei.entries < z->n_cd ? ei.entries : z->n_cd), z->n_cd);
        for (size_t i = 0; i < z->n_cd; i++)
            check_entry(ctx, a, d, n, &z->e[i], i, loc, &c_mis, &c_oob, &c_flag);
    } else {
        /* Neither loader opens it, so nothing in it runs through them: the
         * members are still scanned for what other readers would see. */
        pj_cfinding_sev(ctx, loc, PJ_ZIP_TRUNCATED, PJ_SEV_INFO, n,
                    "zip without an end of central directory record (truncated download?): "
                    "PyTorch and Python's zipfile cannot open it; local headers were walked "
                    "instead");
        z->cd_start = n;
    }

    /* miniz's sorted view of the entries it can see. */
    size_t vis = 0;
    for (size_t i = 0; i < z->n_cd; i++)
        vis += z->e[i].miniz_visible;
    if (vis > 0 && vis <= UINT32_MAX) {
        z->miniz_sorted = pj_arena_array(a, vis, sizeof(uint32_t));
        if (z->miniz_sorted != NULL) {
            size_t k = 0;
            for (size_t i = 0; i < z->n_cd; i++)
                if (z->e[i].miniz_visible)
                    z->miniz_sorted[k++] = (uint32_t)i;
            z->n_miniz = k;
            mz_sort(z, z->miniz_sorted, (uint32_t)k);
        }
    }

    /* Extents in file order: overlaps, and gaps where unlisted local headers
     * may hide. */
    size_t m = z->n_cd;
    ofs_idx *ord = m ? pj_arena_array(a, m, sizeof *ord) : NULL;
    size_t k = 0;
    for (size_t i = 0; ord != NULL && i < m; i++)
        if (z->e[i].local_ok)
            ord[k++] = (ofs_idx){z->e[i].local_ofs, (uint32_t)i};
    if (k > 1)
        qsort(ord, k, sizeof *ord, cmp_ofs);
    uint64_t cursor = 0, first_entry = k ? ord[0].ofs : z->cd_start;
    size_t prev = SIZE_MAX;
    /* Gaps to search: [cursor, next start). */
    typedef struct gap {
        uint64_t from, to;
    } gap;
    gap *gaps = pj_arena_array(a, k + 1, sizeof *gaps);
    size_t ng = 0;
    for (size_t j = 0; j < k; j++) {
        pj_zip_entry *e = &z->e[ord[j].idx];
        if (prev != SIZE_MAX && e->local_ofs < z->e[prev].end_ofs) {
            if (report_ok(&c_ovl))
                pj_cfinding(ctx, loc, PJ_ZIP_OVERLAP, e->local_ofs,
                            "zip members '%s' (offset %llu) and '%s' (offset %llu..%llu) overlap: "
                            "the same bytes are read as two members",
                            ename(a, e), (unsigned long long)e->local_ofs, ename(a, &z->e[prev]),
                            (unsigned long long)z->e[prev].local_ofs,
                            (unsigned long long)z->e[prev].end_ofs);
        } else if (e->local_ofs > cursor && gaps != NULL) {
            gaps[ng++] = (gap){cursor, e->local_ofs};
        }
        if (z->have_eocd && e->end_ofs > z->cd_start && e->local_ofs < z->cd_start + z->cd_size &&
            report_ok(&c_ovl))
            pj_cfinding(ctx, loc, PJ_ZIP_OVERLAP, e->local_ofs,
                        "zip member '%s' overlaps the central directory", ename(a, e));
        if (prev == SIZE_MAX || e->end_ofs > cursor) {
            cursor = e->end_ofs;
            prev = ord[j].idx;
        }
    }
    uint64_t tail_end = z->have_eocd ? z->cd_start : n;
    if (tail_end > n)
        tail_end = n;
    if (cursor < tail_end && gaps != NULL)
        gaps[ng++] = (gap){cursor, tail_end};

    /* Search the gaps for local headers nobody lists. */
    static const uint8_t lsig[4] = {'P', 'K', 3, 4};
    for (size_t g = 0; g < ng; g++) {
        uint64_t pos = gaps[g].from;
        bool found_any = false;
        while (pos < gaps[g].to) {
            const uint8_t *p = memmem(d + pos, gaps[g].to - pos, lsig, 4);
            if (p == NULL)
                break;
            uint64_t at = (uint64_t)(p - d);
            pj_zip_entry *e = add_local_only(ctx, a, z, d, n, at, loc);
            if (e == NULL) {
                pos = at + 1;
                continue;
            }
            found_any = true;
            if (z->have_eocd && report_ok(&c_mis))
                pj_cfinding(ctx, loc, PJ_ZIP_CD_LOCAL_MISMATCH, at,
                            "local header for '%s' at offset %llu is not in the central "
                            "directory: only streaming readers see this member; scanned",
                            ename(a, e), (unsigned long long)at);
            if (e->data_truncated && !z->have_eocd && report_ok(&c_oob))
                pj_cfinding(ctx, loc, PJ_ZIP_OUT_OF_BOUNDS, e->data_ofs,
                            "zip member '%s' is cut off at the end of the file", ename(a, e));
            pos = e->end_ofs > at ? e->end_ofs : at + 1;
        }
        /* What is left in the gap belongs to nobody. */
        if (!found_any && gaps[g].to > gaps[g].from && report_ok(&c_gap)) {
            if (gaps[g].from == 0)
                pj_cfinding(ctx, loc, PJ_ZIP_PREPENDED_DATA, 0,
                            "%llu bytes before the first zip entry (offset %llu): torch.load "
                            "only reads a zip that starts with a local header",
                            (unsigned long long)first_entry, (unsigned long long)first_entry);
            else
                pj_cfinding(ctx, loc, PJ_ZIP_MALFORMED, gaps[g].from,
                            "%llu bytes at offset %llu belong to no zip entry (hidden data?)",
                            (unsigned long long)(gaps[g].to - gaps[g].from),
                            (unsigned long long)gaps[g].from);
        }
    }
    if (c_mis.n > MAX_REPORTS_PER_KIND || c_oob.n > MAX_REPORTS_PER_KIND ||
        c_flag.n > MAX_REPORTS_PER_KIND || c_ovl.n > MAX_REPORTS_PER_KIND)
        pj_cfinding(ctx, loc, PJ_ZIP_MALFORMED, 0,
                    "more zip problems of the kinds above were not listed (%u mismatches, %u out "
                    "of bounds, %u flags, %u overlaps)",
                    c_mis.n, c_oob.n, c_flag.n, c_ovl.n);
    return z->n > 0 || z->have_eocd;
}
