/* Our own zip reader.  Why not a library: the point is to see what *both*
 * loaders see.  CPython's zipfile (numpy.load, joblib, scanners) and
 * PyTorch's miniz-based PyTorchStreamReader read the same bytes differently:
 * zipfile shifts every offset when data was prepended, compares the local
 * name with the central one, refuses flag bits and bad CRCs, and returns the
 * last of two equal names; miniz takes offsets as written, ignores the local
 * name and (in PyTorch's build) the CRC, and finds names case-insensitively
 * by binary search over a heap-sorted directory.  A library would pick one of
 * those readings and hide the disagreement, which is the attack. */
#ifndef PJ_ZIP_H
#define PJ_ZIP_H

#include "arena.h"
#include "scan.h"

typedef struct pj_zip_entry {
    /* Central directory record (for local-only entries: copied from the
     * local header). */
    uint64_t cd_ofs;              /* offset of the central record, or UINT64_MAX */
    const uint8_t *name;
    size_t name_len;
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, local_ofs;
    /* Local header. */
    bool local_ok;                /* a local header is at local_ofs */
    const uint8_t *lname;
    size_t lname_len;
    uint16_t lflags, lmethod;
    uint32_t lcrc;
    uint64_t lcsize, lusize;
    uint64_t data_ofs;            /* first byte of member data */
    uint64_t end_ofs;             /* past the data (and its data descriptor) */
    bool data_truncated;          /* data_ofs + csize runs past the end of the buffer */
    bool in_cd;                   /* listed in the central directory */
    bool miniz_visible;           /* among the entries miniz reads (EOCD count) */
} pj_zip_entry;

typedef struct pj_zip {
    pj_zip_entry *e;
    size_t n, cap;
    bool have_eocd, zip64;
    uint64_t eocd_ofs;
    uint64_t cd_start, cd_size;   /* where the directory was read (after any shift) */
    uint64_t declared_entries;
    uint64_t concat;              /* bytes CPython's zipfile shifts offsets by */
    size_t n_cd;                  /* entries from the central directory (first n_cd of e) */
    uint32_t *miniz_sorted;       /* miniz's heap-sorted view of the visible CD entries */
    size_t n_miniz;
} pj_zip;

/* Parse d as a zip: end record, zip64 records, central directory, local
 * headers, and local headers nobody lists (gaps, truncated files).  Reports
 * every structural problem and every place where the two readings differ.
 * Memory comes from a (bounded) arena; returns false when d holds no zip
 * structure at all. */
bool pj_zip_parse(pj_scan_ctx *ctx, pj_arena *a, const uint8_t *d, size_t n, const char *loc,
                  pj_zip *z);

/* The entry PyTorch's miniz returns for a name (mz_zip_reader_locate_file
 * with flags 0: case-insensitive binary search), or -1. */
long pj_zip_miniz_locate(const pj_zip *z, const char *name);
/* The entry CPython's zipfile returns for a name (exact bytes, last one
 * listed wins), or -1. */
long pj_zip_cpython_locate(const pj_zip *z, const uint8_t *name, size_t len);

/* True when d ends with a zip end record whose central directory is where it
 * says (possibly behind prepended data). */
bool pj_zip_has_directory(const uint8_t *d, size_t n);

#endif
