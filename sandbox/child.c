/* The scanner child: lock itself down, scan the (already mapped) input,
 * write the encoded report, exit.  No stdio anywhere here: after the filter
 * only the syscalls listed in filter.c pass. */
#include "sandbox.h"
#include "wire.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static void put_trailer(uint8_t out[PJ_CHILD_TRAILER_LEN], const char tag[4], uint32_t v)
{
    memcpy(out, tag, 4);
    for (int i = 0; i < 4; i++)
        out[4 + i] = (uint8_t)(v >> (8 * i));
}

/* Raw syscalls, not the libc functions: sanitizers intercept write() and
 * _exit(), and their exit path makes syscalls the filter traps. */
_Noreturn void pj_sandbox_exit(int code)
{
    for (;;)
        syscall(SYS_exit_group, code);
}

bool pj_sandbox_write(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = syscall(SYS_write, PJ_SANDBOX_REPORT_FD, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static _Noreturn void die_with(int code, const char tag[4], uint32_t v)
{
    uint8_t t[PJ_CHILD_TRAILER_LEN];
    put_trailer(t, tag, v);
    pj_sandbox_write(t, sizeof t);
    pj_sandbox_exit(code);
}

/* SIGSYS from a trapped syscall: tell the parent which one, then exit.
 * Async-signal-safe: one write, one exit_group. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    die_with(PJ_CHILD_EXIT_VIOLATION, "PJSV", (uint32_t)si->si_syscall);
}

long pj_plain_syscall(long nr, long a0, long a1, long a2, long a3, long a4)
{
    return syscall(nr, a0, a1, a2, a3, a4);
}

int pj_sandbox_catch_sigsys(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND; /* a second SIGSYS kills outright */
    sigfillset(&sa.sa_mask);
    return sigaction(SIGSYS, &sa, NULL) != 0 ? errno : 0;
}

/* The setup's system calls go through job->sys: a child of the filtered
 * fork server makes them with the server's cookie (server.c, filter.c). */
static void close_others(const pj_child_job *job)
{
#ifdef PJ_TEST_BUILD
    const unsigned keep_stderr = 1; /* sanitizer reports stay visible */
#else
    const unsigned keep_stderr = 0;
#endif
    unsigned lo_end = keep_stderr ? 1 : 2;
    if (job->sys(SYS_close_range, 0, lo_end, 0, 0, 0) != 0 ||
        job->sys(SYS_close_range, PJ_SANDBOX_REPORT_FD + 1, (long)~0u, 0, 0, 0) != 0) {
        /* Kernels before 5.9: close one by one up to the descriptor limit. */
        struct rlimit nf;
        long max = job->sys(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&nf, 0) == 0 &&
                           nf.rlim_cur != RLIM_INFINITY
                       ? (long)nf.rlim_cur
                       : 65536;
        for (long fd = 0; fd < max; fd++)
            if (fd != PJ_SANDBOX_REPORT_FD && !(keep_stderr && fd == 2))
                (void)job->sys(SYS_close, fd, 0, 0, 0, 0);
    }
}

/* Every crash signal to its default action, nothing blocked. */
static int default_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGPIPE, SIGXCPU};
    for (size_t i = 0; i < sizeof crash_sigs / sizeof crash_sigs[0]; i++)
        if (sigaction(crash_sigs[i], &sa, NULL) != 0)
            return errno;
    sigset_t unblock;
    sigemptyset(&unblock);
    return sigprocmask(SIG_SETMASK, &unblock, NULL) != 0 ? errno : 0;
}

/* What survives fork and is the same for every child: no files, no core
 * dumps, no new privileges, not dumpable. */
static int fixed_limits(void)
{
    struct rlimit rl = {0, 0};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0 || setrlimit(RLIMIT_CORE, &rl) != 0)
        return errno;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return errno;
    return 0;
}

int pj_sandbox_preset(void)
{
    int err = default_signals();
    return err != 0 ? err : fixed_limits();
}

/* Set a limit no higher than the one already in force: raising a hard
 * limit needs a capability (the fork server has none), and a user's
 * `ulimit` is a limit too. */
static int set_limit(const pj_child_job *job, int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {soft, hard};
    return job->sys(SYS_prlimit64, 0, resource, (long)&rl, 0, 0) != 0 ? errno : 0;
}

static int lower_limit(const pj_child_job *job, int resource, rlim_t soft, rlim_t hard)
{
    struct rlimit now;
    if (job->sys(SYS_prlimit64, 0, resource, 0, (long)&now, 0) != 0)
        return errno;
    if (now.rlim_max != RLIM_INFINITY && hard > now.rlim_max)
        hard = now.rlim_max;
    return set_limit(job, resource, soft < hard ? soft : hard, hard);
}

