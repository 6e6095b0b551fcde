/* -o FILE written atomically (see output.h). */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Static: the signal handler and the atexit hook read them. */
static char tmp_path[PATH_MAX];
static char final_path[PATH_MAX];
static char dir_path[PATH_MAX];
static volatile sig_atomic_t armed; /* tmp_path exists and is ours to remove */
static pid_t owner;                 /* forked workers and sandboxed children are not */

static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static void on_signal(int sig)
{
    if (armed && getpid() == owner)
        unlink(tmp_path);
    signal(sig, SIG_DFL);
    raise(sig); /* delivered when the handler returns: the usual death */
}

/* Writing past RLIMIT_FSIZE then fails with EFBIG, an error we report,
 * instead of killing the process with the temporary file left behind. */
static void on_xfsz(int sig)
{
    (void)sig;
}

static void at_exit(void)
{
    if (armed && getpid() == owner) {
        unlink(tmp_path);
        armed = 0;
    }
}

static void install(int sig, void (*fn)(int))
{
    struct sigaction old, sa;
    /* Keep a signal the caller chose to ignore (nohup) ignored. */
    if (sigaction(sig, NULL, &old) != 0 || old.sa_handler != SIG_DFL)
        return;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static bool fail(char *err, size_t errlen, const char *path, const char *what, int e)
{
    snprintf(err, errlen, "cannot write the report to '%s': %s%s%s", path, what,
             e ? ": " : "", e ? strerror(e) : "");
    return false;
}

bool pj_output_open(const char *path, char *err, size_t errlen)
{
    if (path[0] == '\0')
        return fail(err, errlen, path, "empty file name", 0);
    const char *target = path;
    char resolved[PATH_MAX];
    struct stat st;
    mode_t mode;
    if (lstat(path, &st) == 0) {
        /* Replace the file a symlink points to, not the link. */
        if (S_ISLNK(st.st_mode)) {
            if (realpath(path, resolved) == NULL)
                return fail(err, errlen, path, "cannot resolve the symbolic link", errno);
            target = resolved;
            if (stat(target, &st) != 0)
                return fail(err, errlen, path, "cannot stat", errno);
        }
        if (S_ISDIR(st.st_mode))
            return fail(err, errlen, path, "is a directory", 0);
        if (!S_ISREG(st.st_mode))
            return fail(err, errlen, path,
                        "not a regular file (use shell redirection for devices and pipes)", 0);
        mode = st.st_mode & 07777;
    } else if (errno == ENOENT || errno == ENOTDIR) {
        mode_t m = umask(0);
        umask(m);
        mode = 0666 & ~m;
    } else {
        return fail(err, errlen, path, "cannot stat", errno);
    }
    size_t len = strlen(target);
    if (len >= sizeof final_path)
        return fail(err, errlen, path, "path too long", 0);
    memcpy(final_path, target, len + 1);
    memcpy(dir_path, target, len + 1);
    char *slash = strrchr(dir_path, '/');
    if (slash == NULL)
        strcpy(dir_path, ".");
    else if (slash == dir_path)
        dir_path[1] = '\0';
    else
        *slash = '\0';
    struct stat ds;
    if (stat(dir_path, &ds) != 0)
        return fail(err, errlen, path, "its directory does not exist or cannot be reached", errno);
    if (!S_ISDIR(ds.st_mode))
        return fail(err, errlen, path, "its directory is not a directory", 0);
    int n = snprintf(tmp_path, sizeof tmp_path, "%s/.picklejail-XXXXXX", dir_path);
    if (n < 0 || (size_t)n >= sizeof tmp_path)
        return fail(err, errlen, path, "path too long", 0);

    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        install(fatal_signals[i], on_signal);
    install(SIGXFSZ, on_xfsz);
    static bool hooked;
    if (!hooked && atexit(at_exit) == 0)
        hooked = true;
    owner = getpid();
    int fd = mkostemp(tmp_path, O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, path, "cannot create a temporary file next to it", errno);
    armed = 1;
    /* With stdout closed (>&-) mkostemp may hand out fd 1 itself. */
    bool ok = fchmod(fd, mode) == 0 &&
              (fd == STDOUT_FILENO ? fcntl(fd, F_SETFD, 0) == 0 : dup2(fd, STDOUT_FILENO) >= 0);
    int e = errno;
    if (fd != STDOUT_FILENO)
        close(fd); /* fd 1 (not close-on-exec) is the file now */
    if (!ok) {
        pj_output_abort();
        return fail(err, errlen, path, "cannot set up the temporary file", e);
    }
    return true;
}

void pj_output_abort(void)
{
    if (armed) {
        unlink(tmp_path);
        armed = 0;
    }
}

bool pj_output_commit(char *err, size_t errlen)
{
    if (!armed)
        return true;
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        int e = errno;
        pj_output_abort();
        return fail(err, errlen, final_path, "write error", e);
    }
    if (fsync(STDOUT_FILENO) != 0) {
        int e = errno;
        pj_output_abort();
        return fail(err, errlen, final_path, "fsync failed", e);
    }
    /* No signal between the rename and disarming (the handler would unlink
     * a name that is no longer ours). */
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++)
        sigaddset(&block, fatal_signals[i]);
    sigprocmask(SIG_BLOCK, &block, &old);
    int r = rename(tmp_path, final_path);
    int e = errno;
    if (r == 0)
        armed = 0;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        pj_output_abort();
        return fail(err, errlen, final_path, "rename failed", e);
    }
    /* Make the rename itself durable. */
    int dfd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return true;
}
