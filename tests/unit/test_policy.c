/* Unit tests for policy/: the rule-file parser, classification of globals
 * and calls, findings, verdicts and exit codes.  Reports are built by hand
 * through loader/report.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "picklejail.h"
#include "policy_internal.h"
#include "report.h"

#define OP_GLOBAL 0x63
#define OP_STACK_GLOBAL 0x93
#define OP_REDUCE 0x52
#define OP_BUILD 0x62

static pj_report *new_report(void)
{
    pj_report *r = pj_report_new(1u << 22, 1000);
    assert_non_null(r);
    assert_int_equal(pj_report_add_stream(r, "", 0), 0);
    return r;
}

static int32_t add_global_raw(pj_report *r, const char *rm, const char *rn, const char *m,
                              const char *n, bool called, pj_global_origin origin, uint64_t off)
{
    pj_global g;
    memset(&g, 0, sizeof g);
    g.module = pj_report_strdup(r, m);
    g.name = pj_report_strdup(r, n);
    g.resolved_module = pj_report_strdup(r, rm);
    g.resolved_name = pj_report_strdup(r, rn);
    g.stream = 0;
    g.offset = off;
    g.opcode = OP_GLOBAL;
    g.origin = origin;
    g.called = called;
    int32_t i = pj_report_add_global(r, &g);
    assert_true(i >= 0);
    return i;
}

static int32_t add_global(pj_report *r, const char *m, const char *n, bool called)
{
    return add_global_raw(r, m, n, m, n, called, PJ_ORIGIN_GLOBAL, 10 + r->n_globals);
}

static int32_t add_call(pj_report *r, const char *callee, const char *args, int32_t cg,
                        uint8_t opcode, int32_t a0, int32_t a1, uint64_t off)
{
    pj_call c;
    memset(&c, 0, sizeof c);
    c.callee = pj_report_strdup(r, callee);
    c.args = pj_report_strdup(r, args);
    c.stream = 0;
    c.offset = off;
    c.opcode = opcode;
    c.callee_global = cg;
    c.arg_globals[0] = a0;
    c.arg_globals[1] = a1;
    c.arg_globals[2] = -1;
    c.arg_globals[3] = -1;
    int32_t i = pj_report_add_call(r, &c);
    assert_true(i >= 0);
    return i;
}

static size_t count_code(const pj_report *r, pj_code code)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_findings; i++)
        n += r->findings[i].code == code;
    return n;
}

static const pj_finding *find_code(const pj_report *r, pj_code code)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].code == code)
            return &r->findings[i];
    return NULL;
}

/* classify one global with a fresh policy (plus optional user text) */
static pj_global_class classify(const char *policy_text, const char *m, const char *n,
                                const char **rule_out)
{
    pj_policy *p = pj_policy_new();
    assert_non_null(p);
    char err[256];
    if (policy_text != NULL)
        assert_true(pj_policy_add_text(p, "t.policy", policy_text, strlen(policy_text), err,
                                       sizeof err));
    pj_report *r = new_report();
    add_global(r, m, n, true);
    pj_policy_apply(p, r);
    pj_global_class c = r->globals[0].policy;
    if (rule_out != NULL) {
        static char rule[256];
        snprintf(rule, sizeof rule, "%s", r->globals[0].policy_rule ? r->globals[0].policy_rule : "");
        *rule_out = rule;
    }
    pj_report_free(r);
    pj_policy_free(p);
    return c;
}

/* ---- parser ------------------------------------------------------------------ */

static void expect_parse_error(const char *text, const char *want)
{
    pj_policy *p = pj_policy_new();
    assert_non_null(p);
    char err[256] = "";
    bool ok = pj_policy_add_text(p, "my.policy", text, strlen(text), err, sizeof err);
    if (ok || strstr(err, want) == NULL)
        fail_msg("text %s: expected error containing '%s', got ok=%d err='%s'", text, want, ok,
                 err);
    pj_policy_free(p);
}

