/* The fork server: a small helper process, started once by the scanning
 * process, that starts the scanner children in its place.
 *
 * Why: fork() write-protects every private page of the process that forks,
 * so each page the scanning process then writes (its heap: reports, policy,
 * rendering) takes a page fault per file, and the fork copies page tables
 * in proportion to what the process has mapped.  The server's memory is a
 * frozen copy that is never written between scans, so forking from it
 * leaves the scanning process alone.
 *
 * How: the scanning process sends the job (options, lengths) with two
 * descriptors (the input, the write end of the report pipe) over a
 * SOCK_SEQPACKET socket.  The server clones the child with CLONE_PARENT, so
 * the child is the scanning process's own child: the scanning process
 * waits for it, kills it and reaps it exactly as when it forks itself, and
 * the child's parent-death signal and getppid() check refer to it.  The
 * child maps the input itself, before its limits and its filter (child.c).
 * The server replies with the child's pid and forgets it.
 *
 * The server is a fresh process: the statically linked helper program
 * picklejail-sandbox (helper/) when it is installed and trusted, else the
 * scanning process's own executable started again (execve with
 * PJ_SANDBOX_SERVER=fd:pid:protocol in its environment), which a
 * constructor here turns into the server before main() runs.  Its memory is
 * then only what the libraries and one warm-up hold, not the scanning
 * program's heap (a CLI's list of 10,000 paths, its policy tables): every
 * page and mapping the server has is set up in and torn down with every
 * child, and children cannot read the scanning program's data.  When
 * neither can be started, the server is a plain copy of the scanning
 * process instead.
 *
 * On x86_64 the server loads a seccomp filter that its children inherit
 * (filter.c, "The fork server's filter"): its own calls and a child's setup
 * calls carry a cookie that each child zeroes before it parses.
 *
 * The server is started only by a single-threaded process and used only by
 * the thread that started it (its parent-death signal is tied to that
 * thread); a process forked from the scanning process does not use the
 * server it inherited.  Whenever the server cannot be used, the caller
 * forks the child itself (sandbox.c). */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/single_threaded.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PARENT
#define CLONE_PARENT 0x00008000
#endif

typedef struct server_job {
    pj_options opts;
    uint64_t len;     /* bytes to scan */
    uint64_t map_len; /* bytes to map from the input (0: empty input) */
} server_job;

/* Server state, in the scanning process.  Used only by the thread that
 * started the server (srv_tid) of the process that started it (srv_owner). */
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static int srv_sock = -1;
static pid_t srv_pid, srv_owner, srv_tid;
static unsigned srv_starts;
/* How the server is started, best first: the static helper program
 * (picklejail-sandbox, see helper/), this executable started again, a
 * copy of this process.  A way whose server dies before its first answer
 * is not tried again in this process. */
enum server_kind { SERVER_HELPER, SERVER_SELF_EXEC, SERVER_COPY };
static enum server_kind srv_kind;  /* of the current server */
static enum server_kind srv_first; /* the best way not yet failed */
static bool srv_answered;          /* it has answered a job */

#define SERVER_ENV "PJ_SANDBOX_SERVER"
/* The job message's layout, checked by an exec'd server against its own:
 * a helper from another build of picklejail is not used. */
#define SERVER_PROTOCOL ((unsigned long)(1u << 20) + (unsigned long)sizeof(server_job))
#define HELPER_NAME "picklejail-sandbox"
#define SERVER_ARGV0 "picklejail-sandbox-server"

/* Seconds to wait for the server's answer to a job (its first answer
 * includes its start: exec, warm-up). */
#define SERVER_ANSWER_SECONDS 10

/* Give up on the server after this many starts (it keeps dying). */
#define SERVER_MAX_STARTS 4

/* Starting the server (execve, the dynamic linker, the warm-up) costs ~1 ms;
 * it saves tens of microseconds per file.  The first files of a process
 * are started directly, so a scan of a few files is not slower. */
#define SERVER_AFTER 16
static unsigned srv_direct; /* file scans without a server in this process */

/* ---- the server process ---- */

/* Everything but the socket (fd 0) is closed: children start with nothing
 * but what they are sent. */
