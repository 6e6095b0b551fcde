/* Unit tests for load-failure diagnosis (diagnose/): reports are built by hand
 * through loader/report.h; the target environment is tests/diag-env (the
 * suite runs from the repository root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "diag.h"
#include "picklejail.h"
#include "report.h"

static const char *const SITE[] = {"tests/diag-env/site-packages", "tests/diag-env/site-packages-2"};
static const pj_diag_env ENV311 = {"3.11", SITE, 2};
static const pj_diag_env NO_ENV = {NULL, NULL, 0};

static pj_report *mk(const char *format)
{
    pj_report *r = pj_report_new(1u << 22, 4096);
    assert_non_null(r);
    r->format = format;
    return r;
}

static int32_t add_stream(pj_report *r, int proto)
{
    int32_t s = pj_report_add_stream(r, "", 0);
    assert_true(s >= 0);
    r->streams[s].protocol = proto;
    r->streams[s].complete = true;
    r->streams[s].length = 100;
    return s;
}

static void add_global_mapped(pj_report *r, int32_t s, const char *mod, const char *name,
                              const char *rmod, const char *rname, uint64_t off)
{
    pj_global g;
    memset(&g, 0, sizeof g);
    g.module = mod;
    g.name = name;
    g.resolved_module = rmod;
    g.resolved_name = rname;
    g.stream = s;
    g.offset = off;
    g.opcode = 'c';
    g.origin = PJ_ORIGIN_GLOBAL;
    assert_true(pj_report_add_global(r, &g) >= 0);
}

static void add_global(pj_report *r, int32_t s, const char *mod, const char *name, uint64_t off)
{
    add_global_mapped(r, s, mod, name, mod, name, off);
}

/* The first finding with this code, or NULL. */
static const pj_finding *find(const pj_report *r, pj_code code)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].code == code)
            return &r->findings[i];
    return NULL;
}

/* The finding with this code whose message contains needle (fails if none). */
static const pj_finding *find_msg(const pj_report *r, pj_code code, const char *needle)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].code == code && strstr(r->findings[i].message, needle) != NULL)
            return &r->findings[i];
    fail_msg("no %s finding containing \"%s\"", pj_code_id(code), needle);
    return NULL;
}

static size_t count(const pj_report *r, pj_code code)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_findings; i++)
        n += r->findings[i].code == code;
    return n;
}

static void assert_msg(const pj_finding *f, const char *needle)
{
    assert_non_null(f);
    if (strstr(f->message, needle) == NULL)
        fail_msg("message lacks \"%s\": %s", needle, f->message);
}

/* Every diagnosis finding is LOAD class and at most SUSPICIOUS. */
static void assert_load_only(const pj_report *r)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        const pj_finding *f = &r->findings[i];
        if (f->code < 500 || f->code > 599)
            continue;
        assert_int_equal(f->cls, PJ_CLASS_LOAD);
        assert_true(f->severity <= PJ_SEV_SUSPICIOUS);
        assert_true(strncmp(f->message, "will fail: ", 11) == 0 ||
                    strncmp(f->message, "may fail: ", 10) == 0 ||
                    strncmp(f->message, "warning: ", 9) == 0 || strncmp(f->message, "note: ", 6) == 0);
        assert_non_null(strstr(f->message, " | why: "));
        assert_non_null(strstr(f->message, " | fix: "));
    }
}

static void test_versions(void **state)
{
    (void)state;
    assert_true(pj_diag_vercmp("1.26.4", "2.0") < 0);
    assert_true(pj_diag_vercmp("2.6.0+cpu", "2.6") == 0);
    assert_true(pj_diag_vercmp("0.24.2", "0.24") > 0);
    assert_true(pj_diag_vercmp("1.10", "1.9") > 0);
    assert_true(pj_diag_vercmp("1.3.0rc1", "1.3") == 0);
    assert_int_equal(pj_diag_py_minor("3.11"), 11);
    assert_int_equal(pj_diag_py_minor("3.8.10"), 8);
    assert_int_equal(pj_diag_py_minor("2.7"), -1);
    assert_int_equal(pj_diag_py_minor("3.x"), -1);
    assert_int_equal(pj_diag_py_minor(NULL), -1);
}

