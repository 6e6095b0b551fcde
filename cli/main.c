/* picklejail command line: options, rendering, exit codes (the walk is in walk.c). */
#include "picklejail.h"
#include "render.h"
#include "render_diagnose.h"
#include "cli.h"
#include "output.h"
#include "progress.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fputs("usage: picklejail scan [options] PATH...\n"
          "       picklejail diagnose [options] PATH...\n"
          "       picklejail --help | --version\n"
          "\n"
          "Vets pickle-based model files (PyTorch, joblib, scikit-learn, NumPy, pandas) without\n"
          "running them: a sandboxed child simulates the pickle machine and reports every global\n"
          "the file imports, every call it would make, and every anomaly.  PATH may be a file, a\n"
          "directory (scanned recursively) or - for standard input.  The format is detected from\n"
          "the bytes, never from the name.\n"
          "\n"
          "commands:\n"
          "  scan                  security verdict: safe, suspicious, dangerous (or error)\n"
          "  diagnose              predict whether and why loading would fail\n"
          "\n"
          "output:\n"
          "  -f, --format FMT      text (default), json, jsonl or sarif\n"
          "  -v, --verbose         text: also list safe globals, calls and info findings\n"
          "  -j, --jobs N          scan N files at a time (default: the number of CPUs, at\n"
          "                        most 64; 1 scans one by one); output order is the input order\n"
          "      --color WHEN      auto (default), always, never\n"
          "  -o, --output FILE     write the report to FILE, atomically (replaced only when\n"
          "                        complete); standard output stays empty (- : stdout)\n"
          "  -q, --quiet           no progress bar; text lists only files that are not safe,\n"
          "                        then the summary\n"
          "      --summary-only    text: only the summary table; json/jsonl: only the summary\n"
          "                        object (docs/report-schema.md)\n"
          "\n"
          "input:\n"
          "      --files-from FILE read more paths from FILE (- for standard input), one per\n"
          "                        line, or NUL-separated if the list holds a NUL (find -print0)\n"
          "      --exclude GLOB    while walking directories, skip entries whose name, path\n"
          "                        below the argument, or path matches GLOB (repeatable)\n"
          "      --follow-symlinks follow symlinks found inside directories (loops are cut);\n"
          "                        by default they are skipped; every skip is reported\n"
          "\n"
          "policy:\n"
          "      --fail-on LEVEL   exit 1 when a file is at least LEVEL: suspicious (default)\n"
          "                        or dangerous\n"
          "      --policy FILE     add allow/deny rules (repeatable; docs/policy.md)\n"
          "      --profile NAME    allow only this ecosystem: torch, sklearn, numpy, pandas,\n"
          "                        joblib, fastai, transformers, lightning, ... (repeatable;\n"
          "                        default: all of them; docs/policy.md)\n"
          "\n"
          "load diagnosis (diagnose, and load findings in scan):\n"
          "      --python VERSION  target Python, e.g. 3.11 (standard-library module check)\n"
          "      --site-packages DIR  look modules up in DIR (repeatable)\n"
          "\n"
          "sandbox and limits:\n"
          "      --no-sandbox      parse in this process (fuzzing and profiling only)\n"
          "      --timeout SEC     wall-clock limit per file (default 30)\n"
          "      --cpu SEC         CPU-time limit per file (default 30)\n"
          "      --memory MB       address-space limit of the sandboxed child (default 2048)\n"
          "      --max-size MB     largest input scanned (default 65536)\n"
          "      --max-opcodes N   opcodes per pickle stream (default 2000000000)\n"
          "      --max-memo N      memo entries (default 8388608)\n"
          "      --max-stack N     stack depth (default 4194304)\n"
          "      --max-nesting N   MARK nesting (default 1048576)\n"
          "      --max-arena MB    scanner memory budget (default 1024)\n"
          "      --max-decompressed MB  total decompressed bytes (default 1024)\n"
          "\n"
          "environment: NO_COLOR (no colours), PICKLEJAIL_PROGRESS_DELAY_MS (when the\n"
          "progress bar appears on a terminal; default 700, 0 at once)\n"
          "\n"
          "exit status: 0 no file at or above --fail-on, 1 at least one such file,\n"
          "2 usage error, or a file could not be read or scanned (and none reached --fail-on).\n",
          out);
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

static bool failing(const cli *c, const pj_report *r);