static void server_close_others(void)
{
#ifdef PJ_TEST_BUILD
    /* stderr stays open: sanitizer reports stay visible */
    long rc = syscall(SYS_close_range, 1u, 1u, 0u) | syscall(SYS_close_range, 3u, ~0u, 0u);
#else
    long rc = syscall(SYS_close_range, 1u, ~0u, 0u);
#endif
    if (rc != 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = 1; fd < (max > 0 ? max : 65536); fd++)
#ifdef PJ_TEST_BUILD
            if (fd != 2)
#endif
                (void)close((int)fd);
    }
}

/* How the server's loop makes its system calls: with the cookie once its
 * filter is loaded (pj_server_syscall), else plainly. */
static long (*server_sys)(long, long, long, long, long, long) = pj_plain_syscall;

static void server_close(int fd)
{
    (void)server_sys(SYS_close, fd, 0, 0, 0, 0);
}

static bool send_reply(int sock, int64_t v)
{
    struct iovec iov = {.iov_base = &v, .iov_len = sizeof v};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    long n;
    do
        n = server_sys(SYS_sendmsg, sock, (long)&mh, MSG_NOSIGNAL, 0, 0);
    while (n < 0 && errno == EINTR);
    return n == (long)sizeof v;
}

/* Receive one job with exactly two descriptors.  Returns 1 for a job, 0 at
 * the end (the scanning process closed its end), -1 for a malformed message
 * (any descriptors that came are closed). */
static int recv_job(int sock, server_job *job, int fds[2])
{
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = job, .iov_len = sizeof *job};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    long n;
    do
        n = server_sys(SYS_recvmsg, sock, (long)&mh, MSG_CMSG_CLOEXEC, 0, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return 0;
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (got < 2)
                fds[got] = fd;
            else
                server_close(fd);
            got++;
        }
    }
    if (n != (long)sizeof *job || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || got != 2) {
        for (int i = 0; i < got && i < 2; i++)
            server_close(fds[i]);
        return -1;
    }
    return 1;
}

/* The child's address-space limit: what it starts with (this server's
 * mappings, measured once, and the input it maps) plus the budget. */
static uint64_t child_rlimit_as(const pj_options *o, uint64_t base, uint64_t map_len)
{
    if (o->memory_bytes == 0)
        return 0;
    uint64_t extra = map_len > UINT64_MAX - (64u << 20) ? UINT64_MAX : map_len + (64u << 20);
    if (base > UINT64_MAX - extra)
        return UINT64_MAX;
    base += extra;
    return base > UINT64_MAX - o->memory_bytes ? UINT64_MAX : base + o->memory_bytes;
}

#if PJ_SERVER_FILTER
/* What lets the server's own calls and a child's setup calls through the
 * server's filter (filter.c): random, set once before the filter is loaded,
 * zeroed by each child before it parses. */
static volatile uint64_t clone_cookie;

/* A system call with the cookie as its sixth argument (r9: unused by every
 * call the prefix allows), read from memory inside the asm so that the
 * compiler keeps no copy of it, and the register cleared after the call.
 * Also how the server clones: the child returns here too, and keeps the
 * cookie until its setup is done (pj_server_forget_cookie). */
