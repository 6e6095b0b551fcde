/* Load-failure rules over the globals a file imports, alone and against a
 * target environment (Python version, site-packages).  Pure logic: the disk
 * look-ups are diag_fs.c's. */
#include "diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 4096

/* A small set of strings (dedupe "one finding per module / per name"). */
typedef struct keyset {
    char **keys;
    size_t n, cap;
} keyset;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Returns true when key was newly added (false: seen before, or the set is full). */
static bool keyset_add(keyset *ks, const char *key)
{
    if (ks->cap == 0) {
        ks->cap = 2 * MAX_KEYS;
        ks->keys = calloc(ks->cap, sizeof *ks->keys);
        if (ks->keys == NULL) {
            ks->cap = 0;
            return false;
        }
    }
    size_t i = (size_t)(fnv(key) % ks->cap);
    while (ks->keys[i] != NULL) {
        if (strcmp(ks->keys[i], key) == 0)
            return false;
        i = (i + 1) % ks->cap;
    }
    if (ks->n >= MAX_KEYS)
        return false;
    ks->keys[i] = strdup(key);
    if (ks->keys[i] == NULL)
        return false;
    ks->n++;
    return true;
}

static void keyset_free(keyset *ks)
{
    for (size_t i = 0; i < ks->cap; i++)
        free(ks->keys[i]);
    free(ks->keys);
}

static bool once(keyset *ks, const char *kind, const char *a, const char *b)
{
    char key[600];
    pj_diag_fmt(key, sizeof key, "%s|%s|%s", kind, a ? a : "", b ? b : "");
    return keyset_add(ks, key);
}

static void top_of(const char *module, char *top, size_t len)
{
    size_t n = strcspn(module, ".");
    if (n >= len)
        n = len - 1;
    memcpy(top, module, n);
    top[n] = '\0';
}

static int stream_proto(const pj_report *r, int32_t s)
{
    if (s < 0 || (size_t)s >= r->n_streams)
        return -1;
    return r->streams[s].protocol;
}

static bool in_py3_stdlib(const char *top)
{
    diag_row row;
    return pj_diag_stdlib_has(top, -1, NULL, NULL, &row);
}

/* The distinct modules the file imports, in first-seen order. */
typedef struct modref {
    const char *module; /* resolved module */
    size_t first;       /* index of its first global */
    size_t count;
    bool handled;       /* a specific rule already explained it */
} modref;

#define MOD_SLOTS (2 * MAX_KEYS)

typedef struct modlist {
    modref *v;
    size_t n, cap;
    uint32_t *slots; /* open addressing: index + 1 into v, 0 = empty */
} modlist;

/* Find a module (hostile files may hold many globals: hashed, not scanned). */
static modref *mod_get(modlist *ml, const char *module)
{
    if (ml->slots == NULL)
        return NULL;
    for (size_t i = (size_t)(fnv(module) % MOD_SLOTS); ml->slots[i] != 0; i = (i + 1) % MOD_SLOTS)
        if (strcmp(ml->v[ml->slots[i] - 1].module, module) == 0)
            return &ml->v[ml->slots[i] - 1];
    return NULL;
}

static void mod_index(modlist *ml, size_t idx)
{
    size_t i = (size_t)(fnv(ml->v[idx].module) % MOD_SLOTS);
    while (ml->slots[i] != 0)
        i = (i + 1) % MOD_SLOTS;
    ml->slots[i] = (uint32_t)(idx + 1);
}

/* ---- rules that need only the file ------------------------------------ */