static void test_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("allow os.system\nfrobnicate x\n", "my.policy:2: unknown directive 'frobnicate'");
    expect_parse_error("\n\nallow os..system\n", "my.policy:3: bad name 'os..system'");
    expect_parse_error("allow\n", "my.policy:1: 'allow' needs a name");
    expect_parse_error("allow *.x\n", "my.policy:1: bad name '*.x': the first component");
    expect_parse_error("deny os.sys$tem\n", "my.policy:1: bad name");
    expect_parse_error("deny x \"unterminated\n", "my.policy:1: unterminated quoted text");
    expect_parse_error("deny x \"ok\" trailing\n", "my.policy:1: unexpected 'trailing'");
    expect_parse_error("allow a b\n", "my.policy:1: unknown condition 'b'");
    expect_parse_error("allow a max-int=12x\n", "my.policy:1: max-int needs a decimal number");
    expect_parse_error("# c\nprofile nosuch\n", "my.policy:2: unknown profile 'nosuch'");
    expect_parse_error("allow-module torch.*\n", "wildcards are not allowed here");
    expect_parse_error("deny-attr a.b\n", "expected a single name without dots");
    expect_parse_error("deny x \"bad \\q escape\"\n", "bad escape");
    expect_parse_error("allow a:b:c\n", "more than one ':'");
    char nul[] = "allow a\nallow b\0c\n";
    pj_policy *p = pj_policy_new();
    char err[256];
    assert_false(pj_policy_add_text(p, "n.policy", nul, sizeof nul - 1, err, sizeof err));
    assert_non_null(strstr(err, "n.policy:2: NUL byte"));
    pj_policy_free(p);
}

static void test_parse_ok_and_atomic(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    char err[256];
    const char *good = "\xEF\xBB\xBF# comment\n\n  allow mylib.models.Net   # trailing comment\r\n"
                       "deny mylib.evil.* \"no \\\"evil\\\" here\"\n"
                       "allow-module other\nallow-classes third\nallow x.y:Z\n"
                       "allow pkg.*Storage\nwrapper mylib.wrap\nreach mylib.get\n";
    assert_true(pj_policy_add_text(p, "g.policy", good, strlen(good), err, sizeof err));
    /* a failing text adds nothing: mylib.bad stays unknown */
    const char *bad = "allow mylib.bad\nnonsense\n";
    assert_false(pj_policy_add_text(p, "b.policy", bad, strlen(bad), err, sizeof err));
    pj_report *r = new_report();
    add_global(r, "mylib.models", "Net", true);
    add_global(r, "mylib.evil", "thing", true);
    add_global(r, "other.sub", "func", true);
    add_global(r, "third.sub", "Klass", true);
    add_global(r, "third.sub", "func", true);
    add_global(r, "x.y", "Z", true);
    add_global(r, "pkg", "FloatStorage", true);
    add_global(r, "mylib", "bad", true);
    pj_policy_apply(p, r);
    assert_int_equal(r->globals[0].policy, PJ_POLICY_SAFE);
    assert_string_equal(r->globals[0].policy_rule, "g.policy:3:allow mylib.models.Net");
    assert_int_equal(r->globals[1].policy, PJ_POLICY_DANGEROUS);
    assert_int_equal(r->globals[2].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->globals[3].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->globals[4].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->globals[5].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->globals[6].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->globals[7].policy, PJ_POLICY_UNKNOWN);
    const pj_finding *f = find_code(r, PJ_POLICY_DENY);
    assert_non_null(f);
    assert_non_null(strstr(f->message, "no \"evil\" here"));
    assert_int_equal(f->severity, PJ_SEV_DANGEROUS);
    pj_report_free(r);
    pj_policy_free(p);
}