long pj_server_syscall(long nr, long a0, long a1, long a2, long a3, long a4)
{
    register long r10 __asm__("r10") = a3;
    register long r8 __asm__("r8") = a4;
    long ret = nr;
    __asm__ volatile("movq %[cookie], %%r9\n\t"
                     "syscall\n\t"
                     "xorl %%r9d, %%r9d"
                     : "+a"(ret)
                     : "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), [cookie] "m"(clone_cookie)
                     : "rcx", "r9", "r11", "memory", "cc");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

void pj_server_forget_cookie(void)
{
    clone_cookie = 0;
}

/* Zero the stack below the caller's frame, where building the filter may
 * have left copies of the cookie. */
__attribute__((noinline)) static void scrub_stack(void)
{
    unsigned char junk[16384];
    explicit_bzero(junk, sizeof junk);
    __asm__ volatile("" : : "r"(junk) : "memory");
}

/* Drop every capability (so a child can only lower its limits), catch
 * SIGSYS as children do (they inherit the handler: installing it needs
 * rt_sigaction, which the prefix does not allow), then load the filter that
 * every child inherits.  False: children load their own. */
static bool server_filter(const struct sock_fprog *prog)
{
    /* The handler writes to fd 3: in the server that is /dev/null, never a
     * report pipe received for a child. */
    int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd < 0)
        return false;
    if (null_fd != PJ_SANDBOX_REPORT_FD) {
        int moved = dup3(null_fd, PJ_SANDBOX_REPORT_FD, O_CLOEXEC);
        (void)close(null_fd);
        if (moved != PJ_SANDBOX_REPORT_FD)
            return false;
    }
    if (pj_sandbox_catch_sigsys() != 0)
        return false;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
    memset(none, 0, sizeof none);
    if (syscall(SYS_capset, &hdr, none) != 0)
        return false;
    if (getrandom((void *)(uintptr_t)&clone_cookie, sizeof clone_cookie, 0) !=
        (ssize_t)sizeof clone_cookie)
        return false;
    bool ok = pj_sandbox_server_filter_load(prog, clone_cookie);
    if (!ok)
        clone_cookie = 0;
    return ok;
}
#endif

#ifdef PJ_TEST_BUILD
uint64_t pj_server_test_cookie(void)
{
#if PJ_SERVER_FILTER
    return clone_cookie;
#else
    return 0;
#endif
}
#endif

static _Noreturn void server_main(int sock, pid_t parent, const struct sock_fprog *prog)
{
    /* Die with the scanning process (checked after setting it, in case it
     * is already gone). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent)
        pj_sandbox_exit(0);
    /* The scanning program's signal handlers must not run here. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            (void)sigaction(s, &sa, NULL);
    /* What every child would set up again and that fork keeps: once here.
     * The server itself never writes a file or executes a program. */
    if (pj_sandbox_preset() != 0)
        pj_sandbox_exit(0);
    /* The socket moves to fd 0 and its old number is closed (test builds
     * keep fd 2 open in every child: it must never be the socket). */
    if (sock != 0) {
        if (dup2(sock, 0) != 0)
            pj_sandbox_exit(0);
        (void)close(sock);
        sock = 0;
    }
    server_close_others();
    /* Fewer resident pages = fewer page-table entries copied per child. */
    (void)malloc_trim(0);
    /* A request too big for any free chunk makes malloc sort every chunk
     * the warm-up freed into its bins, here and once; otherwise each
     * child's first malloc sorts them, writing to (so copying) a heap page
     * per chunk: ~6 page faults per child (the CPU saved is within noise). */
    void *volatile sort_bins = malloc(256u << 10);
    free(sort_bins);
    uint64_t base = pj_sandbox_vm_size();
    bool filtered = false;
#if PJ_SERVER_FILTER
    filtered = server_filter(prog);
    scrub_stack();
    if (filtered)
        server_sys = pj_server_syscall;
#endif
    for (;;) {
        server_job job;
        int fds[2] = {-1, -1};
        int r = recv_job(sock, &job, fds);
        if (r == 0)
            pj_sandbox_exit(0);
        if (r < 0) {
            if (!send_reply(sock, -EINVAL))
                pj_sandbox_exit(0);
            continue;
        }
        pj_child_job cj = {.data = NULL,
                           .len = (size_t)job.len,
                           .map_len = (size_t)job.map_len,
                           .input_fd = fds[0],
                           .opts = &job.opts,
                           .report_fd = fds[1],
                           .prog = prog,
                           .rlimit_as = child_rlimit_as(&job.opts, base, job.map_len),
                           .parent = parent,
                           .preset = true,
                           .filtered = filtered,
                           .sys = server_sys};
        /* The child starts here too, and maps the input (pj_sandbox_child). */
        pid_t pid = (pid_t)server_sys(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0)
            pj_sandbox_child(&cj);
        int64_t reply = pid > 0 ? (int64_t)pid : -(int64_t)errno;
        server_close(fds[0]);
        server_close(fds[1]);
        if (!send_reply(sock, reply))
            pj_sandbox_exit(0);
    }
}

typedef void (*init_fn)(int, char **, char **);
extern const init_fn __init_array_start[] __attribute__((weak, visibility("hidden")));
extern const init_fn __init_array_end[] __attribute__((weak, visibility("hidden")));

