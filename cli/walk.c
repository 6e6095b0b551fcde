/* The walk: turns the PATH arguments and --files-from lists into the job
 * list (cli.h), in input order, before anything is scanned.  Scanning
 * happens later, serially or in worker processes (schedule.c).
 *
 * Directories are read recursively in name order.  A path named explicitly
 * (argument or list entry) is followed if it is a symlink; symlinks found
 * inside a directory are not followed unless --follow-symlinks, and then a
 * directory already on the current path (a loop) or already walked through
 * another link is not entered again.  Everything the walk passes over is
 * recorded in c->skipped with its reason, so no output is silent about it. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_DEPTH = 64 };

/* Directories seen during one argument's walk: (dev, ino) in an open
 * addressing hash set, plus the chain of directories on the current path. */
typedef struct dir_id {
    dev_t dev;
    ino_t ino;
} dir_id;

typedef struct walk_state {
    dir_id *set;
    size_t set_cap, set_n;
    dir_id path[MAX_DEPTH + 2];
    size_t path_n;
    size_t root_len; /* bytes of the argument prefix (with its slash) */
} walk_state;

static void oom(void)
{
    fprintf(stderr, "picklejail: out of memory listing files\n");
    exit(EXIT_USAGE);
}

static size_t id_hash(dir_id d, size_t cap)
{
    uint64_t h = (uint64_t)d.ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)d.dev * 0xc2b2ae3d27d4eb4full;
    return (size_t)(h >> 17) & (cap - 1);
}

/* Adds d; returns false if it was already there. */
static bool set_add(walk_state *w, dir_id d)
{
    if (w->set_n * 2 >= w->set_cap) {
        size_t ncap = w->set_cap ? w->set_cap * 2 : 256;
        dir_id *ns = calloc(ncap, sizeof *ns);
        if (ns == NULL)
            oom();
        /* ino 0 is never a real directory: use it as the empty marker. */
        for (size_t i = 0; i < w->set_cap; i++) {
            if (w->set[i].ino == 0)
                continue;
            size_t k = id_hash(w->set[i], ncap);
            while (ns[k].ino != 0)
                k = (k + 1) & (ncap - 1);
            ns[k] = w->set[i];
        }
        free(w->set);
        w->set = ns;
        w->set_cap = ncap;
    }
    size_t k = id_hash(d, w->set_cap);
    while (w->set[k].ino != 0) {
        if (w->set[k].ino == d.ino && w->set[k].dev == d.dev)
            return false;
        k = (k + 1) & (w->set_cap - 1);
    }
    w->set[k] = d;
    w->set_n++;
    return true;
}

void pj_cli_add_skipped(cli *c, const char *path, const char *reason, const char *message)
{
    pj_skipped_list *l = &c->skipped;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        pj_skipped *ni = realloc(l->items, ncap * sizeof *ni);
        if (ni == NULL)
            oom();
        l->items = ni;
        l->cap = ncap;
    }
    pj_skipped *s = &l->items[l->n];
    s->path = strdup(path);
    s->reason = reason;
    s->message = strdup(message);
    if (s->path == NULL || s->message == NULL)
        oom();
    l->n++;
}

static void add_error(cli *c, const char *path, const char *what, int err)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
    pj_cli_add_job(c, path, msg, 0);
}

static const char *special_kind(mode_t m)
{
    if (S_ISFIFO(m))
        return "a named pipe (fifo)";
    if (S_ISSOCK(m))
        return "a socket";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    return "not a regular file";
}

static const char *excluded_by(const cli *c, const char *path, const char *rel, const char *base)
{
    for (size_t i = 0; i < c->n_excludes; i++) {
        const char *g = c->excludes[i];
        if (fnmatch(g, base, 0) == 0 || fnmatch(g, rel, 0) == 0 || fnmatch(g, path, 0) == 0)
            return g;
    }
    return NULL;
}

