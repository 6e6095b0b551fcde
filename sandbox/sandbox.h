/* Sandbox internals shared by the parent (sandbox.c), the child (child.c),
 * the seccomp filter (filter.c) and the test-only misbehaviour
 * (misbehave.c). */
#ifndef PJ_SANDBOX_H
#define PJ_SANDBOX_H

#include "picklejail.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The child's report pipe is always moved to this descriptor, so the filter
 * (compiled once) can check write()'s fd argument against a constant. */
#define PJ_SANDBOX_REPORT_FD 3

/* How the child tells the parent why it ended when it has no report.  Each
 * comes with an 8-byte trailer on the pipe: a 4-byte tag and a u32 LE. */
enum {
    PJ_CHILD_EXIT_OK = 0,
    PJ_CHILD_EXIT_VIOLATION = 90, /* "PJSV" + syscall number (SIGSYS handler) */
    PJ_CHILD_EXIT_NOSECCOMP = 91, /* "PJSU" + errno of loading the filter */
    PJ_CHILD_EXIT_SETUP = 92,     /* "PJSS" + errno of rlimit/prctl setup */
    PJ_CHILD_EXIT_OOM = 93,       /* "PJSM" + 0: out of memory before a report */
    PJ_CHILD_EXIT_WRITE = 94,     /* the report could not be written */
    PJ_CHILD_EXIT_NOMAP = 96,     /* "PJSI" + errno: a fork server's child could not map the
                                     input (the parent scans it another way) */
};
#define PJ_CHILD_TRAILER_LEN 8

/* The compiled filter: built once per process (thread-safe), shared by
 * every child.  Returns false with a static reason when libseccomp could not
 * build it. */
struct sock_fprog;
bool pj_sandbox_filter(const struct sock_fprog **prog, const char **why);

/* The fork server loads a filter of its own that its children inherit
 * (x86_64: the cookie check is written for its syscall ABI); elsewhere each
 * child loads the child filter itself. */
#if defined(__x86_64__)
#define PJ_SERVER_FILTER 1
#else
#define PJ_SERVER_FILTER 0
#endif
#if PJ_SERVER_FILTER
/* Load the server's filter (filter.c): the child filter, preceded by the
 * calls only the server and a child's setup make, each allowed only with
 * this cookie as its sixth argument.  False: not loaded. */
bool pj_sandbox_server_filter_load(const struct sock_fprog *child, uint64_t cookie);
/* A system call with the server's cookie as its sixth argument (server.c);
 * -1 and errno on failure.  Fails with the filter once the cookie is
 * forgotten. */
long pj_server_syscall(long nr, long a0, long a1, long a2, long a3, long a4);
/* Zero this process's copy of the cookie: a child, before it parses. */
void pj_server_forget_cookie(void);
#endif
/* A plain system call with the same signature (child.c). */
long pj_plain_syscall(long nr, long a0, long a1, long a2, long a3, long a4);
/* Install the SIGSYS handler that names a trapped syscall (child.c). */
int pj_sandbox_catch_sigsys(void);

/* Everything the child needs, prepared by the parent before fork. */
typedef struct pj_child_job {
    const uint8_t *data;           /* the input, mapped by the parent; or NULL: */
    size_t len;
    int input_fd;                  /* -1, or the child maps map_len bytes of it */
    size_t map_len;
    const pj_options *opts;
    int report_fd;                 /* write end of the report pipe */
    const struct sock_fprog *prog; /* the compiled filter */
    uint64_t rlimit_as;            /* 0: no address-space limit */
    pid_t parent;                  /* the scanning process */
    bool preset;                   /* signals and fixed limits inherited (pj_sandbox_preset) */
    bool filtered;                 /* the server's filter is inherited: load none, make the
                                      setup calls through sys, then forget the cookie */
    long (*sys)(long nr, long a0, long a1, long a2, long a3, long a4); /* setup calls */
} pj_child_job;