/* The server never returns from its constructor, so the executable's
 * constructors after this one (statically linked libraries': liblzma's CRC
 * dispatch, ASan's global registration) are run here first.  False when
 * this constructor is not in the executable's list (then which ones ran is
 * unknown). */
static bool run_later_constructors(init_fn self, int argc, char **argv, char **envp)
{
    if (__init_array_start == NULL || __init_array_end == NULL)
        return false;
    size_t n = (size_t)(__init_array_end - __init_array_start), i = 0;
    while (i < n && __init_array_start[i] != self)
        i++;
    if (i == n)
        return false;
    for (i++; i < n; i++)
        __init_array_start[i](argc, argv, envp);
    return true;
}

/* An exec'd server: the scanning process started this executable again
 * with SERVER_ENV=fd:pid.  Become the server before main() runs; the
 * variable is only believed when fd is a socket and pid our parent (a
 * stray variable in a user's environment is dropped and ignored). */
__attribute__((constructor)) static void server_exec_entry(int argc, char **argv, char **envp)
{
    const char *v = getenv(SERVER_ENV);
    if (v == NULL)
        return;
    char *end;
    errno = 0;
    long fd = strtol(v, &end, 10);
    long ppid = 0;
    bool ok = errno == 0 && end != v && *end == ':' && fd >= 0 && fd <= 65535;
    if (ok) {
        const char *p = end + 1;
        ppid = strtol(p, &end, 10);
        ok = errno == 0 && end != p && *end == ':' && ppid > 1 && ppid == (long)getppid();
    }
    if (ok) {
        const char *p = end + 1;
        unsigned long proto = strtoul(p, &end, 10);
        ok = errno == 0 && end != p && *end == '\0' && proto == SERVER_PROTOCOL;
    }
    struct stat st;
    ok = ok && fstat((int)fd, &st) == 0 && S_ISSOCK(st.st_mode);
    (void)unsetenv(SERVER_ENV);
    if (!ok)
        return;
    /* Never main(): whatever this program is, it exits here. */
    if (!run_later_constructors(server_exec_entry, argc, argv, envp))
        pj_sandbox_exit(127);
    pj_sandbox_warm();
    const struct sock_fprog *prog;
    const char *why;
    if (!pj_sandbox_filter(&prog, &why))
        pj_sandbox_exit(0);
    server_main((int)fd, (pid_t)ppid, prog);
}

/* ---- the scanning process's side ---- */

/* The executable contains this code (the library is linked into it, not
 * into a shared object another program loaded), so starting it again with
 * SERVER_ENV reaches server_exec_entry. */
static bool exec_possible(void)
{
    /* Defined by the GNU, gold and LLVM linkers; weak, so another linker
     * only turns the exec'd server off. */
    extern const char __executable_start[] __attribute__((weak));
    extern const char etext[] __attribute__((weak));
    uintptr_t a = (uintptr_t)&server_exec_entry;
    if (__executable_start == NULL || etext == NULL)
        return false;
    return a >= (uintptr_t)__executable_start && a < (uintptr_t)etext;
}

/* Owned by root or by us, and writable by nobody else. */
static bool owned_safely(const struct stat *st)
{
    return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* Whether the helper at path may be executed: a regular executable file
 * that only root or we could have put there and can replace.  A copy of
 * picklejail run from a shared directory (/tmp) must not execute whatever
 * someone else left beside it under the helper's name. */
static bool helper_trusted(const char *path)
{
    struct stat st, dir;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !owned_safely(&st) ||
        access(path, X_OK) != 0)
        return false;
    char parent[4096];
    size_t n = strlen(path);
    if (n >= sizeof parent)
        return false;
    memcpy(parent, path, n + 1);
    char *slash = strrchr(parent, '/');
    if (slash == NULL)
        return false;
    if (slash == parent)
        slash[1] = '\0';
    else
        *slash = '\0';
    if (stat(parent, &dir) != 0 || !(dir.st_uid == 0 || dir.st_uid == geteuid()))
        return false;
    /* A directory others may write to only with the sticky bit: then they
     * cannot replace our file. */
    return !(dir.st_mode & (S_IWGRP | S_IWOTH)) || (dir.st_mode & S_ISVTX);
}

