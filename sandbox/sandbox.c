/* pj_scan_fd: get the input's bytes (mapped, or read with a bound), then
 * scan them in a forked seccomp child (or in-process with --no-sandbox),
 * and turn every way the child can end into findings. */
#include "sandbox.h"
#include "report.h"
#include "scan.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/single_threaded.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NO_SANDBOX_HINT "re-run with --no-sandbox to scan without isolation (only on a machine you can afford to lose)"

/* ---- input ---- */

typedef struct input {
    const uint8_t *data;
    size_t len;
    void *map;          /* munmap(map, map_len) when set */
    size_t map_len;
    uint8_t *heap;      /* free() when set */
    bool over_limit;    /* more bytes than max_input_bytes: only a prefix is scanned */
    uint64_t total;     /* bytes seen (at least len) */
    bool unmapped;      /* a regular file of map_len bytes not mapped here (yet): the
                           fork server's child maps it itself (materialize() if not) */
} input;

static uint64_t input_limit(const pj_options *o)
{
    return o->limits.max_input_bytes ? o->limits.max_input_bytes : UINT64_MAX;
}

/* Read up to limit + 1 bytes from a pipe or other stream. */
static bool read_stream(int fd, uint64_t limit, input *in, const char **error)
{
    size_t cap = 0, len = 0;
    uint8_t *buf = NULL;
    uint64_t want = limit == UINT64_MAX ? UINT64_MAX : limit + 1;
    for (;;) {
        if (len == cap) {
            if (len >= want)
                break;
            size_t ncap = cap ? cap * 2 : 65536;
            if (ncap < cap || (uint64_t)ncap > want)
                ncap = want > SIZE_MAX ? SIZE_MAX : (size_t)want;
            if (ncap <= cap) {
                free(buf);
                *error = "input too large for memory";
                return false;
            }
            uint8_t *nb = realloc(buf, ncap);
            if (nb == NULL) {
                free(buf);
                *error = "out of memory reading the input";
                return false;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            *error = errno == EISDIR ? "is a directory" : "cannot read the input";
            return false;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    in->heap = buf;
    in->data = buf ? buf : (const uint8_t *)"";
    in->total = len;
    in->len = len;
    if ((uint64_t)len > limit) {
        in->over_limit = true;
        in->len = (size_t)limit;
    }
    return true;
}

/* A stream is held in this process's memory: bound it by the memory limit
 * too (default 2 GiB, not the 64 GiB input limit), so that `scan /dev/zero`
 * or an endless pipe cannot exhaust the machine. */
static bool read_bounded(int fd, const pj_options *o, input *in, const char **error)
{
    uint64_t limit = input_limit(o);
    if (o->memory_bytes != 0 && o->memory_bytes < limit)
        limit = o->memory_bytes;
    return read_stream(fd, limit, in, error);
}

/* Map an unmapped regular file here; files that cannot be mapped (some
 * FUSE files) are read instead. */
static bool materialize(int fd, const pj_options *o, input *in, const char **error)
{
    if (!in->unmapped)
        return true;
    in->unmapped = false;
    void *m = mmap(NULL, in->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
        in->map = m;
        in->data = m;
        return true;
    }
    in->map_len = 0;
    in->len = 0;
    in->total = 0;
    in->over_limit = false;
    return read_bounded(fd, o, in, error);
}

/* Sandboxed scans leave a regular file unmapped: the fork server's child
 * maps it itself, and a mapping here would cost an mmap, a munmap and its
 * TLB shootdown per file for nothing (~5 us). */
static bool open_input(int fd, const pj_options *o, input *in, const char **error)
{
    memset(in, 0, sizeof *in);
    uint64_t limit = input_limit(o);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        *error = "cannot stat the input";
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        *error = "is a directory";
        return false;
    }
    if (S_ISREG(st.st_mode)) {
        in->data = (const uint8_t *)"";
        if (st.st_size == 0)
            return true;
        if ((uint64_t)st.st_size > SIZE_MAX) {
            *error = "input too large to map";
            return false;
        }
        in->unmapped = true;
        in->map_len = (size_t)st.st_size;
        in->total = (uint64_t)st.st_size;
        in->len = (size_t)st.st_size;
        if (in->total > limit) {
            in->over_limit = true;
            in->len = (size_t)limit;
        }
        return o->sandbox || materialize(fd, o, in, error);
    }
    return read_bounded(fd, o, in, error);
}

static void close_input(input *in)
{
    if (in->map != NULL)
        munmap(in->map, in->map_len);
    free(in->heap);
}

/* ---- parent side of the sandbox ---- */

static size_t max_report_bytes(const pj_options *o)
{
    uint64_t a = o->limits.max_arena_bytes ? o->limits.max_arena_bytes : (256u << 20);
    uint64_t m = a > (UINT64_MAX - (1u << 20)) / 2 ? UINT64_MAX : a * 2 + (1u << 20);
    if (m > (1u << 30))
        m = 1u << 30;
    return (size_t)m;
}

static size_t report_budget(const pj_options *o)
{
    uint64_t a = o->limits.max_arena_bytes ? o->limits.max_arena_bytes : (256u << 20);
    return a > SIZE_MAX ? SIZE_MAX : (size_t)a;
}

static size_t max_findings(const pj_options *o)
{
    return o->limits.max_findings ? o->limits.max_findings : 1;
}

/* The parent's own mappings are inherited by the child and count against
 * RLIMIT_AS (the input mapping, libraries, under ASan terabytes of shadow):
 * the child's budget is memory_bytes on top of what it starts with.  Reading
 * /proc/self/statm costs more than the rest of the setup, so the size is
 * sampled every 256 scans; the input mapping is added each time. */
uint64_t pj_sandbox_vm_size(void)
{
    uint64_t base = 0;
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[64];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            unsigned long long pages = strtoull(buf, NULL, 10);
            long ps = sysconf(_SC_PAGESIZE);
            if (ps > 0 && pages < UINT64_MAX / (uint64_t)ps)
                base = pages * (uint64_t)ps;
        }
    }
    return base;
}