static void emit(cli *c, const pj_file_result *f)
{
    /* Workers render each file on its own; the parent joins them. */
    bool first = c->nfiles == 0 || c->worker;
    FILE *out = c->out ? c->out : stdout;
    /* --summary-only prints no file; --quiet text leaves out the files with
     * nothing to report (safe; for diagnose, loadable). */
    bool hide = c->summary_only ||
                (c->quiet && c->format == FMT_TEXT &&
                 (c->diagnose ? !failing(c, f->report) : f->report->verdict == PJ_VERDICT_SAFE));
    if (hide) {
        c->nfiles++;
        return;
    }
    pj_progress_clear(c->progress); /* report lines and the bar may share a terminal */
    switch (c->format) {
    case FMT_TEXT:
        if (c->diagnose)
            pj_render_diagnosis(out, f->path, f->report, c->color);
        else
            pj_render_text(out, f, c->color, c->verbose);
        break;
    case FMT_JSON: pj_json_file(out, f, first, false); break;
    case FMT_JSONL: pj_json_file(out, f, first, true); break;
    case FMT_SARIF: pj_sarif_file(out, f, first); break;
    }
    c->nfiles++;
}

/* Does this file fail the run?  scan: verdict at or above --fail-on.
 * diagnose: any load finding that is not informational. */
static bool failing(const cli *c, const pj_report *r)
{
    if (c->diagnose) {
        for (size_t i = 0; i < r->n_findings; i++)
            if (r->findings[i].cls == PJ_CLASS_LOAD && r->findings[i].severity != PJ_SEV_INFO)
                return true;
        return false;
    }
    if (r->verdict == PJ_VERDICT_ERROR)
        return false;
    return (int)r->verdict >= (int)c->fail_on;
}

static void finish_report(cli *c, const char *path, pj_report *r, const char *error)
{
    c->last_verdict = PJ_VERDICT_ERROR;
    c->last_failing = false;
    pj_policy_apply(c->policy, r);
    pj_diagnose_apply(&c->env, r);
    if (!r->scanned)
        r->verdict = PJ_VERDICT_ERROR;
    pj_file_result f = {path, r, error};
    emit(c, &f);
    pj_file_codes_of(r, &c->last_codes);
    pj_summary_add(&c->codes, &c->last_codes);
    c->counts[r->verdict]++;
    if (r->verdict == PJ_VERDICT_ERROR)
        c->any_error = true;
    if (failing(c, r))
        c->any_failing = true;
    c->last_verdict = r->verdict;
    c->last_failing = failing(c, r);
}

static void error_file(cli *c, const char *path, const char *error)
{
    pj_report *r = pj_scan_buffer((const uint8_t *)"", 0, &c->opts);
    if (r == NULL) {
        fprintf(stderr, "picklejail: out of memory\n");
        exit(EXIT_USAGE);
    }
    /* Nothing was scanned: whatever the empty scan found is not about this file. */
    r->n_findings = 0;
    r->n_streams = 0;
    r->n_meta = 0;
    r->scanned = false;
    r->format = "unreadable";
    finish_report(c, path, r, error);
    pj_report_free(r);
}

static void scan_fd(cli *c, const char *path, int fd)
{
    const char *err = NULL;
    pj_report *r = pj_scan_fd(fd, &c->opts, &err);
    if (r == NULL) {
        error_file(c, path, err ? err : "scan failed (out of memory)");
        return;
    }
    finish_report(c, path, r, err);
    pj_report_free(r);
}

/* Scan one job of the walk's list: stdin, a file, or an error found while walking. */
void pj_cli_run_job(cli *c, const pj_cli_job *j)
{
    if (j->error != NULL) {
        error_file(c, j->path, j->error);
        return;
    }
    if (j->is_stdin) {
        scan_fd(c, "-", STDIN_FILENO);
        return;
    }
    char msg[256];
    int fd = pj_cli_open_job(c, j, msg, sizeof msg);
    if (fd < 0) {
        error_file(c, j->path, msg);
        return;
    }
    scan_fd(c, j->path, fd);
    close(fd);
}

enum {
    O_FAIL_ON = 256, O_POLICY, O_PROFILE, O_NO_SANDBOX, O_TIMEOUT, O_CPU, O_MEMORY, O_MAX_SIZE,
    O_MAX_OPCODES, O_MAX_MEMO, O_MAX_STACK, O_MAX_NESTING, O_MAX_ARENA, O_MAX_DECOMP, O_PYTHON,
    O_SITE, O_COLOR, O_VERSION, O_MISBEHAVE, O_JOBS, O_EXCLUDE, O_FOLLOW, O_FILES_FROM,
    O_SUMMARY_ONLY
};

