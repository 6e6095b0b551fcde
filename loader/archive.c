/* tar and 7z archives through libarchive, read from the memory buffer
 * (archive_read_open_memory: no files, no external programs: only the tar
 * and 7-Zip readers and no filters are enabled, so libarchive never tries to
 * spawn a decompressor inside the sandbox).  Members are peeked at and only
 * pickle candidates and nested containers are copied out, within the
 * decompressed-size budget.  A tar holding sys_info, pickle, storages and
 * tensors is PyTorch's oldest layout and goes to torch_legacy.c. */
#include "container.h"

#include <archive.h>
#include <archive_entry.h>
#include <iconv.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* libarchive converts 7z member names (UTF-16LE) to the charset of the
 * calling thread's locale.  For UTF-8 it converts by itself; for anything
 * else (the C locale of a program that never called setlocale) it asks
 * iconv, and glibc then loads a converter module from disk: a file open
 * the sandbox forbids, and in the statically linked sandbox helper a
 * second, dynamically loaded libc that every scanner child then maps
 * (~28 us per file, docs/sandbox.md).  So archives are read with C.UTF-8 as
 * the thread's LC_CTYPE (uselocale: the embedding program's locale is left
 * alone): the same names whatever that locale is, and no iconv.  Loaded
 * once, before the sandbox's filter (pj_containers_prepare). */
