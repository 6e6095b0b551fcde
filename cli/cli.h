/* State shared by the command-line front end (main.c) and the parallel
 * scheduler (schedule.c). */
#ifndef PJ_CLI_H
#define PJ_CLI_H

#include "picklejail.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { EXIT_CLEAN = 0, EXIT_FINDINGS = 1, EXIT_USAGE = 2 };
enum out_format { FMT_TEXT, FMT_JSON, FMT_JSONL, FMT_SARIF };

/* One input to scan, in walk order: a path (or "-"), or an error found while
 * walking (unreadable directory, missing file) to report in its place.
 * The walk builds the whole list before anything is scanned. */
typedef struct pj_cli_job {
    char *path;
    char *error;
    uint64_t size; /* bytes (stat at walk time); 0 for stdin, errors, non-regular files */
} pj_cli_job;

typedef struct cli {
    bool diagnose;
    enum out_format format;
    pj_severity fail_on;
    bool color;
    bool verbose;
    pj_options opts;
    pj_policy *policy;
    pj_diag_env env;
    const char *site_packages[64];
    size_t nfiles;
    size_t counts[4];
    bool any_error;
    bool any_failing;
    /* parallel scanning */
    unsigned jobs;
    bool worker;       /* in a worker process: render each file standalone */
    FILE *out;         /* where emit() writes (NULL: stdout) */
    pj_cli_job *job_list;
    size_t n_jobs, cap_jobs;
    pj_verdict last_verdict;
    bool last_failing;
} cli;

/* walk.c: append the jobs of one PATH argument (file, directory, "-"). */
void pj_cli_walk(cli *c, const char *arg);
void pj_cli_add_job(cli *c, const char *path, const char *error, uint64_t size);
void pj_cli_free_jobs(cli *c);
/* Scan one job in this process, rendering through emit(). */
void pj_cli_run_job(cli *c, const pj_cli_job *j);
/* Scan c->job_list with c->jobs worker processes, printing in order. */
void pj_cli_run_parallel(cli *c);

#endif