static void walk_entry(cli *c, walk_state *w, const char *path, int depth);

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void walk_dir(cli *c, walk_state *w, const char *path, int depth)
{
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, name_cmp);
    if (n < 0) {
        add_error(c, path, "cannot read directory", errno);
        return;
    }
    size_t plen = strlen(path);
    bool slash = plen > 0 && path[plen - 1] == '/';
    if (depth == 0)
        w->root_len = plen + (slash ? 0 : 1);
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        if (strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
            size_t need = plen + strlen(nm) + 2;
            char *child = malloc(need);
            if (child == NULL)
                oom();
            snprintf(child, need, "%s%s%s", path, slash ? "" : "/", nm);
            const char *g = c->n_excludes ? excluded_by(c, child, child + w->root_len, nm) : NULL;
            if (g != NULL) {
                char msg[PATH_MAX + 64];
                snprintf(msg, sizeof msg, "matches --exclude '%s'", g);
                pj_cli_add_skipped(c, child, "excluded", msg);
            } else {
                walk_entry(c, w, child, depth + 1);
            }
            free(child);
        }
        free(ents[i]);
    }
    free(ents);
}

static void enter_dir(cli *c, walk_state *w, const char *path, const struct stat *st, int depth)
{
    if (depth > MAX_DEPTH) {
        /* An error, not a skip: a payload hidden below the limit must not pass. */
        pj_cli_add_job(c, path, "directory nesting deeper than 64 levels", 0);
        return;
    }
    dir_id d = {st->st_dev, st->st_ino};
    for (size_t i = 0; i < w->path_n; i++) {
        if (w->path[i].dev == d.dev && w->path[i].ino == d.ino) {
            pj_cli_add_skipped(c, path, "symlink-loop",
                               "directory already on this path (symlink loop), not entered again");
            return;
        }
    }
    if (!set_add(w, d)) {
        pj_cli_add_skipped(c, path, "already-walked",
                           "directory already walked through another path, not entered again");
        return;
    }
    w->path[w->path_n++] = d;
    walk_dir(c, w, path, depth);
    w->path_n--;
}

/* An entry found inside a directory (depth > 0). */
static void walk_entry(cli *c, walk_state *w, const char *path, int depth)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        add_error(c, path, "cannot open", errno);
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        if (!c->follow_symlinks) {
            pj_cli_add_skipped(c, path, "symlink",
                               "symbolic link not followed (--follow-symlinks follows links)");
            return;
        }
        if (stat(path, &st) != 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "symbolic link to nothing usable: %s", strerror(errno));
            pj_cli_add_skipped(c, path, "broken-symlink", msg);
            return;
        }
    }
    if (S_ISDIR(st.st_mode)) {
        enter_dir(c, w, path, &st, depth);
    } else if (S_ISREG(st.st_mode)) {
        pj_cli_add_job(c, path, NULL, (uint64_t)st.st_size);
        c->job_list[c->n_jobs - 1].walked = true;
        c->job_list[c->n_jobs - 1].root_len = w->root_len;
    } else {
        char msg[128];
        snprintf(msg, sizeof msg, "%s, not scanned while walking a directory", special_kind(st.st_mode));
        pj_cli_add_skipped(c, path, "special-file", msg);
    }
}

/* A path named explicitly: followed if a symlink; a fifo or device named
 * explicitly is read (process substitution, /dev/stdin). */
static void walk_top(cli *c, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        add_error(c, path, "cannot open", errno);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        walk_state w;
        memset(&w, 0, sizeof w);
        enter_dir(c, &w, path, &st, 0);
        free(w.set);
        return;
    }
    pj_cli_add_job(c, path, NULL, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
    c->job_list[c->n_jobs - 1].unsized = !S_ISREG(st.st_mode);
}

/* A walked file, opened without following a symbolic link anywhere below
 * the directory named on the command line (openat2, RESOLVE_NO_SYMLINKS |
 * RESOLVE_BENEATH): a directory of the tree replaced by a link after the
 * walk (an upload area changing under the scan) cannot lead the scan out of
 * the tree.  O_NOFOLLOW alone only guards the last component.  Returns -2
 * when openat2 is not available (Linux before 5.6, or refused by a
 * container's own seccomp policy): the caller opens the path as before. */
static int open_beneath(const pj_cli_job *j, int flags)
{
#ifdef SYS_openat2
    size_t n = strlen(j->path);
    if (j->root_len == 0 || j->root_len >= n || j->root_len >= PATH_MAX)
        return -2;
    char root[PATH_MAX];
    memcpy(root, j->path, j->root_len);
    root[j->root_len] = '\0';
    /* The directory as named (links in it followed, as when walking it). */
    int dir = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -1;
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)flags;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    int fd = (int)syscall(SYS_openat2, dir, j->path + j->root_len, &how, sizeof how);
    int err = errno;
    close(dir);
    if (fd < 0 && (err == ENOSYS || err == EPERM))
        return -2;
    errno = err;
    return fd;
