/* Internal interface between the container readers (loader/container.c,
 * sniff.c, zip.c, zipscan.c, npy.c, torch_legacy.c, decompress.c,
 * archive.c).  Everything here works on memory buffers: no I/O, no globals.
 *
 * Location scheme (docs/containers.md): a stream's location is the path of
 * steps that leads to its bytes, joined by '>' ("outer.tar>inner/model.pkl");
 * a decoder step is a tag ending in ':' and is glued to what follows
 * ("gzip:", "gzip:pickle#2").  The top-level file itself is "". */
#ifndef PJ_CONTAINER_H
#define PJ_CONTAINER_H

#include "scan.h"

#include <stdarg.h>

/* What the leading bytes say a buffer is. */
typedef enum pj_fmt {
    PJ_FMT_EMPTY,
    PJ_FMT_ZIP,
    PJ_FMT_GZIP,
    PJ_FMT_BZ2,
    PJ_FMT_XZ,
    PJ_FMT_LZMA,      /* raw .lzma "alone" stream (joblib compress='lzma') */
    PJ_FMT_ZSTD,
    PJ_FMT_ZLIB,
    PJ_FMT_ZFILE,     /* joblib < 0.10 "ZF" + hex length + zlib */
    PJ_FMT_LZ4,
    PJ_FMT_TAR,
    PJ_FMT_7Z,
    PJ_FMT_NPY,
    PJ_FMT_TORCH_LEGACY,
    PJ_FMT_LFS,
    PJ_FMT_HTML,
    PJ_FMT_JSON,
    PJ_FMT_SAFETENSORS,
    PJ_FMT_GGUF,
    PJ_FMT_PICKLE,
    PJ_FMT_UNKNOWN,
} pj_fmt;

pj_fmt pj_sniff(const uint8_t *d, size_t n);
/* Report format name ("gzip", "npy", ...). */
const char *pj_fmt_name(pj_fmt f);
/* True for formats that wrap or hold other data (decoders and archives). */
bool pj_fmt_is_container(pj_fmt f);

/* Handle formats that are not models (LFS pointer, HTML, JSON, empty,
 * safetensors, GGUF): findings and metadata only. */
void pj_scan_not_model(pj_scan_ctx *ctx, pj_fmt f, const uint8_t *d, size_t n, const char *loc);

/* ---- helpers (container.c) ---- */

/* Scratch strings live in a caller-owned arena released when the reader
 * returns; hostile names are escaped (\xNN, and '>' so locations parse). */
#include "arena.h"
const char *pj_loc_join(pj_arena *a, const char *parent, const char *child);
const char *pj_loc_joinn(pj_arena *a, const char *parent, const uint8_t *name, size_t n);
const char *pj_escape_name(pj_arena *a, const uint8_t *name, size_t n);

/* A finding about a container: the message is prefixed with the location
 * ("in a.tar>b.zip: ...") when there is one. */
void pj_cfinding(pj_scan_ctx *ctx, const char *loc, pj_code code, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void pj_cfinding_sev(pj_scan_ctx *ctx, const char *loc, pj_code code, pj_severity sev, uint64_t off,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Metadata: plain key for the top-level file, "key@location" below it. */
void pj_cmeta(pj_scan_ctx *ctx, const char *loc, const char *key, const char *value);

/* Scan a nested buffer as a container one level deeper. */
void pj_scan_nested(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc);

/* How much to trust content sniffing for an archive member. */
typedef enum pj_sniff_mode {
    PJ_SNIFF_NONE,       /* never scan as a pickle unless the name says so (tensor data) */
    PJ_SNIFF_PROTO,      /* only a PROTO 0-5 header counts (text records, source code) */
    PJ_SNIFF_ANY,        /* any plausible pickle start counts */
} pj_sniff_mode;

/* Scan one archive member: nested containers recurse, pickles are scanned.
 * named_pickle: the member's name says pickle (*.pkl, *.pickle).  Returns
 * true when at least one pickle stream in it reached STOP. */
bool pj_scan_member(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc,
                    bool named_pickle, pj_sniff_mode mode);

/* Case-insensitive ASCII suffix test on raw bytes. */
bool pj_name_has_suffix(const uint8_t *name, size_t n, const char *suffix);

/* ---- readers ---- */
void pj_scan_zip(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc);
/* Does d hold a zip end record whose directory is readable?  (Used to find
 * zips behind prepended data.) */
bool pj_zip_has_directory(const uint8_t *d, size_t n);
void pj_scan_npy(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc);
void pj_scan_torch_legacy(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc);
void pj_scan_archive(pj_scan_ctx *ctx, pj_fmt f, const uint8_t *d, size_t n, const char *loc);
void pj_scan_compressed(pj_scan_ctx *ctx, pj_fmt f, const uint8_t *d, size_t n, const char *loc);

/* Is there a pickle of the int 1001 (legacy torch protocol version) at off? */
bool pj_torch_legacy_version_at(const uint8_t *d, size_t n, size_t off);

/* Legacy torch tar layout: one member of a tar that holds sys_info,
 * pickle, storages and tensors. */
void pj_scan_torch_tar_member(pj_scan_ctx *ctx, const char *name, const uint8_t *d, size_t n,
                              const char *loc);

/* ---- decompression (decompress.c) ---- */
typedef enum pj_dz_kind {
    PJ_DZ_GZIP,
    PJ_DZ_ZLIB,
    PJ_DZ_DEFLATE, /* raw deflate (zip method 8) */
    PJ_DZ_BZ2,
    PJ_DZ_XZ,
    PJ_DZ_LZMA_ALONE,
    PJ_DZ_ZSTD,
    PJ_DZ_LZ4,     /* LZ4 frame format (joblib compress='lz4'); no dictionaries */
} pj_dz_kind;

typedef enum pj_dz_status {
    PJ_DZ_OK = 0,
    PJ_DZ_BUDGET,   /* output stopped at the decompressed-size budget */
    PJ_DZ_CORRUPT,  /* the decoder rejected the data (output so far kept) */
    PJ_DZ_TRUNCATED,/* input ended inside the stream (output so far kept) */
    PJ_DZ_NOMEM,
} pj_dz_status;

typedef struct pj_dz_result {
    uint8_t *data;      /* malloc'd output (free with pj_dz_free) */
    size_t len;
    size_t consumed;    /* input bytes that belonged to the stream(s) */
    pj_dz_status status;
    const char *error;  /* static text */
} pj_dz_result;

/* Decompress in[0..n) completely (all members/frames) within the budget
 * left in ctx (limits->max_decompressed_bytes - ctx->decompressed_total);
 * max_out, when nonzero, caps the output further.  Adds the output size to
 * ctx->decompressed_total. */
void pj_decompress(pj_scan_ctx *ctx, pj_dz_kind kind, const uint8_t *in, size_t n, uint64_t max_out,
                   pj_dz_result *res);
void pj_dz_free(pj_dz_result *res);
const char *pj_dz_name(pj_dz_kind kind);

/* Little-endian readers; callers check bounds first. */
static inline uint16_t pj_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t pj_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t pj_le64(const uint8_t *p) { return pj_le32(p) | ((uint64_t)pj_le32(p + 4) << 32); }

#endif
