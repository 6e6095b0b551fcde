/* The walk: turns the PATH arguments into the job list (cli.h), in input
 * order, before anything is scanned.  Directories are read recursively in
 * name order; symlinks found inside a directory are not followed (loops);
 * a path named on the command line is followed.  Scanning happens later,
 * serially (main.c) or in worker processes (schedule.c). */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void walk_path(cli *c, const char *path, int depth);

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void add_error(cli *c, const char *path, const char *what, int err)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
    pj_cli_add_job(c, path, msg, 0);
}

static void walk_dir(cli *c, const char *path, int depth)
{
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, name_cmp);
    if (n < 0) {
        add_error(c, path, "cannot read directory", errno);
        return;
    }
    size_t plen = strlen(path);
    bool slash = plen > 0 && path[plen - 1] == '/';
    for (int i = 0; i < n; i++) {
        const char *nm = ents[i]->d_name;
        if (strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
            size_t need = plen + strlen(nm) + 2;
            char *child = malloc(need);
            if (child != NULL) {
                snprintf(child, need, "%s%s%s", path, slash ? "" : "/", nm);
                walk_path(c, child, depth + 1);
                free(child);
            }
        }
        free(ents[i]);
    }
    free(ents);
}

static void walk_path(cli *c, const char *path, int depth)
{
    if (strcmp(path, "-") == 0 && depth == 0) {
        pj_cli_add_job(c, "-", NULL, 0);
        return;
    }
    struct stat st;
    if ((depth == 0 ? stat(path, &st) : lstat(path, &st)) != 0) {
        add_error(c, path, "cannot open", errno);
        return;
    }
    if (S_ISLNK(st.st_mode))
        return;
    if (S_ISDIR(st.st_mode)) {
        if (depth > 64) {
            pj_cli_add_job(c, path, "directory nesting deeper than 64 levels", 0);
            return;
        }
        walk_dir(c, path, depth);
        return;
    }
    if (depth > 0 && !S_ISREG(st.st_mode))
        return; /* sockets, fifos found while walking */
    pj_cli_add_job(c, path, NULL, S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
}

void pj_cli_walk(cli *c, const char *arg)
{
    walk_path(c, arg, 0);
}