/* The helper program: PJ_TEST_SANDBOX_HELPER in test builds, else
 * picklejail-sandbox beside this executable (a build tree) or in
 * ../libexec/picklejail/ from it (an installation); used only when
 * helper_trusted(). */
static bool helper_path(char *buf, size_t size)
{
#ifdef PJ_TEST_BUILD
    const char *forced = getenv("PJ_TEST_SANDBOX_HELPER");
    if (forced != NULL) {
        size_t n = strlen(forced);
        if (n == 0 || n >= size)
            return false;
        memcpy(buf, forced, n + 1);
        return helper_trusted(buf);
    }
#endif
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return false;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    static const char *const where[] = {"/" HELPER_NAME, "/../libexec/picklejail/" HELPER_NAME};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        int len = snprintf(buf, size, "%s%s", self, where[i]);
        if (len > 0 && (size_t)len < size && helper_trusted(buf))
            return true;
    }
    return false;
}

/* environ plus SERVER_ENV=sock:self (malloc'ed; the strings are shared). */
static char **server_environ(int sock, pid_t self, char *var, size_t varlen)
{
    extern char **environ;
    size_t n = 0;
    while (environ != NULL && environ[n] != NULL)
        n++;
    char **envp = malloc((n + 2) * sizeof *envp);
    if (envp == NULL)
        return NULL;
    snprintf(var, varlen, SERVER_ENV "=%d:%d:%lu", sock, (int)self, SERVER_PROTOCOL);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], SERVER_ENV "=", sizeof SERVER_ENV) != 0)
            envp[k++] = environ[i];
    envp[k++] = var;
    envp[k] = NULL;
    return envp;
}

/* Forget the server (closed socket; the server exits on end of file). */
static void server_drop(bool reap)
{
    if (srv_sock >= 0)
        (void)close(srv_sock);
    srv_sock = -1;
    if (reap && srv_pid > 0) {
        /* Unreaped, so the pid is still ours; the server holds nothing that
         * needs an orderly end, and may still be starting. */
        (void)kill(srv_pid, SIGKILL);
        while (waitpid(srv_pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    /* A server that died before its first answer could not start: the next
     * way from now on. */
    if (!srv_answered && srv_kind < SERVER_COPY && srv_first <= srv_kind)
        srv_first = srv_kind + 1;
    srv_pid = 0;
}

static void server_at_exit(void)
{
    /* Never wait for the lock at exit: another thread may hold it. */
    if (pthread_mutex_trylock(&srv_lock) != 0)
        return;
    if (srv_sock >= 0)
        server_drop(srv_owner == getpid());
    pthread_mutex_unlock(&srv_lock);
}

static bool server_start(const struct sock_fprog *prog)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return false;
    pid_t self = getpid();
    char var[96];
    char **envp = NULL;
    static char helper[4096];
    enum server_kind kind = srv_first;
#ifdef PJ_TEST_BUILD
    if (getenv("PJ_TEST_SERVER_NO_EXEC") != NULL) /* tests of the copy */
        kind = SERVER_COPY;
#endif
    if (kind == SERVER_HELPER && !helper_path(helper, sizeof helper))
        kind = SERVER_SELF_EXEC;
    if (kind == SERVER_SELF_EXEC && !exec_possible())
        kind = SERVER_COPY;
    if (kind != SERVER_COPY && (envp = server_environ(sv[1], self, var, sizeof var)) == NULL)
        kind = SERVER_COPY;
    /* Single-threaded (checked by the caller): a bare clone, as for a child. */
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, 0UL, 0UL, 0UL);
    if (pid == 0) {
        (void)close(sv[0]);
        if (kind != SERVER_COPY) {
            /* The parent-death signal survives execve (not set-uid). */
            char *argv[] = {(char *)SERVER_ARGV0, NULL};
            if (fcntl(sv[1], F_SETFD, 0) == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0 &&
                getppid() == self)
                execve(kind == SERVER_HELPER ? helper : "/proc/self/exe", argv, envp);
            pj_sandbox_exit(127);
        }
        server_main(sv[1], self, prog);
    }
    free(envp);
    (void)close(sv[1]);
    if (pid < 0) {
        (void)close(sv[0]);
        return false;
    }
    /* A server that never answers (a wrong program installed as the
     * helper, a wedged server) is given up like a dead one, not waited for:
     * its answer to a job normally takes microseconds. */
    struct timeval answer_within = {.tv_sec = SERVER_ANSWER_SECONDS};
#ifdef PJ_TEST_BUILD
    const char *answer_env = getenv("PJ_TEST_SERVER_ANSWER_SECONDS");
    if (answer_env != NULL)
        answer_within.tv_sec = (time_t)strtol(answer_env, NULL, 10);
#endif
    (void)setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &answer_within, sizeof answer_within);
    srv_sock = sv[0];
    srv_pid = pid;
    srv_owner = self;
    srv_tid = gettid();
    srv_starts++;
    /* At exit, stop and reap the server (its CPU time then counts for this
     * process, and it is not left to init). */
    static bool at_exit;
    if (!at_exit)
        at_exit = atexit(server_at_exit) == 0;
    srv_kind = kind;
    srv_answered = false;
    return true;
}

