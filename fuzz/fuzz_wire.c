/* libFuzzer harness: the parent's decoder of the sandboxed child's report
 * (sandbox/wire.c).  The child parses hostile files and may be compromised,
 * so every byte it sends is attacker-controlled.  Invariants: the decoded
 * report is structurally valid whatever the input, and a message the decoder
 * accepts survives re-encoding unchanged. */
#include "fuzz.h"
#include "report.h"
#include "wire.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const pj_wire_bounds b = {.max_message = 1 << 20, .max_records = 1 << 16, .max_findings = 64};
    pj_report *r = pj_report_new(8u << 20, 64 + 8);
    if (r == NULL)
        return 0;
    char err[256];
    bool ok = pj_wire_decode(r, data, size, &b, err, sizeof err);
    PJ_FUZZ_ASSERT(ok || err[0] != '\0', "a rejection says why");
    PJ_FUZZ_ASSERT(memchr(err, '\0', sizeof err) != NULL, "error message terminated");
    pj_fuzz_check_report(r, 0);
    /* Streams hold globals and calls: -1 is only for findings. */
    for (size_t i = 0; i < r->n_globals; i++)
        PJ_FUZZ_ASSERT(r->globals[i].stream >= 0, "global stream present");
    if (ok) {
        size_t n = 0;
        uint8_t *again = pj_wire_encode(r, &n);
        PJ_FUZZ_ASSERT(again != NULL, "re-encode");
        PJ_FUZZ_ASSERT(n == size && memcmp(again, data, n) == 0, "round trip is exact");
        free(again);
    }
    pj_report_free(r);
    return 0;
}