/* In the fork server, once: what every child needs that survives fork
 * (crash signals at their default action, nothing blocked, RLIMIT_FSIZE and
 * RLIMIT_CORE 0, no_new_privs, not dumpable).  0 or an errno. */
int pj_sandbox_preset(void);

/* The child's only ways out and to the parent: raw syscalls (sanitizers
 * intercept the libc wrappers and make syscalls the filter traps). */
_Noreturn void pj_sandbox_exit(int code);
bool pj_sandbox_write(const void *buf, size_t n); /* to the report fd */

/* Runs in the forked child; never returns. */
_Noreturn void pj_sandbox_child(const pj_child_job *job);

/* Once per process, before the first child (thread-safe): load what
 * libraries load on first use and resolve the calls a child makes, so that
 * children inherit it (sandbox.c). */
void pj_sandbox_warm(void);

/* The process's mapped size in bytes (/proc/self/statm), 0 if unknown. */
uint64_t pj_sandbox_vm_size(void);

/* Start the child for a job through the fork server (server.c): the
 * child is this process's own child (wait for it, kill it, reap it as
 * usual).  Returns its pid, or -1 when the server cannot be used (no child
 * was started: fork one yourself). */
pid_t pj_server_spawn(int input_fd, size_t len, size_t map_len, const pj_options *o,
                      int report_fd, const struct sock_fprog *prog);

/* main() of the helper program picklejail-sandbox (helper/): reached only
 * when it was not started as a fork server.  Prints what it is; returns 2. */
int pj_sandbox_helper_main(void);

/* Test-only misbehaviour (PJ_TEST_BUILD): modes for opts->test_misbehave.
 * A mode applies only to inputs that start with PJ_MISBEHAVE_MARKER, so one
 * invocation can scan a misbehaving file and then a normal one. */
#define PJ_MISBEHAVE_MARKER "PJ-MISBEHAVE"
enum pj_misbehave {
    PJ_MB_NONE = 0,
    PJ_MB_OPEN,        /* open a file */
    PJ_MB_EXEC,        /* execve a program */
    PJ_MB_SOCKET,      /* open a socket */
    PJ_MB_MMAP_EXEC,   /* map executable memory */
    PJ_MB_MPROTECT_EXEC, /* make memory executable */
    PJ_MB_FORK,        /* fork */
    PJ_MB_STDOUT,      /* write to stdout */
    PJ_MB_LOOP,        /* loop forever */
    PJ_MB_ALLOC,       /* allocate without bound */
    PJ_MB_SEGV,        /* segfault */
    PJ_MB_ABORT,       /* abort() */
    PJ_MB_GARBAGE,     /* write garbage to the pipe */
    PJ_MB_HUGE_LENGTH, /* write a header claiming a huge body */
    PJ_MB_EXIT,        /* exit without a report */
    PJ_MB_PROC_STATUS, /* read /proc/self/status (proves the filter is loaded) */
    PJ_MB_NO_SECCOMP,  /* pretend the kernel has no seccomp */
    PJ_MB_BAD_INDEX,   /* a well-formed report with an out-of-range index */
    PJ_MB_SERVER_CLONE, /* clone as the fork server does, with its cookie as seen here */
    PJ_MB_RAISE_LIMIT, /* raise its address-space limit (garbage report if that worked) */
    PJ_MB_CLOSE_LOOP,  /* close the report pipe, then loop forever */
    PJ_MB_CLEAR_DEATHSIG, /* clear its parent-death signal (to outlive the parent) */
    PJ_MB_COUNT
};
#ifdef PJ_TEST_BUILD
/* Before the filter: true when mode is PJ_MB_NO_SECCOMP for this input. */
bool pj_misbehave_skip_seccomp(const pj_child_job *job);
/* After the filter: misbehave (usually never returns). */
void pj_misbehave_run(const pj_child_job *job);
/* The fork server's clone cookie as this process sees it (server.c). */
uint64_t pj_server_test_cookie(void);
#endif

#endif
