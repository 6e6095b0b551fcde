/* picklejail: vet pickle-based model files without running them.
 *
 * Public C API.  A scan turns bytes into a pj_report: the pickle streams found
 * (and where), every global each stream references, every call it would
 * make, and findings (stable codes with offsets).  The CLI uses only this
 * header.  All strings in a report are NUL-terminated, printable (hostile
 * bytes are escaped as \xNN) and owned by the report. */
#ifndef PICKLEJAIL_H
#define PICKLEJAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PJ_VERSION "0.1.0"

typedef enum pj_severity {
    PJ_SEV_INFO = 0,
    PJ_SEV_SUSPICIOUS = 1,
    PJ_SEV_DANGEROUS = 2,
} pj_severity;

/* What a finding is about.  LOAD findings predict load failures and never
 * change the security verdict. */
typedef enum pj_class { PJ_CLASS_SECURITY = 0, PJ_CLASS_LOAD = 1 } pj_class;

typedef enum pj_code {
#define PJ_CODE(sym, num, sev, cls, title) PJ_##sym = num,
#include "picklejail_codes.def"
#undef PJ_CODE
} pj_code;

/* The verdict of a file: worst security finding, or ERROR when the file could
 * not be scanned at all (never reported as SAFE). */
typedef enum pj_verdict {
    PJ_VERDICT_SAFE = 0,
    PJ_VERDICT_SUSPICIOUS = 1,
    PJ_VERDICT_DANGEROUS = 2,
    PJ_VERDICT_ERROR = 3,
} pj_verdict;

/* Policy class of a global (filled by pj_policy_apply). */
typedef enum pj_global_class {
    PJ_POLICY_UNCLASSIFIED = 0,
    PJ_POLICY_SAFE = 1,
    PJ_POLICY_UNKNOWN = 2,
    PJ_POLICY_DANGEROUS = 3,
} pj_global_class;

typedef struct pj_finding {
    pj_code code;
    pj_severity severity;
    pj_class cls;
    int32_t stream;      /* index into report->streams, or -1 for the file */
    uint64_t offset;     /* byte offset in the stream's data (file offset when stream == -1) */
    const char *message; /* one line for a person */
} pj_finding;

/* How a global came to be referenced. */
typedef enum pj_global_origin {
    PJ_ORIGIN_GLOBAL = 0,       /* GLOBAL opcode */
    PJ_ORIGIN_STACK_GLOBAL = 1, /* STACK_GLOBAL opcode */
    PJ_ORIGIN_INST = 2,         /* INST opcode */
    PJ_ORIGIN_EXT = 3,          /* EXT1/2/4 through copyreg's registry (unknown target) */
    PJ_ORIGIN_DERIVED = 4,      /* computed by a call: getattr(x, "n"), __import__("m") */
} pj_global_origin;

typedef struct pj_global {
    const char *module;          /* as written in the pickle */
    const char *name;
    const char *resolved_module; /* after _compat_pickle mapping (== module if unchanged) */
    const char *resolved_name;
    int32_t stream;
    uint64_t offset;
    uint8_t opcode;              /* the opcode byte that made it */
    pj_global_origin origin;
    bool called;                 /* used as the callee of some call */
    pj_global_class policy;      /* filled by the policy */
    const char *policy_rule;     /* which rule decided (may be NULL) */
} pj_global;

typedef struct pj_call {
    const char *callee;   /* expression: "os.system", "getattr(builtins.__import__('os'), 'system')" */
    const char *args;     /* summarised argument expression: "('touch x',)" */
    int32_t stream;
    uint64_t offset;
    uint8_t opcode;       /* REDUCE, INST, OBJ, NEWOBJ, NEWOBJ_EX, or BUILD */
    int32_t callee_global;/* index into report->globals when the callee is a global, else -1 */
    int32_t arg_globals[4]; /* globals passed directly as positional arguments, -1 padded */
    pj_global_class policy;
} pj_call;

typedef struct pj_stream {
    const char *location; /* "", or container path: "archive/data.pkl", "pickle#2@1234", "gzip>joblib" */
    uint64_t offset;      /* where the stream starts within its data */
    uint64_t length;      /* bytes consumed up to and including STOP (or to the error) */
    int protocol;         /* PROTO argument, or 0 when absent; -1 if unknown */
    uint64_t opcodes;     /* opcodes executed */
    bool complete;        /* reached STOP without error */
} pj_stream;

typedef struct pj_report {
    const char *format;   /* detected container: "pickle", "torch-zip", ... */
    pj_stream *streams;
    size_t n_streams;
    pj_global *globals;
    size_t n_globals;
    pj_call *calls;
    size_t n_calls;
    pj_finding *findings;
    size_t n_findings;
    /* key/value metadata: "torch.version" = "3", "npy.descr" = "|O", ... */
    const char **meta_keys;
    const char **meta_values;
    size_t n_meta;
    pj_verdict verdict;   /* filled by pj_policy_apply; SAFE until then */
    bool scanned;         /* false when the file could not be scanned at all */
    struct pj_report_impl *impl;
} pj_report;

