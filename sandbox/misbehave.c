/* Test-only misbehaviour of the scanner child (compiled only with
 * -DPJ_TEST_BUILD, never into the installed binary).  Each mode does, after
 * the seccomp filter is loaded, one thing a compromised or broken parser
 * might do; the tests check the parent stops and reports each.  A mode only
 * applies to inputs starting with PJ_MISBEHAVE_MARKER. */
#include "sandbox.h"

#ifdef PJ_TEST_BUILD

#include "report.h"
#include "wire.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const mode_names[PJ_MB_COUNT] = {
    [PJ_MB_NONE] = "none",
    [PJ_MB_OPEN] = "open",
    [PJ_MB_EXEC] = "exec",
    [PJ_MB_SOCKET] = "socket",
    [PJ_MB_MMAP_EXEC] = "mmap-exec",
    [PJ_MB_MPROTECT_EXEC] = "mprotect-exec",
    [PJ_MB_FORK] = "fork",
    [PJ_MB_STDOUT] = "stdout",
    [PJ_MB_LOOP] = "loop",
    [PJ_MB_ALLOC] = "alloc",
    [PJ_MB_SEGV] = "segv",
    [PJ_MB_ABORT] = "abort",
    [PJ_MB_GARBAGE] = "garbage",
    [PJ_MB_HUGE_LENGTH] = "huge-length",
    [PJ_MB_EXIT] = "exit",
    [PJ_MB_PROC_STATUS] = "proc-status",
    [PJ_MB_NO_SECCOMP] = "no-seccomp",
    [PJ_MB_BAD_INDEX] = "bad-index",
    [PJ_MB_SERVER_CLONE] = "server-clone",
    [PJ_MB_RAISE_LIMIT] = "raise-limit",
    [PJ_MB_CLOSE_LOOP] = "close-loop",
    [PJ_MB_CLEAR_DEATHSIG] = "clear-deathsig",
};

int pj_test_misbehave_parse(const char *name)
{
    for (int i = 0; i < PJ_MB_COUNT; i++)
        if (name != NULL && strcmp(name, mode_names[i]) == 0)
            return i;
    return -1;
}

static int mode_for(const pj_child_job *job)
{
    size_t m = sizeof PJ_MISBEHAVE_MARKER - 1;
    int mode = job->opts->test_misbehave;
    if (mode <= PJ_MB_NONE || mode >= PJ_MB_COUNT || job->len < m ||
        memcmp(job->data, PJ_MISBEHAVE_MARKER, m) != 0)
        return PJ_MB_NONE;
    return mode;
}

bool pj_misbehave_skip_seccomp(const pj_child_job *job)
{
    return mode_for(job) == PJ_MB_NO_SECCOMP;
}

static void put(const void *p, size_t n)
{
    if (!pj_sandbox_write(p, n))
        pj_sandbox_exit(PJ_CHILD_EXIT_WRITE);
}

