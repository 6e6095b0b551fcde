/* Decompression of whole streams into memory with a hard output budget:
 * gzip (all members), zlib, raw deflate, bzip2 (all streams), xz (all
 * streams), lzma "alone", zstd (all frames).  The budget
 * (limits->max_decompressed_bytes across the whole file) is what bounds the
 * output buffer; it grows by doubling up to that bound, so a bomb costs at
 * most the budget and becomes a finding, never an out-of-memory. */
#include "container.h"

#include <bzlib.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

typedef struct outbuf {
    uint8_t *p;
    size_t len, cap, limit;
    bool nomem;
} outbuf;

/* Make room for at least one more byte (up to limit); returns the free
 * space, 0 when the limit is reached or memory ran out. */
static size_t ob_room(outbuf *o)
{
    if (o->len < o->cap)
        return o->cap - o->len;
    if (o->cap >= o->limit)
        return 0;
    size_t ncap = o->cap ? o->cap * 2 : 64 * 1024;
    if (ncap < o->cap || ncap > o->limit)
        ncap = o->limit;
    uint8_t *np = realloc(o->p, ncap ? ncap : 1);
    if (np == NULL) {
        o->nomem = true;
        return 0;
    }
    o->p = np;
    o->cap = ncap;
    return o->cap - o->len;
}

const char *pj_dz_name(pj_dz_kind kind)
{
    switch (kind) {
    case PJ_DZ_GZIP: return "gzip";
    case PJ_DZ_ZLIB: return "zlib";
    case PJ_DZ_DEFLATE: return "deflate";
    case PJ_DZ_BZ2: return "bz2";
    case PJ_DZ_XZ: return "xz";
    case PJ_DZ_LZMA_ALONE: return "lzma";
    case PJ_DZ_ZSTD: return "zstd";
    }
    return "?";
}

static void *zalloc_cb(void *opaque, unsigned items, unsigned size)
{
    (void)opaque;
    return calloc(items, size);
}
static void zfree_cb(void *opaque, void *p)
{
    (void)opaque;
    free(p);
}

static void run_zlib(pj_dz_kind kind, const uint8_t *in, size_t n, outbuf *o, pj_dz_result *r)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = zalloc_cb;
    zs.zfree = zfree_cb;
    int wbits = kind == PJ_DZ_GZIP ? 16 + MAX_WBITS : kind == PJ_DZ_ZLIB ? MAX_WBITS : -MAX_WBITS;
    if (inflateInit2(&zs, wbits) != Z_OK) {
        r->status = PJ_DZ_NOMEM;
        r->error = "inflateInit failed";
        return;
    }
    size_t pos = 0;
    for (;;) {
        size_t room = ob_room(o);
        if (room == 0) {
            r->status = o->nomem ? PJ_DZ_NOMEM : PJ_DZ_BUDGET;
            break;
        }
        size_t avail = n - pos;
        zs.next_in = (Bytef *)(uintptr_t)(in + pos);
        zs.avail_in = avail > UINT32_MAX ? UINT32_MAX : (uInt)avail;
        zs.next_out = o->p + o->len;
        zs.avail_out = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
        uInt in0 = zs.avail_in, out0 = zs.avail_out;
        int rc = inflate(&zs, Z_NO_FLUSH);
        pos += in0 - zs.avail_in;
        o->len += out0 - zs.avail_out;
        if (rc == Z_STREAM_END) {
            /* gzip: further members follow (Python's gzip reads them all). */
            if (kind == PJ_DZ_GZIP && n - pos >= 2 && in[pos] == 0x1f && in[pos + 1] == 0x8b) {
                inflateReset(&zs);
                continue;
            }
            break;
        }
        if (rc == Z_BUF_ERROR && pos >= n) {
            r->status = PJ_DZ_TRUNCATED;
            r->error = "compressed stream ends early";
            break;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            r->status = rc == Z_MEM_ERROR ? PJ_DZ_NOMEM : PJ_DZ_CORRUPT;
            r->error = zs.msg ? zs.msg : "inflate error";
            break;
        }
        if (in0 == zs.avail_in && out0 == zs.avail_out && pos >= n) {
            r->status = PJ_DZ_TRUNCATED;
            r->error = "compressed stream ends early";
            break;
        }
    }
    r->consumed = pos;
    inflateEnd(&zs);
}

