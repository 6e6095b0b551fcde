/* Compression wrappers around a model: gzip, bzip2, xz, lzma "alone", zstd,
 * zlib (joblib compress=N), LZ4 frames and joblib's old "ZF" files.  Decompress the
 * whole stream within the budget, report what went wrong, and scan what came
 * out as a container of its own (one level deeper). */
#include "container.h"

#include <stdio.h>
#include <string.h>

static bool kind_of(pj_fmt f, pj_dz_kind *k)
{
    switch (f) {
    case PJ_FMT_GZIP: *k = PJ_DZ_GZIP; return true;
    case PJ_FMT_BZ2: *k = PJ_DZ_BZ2; return true;
    case PJ_FMT_XZ: *k = PJ_DZ_XZ; return true;
    case PJ_FMT_LZMA: *k = PJ_DZ_LZMA_ALONE; return true;
    case PJ_FMT_ZSTD: *k = PJ_DZ_ZSTD; return true;
    case PJ_FMT_LZ4: *k = PJ_DZ_LZ4; return true;
    case PJ_FMT_ZLIB:
    case PJ_FMT_ZFILE: *k = PJ_DZ_ZLIB; return true;
    default: return false;
    }
}

/* joblib < 0.10: b"ZF" + hex(length).ljust(19) + zlib data. */
static size_t zfile_start(const uint8_t *d, size_t n, uint64_t *declared)
{
    *declared = 0;
    size_t i = 4; /* after "ZF0x" */
    while (i < n && i < 21 && ((d[i] >= '0' && d[i] <= '9') || ((d[i] | 0x20) >= 'a' && (d[i] | 0x20) <= 'f'))) {
        uint8_t c = d[i];
        unsigned v = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
        if (*declared <= (UINT64_MAX >> 4))
            *declared = (*declared << 4) | v;
        i++;
    }
    if (i < n && d[i] == 'L') /* Python 2 long suffix */
        i++;
    while (i < n && i < 21 && d[i] == ' ')
        i++;
    return i;
}

void pj_scan_compressed(pj_scan_ctx *ctx, pj_fmt f, const uint8_t *d, size_t n, const char *loc)
{
    pj_arena scratch;
    pj_arena_init(&scratch, 1u << 20);
    const char *name = pj_fmt_name(f);
    pj_dz_kind kind;
    if (!kind_of(f, &kind))
        return;
    size_t start = 0;
    uint64_t declared = 0;
    if (f == PJ_FMT_ZFILE) {
        start = zfile_start(d, n, &declared);
        pj_cmeta(ctx, loc, "joblib.zfile", "1");
        name = "zlib";
    }
    if (f == PJ_FMT_LZMA)
        name = "lzma";

    pj_dz_result r;
    pj_decompress(ctx, kind, d + start, n - start, 0, &r);
    if (r.status == PJ_DZ_BUDGET) {
        pj_cfinding(ctx, loc, PJ_DECOMPRESS_BOMB, start + r.consumed,
                    "%s stream expands beyond the decompressed-size budget (%llu bytes in all): "
                    "only the first %zu decompressed bytes were scanned",
                    name,
                    (unsigned long long)(ctx->limits ? ctx->limits->max_decompressed_bytes : 0),
                    r.len);
    } else if (r.status == PJ_DZ_CORRUPT && r.len == 0 && r.error != NULL &&
               strstr(r.error, "dictionary") != NULL) {
        pj_cfinding(ctx, loc, PJ_UNSUPPORTED_COMPRESSION, 0,
                    "%s frame compressed against an external dictionary: it cannot be "
                    "decompressed without it, so its contents were NOT scanned",
                    name);
        pj_dz_free(&r);
        pj_arena_release(&scratch);
        return;
    } else if (r.status != PJ_DZ_OK) {
        /* A wrong guess on a weak magic (zlib, lzma): no output at all means
         * it was never that format; read the bytes as a pickle instead. */
        if (r.len == 0 && (f == PJ_FMT_ZLIB || f == PJ_FMT_LZMA)) {
            pj_dz_free(&r);
            if (ctx->depth == 0)
                ctx->report->format = "pickle";
            pj_scan_pickles(ctx, d, n, loc, PJ_PICKLES_JOBLIB);
            return;
        }
        pj_cfinding(ctx, loc, PJ_DECOMPRESS_ERROR, start + r.consumed,
                    "%s data is corrupt or truncated at offset %zu (%s): the %zu bytes "
                    "decompressed before it were scanned",
                    name, start + r.consumed, r.error ? r.error : "error", r.len);
    } else if (start + r.consumed < n) {
        pj_cfinding(ctx, loc, PJ_DECOMPRESS_ERROR, start + r.consumed,
                    "%zu bytes after the end of the %s stream (ignored by decompressors; "
                    "hidden data?)",
                    n - start - r.consumed, name);
    }
    if (f == PJ_FMT_ZFILE && declared != 0 && declared != r.len && r.status == PJ_DZ_OK)
        pj_cfinding(ctx, loc, PJ_DECOMPRESS_ERROR, 2,
                    "joblib ZF header declares %llu bytes but the stream holds %zu",
                    (unsigned long long)declared, r.len);
    char sz[32];
    snprintf(sz, sizeof sz, "%zu", r.len);
    pj_cmeta(ctx, loc, "decompressed.size", sz);

    char tag[16];
    snprintf(tag, sizeof tag, "%s:", name);
    const char *inner = pj_loc_join(&scratch, loc, tag);
    if (r.len > 0 || r.status == PJ_DZ_OK)
        pj_scan_nested(ctx, r.data ? r.data : (const uint8_t *)"", r.len, inner);
    pj_dz_free(&r);
    pj_arena_release(&scratch);
}
