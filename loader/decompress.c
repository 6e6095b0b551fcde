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
    case PJ_DZ_LZ4: return "lz4";
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
    /* A header may declare any dictionary size; liblzma allocates it up
     * front.  xz -9 needs 64 MiB: 256 MiB keeps real files and stops bombs. */
    const uint64_t memlimit = (uint64_t)256 << 20;
    lzma_ret init = kind == PJ_DZ_XZ ? lzma_stream_decoder(&ls, memlimit, LZMA_CONCATENATED)
                                     : lzma_alone_decoder(&ls, memlimit);
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
        if (rc == LZMA_MEMLIMIT_ERROR) {
            r->status = PJ_DZ_NOMEM;
            r->error = "lzma dictionary larger than the 256 MiB decoder limit";
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

/* ---- LZ4 frames.  Debian's liblz4 ships no headers here, and the format
 * is small: this decoder checks every length against both buffers. ---- */

static bool ob_put(outbuf *o, const uint8_t *src, size_t n)
{
    while (n > 0) {
        size_t room = ob_room(o);
        if (room == 0)
            return false;
        size_t k = n < room ? n : room;
        memcpy(o->p + o->len, src, k);
        o->len += k;
        src += k;
        n -= k;
    }
    return true;
}

/* Copy a match byte by byte (it may overlap what it produces). */
static bool ob_match(outbuf *o, size_t dist, size_t n)
{
    while (n > 0) {
        size_t room = ob_room(o);
        if (room == 0)
            return false;
        size_t k = n < room ? n : room;
        for (size_t i = 0; i < k; i++)
            o->p[o->len + i] = o->p[o->len + i - dist];
        o->len += k;
        n -= k;
    }
    return true;
}

/* An LZ4 length of 15 continues in bytes of 255 until a smaller one.
 * False when the bytes run out or the length would overflow. */
static bool lz4_length(const uint8_t *p, size_t n, size_t *i, size_t *len)
{
    uint8_t b;
    do {
        if (*i >= n || *len > SIZE_MAX - 255)
            return false;
        b = p[(*i)++];
        *len += b;
    } while (b == 255);
    return true;
}

/* One LZ4 block: sequences of literals and matches; offsets may reach
 * back into earlier blocks (linked blocks) but never before the output. */
static const char *lz4_block(const uint8_t *p, size_t n, outbuf *o, size_t frame_start)
{
    size_t i = 0;
    while (i < n) {
        uint8_t token = p[i++];
        size_t lit = token >> 4;
        if (lit == 15 && !lz4_length(p, n, &i, &lit))
            return "literal length runs past the block or overflows";
        if (lit > n - i)
            return "literals run past the block";
        if (!ob_put(o, p + i, lit))
            return NULL; /* budget: the caller sees a full buffer */
        i += lit;
        if (i == n)
            return "";   /* the last sequence has literals only */
        if (n - i < 2)
            return "match offset cut off";
        size_t dist = pj_le16(p + i);
        i += 2;
        if (dist == 0 || dist > o->len - frame_start)
            return "match offset points before the output";
        size_t ml = token & 15;
        if (ml == 15 && !lz4_length(p, n, &i, &ml))
            return "match length runs past the block or overflows";
        if (!ob_match(o, dist, ml + 4))
            return NULL;
    }
    return "block ends inside a sequence";
}

static void run_lz4(const uint8_t *in, size_t n, outbuf *o, pj_dz_result *r)
{
    size_t pos = 0;
    bool any = false;
    while (pos < n) {
        if (n - pos < 7) {
            r->status = any ? PJ_DZ_OK : PJ_DZ_TRUNCATED;
            r->error = any ? NULL : "LZ4 frame header cut off";
            break;
        }
        uint32_t magic = pj_le32(in + pos);
        if ((magic & 0xfffffff0u) == 0x184d2a50u) { /* skippable frame */
            if (n - pos < 8 || pj_le32(in + pos + 4) > n - pos - 8) {
                r->status = PJ_DZ_TRUNCATED;
                r->error = "skippable LZ4 frame cut off";
                break;
            }
            pos += 8 + pj_le32(in + pos + 4);
            continue;
        }
        if (magic != 0x184d2204u) {
            if (!any) {
                r->status = PJ_DZ_CORRUPT;
                r->error = "not an LZ4 frame";
            }
            break; /* trailing bytes: reported by the caller via consumed */
        }
        uint8_t flg = in[pos + 4];
        size_t h = pos + 6;
        if ((flg >> 6) != 1) {
            r->status = PJ_DZ_CORRUPT;
            r->error = "unknown LZ4 frame version";
            break;
        }
        if (flg & 0x08)
            h += 8; /* content size */
        if (flg & 0x01) {
            r->status = PJ_DZ_CORRUPT;
            r->error = "LZ4 frame needs a dictionary";
            break;
        }
        h += 1; /* header checksum */
        if (h > n) {
            r->status = PJ_DZ_TRUNCATED;
            r->error = "LZ4 frame header cut off";
            break;
        }
        size_t frame_start = o->len;
        bool block_sum = flg & 0x10, content_sum = flg & 0x04;
        const char *err = NULL;
        bool ended = false;
        pos = h;
        while (!ended) {
            if (n - pos < 4) {
                err = "LZ4 block header cut off";
                break;
            }
            uint32_t bs = pj_le32(in + pos);
            pos += 4;
            if (bs == 0) {
                ended = true;
                if (content_sum) {
                    if (n - pos < 4) {
                        err = "LZ4 content checksum cut off";
                        break;
                    }
                    pos += 4;
                }
                break;
            }
            size_t len = bs & 0x7fffffffu;
            if (len > n - pos) {
                err = "LZ4 block runs past the end";
                break;
            }
            if (bs & 0x80000000u) {
                if (!ob_put(o, in + pos, len)) {
                    err = NULL;
                    break;
                }
            } else {
                const char *e = lz4_block(in + pos, len, o, frame_start);
                if (e == NULL)
                    break; /* budget */
                if (e[0] != '\0') {
                    err = e;
                    break;
                }
            }
            pos += len;
            if (block_sum) {
                if (n - pos < 4) {
                    err = "LZ4 block checksum cut off";
                    break;
                }
                pos += 4;
            }
        }
        r->consumed = pos;
        if (!ended) {
            if (ob_room(o) == 0) {
                r->status = o->nomem ? PJ_DZ_NOMEM : PJ_DZ_BUDGET;
            } else {
                r->status = err && strstr(err, "cut off") ? PJ_DZ_TRUNCATED : PJ_DZ_CORRUPT;
                r->error = err ? err : "LZ4 data is corrupt";
            }
            return;
        }
        any = true;
    }
    if (r->consumed < pos)
        r->consumed = pos;
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
    case PJ_DZ_LZ4:
        run_lz4(in, n, &o, res);
        break;
    }
    if (res->status == PJ_DZ_NOMEM && res->error == NULL)
        res->error = "out of memory (sandbox address-space limit?)";
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