static void test_policy_file(void **state)
{
    (void)state;
    char path[] = "/tmp/pj_policy_testXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "allow mylib.Net\nallow bad..name\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    pj_policy *p = pj_policy_new();
    char err[512];
    assert_false(pj_policy_add_file(p, path, err, sizeof err));
    char want[600];
    snprintf(want, sizeof want, "%s:2: bad name 'bad..name'", path);
    assert_non_null(strstr(err, want));
    unlink(path);
    assert_false(pj_policy_add_file(p, "/nonexistent/x.policy", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/x.policy: "));
    pj_policy_free(p);
}

/* ---- classification ------------------------------------------------------------- */

static void test_builtin_classes(void **state)
{
    (void)state;
    const char *rule = NULL;
    assert_int_equal(classify(NULL, "os", "system", &rule), PJ_POLICY_DANGEROUS);
    assert_string_equal(rule, "builtin:dangerous:os.*");
    assert_int_equal(classify(NULL, "posix", "system", NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "builtins", "eval", NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "builtins", "__import__", NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "subprocess", "Popen", NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "runpy", "_run_code", NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "pkgutil", "resolve_name", NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "uuid", "_get_command_stdout", NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "torch.serialization", "load", NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "numpy.testing._private.utils", "runstring", NULL),
                     PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "numpy.core", "_ufunc_reconstruct", NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "sklearn.datasets", "fetch_openml", NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "picklescan.scanner", "scan_file_path", NULL),
                     PJ_POLICY_DANGEROUS);
    /* exact built-in allows win over wildcard denies */
    assert_int_equal(classify(NULL, "uuid", "UUID", NULL), PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "torch.serialization", "_get_layout", &rule), PJ_POLICY_SAFE);
    assert_string_equal(rule, "builtin:torch:torch.serialization._get_layout");
    /* benign ecosystems */
    assert_int_equal(classify(NULL, "torch._utils", "_rebuild_tensor_v2", NULL), PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "torch", "FloatStorage", NULL), PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "torch.nn.modules.linear", "Linear", NULL), PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "collections", "OrderedDict", NULL), PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "numpy.core.multiarray", "_reconstruct", NULL), PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "numpy._core.multiarray", "_reconstruct", NULL), PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "sklearn.linear_model._logistic", "LogisticRegression", NULL),
                     PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "pandas.core.frame", "DataFrame", NULL), PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "joblib.numpy_pickle", "NumpyArrayWrapper", NULL),
                     PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "__torch__.torch.nn.modules.linear", "Linear", NULL),
                     PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "transformers.training_args", "TrainingArguments", NULL),
                     PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "transformers.trainer_utils", "IntervalStrategy", NULL),
                     PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "transformers.dynamic_module_utils",
                              "get_class_from_dynamic_module", NULL),
                     PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "transformers_modules.evil", "Model", NULL), PJ_POLICY_UNKNOWN);
    assert_int_equal(classify(NULL, "omegaconf.dictconfig", "DictConfig", NULL), PJ_POLICY_SAFE);
    assert_int_equal(classify(NULL, "typing", "get_type_hints", NULL), PJ_POLICY_UNKNOWN);
    /* sklearn: classes by package, functions only when listed */
    assert_int_equal(classify(NULL, "sklearn.utils.fixes", "some_function", NULL),
                     PJ_POLICY_UNKNOWN);
    assert_int_equal(classify(NULL, "mylib", "Thing", NULL), PJ_POLICY_UNKNOWN);
    /* not on a list: unknown, never safe */
    assert_int_equal(classify(NULL, "posixpath", "join", NULL), PJ_POLICY_UNKNOWN);
    assert_int_equal(classify(NULL, "__builtin__", "set", NULL), PJ_POLICY_UNKNOWN);
    /* names longer than the matcher's buffer: danger still seen, never allowed */
    char longname[1500];
    memset(longname, 'A', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(classify(NULL, "sklearn.base", longname, NULL), PJ_POLICY_UNKNOWN);
    assert_int_equal(classify(NULL, "os", longname, NULL), PJ_POLICY_DANGEROUS);
    assert_int_equal(classify(NULL, "torch", longname, NULL), PJ_POLICY_UNKNOWN);
}