static void test_tables(void **state)
{
    (void)state;
    diag_row row;
    assert_true(pj_diag_stdlib_has("os", 11, NULL, NULL, &row));
    assert_true(pj_diag_stdlib_has("tomllib", 11, NULL, NULL, &row));
    assert_false(pj_diag_stdlib_has("tomllib", 10, NULL, NULL, &row));
    assert_false(pj_diag_stdlib_has("imp", 12, NULL, NULL, &row));
    assert_true(pj_diag_stdlib_has("imp", 11, NULL, NULL, &row));
    assert_false(pj_diag_stdlib_has("telnetlib", 13, NULL, NULL, &row));
    assert_true(pj_diag_stdlib_has("parser", 9, NULL, NULL, &row));
    assert_false(pj_diag_stdlib_has("parser", 10, NULL, NULL, &row));
    assert_false(pj_diag_stdlib_has("numpy", -1, NULL, NULL, &row));
    assert_string_equal(pj_diag_compat_import("copy_reg", &row), "copyreg");
    assert_string_equal(pj_diag_compat_import("__builtin__", &row), "builtins");
    assert_true(pj_diag_compat_name("itertools", "izip", &row));
    assert_string_equal(row.col[3], "zip");
    assert_non_null(pj_diag_py2_only("sets"));
    assert_null(pj_diag_py2_only("os"));
    assert_true(pj_diag_versioned_module("sklearn.ensemble.forest", &row));
    assert_string_equal(row.col[3], "0.24");
    assert_true(pj_diag_versioned_module("numpy._core.multiarray", &row));
    assert_string_equal(row.col[0], "numpy._core");
    assert_false(pj_diag_versioned_module("numpy._corex", &row));
    assert_true(pj_diag_torch_allowed("torch._utils", "_rebuild_tensor_v2"));
    assert_true(pj_diag_torch_allowed("torch", "FloatStorage"));
    assert_true(pj_diag_torch_allowed("collections", "OrderedDict"));
    assert_false(pj_diag_torch_allowed("__main__", "MyModel"));
    assert_false(pj_diag_torch_allowed("torch.nn.modules.linear", "Linear"));
    assert_true(pj_diag_torch_blocked("os"));
    assert_false(pj_diag_torch_blocked("os.path")); /* exact module names */
    assert_true(pj_diag_torch_allowed("torch.storage", "UntypedStorage"));
    assert_false(pj_diag_torch_blocked("ossaudiodev"));
}

static void test_fs_resolve(void **state)
{
    (void)state;
    diag_target t = {&ENV311, 11, true};
    diag_mod_status st;
    pj_diag_fs_resolve(&t, "numpy.core.multiarray", &st);
    assert_int_equal(st.state, DIAG_MOD_FOUND);
    pj_diag_fs_resolve(&t, "numpy.core._multiarray_umath", &st); /* extension module */
    assert_int_equal(st.state, DIAG_MOD_FOUND);
    pj_diag_fs_resolve(&t, "numpy._core.multiarray", &st);
    assert_int_equal(st.state, DIAG_MOD_MISSING);
    assert_string_equal(st.missing, "numpy._core");
    pj_diag_fs_resolve(&t, "plainmod.sub", &st);
    assert_int_equal(st.state, DIAG_MOD_NOT_PACKAGE);
    assert_string_equal(st.parent, "plainmod");
    assert_string_equal(st.missing, "plainmod.sub");
    pj_diag_fs_resolve(&t, "nspkg.plugin", &st); /* namespace portion 1 */
    assert_int_equal(st.state, DIAG_MOD_FOUND);
    pj_diag_fs_resolve(&t, "nspkg.other", &st); /* namespace portion 2 */
    assert_int_equal(st.state, DIAG_MOD_FOUND);
    pj_diag_fs_resolve(&t, "nspkg.nothere", &st);
    assert_int_equal(st.state, DIAG_MOD_MISSING);
    assert_string_equal(st.missing, "nspkg.nothere");
    pj_diag_fs_resolve(&t, "abimod", &st);
    assert_int_equal(st.state, DIAG_MOD_FOUND);
    pj_diag_fs_resolve(&t, "fastext", &st); /* built for 3.10 only */
    assert_int_equal(st.state, DIAG_MOD_MISSING);
    assert_non_null(strstr(st.where, "cpython-310"));
    diag_target t310 = {&ENV311, 10, true};
    pj_diag_fs_resolve(&t310, "fastext", &st);
    assert_int_equal(st.state, DIAG_MOD_FOUND);
    pj_diag_fs_resolve(&t, "sklearn.tree._tree", &st);
    assert_int_equal(st.state, DIAG_MOD_FOUND);
    pj_diag_fs_resolve(&t, "models.yolo", &st);
    assert_int_equal(st.state, DIAG_MOD_MISSING);
    assert_string_equal(st.missing, "models");
    diag_target none = {&NO_ENV, -1, false};
    pj_diag_fs_resolve(&none, "numpy", &st);
    assert_int_equal(st.state, DIAG_MOD_UNKNOWN);

    char name[128], ver[64];
    assert_true(pj_diag_fs_dist(&t, "sklearn", name, sizeof name, ver, sizeof ver));
    assert_string_equal(name, "scikit-learn");
    assert_string_equal(ver, "1.5.0");
    assert_true(pj_diag_fs_dist(&t, "torchgen", name, sizeof name, ver, sizeof ver)); /* top_level.txt */
    assert_string_equal(name, "torch");
    assert_true(pj_diag_fs_dist_version(&t, "Scikit_Learn", ver, sizeof ver));
    assert_string_equal(ver, "1.5.0");
    assert_false(pj_diag_fs_dist(&t, "models", name, sizeof name, ver, sizeof ver));
}