static void rule_py2(pj_report *r, keyset *ks, modlist *ml, size_t gi)
{
    pj_global g = r->globals[gi];
    const char *mod = g.resolved_module ? g.resolved_module : g.module;
    char top[128];
    top_of(g.module, top, sizeof top);
    diag_row row;
    int proto = stream_proto(r, g.stream);

    /* _compat_pickle maps Python 2 names only when the protocol is < 3. */
    if (proto >= 3 && strcmp(g.module, mod) == 0) {
        bool named = pj_diag_compat_name(g.module, g.name, &row);
        char py3[200] = "";
        if (named)
            pj_diag_fmt(py3, sizeof py3, "%s.%s", row.col[2], row.col[3]);
        const char *imp = pj_diag_compat_import(g.module, &row);
        if (!named && imp != NULL)
            pj_diag_fmt(py3, sizeof py3, "%s", imp);
        if (named && in_py3_stdlib(top)) {
            if (once(ks, "py2name", g.module, g.name))
                pj_diag_emit(r, PJ_LOAD_PY2_MODULE, DIAG_WILL, g.stream, g.offset,
                             "AttributeError: Can't get attribute '%s' on <module '%s'> | why: "
                             "Python 2 name %s.%s in a protocol-%d stream: pickle maps Python 2 "
                             "names (to %s) only below protocol 3 | fix: re-save the object with "
                             "Python 3, or rewrite the global to %s",
                             g.name, g.module, g.module, g.name, proto, py3, py3);
            mod_get(ml, mod)->handled = true;
            return;
        }
        if ((named || imp != NULL) && !in_py3_stdlib(top)) {
            if (once(ks, "py2mod", g.module, NULL))
                pj_diag_emit(r, PJ_LOAD_PY2_MODULE, DIAG_WILL, g.stream, g.offset,
                             "ModuleNotFoundError: No module named '%s' | why: Python 2 module "
                             "name (%s.%s) in a protocol-%d stream: pickle maps Python 2 names "
                             "(to %s) only below protocol 3 | fix: re-save with Python 3, or use "
                             "an Unpickler whose find_class maps %s to %s",
                             top, g.module, g.name, proto, py3, g.module, py3);
            mod_get(ml, mod)->handled = true;
            return;
        }
    }
    char rtop[128];
    top_of(mod, rtop, sizeof rtop);
    const char *hint = pj_diag_py2_only(rtop);
    if (hint != NULL && !in_py3_stdlib(rtop)) {
        if (once(ks, "py2only", rtop, NULL))
            pj_diag_emit(r, PJ_LOAD_PY2_MODULE, DIAG_WILL, g.stream, g.offset,
                         "ModuleNotFoundError: No module named '%s' | why: '%s' existed only in "
                         "Python 2 and pickle has no mapping for it (%s.%s) | fix: load it with "
                         "Python 2 and re-save the data without it (%s)",
                         rtop, rtop, mod, g.resolved_name ? g.resolved_name : g.name, hint);
        mod_get(ml, mod)->handled = true;
    }
}

static void rule_main(pj_report *r, keyset *ks, modlist *ml, size_t gi)
{
    pj_global g = r->globals[gi];
    const char *mod = g.resolved_module ? g.resolved_module : g.module;
    const char *name = g.resolved_name ? g.resolved_name : g.name;
    if (strcmp(mod, "__main__") != 0 && strcmp(mod, "__mp_main__") != 0)
        return;
    mod_get(ml, mod)->handled = true;
    if (!once(ks, "main", mod, name))
        return;
    pj_diag_emit(r, PJ_LOAD_MAIN_GLOBAL, DIAG_WILL, g.stream, g.offset,
                 "AttributeError: Can't get attribute '%s' on <module '%s' from '...'> | why: "
                 "'%s' was defined in the script or notebook that saved the file, and pickle looks "
                 "it up in the loading program's __main__ | fix: define or import %s in the "
                 "loading script before loading (better: move it into an importable module and "
                 "re-save)",
                 name, mod, name, name);
}

/* TorchScript archives name their compiled classes __torch__.*: torch.jit.load
 * resolves them, Python's pickle cannot. */
static void rule_torchscript(pj_report *r, keyset *ks, modlist *ml, size_t gi)
{
    pj_global g = r->globals[gi];
    const char *mod = g.resolved_module ? g.resolved_module : g.module;
    if (strcmp(mod, "__torch__") != 0 && strncmp(mod, "__torch__.", 10) != 0)
        return;
    mod_get(ml, mod)->handled = true;
    if ((r->format != NULL && strcmp(r->format, "torchscript") == 0) ||
        !once(ks, "torchscript", NULL, NULL))
        return;
    pj_diag_emit(r, PJ_LOAD_MODULE_MISSING, DIAG_WILL, g.stream, g.offset,
                 "ModuleNotFoundError: No module named '__torch__' | why: %s.%s is a TorchScript "
                 "class: this pickle comes from a TorchScript archive (torch.jit.save) | fix: load "
                 "the whole archive with torch.jit.load",
                 mod, g.resolved_name ? g.resolved_name : g.name);
}