static void test_attribute_walks(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    pj_report *r = new_report();
    add_global(r, "pathlib", "os.system", true);              /* 0 */
    add_global(r, "torch.serialization", "os.system", true);  /* 1 */
    add_global(r, "sklearn.base", "np.load", true);           /* 2: alias walk */
    add_global(r, "sklearn.base", "BaseEstimator.__reduce__", true); /* 3 */
    add_global(r, "numpy", "size.__globals__", true);         /* 4 */
    add_global(r, "collections", "OrderedDict.fromkeys", true); /* 5 */
    add_global(r, "mylib", "os", false);                      /* 6: plain name, not a walk */
    add_global(r, "mylib", "system", true);                   /* 7 */
    add_global(r, "mylib", "Outer.os", true);                 /* 8: walk ends at os */
    pj_policy_apply(p, r);
    assert_int_equal(r->globals[0].policy, PJ_POLICY_DANGEROUS);
    assert_int_equal(r->globals[1].policy, PJ_POLICY_DANGEROUS);
    assert_int_equal(r->globals[2].policy, PJ_POLICY_UNKNOWN); /* prefix allows skip walks */
    assert_int_equal(r->globals[3].policy, PJ_POLICY_DANGEROUS);
    assert_int_equal(r->globals[4].policy, PJ_POLICY_DANGEROUS);
    assert_int_equal(r->globals[5].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->globals[6].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->globals[7].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->globals[8].policy, PJ_POLICY_DANGEROUS);
    const pj_finding *f = find_code(r, PJ_GLOBAL_DANGEROUS);
    assert_non_null(f);
    assert_non_null(strstr(f->message, "pathlib.os.system reaches os.system"));
    assert_int_equal(r->verdict, PJ_VERDICT_DANGEROUS);
    pj_report_free(r);
    pj_policy_free(p);
}

static void test_compat_names(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    pj_report *r = new_report();
    /* protocol < 3: mapped by the VM; the written name is checked for danger too */
    add_global_raw(r, "builtins", "set", "__builtin__", "set", true, PJ_ORIGIN_GLOBAL, 2);
    add_global_raw(r, "builtins", "eval", "__builtin__", "eval", true, PJ_ORIGIN_GLOBAL, 20);
    /* protocol >= 3: unmapped, still dangerous by its written name */
    add_global_raw(r, "__builtin__", "eval", "__builtin__", "eval", true, PJ_ORIGIN_GLOBAL, 40);
    pj_policy_apply(p, r);
    assert_int_equal(r->globals[0].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->globals[1].policy, PJ_POLICY_DANGEROUS);
    assert_int_equal(r->globals[2].policy, PJ_POLICY_DANGEROUS);
    pj_report_free(r);
    pj_policy_free(p);
}

static void test_user_rules_precedence(void **state)
{
    (void)state;
    /* user allow cannot override a built-in deny */
    assert_int_equal(classify("allow os.system\n", "os", "system", NULL), PJ_POLICY_DANGEROUS);
    /* user allow covers an unknown */
    assert_int_equal(classify("allow mylib.Thing\n", "mylib", "Thing", NULL), PJ_POLICY_SAFE);
    /* user deny beats built-in allows */
    const char *rule = NULL;
    assert_int_equal(classify("deny collections.OrderedDict\n", "collections", "OrderedDict", &rule),
                     PJ_POLICY_DANGEROUS);
    assert_string_equal(rule, "t.policy:1:deny collections.OrderedDict");
    assert_int_equal(classify("deny-module torch\n", "torch._utils", "_rebuild_tensor_v2", NULL),
                     PJ_POLICY_DANGEROUS);
}