void pj_misbehave_run(const pj_child_job *job)
{
    switch (mode_for(job)) {
    case PJ_MB_OPEN:
        (void)open("/etc/passwd", O_RDONLY);
        break;
    case PJ_MB_EXEC: {
        char *const argv[] = {(char *)"sh", (char *)"-c", (char *)"echo pwned", NULL};
        execve("/bin/sh", argv, NULL);
        break;
    }
    case PJ_MB_SOCKET:
        (void)socket(AF_INET, SOCK_STREAM, 0);
        break;
    case PJ_MB_MMAP_EXEC:
        (void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        break;
    case PJ_MB_MPROTECT_EXEC: {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED)
            (void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
        break;
    }
    case PJ_MB_FORK:
        (void)fork();
        break;
    case PJ_MB_SERVER_CLONE: {
        /* The server's own call, with whatever its cookie variable holds
         * here (the child zeroed it before parsing) as the sixth (and the
         * fifth) argument.  If it ever passed, both processes send garbage. */
        unsigned long cookie = (unsigned long)pj_server_test_cookie();
        long pid = syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD), 0UL, 0UL, 0UL,
                           cookie, cookie);
        (void)pid;
        put("garbage", 7);
        pj_sandbox_exit(0);
    }
    case PJ_MB_RAISE_LIMIT: {
        /* Must fail: while parsing no child may set limits (a child of the
         * fork server has zeroed the cookie its setup used), and the fork
         * server has no capabilities to raise them with either. */
        struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
        if (setrlimit(RLIMIT_AS, &rl) == 0)
            put("raised", 6);
        pj_sandbox_exit(0); /* refused: no report */
    }
    case PJ_MB_STDOUT: {
        ssize_t w = write(1, "pwned\n", 6); /* the trap never lets it return */
        (void)w;
        break;
    }
    case PJ_MB_CLEAR_DEATHSIG:
        (void)prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
        put("cleared", 7); /* reached only if the call was allowed */
        pj_sandbox_exit(0);
    case PJ_MB_CLOSE_LOOP:
        /* If close ever passed, the parent would see the end of the pipe but
         * no exit: the deadline must still hold. */
        (void)close(PJ_SANDBOX_REPORT_FD);
        /* fall through */
    case PJ_MB_LOOP: {
        volatile unsigned long spin = 0;
        for (;;)
            spin++;
    }
    case PJ_MB_ALLOC: {
        /* Raw mmap, touched page by page: what an unbounded allocation does
         * to the machine.  Stops at 8 GiB so a missing limit shows up as a
         * distinct exit status instead of exhausting the test machine. */
        const size_t chunk = (size_t)64 << 20;
        for (size_t total = 0; total < ((size_t)8 << 30); total += chunk) {
            char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                static const uint8_t t[PJ_CHILD_TRAILER_LEN] = {'P', 'J', 'S', 'M'};
                put(t, sizeof t);
                pj_sandbox_exit(PJ_CHILD_EXIT_OOM);
            }
            memset(p, 0xA5, chunk);
        }
        pj_sandbox_exit(95);
    }
    case PJ_MB_SEGV: {
        /* Not NULL, so UBSan's null check does not turn it into an exit. */
        volatile uintptr_t bad = 16;
        *(volatile int *)bad = 1;
        break;
    }
    case PJ_MB_ABORT:
        abort();
    case PJ_MB_GARBAGE: {
        uint8_t junk[256];
        uint32_t x = 2463534242u;
        for (size_t i = 0; i < sizeof junk; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            junk[i] = (uint8_t)x;
        }
        put(junk, sizeof junk);
        pj_sandbox_exit(PJ_CHILD_EXIT_OK);
    }
    case PJ_MB_HUGE_LENGTH: {
        static const uint8_t hdr[] = {'P', 'J', 'W', 'R', 1, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff,
                                      PJ_WIRE_FINDING, 0xf0, 0xff, 0xff, 0xff};
        put(hdr, sizeof hdr);
        pj_sandbox_exit(PJ_CHILD_EXIT_OK);
    }
    case PJ_MB_EXIT:
        pj_sandbox_exit(PJ_CHILD_EXIT_OK);
    case PJ_MB_PROC_STATUS:
        (void)open("/proc/self/status", O_RDONLY);
        break;
    case PJ_MB_BAD_INDEX: {
        /* Well-formed wire, but a global names a stream that does not exist:
         * the stream before it must survive decoding. */
        pj_report *r = pj_report_new(1 << 20, 16);
        if (r == NULL)
            pj_sandbox_exit(PJ_CHILD_EXIT_OOM);
        pj_report_add_stream(r, "", 0);
        pj_global g = {.module = "os", .name = "system", .stream = 7, .opcode = 'c'};
        pj_report_add_global(r, &g);
        size_t n;
        uint8_t *msg = pj_wire_encode(r, &n);
        if (msg == NULL)
            pj_sandbox_exit(PJ_CHILD_EXIT_OOM);
        put(msg, n);
        pj_sandbox_exit(PJ_CHILD_EXIT_OK);
    }
    default:
        return;
    }
    /* A trapped syscall never returns here; if one did, the jail failed. */
    pj_sandbox_exit(96);
}

#else
typedef int pj_misbehave_not_built;
#endif