static uint64_t address_space_limit(const pj_options *o, size_t mapped)
{
    static _Atomic uint64_t cached_base;
    static _Atomic unsigned calls;
    if (o->memory_bytes == 0)
        return 0;
    uint64_t base = atomic_load(&cached_base);
    if (base == 0 || atomic_fetch_add(&calls, 1) % 256 == 0) {
        base = pj_sandbox_vm_size();
        atomic_store(&cached_base, base);
        mapped = 0; /* already part of the fresh sample */
    }
    /* Headroom for what the parent mapped since the sample. */
    uint64_t extra = (uint64_t)mapped + (64u << 20);
    if (base > UINT64_MAX - extra)
        return UINT64_MAX;
    base += extra;
    return base > UINT64_MAX - o->memory_bytes ? UINT64_MAX : base + o->memory_bytes;
}

/* fork() runs glibc's (and sanitizers') atfork work in the child, which
 * touches copy-on-write pages (25-45 us per child here).  When
 * the process is single-threaded no other thread can hold a lock the child
 * needs, so a bare clone is as safe and cheaper. */
static pid_t fork_child(void)
{
    if (__libc_single_threaded)
        return (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, 0UL, 0UL, 0UL);
    return fork();
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct outcome {
    uint8_t *data;
    size_t len;
    bool heap;          /* data is malloc'ed (else the thread's receive buffer) */
    bool timed_out;
    bool too_large;
    int status;
    struct rusage ru;
} outcome;

/* Reports usually fit a small buffer.  Every fork write-protects the
 * parent's private pages, so a buffer on the heap costs page faults on each
 * scan that forks here; this one is mapped once per thread and its contents
 * are not copied to children (MADV_WIPEONFORK: a child gets it zeroed, so
 * a forked copy of this process still has a valid buffer; MADV_DONTFORK
 * would leave this pointer dangling there).  It is kept for the thread's
 * lifetime. */
#define RX_FIXED ((size_t)64 << 10)
static _Thread_local uint8_t *rx_fixed;

static uint8_t *rx_buffer(void)
{
    if (rx_fixed == NULL) {
        void *m = mmap(NULL, RX_FIXED, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
#ifdef MADV_WIPEONFORK
        (void)madvise(m, RX_FIXED, MADV_WIPEONFORK);
#endif
        rx_fixed = m;
    }
    return rx_fixed;
}

/* True when the child has exited or exits before the deadline (it is not
 * reaped here). */
static bool exits_by(pid_t pid, int64_t deadline)
{
    int pidfd = -1;
    bool exited = false;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || si.si_pid == pid) {
            exited = true; /* an error: wait4 will say */
            break;
        }
        int64_t left = deadline == INT64_MAX ? -1 : deadline - now_ms();
        if (deadline != INT64_MAX && left <= 0)
            break;
        if (pidfd < 0)
            pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd >= 0) {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            (void)poll(&p, 1, left < 0 || left > INT32_MAX ? -1 : (int)left);
        } else {
            /* no pidfd (Linux before 5.3): look again in a millisecond */
            struct timespec ms = {0, 1000000};
            (void)nanosleep(&ms, NULL);
        }
    }
    if (pidfd >= 0)
        close(pidfd);
    return exited;
}