static void test_profiles(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    char err[256];
    assert_true(pj_policy_add_profile(p, "torch", err, sizeof err));
    pj_report *r = new_report();
    add_global(r, "torch._utils", "_rebuild_tensor_v2", true);
    add_global(r, "collections", "OrderedDict", true);
    add_global(r, "sklearn.linear_model._logistic", "LogisticRegression", true);
    add_global(r, "numpy", "ndarray", true); /* torch pulls in numpy */
    add_global(r, "os", "system", true);
    pj_policy_apply(p, r);
    assert_int_equal(r->globals[0].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->globals[1].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->globals[2].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->globals[3].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->globals[4].policy, PJ_POLICY_DANGEROUS);
    pj_report_free(r);
    /* a second profile extends the first */
    assert_true(pj_policy_add_profile(p, "sklearn", err, sizeof err));
    r = new_report();
    add_global(r, "sklearn.linear_model._logistic", "LogisticRegression", true);
    pj_policy_apply(p, r);
    assert_int_equal(r->globals[0].policy, PJ_POLICY_SAFE);
    pj_report_free(r);
    assert_false(pj_policy_add_profile(p, "nosuch", err, sizeof err));
    assert_non_null(strstr(err, "unknown profile 'nosuch'"));
    assert_non_null(strstr(err, "torch"));
    pj_policy_free(p);
    /* the profile directive in a policy file does the same */
    assert_int_equal(classify("profile sklearn\n", "torch._utils", "_rebuild_tensor_v2", NULL),
                     PJ_POLICY_UNKNOWN);
    /* profile names */
    bool saw_torch = false;
    for (size_t i = 0; i < pj_policy_profile_count(); i++)
        saw_torch |= strcmp(pj_policy_profile_name(i), "torch") == 0;
    assert_true(saw_torch);
    assert_null(pj_policy_profile_name(pj_policy_profile_count()));
}

/* ---- findings, calls, verdict ------------------------------------------------------ */

static void test_unknown_called_and_not_called(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    pj_report *r = new_report();
    add_global(r, "mylib", "Thing", true);
    add_global(r, "otherlib", "helper", false);
    add_global(r, "mylib", "Thing", true); /* duplicate: one finding */
    pj_policy_apply(p, r);
    assert_int_equal(count_code(r, PJ_GLOBAL_UNKNOWN), 1);
    assert_int_equal(count_code(r, PJ_GLOBAL_NOT_CALLED), 1);
    const pj_finding *f = find_code(r, PJ_GLOBAL_NOT_CALLED);
    assert_non_null(strstr(f->message, "otherlib.helper"));
    assert_int_equal(f->offset, 11);
    assert_int_equal(r->verdict, PJ_VERDICT_SUSPICIOUS);
    pj_report_free(r);
    pj_policy_free(p);
}

static void test_calls(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    pj_report *r = new_report();
    int32_t sys = add_global(r, "os", "system", true);                    /* 0 */
    int32_t rec = add_global(r, "copyreg", "_reconstructor", true);       /* 1 */
    int32_t lr = add_global(r, "sklearn.linear_model._logistic", "LogisticRegression", false);
    int32_t obj = add_global(r, "builtins", "object", false);              /* 3 */
    int32_t part = add_global(r, "functools", "partial", true);           /* 4 */
    int32_t unk = add_global(r, "mylib", "Thing", false);                  /* 5 */
    add_call(r, "os.system", "('touch x',)", sys, OP_REDUCE, -1, -1, 100);           /* 0 */
    add_call(r, "copyreg._reconstructor", "(sklearn.linear_model._logistic.LogisticRegression, builtins.object, None)",
             rec, OP_REDUCE, lr, obj, 110);                                          /* 1 */
    add_call(r, "functools.partial", "(os.system, 'id')", part, OP_REDUCE, sys, -1, 120); /* 2 */
    add_call(r, "functools.partial", "(mylib.Thing,)", part, OP_REDUCE, unk, -1, 130);   /* 3 */
    add_call(r, "functools.partial", "(<call>,)", part, OP_REDUCE, -1, -1, 140);         /* 4 */
    add_call(r, "collections.OrderedDict()", "()", -1, OP_REDUCE, -1, -1, 150);          /* 5 */
    pj_policy_apply(p, r);
    assert_int_equal(r->calls[0].policy, PJ_POLICY_DANGEROUS);
    assert_int_equal(r->calls[1].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->calls[2].policy, PJ_POLICY_DANGEROUS);
    assert_int_equal(r->calls[3].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->calls[4].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->calls[5].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->globals[rec].policy, PJ_POLICY_SAFE);
    assert_int_equal(count_code(r, PJ_CALL_DANGEROUS), 2);
    const pj_finding *f = find_code(r, PJ_CALL_DANGEROUS);
    assert_string_equal(f->message, "call os.system('touch x',) runs a process-execution and file-system primitive");
    assert_int_equal(f->offset, 100);
    assert_int_equal(count_code(r, PJ_CALL_UNKNOWN), 3);
    assert_int_equal(r->verdict, PJ_VERDICT_DANGEROUS);
    pj_report_free(r);
    pj_policy_free(p);
}

