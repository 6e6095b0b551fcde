/* The sandbox (sandbox/): input handling, the jail holding against each
 * test-only misbehaviour of the child, and no leaked descriptors or zombie
 * processes across many scans.  Needs the test build (PJ_TEST_BUILD). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "picklejail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* protocol 2: GLOBAL os.system + REDUCE */
static const char evil[] = "\x80\x02" "cos\nsystem\n" "X\x04\x00\x00\x00" "echo" "\x85" "R" ".";

static char tmpdir[] = "/tmp/pj-test-sandbox-XXXXXX";

static const char *write_file(const char *name, const void *data, size_t n)
{
    static char path[4][512];
    static int slot;
    char *p = path[slot++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    if (n > 0)
        assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    return p;
}

static pj_report *scan_path(const char *path, const pj_options *o)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    const char *err = NULL;
    pj_report *r = pj_scan_fd(fd, o, &err);
    close(fd);
    assert_non_null(r);
    return r;
}

static const pj_finding *find_code(const pj_report *r, pj_code code)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].code == code)
            return &r->findings[i];
    return NULL;
}

static void opts(pj_options *o)
{
    pj_options_default(o);
    o->sandbox = true;
    o->timeout_ms = 10000;
    o->cpu_seconds = 10;
    o->memory_bytes = 256u << 20;
}

static bool has_global(const pj_report *r, const char *module, const char *name)
{
    for (size_t i = 0; i < r->n_globals; i++)
        if (strcmp(r->globals[i].module, module) == 0 && strcmp(r->globals[i].name, name) == 0)
            return true;
    return false;
}

/* The sandboxed scan reports what the in-process scan reports. */
static void test_same_as_in_process(void **state)
{
    (void)state;
    const char *p = write_file("evil.pkl", evil, sizeof evil - 1);
    pj_options o;
    opts(&o);
    pj_report *a = scan_path(p, &o);
    o.sandbox = false;
    pj_report *b = scan_path(p, &o);
    assert_true(has_global(a, "os", "system"));
    assert_int_equal(a->n_globals, b->n_globals);
    assert_int_equal(a->n_calls, b->n_calls);
    assert_int_equal(a->n_streams, b->n_streams);
    assert_int_equal(a->n_findings, b->n_findings);
    assert_string_equal(a->format, b->format);
    for (size_t i = 0; i < a->n_findings; i++) {
        assert_int_equal(a->findings[i].code, b->findings[i].code);
        assert_string_equal(a->findings[i].message, b->findings[i].message);
    }
    for (size_t i = 0; i < a->n_findings; i++)
        assert_true(a->findings[i].code < 400 || a->findings[i].code >= 500);
    pj_report_free(a);
    pj_report_free(b);
}

static void test_empty_file(void **state)
{
    (void)state;
    const char *p = write_file("empty.pkl", "", 0);
    pj_options o;
    opts(&o);
    pj_report *r = scan_path(p, &o);
    assert_true(r->scanned);
    assert_null(find_code(r, PJ_SANDBOX_NO_REPORT));
    assert_true(r->n_findings > 0); /* an empty file is never silently fine */
    pj_report_free(r);
}

static void test_directory(void **state)
{
    (void)state;
    int fd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    pj_options o;
    opts(&o);
    const char *err = NULL;
    pj_report *r = pj_scan_fd(fd, &o, &err);
    close(fd);
    assert_non_null(r);
    assert_false(r->scanned);
    assert_non_null(err);
    pj_report_free(r);
}

/* A pipe longer than the input limit: a LIMIT_INPUT finding, and the prefix
 * is still scanned. */
static void scan_pipe(const void *data, size_t n, pj_options *o, pj_report **out)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t w = fork();
    if (w == 0) {
        close(p[0]);
        const char *c = data;
        while (n > 0) {
            ssize_t k = write(p[1], c, n);
            if (k <= 0)
                _exit(0);
            c += k;
            n -= (size_t)k;
        }
        _exit(0);
    }
    close(p[1]);
    *out = pj_scan_fd(p[0], o, NULL);
    close(p[0]);
    waitpid(w, NULL, 0);
}

