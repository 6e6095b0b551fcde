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

#if PJ_SERVER_FILTER
/* The fork server's filter: the child's filter above, preceded by a prefix
 * for the calls only the server and a child's setup make.  Loaded once by
 * the server and inherited by every child it clones, so children load
 * nothing: attaching a filter costs ~27 us per process here (the kernel
 * JIT-compiles it and runs it for every syscall number to build its
 * cache), inheriting one costs nothing.
 *
 * The prefix allows a call only when its sixth argument (unused by all of
 * these calls) is a random 64-bit cookie, and only these calls: clone
 * (CLONE_PARENT|SIGCHLD), recvmsg and sendmsg on fd 0 (the server's
 * socket), close, dup2, close_range, prlimit64 on itself, prctl
 * (PR_SET_PDEATHSIG to SIGKILL), getppid.  Anything else, or without the
 * cookie, falls through to the child's filter unchanged.  The server makes
 * these calls with the cookie (server.c); a child makes its setup calls
 * with it (dup2, close_range, its limits, its parent-death signal) and then
 * zeroes its copy before the first byte of input is parsed, so from then
 * on only the child filter's calls pass, as for a child that loaded it.
 * The cookie is read into the register inside the asm that makes the call
 * and cleared after it; the BPF program holding it is zeroed after
 * loading; a process cannot read its filter back without CAP_SYS_ADMIN; a
 * wrong guess traps (one guess in 2^64).  Should it leak anyway, the
 * server dropped every capability (limits can only be lowered) and the
 * calls are argument-checked as above. */
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

enum { TO_NEXT_RULE = 1, TO_CHILD = 2 };

typedef struct prefix {
    struct sock_filter *insn;
    uint8_t *target; /* per conditional jump: where its false branch goes */
    size_t n, cap;
    bool overflow;
} prefix;

static void emit(prefix *p, struct sock_filter f, uint8_t target)
{
    if (p->n == p->cap) {
        p->overflow = true;
        return;
    }
    p->target[p->n] = target;
    p->insn[p->n++] = f;
}

static void load(prefix *p, uint32_t off)
{
    emit(p, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off), 0);
}

/* if (A != k) goto target */
static void require(prefix *p, uint32_t k, uint8_t target)
{
    emit(p, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 0), target);
}

static void require_arg(prefix *p, unsigned i, uint64_t v, uint8_t target)
{
    /* seccomp_data.args[i], little-endian halves */
    uint32_t off = (uint32_t)(offsetof(struct seccomp_data, args) + 8 * i);
    load(p, off);
    require(p, (uint32_t)v, target);
    load(p, off + 4);
    require(p, (uint32_t)(v >> 32), target);
}

static void allow(prefix *p)
{
    emit(p, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), 0);
}

/* Point every pending "next rule" jump here. */
static void end_rule(prefix *p)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->target[i] == TO_NEXT_RULE) {
            p->insn[i].jf = (uint8_t)(p->n - i - 1);
            p->target[i] = 0;
        }
}

bool pj_sandbox_server_filter_load(const struct sock_fprog *child, uint64_t cookie)
{
    static const struct {
        long nr;
        unsigned n_args; /* how many of the first arguments must equal arg[] */
        uint64_t arg[2];
    } rules[] = {
        {SYS_clone, 1, {CLONE_PARENT | SIGCHLD, 0}},
        {SYS_recvmsg, 1, {0, 0}},
        {SYS_sendmsg, 1, {0, 0}},
        {SYS_close, 0, {0, 0}},
        {SYS_dup2, 0, {0, 0}},
        {SYS_close_range, 0, {0, 0}},
        {SYS_prlimit64, 1, {0, 0}},
        /* only ever to SIGKILL: a child must not outlive the scanning process */
        {SYS_prctl, 2, {PR_SET_PDEATHSIG, SIGKILL}},
        {SYS_getppid, 0, {0, 0}},
    };
    enum { PREFIX_MAX = 96 };
    size_t total = (size_t)child->len + PREFIX_MAX;
    if (total > BPF_MAXINSNS)
        return false;
    struct sock_filter *insn = calloc(total, sizeof *insn);
    uint8_t target[PREFIX_MAX];
    if (insn == NULL)
        return false;
    prefix p = {.insn = insn, .target = target, .cap = PREFIX_MAX};
    load(&p, (uint32_t)offsetof(struct seccomp_data, arch));
    require(&p, AUDIT_ARCH_X86_64, TO_CHILD);
    require_arg(&p, 5, cookie, TO_CHILD);
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        load(&p, (uint32_t)offsetof(struct seccomp_data, nr));
        require(&p, (uint32_t)rules[r].nr, TO_NEXT_RULE);
        for (unsigned i = 0; i < rules[r].n_args; i++)
            require_arg(&p, i, rules[r].arg[i], TO_NEXT_RULE);
        allow(&p);
        end_rule(&p);
    }
    bool ok = !p.overflow;
    for (size_t i = 0; ok && i < p.n; i++)
        if (p.target[i] == TO_CHILD) {
            if (p.n - i - 1 > 255)
                ok = false;
            else
                insn[i].jf = (uint8_t)(p.n - i - 1);
        }
    if (ok) {
        memcpy(insn + p.n, child->filter, (size_t)child->len * sizeof *insn);
        struct sock_fprog prog = {.len = (unsigned short)(p.n + child->len), .filter = insn};
        ok = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
    }
    /* The cookie must not stay in this process's memory: children are
     * copies of it. */
    explicit_bzero(insn, total * sizeof *insn);
    free(insn);
    return ok;
}
#endif
