/* libFuzzer harness: the pickle VM simulator on raw bytes, through both entry
 * points of loader/scan.h.  The same bytes run three ways (multi-stream scan,
 * joblib mode, exactly one stream) so every input exercises stream splitting,
 * resynchronisation and the joblib raw-array skipping.  Reports are checked
 * against their structural invariants (fuzz.h). */
#include "fuzz.h"
#include "scan.h"

static void run(const uint8_t *data, size_t size, const pj_limits *limits, int mode)
{
    pj_report *r = pj_report_new(limits->max_arena_bytes, limits->max_findings);
    if (r == NULL)
        return;
    pj_scan_ctx ctx = {.report = r, .limits = limits};
    size_t end = 0;
    switch (mode) {
    case 0:
        pj_scan_pickles(&ctx, data, size, "", 0);
        break;
    case 1:
        pj_scan_pickles(&ctx, data, size, "joblib", PJ_PICKLES_JOBLIB);
        break;
    default:
        (void)pj_scan_one_pickle(&ctx, data, size, 0, "one", PJ_PICKLES_EXPECT_ONE, &end);
        PJ_FUZZ_ASSERT(end <= size, "pj_scan_one_pickle end inside input");
        break;
    }
    pj_fuzz_check_report(r, size);
    pj_report_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pj_options o;
    pj_fuzz_options(&o);
    (void)pj_pickle_start_plausible(data, size);
    for (int mode = 0; mode < 3; mode++)
        run(data, size, &o.limits, mode);
    return 0;
}