static void test_pipe_limit(void **state)
{
    (void)state;
    size_t n = 300000;
    char *big = malloc(n);
    memcpy(big, evil, sizeof evil - 1);
    memset(big + sizeof evil - 1, 'A', n - (sizeof evil - 1));
    pj_options o;
    opts(&o);
    o.limits.max_input_bytes = 100000;
    pj_report *r;
    scan_pipe(big, n, &o, &r);
    assert_non_null(r);
    assert_non_null(find_code(r, PJ_LIMIT_INPUT));
    assert_true(has_global(r, "os", "system"));
    pj_report_free(r);
    /* Within the limit: no finding. */
    o.limits.max_input_bytes = 1000000;
    scan_pipe(big, n, &o, &r);
    assert_null(find_code(r, PJ_LIMIT_INPUT));
    assert_true(has_global(r, "os", "system"));
    pj_report_free(r);
    /* A stream is held in memory: the memory limit bounds it too. */
    o.memory_bytes = 200000;
    scan_pipe(big, n, &o, &r);
    assert_non_null(find_code(r, PJ_LIMIT_INPUT));
    pj_report_free(r);
    free(big);
}

static void test_file_limit(void **state)
{
    (void)state;
    const char *p = write_file("evil_limit.pkl", evil, sizeof evil - 1);
    pj_options o;
    opts(&o);
    o.limits.max_input_bytes = 8;
    pj_report *r = scan_path(p, &o);
    assert_non_null(find_code(r, PJ_LIMIT_INPUT));
    pj_report_free(r);
}

struct mb_case {
    const char *mode;
    pj_code code;
    const char *msg; /* substring of the message, or NULL */
};

static const struct mb_case cases[] = {
    {"open", PJ_SANDBOX_VIOLATION, "openat"},
    {"exec", PJ_SANDBOX_VIOLATION, "execve"},
    {"socket", PJ_SANDBOX_VIOLATION, "socket"},
    {"mmap-exec", PJ_SANDBOX_VIOLATION, "mmap"},
    {"mprotect-exec", PJ_SANDBOX_VIOLATION, "mprotect"},
    {"fork", PJ_SANDBOX_VIOLATION, "clone"},
    {"stdout", PJ_SANDBOX_VIOLATION, "write"},
    {"proc-status", PJ_SANDBOX_VIOLATION, "openat"},
    {"abort", PJ_SANDBOX_VIOLATION, "abort()"},
    {"segv", PJ_SANDBOX_CRASH, "SEGV"},
    {"alloc", PJ_SANDBOX_OOM, NULL},
    {"garbage", PJ_SANDBOX_BAD_REPORT, "magic"},
    {"huge-length", PJ_SANDBOX_BAD_REPORT, "body length"},
    {"exit", PJ_SANDBOX_NO_REPORT, NULL},
    {"bad-index", PJ_SANDBOX_BAD_REPORT, "out of range"},
    {"no-seccomp", PJ_SANDBOX_UNAVAILABLE, "--no-sandbox"},
};

/* Each misbehaviour yields its own finding; a normal file scanned right
 * after (same options, so the mode is still set) is scanned normally. */