static void test_py2_module_proto3(void **state)
{
    (void)state;
    pj_report *r = mk("pickle");
    int32_t s = add_stream(r, 3);
    add_global(r, s, "__builtin__", "set", 2);
    pj_diagnose_apply(&NO_ENV, r);
    const pj_finding *f = find(r, PJ_LOAD_PY2_MODULE);
    assert_msg(f, "will fail: ModuleNotFoundError: No module named '__builtin__'");
    assert_msg(f, "builtins");
    assert_int_equal(f->offset, 2);
    assert_int_equal(f->stream, s);
    assert_int_equal(f->severity, PJ_SEV_SUSPICIOUS);
    assert_load_only(r);
    pj_report_free(r);

    /* Protocol 2: the VM mapped it; nothing to say. */
    r = mk("pickle");
    s = add_stream(r, 2);
    add_global_mapped(r, s, "__builtin__", "set", "builtins", "set", 2);
    pj_diagnose_apply(&ENV311, r);
    assert_null(find(r, PJ_LOAD_PY2_MODULE));
    assert_null(find(r, PJ_LOAD_MODULE_MISSING));
    pj_report_free(r);

    /* A Python 2 name whose module Python 3 has: AttributeError. */
    r = mk("pickle");
    s = add_stream(r, 4);
    add_global(r, s, "itertools", "izip", 7);
    add_global(r, s, "sets", "Set", 9);
    pj_diagnose_apply(&NO_ENV, r);
    assert_msg(find(r, PJ_LOAD_PY2_MODULE), "AttributeError: Can't get attribute 'izip'");
    assert_int_equal(count(r, PJ_LOAD_PY2_MODULE), 2);
    assert_load_only(r);
    pj_report_free(r);
}

static void test_main_global(void **state)
{
    (void)state;
    pj_report *r = mk("pickle");
    int32_t s = add_stream(r, 4);
    add_global(r, s, "__main__", "MyModel", 20);
    add_global(r, s, "__main__", "MyModel", 40); /* once per name */
    add_global(r, s, "__main__", "is_cat", 60);
    pj_diagnose_apply(&ENV311, r);
    assert_int_equal(count(r, PJ_LOAD_MAIN_GLOBAL), 2);
    const pj_finding *f = find(r, PJ_LOAD_MAIN_GLOBAL);
    assert_msg(f, "AttributeError: Can't get attribute 'MyModel' on <module '__main__'");
    assert_int_equal(f->offset, 20);
    assert_null(find(r, PJ_LOAD_MODULE_MISSING)); /* __main__ is not looked up on disk */
    assert_load_only(r);
    pj_report_free(r);
}

static void test_numpy2_paths(void **state)
{
    (void)state;
    pj_report *r = mk("pickle");
    int32_t s = add_stream(r, 2);
    add_global(r, s, "numpy._core.multiarray", "_reconstruct", 2);
    pj_diagnose_apply(&NO_ENV, r);
    const pj_finding *f = find(r, PJ_LOAD_LIBRARY_PATH);
    assert_msg(f, "may fail: ");
    assert_msg(f, "No module named 'numpy._core'");
    assert_msg(f, ">= 2.0");
    assert_int_equal(f->severity, PJ_SEV_SUSPICIOUS);
    pj_report_free(r);

    r = mk("pickle");
    s = add_stream(r, 2);
    add_global(r, s, "numpy._core.multiarray", "_reconstruct", 2);
    add_global(r, s, "numpy.core.multiarray", "scalar", 30); /* present on numpy 1.26 */
    pj_diagnose_apply(&ENV311, r);
    f = find(r, PJ_LOAD_LIBRARY_PATH);
    assert_msg(f, "will fail: ModuleNotFoundError: No module named 'numpy._core'");
    assert_msg(f, "numpy 1.26.4");
    assert_int_equal(count(r, PJ_LOAD_LIBRARY_PATH), 1);
    assert_null(find(r, PJ_LOAD_MODULE_MISSING));
    assert_load_only(r);
    pj_report_free(r);
}

