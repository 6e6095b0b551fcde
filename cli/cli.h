/* State shared by the command-line front end (main.c) and the parallel
 * scheduler (schedule.c). */
#ifndef PJ_CLI_H
#define PJ_CLI_H

#include "picklejail.h"
#include "skipped.h"
#include "summary.h"

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
    bool is_stdin; /* the "-" argument (a list entry "-" is a file named -) */
    bool walked;   /* found inside a directory (not named explicitly) */
    size_t root_len; /* walked: bytes of path naming the directory argument (with its slash) */
    bool unsized;  /* stdin, a fifo or a device: may take any time, nothing waits behind it */
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
    /* the walk */
    const char **excludes; /* --exclude globs (argv strings) */
    size_t n_excludes;
    bool follow_symlinks;
    pj_skipped_list skipped;
    pj_verdict last_verdict;
    bool last_failing;
    /* the output side: --quiet, --summary-only, the run summary, progress */
    bool quiet, summary_only;
    pj_summary codes;          /* finding codes of the whole run */
    pj_file_codes last_codes;  /* the last file's (-j workers send them) */
    struct pj_progress *progress;
} cli;

/* walk.c: append the jobs of one PATH argument (file, directory, "-"). */
void pj_cli_walk(cli *c, const char *arg);
/* walk.c: read a --files-from list (or - for stdin) and walk each entry;
 * false (message printed) if the list cannot be read or is malformed. */
bool pj_cli_walk_list(cli *c, const char *name);
/* walk.c: false (message printed) if "-" is named more than once among the
 * PATH arguments and --files-from lists: standard input is read only once. */
bool pj_cli_stdin_once(int nargs, char **args, size_t nlists, const char **lists);
void pj_cli_add_skipped(cli *c, const char *path, const char *reason, const char *message);
void pj_cli_add_job(cli *c, const char *path, const char *error, uint64_t size);
/* walk.c: open a file job for scanning; -1 with the reason in msg.  A file
 * found while walking must still be a regular file, and is not reached
 * through a symlink swapped in since the walk (unless --follow-symlinks). */
int pj_cli_open_job(const cli *c, const pj_cli_job *j, char *msg, size_t cap);
/* Frees the job list and the skipped list. */
void pj_cli_free_jobs(cli *c);
/* The default for -j: CPUs this process may run on, 1 to 64. */
unsigned pj_cli_default_jobs(void);
/* Scan the whole job list: serially if c->jobs <= 1 (or one job), else in
 * workers; either way in list order, JSON Lines flushed after each file. */
void pj_cli_run_all(cli *c);
/* Scan one job in this process, rendering through emit(). */
void pj_cli_run_job(cli *c, const pj_cli_job *j);
/* Scan c->job_list with c->jobs worker processes, printing in order. */
void pj_cli_run_parallel(cli *c);

#endif
