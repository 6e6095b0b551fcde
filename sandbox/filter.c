/* The seccomp filter of the scanner child, compiled once per process with
 * libseccomp and exported as raw BPF, so each child only has to make one
 * prctl() to load it.
 *
 * Default action: SECCOMP_RET_TRAP.  The child's SIGSYS handler writes the
 * syscall number to the report pipe and exits; if the handler cannot run
 * (signal blocked, handler replaced - both need syscalls the filter traps)
 * the kernel kills the process with SIGSYS.  Either way the parent reports a
 * violation.  Allowed after the filter, and why:
 *   write       only to the report fd (3): the report itself
 *   exit, exit_group   ending
 *   brk, mmap, munmap, mremap   glibc malloc (mmap never with PROT_EXEC)
 *   mprotect    glibc malloc grows heaps by mprotect (never PROT_EXEC)
 *   madvise     malloc trimming and sanitizer shadow; only DONTNEED, FREE,
 *               (NO)HUGEPAGE, DONTDUMP - never HWPOISON/REMOVE/...
 *   rt_sigreturn   returning from a signal handler
 *   clock_gettime  read-only; the vDSO falls back to it on some clock sources
 * Not needed, so not allowed: getrandom (glibc seeds malloc once per
 * process, in the parent), futex (the child is single-threaded), read/open
 * (the input is mapped before the filter).
 * Test builds (PJ_TEST_BUILD) also allow write to fd 2, so sanitizer
 * reports from the child stay visible, and sigaltstack(NULL, ...) (a query),
 * which ASan makes before every call of a noreturn function. */
#include "sandbox.h"

#include <errno.h>
#include <linux/filter.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static struct sock_fprog filter_prog;
static const char *filter_error;
static pthread_once_t filter_once = PTHREAD_ONCE_INIT;

static int add_rules(scmp_filter_ctx ctx)
{
    int rc;
#define ALLOW(name) \
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), 0)) < 0) \
        return rc
#define ALLOW1(name, cmp) \
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), 1, cmp)) < 0) \
        return rc
    ALLOW1(write, SCMP_A0(SCMP_CMP_EQ, PJ_SANDBOX_REPORT_FD, 0));
#ifdef PJ_TEST_BUILD
    ALLOW1(write, SCMP_A0(SCMP_CMP_EQ, 2, 0));
    /* ASan queries the signal stack before every noreturn call. */
    ALLOW1(sigaltstack, SCMP_A0(SCMP_CMP_EQ, 0, 0));
#endif
    ALLOW(exit);
    ALLOW(exit_group);
    ALLOW(brk);
    ALLOW1(mmap, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    ALLOW1(mprotect, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    ALLOW(munmap);
    ALLOW(mremap);
    static const int advice[] = {MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE, MADV_NOHUGEPAGE,
                                 MADV_DONTDUMP};
    for (size_t i = 0; i < sizeof advice / sizeof advice[0]; i++)
        ALLOW1(madvise, SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)advice[i], 0));
    ALLOW(rt_sigreturn);
    ALLOW(clock_gettime);
#undef ALLOW
#undef ALLOW1
    return 0;
}

static void build(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    int memfd = -1;
    void *buf = NULL;
    if (ctx == NULL) {
        filter_error = "libseccomp could not create a filter";
        return;
    }
    /* The child sets no_new_privs itself; a foreign architecture's syscall
     * numbers mean nothing to us, so such calls kill. */
    /* A binary tree over syscall numbers: at attach time the kernel runs
     * the filter once per syscall number to precompute its allow cache, so
     * the path per number should be short (the measured gain was within
     * noise).  Older libseccomp lacks the attribute: the linear filter is
     * just as correct. */
    (void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 ||
        seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
        add_rules(ctx) < 0) {
        filter_error = "libseccomp rejected the filter rules";
        goto out;
    }
    /* libseccomp 2.5 exports BPF only to a file descriptor. */
    memfd = memfd_create("pj-seccomp", MFD_CLOEXEC);
    if (memfd < 0 || seccomp_export_bpf(ctx, memfd) < 0) {
        filter_error = "libseccomp could not export the filter";
        goto out;
    }
    off_t size = lseek(memfd, 0, SEEK_END);
    if (size <= 0 || (size_t)size % sizeof(struct sock_filter) != 0 ||
        (size_t)size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
        filter_error = "libseccomp exported a malformed filter";
        goto out;
    }
    buf = malloc((size_t)size);
    if (buf == NULL || pread(memfd, buf, (size_t)size, 0) != size) {
        filter_error = "could not read the exported filter";
        goto out;
    }
    filter_prog.len = (unsigned short)((size_t)size / sizeof(struct sock_filter));
    filter_prog.filter = buf;
    buf = NULL;
out:
    free(buf);
    if (memfd >= 0)
        close(memfd);
    seccomp_release(ctx);
}

bool pj_sandbox_filter(const struct sock_fprog **prog, const char **why)
{
    pthread_once(&filter_once, build);
    if (filter_prog.filter == NULL) {
        *why = filter_error ? filter_error : "the seccomp filter could not be built";
        return false;
    }
    *prog = &filter_prog;
    return true;
}
