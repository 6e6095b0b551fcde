/* Report renderers: text for people, JSON / JSON Lines for programs, SARIF
 * 2.1.0 for code-scanning services. */
#ifndef PJ_CLI_RENDER_H
#define PJ_CLI_RENDER_H

#include "picklejail.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct pj_file_result {
    const char *path;
    pj_report *report; /* never NULL */
    const char *error; /* I/O error text, or NULL */
} pj_file_result;

void pj_render_text(FILE *out, const pj_file_result *f, bool color, bool verbose);
void pj_render_text_summary(FILE *out, size_t files, const size_t counts[4], bool color);

/* JSON: pj_json_begin, then pj_json_file per file, then pj_json_end. */
void pj_json_begin(FILE *out);
void pj_json_file(FILE *out, const pj_file_result *f, bool first, bool lines);
void pj_json_end(FILE *out);

void pj_sarif_begin(FILE *out);
void pj_sarif_file(FILE *out, const pj_file_result *f, bool first);
void pj_sarif_end(FILE *out);

#endif