static const struct option long_opts[] = {
    {"format", required_argument, NULL, 'f'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, O_VERSION},
    {"fail-on", required_argument, NULL, O_FAIL_ON},
    {"policy", required_argument, NULL, O_POLICY},
    {"profile", required_argument, NULL, O_PROFILE},
    {"no-sandbox", no_argument, NULL, O_NO_SANDBOX},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"cpu", required_argument, NULL, O_CPU},
    {"memory", required_argument, NULL, O_MEMORY},
    {"max-size", required_argument, NULL, O_MAX_SIZE},
    {"max-opcodes", required_argument, NULL, O_MAX_OPCODES},
    {"max-memo", required_argument, NULL, O_MAX_MEMO},
    {"max-stack", required_argument, NULL, O_MAX_STACK},
    {"max-nesting", required_argument, NULL, O_MAX_NESTING},
    {"max-arena", required_argument, NULL, O_MAX_ARENA},
    {"max-decompressed", required_argument, NULL, O_MAX_DECOMP},
    {"python", required_argument, NULL, O_PYTHON},
    {"site-packages", required_argument, NULL, O_SITE},
    {"color", required_argument, NULL, O_COLOR},
    {"jobs", required_argument, NULL, 'j'},
    {"exclude", required_argument, NULL, O_EXCLUDE},
    {"follow-symlinks", no_argument, NULL, O_FOLLOW},
    {"files-from", required_argument, NULL, O_FILES_FROM},
    {"output", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"summary-only", no_argument, NULL, O_SUMMARY_ONLY},
#ifdef PJ_TEST_BUILD
    {"test-misbehave", required_argument, NULL, O_MISBEHAVE},
#endif
    {NULL, 0, NULL, 0},
};

static int bad_value(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "picklejail: invalid value '%s' for --%s: %s\n", val, opt, why);
    return EXIT_USAGE;
}

static bool valid_python_version(const char *v)
{
    unsigned major, minor;
    char tail;
    return sscanf(v, "%u.%u%c", &major, &minor, &tail) == 2 && major == 3 && minor >= 8 &&
           minor <= 14;
}

