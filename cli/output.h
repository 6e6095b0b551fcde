/* -o FILE: the report is written to a temporary file in FILE's directory,
 * which becomes FILE (fsync, rename) only when the report is complete.  On
 * an error, an interruption (SIGINT, SIGTERM, SIGHUP) or any exit before
 * pj_output_commit, the temporary file is removed and an existing FILE is
 * left as it was.  The temporary file is put on file descriptor 1, so every
 * writer of the report (the serial scan, the -j parent) writes to it
 * unchanged and standard output stays empty. */
#ifndef PJ_CLI_OUTPUT_H
#define PJ_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

/* Before anything is written to stdout.  False with a message in err. */
bool pj_output_open(const char *path, char *err, size_t errlen);
/* Flush, fsync and rename into place.  False with a message in err (the
 * temporary file is then removed). */
bool pj_output_commit(char *err, size_t errlen);
/* Remove the temporary file (no-op if none or already committed). */
void pj_output_abort(void);

#endif
