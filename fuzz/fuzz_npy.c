/* libFuzzer harness: the NumPy .npy reader (loader/npy.c): version and
 * header length, the Python dict literal parser, dtype item sizes (plain and
 * structured), shape products, object arrays (pickle after the header).  The
 * magic is prepended so every input reaches the header parser. */
#include "container.h"
#include "fuzz.h"
#include "report.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 24))
        return 0;
    uint8_t *buf = malloc(size + 6);
    if (buf == NULL)
        return 0;
    memcpy(buf, "\x93NUMPY", 6);
    memcpy(buf + 6, data, size);
    pj_options o;
    pj_fuzz_options(&o);
    pj_report *r = pj_report_new(o.limits.max_arena_bytes, o.limits.max_findings);
    if (r != NULL) {
        pj_scan_ctx ctx = {.report = r, .limits = &o.limits};
        pj_scan_npy(&ctx, buf, size + 6, "");
        pj_fuzz_check_report(r, 0);
        pj_report_free(r);
    }
    free(buf);
    return 0;
}