static void test_misbehave(void **state)
{
    (void)state;
    char bad[64];
    snprintf(bad, sizeof bad, "PJ-MISBEHAVE\n");
    const char *pb = write_file("bad.pkl", bad, strlen(bad));
    const char *pg = write_file("good.pkl", evil, sizeof evil - 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pj_options o;
        opts(&o);
        o.test_misbehave = pj_test_misbehave_parse(cases[i].mode);
        assert_true(o.test_misbehave > 0);
        pj_report *r = scan_path(pb, &o);
        const pj_finding *f = find_code(r, cases[i].code);
        if (f == NULL)
            fail_msg("mode %s: no %s finding (%zu findings, first: %s)", cases[i].mode,
                     pj_code_id(cases[i].code), r->n_findings,
                     r->n_findings ? r->findings[0].message : "-");
        assert_true(f->severity >= PJ_SEV_SUSPICIOUS);
        if (cases[i].msg != NULL && strstr(f->message, cases[i].msg) == NULL)
            fail_msg("mode %s: message '%s' lacks '%s'", cases[i].mode, f->message,
                     cases[i].msg);
        if (cases[i].code == PJ_SANDBOX_UNAVAILABLE)
            assert_false(r->scanned);
        pj_report_free(r);
        r = scan_path(pg, &o);
        assert_true(has_global(r, "os", "system"));
        for (size_t k = 0; k < r->n_findings; k++)
            assert_true(r->findings[k].code < 400 || r->findings[k].code >= 500);
        pj_report_free(r);
    }
    assert_int_equal(pj_test_misbehave_parse("no-such-mode"), -1);
}