typedef struct pj_limits {
    uint64_t max_input_bytes;        /* whole input */
    uint64_t max_opcodes;            /* per stream */
    uint32_t max_stack;              /* stack depth */
    uint32_t max_memo;               /* memo entries */
    uint32_t max_nesting;            /* container nesting (MARK depth, containers in containers) */
    uint64_t max_arena_bytes;        /* scanner memory budget */
    uint64_t max_decompressed_bytes; /* total across wrappers */
    uint32_t max_container_depth;    /* zip in gzip in tar ... */
    uint32_t max_streams;            /* pickles per file */
    uint32_t max_findings;           /* findings per file */
    uint32_t excerpt_len;            /* bytes of a string kept in call summaries */
} pj_limits;

typedef struct pj_options {
    pj_limits limits;
    bool sandbox;             /* fork + seccomp child (default true) */
    uint32_t timeout_ms;      /* wall clock per file in the sandbox */
    uint32_t cpu_seconds;     /* RLIMIT_CPU in the sandbox */
    uint64_t memory_bytes;    /* RLIMIT_AS in the sandbox */
    int test_misbehave;       /* test builds only: make the child misbehave (see sandbox.h) */
} pj_options;

void pj_options_default(pj_options *opts);

/* Scan bytes in this process (no sandbox).  Never fails on hostile input:
 * problems become findings.  Returns NULL only when out of memory before a
 * report could be created. */
pj_report *pj_scan_buffer(const uint8_t *data, size_t len, const pj_options *opts);

/* Scan an open file descriptor (regular file: mapped; pipe: read up to the
 * input limit).  Runs in the sandbox unless opts->sandbox is false.  I/O
 * errors are returned as a report with scanned == false and a message in
 * *error (static string) when error is not NULL. */
pj_report *pj_scan_fd(int fd, const pj_options *opts, const char **error);

/* The sandbox starts its children from a small helper process (a fork
 * server, started by the first sandboxed scan of a single-threaded process;
 * it exits with this process).  Stop it now and reap it; the next sandboxed
 * scan starts a new one. */
void pj_sandbox_shutdown(void);

void pj_report_free(pj_report *report);

#ifdef PJ_TEST_BUILD
/* Test builds only: the pj_options.test_misbehave mode for a name ("open",
 * "exec", "segv", "loop", ...; see sandbox/sandbox.h), or -1.  A mode only
 * applies to inputs that start with "PJ-MISBEHAVE". */
int pj_test_misbehave_parse(const char *name);
#endif

/* Code metadata. */
const char *pj_code_id(pj_code code);          /* "PJ101" (static) */
const char *pj_code_title(pj_code code);
pj_severity pj_code_severity(pj_code code);
pj_class pj_code_class(pj_code code);
bool pj_code_valid(int code);
const char *pj_severity_name(pj_severity s);   /* "info", "suspicious", "dangerous" */
const char *pj_verdict_name(pj_verdict v);     /* "safe", "suspicious", "dangerous", "error" */
const char *pj_global_class_name(pj_global_class c);
const char *pj_opcode_name(uint8_t opcode);    /* "REDUCE", or NULL */

/* Policy (policy/).  A policy is the built-in rule sets plus user files. */
typedef struct pj_policy pj_policy;
pj_policy *pj_policy_new(void);
/* Add rules from text; on error returns false and writes "file:line: message"
 * into err (errlen bytes). */
bool pj_policy_add_text(pj_policy *p, const char *source_name, const char *text, size_t len,
                        char *err, size_t errlen);
bool pj_policy_add_file(pj_policy *p, const char *path, char *err, size_t errlen);
bool pj_policy_add_profile(pj_policy *p, const char *profile, char *err, size_t errlen);
/* Classify every global and call, add policy findings, set the verdict. */
void pj_policy_apply(const pj_policy *p, pj_report *report);
void pj_policy_free(pj_policy *p);
/* Built-in profiles (for --profile and help): "dangerous", "stdlib", "torch", ... */
size_t pj_policy_profile_count(void);
const char *pj_policy_profile_name(size_t i);
/* "info" | "suspicious" | "dangerous" -> severity; false when unknown. */
bool pj_severity_parse(const char *s, pj_severity *out);
/* Exit code for a run whose worst verdict is `worst`: 0 below the --fail-on
 * threshold, 1 at or above it, 2 when a file could not be scanned (ERROR).
 * (Usage errors are 2 as well; the CLI decides those itself.) */
int pj_exit_code(pj_verdict worst, pj_severity fail_on);

/* Load-failure diagnosis (diagnose/): add PJ5xx LOAD findings predicting how
 * loading the file would fail, from the report alone and, when given, against
 * a target environment (looked up on disk by the caller's process). */
typedef struct pj_diag_env {
    const char *python_version;        /* "3.11", or NULL for no stdlib check */
    const char *const *site_packages;  /* directories to look modules up in */
    size_t n_site_packages;
} pj_diag_env;
void pj_diagnose_apply(const pj_diag_env *env, pj_report *report);

/* Add a finding to a report (used by the policy, the sandbox and diagnosis). */
bool pj_report_add_finding(pj_report *report, pj_code code, pj_severity severity, int32_t stream,
                           uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Copy a string into the report's storage. */
const char *pj_report_strdup(pj_report *report, const char *s);

#ifdef __cplusplus
}
#endif
#endif
