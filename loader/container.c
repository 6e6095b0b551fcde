/* Format detection and dispatch: decide from the bytes (never the name)
 * what a buffer is, hand it to the matching reader, and recurse into nested
 * containers within the depth limit.  Shared helpers for the readers
 * (locations, findings, metadata, member scanning) live here too. */
#include "container.h"

#include <stdio.h>
#include <string.h>

/* ---------- helpers ---------- */

const char *pj_escape_name(pj_arena *a, const uint8_t *name, size_t n)
{
    /* Names are hostile bytes: keep printable ASCII, escape the rest, and
     * escape '>' because it separates location steps. */
    if (n > (SIZE_MAX - 1) / 4)
        return "?";
    char *out = pj_arena_alloc(a, n * 4 + 1);
    if (out == NULL)
        return "?";
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = name[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '>') {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

const char *pj_loc_join(pj_arena *a, const char *parent, const char *child)
{
    if (parent == NULL)
        parent = "";
    size_t pl = strlen(parent), cl = strlen(child);
    bool glue = pl == 0 || parent[pl - 1] == ':'; /* decoder tags glue to what follows */
    char *out = pj_arena_alloc(a, pl + cl + 2);
    if (out == NULL)
        return child;
    memcpy(out, parent, pl);
    size_t o = pl;
    if (!glue)
        out[o++] = '>';
    memcpy(out + o, child, cl);
    out[o + cl] = '\0';
    return out;
}

const char *pj_loc_joinn(pj_arena *a, const char *parent, const uint8_t *name, size_t n)
{
    return pj_loc_join(a, parent, pj_escape_name(a, name, n));
}

static void vfinding(pj_scan_ctx *ctx, const char *loc, pj_code code, pj_severity sev, uint64_t off,
                     const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static void vfinding(pj_scan_ctx *ctx, const char *loc, pj_code code, pj_severity sev, uint64_t off,
                     const char *fmt, va_list ap)
{
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (loc != NULL && loc[0] != '\0')
        pj_report_add_finding(ctx->report, code, sev, -1, off, "in %.200s: %s", loc, msg);
    else
        pj_report_add_finding(ctx->report, code, sev, -1, off, "%s", msg);
}

void pj_cfinding(pj_scan_ctx *ctx, const char *loc, pj_code code, uint64_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfinding(ctx, loc, code, pj_code_severity(code), off, fmt, ap);
    va_end(ap);
}

void pj_cfinding_sev(pj_scan_ctx *ctx, const char *loc, pj_code code, pj_severity sev, uint64_t off,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfinding(ctx, loc, code, sev, off, fmt, ap);
    va_end(ap);
}

void pj_cmeta(pj_scan_ctx *ctx, const char *loc, const char *key, const char *value)
{
    if (loc == NULL || loc[0] == '\0') {
        pj_report_add_meta(ctx->report, key, value);
        return;
    }
    char k[300];
    snprintf(k, sizeof k, "%s@%.250s", key, loc);
    pj_report_add_meta(ctx->report, k, value);
}

bool pj_name_has_suffix(const uint8_t *name, size_t n, const char *suffix)
{
    size_t sl = strlen(suffix);
    if (n < sl)
        return false;
    const uint8_t *p = name + (n - sl);
    for (size_t i = 0; i < sl; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        if (c != (uint8_t)suffix[i])
            return false;
    }
    return true;
}

void pj_scan_nested(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc)
{
    ctx->depth++;
    pj_scan_container(ctx, d, n, loc);
    ctx->depth--;
}

static bool proto_header(const uint8_t *d, size_t n)
{
    return n >= 2 && d[0] == 0x80 && d[1] <= 5;
}

bool pj_scan_member(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc, bool named_pickle,
                    pj_sniff_mode mode)
{
    pj_fmt f = pj_sniff(d, n);
    if (pj_fmt_is_container(f)) {
        pj_scan_nested(ctx, d, n, loc);
        return false;
    }
    if (named_pickle)
        return pj_scan_pickles(ctx, d, n, loc, PJ_PICKLES_EXPECT_ONE) > 0;
    bool sniffed = false;
    if (mode == PJ_SNIFF_PROTO)
        sniffed = proto_header(d, n);
    else if (mode == PJ_SNIFF_ANY)
        sniffed = f == PJ_FMT_PICKLE;
    if (!sniffed)
        return false;
    return pj_scan_pickles(ctx, d, n, loc, PJ_PICKLES_EXPECT_ONE) > 0;
}

/* A raw pickle is "joblib" when joblib's array wrappers appear in it. */
static bool has_joblib_globals(const pj_report *r, size_t first_global)
{
    for (size_t i = first_global; i < r->n_globals; i++) {
        const pj_global *g = &r->globals[i];
        if (g->name == NULL || g->module == NULL)
            continue;
        if ((strcmp(g->name, "NumpyArrayWrapper") == 0 || strcmp(g->name, "NDArrayWrapper") == 0 ||
             strcmp(g->name, "ZNDArrayWrapper") == 0) &&
            strstr(g->module, "joblib") != NULL)
            return true;
    }
    return false;
}

/* ---------- dispatch ---------- */

void pj_scan_container(pj_scan_ctx *ctx, const uint8_t *data, size_t len, const char *location)
{
    const char *loc = location ? location : "";
    uint32_t max_depth = ctx->limits ? ctx->limits->max_container_depth : 8;
    if (ctx->depth > max_depth) {
        pj_cfinding(ctx, loc, PJ_NESTING_DEPTH, 0,
                    "containers nested %u deep (limit %u): contents not scanned", ctx->depth,
                    max_depth);
        return;
    }
    pj_fmt f = pj_sniff(data, len);
    if (ctx->depth == 0)
        ctx->report->format = pj_fmt_name(f);

    size_t globals_before = ctx->report->n_globals;
    switch (f) {
    case PJ_FMT_ZIP:
        pj_scan_zip(ctx, data, len, loc);
        break;
    case PJ_FMT_GZIP:
    case PJ_FMT_BZ2:
    case PJ_FMT_XZ:
    case PJ_FMT_LZMA:
    case PJ_FMT_ZSTD:
    case PJ_FMT_ZLIB:
    case PJ_FMT_ZFILE:
    case PJ_FMT_LZ4:
        pj_scan_compressed(ctx, f, data, len, loc);
        break;
    case PJ_FMT_TAR:
    case PJ_FMT_7Z:
        pj_scan_archive(ctx, f, data, len, loc);
        break;
    case PJ_FMT_NPY:
        pj_scan_npy(ctx, data, len, loc);
        break;
    case PJ_FMT_TORCH_LEGACY:
        pj_scan_torch_legacy(ctx, data, len, loc);
        break;
    case PJ_FMT_EMPTY:
    case PJ_FMT_LFS:
    case PJ_FMT_HTML:
    case PJ_FMT_JSON:
    case PJ_FMT_SAFETENSORS:
    case PJ_FMT_GGUF:
        pj_scan_not_model(ctx, f, data, len, loc);
        /* A safetensors look-alike whose header length does not fit is no
         * safetensors file: pickle.load may still run it, so scan it. */
        if (f == PJ_FMT_SAFETENSORS && len >= 8 && pj_le64(data) > len - 8)
            pj_scan_pickles(ctx, data, len, loc, PJ_PICKLES_JOBLIB);
        break;
    case PJ_FMT_UNKNOWN:
    case PJ_FMT_PICKLE: {
        /* A pickle without PROTO may start with any opcode: unknown bytes
         * are scanned as a pickle too, and are one if that works. */
        size_t streams_before = ctx->report->n_streams;
        pj_scan_pickles(ctx, data, len, loc, PJ_PICKLES_JOBLIB);
        if (f == PJ_FMT_UNKNOWN) {
            /* A pickle when it parses, or breaks only after some opcodes,
             * or starts with PROTO (an unsupported protocol is still one). */
            const pj_stream *s0 = ctx->report->n_streams > streams_before
                                      ? &ctx->report->streams[streams_before]
                                      : NULL;
            if (s0 != NULL && (s0->complete || s0->opcodes >= 2 || data[0] == 0x80)) {
                f = PJ_FMT_PICKLE;
                if (ctx->depth == 0)
                    ctx->report->format = "pickle";
            } else {
                pj_cfinding(ctx, loc, PJ_UNKNOWN_FORMAT, 0,
                            "format not recognised (first bytes %02x %02x %02x %02x, %zu bytes) "
                            "and not a valid pickle either",
                            len > 0 ? data[0] : 0, len > 1 ? data[1] : 0, len > 2 ? data[2] : 0,
                            len > 3 ? data[3] : 0, len);
            }
        }
        if (ctx->depth == 0 && f == PJ_FMT_PICKLE && has_joblib_globals(ctx->report, globals_before))
            ctx->report->format = "joblib";
        /* Legacy torch file whose magic number is not the literal LONG1
         * (built by REDUCE, say): recognise it by its second pickle, 1001. */
        if (ctx->depth == 0 && ctx->report->n_streams >= streams_before + 2 &&
            pj_torch_legacy_version_at(data, len,
                                       (size_t)ctx->report->streams[streams_before + 1].offset))
            ctx->report->format = "torch-legacy";
        /* A zip behind a pickle is a polyglot: torch.load and pickle.load
         * read the pickle, Python's zipfile reads the zip. */
        if (pj_zip_has_directory(data, len)) {
            pj_cfinding(ctx, loc, PJ_ZIP_PREPENDED_DATA, 0,
                        "file starts like a pickle but ends with a zip directory (polyglot): "
                        "pickle.load/torch.load read the pickle, Python's zipfile reads the zip; "
                        "both scanned");
            pj_scan_zip(ctx, data, len, loc);
        }
        break;
    }
    }
}