static void test_sklearn_paths_and_version(void **state)
{
    (void)state;
    pj_report *r = mk("pickle");
    int32_t s = add_stream(r, 2);
    add_global(r, s, "sklearn.ensemble.forest", "RandomForestClassifier", 5);
    add_global(r, s, "sklearn.tree.tree", "DecisionTreeClassifier", 50);
    add_global(r, s, "sklearn.ensemble._forest", "RandomForestRegressor", 90); /* exists in 1.5 */
    pj_diagnose_apply(&ENV311, r);
    const pj_finding *f = find(r, PJ_LOAD_LIBRARY_PATH);
    assert_msg(f, "will fail: ModuleNotFoundError: No module named 'sklearn.ensemble.forest'");
    assert_msg(f, "scikit-learn < 0.24");
    assert_msg(f, "scikit-learn 1.5.0");
    assert_int_equal(count(r, PJ_LOAD_LIBRARY_PATH), 2);
    assert_load_only(r);
    pj_report_free(r);

    r = mk("pickle");
    s = add_stream(r, 2);
    add_global(r, s, "sklearn.linear_model._logistic", "LogisticRegression", 5);
    pj_report_add_meta(r, "sklearn.estimator.0", "0:412:0.24.2:sklearn.linear_model._logistic.LogisticRegression");
    pj_diagnose_apply(&ENV311, r);
    f = find(r, PJ_LOAD_SKLEARN_VERSION);
    assert_msg(f, "warning: InconsistentVersionWarning: Trying to unpickle estimator "
                  "LogisticRegression from version 0.24.2 when using version 1.5.0");
    assert_int_equal(f->offset, 412);
    assert_int_equal(f->severity, PJ_SEV_INFO);
    assert_load_only(r);
    pj_report_free(r);

    r = mk("pickle");
    s = add_stream(r, 2);
    pj_report_add_meta(r, "sklearn.version", "1.0.2");
    pj_diagnose_apply(&NO_ENV, r);
    assert_msg(find(r, PJ_LOAD_SKLEARN_VERSION), "note: estimator was pickled with scikit-learn 1.0.2");
    pj_report_free(r);
}

static void test_torch_device_and_persid(void **state)
{
    (void)state;
    pj_report *r = mk("torch-zip");
    int32_t s = add_stream(r, 2);
    pj_report_add_meta(r, "stream.0.storage_locations", "cuda:0,cpu");
    pj_report_add_meta(r, "stream.0.storage_device_offset", "123");
    pj_report_add_meta(r, "stream.0.persid_count", "3");
    pj_diagnose_apply(&NO_ENV, r);
    const pj_finding *f = find(r, PJ_LOAD_TORCH_DEVICE);
    assert_msg(f, "RuntimeError: Attempting to deserialize object on a CUDA device");
    assert_msg(f, "map_location='cpu'");
    assert_msg(f, "(all: cuda:0,cpu)");
    assert_int_equal(f->offset, 123);
    assert_int_equal(f->stream, s);
    assert_null(find(r, PJ_LOAD_PERSISTENT_ID)); /* torch.load has persistent_load */
    assert_msg(find(r, PJ_LOAD_WRONG_LOADER), "A load persistent id instruction");
    assert_load_only(r);
    pj_report_free(r);

    /* The same data.pkl extracted and given to pickle.load. */
    r = mk("pickle");
    s = add_stream(r, 2);
    pj_report_add_meta(r, "stream.0.persid_count", "3");
    pj_report_add_meta(r, "stream.0.persid_offset", "77");
    pj_report_add_meta(r, "stream.0.storage_locations", "cpu");
    pj_diagnose_apply(&NO_ENV, r);
    f = find(r, PJ_LOAD_PERSISTENT_ID);
    assert_msg(f, "will fail: _pickle.UnpicklingError: A load persistent id instruction was "
                  "encountered, but no persistent_load function was specified.");
    assert_msg(f, "data.pkl");
    assert_int_equal(f->offset, 77);
    assert_null(find(r, PJ_LOAD_TORCH_DEVICE));
    pj_report_free(r);

    /* Fallback: a BINPERSID call whose arguments name the device. */
    r = mk("torch-legacy");
    s = add_stream(r, 2);
    pj_call c;
    memset(&c, 0, sizeof c);
    c.callee = "persistent_load";
    c.args = "(('storage', torch.FloatStorage, '94', 'cuda:1', 4, None),)";
    c.stream = s;
    c.offset = 55;
    c.opcode = 'Q';
    c.callee_global = -1;
    assert_true(pj_report_add_call(r, &c) >= 0);
    pj_diagnose_apply(&NO_ENV, r);
    assert_msg(find(r, PJ_LOAD_TORCH_DEVICE), "saved on 'cuda:1'");
    pj_report_free(r);
}

