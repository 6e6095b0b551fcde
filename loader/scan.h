/* Internal scanning context shared by the container readers and the pickle
 * VM.  No I/O, no globals: everything a scan needs lives here. */
#ifndef PJ_SCAN_H
#define PJ_SCAN_H

#include "picklejail.h"
#include "report.h"

typedef struct pj_scan_ctx {
    pj_report *report;
    const pj_limits *limits;
    uint64_t decompressed_total; /* bytes produced by all decompressors so far */
    uint32_t depth;              /* container nesting depth of the current call */
} pj_scan_ctx;

/* Flags for pj_scan_pickles. */
enum {
    PJ_PICKLES_JOBLIB = 1u << 0,   /* step over joblib's raw arrays after NumpyArrayWrapper */
    PJ_PICKLES_EXPECT_ONE = 1u << 1, /* data after the first STOP is trailing data, not expected */
    PJ_PICKLES_LINEAR = 1u << 2,   /* pickle.loads() reading: frames not enforced */
};

/* Scan data as pickle streams: the first at offset 0, then whatever follows
 * STOP (further pickles are scanned, other bytes reported), and after an error
 * resynchronise on the next plausible pickle start.  Each stream is added to
 * the report with location "<location>" (first) or "<location>#N@OFF".
 * Returns the number of streams that reached STOP. */
size_t pj_scan_pickles(pj_scan_ctx *ctx, const uint8_t *data, size_t len, const char *location,
                       unsigned flags);

/* Run exactly one pickle stream starting at data[start].  Adds one stream to
 * the report.  *end receives the offset just past STOP (or where it failed).
 * Returns true when STOP was reached without error. */
bool pj_scan_one_pickle(pj_scan_ctx *ctx, const uint8_t *data, size_t len, size_t start,
                        const char *location, unsigned flags, size_t *end);

/* Detect the format of data from its bytes and scan everything inside.
 * Container readers call this recursively for members (depth-limited). */
void pj_scan_container(pj_scan_ctx *ctx, const uint8_t *data, size_t len, const char *location);

/* Load what the container readers would otherwise load lazily from disk
 * (libarchive's iconv converters): call once before a seccomp filter. */
void pj_containers_prepare(void);

/* Does a pickle plausibly start here?  (PROTO 0..5, or a protocol 0/1 opcode
 * that can begin a stream.) */
bool pj_pickle_start_plausible(const uint8_t *data, size_t len);

#endif