static int limits(const pj_child_job *job)
{
    const pj_options *o = job->opts;
    int err;
    if (job->rlimit_as != 0 &&
        (err = lower_limit(job, RLIMIT_AS, job->rlimit_as, job->rlimit_as)) != 0)
        return err;
    /* soft < hard: SIGXCPU first, which tells a CPU limit apart from our
     * own SIGKILL. */
    if (o->cpu_seconds != 0 &&
        (err = lower_limit(job, RLIMIT_CPU, o->cpu_seconds, (rlim_t)o->cpu_seconds + 1)) != 0)
        return err;
    if ((err = set_limit(job, RLIMIT_NOFILE, 0, 0)) != 0)
        return err;
    /* Ignored for root (CAP_SYS_RESOURCE); the filter blocks fork anyway. */
    (void)set_limit(job, RLIMIT_NPROC, 0, 0);
    return 0;
}

_Noreturn void pj_sandbox_child(const pj_child_job *in_job)
{
    /* Started by the fork server: map the input first (its descriptor may
     * be the one the report pipe is moved to); close_others() closes it. */
    pj_child_job mapped = *in_job;
    const pj_child_job *job = &mapped;
    int map_err = 0;
    if (mapped.data == NULL) {
        mapped.data = (const uint8_t *)"";
        if (mapped.map_len > 0) {
            void *m = mmap(NULL, mapped.map_len, PROT_READ, MAP_PRIVATE, mapped.input_fd, 0);
            if (m == MAP_FAILED)
                map_err = errno ? errno : ENOMEM;
            else
                mapped.data = m;
        }
    }
    if (job->report_fd != PJ_SANDBOX_REPORT_FD &&
        job->sys(SYS_dup2, job->report_fd, PJ_SANDBOX_REPORT_FD, 0, 0, 0) != PJ_SANDBOX_REPORT_FD)
        pj_sandbox_exit(PJ_CHILD_EXIT_SETUP);
    close_others(job);
    if (map_err != 0)
        die_with(PJ_CHILD_EXIT_NOMAP, "PJSI", (uint32_t)map_err);

    /* Crashes must end the process with their own signal (not a handler the
     * embedding program or a sanitizer installed, whose reporting would need
     * syscalls the filter traps).  Children of the fork server inherit this
     * and the fixed limits from it (pj_sandbox_preset). */
    int err = job->preset ? 0 : default_signals();
    if (err != 0)
        die_with(PJ_CHILD_EXIT_SETUP, "PJSS", (uint32_t)err);
    /* (a child of the filtered server inherits the handler from it) */
    if (!job->filtered && (err = pj_sandbox_catch_sigsys()) != 0)
        die_with(PJ_CHILD_EXIT_SETUP, "PJSS", (uint32_t)err);

    err = limits(job);
    if (err == 0 && !job->preset)
        err = fixed_limits();
    if (err != 0)
        die_with(PJ_CHILD_EXIT_SETUP, "PJSS", (uint32_t)err);
    /* If the scanning process dies (Ctrl-C), nothing would ever read or
     * reap this child: it goes with its parent.  Checked after setting it,
     * in case the parent was already gone. */
    if (job->sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 ||
        job->sys(SYS_getppid, 0, 0, 0, 0, 0) != (long)job->parent)
        pj_sandbox_exit(PJ_CHILD_EXIT_SETUP);

#ifdef PJ_TEST_BUILD
    if (pj_misbehave_skip_seccomp(job))
        die_with(PJ_CHILD_EXIT_NOSECCOMP, "PJSU", EINVAL);
#endif
    /* A child of the filtered fork server is already under the server's
     * filter (filter.c); without the cookie, which it forgets now, only the
     * child filter's calls pass. */
#if PJ_SERVER_FILTER
    if (job->filtered)
        pj_server_forget_cookie();
#endif
    if (!job->filtered && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, job->prog, 0, 0) != 0)
        die_with(PJ_CHILD_EXIT_NOSECCOMP, "PJSU", (uint32_t)errno);

    /* From here on: only the filter's syscalls. */
#ifdef PJ_TEST_BUILD
    pj_misbehave_run(job);
#endif
    pj_report *r = pj_scan_buffer(job->data, job->len, job->opts);
    if (r == NULL)
        die_with(PJ_CHILD_EXIT_OOM, "PJSM", 0);
    size_t n = 0;
    uint8_t *msg = pj_wire_encode(r, &n);
    if (msg == NULL)
        die_with(PJ_CHILD_EXIT_OOM, "PJSM", 0);
    /* No frees: the process ends now (and _exit skips leak checks). */
    if (!pj_sandbox_write(msg, n))
        pj_sandbox_exit(PJ_CHILD_EXIT_WRITE);
    pj_sandbox_exit(PJ_CHILD_EXIT_OK);
}