static void rule_pathlib(const diag_target *t, pj_report *r, keyset *ks, modlist *ml, size_t gi)
{
    pj_global g = r->globals[gi];
    const char *mod = g.resolved_module ? g.resolved_module : g.module;
    const char *name = g.resolved_name ? g.resolved_name : g.name;
    if (strcmp(mod, "pathlib") != 0 && strncmp(mod, "pathlib.", 8) != 0)
        return;
    const char *last = strrchr(name, '.');
    last = last ? last + 1 : name;

    if (strcmp(mod, "pathlib._local") == 0) {
        mod_get(ml, mod)->handled = true;
        if (t->py_minor >= 13 || !once(ks, "pathlib_local", NULL, NULL))
            return;
        pj_diag_emit(r, PJ_LOAD_PYTHON_VERSION, t->py_minor >= 0 ? DIAG_WILL : DIAG_MAY, g.stream,
                     g.offset,
                     "ModuleNotFoundError: No module named 'pathlib._local'; 'pathlib' is not a "
                     "package%s | why: pathlib.%s was pickled by Python 3.13, where pathlib is a "
                     "package; Python <= 3.12 has no pathlib._local | fix: load it with Python "
                     "3.13 or newer%s",
                     t->py_minor >= 0 ? "" : " (on Python <= 3.12)", last,
                     t->py_minor >= 0 ? "" : " (--python tells the target)");
    }
    if (strcmp(last, "WindowsPath") == 0 && once(ks, "path", "WindowsPath", NULL))
        pj_diag_emit(r, PJ_LOAD_PATH_OS, DIAG_WILL, g.stream, g.offset,
                     "NotImplementedError: cannot instantiate 'WindowsPath' on your system | why: "
                     "a pathlib.WindowsPath was pickled on Windows; it cannot be created on Linux "
                     "or macOS | fix: load on Windows, or map it first (pathlib.WindowsPath = "
                     "pathlib.PosixPath before loading) and re-save with plain str paths");
    if (strcmp(last, "PosixPath") == 0 && once(ks, "path", "PosixPath", NULL))
        pj_diag_emit(r, PJ_LOAD_PATH_OS, DIAG_NOTE, g.stream, g.offset,
                     "on Windows: NotImplementedError: cannot instantiate 'PosixPath' on your "
                     "system | why: a pathlib.PosixPath was pickled on Linux/macOS | fix: on "
                     "Windows set pathlib.PosixPath = pathlib.WindowsPath before loading");
}

/* ---- rules against the target ----------------------------------------- */

static void status_error(const diag_mod_status *st, char *out, size_t len)
{
    if (st->state == DIAG_MOD_NOT_PACKAGE)
        pj_diag_fmt(out, len, "ModuleNotFoundError: No module named '%s'; '%s' is not a package",
                 st->missing, st->parent);
    else
        pj_diag_fmt(out, len, "ModuleNotFoundError: No module named '%s'", st->missing);
}

static void range_text(const char *since, const char *until, char *out, size_t len)
{
    bool lo = since && strcmp(since, "-") != 0, hi = until && strcmp(until, "-") != 0;
    if (lo && hi)
        pj_diag_fmt(out, len, ">= %s and < %s", since, until);
    else if (lo)
        pj_diag_fmt(out, len, ">= %s", since);
    else if (hi)
        pj_diag_fmt(out, len, "< %s", until);
    else
        pj_diag_fmt(out, len, "(any version)");
}

