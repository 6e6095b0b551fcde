/* libFuzzer harness: the policy file parser (policy/rules_parse.c) and the
 * classifier behind it.  The input is policy text; on success the lines of
 * the same input are also used as global names ("module name" pairs) and
 * classified, so matching code sees hostile patterns and hostile names. */
#include "fuzz.h"
#include "policy_internal.h"
#include "report.h"

#include <string.h>

static void classify_lines(const pj_policy *p, const uint8_t *data, size_t size)
{
    pj_report *r = pj_report_new(8u << 20, 256);
    if (r == NULL)
        return;
    if (pj_report_add_stream(r, "", 0) < 0) {
        pj_report_free(r);
        return;
    }
    size_t i = 0;
    for (int n = 0; n < 16 && i < size; n++) {
        size_t j = i;
        while (j < size && data[j] != '\n')
            j++;
        /* "module name" -> a global; anything else -> both parts the same */
        size_t sp = i;
        while (sp < j && data[sp] != ' ')
            sp++;
        const char *m = pj_report_escape(r, data + i, sp - i, true);
        const char *nm = sp < j ? pj_report_escape(r, data + sp + 1, j - sp - 1, true) : "";
        if (m == NULL || nm == NULL)
            break;
        pj_global g;
        memset(&g, 0, sizeof g);
        g.module = g.resolved_module = m;
        g.name = g.resolved_name = nm;
        g.origin = (pj_global_origin)(n % 5);
        g.called = n & 1;
        int32_t gi = pj_report_add_global(r, &g);
        if (gi < 0)
            break;
        pj_call c;
        memset(&c, 0, sizeof c);
        c.callee = (n % 3 == 0) ? m : nm;
        c.args = nm;
        c.opcode = (n % 4 == 0) ? 0x62 : 0x52;
        c.callee_global = (n % 3 == 2) ? -1 : gi;
        for (int k = 0; k < 4; k++)
            c.arg_globals[k] = k < n ? (int32_t)(k * 7 % (gi + 1)) : -1;
        if (pj_report_add_call(r, &c) < 0)
            break;
        i = j + 1;
    }
    pj_policy_apply(p, r);
    pj_fuzz_check_report(r, size);
    for (size_t k = 0; k < r->n_globals; k++)
        PJ_FUZZ_ASSERT(r->globals[k].policy != PJ_POLICY_UNCLASSIFIED, "global left unclassified");
    pj_report_free(r);
}

/* Parsing the built-in rule files costs more than one input: parse them once
 * and roll back what each input added. */
static pj_policy *base;
static pj_policy_mark base_mark;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    if (base == NULL) {
        base = pj_policy_new();
        PJ_FUZZ_ASSERT(base != NULL, "built-in policy loads");
        base_mark = pj_policy_get_mark(base);
    }
    pj_policy *p = base;
    char err[512];
    memset(err, 'X', sizeof err);
    bool ok = pj_policy_add_text(p, "fuzz.policy", (const char *)data, size, err, sizeof err);
    PJ_FUZZ_ASSERT(memchr(err, '\0', sizeof err) != NULL, "error text terminated");
    if (!ok)
        PJ_FUZZ_ASSERT(strncmp(err, "fuzz.policy:", 12) == 0, "error names file:line");
    classify_lines(p, data, size);
    PJ_FUZZ_ASSERT(pj_policy_rollback(p, base_mark), "policy rollback");
    return 0;
}
