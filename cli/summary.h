/* Run summary: how many findings of each code, and in how many files, for
 * the text summary table and the JSON "summary" object.  A file's codes are
 * kept in a fixed-size record so -j workers can send it to the parent. */
#ifndef PJ_CLI_SUMMARY_H
#define PJ_CLI_SUMMARY_H

#include "picklejail.h"

#include <stddef.h>
#include <stdint.h>

enum { PJ_SUMMARY_CODES = 600, PJ_SUMMARY_FILE_CODES = 128, PJ_SUMMARY_TOP = 5 };

/* The distinct non-informational codes of one file, with their counts. */
typedef struct pj_file_codes {
    uint32_t n;
    uint16_t code[PJ_SUMMARY_FILE_CODES];
    uint32_t count[PJ_SUMMARY_FILE_CODES];
} pj_file_codes;

typedef struct pj_summary {
    uint64_t findings[PJ_SUMMARY_CODES]; /* findings of each code */
    uint64_t files[PJ_SUMMARY_CODES];    /* files with at least one */
} pj_summary;

void pj_file_codes_of(const pj_report *r, pj_file_codes *out);
/* Adds one file's codes; a record that is not well formed (from a worker
 * that misbehaved) is ignored and false returned. */
bool pj_summary_add(pj_summary *s, const pj_file_codes *fc);
/* The up to k most frequent codes, by files then findings then code; returns
 * how many were written. */
size_t pj_summary_top(const pj_summary *s, uint16_t *codes, size_t k);

#endif