static void run_bz2(const uint8_t *in, size_t n, outbuf *o, pj_dz_result *r)
{
    size_t pos = 0;
    for (;;) {
        bz_stream bs;
        memset(&bs, 0, sizeof bs);
        if (BZ2_bzDecompressInit(&bs, 0, 0) != BZ_OK) {
            r->status = PJ_DZ_NOMEM;
            r->error = "bzip2 init failed";
            return;
        }
        int rc = BZ_OK;
        for (;;) {
            size_t room = ob_room(o);
            if (room == 0) {
                r->status = o->nomem ? PJ_DZ_NOMEM : PJ_DZ_BUDGET;
                break;
            }
            size_t avail = n - pos;
            bs.next_in = (char *)(uintptr_t)(in + pos);
            bs.avail_in = avail > UINT32_MAX ? UINT32_MAX : (unsigned)avail;
            bs.next_out = (char *)(o->p + o->len);
            bs.avail_out = room > UINT32_MAX ? UINT32_MAX : (unsigned)room;
            unsigned in0 = bs.avail_in, out0 = bs.avail_out;
            rc = BZ2_bzDecompress(&bs);
            pos += in0 - bs.avail_in;
            o->len += out0 - bs.avail_out;
            if (rc == BZ_STREAM_END)
                break;
            if (rc != BZ_OK) {
                r->status = rc == BZ_MEM_ERROR ? PJ_DZ_NOMEM : PJ_DZ_CORRUPT;
                r->error = "bzip2 data is corrupt";
                break;
            }
            if (in0 == bs.avail_in && out0 == bs.avail_out) {
                r->status = PJ_DZ_TRUNCATED;
                r->error = "compressed stream ends early";
                break;
            }
        }
        BZ2_bzDecompressEnd(&bs);
        r->consumed = pos;
        if (rc != BZ_STREAM_END || r->status != PJ_DZ_OK)
            return;
        /* Python's bz2 reads concatenated streams. */
        if (!(n - pos >= 4 && memcmp(in + pos, "BZh", 3) == 0))
            return;
    }
}

static void run_lzma(pj_dz_kind kind, const uint8_t *in, size_t n, outbuf *o, pj_dz_result *r)
{
    lzma_stream ls = LZMA_STREAM_INIT;
    lzma_ret init = kind == PJ_DZ_XZ ? lzma_stream_decoder(&ls, UINT64_MAX, LZMA_CONCATENATED)
                                     : lzma_alone_decoder(&ls, UINT64_MAX);
    if (init != LZMA_OK) {
        r->status = PJ_DZ_NOMEM;
        r->error = "lzma init failed";
        return;
    }
    ls.next_in = in;
    ls.avail_in = n;
    lzma_action action = LZMA_RUN;
    for (;;) {
        size_t room = ob_room(o);
        if (room == 0) {
            r->status = o->nomem ? PJ_DZ_NOMEM : PJ_DZ_BUDGET;
            break;
        }
        if (ls.avail_in == 0)
            action = LZMA_FINISH; /* concatenated mode needs FINISH at the end */
        ls.next_out = o->p + o->len;
        ls.avail_out = room;
        size_t out0 = room;
        lzma_ret rc = lzma_code(&ls, action);
        o->len += out0 - ls.avail_out;
        if (rc == LZMA_STREAM_END)
            break;
        if (rc == LZMA_BUF_ERROR) {
            r->status = PJ_DZ_TRUNCATED;
            r->error = "compressed stream ends early";
            break;
        }
        if (rc != LZMA_OK) {
            r->status = rc == LZMA_MEM_ERROR ? PJ_DZ_NOMEM : PJ_DZ_CORRUPT;
            r->error = rc == LZMA_FORMAT_ERROR ? "not an xz/lzma stream" : "lzma data is corrupt";
            break;
        }
    }
    r->consumed = n - ls.avail_in;
    lzma_end(&ls);
}