static void rule_versioned(const diag_target *t, pj_report *r, modref *m)
{
    diag_row row;
    if (!pj_diag_versioned_module(m->module, &row))
        return;
    pj_global g = r->globals[m->first];
    const char *prefix = row.col[0], *dist = row.col[1];
    char range[64], ver[64] = "";
    range_text(row.col[2], row.col[3], range, sizeof range);
    const char *repl = strcmp(row.col[4], "-") != 0 ? row.col[4] : NULL;
    char repl_txt[200] = "";
    if (repl != NULL)
        pj_diag_fmt(repl_txt, sizeof repl_txt, "; other versions use %s", repl);
    m->handled = true;

    diag_mod_status st;
    pj_diag_fs_resolve(t, m->module, &st);
    if (st.state == DIAG_MOD_FOUND)
        return;
    if (st.state == DIAG_MOD_UNKNOWN) {
        if (row.n >= 6 && strcmp(row.col[5], "quiet") == 0)
            return; /* current releases have it: only a target can say more */
        pj_diag_emit(r, PJ_LOAD_LIBRARY_PATH, DIAG_MAY, g.stream, g.offset,
                     "with %s outside %s: ModuleNotFoundError: No module named '%s' | why: %s exists "
                     "only in %s %s%s | fix: load it with %s %s (--site-packages checks the target)",
                     dist, range, prefix, prefix, dist, range, repl_txt, dist, range);
        return;
    }
    bool installed = pj_diag_fs_dist_version(t, dist, ver, sizeof ver);
    char err[300];
    status_error(&st, err, sizeof err);
    pj_diag_emit(r, PJ_LOAD_LIBRARY_PATH, DIAG_WILL, g.stream, g.offset,
                 "%s | why: %s exists only in %s %s; the target has %s %s%s | fix: install %s %s "
                 "to load it (or re-save it with %s %s)",
                 err, prefix, dist, range, dist, installed ? ver : "not installed", repl_txt, dist,
                 range, dist, installed ? ver : "the target's version");
}

/* After this many missing top-level modules the rest are summed up in one finding. */
#define MAX_MISSING_FINDINGS 10

typedef struct missing_more {
    size_t shown, more;
    char names[240];
    int32_t stream;
    uint64_t offset;
} missing_more;

static void rule_env(const diag_target *t, pj_report *r, keyset *ks, missing_more *mm, modref *m)
{
    pj_global g = r->globals[m->first];
    char top[128];
    top_of(m->module, top, sizeof top);
    diag_row row;
    const char *os = pj_diag_platform_module(top, &row);
    if (os != NULL && strcmp(os, "windows") == 0) {
        m->handled = true;
        pj_diag_emit(r, PJ_LOAD_PLATFORM_MODULE, DIAG_WILL, g.stream, g.offset,
                     "ModuleNotFoundError: No module named '%s' | why: '%s' exists only on Windows "
                     "(the file names %s.%s); the target is Linux/macOS | fix: only a Windows "
                     "Python can load it (a model file has no reason to name it)",
                     top, top, m->module, g.resolved_name ? g.resolved_name : g.name);
        return;
    }
    const char *since, *until;
    if (pj_diag_stdlib_has(top, t->py_minor, &since, &until, &row))
        return; /* standard library of the target */
    bool stdlib_elsewhere = since != NULL;
    if (t->py_minor < 0 && stdlib_elsewhere)
        return;

    diag_mod_status st;
    pj_diag_fs_resolve(t, m->module, &st);
    if (st.state == DIAG_MOD_FOUND)
        return;
    if (stdlib_elsewhere && t->py_minor >= 0 && st.state != DIAG_MOD_FOUND) {
        char range[64];
        range_text(since, until, range, sizeof range);
        pj_diag_emit(r, PJ_LOAD_PYTHON_VERSION, DIAG_WILL, g.stream, g.offset,
                     "ModuleNotFoundError: No module named '%s' | why: '%s' is in the standard "
                     "library of Python %s only; the target is Python 3.%d | fix: load it with a "
                     "Python %s",
                     top, top, range, t->py_minor, range);
        return;
    }
    if (st.state == DIAG_MOD_UNKNOWN)
        return;
    char err[300], dist[128] = "", ver[64] = "";
    status_error(&st, err, sizeof err);
    if (strcmp(st.missing, top) == 0) {
        if (!once(ks, "missing", top, NULL))
            return; /* one finding per missing top-level module */
        if (mm->shown >= MAX_MISSING_FINDINGS) {
            if (mm->more++ == 0) {
                mm->stream = g.stream;
                mm->offset = g.offset;
            }
            size_t l = strlen(mm->names);
            if (l + strlen(top) + 3 < sizeof mm->names)
                pj_diag_fmt(mm->names + l, sizeof mm->names - l, "%s%s", l ? ", " : "", top);
            return;
        }
        mm->shown++;
        const char *dn = pj_diag_dist_name(top, &row);
        bool known = strcmp(dn, top) != 0 || pj_diag_versioned_module(top, &row);
        if (st.where[0] != '\0')
            pj_diag_emit(r, PJ_LOAD_MODULE_MISSING, DIAG_WILL, g.stream, g.offset,
                         "%s | why: the only '%s' found is %s, an extension module built for "
                         "another Python (target 3.%d) | fix: install %s built for the target "
                         "Python",
                         err, top, st.where, t->py_minor, dn);
        else
            pj_diag_emit(r, PJ_LOAD_MODULE_MISSING, DIAG_WILL, g.stream, g.offset,
                         "%s | why: '%s' (needed for %s.%s) is not in %s nor in the given "
                         "site-packages | fix: %s%s%s",
                         err, top, m->module, g.resolved_name ? g.resolved_name : g.name,
                         t->py_minor >= 0 ? "the target's standard library" : "the standard library",
                         known ? "pip install " : "make the code that defined it importable (the "
                                                  "training repository on PYTHONPATH) or install "
                                                  "the package providing ",
                         known ? dn : "'", known ? "" : top);
        return;
    }
    bool have = pj_diag_fs_dist(t, top, dist, sizeof dist, ver, sizeof ver);
    pj_diag_emit(r, PJ_LOAD_MODULE_MISSING, DIAG_WILL, g.stream, g.offset,
                 "%s | why: %s%s%s has no module %s (needed for %s.%s); it was probably "
                 "written with another version | fix: install the %s version the file was "
                 "written with",
                 err, have ? dist : top, have ? " " : "", have ? ver : "", st.missing, m->module,
                 g.resolved_name ? g.resolved_name : g.name, have ? dist : top);
}