static void test_getattr_reach(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    pj_report *r = new_report();
    int32_t ga = add_global(r, "builtins", "getattr", true);
    int32_t t = add_global(r, "torch", "Tensor", false);
    add_global_raw(r, "torch", "Tensor.float", "torch", "Tensor.float", false, PJ_ORIGIN_DERIVED,
                   200);
    int32_t m = add_global(r, "mylib", "Thing", false);
    add_global_raw(r, "mylib", "Thing.evil", "mylib", "Thing.evil", false, PJ_ORIGIN_DERIVED, 210);
    add_global_raw(r, "os", "", "os", "", false, PJ_ORIGIN_DERIVED, 220);
    add_call(r, "builtins.getattr", "(torch.Tensor, 'float')", ga, OP_REDUCE, t, -1, 200);
    add_call(r, "builtins.getattr", "(mylib.Thing, 'evil')", ga, OP_REDUCE, m, -1, 210);
    add_call(r, "builtins.getattr", "(os, 'system')", ga, OP_REDUCE, -1, -1, 220);
    pj_policy_apply(p, r);
    assert_int_equal(r->globals[ga].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->calls[0].policy, PJ_POLICY_UNKNOWN); /* Tensor.float is a walk: exact allow only */
    assert_int_equal(r->calls[1].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->calls[2].policy, PJ_POLICY_DANGEROUS);
    assert_int_equal(r->globals[5].policy, PJ_POLICY_DANGEROUS);
    pj_report_free(r);
    /* with an exact allow for the reached attribute the call is safe */
    char err[128];
    assert_true(pj_policy_add_text(p, "x", "allow torch.Tensor.float\n", 24, err, sizeof err));
    r = new_report();
    ga = add_global(r, "builtins", "getattr", true);
    t = add_global(r, "torch", "Tensor", false);
    add_global_raw(r, "torch", "Tensor.float", "torch", "Tensor.float", false, PJ_ORIGIN_DERIVED, 200);
    add_call(r, "builtins.getattr", "(torch.Tensor, 'float')", ga, OP_REDUCE, t, -1, 200);
    pj_policy_apply(p, r);
    assert_int_equal(r->calls[0].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->verdict, PJ_VERDICT_SAFE);
    pj_report_free(r);
    pj_policy_free(p);
}

