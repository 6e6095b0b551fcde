/* What a zip holds and which of its members to scan: PyTorch checkpoints
 * (torch.save since 1.6), TorchScript archives, NumPy .npz and plain zips.
 * Every pickle candidate is scanned (every copy of a duplicated name, members
 * only local headers list, members whose name hides what they are); tensor
 * data members are never read. */
#include "container.h"
#include "zip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct zipview {
    pj_scan_ctx *ctx;
    pj_arena *a;
    const uint8_t *d;
    size_t n;
    const char *loc;
    pj_zip z;
    char prefix[256];   /* torch record prefix ("archive"), "" when none */
    size_t prefix_len;
    bool torch, torchscript, npz;
} zipview;

static bool name_is(const pj_zip_entry *e, const char *s)
{
    size_t l = strlen(s);
    return e->name_len == l && memcmp(e->name, s, l) == 0;
}

/* Does the entry name start with prefix + "/" + sub (case-insensitive)? */
static bool under(const zipview *v, const uint8_t *name, size_t nl, const char *sub)
{
    size_t sl = strlen(sub);
    if (v->prefix_len == 0 || nl < v->prefix_len + 1 + sl)
        return false;
    if (memcmp(name, v->prefix, v->prefix_len) != 0 || name[v->prefix_len] != '/')
        return false;
    const uint8_t *p = name + v->prefix_len + 1;
    for (size_t i = 0; i < sl; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)sub[i])
            return false;
    }
    return true;
}

static bool is_record(const zipview *v, const pj_zip_entry *e, const char *rec)
{
    return under(v, e->name, e->name_len, rec) && e->name_len == v->prefix_len + 1 + strlen(rec);
}

static void classify(zipview *v)
{
    pj_zip *z = &v->z;
    if (z->n == 0)
        return;
    /* PyTorch: the prefix is the first directory entry's name up to the
     * first '/' (PyTorchStreamReader::init); without a directory, the first
     * local header a truncated file still has. */
    const pj_zip_entry *first = &z->e[0];
    const uint8_t *slash = memchr(first->name, '/', first->name_len);
    if (slash != NULL) {
        size_t pl = (size_t)(slash - first->name);
        if (pl < sizeof v->prefix) {
            memcpy(v->prefix, first->name, pl);
            v->prefix[pl] = '\0';
            v->prefix_len = pl;
        }
    }
    bool all_npy = true;
    for (size_t i = 0; i < z->n; i++) {
        const pj_zip_entry *e = &z->e[i];
        if (is_record(v, e, "data.pkl") || is_record(v, e, "version") ||
            is_record(v, e, ".data/version"))
            v->torch = true;
        if (is_record(v, e, "constants.pkl") || under(v, e->name, e->name_len, "code/"))
            v->torchscript = true;
        if (!pj_name_has_suffix(e->name, e->name_len, ".npy"))
            all_npy = false;
    }
    v->torchscript = v->torchscript && v->torch;
    v->npz = all_npy && !v->torch;
}

/* Member bytes: a slice of the input for STORED, decompressed otherwise.
 * want == 0: all of it.  Returns false (with a finding) when unreadable. */
typedef struct member {
    const uint8_t *p;
    size_t len;
    pj_dz_result dz; /* owns p when decompressed */
    bool complete;   /* every byte the directory promises */
} member;

static bool read_member(zipview *v, const pj_zip_entry *e, const char *mloc, size_t want,
                        member *m)
{
    memset(m, 0, sizeof *m);
    if (!e->local_ok || e->data_ofs > v->n)
        return false;
    size_t avail = v->n - (size_t)e->data_ofs;
    size_t clen = e->csize < avail ? (size_t)e->csize : avail;
    const uint8_t *src = v->d + e->data_ofs;
    if (e->method == 0) {
        m->p = src;
        m->len = want && want < clen ? want : clen;
        m->complete = clen == e->csize && !want;
        return true;
    }
    pj_dz_kind k;
    if (e->method == 8)
        k = PJ_DZ_DEFLATE;
    else if (e->method == 12)
        k = PJ_DZ_BZ2;
    else {
        if (!want)
            pj_cfinding(v->ctx, v->loc, PJ_ZIP_MALFORMED, e->local_ofs,
                        "zip member '%s' uses compression method %u: PyTorch reads only stored "
                        "and deflate; not scanned",
                        mloc, e->method);
        return false;
    }
    pj_decompress(v->ctx, k, src, clen, want, &m->dz);
    m->p = m->dz.data ? m->dz.data : (const uint8_t *)"";
    m->len = m->dz.len;
    if (!want) {
        if (m->dz.status == PJ_DZ_BUDGET)
            pj_cfinding(v->ctx, v->loc, PJ_DECOMPRESS_BOMB, e->data_ofs,
                        "zip member '%s' expands beyond the decompressed-size budget: only the "
                        "first %zu bytes were scanned",
                        mloc, m->len);
        else if (m->dz.status != PJ_DZ_OK)
            pj_cfinding(v->ctx, v->loc, PJ_DECOMPRESS_ERROR, e->data_ofs + m->dz.consumed,
                        "zip member '%s': compressed data is corrupt (%s); the %zu bytes before "
                        "the error were scanned",
                        mloc, m->dz.error ? m->dz.error : "error", m->len);
        else if (m->len != e->usize)
            pj_cfinding(v->ctx, v->loc, PJ_ZIP_MALFORMED, e->data_ofs,
                        "zip member '%s' decompresses to %zu bytes, the directory says %llu", mloc,
                        m->len, (unsigned long long)e->usize);
        m->complete = m->dz.status == PJ_DZ_OK && clen == e->csize;
    }
    return true;
}