static void run_zstd(const uint8_t *in, size_t n, outbuf *o, pj_dz_result *r)
{
    ZSTD_DStream *zd = ZSTD_createDStream();
    if (zd == NULL) {
        r->status = PJ_DZ_NOMEM;
        r->error = "zstd init failed";
        return;
    }
    /* Refuse frames needing windows beyond 128 MiB (decoder memory). */
    ZSTD_DCtx_setParameter(zd, ZSTD_d_windowLogMax, 27);
    ZSTD_inBuffer ib = {in, n, 0};
    size_t last = 1;
    for (;;) {
        size_t room = ob_room(o);
        if (room == 0) {
            r->status = o->nomem ? PJ_DZ_NOMEM : PJ_DZ_BUDGET;
            break;
        }
        ZSTD_outBuffer ob = {o->p + o->len, room, 0};
        size_t in0 = ib.pos;
        last = ZSTD_decompressStream(zd, &ob, &ib);
        o->len += ob.pos;
        if (ZSTD_isError(last)) {
            r->status = PJ_DZ_CORRUPT;
            r->error = ZSTD_getErrorName(last);
            break;
        }
        if (ib.pos >= ib.size && ob.pos < room) {
            if (last != 0) {
                r->status = PJ_DZ_TRUNCATED;
                r->error = "compressed stream ends early";
            }
            break;
        }
        if (ob.pos == 0 && ib.pos == in0 && last != 0 && ib.pos >= ib.size) {
            r->status = PJ_DZ_TRUNCATED;
            r->error = "compressed stream ends early";
            break;
        }
    }
    r->consumed = ib.pos;
    ZSTD_freeDStream(zd);
}

void pj_decompress(pj_scan_ctx *ctx, pj_dz_kind kind, const uint8_t *in, size_t n, uint64_t max_out,
                   pj_dz_result *res)
{
    memset(res, 0, sizeof *res);
    uint64_t budget = ctx->limits ? ctx->limits->max_decompressed_bytes : ((uint64_t)1 << 30);
    uint64_t left = budget > ctx->decompressed_total ? budget - ctx->decompressed_total : 0;
    bool capped = false; /* the caller's cap, not the file budget, binds */
    if (max_out != 0 && max_out < left) {
        left = max_out;
        capped = true;
    }
    if (left > SIZE_MAX / 2)
        left = SIZE_MAX / 2;
    /* One byte beyond the bound tells "exactly the budget" from "more". */
    outbuf o = {NULL, 0, 0, (size_t)left + 1, false};
    switch (kind) {
    case PJ_DZ_GZIP:
    case PJ_DZ_ZLIB:
    case PJ_DZ_DEFLATE:
        run_zlib(kind, in, n, &o, res);
        break;
    case PJ_DZ_BZ2:
        run_bz2(in, n, &o, res);
        break;
    case PJ_DZ_XZ:
    case PJ_DZ_LZMA_ALONE:
        run_lzma(kind, in, n, &o, res);
        break;
    case PJ_DZ_ZSTD:
        run_zstd(in, n, &o, res);
        break;
    }
    if (o.len > left) {
        o.len = (size_t)left;
        res->status = capped ? PJ_DZ_OK : PJ_DZ_BUDGET;
        res->error = capped ? NULL : "decompressed-size budget reached";
    }
    res->data = o.p;
    res->len = o.len;
    ctx->decompressed_total += o.len;
}

void pj_dz_free(pj_dz_result *res)
{
    free(res->data);
    res->data = NULL;
    res->len = 0;
}