static void test_paths_oob_ext(void **state)
{
    (void)state;
    pj_report *r = mk("pickle");
    int32_t s = add_stream(r, 4);
    add_global(r, s, "pathlib", "WindowsPath", 10);
    add_global(r, s, "pathlib", "PosixPath", 20);
    pj_report_add_finding(r, PJ_OUT_OF_BAND_BUFFER, PJ_SEV_SUSPICIOUS, s, 33, "NEXT_BUFFER");
    pj_report_add_finding(r, PJ_EXT_OPCODE, PJ_SEV_SUSPICIOUS, s, 44, "EXT1 extension code 1");
    pj_diagnose_apply(&NO_ENV, r);
    const pj_finding *f = find(r, PJ_LOAD_PATH_OS);
    assert_msg(f, "will fail: NotImplementedError: cannot instantiate 'WindowsPath' on your system");
    assert_int_equal(count(r, PJ_LOAD_PATH_OS), 2);
    f = find(r, PJ_LOAD_OUT_OF_BAND);
    assert_msg(f, "pickle stream refers to out-of-band data but no *buffers* argument was given");
    assert_int_equal(f->offset, 33);
    f = find(r, PJ_LOAD_EXT_CODE);
    assert_msg(f, "ValueError: unregistered extension code 1 |");
    assert_int_equal(f->offset, 44);
    assert_load_only(r);
    pj_report_free(r);

    /* pathlib._local: Python 3.13 writer. */
    r = mk("pickle");
    s = add_stream(r, 5);
    add_global(r, s, "pathlib._local", "PosixPath", 10);
    pj_diag_env py312 = {"3.12", NULL, 0};
    pj_diagnose_apply(&py312, r);
    find_msg(r, PJ_LOAD_PYTHON_VERSION,
             "will fail: ModuleNotFoundError: No module named 'pathlib._local'; 'pathlib' is not a package");
    pj_report_free(r);
    r = mk("pickle");
    s = add_stream(r, 5);
    add_global(r, s, "pathlib._local", "PosixPath", 10);
    pj_diag_env py313 = {"3.13", NULL, 0};
    pj_diagnose_apply(&py313, r);
    const pj_finding *pv = find(r, PJ_LOAD_PYTHON_VERSION);
    assert_msg(pv, "note: needs Python >= 3.8"); /* only the protocol note */
    assert_int_equal(count(r, PJ_LOAD_PYTHON_VERSION), 1);
    pj_report_free(r);
}