static void test_build(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    pj_report *r = new_report();
    int32_t lr = add_global(r, "sklearn.linear_model._logistic", "LogisticRegression", true);
    int32_t rec = add_global(r, "copyreg", "_reconstructor", true);
    int32_t obj = add_global(r, "builtins", "object", false);
    int32_t unk = add_global(r, "mylib", "Thing", true);
    int32_t size = add_global(r, "numpy", "size", true);
    (void)obj;
    add_call(r, "sklearn.linear_model._logistic.LogisticRegression", "()", lr, OP_REDUCE, -1, -1, 300);
    add_call(r, "sklearn.linear_model._logistic.LogisticRegression()", "({'C': 1.0},)", -1, OP_BUILD, -1, -1, 310);
    add_call(r, "copyreg._reconstructor(sklearn.linear_model._logistic.LogisticRegression, builtins.object, None)",
             "({'C': 1.0},)", -1, OP_BUILD, -1, -1, 320);
    add_call(r, "mylib.Thing()", "({'x': 1},)", -1, OP_BUILD, -1, -1, 330);
    add_call(r, "{}", "({'x': 1},)", -1, OP_BUILD, -1, -1, 340);
    add_call(r, "numpy.size", "(({}, {'shape': builtins.__builtins__}),)", size, OP_BUILD, -1, -1, 350);
    (void)rec;
    (void)unk;
    pj_policy_apply(p, r);
    assert_int_equal(r->calls[1].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->calls[2].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->calls[3].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->calls[4].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->calls[5].policy, PJ_POLICY_DANGEROUS);
    assert_int_equal(count_code(r, PJ_BUILD_UNKNOWN), 3);
    bool dangerous_build = false;
    for (size_t i = 0; i < r->n_findings; i++)
        dangerous_build |= r->findings[i].code == PJ_BUILD_UNKNOWN &&
                           r->findings[i].severity == PJ_SEV_DANGEROUS;
    assert_true(dangerous_build);
    assert_int_equal(r->verdict, PJ_VERDICT_DANGEROUS);
    pj_report_free(r);
    pj_policy_free(p);
}

static void test_max_int(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    pj_report *r = new_report();
    int32_t ba = add_global(r, "builtins", "bytearray", true);
    add_call(r, "builtins.bytearray", "(b'abc',)", ba, OP_REDUCE, -1, -1, 400);
    add_call(r, "builtins.bytearray", "('4398046511104', 'latin1')", ba, OP_REDUCE, -1, -1, 410);
    add_call(r, "builtins.bytearray", "(4398046511104,)", ba, OP_REDUCE, -1, -1, 420);
    add_call(r, "builtins.bytearray", "(<int of 9 bytes>,)", ba, OP_REDUCE, -1, -1, 430);
    add_call(r, "builtins.bytearray", "(1.5e300,)", ba, OP_REDUCE, -1, -1, 440);
    pj_policy_apply(p, r);
    assert_int_equal(r->calls[0].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->calls[1].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->calls[2].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->calls[3].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->calls[4].policy, PJ_POLICY_SAFE);
    assert_non_null(strstr(find_code(r, PJ_CALL_UNKNOWN)->message, "memory bomb"));
    assert_int_equal(r->verdict, PJ_VERDICT_SUSPICIOUS);
    pj_report_free(r);
    pj_policy_free(p);
}

static void test_ext_and_verdicts(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    pj_report *r = new_report();
    add_global_raw(r, "copyreg", "extension:1234", "copyreg", "extension:1234", true, PJ_ORIGIN_EXT, 5);
    pj_policy_apply(p, r);
    assert_int_equal(r->globals[0].policy, PJ_POLICY_UNKNOWN);
    pj_report_free(r);

    /* LOAD findings never change the verdict; INFO is safe */
    r = new_report();
    pj_report_add_finding(r, PJ_STACK_NOT_EMPTY, PJ_SEV_INFO, 0, 1, "x");
    pj_report_add_finding(r, (pj_code)500, PJ_SEV_SUSPICIOUS, 0, 1, "load");
    r->findings[r->n_findings - 1].cls = PJ_CLASS_LOAD;
    pj_policy_apply(p, r);
    assert_int_equal(r->verdict, PJ_VERDICT_SAFE);
    /* other subsystems' findings count */
    pj_report_finding(r, PJ_ZIP_DUPLICATE_NAME, -1, 0, "dup");
    pj_policy_apply(p, r);
    assert_int_equal(r->verdict, PJ_VERDICT_DANGEROUS);
    pj_report_free(r);

    r = new_report();
    r->scanned = false;
    pj_policy_apply(p, r);
    assert_int_equal(r->verdict, PJ_VERDICT_ERROR);
    pj_report_free(r);
    pj_policy_free(p);

    assert_int_equal(pj_exit_code(PJ_VERDICT_SAFE, PJ_SEV_SUSPICIOUS), 0);
    assert_int_equal(pj_exit_code(PJ_VERDICT_SUSPICIOUS, PJ_SEV_SUSPICIOUS), 1);
    assert_int_equal(pj_exit_code(PJ_VERDICT_SUSPICIOUS, PJ_SEV_DANGEROUS), 0);
    assert_int_equal(pj_exit_code(PJ_VERDICT_DANGEROUS, PJ_SEV_DANGEROUS), 1);
    assert_int_equal(pj_exit_code(PJ_VERDICT_ERROR, PJ_SEV_DANGEROUS), 2);
    assert_int_equal(pj_exit_code(PJ_VERDICT_SUSPICIOUS, PJ_SEV_INFO), 1);
    pj_severity s;
    assert_true(pj_severity_parse("dangerous", &s));
    assert_int_equal(s, PJ_SEV_DANGEROUS);
    assert_false(pj_severity_parse("high", &s));
}