/* Collect the child's output until EOF, the deadline or the size bound,
 * then reap it.  Always reaps; kills first when it stopped reading early. */
static void collect(pid_t pid, int rfd, const pj_options *o, outcome *out)
{
    size_t cap = 0, bound = max_report_bytes(o);
    out->data = rx_buffer();
    if (out->data != NULL)
        cap = RX_FIXED < bound + 1 ? RX_FIXED : bound + 1;
    int64_t deadline = o->timeout_ms ? now_ms() + o->timeout_ms : INT64_MAX;
    bool kill_it = false;
    for (;;) {
        int wait_ms = -1;
        if (deadline != INT64_MAX) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                out->timed_out = kill_it = true;
                break;
            }
            wait_ms = left > INT32_MAX ? INT32_MAX : (int)left;
        }
        struct pollfd p = {.fd = rfd, .events = POLLIN};
        int pr = poll(&p, 1, wait_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0) {
            kill_it = true;
            break;
        }
        if (pr == 0)
            continue; /* the deadline check above decides */
        if (out->len == cap) {
            if (cap > bound) {
                out->too_large = kill_it = true;
                break;
            }
            size_t ncap = cap ? cap * 2 : 16384;
            if (ncap > bound + 1)
                ncap = bound + 1;
            uint8_t *nb = out->heap ? realloc(out->data, ncap) : malloc(ncap);
            if (nb == NULL) {
                kill_it = true;
                break;
            }
            if (!out->heap && out->len > 0)
                memcpy(nb, out->data, out->len);
            out->data = nb;
            out->heap = true;
            cap = ncap;
        }
        ssize_t n = read(rfd, out->data + out->len, cap - out->len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            kill_it = true;
            break;
        }
        if (n == 0)
            break; /* EOF: the child is exiting (or closed its end: below) */
        out->len += (size_t)n;
        if (out->len > bound) {
            out->too_large = kill_it = true;
            break;
        }
    }
    /* The end of the pipe is not proof of the child's exit (a child that
     * closed its descriptor and kept running hung the parent once, when the
     * fork server's children could still close): the deadline holds until
     * it has exited. */
    if (!kill_it && !exits_by(pid, deadline))
        out->timed_out = kill_it = true;
    if (kill_it)
        kill(pid, SIGKILL);
    while (wait4(pid, &out->status, 0, &out->ru) < 0 && errno == EINTR)
        ;
}

static double cpu_seconds_used(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
}