/* scikit-learn: the version recorded in estimator state vs the target's. */
static void rule_sklearn_version(const diag_target *t, pj_report *r, keyset *ks)
{
    char installed[64] = "";
    bool have = pj_diag_fs_dist_version(t, "scikit-learn", installed, sizeof installed);
    bool has_tree = false;
    for (size_t i = 0; i < r->n_globals && !has_tree; i++) {
        const char *m = r->globals[i].resolved_module ? r->globals[i].resolved_module
                                                      : r->globals[i].module;
        const char *n = r->globals[i].resolved_name ? r->globals[i].resolved_name
                                                    : r->globals[i].name;
        has_tree = m && n && strcmp(m, "sklearn.tree._tree") == 0 && strcmp(n, "Tree") == 0;
    }
    /* sklearn.version repeats the first estimator's: use it only without them. */
    bool per_estimator = false;
    for (size_t i = 0; i < r->n_meta && !per_estimator; i++)
        per_estimator = strncmp(r->meta_keys[i], "sklearn.estimator.", 18) == 0;
    size_t emitted = 0;
    for (size_t i = 0; i < r->n_meta && emitted < 8; i++) {
        const char *k = r->meta_keys[i], *v = r->meta_values[i];
        int32_t stream = -1;
        unsigned long long off = 0;
        char version[64] = "", cls[200] = "";
        if (strncmp(k, "sklearn.estimator.", 18) == 0) {
            int s;
            if (sscanf(v, "%d:%llu:%63[^:]:%199s", &s, &off, version, cls) < 3)
                continue;
            stream = s;
        } else if (strcmp(k, "sklearn.version") == 0 && !per_estimator) {
            pj_diag_fmt(version, sizeof version, "%s", v);
        } else {
            continue;
        }
        const char *short_cls = strrchr(cls, '.');
        short_cls = short_cls ? short_cls + 1 : (cls[0] ? cls : "estimator");
        if (!once(ks, "skv", version, short_cls))
            continue;
        emitted++;
        if (!have) {
            pj_diag_emit(r, PJ_LOAD_SKLEARN_VERSION, DIAG_NOTE, stream, off,
                         "%s was pickled with scikit-learn %s | why: its state records "
                         "_sklearn_version | fix: load it with scikit-learn %s; other versions "
                         "warn (InconsistentVersionWarning) and may fail or give wrong results",
                         short_cls, version, version);
            continue;
        }
        if (pj_diag_vercmp(version, installed) == 0)
            continue;
        bool icw = pj_diag_vercmp(installed, "1.3") >= 0;
        pj_diag_emit(r, PJ_LOAD_SKLEARN_VERSION, DIAG_WARN, stream, off,
                     "%s: Trying to unpickle estimator %s from version %s when using version %s. "
                     "This might lead to breaking code or invalid results. Use at your own risk. | "
                     "why: the target has scikit-learn %s%s | fix: install scikit-learn==%s to "
                     "load it as trained, or retrain and re-save with %s",
                     icw ? "InconsistentVersionWarning" : "UserWarning", short_cls, version,
                     installed, installed,
                     icw ? " (InconsistentVersionWarning is a UserWarning)" : "", version, installed);
        if (has_tree && pj_diag_vercmp(version, "1.3") < 0 && icw && once(ks, "sktree", NULL, NULL))
            pj_diag_emit(r, PJ_LOAD_SKLEARN_VERSION, DIAG_WILL, stream, off,
                         "ValueError: node array from the pickle has an incompatible dtype | why: "
                         "decision trees pickled by scikit-learn %s (< 1.3) lack the "
                         "'missing_go_to_left' node field scikit-learn %s expects | fix: install "
                         "scikit-learn==%s",
                         version, installed, version);
    }
}