static void test_rollback(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    pj_policy_mark m = pj_policy_get_mark(p);
    char err[128];
    assert_true(pj_policy_add_text(p, "r", "allow mylib.X\nprofile torch\n", 27, err, sizeof err));
    pj_report *r = new_report();
    add_global(r, "mylib", "X", true);
    add_global(r, "sklearn.svm._classes", "SVC", true);
    pj_policy_apply(p, r);
    assert_int_equal(r->globals[0].policy, PJ_POLICY_SAFE);
    assert_int_equal(r->globals[1].policy, PJ_POLICY_UNKNOWN);
    pj_report_free(r);
    assert_true(pj_policy_rollback(p, m));
    r = new_report();
    add_global(r, "mylib", "X", true);
    add_global(r, "sklearn.svm._classes", "SVC", true);
    pj_policy_apply(p, r);
    assert_int_equal(r->globals[0].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->globals[1].policy, PJ_POLICY_SAFE);
    pj_report_free(r);
    pj_policy_free(p);
}

/* Hostile sizes stay fast: a glob with many stars against a long component,
 * and a name with 100000 dotted components (would be exponential/quadratic). */
static void test_pathological_inputs(void **state)
{
    (void)state;
    pj_policy *p = pj_policy_new();
    char err[128];
    const char *pol = "deny x.a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n";
    assert_true(pj_policy_add_text(p, "h", pol, strlen(pol), err, sizeof err));
    pj_report *r = new_report();
    char name[400];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    add_global(r, "x", name, true);
    size_t n = 200000;
    char *walk = malloc(n + 16);
    assert_non_null(walk);
    for (size_t i = 0; i < n; i += 2) {
        walk[i] = 'a';
        walk[i + 1] = '.';
    }
    memcpy(walk + n, "os.system", 10);
    add_global(r, "pathlib", walk, true);
    pj_policy_apply(p, r);
    assert_int_equal(r->globals[0].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(r->globals[1].policy, PJ_POLICY_DANGEROUS); /* deny-attr sees the tail */
    free(walk);
    pj_report_free(r);
    pj_policy_free(p);
}

static void test_builtin_files_all_parse(void **state)
{
    (void)state;
    /* pj_policy_new parses every compiled-in file; a syntax error there
     * makes it return NULL */
    for (int i = 0; i < 3; i++) {
        pj_policy *p = pj_policy_new();
        assert_non_null(p);
        pj_policy_free(p);
    }
    pj_policy_apply(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_files_all_parse),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_ok_and_atomic),
        cmocka_unit_test(test_policy_file),
        cmocka_unit_test(test_builtin_classes),
        cmocka_unit_test(test_attribute_walks),
        cmocka_unit_test(test_compat_names),
        cmocka_unit_test(test_user_rules_precedence),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_unknown_called_and_not_called),
        cmocka_unit_test(test_calls),
        cmocka_unit_test(test_getattr_reach),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_max_int),
        cmocka_unit_test(test_ext_and_verdicts),
        cmocka_unit_test(test_rollback),
        cmocka_unit_test(test_pathological_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