static bool trailer(const outcome *out, const char tag[4], uint32_t *v)
{
    if (out->len < PJ_CHILD_TRAILER_LEN)
        return false;
    const uint8_t *t = out->data + out->len - PJ_CHILD_TRAILER_LEN;
    if (memcmp(t, tag, 4) != 0)
        return false;
    *v = (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
    return true;
}

static const char *abort_hint(const char *name)
{
    static const char *const abort_path[] = {"rt_sigprocmask", "rt_sigaction", "tgkill",
                                             "getpid", "gettid", "writev"};
    for (size_t i = 0; i < sizeof abort_path / sizeof abort_path[0]; i++)
        if (name != NULL && strcmp(name, abort_path[i]) == 0)
            return " (this is how abort() or a fatal libc error starts: the scanner most likely "
                   "failed an internal check)";
    return "";
}

static void report_violation(pj_report *r, const outcome *out)
{
    uint32_t nr;
    if (!trailer(out, "PJSV", &nr)) {
        pj_report_finding(r, PJ_SANDBOX_VIOLATION, -1, 0,
                          "the scanner made a system call its sandbox forbids and was killed "
                          "(SIGSYS); the input may be an exploit against the parser");
        return;
    }
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr);
    if (name != NULL && strcmp(name, "futex") == 0) {
        /* The child is single-threaded: waiting on a lock means another
         * thread of the scanning program held it when the child was forked
         * (seen with ASan's allocator in multi-threaded programs).  A
         * deadlock, not an escape attempt. */
        pj_report_finding(r, PJ_SANDBOX_CRASH, -1, 0,
                          "the scanner deadlocked on a lock inherited from another thread of "
                          "this program (blocked system call futex); scan from a single thread, "
                          "or retry");
        free(name);
        return;
    }
    pj_report_finding(r, PJ_SANDBOX_VIOLATION, -1, 0,
                      "the scanner tried the forbidden system call %s (number %" PRIu32
                      ") and was stopped; the input may be an exploit against the parser%s",
                      name ? name : "?", nr, abort_hint(name));
    free(name);
}

static void report_unavailable(pj_report *r, const char *what, int err)
{
    r->scanned = false;
    pj_report_finding(r, PJ_SANDBOX_UNAVAILABLE, -1, 0,
                      "the sandbox could not be set up (%s: %s), so the file was not scanned; "
                      NO_SANDBOX_HINT,
                      what, err ? strerror(err) : "unknown error");
}

/* Turn the child's end into a report. */
static pj_report *classify(const outcome *out, const pj_options *o)
{
    pj_report *r = pj_report_new(report_budget(o), max_findings(o) + 8);
    if (r == NULL)
        return NULL;
    int st = out->status;
    uint32_t v = 0;
    if (out->timed_out) {
        pj_report_finding(r, PJ_SANDBOX_TIMEOUT, -1, 0,
                          "the scan did not finish within %" PRIu32 " ms and was stopped",
                          o->timeout_ms);
    } else if (out->too_large) {
        pj_report_finding(r, PJ_SANDBOX_BAD_REPORT, -1, 0,
                          "the scanner sent more than %zu bytes of report and was stopped",
                          max_report_bytes(o));
    } else if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        if (sig == SIGSYS) {
            report_violation(r, out);
        } else if (sig == SIGXCPU ||
                   (sig == SIGKILL && o->cpu_seconds != 0 &&
                    cpu_seconds_used(&out->ru) >= (double)o->cpu_seconds)) {
            pj_report_finding(r, PJ_SANDBOX_CPU, -1, 0,
                              "the scan used more than %" PRIu32 " s of CPU time and was stopped",
                              o->cpu_seconds);
        } else if (sig == SIGKILL) {
            pj_report_finding(r, PJ_SANDBOX_OOM, -1, 0,
                              "the scanner was killed by the system (SIGKILL), most likely for "
                              "running out of memory");
        } else {
            pj_report_finding(r, PJ_SANDBOX_CRASH, -1, 0,
                              "the scanner crashed with signal %d (%s); the input may be an "
                              "exploit against the parser, or it found a bug in picklejail",
                              sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
        }
    } else if (!WIFEXITED(st)) {
        pj_report_finding(r, PJ_SANDBOX_NO_REPORT, -1, 0,
                          "the scanner ended in an unexpected way (wait status 0x%x)", st);
    } else {
        int code = WEXITSTATUS(st);
        if (code == PJ_CHILD_EXIT_VIOLATION) {
            report_violation(r, out);
        } else if (code == PJ_CHILD_EXIT_NOSECCOMP) {
            int err = trailer(out, "PJSU", &v) ? (int)v : 0;
            r->scanned = false;
            pj_report_finding(r, PJ_SANDBOX_UNAVAILABLE, -1, 0,
                              "seccomp is not available on this system (loading the filter "
                              "failed: %s), so the file was not scanned; " NO_SANDBOX_HINT,
                              err ? strerror(err) : "unknown error");
        } else if (code == PJ_CHILD_EXIT_SETUP) {
            report_unavailable(r, "limits or privileges of the child",
                               trailer(out, "PJSS", &v) ? (int)v : 0);
        } else if (code == PJ_CHILD_EXIT_OOM) {
            pj_report_finding(r, PJ_SANDBOX_OOM, -1, 0,
                              "the scanner ran out of memory (limit %" PRIu64 " MiB)",
                              o->memory_bytes >> 20);
        } else if (code != PJ_CHILD_EXIT_OK) {
            pj_report_finding(r, PJ_SANDBOX_NO_REPORT, -1, 0,
                              "the scanner exited with status %d without a report", code);
        } else if (out->len == 0) {
            pj_report_finding(r, PJ_SANDBOX_NO_REPORT, -1, 0,
                              "the scanner exited without sending a report");
        } else {
            size_t mf = max_findings(o) + 1;
            pj_wire_bounds b = {.max_message = max_report_bytes(o),
                                .max_records = max_report_bytes(o) / 5,
                                .max_findings = mf};
            char err[256];
            if (!pj_wire_decode(r, out->data, out->len, &b, err, sizeof err))
                pj_report_finding(r, PJ_SANDBOX_BAD_REPORT, -1, 0,
                                  "the scanner's report is malformed (%s); only what decoded "
                                  "cleanly is kept", err);
        }
    }
    /* The report was made with room for the sandbox's own finding; from
     * here on (policy, diagnosis) it has the same findings cap as an
     * in-process scan, so both give the same result. */
    size_t cap = max_findings(o);
    r->impl->max_findings = r->n_findings > cap ? r->n_findings : cap;
    return r;
}