/* torch >= 2.6 loads with weights_only=True by default. */
static void rule_torch_weights_only(const diag_target *t, pj_report *r)
{
    if (r->format == NULL || strncmp(r->format, "torch-", 6) != 0)
        return;
    char ver[64] = "";
    if (!pj_diag_fs_dist_version(t, "torch", ver, sizeof ver) || pj_diag_vercmp(ver, "2.6") < 0)
        return;
    const char *fix = "only if you trust the file: torch.load(f, weights_only=False), or allow the "
                      "classes with torch.serialization.add_safe_globals([...])";
    for (size_t s = 0; s < r->n_streams; s++)
        if (r->streams[s].protocol >= 4) {
            pj_diag_emit(r, PJ_LOAD_TORCH_WEIGHTS_ONLY, DIAG_WILL, (int32_t)s, r->streams[s].offset,
                         "_pickle.UnpicklingError: Weights only load failed. ... WeightsUnpickler "
                         "error: Unsupported operand 149 | why: torch %s loads with "
                         "weights_only=True by default, whose unpickler has no protocol-4 FRAME "
                         "opcode | fix: %s",
                         ver, fix);
            return;
        }
    size_t first = SIZE_MAX, bad = 0;
    char others[200] = "";
    for (size_t i = 0; i < r->n_globals; i++) {
        pj_global g = r->globals[i];
        if (g.origin == PJ_ORIGIN_DERIVED || g.origin == PJ_ORIGIN_EXT)
            continue;
        const char *m = g.resolved_module ? g.resolved_module : g.module;
        const char *n = g.resolved_name ? g.resolved_name : g.name;
        if (m == NULL || n == NULL || (!pj_diag_torch_blocked(m) && pj_diag_torch_allowed(m, n)))
            continue;
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            const pj_global *h = &r->globals[j];
            dup = h->resolved_module && h->resolved_name && strcmp(h->resolved_module, m) == 0 &&
                  strcmp(h->resolved_name, n) == 0;
            if (j > 2000)
                break; /* bound the work on hostile files */
        }
        if (dup)
            continue;
        if (first == SIZE_MAX)
            first = i;
        else if (strlen(others) + strlen(m) + strlen(n) + 4 < sizeof others)
            pj_diag_fmt(others + strlen(others), sizeof others - strlen(others), "%s%s.%s",
                     others[0] ? ", " : "", m, n);
        bad++;
    }
    if (first == SIZE_MAX)
        return;
    pj_global g = r->globals[first];
    const char *m = g.resolved_module ? g.resolved_module : g.module;
    const char *n = g.resolved_name ? g.resolved_name : g.name;
    char detail[300];
    if (pj_diag_torch_blocked(m))
        pj_diag_fmt(detail, sizeof detail,
                 "Trying to load unsupported GLOBAL %s.%s whose module %s is blocked.", m, n, m);
    else /* torch prints builtins.getattr as "getattr" */
        pj_diag_fmt(detail, sizeof detail,
                    "Unsupported global: GLOBAL %s%s%s was not an allowed global by default.",
                    strcmp(m, "builtins") == 0 ? "" : m, strcmp(m, "builtins") == 0 ? "" : ".", n);
    char also[220] = "";
    if (others[0])
        pj_diag_fmt(also, sizeof also, " (also %s)", others);
    pj_diag_emit(r, PJ_LOAD_TORCH_WEIGHTS_ONLY, DIAG_WILL, g.stream, g.offset,
                 "_pickle.UnpicklingError: Weights only load failed. ... WeightsUnpickler error: "
                 "%s | why: torch %s defaults to weights_only=True; %zu global(s) are outside its "
                 "allowlist%s | fix: %s",
                 detail, ver, bad, also, fix);
}

