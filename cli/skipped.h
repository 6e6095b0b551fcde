/* Paths the walk found but did not scan (symlink not followed, loop,
 * --exclude, special file), each with its reason.  They never change the
 * exit status, but every output format reports them (docs/report-schema.md). */
#ifndef PJ_CLI_SKIPPED_H
#define PJ_CLI_SKIPPED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct pj_skipped {
    char *path;
    const char *reason; /* stable keyword: symlink, broken-symlink, symlink-loop, ... */
    char *message;      /* for people */
} pj_skipped;

typedef struct pj_skipped_list {
    pj_skipped *items;
    size_t n, cap;
} pj_skipped_list;

/* JSON document: the value of the top-level "skipped" member (an array). */
void pj_skipped_json_array(FILE *out, const pj_skipped_list *s);
/* JSON Lines: one {"type":"skipped",...} line per entry. */
void pj_skipped_jsonl(FILE *out, const pj_skipped_list *s);
/* SARIF: render_sarif.c writes them as the invocation's toolExecutionNotifications. */
/* Text: one "skipped: PATH (message)" line each when verbose, and a count
 * line whenever anything was skipped. */
void pj_skipped_text(FILE *out, const pj_skipped_list *s, bool verbose, bool color);

#endif