static void test_not_a_pickle(void **state)
{
    (void)state;
    static const struct {
        const char *format, *head, *want;
    } cases[] = {
        {"lfs-pointer", NULL, "will fail: _pickle.UnpicklingError: invalid load key, 'v'."},
        {"html", NULL, "invalid load key, '<'."},
        {"empty", NULL, "will fail: EOFError: Ran out of input"},
        {"gguf", "4747554603000000000000000000000001", "invalid load key, '\\x00'."},
        {"safetensors", "6000000000000000", "invalid load key, '`'."},
        {"safetensors", "8006000000000000", "ValueError: unsupported pickle protocol: 6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pj_report *r = mk(cases[i].format);
        if (cases[i].head)
            pj_report_add_meta(r, "file.head", cases[i].head);
        pj_diagnose_apply(&NO_ENV, r);
        assert_msg(find(r, PJ_LOAD_NOT_PICKLE), cases[i].want);
        assert_load_only(r);
        pj_report_free(r);
    }
    /* Wrong loader notes from the fixed first bytes of each format. */
    static const struct {
        const char *format, *want;
    } wrong[] = {
        {"joblib-zlib", "invalid load key, 'x'."},
        {"gzip", "invalid load key, '\\x1f'."},
        {"bz2", "pickle data was truncated"},
        {"zstd", "invalid load key, '\\xb5'."},
        {"npy", "unpickling stack underflow"},
        {"torch-zip", "A load persistent id instruction"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        pj_report *r = mk(wrong[i].format);
        pj_diagnose_apply(&NO_ENV, r);
        const pj_finding *f = find(r, PJ_LOAD_WRONG_LOADER);
        assert_msg(f, wrong[i].want);
        assert_msg(f, "note: ");
        assert_int_equal(f->severity, PJ_SEV_INFO);
        pj_report_free(r);
    }
}

static void test_truncated(void **state)
{
    (void)state;
    pj_report *r = mk("torch-zip");
    pj_report_add_finding(r, PJ_ZIP_TRUNCATED, PJ_SEV_SUSPICIOUS, -1, 0, "no end of central directory");
    pj_diagnose_apply(&NO_ENV, r);
    assert_msg(find(r, PJ_LOAD_TRUNCATED),
               "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory");
    pj_report_free(r);

    r = mk("torch-legacy");
    pj_report_add_meta(r, "torch.legacy.missing", "4");
    pj_diagnose_apply(&NO_ENV, r);
    assert_msg(find(r, PJ_LOAD_TRUNCATED), "RuntimeError: unexpected EOF, expected 4 more bytes.");
    pj_report_free(r);

    /* A parse error becomes the exception pickle raises; only the first per stream. */
    r = mk("pickle");
    int32_t s = add_stream(r, 2);
    pj_report_add_finding(r, PJ_UNKNOWN_OPCODE, PJ_SEV_SUSPICIOUS, s, 9, "invalid load key, '\\xff'.");
    pj_report_add_finding(r, PJ_STACK_UNDERFLOW, PJ_SEV_SUSPICIOUS, s, 19, "unpickling stack underflow");
    pj_diagnose_apply(&NO_ENV, r);
    const pj_finding *f = find(r, PJ_LOAD_STREAM_ERROR);
    assert_msg(f, "will fail: _pickle.UnpicklingError: invalid load key, '\\xff'.");
    assert_int_equal(f->offset, 9);
    assert_int_equal(count(r, PJ_LOAD_STREAM_ERROR), 1);
    pj_report_free(r);
}

static void test_py2_strings(void **state)
{
    (void)state;
    pj_report *r = mk("pickle");
    add_stream(r, 2);
    pj_report_add_meta(r, "stream.0.py2_strings", "2");
    pj_report_add_meta(r, "stream.0.py2_string_offset", "31");
    pj_report_add_meta(r, "stream.0.py2_string_byte", "0xe9");
    pj_report_add_meta(r, "stream.0.py2_string_pos", "3");
    pj_diagnose_apply(&NO_ENV, r);
    const pj_finding *f = find(r, PJ_LOAD_PY2_STRINGS);
    assert_msg(f, "will fail: UnicodeDecodeError: 'ascii' codec can't decode byte 0xe9 in position 3: "
                  "ordinal not in range(128)");
    assert_msg(f, "encoding='latin1'");
    assert_int_equal(f->offset, 31);
    pj_report_free(r);
}

static void test_env_modules(void **state)
{
    (void)state;
    pj_report *r = mk("pickle");
    int32_t s = add_stream(r, 4);
    add_global(r, s, "models.yolo", "Model", 10);
    add_global(r, s, "plainmod.sub", "X", 20);
    add_global(r, s, "nspkg.other", "Y", 30);    /* found: namespace package */
    add_global(r, s, "fastext", "Z", 40);        /* built for 3.10 */
    add_global(r, s, "abimod", "W", 50);         /* found */
    add_global(r, s, "collections", "OrderedDict", 60); /* stdlib */
    add_global(r, s, "imp", "load_module", 70);  /* stdlib until 3.12 */
    add_global(r, s, "nt", "system", 80);        /* Windows only */
    add_global(r, s, "numpy.core.multiarray", "_reconstruct", 90);
    add_global(r, s, "sklearn.pipeline", "Pipeline", 100);
    pj_diag_env env312 = {"3.12", SITE, 2};
    pj_diagnose_apply(&env312, r);
    assert_int_equal(count(r, PJ_LOAD_MODULE_MISSING), 3);
    const pj_finding *f = find(r, PJ_LOAD_MODULE_MISSING);
    assert_msg(f, "will fail: ModuleNotFoundError: No module named 'models'");
    assert_int_equal(f->offset, 10);
    bool saw_pkg = false, saw_abi = false;
    for (size_t i = 0; i < r->n_findings; i++) {
        const char *m = r->findings[i].message;
        saw_pkg |= strstr(m, "No module named 'plainmod.sub'; 'plainmod' is not a package") != NULL;
        saw_abi |= strstr(m, "No module named 'fastext'") != NULL && strstr(m, "cpython-310") != NULL;
    }
    assert_true(saw_pkg);
    assert_true(saw_abi);
    find_msg(r, PJ_LOAD_PYTHON_VERSION, "will fail: ModuleNotFoundError: No module named 'imp'");
    assert_msg(find(r, PJ_LOAD_PLATFORM_MODULE), "No module named 'nt'");
    const pj_finding *req = find(r, PJ_LOAD_REQUIREMENTS);
    assert_msg(req, "numpy (numpy 1.26.4)");
    assert_msg(req, "sklearn (scikit-learn 1.5.0)");
    assert_msg(req, "models (not installed)");
    assert_load_only(r);
    pj_report_free(r);

    /* Without an environment nothing is looked up. */
    r = mk("pickle");
    s = add_stream(r, 4);
    add_global(r, s, "models.yolo", "Model", 10);
    pj_diagnose_apply(&NO_ENV, r);
    assert_null(find(r, PJ_LOAD_MODULE_MISSING));
    assert_msg(find(r, PJ_LOAD_REQUIREMENTS), "models");
    pj_report_free(r);
}

static void test_torch_weights_only(void **state)
{
    (void)state;
    pj_report *r = mk("torch-zip");
    int32_t s = add_stream(r, 2);
    add_global(r, s, "collections", "OrderedDict", 2);
    add_global(r, s, "torch._utils", "_rebuild_tensor_v2", 30);
    add_global(r, s, "torch", "FloatStorage", 60);
    add_global(r, s, "__main__", "MyModel", 90);
    add_global(r, s, "torch.nn.modules.linear", "Linear", 120);
    pj_diagnose_apply(&ENV311, r);
    const pj_finding *f = find(r, PJ_LOAD_TORCH_WEIGHTS_ONLY);
    assert_msg(f, "Unsupported global: GLOBAL __main__.MyModel was not an allowed global by default.");
    assert_msg(f, "torch 2.6.0");
    assert_msg(f, "2 global(s)");
    assert_msg(f, "torch.nn.modules.linear.Linear");
    assert_int_equal(f->offset, 90);
    assert_load_only(r);
    pj_report_free(r);

    r = mk("torch-zip");
    s = add_stream(r, 2);
    add_global(r, s, "collections", "OrderedDict", 2);
    add_global(r, s, "torch._utils", "_rebuild_tensor_v2", 30);
    add_global(r, s, "torch", "float32", 40);
    pj_diagnose_apply(&ENV311, r);
    assert_null(find(r, PJ_LOAD_TORCH_WEIGHTS_ONLY));
    pj_report_free(r);
}

static void test_python_floor_and_idempotence(void **state)
{
    (void)state;
    pj_report *r = mk("pickle");
    add_stream(r, 5);
    pj_diag_env py37 = {"3.7", NULL, 0};
    pj_diagnose_apply(&py37, r);
    assert_msg(find(r, PJ_LOAD_PYTHON_VERSION), "will fail: ValueError: unsupported pickle protocol: 5");
    size_t n = r->n_findings;
    pj_diagnose_apply(&py37, r);
    assert_int_equal(r->n_findings, n);
    pj_report_free(r);

    r = mk("pickle");
    add_stream(r, 2);
    pj_report_add_meta(r, "stream.0.max_opcode_proto", "4");
    pj_report_add_meta(r, "stream.0.max_opcode", "SHORT_BINUNICODE");
    pj_report_add_meta(r, "stream.0.max_opcode_offset", "17");
    pj_diag_env py33 = {"3.3", NULL, 0};
    pj_diagnose_apply(&py33, r);
    const pj_finding *f = find(r, PJ_LOAD_PYTHON_VERSION);
    assert_msg(f, "invalid load key, '\\x8c'.");
    assert_int_equal(f->offset, 17);
    pj_report_free(r);

    /* A NULL env and NULL report are harmless. */
    pj_diagnose_apply(NULL, NULL);
    r = mk("pickle");
    add_stream(r, 2);
    pj_diagnose_apply(NULL, r);
    assert_int_equal(r->verdict, PJ_VERDICT_SAFE);
    pj_report_free(r);
}

static void test_more_rules(void **state)
{
    (void)state;
    /* Current-release paths are quiet without a target, checked with one. */
    pj_report *r = mk("pickle");
    int32_t s = add_stream(r, 2);
    add_global(r, s, "sklearn.ensemble._forest", "RandomForestClassifier", 5);
    pj_diagnose_apply(&NO_ENV, r);
    assert_null(find(r, PJ_LOAD_LIBRARY_PATH));
    pj_report_free(r);

    /* pandas 2 (egg-info metadata) has no pandas.core.indexes.numeric. */
    r = mk("pickle");
    s = add_stream(r, 2);
    add_global(r, s, "pandas.core.indexes.numeric", "Int64Index", 7);
    add_global(r, s, "pandas.core.frame", "DataFrame", 9);
    pj_diagnose_apply(&ENV311, r);
    const pj_finding *f = find(r, PJ_LOAD_LIBRARY_PATH);
    assert_msg(f, "will fail: ModuleNotFoundError: No module named 'pandas.core.indexes.numeric'");
    assert_msg(f, "pandas 2.2.2");
    assert_int_equal(count(r, PJ_LOAD_LIBRARY_PATH), 1);
    assert_null(find(r, PJ_LOAD_MODULE_MISSING));
    pj_report_free(r);

    /* TorchScript classes: fine in a TorchScript archive, not in a plain pickle. */
    r = mk("torchscript");
    s = add_stream(r, 2);
    add_global(r, s, "__torch__.Net", "Net", 3);
    pj_diagnose_apply(&ENV311, r);
    assert_null(find(r, PJ_LOAD_MODULE_MISSING));
    pj_report_free(r);
    r = mk("pickle");
    s = add_stream(r, 2);
    add_global(r, s, "__torch__.Net", "Net", 3);
    pj_diagnose_apply(&ENV311, r);
    assert_msg(find(r, PJ_LOAD_MODULE_MISSING), "No module named '__torch__'");
    assert_msg(find(r, PJ_LOAD_MODULE_MISSING), "torch.jit.load");
    pj_report_free(r);

    /* The device read back from the VM's PJ122 message (legacy 6-tuples). */
    r = mk("torch-legacy");
    s = add_stream(r, 2);
    pj_report_add_finding(r, PJ_PERSISTENT_ID, PJ_SEV_SUSPICIOUS, s, 289,
                          "BINPERSID at offset 289: persistent id ('storage', torch.FloatStorage, "
                          "'0000', 'cuda:0', 12, None) is not a PyTorch storage");
    pj_diagnose_apply(&NO_ENV, r);
    f = find(r, PJ_LOAD_TORCH_DEVICE);
    assert_msg(f, "saved on 'cuda:0'");
    assert_int_equal(f->offset, 289);
    assert_null(find(r, PJ_LOAD_PERSISTENT_ID)); /* torch.load has a persistent_load */
    pj_report_free(r);

    /* Module names with path separators never reach the disk. */
    r = mk("pickle");
    s = add_stream(r, 2);
    add_global(r, s, "numpy/../../etc", "passwd", 3);
    pj_diagnose_apply(&ENV311, r);
    assert_non_null(find(r, PJ_LOAD_MODULE_MISSING));
    pj_report_free(r);

    /* Truncation: EOF at an opcode is EOFError; a huge length is MemoryError. */
    r = mk("pickle");
    s = add_stream(r, 2);
    pj_report_add_finding(r, PJ_TRUNCATED, PJ_SEV_SUSPICIOUS, s, 4,
                          "pickle data was truncated (needs 1 bytes, 0 left) (opcode at offset 4)");
    pj_diagnose_apply(&NO_ENV, r);
    assert_msg(find(r, PJ_LOAD_STREAM_ERROR), "will fail: EOFError: Ran out of input");
    pj_report_free(r);
    r = mk("pickle");
    s = add_stream(r, 4);
    pj_report_add_finding(r, PJ_TRUNCATED, PJ_SEV_SUSPICIOUS, s, 2,
                          "pickle data was truncated (needs 1099511627776 bytes, 1 left) (BYTEARRAY8 at offset 2)");
    pj_diagnose_apply(&NO_ENV, r);
    assert_msg(find(r, PJ_LOAD_STREAM_ERROR), "will fail: MemoryError");
    pj_report_free(r);

    /* A far memo key: CPython loads it unless the memo array it grows is gigabytes. */
    static const char far_key[] =
        "memo key %llu is far beyond the 0 entries so far: no pickler writes this, and "
        "CPython's unpickler allocates %llu memo slots for it (MemoryError when large) "
        "(BINPUT at offset 2)";
    char msg[256];
    snprintf(msg, sizeof msg, far_key, 5000ull, 10000ull);
    r = mk("pickle");
    s = add_stream(r, 2);
    pj_report_add_finding(r, PJ_BAD_MEMO_KEY, PJ_SEV_SUSPICIOUS, s, 2, "%s", msg);
    pj_diagnose_apply(&NO_ENV, r);
    assert_null(find(r, PJ_LOAD_STREAM_ERROR));
    pj_report_free(r);
    snprintf(msg, sizeof msg, far_key, 4294967295ull, 8589934590ull);
    r = mk("pickle");
    s = add_stream(r, 2);
    pj_report_add_finding(r, PJ_BAD_MEMO_KEY, PJ_SEV_SUSPICIOUS, s, 2, "%s", msg);
    pj_diagnose_apply(&NO_ENV, r);
    assert_msg(find(r, PJ_LOAD_STREAM_ERROR), "will fail: MemoryError");
    pj_report_free(r);
}

static void test_findings_cap(void **state)
{
    (void)state;
    /* Security findings fill the cap: diagnosis still reports, within its reserve. */
    pj_report *r = pj_report_new(1u << 22, 5);
    assert_non_null(r);
    r->format = "pickle";
    int32_t s = add_stream(r, 4);
    for (int i = 0; i < 5; i++)
        pj_report_add_finding(r, PJ_GLOBAL_UNKNOWN, PJ_SEV_SUSPICIOUS, s, (uint64_t)i, "unknown");
    char names[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "Cls%d", i);
        add_global(r, s, "__main__", names[i], (uint64_t)(10 + i));
    }
    pj_diagnose_apply(&NO_ENV, r);
    assert_msg(find(r, PJ_LOAD_MAIN_GLOBAL), "'Cls0'");
    size_t load = 0;
    for (size_t i = 0; i < r->n_findings; i++)
        load += r->findings[i].cls == PJ_CLASS_LOAD;
    assert_true(load <= PJ_LOAD_FINDINGS_RESERVE);
    assert_msg(&r->findings[r->n_findings - 1], "further load findings were omitted");
    pj_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_fs_resolve),
        cmocka_unit_test(test_py2_module_proto3),
        cmocka_unit_test(test_main_global),
        cmocka_unit_test(test_numpy2_paths),
        cmocka_unit_test(test_sklearn_paths_and_version),
        cmocka_unit_test(test_torch_device_and_persid),
        cmocka_unit_test(test_paths_oob_ext),
        cmocka_unit_test(test_not_a_pickle),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_py2_strings),
        cmocka_unit_test(test_env_modules),
        cmocka_unit_test(test_torch_weights_only),
        cmocka_unit_test(test_python_floor_and_idempotence),
        cmocka_unit_test(test_more_rules),
        cmocka_unit_test(test_findings_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
