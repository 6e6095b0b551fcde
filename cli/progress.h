/* Progress bar on standard error for long scans (files done/total, bytes,
 * rate, ETA).  Drawn only when stderr is a terminal and the caller enabled
 * it (not --quiet), and only once the scan has run for a while: the delay is
 * PICKLEJAIL_PROGRESS_DELAY_MS (default 700 ms; 0 draws from the first
 * file).  Redrawn at most 10 times a second; erased at the end.  Every
 * function accepts NULL (no bar). */
#ifndef PJ_CLI_PROGRESS_H
#define PJ_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pj_progress pj_progress;

/* NULL when not enabled, stderr is not a terminal, or out of memory. */
pj_progress *pj_progress_new(size_t total_files, uint64_t total_bytes, bool enabled);
/* One more file finished (its size in bytes, 0 if unknown). */
void pj_progress_file_done(pj_progress *p, uint64_t bytes);
/* Nothing finished, but time passed (a long file): redraw the rate and ETA
 * if a redraw is due.  For callers that wait with a timeout. */
void pj_progress_tick(pj_progress *p);
/* Erase the bar before something is printed to the same terminal; the next
 * pj_progress_file_done draws it again. */
void pj_progress_clear(pj_progress *p);
/* Erase the bar and free. */
void pj_progress_free(pj_progress *p);

#endif