static void test_timeout_and_cpu(void **state)
{
    (void)state;
    const char *pb = write_file("loop.pkl", "PJ-MISBEHAVE", 12);
    pj_options o;
    opts(&o);
    o.test_misbehave = pj_test_misbehave_parse("loop");
    o.timeout_ms = 300;
    pj_report *r = scan_path(pb, &o);
    assert_non_null(find_code(r, PJ_SANDBOX_TIMEOUT));
    pj_report_free(r);
    o.timeout_ms = 10000;
    o.cpu_seconds = 1;
    r = scan_path(pb, &o);
    assert_non_null(find_code(r, PJ_SANDBOX_CPU));
    pj_report_free(r);
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Thousands of scans, normal and misbehaving: no descriptor leaks and no
 * child left unreaped. */
static void test_no_leaks(void **state)
{
    (void)state;
    const char *pg = write_file("many.pkl", evil, sizeof evil - 1);
    const char *pb = write_file("many_bad.pkl", "PJ-MISBEHAVE", 12);
    pj_options o;
    opts(&o);
    o.test_misbehave = pj_test_misbehave_parse("segv");
    /* The fork server starts after a process's first 16 file scans; its
     * socket is open from here on. */
    for (int i = 0; i < 20; i++)
        pj_report_free(scan_path(pg, &o));
    int before = count_fds();
    for (int i = 0; i < 2000; i++) {
        pj_report *r = scan_path(i % 10 == 0 ? pb : pg, &o);
        pj_report_free(r);
    }
    assert_int_equal(count_fds(), before);
    /* The only child left is the fork server; once it is stopped, none. */
    pj_sandbox_shutdown();
    assert_int_equal(count_fds(), before - 1);
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* This process's live children (from /proc), at most n of them. */
static int children(pid_t *out, int n)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", (int)getpid());
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    int k = 0;
    for (char *t = strtok(buf, " \n"); t != NULL && k < n; t = strtok(NULL, " \n"))
        out[k++] = (pid_t)atoi(t);
    return k;
}

/* The first word of a process's command line. */
static void cmdline(pid_t pid, char *buf, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t len = fread(buf, 1, n - 1, f);
    fclose(f);
    buf[len] = '\0';
}

/* Children are started by the fork server (one helper process, kept between
 * scans); a killed server is replaced without losing a scan or leaving a
 * zombie; a forked copy of this process does not use the server it
 * inherited; pj_sandbox_shutdown stops it.  Run for both kinds of server:
 * this executable started again (the default), and a copy of this process
 * (when the executable cannot be started). */
static void fork_server(bool exec_mode)
{
    const char *p = write_file("srv.pkl", evil, sizeof evil - 1);
    pj_options o;
    opts(&o);
    /* Past the first 16 file scans of the process, the server starts at
     * the first scan after a shutdown. */
    for (int i = 0; i < 20; i++)
        pj_report_free(scan_path(p, &o));
    pj_sandbox_shutdown();
    pj_report *r = scan_path(p, &o);
    assert_true(has_global(r, "os", "system"));
    pj_report_free(r);
    pid_t kids[4];
    assert_int_equal(children(kids, 4), 1);
    pid_t server = kids[0];
    char cmd[256], self[256];
    cmdline(server, cmd, sizeof cmd);
    cmdline(getpid(), self, sizeof self);
    if (exec_mode)
        assert_string_equal(cmd, "picklejail-sandbox-server");
    else
        assert_string_equal(cmd, self);
    r = scan_path(p, &o);
    assert_true(has_global(r, "os", "system"));
    pj_report_free(r);
    assert_int_equal(children(kids, 4), 1);
    assert_int_equal(kids[0], server);

    /* A child that times out is killed and reaped by this process, its parent. */
    const char *pb = write_file("srv_loop.pkl", "PJ-MISBEHAVE", 12);
    pj_options lo = o;
    lo.test_misbehave = pj_test_misbehave_parse("loop");
    lo.timeout_ms = 300;
    r = scan_path(pb, &lo);
    assert_non_null(find_code(r, PJ_SANDBOX_TIMEOUT));
    pj_report_free(r);
    assert_int_equal(children(kids, 4), 1);

    /* The server dies: the next scan still works, the dead one is reaped. */
    assert_int_equal(kill(server, SIGKILL), 0);
    for (int i = 0; i < 3; i++) {
        r = scan_path(p, &o);
        assert_true(has_global(r, "os", "system"));
        assert_null(find_code(r, PJ_SANDBOX_NO_REPORT));
        pj_report_free(r);
    }
    errno = 0;
    assert_int_equal(kill(server, 0), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(children(kids, 4), 1);
    assert_true(kids[0] != server);
    server = kids[0];

    /* A forked copy scans on its own (its own server, or its own fork). */
    pid_t w = fork();
    assert_true(w >= 0);
    if (w == 0) {
        pj_report *c = scan_path(p, &o);
        _exit(has_global(c, "os", "system") && find_code(c, PJ_SANDBOX_NO_REPORT) == NULL ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(w, &st, 0), w);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    r = scan_path(p, &o);
    assert_true(has_global(r, "os", "system"));
    pj_report_free(r);
    assert_int_equal(children(kids, 4), 1);
    assert_int_equal(kids[0], server);

    pj_sandbox_shutdown();
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void test_fork_server(void **state)
{
    (void)state;
    fork_server(true);
    setenv("PJ_TEST_SERVER_NO_EXEC", "1", 1);
    fork_server(false);
    unsetenv("PJ_TEST_SERVER_NO_EXEC");
}

/* Multi-threaded callers get fork() instead of a bare clone.  Under ASan
 * (clang 14 does not lock its allocator around fork) a child can inherit a
 * held lock: that must end as a PJ401 deadlock, never as a violation, a
 * hang or a wrong report. */
static const char *mt_path;
static void *mt_worker(void *arg)
{
    (void)arg;
    pj_options o;
    opts(&o);
    long bad = 0;
    for (int i = 0; i < 50; i++) {
        int fd = open(mt_path, O_RDONLY | O_CLOEXEC);
        pj_report *r = pj_scan_fd(fd, &o, NULL);
        close(fd);
        bool deadlock = find_code(r, PJ_SANDBOX_CRASH) != NULL;
        if (find_code(r, PJ_SANDBOX_VIOLATION) != NULL || (!deadlock && !has_global(r, "os", "system")))
            bad++;
        pj_report_free(r);
    }
    return (void *)bad;
}

static void test_threads(void **state)
{
    (void)state;
    mt_path = write_file("mt.pkl", evil, sizeof evil - 1);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, mt_worker, NULL), 0);
    long bad = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad += (long)r;
    }
    assert_int_equal(bad, 0);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_in_process),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_pipe_limit),
        cmocka_unit_test(test_file_limit),
        cmocka_unit_test(test_misbehave),
        cmocka_unit_test(test_timeout_and_cpu),
        cmocka_unit_test(test_no_leaks),
        cmocka_unit_test(test_fork_server),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