static pj_report *unavailable_report(const pj_options *o, const char *what, int err)
{
    pj_report *r = pj_report_new(report_budget(o), max_findings(o) + 8);
    if (r != NULL)
        report_unavailable(r, what, err);
    return r;
}

/* Once per process, in the parent, so that every child inherits the result:
 * - libraries that load code or data on first use (glibc's iconv module for
 *   libarchive's 7z names) do it now: no child opens a file under the filter;
 * - the dynamic linker resolves the lazily bound library calls a child
 *   makes (one small scan, and harmless calls of the setup functions): that
 *   work would otherwise be redone in, and thrown away with, every child
 *   (about a tenth of the per-file cost). */
static pthread_once_t prepare_once = PTHREAD_ONCE_INIT;
static void prepare(void)
{
    pj_containers_prepare();
    /* Typical pickles of protocols 0, 2 and 4 (text and binary numbers,
     * strings, bytes, containers, memo, frames, globals, calls). */
    static const char warm0[] = "(dp0\nVa\np1\n(lp2\nI1\naL1180591620717411303424L\naF1.5\naVs\np3\nac_"
                                "codecs\nencode\np4\n(Vb\np5\nVlatin1\np6\ntp7\nRp8\na(NI01\ntp9\nasVo\n"
                                "p10\nccollections\nOrderedDict\np11\n(tRp12\nVx\np13\nI1\nss.";
    static const char warm2[] = "\x80\x02}q\x00(X\x01\x00\x00\x00" "aq\x01K\x01X\x01\x00\x00\x00" "b"
                                "]q\x02(G?\xf0\x00\x00\x00\x00\x00\x00N\x88" "ecos\nsystem\n"
                                "X\x02\x00\x00\x00" "id\x85" "Ru.";
    static const char warm4[] = "\x80\x04\x95" "d\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01" "a\x94]\x94"
                                "(K\x01\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@G?\xf8\x00\x00\x00\x00\x00"
                                "\x00\x8c\x01s\x94" "C\x01" "b\x94N\x88\x86\x94" "e\x8c\x01" "f\x94(K\x01"
                                "\x91\x94\x8c\x01o\x94\x8c\x0b" "collections\x94\x8c\x0bOrderedDict\x94"
                                "\x93\x94)R\x94\x8c\x01x\x94K\x01su.";
    static const struct {
        const char *data;
        size_t len;
    } warm[] = {{warm0, sizeof warm0 - 1}, {warm2, sizeof warm2 - 1}, {warm4, sizeof warm4 - 1}};
    pj_options o;
    pj_options_default(&o);
    o.sandbox = false;
    for (size_t i = 0; i < sizeof warm / sizeof warm[0]; i++) {
        pj_report *r = pj_scan_buffer((const uint8_t *)warm[i].data, warm[i].len, &o);
        if (r != NULL) {
            size_t n = 0;
            free(pj_wire_encode(r, &n));
            pj_report_free(r);
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_CORE, &rl) == 0)
        (void)setrlimit(RLIMIT_CORE, &rl);
    (void)prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    struct sigaction sa;
    (void)sigaction(SIGSYS, NULL, &sa);
    sigset_t set;
    sigemptyset(&set);
    sigfillset(&set);
    (void)sigprocmask(SIG_BLOCK, NULL, &set);
    (void)dup2(STDERR_FILENO, STDERR_FILENO);
    (void)getppid();
}