static void member_free(member *m) { pj_dz_free(&m->dz); }

/* Duplicate names and names equal but for case, among directory entries. */
typedef struct name_ref {
    const uint8_t *name;
    size_t len;
    uint32_t idx;
} name_ref;

static int ci_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    for (size_t i = 0; i < m; i++) {
        uint8_t x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y - 'A' + 'a');
        if (x != y)
            return x < y ? -1 : 1;
    }
    return al < bl ? -1 : al > bl;
}

static int cmp_ref(const void *pa, const void *pb)
{
    const name_ref *a = pa, *b = pb;
    int c = ci_cmp(a->name, a->len, b->name, b->len);
    return c ? c : (a->idx < b->idx ? -1 : a->idx > b->idx);
}

static void check_names(zipview *v)
{
    pj_zip *z = &v->z;
    size_t n = z->n_cd;
    if (n < 2)
        return;
    name_ref *r = pj_arena_array(v->a, n, sizeof *r);
    if (r == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        r[i] = (name_ref){z->e[i].name, z->e[i].name_len, (uint32_t)i};
    qsort(r, n, sizeof *r, cmp_ref);
    unsigned reported = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && ci_cmp(r[i].name, r[i].len, r[j].name, r[j].len) == 0)
            j++;
        if (j - i > 1 && reported++ < 16) {
            bool exact = true;
            for (size_t k = i + 1; k < j; k++)
                if (r[k].len != r[i].len || memcmp(r[k].name, r[i].name, r[i].len) != 0)
                    exact = false;
            /* Which copy each loader returns. */
            char nm[512];
            const char *esc = pj_escape_name(v->a, r[i].name, r[i].len > 200 ? 200 : r[i].len);
            snprintf(nm, sizeof nm, "%s", esc);
            char lname[260];
            size_t ll = r[i].len < sizeof lname - 1 ? r[i].len : sizeof lname - 1;
            memcpy(lname, r[i].name, ll);
            lname[ll] = '\0';
            long mz = strlen(lname) == r[i].len ? pj_zip_miniz_locate(z, lname) : -1;
            long cp = pj_zip_cpython_locate(z, r[i].name, r[i].len);
            char where[200];
            size_t w = 0;
            where[0] = '\0';
            for (size_t k = i; k < j && k < i + 4 && w < sizeof where - 40; k++)
                w += (size_t)snprintf(where + w, sizeof where - w, "%s#%u@%llu", k > i ? ", " : "",
                                      r[k].idx, (unsigned long long)z->e[r[k].idx].local_ofs);
            if (exact)
                pj_cfinding(v->ctx, v->loc, PJ_ZIP_DUPLICATE_NAME, z->e[r[i].idx].local_ofs,
                            "zip holds %zu members named '%s' (directory entries %s): PyTorch "
                            "(miniz) loads entry #%ld, Python's zipfile the last (#%ld); every "
                            "copy scanned",
                            j - i, nm, where, mz, cp);
            else
                pj_cfinding(v->ctx, v->loc, PJ_ZIP_CASE_COLLISION, z->e[r[i].idx].local_ofs,
                            "zip member names differ only by case ('%s' and %zu more; entries %s): "
                            "PyTorch's case-insensitive lookup loads entry #%ld; every copy "
                            "scanned",
                            nm, j - i - 1, where, mz);
        }
        i = j;
    }
}

