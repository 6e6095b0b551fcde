/* Load-failure diagnosis: internal interfaces.
 *
 * diagnose.c     orchestration, file triage, per-stream rules (pure)
 * diag_globals.c per-global rules and the target-environment rules (pure)
 * diag_tables.c  queries over the compiled-in data tables, version compare (pure)
 * diag_fs.c      the only file-system access: module and .dist-info look-ups
 *
 * Every finding message has the form
 *   "<outcome>: <what the user would see> | why: <cause> | fix: <what to do>"
 * where <outcome> is one of "will fail", "may fail", "warning", "note". */
#ifndef PJ_DIAG_H
#define PJ_DIAG_H

#include "picklejail.h"
#include "report.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum diag_outcome {
    DIAG_WILL = 0, /* fails for the given (or any) target: severity SUSPICIOUS */
    DIAG_MAY = 1,  /* fails on some targets (no CUDA, numpy < 2, ...): SUSPICIOUS */
    DIAG_WARN = 2, /* loads, with a warning: INFO */
    DIAG_NOTE = 3, /* information (minimum Python, needed modules, wrong loader): INFO */
} diag_outcome;

/* Add a PJ5xx finding "<outcome>: <fmt...>". */
void pj_diag_emit(pj_report *r, pj_code code, diag_outcome o, int32_t stream, uint64_t offset,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* snprintf whose truncation is intended (messages are bounded one-liners). */
void pj_diag_fmt(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The target: parsed once from pj_diag_env. */
typedef struct diag_target {
    const pj_diag_env *env;
    int py_minor;     /* 3.X: X, or -1 when no --python */
    bool have_site;   /* site-packages directories given */
    struct diag_fs_cache *cache; /* look-up state for one diagnosis (may be NULL) */
} diag_target;

/* ---- diag_tables.c -------------------------------------------------- */

/* A data-table line split into space-separated columns. */
typedef struct diag_row {
    char buf[256];
    const char *col[6];
    int n;
} diag_row;
bool pj_diag_row_split(const char *line, diag_row *row);

/* Compare dotted versions numerically ("1.26.4" < "2.0"; "2.6.0+cpu" == "2.6.0");
 * "-" or NULL compare as "no bound" (callers check). */
int pj_diag_vercmp(const char *a, const char *b);
/* "3.11" -> 11; returns -1 when not a Python 3 version. */
int pj_diag_py_minor(const char *version);

/* Standard library: is the top-level module in 3.<minor> (minor < 0: in any of 3.8..3.14)?
 * since/until receive the table's bounds ("3.9", "-") when found in the table at all. */
bool pj_diag_stdlib_has(const char *top, int minor, const char **since_out, const char **until_out,
                        diag_row *row);
/* _compat_pickle: Python 3 module for a Python 2 module, or NULL. */
const char *pj_diag_compat_import(const char *module, diag_row *row);
/* _compat_pickle NAME_MAPPING: true and the Python 3 (module, name) in row->col[2..3]. */
bool pj_diag_compat_name(const char *module, const char *name, diag_row *row);
/* Python-2-only module without a mapping: the hint ("use hashlib"), or NULL. */
const char *pj_diag_py2_only(const char *top);
/* "windows" / "posix" for OS-specific stdlib modules, or NULL. */
const char *pj_diag_platform_module(const char *top, diag_row *row);
/* Distribution name for a top-level import name (table, else the name itself). */
const char *pj_diag_dist_name(const char *top, diag_row *row);
/* Longest versioned-module prefix covering module: row cols = prefix dist since until repl
 * without-target ("warn" | "quiet"). */
bool pj_diag_versioned_module(const char *module, diag_row *row);
/* torch weights-only: allowed by default?  blocked module? */
bool pj_diag_torch_allowed(const char *module, const char *name);
bool pj_diag_torch_blocked(const char *module);

/* ---- diag_fs.c (I/O) ------------------------------------------------ */

typedef enum diag_mod_state {
    DIAG_MOD_UNKNOWN = 0, /* not looked up (no site-packages given) */
    DIAG_MOD_FOUND = 1,
    DIAG_MOD_MISSING = 2,     /* missing: `missing` is the dotted name that fails */
    DIAG_MOD_NOT_PACKAGE = 3, /* `parent` is a plain module, `missing` its "submodule" */
} diag_mod_state;

typedef struct diag_mod_status {
    diag_mod_state state;
    char missing[256];
    char parent[256];
    char where[512];     /* found: the file/dir; missing: an extension built for another Python */
    bool stdlib;         /* top-level is in the target's standard library */
} diag_mod_status;

/* Resolve a dotted module name in the site-packages directories the way
 * importlib's PathFinder/FileFinder would (top-level already known not to be
 * standard library). */
void pj_diag_fs_resolve(const diag_target *t, const char *dotted, diag_mod_status *st);
/* Per-diagnosis cache of installed distributions and the look-up budget. */
struct diag_fs_cache *pj_diag_fs_cache_new(void);
void pj_diag_fs_cache_free(struct diag_fs_cache *c);
/* More modules were named than the look-up budget allows (the rest are unknown). */
bool pj_diag_fs_budget_spent(const diag_target *t);
/* Installed distribution providing a top-level module: name and version from
 * *.dist-info/METADATA (matched through top_level.txt, RECORD, or the name). */
bool pj_diag_fs_dist(const diag_target *t, const char *top, char *name, size_t name_len,
                     char *version, size_t version_len);
/* Installed version of a distribution by name (normalised compare). */
bool pj_diag_fs_dist_version(const diag_target *t, const char *dist, char *version,
                             size_t version_len);

/* ---- diag_globals.c ------------------------------------------------- */

void pj_diag_globals(const diag_target *t, pj_report *r);

#endif
