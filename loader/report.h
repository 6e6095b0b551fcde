/* Building a pj_report: the loader, the wire decoder, the policy and the
 * diagnosis all add to a report through these calls.  Arrays grow within the
 * report's memory budget; when it is spent, adds fail and one LIMIT_ARENA
 * finding is kept (the slot for it is reserved). */
#ifndef PJ_REPORT_H
#define PJ_REPORT_H

#include "picklejail.h"
#include "arena.h"

#include <stdarg.h>

struct pj_report_impl {
    pj_arena strings;
    size_t cap_streams, cap_globals, cap_calls, cap_findings, cap_meta;
    size_t max_findings;
    bool findings_overflowed;
};

pj_report *pj_report_new(size_t budget, size_t max_findings);

/* Findings of class LOAD may exceed max_findings by this many (diagnosis
 * bounds itself below it). */
#define PJ_LOAD_FINDINGS_RESERVE 64

/* Escape arbitrary bytes into a printable, NUL-terminated string (\xNN for
 * anything outside printable ASCII; valid UTF-8 is kept when keep_utf8). */
const char *pj_report_escape(pj_report *r, const uint8_t *s, size_t n, bool keep_utf8);

int32_t pj_report_add_stream(pj_report *r, const char *location, uint64_t offset);
/* Returns the index of the new global or -1. */
int32_t pj_report_add_global(pj_report *r, const pj_global *g);
int32_t pj_report_add_call(pj_report *r, const pj_call *c);
bool pj_report_add_meta(pj_report *r, const char *key, const char *value);
const char *pj_report_get_meta(const pj_report *r, const char *key);
bool pj_report_vfinding(pj_report *r, pj_code code, pj_severity sev, int32_t stream,
                        uint64_t offset, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));
/* Same as pj_report_add_finding with the code's default severity. */
bool pj_report_finding(pj_report *r, pj_code code, int32_t stream, uint64_t offset,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
bool pj_report_has_code(const pj_report *r, pj_code code);

#endif