#else
    (void)j;
    (void)flags;
    return -2;
#endif
}

int pj_cli_open_job(const cli *c, const pj_cli_job *j, char *msg, size_t cap)
{
    if (!j->walked) {
        /* Named explicitly: a fifo or device is read as asked. */
        int fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            snprintf(msg, cap, "cannot open: %s", strerror(errno));
        return fd;
    }
    /* The tree may have changed since the walk (an upload directory): no
     * blocking on a fifo put in its place, no link swapped in followed. */
    int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    if (!c->follow_symlinks)
        flags |= O_NOFOLLOW;
    int fd = c->follow_symlinks ? -2 : open_beneath(j, flags);
    if (fd == -2)
        fd = open(j->path, flags);
    if (fd < 0) {
        snprintf(msg, cap, "cannot open: %s%s", strerror(errno),
                 errno == ELOOP || errno == EXDEV
                     ? " (it or a directory on its path was replaced by a symbolic link since "
                       "the walk)"
                     : "");
        return -1;
    }
    struct stat st;
    int fl;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(msg, cap, "cannot open: no longer a regular file (changed since the walk)");
        close(fd);
        return -1;
    }
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        snprintf(msg, cap, "cannot open: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void pj_cli_walk(cli *c, const char *arg)
{
    if (strcmp(arg, "-") == 0) {
        pj_cli_add_job(c, "-", NULL, 0);
        c->job_list[c->n_jobs - 1].is_stdin = true;
        c->job_list[c->n_jobs - 1].unsized = true;
        return;
    }
    walk_top(c, arg);
}

/* --files-from: the whole list is read first (bounded), then split. */
enum { LIST_MAX_BYTES = 256u << 20 };

static bool read_list(const char *name, int fd, char **data, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        oom();
    for (;;) {
        if (n == cap) {
            if (cap >= LIST_MAX_BYTES) {
                fprintf(stderr, "picklejail: --files-from %s: list larger than %u MiB "
                                "(split it, e.g. with xargs or parallel)\n", name, LIST_MAX_BYTES >> 20);
                free(buf);
                return false;
            }
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL)
                oom();
            buf = nb;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "picklejail: --files-from %s: cannot read: %s\n", name, strerror(errno));
            free(buf);
            return false;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n == cap) { /* room for the terminator of a last entry without one */
        char *nb = realloc(buf, cap + 1);
        if (nb == NULL)
            oom();
        buf = nb;
    }
    *data = buf;
    *len = n;
    return true;
}

bool pj_cli_walk_list(cli *c, const char *name)
{
    bool is_stdin = strcmp(name, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        fprintf(stderr, "picklejail: --files-from %s: cannot open: %s\n", name, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "picklejail: --files-from %s: is a directory (a list of paths is expected)\n",
                name);
        close(fd);
        return false;
    }
    char *data;
    size_t len;
    bool ok = read_list(is_stdin ? "- (standard input)" : name, fd, &data, &len);
    if (!is_stdin)
        close(fd);
    if (!ok)
        return false;
    /* NUL-separated if the list holds any NUL byte (find -print0), else
     * lines; a CR before the LF is dropped (lists written on Windows). */
    char sep = memchr(data, '\0', len) != NULL ? '\0' : '\n';
    size_t start = 0, line = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && data[i] != sep)
            continue;
        line++;
        size_t end = i;
        if (sep == '\n' && end > start && data[end - 1] == '\r')
            end--;
        if (end > start) {
            if (end - start >= PATH_MAX) {
                fprintf(stderr, "picklejail: --files-from %s: entry %zu is longer than %d bytes\n",
                        name, line, PATH_MAX - 1);
                free(data);
                return false;
            }
            data[end] = '\0';
            /* A list entry is always a path: "-" here is a file named -. */
            walk_top(c, data + start);
        }
        start = i + 1;
    }
    free(data);
    return true;
}

bool pj_cli_stdin_once(int nargs, char **args, size_t nlists, const char **lists)
{
    size_t n = 0;
    for (int i = 0; i < nargs; i++)
        n += strcmp(args[i], "-") == 0;
    for (size_t i = 0; i < nlists; i++)
        n += strcmp(lists[i], "-") == 0;
    if (n > 1) {
        fprintf(stderr, "picklejail: standard input (-) can be read only once: as one PATH or "
                        "as one --files-from list\n");
        return false;
    }
    return true;
}