/* The server is ours to use: started here, by this thread, still there. */
static bool server_ready(const struct sock_fprog *prog)
{
    if (srv_sock >= 0 && srv_owner != getpid()) {
        /* Inherited from the process we were forked from: not ours. */
        (void)close(srv_sock);
        srv_sock = -1;
        srv_pid = 0;
        srv_starts = 0;
        srv_first = SERVER_HELPER;
        srv_direct = 0;
    }
    if (srv_sock >= 0)
        return srv_tid == gettid();
    if (!__libc_single_threaded || srv_starts >= SERVER_MAX_STARTS)
        return false;
    unsigned after = SERVER_AFTER;
#ifdef PJ_TEST_BUILD
    /* Tests of the server with every file, from the first. */
    const char *forced_after = getenv("PJ_TEST_SERVER_AFTER");
    if (forced_after != NULL)
        after = (unsigned)strtoul(forced_after, NULL, 10);
#endif
    if (srv_starts == 0 && srv_direct < after) {
        srv_direct++;
        return false;
    }
    return server_start(prog);
}

pid_t pj_server_spawn(int input_fd, size_t len, size_t map_len, const pj_options *o,
                      int report_fd, const struct sock_fprog *prog)
{
    if (pthread_mutex_lock(&srv_lock) != 0)
        return -1;
    pid_t pid = -1;
    if (!server_ready(prog))
        goto out;
    server_job job;
    memset(&job, 0, sizeof job);
    job.opts = *o;
    job.len = len;
    job.map_len = map_len;
    union {
        char buf[CMSG_SPACE(2 * sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {.iov_base = &job, .iov_len = sizeof job};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                        .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int fds[2] = {input_fd, report_fd};
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    ssize_t n;
    do
        n = sendmsg(srv_sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int64_t reply = 0;
    if (n == (ssize_t)sizeof job) {
        do
            n = recv(srv_sock, &reply, sizeof reply, 0);
        while (n < 0 && errno == EINTR);
    }
    if (n != (ssize_t)sizeof reply || reply == 0 || reply > INT32_MAX || reply < INT32_MIN) {
        /* The server is gone (or confused): reap it; the caller forks. */
        server_drop(true);
        goto out;
    }
    srv_answered = true;
    if (reply > 0)
        pid = (pid_t)reply;
    /* reply < 0: the server could not clone; the caller forks itself. */
out:
    pthread_mutex_unlock(&srv_lock);
    return pid;
}

int pj_sandbox_helper_main(void)
{
    fputs(HELPER_NAME ": the sandbox helper of picklejail; picklejail starts it, "
                      "it does nothing on its own\n",
          stderr);
    return 2;
}

void pj_sandbox_shutdown(void)
{
    if (pthread_mutex_lock(&srv_lock) != 0)
        return;
    if (srv_sock >= 0) {
        bool ours = srv_owner == getpid();
        server_drop(ours);
        srv_pid = 0;
    }
    srv_starts = 0;
    pthread_mutex_unlock(&srv_lock);
}