int main(int argc, char **argv)
{
    cli c;
    memset(&c, 0, sizeof c);
    pj_options_default(&c.opts);
    c.fail_on = PJ_SEV_SUSPICIOUS;
    int color_mode = 0; /* 0 auto, 1 always, 2 never */
    static const char *excludes[256], *lists[64];
    size_t n_lists = 0;
    const char *output_path = NULL;
    c.excludes = excludes;

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    int first = 1;
    if (strcmp(argv[1], "scan") == 0) {
        first = 2;
    } else if (strcmp(argv[1], "diagnose") == 0) {
        c.diagnose = true;
        first = 2;
    } else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
               strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_CLEAN;
    } else if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("picklejail %s\n", PJ_VERSION);
        return EXIT_CLEAN;
    } else {
        fprintf(stderr, "picklejail: unknown command '%s' (try 'picklejail --help')\n", argv[1]);
        return EXIT_USAGE;
    }

    c.policy = pj_policy_new();
    if (c.policy == NULL) {
        fprintf(stderr, "picklejail: cannot load the built-in policy\n");
        return EXIT_USAGE;
    }
    int rc = EXIT_CLEAN;
    char err[512];
    optind = first;
    int opt;
    uint64_t u;
    while ((opt = getopt_long(argc, argv, "f:vhj:o:q", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (strcmp(optarg, "text") == 0)
                c.format = FMT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                c.format = FMT_JSON;
            else if (strcmp(optarg, "jsonl") == 0)
                c.format = FMT_JSONL;
            else if (strcmp(optarg, "sarif") == 0)
                c.format = FMT_SARIF;
            else
                { rc = bad_value("format", optarg, "expected text, json, jsonl or sarif"); goto out; }
            break;
        case 'v': c.verbose = true; break;
        case 'o':
            if (optarg[0] == '\0')
                { rc = bad_value("output", optarg, "empty file name"); goto out; }
            output_path = strcmp(optarg, "-") == 0 ? NULL : optarg; /* - : standard output */
            break;
        case 'q': c.quiet = true; break;
        case O_SUMMARY_ONLY: c.summary_only = true; break;
        case 'j':
            if (!parse_u64(optarg, 64, &u) || u == 0) {
                rc = bad_value("jobs", optarg, "a number of parallel scans from 1 to 64");
                goto out;
            }
            c.jobs = (unsigned)u;
            break;
        case 'h': usage(stdout); goto out;
        case O_VERSION: printf("picklejail %s\n", PJ_VERSION); goto out;
        case O_FAIL_ON:
            if (strcmp(optarg, "suspicious") == 0)
                c.fail_on = PJ_SEV_SUSPICIOUS;
            else if (strcmp(optarg, "dangerous") == 0)
                c.fail_on = PJ_SEV_DANGEROUS;
            else
                { rc = bad_value("fail-on", optarg, "expected suspicious or dangerous"); goto out; }
            break;
        case O_POLICY:
            if (!pj_policy_add_file(c.policy, optarg, err, sizeof err)) {
                fprintf(stderr, "picklejail: %s\n", err);
                pj_policy_free(c.policy); /* no leak report under ASan */
                return EXIT_USAGE;
            }
            break;
        case O_PROFILE:
            if (!pj_policy_add_profile(c.policy, optarg, err, sizeof err)) {
                fprintf(stderr, "picklejail: %s\n", err);
                pj_policy_free(c.policy); /* no leak report under ASan */
                return EXIT_USAGE;
            }
            break;
        case O_NO_SANDBOX: c.opts.sandbox = false; break;
        case O_TIMEOUT:
            if (!parse_u64(optarg, 86400, &u) || u == 0)
                { rc = bad_value("timeout", optarg, "seconds between 1 and 86400"); goto out; }
            c.opts.timeout_ms = (uint32_t)(u * 1000);
            break;
        case O_CPU:
            if (!parse_u64(optarg, 86400, &u) || u == 0)
                { rc = bad_value("cpu", optarg, "seconds between 1 and 86400"); goto out; }
            c.opts.cpu_seconds = (uint32_t)u;
            break;
        case O_MEMORY:
            if (!parse_u64(optarg, 1u << 20, &u) || u < 64)
                { rc = bad_value("memory", optarg, "megabytes, at least 64"); goto out; }
            c.opts.memory_bytes = u << 20;
            break;
        case O_MAX_SIZE:
            if (!parse_u64(optarg, 1u << 24, &u) || u == 0)
                { rc = bad_value("max-size", optarg, "megabytes, at least 1"); goto out; }
            c.opts.limits.max_input_bytes = u << 20;
            break;
        case O_MAX_OPCODES:
            if (!parse_u64(optarg, UINT64_MAX, &u) || u == 0)
                { rc = bad_value("max-opcodes", optarg, "a positive count"); goto out; }
            c.opts.limits.max_opcodes = u;
            break;
        case O_MAX_MEMO:
        case O_MAX_STACK:
        case O_MAX_NESTING:
            if (!parse_u64(optarg, UINT32_MAX, &u) || u == 0)
                { rc = bad_value(opt == O_MAX_MEMO ? "max-memo" : opt == O_MAX_STACK ? "max-stack"
                                                                                     : "max-nesting",
                                 optarg, "a positive count below 2^32"); goto out; }
            if (opt == O_MAX_MEMO)
                c.opts.limits.max_memo = (uint32_t)u;
            else if (opt == O_MAX_STACK)
                c.opts.limits.max_stack = (uint32_t)u;
            else
                c.opts.limits.max_nesting = (uint32_t)u;
            break;
        case O_MAX_ARENA:
        case O_MAX_DECOMP:
            if (!parse_u64(optarg, 1u << 20, &u) || u == 0)
                { rc = bad_value(opt == O_MAX_ARENA ? "max-arena" : "max-decompressed", optarg,
                                 "megabytes, at least 1"); goto out; }
            if (opt == O_MAX_ARENA)
                c.opts.limits.max_arena_bytes = u << 20;
            else
                c.opts.limits.max_decompressed_bytes = u << 20;
            break;
        case O_PYTHON:
            if (!valid_python_version(optarg))
                { rc = bad_value("python", optarg, "a version from 3.8 to 3.14, like 3.11"); goto out; }
            c.env.python_version = optarg;
            break;
        case O_SITE: {
            struct stat st;
            if (stat(optarg, &st) != 0 || !S_ISDIR(st.st_mode))
                { rc = bad_value("site-packages", optarg, "not a directory"); goto out; }
            if (c.env.n_site_packages >= sizeof c.site_packages / sizeof c.site_packages[0])
                { rc = bad_value("site-packages", optarg, "too many directories (64 at most)"); goto out; }
            c.site_packages[c.env.n_site_packages++] = optarg;
            c.env.site_packages = c.site_packages;
            break;
        }
        case O_COLOR:
            if (strcmp(optarg, "auto") == 0)
                color_mode = 0;
            else if (strcmp(optarg, "always") == 0)
                color_mode = 1;
            else if (strcmp(optarg, "never") == 0)
                color_mode = 2;
            else
                { rc = bad_value("color", optarg, "expected auto, always or never"); goto out; }
            break;
        case O_EXCLUDE:
        case O_FILES_FROM:
            if (*optarg == '\0')
                { rc = bad_value(opt == O_EXCLUDE ? "exclude" : "files-from", optarg, "empty"); goto out; }
            /* argv outlives the run: keep pointers, in command-line order. */
            if (opt == O_EXCLUDE && c.n_excludes < sizeof excludes / sizeof excludes[0])
                excludes[c.n_excludes++] = optarg;
            else if (opt == O_FILES_FROM && n_lists < sizeof lists / sizeof lists[0])
                lists[n_lists++] = optarg;
            else
                { rc = bad_value(opt == O_EXCLUDE ? "exclude" : "files-from", optarg, "given too many times"); goto out; }
            break;
        case O_FOLLOW: c.follow_symlinks = true; break;
#ifdef PJ_TEST_BUILD
        case O_MISBEHAVE:
            c.opts.test_misbehave = pj_test_misbehave_parse(optarg);
            if (c.opts.test_misbehave < 0)
                { rc = bad_value("test-misbehave", optarg, "unknown mode"); goto out; }
            break;
#endif
        default:
            fprintf(stderr, "picklejail: try 'picklejail --help'\n");
            rc = EXIT_USAGE;
            goto out;
        }
    }
    if (optind >= argc && n_lists == 0) {
        fprintf(stderr, "picklejail: no PATH given (use - for standard input, or --files-from)\n");
        rc = EXIT_USAGE;
        goto out;
    }
    if (!pj_cli_stdin_once(argc - optind, argv + optind, n_lists, lists)) {
        rc = EXIT_USAGE;
        goto out;
    }
    if (c.jobs == 0)
        c.jobs = pj_cli_default_jobs();
    if (c.summary_only && c.format == FMT_SARIF) {
        fprintf(stderr, "picklejail: --summary-only works with text, json and jsonl, not sarif\n");
        rc = EXIT_USAGE;
        goto out;
    }
    c.color = color_mode == 1 || (color_mode == 0 && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL);
    if (c.format != FMT_TEXT || (output_path != NULL && color_mode != 1))
        c.color = false; /* a report going to a file gets no colour unless asked */

    /* Walk first (the whole job list: PATH arguments, then the lists), then
     * scan serially or in worker processes; output keeps that order. */
    for (int i = optind; i < argc; i++)
        pj_cli_walk(&c, argv[i]);
    for (size_t i = 0; i < n_lists; i++)
        if (!pj_cli_walk_list(&c, lists[i]))
            { rc = EXIT_USAGE; goto out; }
    /* After the walk (its temporary file must not be walked into the scan),
     * before anything is scanned or written. */
    if (output_path != NULL && !pj_output_open(output_path, err, sizeof err)) {
        fprintf(stderr, "picklejail: %s\n", err);
        rc = EXIT_USAGE;
        goto out;
    }
    if (c.format == FMT_JSON)
        pj_json_begin(stdout, !c.summary_only);
    else if (c.format == FMT_SARIF)
        pj_sarif_begin(stdout);
    uint64_t total_bytes = 0;
    for (size_t i = 0; i < c.n_jobs; i++)
        total_bytes += c.job_list[i].size;
    c.progress = pj_progress_new(c.n_jobs, total_bytes, !c.quiet);
    pj_cli_run_all(&c);
    pj_progress_free(c.progress);
    c.progress = NULL;
    rc = c.any_failing ? EXIT_FINDINGS : c.any_error ? EXIT_USAGE : EXIT_CLEAN;
    pj_run_totals totals = {c.nfiles, c.counts, &c.codes, rc, &c.skipped};
    if (c.format == FMT_JSONL && c.summary_only)
        pj_json_summary_line(stdout, &totals);
    else if (c.format == FMT_JSONL)
        pj_skipped_jsonl(stdout, &c.skipped);
    if (c.format == FMT_JSON)
        pj_json_end(stdout, !c.summary_only, &totals);
    else if (c.format == FMT_SARIF)
        pj_sarif_end(stdout, &totals);
    else if (c.format == FMT_TEXT &&
             (c.summary_only || (!c.diagnose && (c.nfiles > 1 || c.quiet))))
        pj_render_text_summary(stdout, &totals, c.color);
    if (c.format == FMT_TEXT)
        pj_skipped_text(stdout, &c.skipped, c.verbose, c.color);
    if (output_path != NULL) {
        /* Flushes, checks for write errors, fsyncs, renames into place. */
        if (!pj_output_commit(err, sizeof err)) {
            fprintf(stderr, "picklejail: %s\n", err);
            rc = EXIT_USAGE;
        }
    } else if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "picklejail: error writing the report\n");
        rc = EXIT_USAGE;
    }
out:
    pj_policy_free(c.policy);
    pj_cli_free_jobs(&c);
    return rc;
}
