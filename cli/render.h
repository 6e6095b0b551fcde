/* Report renderers: text for people, JSON / JSON Lines for programs, SARIF
 * 2.1.0 for code-scanning services. */
#ifndef PJ_CLI_RENDER_H
#define PJ_CLI_RENDER_H

#include "picklejail.h"
#include "skipped.h"
#include "summary.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct pj_file_result {
    const char *path;
    pj_report *report; /* never NULL */
    const char *error; /* I/O error text, or NULL */
} pj_file_result;

/* What the whole run found, for summaries and the SARIF invocation. */
typedef struct pj_run_totals {
    size_t files;
    const size_t *counts; /* files per verdict, indexed by pj_verdict */
    const pj_summary *codes;
    int exit_code;
    const pj_skipped_list *skipped; /* paths the walk passed over (may be NULL) */
} pj_run_totals;

void pj_render_text(FILE *out, const pj_file_result *f, bool color, bool verbose);
/* Writes s for a terminal: control bytes and bytes that are not UTF-8 as \xNN. */
void pj_render_text_escaped(FILE *out, const char *s);
void pj_render_text_summary(FILE *out, const pj_run_totals *t, bool color);

/* JSON: pj_json_begin, then pj_json_file per file, then pj_json_end.  With
 * files false (--summary-only) the document has no "files" array. */
void pj_json_begin(FILE *out, bool files);
void pj_json_file(FILE *out, const pj_file_result *f, bool first, bool lines);
void pj_json_end(FILE *out, bool files, const pj_run_totals *t);
/* JSON Lines --summary-only: one line {"summary": {...}}. */
void pj_json_summary_line(FILE *out, const pj_run_totals *t);

void pj_sarif_begin(FILE *out);
void pj_sarif_file(FILE *out, const pj_file_result *f, bool first);
void pj_sarif_end(FILE *out, const pj_run_totals *t);

#endif