static void rule_requirements(const diag_target *t, pj_report *r, modlist *ml)
{
    char list[400] = "";
    size_t n = 0;
    keyset seen = {0};
    for (size_t i = 0; i < ml->n; i++) {
        char top[128];
        top_of(ml->v[i].module, top, sizeof top);
        if (top[0] == '\0' || strcmp(top, "__main__") == 0 || strcmp(top, "__mp_main__") == 0 || in_py3_stdlib(top) ||
            pj_diag_compat_import(top, &(diag_row){0}) != NULL || !keyset_add(&seen, top))
            continue;
        char item[200], dist[128], ver[64];
        if (pj_diag_fs_dist(t, top, dist, sizeof dist, ver, sizeof ver))
            pj_diag_fmt(item, sizeof item, "%s (%s %s)", top, dist, ver);
        else
            pj_diag_fmt(item, sizeof item, "%s%s", top, t->have_site ? " (not installed)" : "");
        if (strlen(list) + strlen(item) + 3 < sizeof list)
            pj_diag_fmt(list + strlen(list), sizeof list - strlen(list), "%s%s", n ? ", " : "", item);
        n++;
    }
    keyset_free(&seen);
    if (n > 0)
        pj_diag_emit(r, PJ_LOAD_REQUIREMENTS, DIAG_NOTE, -1, 0,
                     "loading imports %zu third-party top-level module(s): %s | why: pickle "
                     "imports every module it names | fix: install them in the loading environment",
                     n, list);
}

void pj_diag_globals(const diag_target *t, pj_report *r)
{
    modlist ml = {0};
    keyset ks = {0};
    missing_more mm = {0};
    const size_t ng = r->n_globals;
    ml.slots = calloc(MOD_SLOTS, sizeof *ml.slots);
    if (ml.slots == NULL)
        return;

    for (size_t i = 0; i < ng; i++) {
        const pj_global *g = &r->globals[i];
        if (g->module == NULL || g->name == NULL || g->origin == PJ_ORIGIN_EXT)
            continue;
        const char *mod = g->resolved_module ? g->resolved_module : g->module;
        modref *m = mod_get(&ml, mod);
        if (m != NULL) {
            m->count++;
            continue;
        }
        if (ml.n >= MAX_KEYS)
            continue;
        if (ml.n == ml.cap) {
            size_t nc = ml.cap ? ml.cap * 2 : 64;
            modref *nv = realloc(ml.v, nc * sizeof *nv);
            if (nv == NULL)
                break;
            ml.v = nv;
            ml.cap = nc;
        }
        ml.v[ml.n] = (modref){mod, i, 1, false};
        mod_index(&ml, ml.n++);
    }
    for (size_t i = 0; i < ng; i++) {
        const pj_global *g = &r->globals[i];
        if (g->module == NULL || g->name == NULL || g->origin == PJ_ORIGIN_EXT)
            continue;
        if (mod_get(&ml, g->resolved_module ? g->resolved_module : g->module) == NULL)
            continue;
        rule_py2(r, &ks, &ml, i);
        rule_main(r, &ks, &ml, i);
        rule_torchscript(r, &ks, &ml, i);
        rule_pathlib(t, r, &ks, &ml, i);
    }
    for (size_t i = 0; i < ml.n; i++) {
        if (ml.v[i].handled)
            continue;
        rule_versioned(t, r, &ml.v[i]);
        if (!ml.v[i].handled)
            rule_env(t, r, &ks, &mm, &ml.v[i]);
    }
    if (mm.more > 0)
        pj_diag_emit(r, PJ_LOAD_MODULE_MISSING, DIAG_WILL, mm.stream, mm.offset,
                     "ModuleNotFoundError for %zu more top-level modules: %s | why: they are not in "
                     "the standard library nor in the given site-packages | fix: install them or "
                     "make the code that defined them importable",
                     mm.more, mm.names);
    rule_sklearn_version(t, r, &ks);
    rule_torch_weights_only(t, r);
    rule_requirements(t, r, &ml);
    keyset_free(&ks);
    free(ml.v);
    free(ml.slots);
}