void pj_sandbox_warm(void)
{
    pthread_once(&prepare_once, prepare);
}

/* The fork server's child could not map the input (exited before its
 * limits and filter, pj_sandbox_child): scan it from here instead. */
static bool child_could_not_map(const outcome *out)
{
    return !out->timed_out && !out->too_large && WIFEXITED(out->status) &&
           WEXITSTATUS(out->status) == PJ_CHILD_EXIT_NOMAP;
}

static pj_report *not_scanned(const pj_options *o)
{
    pj_report *r = pj_report_new(report_budget(o), max_findings(o) + 8);
    if (r != NULL)
        r->scanned = false;
    return r;
}

static pj_report *scan_sandboxed(int fd, input *in, const pj_options *o, const char **error)
{
    pj_sandbox_warm();
    const struct sock_fprog *prog;
    const char *why;
    if (!pj_sandbox_filter(&prog, &why)) {
        *error = "the seccomp filter could not be built";
        return unavailable_report(o, why, 0);
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        *error = "cannot create the report pipe";
        return unavailable_report(o, "pipe", errno);
    }
    /* A file (mapped here, or empty) goes to the fork server, which starts
     * the child from its small, unchanging copy of this process; input read
     * from a stream is only in this process's memory, so that child is
     * forked here, as when the server cannot be used. */
    pid_t pid = -1;
    bool via_server = false;
    if (in->heap == NULL) {
        pid = pj_server_spawn(fd, in->len, in->map_len, o, p[1], prog);
        via_server = pid > 0;
    }
again:
    if (pid < 0) {
        /* A child the server might have started before failing must not
         * share this scan's pipe. */
        if (p[0] >= 0) {
            close(p[0]);
            close(p[1]);
        }
        if (!materialize(fd, o, in, error))
            return not_scanned(o);
        if (pipe2(p, O_CLOEXEC) != 0) {
            *error = "cannot create the report pipe";
            return unavailable_report(o, "pipe", errno);
        }
        pj_child_job job = {.sys = pj_plain_syscall,
                            .data = in->data,
                            .len = in->len,
                            .input_fd = -1,
                            .opts = o,
                            .prog = prog,
                            .rlimit_as = address_space_limit(o, in->map_len),
                            .parent = getpid(),
                            .report_fd = p[1]};
        pid = fork_child();
        if (pid == 0) {
            close(p[0]);
            pj_sandbox_child(&job);
        }
    }
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        *error = "cannot start the sandbox process";
        return unavailable_report(o, "fork", e);
    }
    close(p[1]);
    outcome out;
    memset(&out, 0, sizeof out);
    collect(pid, p[0], o, &out);
    close(p[0]);
    if (via_server && child_could_not_map(&out)) {
        if (out.heap)
            free(out.data);
        via_server = false;
        pid = -1;
        p[0] = p[1] = -1; /* both closed above */
        goto again;
    }
    pj_report *r = classify(&out, o);
    if (out.heap)
        free(out.data);
    return r;
}

pj_report *pj_scan_fd(int fd, const pj_options *opts, const char **error)
{
    const char *dummy;
    if (error == NULL)
        error = &dummy;
    *error = NULL;
    input in;
    if (!open_input(fd, opts, &in, error))
        return not_scanned(opts);
    pj_report *r = opts->sandbox ? scan_sandboxed(fd, &in, opts, error)
                                 : pj_scan_buffer(in.data, in.len, opts);
    if (r != NULL && in.over_limit)
        pj_report_add_finding(r, PJ_LIMIT_INPUT, pj_code_severity(PJ_LIMIT_INPUT), -1, in.len,
                              "the input is larger than the %zu byte limit: only its first "
                              "%zu bytes were scanned",
                              in.len, in.len);
    close_input(&in);
    return r;
}