static locale_t utf8_ctype = (locale_t)0;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void load_utf8_ctype(void)
{
    utf8_ctype = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Switch this thread to C.UTF-8 (returns the locale to restore), or return
 * (locale_t)0 when that locale is not installed. */
static locale_t enter_utf8(void)
{
    pthread_once(&utf8_once, load_utf8_ctype);
    return utf8_ctype != (locale_t)0 ? uselocale(utf8_ctype) : (locale_t)0;
}

static void leave_utf8(locale_t old)
{
    if (old != (locale_t)0)
        (void)uselocale(old);
}

/* A 147-byte 7z archive (p7zip 16.02, one member "model.pkl", LZMA2). */
static const uint8_t tiny_7z[] =
    "\x37\x7a\xbc\xaf\x27\x1c\x00\x04\x87\x5f\x37\xc1\x19\x00\x00\x00\x00\x00\x00\x00\x5a\x00"
    "\x00\x00\x00\x00\x00\x00\xa2\x9e\x4b\x82\x01\x00\x14\x63\x6f\x73\x0a\x73\x79\x73\x74\x65"
    "\x6d\x0a\x28\x53\x27\x69\x64\x27\x0a\x74\x52\x2e\x00\x01\x04\x06\x00\x01\x09\x19\x00\x07"
    "\x0b\x01\x00\x01\x21\x21\x01\x00\x0c\x15\x00\x08\x0a\x01\xbe\x45\xb8\x27\x00\x00\x05\x01"
    "\x19\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x11\x15\x00\x6d\x00\x6f\x00\x64"
    "\x00\x65\x00\x6c\x00\x2e\x00\x70\x00\x6b\x00\x6c\x00\x00\x00\x14\x0a\x01\x00\x68\xcf\xc6"
    "\x3a\xd4\x7c\xdd\x01\x15\x06\x01\x00\x20\x80\xa4\x81\x00\x00";

void pj_containers_prepare(void)
{
    /* Reading a tiny archive once before the filter is installed loads
     * whatever libarchive loads on first use.  Without C.UTF-8 the names go
     * through iconv: glibc loads that converter (gconv-modules.cache,
     * UTF-16.so) on first use, and one converter handle that is never
     * closed keeps it from unloading the module. */
    locale_t old = enter_utf8();
    static iconv_t pin = (iconv_t)-1;
    if (old == (locale_t)0 && pin == (iconv_t)-1)
        pin = iconv_open("UTF-8", "UTF-16LE");
    struct archive *ar = archive_read_new();
    if (ar == NULL) {
        leave_utf8(old);
        return;
    }
    archive_read_support_format_7zip(ar);
    archive_read_support_format_tar(ar);
    archive_read_support_filter_none(ar);
    if (archive_read_open_memory(ar, tiny_7z, sizeof tiny_7z - 1) == ARCHIVE_OK) {
        struct archive_entry *ent;
        while (archive_read_next_header(ar, &ent) == ARCHIVE_OK) {
            (void)archive_entry_pathname(ent);
            archive_read_data_skip(ar);
        }
    }
    archive_read_free(ar);
    leave_utf8(old);
}

static struct archive *open_mem(pj_fmt f, const uint8_t *d, size_t n)
{
    struct archive *ar = archive_read_new();
    if (ar == NULL)
        return NULL;
    if (f == PJ_FMT_7Z)
        archive_read_support_format_7zip(ar);
    else
        archive_read_support_format_tar(ar);
    archive_read_support_filter_none(ar);
    if (archive_read_open_memory(ar, d, n) != ARCHIVE_OK) {
        archive_read_free(ar);
        return NULL;
    }
    return ar;
}

static bool is_torch_tar(const uint8_t *d, size_t n)
{
    struct archive *ar = open_mem(PJ_FMT_TAR, d, n);
    if (ar == NULL)
        return false;
    unsigned seen = 0;
    struct archive_entry *ent;
    int guard = 0;
    while (guard++ < 4096 && archive_read_next_header(ar, &ent) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(ent);
        if (p == NULL)
            continue;
        if (strcmp(p, "pickle") == 0)
            seen |= 1;
        else if (strcmp(p, "storages") == 0)
            seen |= 2;
        else if (strcmp(p, "tensors") == 0)
            seen |= 4;
        archive_read_data_skip(ar);
    }
    archive_read_free(ar);
    return seen == 7;
}

/* Read the rest of the current entry after the first head_len bytes. */
static uint8_t *read_rest(pj_scan_ctx *ctx, struct archive *ar, const uint8_t *head, size_t head_len,
                          size_t *out_len, bool *budget_hit, bool *error)
{
    uint64_t budget = ctx->limits ? ctx->limits->max_decompressed_bytes : ((uint64_t)1 << 30);
    uint64_t left = budget > ctx->decompressed_total ? budget - ctx->decompressed_total : 0;
    size_t cap = head_len > 4096 ? head_len : 4096, len = head_len;
    if (cap > left)
        cap = (size_t)left;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (buf == NULL)
        return NULL;
    memcpy(buf, head, head_len < cap ? head_len : cap);
    len = head_len < cap ? head_len : cap;
    for (;;) {
        if (len == cap) {
            if (cap >= left) {
                uint8_t probe;
                if (archive_read_data(ar, &probe, 1) > 0)
                    *budget_hit = true;
                break;
            }
            size_t ncap = cap * 2 > left ? (size_t)left : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (nb == NULL)
                break;
            buf = nb;
            cap = ncap;
        }
        la_ssize_t got = archive_read_data(ar, buf + len, cap - len);
        if (got == 0)
            break;
        if (got < 0) {
            *error = true;
            break;
        }
        len += (size_t)got;
    }
    ctx->decompressed_total += len;
    *out_len = len;
    return buf;
}

/* libarchive is stricter than 7-Zip itself about minimal headers.  When it
 * gives up, scan the packed streams (between the 32-byte signature header
 * and the next header) as they are: with the Copy coder, which hand-made
 * archives use, that is the member data. */
static void sevenzip_raw(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc)
{
    if (n < 32)
        return;
    uint64_t next = pj_le64(d + 12);
    size_t end = next <= n - 32 ? 32 + (size_t)next : n;
    pj_arena a;
    pj_arena_init(&a, 1u << 20);
    pj_cfinding(ctx, loc, PJ_ARCHIVE_ERROR, 32,
                "7z archive rejected by libarchive; its %zu bytes of packed data at offset 32 "
                "were scanned as they are (right for the Copy method only)",
                end - 32);
    pj_scan_member(ctx, d + 32, end - 32, pj_loc_join(&a, loc, "7z-packed@32"), false, PJ_SNIFF_ANY);
    pj_arena_release(&a);
}

static void scan_archive(pj_scan_ctx *ctx, pj_fmt f, const uint8_t *d, size_t n, const char *loc);

void pj_scan_archive(pj_scan_ctx *ctx, pj_fmt f, const uint8_t *d, size_t n, const char *loc)
{
    locale_t old = enter_utf8();
    scan_archive(ctx, f, d, n, loc);
    leave_utf8(old);
}

static void scan_archive(pj_scan_ctx *ctx, pj_fmt f, const uint8_t *d, size_t n, const char *loc)
{
    const char *kind = f == PJ_FMT_7Z ? "7z" : "tar";
    bool torch_tar = f == PJ_FMT_TAR && is_torch_tar(d, n);
    if (ctx->depth == 0)
        ctx->report->format = torch_tar ? "torch-tar" : kind;
    struct archive *ar = open_mem(f, d, n);
    if (ar == NULL) {
        pj_cfinding(ctx, loc, PJ_ARCHIVE_ERROR, 0, "%s archive could not be opened", kind);
        return;
    }
    pj_arena a;
    pj_arena_init(&a, 1u << 20);
    struct archive_entry *ent;
    size_t members = 0;
    for (;;) {
        int rc = archive_read_next_header(ar, &ent);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc < ARCHIVE_WARN) {
            const char *es = archive_error_string(ar);
            pj_cfinding(ctx, loc, PJ_ARCHIVE_ERROR, 0,
                        "%s archive is damaged after %zu members (%.150s): the rest was not read",
                        kind, members, es ? es : "error");
            break;
        }
        members++;
        /* Per-member scratch: many members must not exhaust it. */
        pj_arena_release(&a);
        pj_arena_init(&a, 1u << 20);
        if (archive_entry_filetype(ent) != AE_IFREG) {
            archive_read_data_skip(ar);
            continue;
        }
        const char *path = archive_entry_pathname(ent);
        const uint8_t *pname = (const uint8_t *)(path ? path : "");
        size_t pl = strlen((const char *)pname);
        const char *mloc = pj_loc_joinn(&a, loc, pname, pl);
        if (archive_entry_is_encrypted(ent)) {
            pj_cfinding(ctx, loc, PJ_ARCHIVE_ERROR, 0,
                        "%s member '%s' is encrypted: not scanned", kind,
                        pj_escape_name(&a, pname, pl > 200 ? 200 : pl));
            archive_read_data_skip(ar);
            continue;
        }
        bool named_pickle = pj_name_has_suffix(pname, pl, ".pkl") ||
                            pj_name_has_suffix(pname, pl, ".pickle");
        bool torch_member = torch_tar && (strcmp(path ? path : "", "sys_info") == 0 ||
                                          strcmp(path ? path : "", "pickle") == 0 ||
                                          strcmp(path ? path : "", "storages") == 0 ||
                                          strcmp(path ? path : "", "tensors") == 0);
        uint8_t head[64];
        size_t hl = 0;
        bool err = false;
        while (hl < sizeof head) {
            la_ssize_t got = archive_read_data(ar, head + hl, sizeof head - hl);
            if (got <= 0) {
                err = got < 0;
                break;
            }
            hl += (size_t)got;
        }
        pj_fmt mf = pj_sniff(head, hl);
        bool candidate = named_pickle || torch_member || pj_fmt_is_container(mf) ||
                         mf == PJ_FMT_PICKLE;
        if (!candidate || err) {
            if (err)
                pj_cfinding(ctx, loc, PJ_ARCHIVE_ERROR, 0, "%s member '%s' could not be read",
                            kind, pj_escape_name(&a, pname, pl > 200 ? 200 : pl));
            archive_read_data_skip(ar);
            continue;
        }
        size_t len = 0;
        bool budget_hit = false;
        uint8_t *buf = read_rest(ctx, ar, head, hl, &len, &budget_hit, &err);
        if (buf == NULL)
            continue;
        if (budget_hit)
            pj_cfinding(ctx, loc, PJ_DECOMPRESS_BOMB, 0,
                        "%s member '%s' is larger than the decompressed-size budget: only the "
                        "first %zu bytes were scanned",
                        kind, pj_escape_name(&a, pname, pl > 200 ? 200 : pl), len);
        if (err)
            pj_cfinding(ctx, loc, PJ_ARCHIVE_ERROR, 0,
                        "%s member '%s' is damaged after %zu bytes; what was read is scanned", kind,
                        pj_escape_name(&a, pname, pl > 200 ? 200 : pl), len);
        if (torch_member)
            pj_scan_torch_tar_member(ctx, path, buf, len, loc);
        else
            pj_scan_member(ctx, buf, len, mloc, named_pickle, PJ_SNIFF_ANY);
        free(buf);
    }
    if (members == 0 && f == PJ_FMT_7Z)
        sevenzip_raw(ctx, d, n, loc);
    else if (members == 0)
        pj_cfinding(ctx, loc, PJ_ARCHIVE_ERROR, 0, "%s archive holds no readable members", kind);
    archive_read_free(ar);
    pj_arena_release(&a);
}
