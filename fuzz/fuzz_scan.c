/* libFuzzer harness: the whole in-process scan of a buffer (format detection,
 * every container reader, the VM), then the policy and the load-failure
 * diagnosis over the report, as the CLI runs them with --no-sandbox. */
#include "fuzz.h"

static pj_policy *policy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    policy = pj_policy_new();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (policy == NULL)
        LLVMFuzzerInitialize(NULL, NULL);
    pj_options o;
    pj_fuzz_options(&o);
    pj_report *r = pj_scan_buffer(data, size, &o);
    if (r == NULL)
        return 0;
    pj_fuzz_check_report(r, 0);
    if (policy != NULL)
        pj_policy_apply(policy, r);
    static const pj_diag_env env = {.python_version = "3.11"};
    pj_diagnose_apply(&env, r);
    pj_fuzz_check_report(r, 0);
    pj_report_free(r);
    return 0;
}