/* torch records: metadata, and names PyTorch finds only case-insensitively. */
static void torch_records(zipview *v)
{
    static const char *const recs[] = {"data.pkl", "constants.pkl", "version", ".data/version",
                                       "byteorder"};
    for (size_t r = 0; r < sizeof recs / sizeof recs[0]; r++) {
        char full[300];
        snprintf(full, sizeof full, "%s/%s", v->prefix, recs[r]);
        long mi = pj_zip_miniz_locate(&v->z, full);
        if (mi < 0)
            continue;
        const pj_zip_entry *e = &v->z.e[mi];
        const char *shown = pj_escape_name(v->a, (const uint8_t *)full, strlen(full));
        if (!name_is(e, full) && pj_zip_cpython_locate(&v->z, (const uint8_t *)full, strlen(full)) < 0)
            pj_cfinding(v->ctx, v->loc, PJ_ZIP_CASE_ONLY_MATCH, e->local_ofs,
                        "PyTorch loads member '%s' as record '%s' (miniz matches names "
                        "case-insensitively); Python's zipfile and extension-based scanners do "
                        "not find '%s'",
                        pj_escape_name(v->a, e->name, e->name_len > 200 ? 200 : e->name_len), shown,
                        shown);
        bool version = strcmp(recs[r], "version") == 0 || strcmp(recs[r], ".data/version") == 0;
        if (version || strcmp(recs[r], "byteorder") == 0) {
            member m;
            if (!read_member(v, e, shown, 64, &m))
                continue;
            char val[65];
            size_t o = 0;
            for (size_t i = 0; i < m.len && o < 64; i++) {
                uint8_t c = m.p[i];
                if (c == '\n' || c == '\r')
                    break;
                val[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
            }
            val[o] = '\0';
            member_free(&m);
            if (version && pj_report_get_meta(v->ctx->report, "torch.version") == NULL)
                pj_cmeta(v->ctx, v->loc, "torch.version", val);
            else if (!version)
                pj_cmeta(v->ctx, v->loc, "torch.byteorder", val);
        }
    }
}

/* Check a member's CRC and data descriptor once its bytes are read. */
static void check_integrity(zipview *v, const pj_zip_entry *e, const char *mloc, const member *m)
{
    if (m->complete) {
        uLong crc = crc32(0L, Z_NULL, 0);
        size_t left = m->len;
        const uint8_t *p = m->p;
        while (left > 0) {
            uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
            crc = crc32(crc, p, chunk);
            p += chunk;
            left -= chunk;
        }
        if ((uint32_t)crc != e->crc)
            pj_cfinding(v->ctx, v->loc, PJ_ZIP_BAD_CRC, e->local_ofs,
                        "zip member '%s': CRC-32 is %08x, the directory says %08x: Python's "
                        "zipfile raises BadZipFile, PyTorch does not check and loads it",
                        mloc, (unsigned)crc, e->crc);
    }
    uint64_t de = e->data_ofs + e->csize;
    if (((e->flags | e->lflags) & 0x8) && de <= v->n && !e->data_truncated) {
        const uint8_t *p = v->d + de;
        size_t left = v->n - (size_t)de;
        if (left >= 4 && pj_le32(p) == 0x08074b50) {
            p += 4;
            left -= 4;
        }
        if (left >= 12) {
            uint32_t dcrc = pj_le32(p);
            uint64_t dcs = pj_le32(p + 4), dus = pj_le32(p + 8);
            if (e->csize >= 0xffffffffu && left >= 20) {
                dcs = pj_le64(p + 4);
                dus = pj_le64(p + 12);
            }
            if (dcrc != e->crc || dcs != e->csize || dus != e->usize)
                pj_cfinding(v->ctx, v->loc, PJ_ZIP_CD_LOCAL_MISMATCH, de,
                            "zip member '%s': data descriptor (crc %08x, sizes %llu/%llu) "
                            "disagrees with the central directory (crc %08x, sizes %llu/%llu)",
                            mloc, dcrc, (unsigned long long)dcs, (unsigned long long)dus, e->crc,
                            (unsigned long long)e->csize, (unsigned long long)e->usize);
        }
    }
}

static void scan_entry(zipview *v, size_t i)
{
    pj_zip_entry *e = &v->z.e[i];
    if (e->name_len > 0 && e->name[e->name_len - 1] == '/' && e->csize == 0)
        return; /* directory */
    const char *mloc = pj_loc_joinn(v->a, v->loc, e->name, e->name_len);
    const char *mname = pj_escape_name(v->a, e->name, e->name_len > 200 ? 200 : e->name_len);
    bool named_pickle = pj_name_has_suffix(e->name, e->name_len, ".pkl") ||
                        pj_name_has_suffix(e->name, e->name_len, ".pickle");
    bool named_npy = pj_name_has_suffix(e->name, e->name_len, ".npy");
    if (e->local_ok && (e->lname_len != e->name_len || memcmp(e->lname, e->name, e->name_len))) {
        named_pickle = named_pickle || pj_name_has_suffix(e->lname, e->lname_len, ".pkl") ||
                       pj_name_has_suffix(e->lname, e->lname_len, ".pickle");
        named_npy = named_npy || pj_name_has_suffix(e->lname, e->lname_len, ".npy");
    }
    bool debug_pkl = pj_name_has_suffix(e->name, e->name_len, ".debug_pkl");
    pj_sniff_mode mode = PJ_SNIFF_ANY;
    if (v->torch) {
        if (under(v, e->name, e->name_len, "data/"))
            mode = PJ_SNIFF_NONE; /* tensor bytes: never unpickled */
        else if (under(v, e->name, e->name_len, "code/") || is_record(v, e, "version") ||
                 is_record(v, e, "byteorder") || under(v, e->name, e->name_len, ".data/") ||
                 under(v, e->name, e->name_len, "extra/"))
            mode = PJ_SNIFF_PROTO;
    }
    if (debug_pkl)
        named_pickle = true;
    if (mode == PJ_SNIFF_NONE && !named_pickle && !named_npy)
        return; /* tensor data is never read */

    member m;
    if (!named_pickle && !named_npy && e->method != 0) {
        /* Peek before inflating a whole member that may be no pickle. */
        if (!read_member(v, e, mname, 64, &m))
            return;
        pj_fmt f = pj_sniff(m.p, m.len);
        /* A peek is bounded and freed at once: it does not spend the
         * file's decompression budget (a zip of many members would). */
        if (v->ctx->decompressed_total >= m.dz.len)
            v->ctx->decompressed_total -= m.dz.len;
        bool candidate = pj_fmt_is_container(f) ||
                         (mode == PJ_SNIFF_ANY && f == PJ_FMT_PICKLE) ||
                         (mode == PJ_SNIFF_PROTO && m.len >= 2 && m.p[0] == 0x80 && m.p[1] <= 5);
        member_free(&m);
        if (!candidate)
            return;
    }
    if (!read_member(v, e, mname, 0, &m))
        return;
    pj_fmt f = pj_sniff(m.p, m.len);
    bool is_pickle_data = named_pickle || f == PJ_FMT_PICKLE ||
                          (m.len >= 2 && m.p[0] == 0x80 && m.p[1] <= 5);
    /* CRC only over bytes that are read anyway: pickles, small nested
     * containers (a nested multi-GB zip is read by its directory only). */
    if (named_pickle || is_pickle_data || (pj_fmt_is_container(f) && m.len <= (64u << 20)))
        check_integrity(v, e, mname, &m);
    bool stopped = pj_scan_member(v->ctx, m.p, m.len, mloc, named_pickle, mode);
    if ((named_pickle || stopped) && e->method != 0 && !debug_pkl)
        pj_cfinding(v->ctx, v->loc, PJ_ZIP_COMPRESSED_PICKLE, e->local_ofs,
                    "pickle member '%s' is compressed (method %u): torch.save writes pickles "
                    "stored; crafted?",
                    mname, e->method);
    if (stopped && !named_pickle)
        pj_cfinding(v->ctx, v->loc, PJ_PICKLE_MEMBER_HIDDEN, e->local_ofs,
                    "zip member '%s' holds a pickle although its name does not say so: scanners "
                    "that route by extension miss it; scanned",
                    mname);
    member_free(&m);
}

void pj_scan_zip(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc)
{
    pj_arena a;
    uint64_t budget = ctx->limits ? ctx->limits->max_arena_bytes : ((uint64_t)256 << 20);
    if (budget > ((uint64_t)256 << 20))
        budget = (uint64_t)256 << 20;
    pj_arena_init(&a, (size_t)budget);
    zipview v;
    memset(&v, 0, sizeof v);
    v.ctx = ctx;
    v.a = &a;
    v.d = d;
    v.n = n;
    v.loc = loc;
    if (!pj_zip_parse(ctx, &a, d, n, loc, &v.z)) {
        pj_cfinding(ctx, loc, PJ_ZIP_MALFORMED, 0, "no zip entries could be read");
        pj_arena_release(&a);
        return;
    }
    classify(&v);
    if (ctx->depth == 0 && strcmp(ctx->report->format, "pickle") != 0 &&
        strcmp(ctx->report->format, "joblib") != 0 && strcmp(ctx->report->format, "unknown") != 0)
        ctx->report->format = v.torchscript ? "torchscript" : v.torch ? "torch-zip" : v.npz ? "npz" : "zip";
    if (v.torch && v.prefix_len > 0)
        pj_cmeta(ctx, loc, "torch.record_prefix",
                 pj_escape_name(&a, (const uint8_t *)v.prefix, v.prefix_len));
    check_names(&v);
    if (v.torch)
        torch_records(&v);
    size_t first_n = v.z.n;
    for (size_t i = 0; i < first_n; i++)
        scan_entry(&v, i);
    if (v.z.n == 0)
        pj_cfinding(ctx, loc, PJ_NO_PICKLE, 0, "zip holds no members");
    pj_arena_release(&a);
}
