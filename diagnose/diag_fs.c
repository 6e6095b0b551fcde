/* The diagnosis's only file-system access: find modules in site-packages
 * directories the way importlib's PathFinder/FileFinder would, and read
 * installed versions from *.dist-info.  Runs in the parent (never in the
 * sandboxed child); reads directory listings and small text files only. */
#include "diag.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_PATHS 32
#define PATH_LEN 4096
#define MAX_META_BYTES (8u << 20)
#define MAX_RESOLVES 512

#define MAX_DISTS 4096
#define MAX_TOPS 32

typedef struct dist_info {
    char name[128], norm[128], version[64];
    char tops[MAX_TOPS][64];
    size_t n_tops;
} dist_info;

struct diag_fs_cache {
    dist_info *dists;
    size_t n_dists;
    bool built;
    size_t resolves; /* module look-ups made (bounded per file) */
};

/* Bounded copy and path join without printf (callers check the result). */
static void scopy(char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);
    if (n >= len)
        n = len - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static bool join(char *dst, size_t len, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    if (a + 1 + b + 1 > len)
        return false;
    memcpy(dst, dir, a);
    dst[a] = '/';
    memcpy(dst + a + 1, name, b + 1);
    return true;
}

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Rank of a module file suffix (after "name."): 0 = not importable,
 * 1 = extension (like importlib, tried first), 2 = source, 3 = bytecode.
 * An extension module tagged for another CPython returns -1. */
static int suffix_rank(const char *suffix, int minor)
{
    if (strcmp(suffix, "py") == 0)
        return 2;
    if (strcmp(suffix, "pyc") == 0)
        return 3;
    if (strcmp(suffix, "so") == 0 || strcmp(suffix, "abi3.so") == 0)
        return 1;
    if (strncmp(suffix, "cpython-3", 9) == 0 && isdigit((unsigned char)suffix[9])) {
        char *end;
        long m = strtol(suffix + 9, &end, 10);
        size_t sl = strlen(suffix);
        if (*end != '-' || sl < 3 || strcmp(suffix + sl - 3, ".so") != 0)
            return 0;
        return (minor < 0 || m == minor) ? 1 : -1;
    }
    return 0;
}

/* Look for a module file dir/name.<suffix>.  Fills found (best rank) and
 * mismatch (an extension built for another Python), either may stay "". */
static bool find_module_file(const char *dir, const char *name, int minor, char *found,
                             char *mismatch)
{
    found[0] = '\0';
    DIR *d = opendir(dir);
    if (d == NULL)
        return false;
    size_t nl = strlen(name);
    int best = 99;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, name, nl) != 0 || e->d_name[nl] != '.')
            continue;
        int rank = suffix_rank(e->d_name + nl + 1, minor);
        if (rank == 0)
            continue;
        char path[PATH_LEN];
        if (!join(path, sizeof path, dir, e->d_name) ||
            !is_file(path))
            continue;
        if (rank < 0) {
            if (mismatch != NULL && mismatch[0] == '\0')
                scopy(mismatch, 512, path);
            continue;
        }
        if (rank < best) {
            best = rank;
            scopy(found, PATH_LEN, path);
        }
    }
    closedir(d);
    return found[0] != '\0';
}

void pj_diag_fs_resolve(const diag_target *t, const char *dotted, diag_mod_status *st)
{
    memset(st, 0, sizeof *st);
    st->state = DIAG_MOD_UNKNOWN;
    if (!t->have_site || dotted == NULL || dotted[0] == '\0' || strlen(dotted) >= sizeof st->missing)
        return;
    /* Hostile files may name thousands of modules: bound the disk work. */
    if (t->cache != NULL && ++t->cache->resolves > MAX_RESOLVES)
        return;
    /* Python module names never hold path separators: such a name cannot be
     * imported, and it must not make us look outside site-packages. */
    if (strpbrk(dotted, "/\\") != NULL) {
        st->state = DIAG_MOD_MISSING;
        scopy(st->missing, sizeof st->missing, dotted);
        return;
    }

    char (*paths)[PATH_LEN] = calloc(MAX_PATHS, PATH_LEN);
    char (*next)[PATH_LEN] = calloc(MAX_PATHS, PATH_LEN);
    char *file = malloc(PATH_LEN);
    if (paths == NULL || next == NULL || file == NULL)
        goto out;
    size_t np = 0;
    for (size_t i = 0; i < t->env->n_site_packages && np < MAX_PATHS; i++)
        if (t->env->site_packages[i] != NULL)
            scopy(paths[np++], PATH_LEN, t->env->site_packages[i]);

    char prefix[256] = "";
    const char *p = dotted;
    for (;;) {
        size_t cl = strcspn(p, ".");
        char part[256];
        if (cl == 0 || cl >= sizeof part)
            goto out;
        memcpy(part, p, cl);
        part[cl] = '\0';
        size_t pl = strlen(prefix);
        if (pl + 1 + cl + 1 > sizeof prefix)
            goto out;
        if (pl > 0)
            prefix[pl++] = '.';
        memcpy(prefix + pl, part, cl + 1);
        bool last = p[cl] == '\0';

        enum { NONE, PACKAGE, MODULE } kind = NONE;
        size_t nn = 0;
        for (size_t i = 0; i < np && kind == NONE; i++) {
            char cand[PATH_LEN];
            if (!join(cand, sizeof cand, paths[i], part))
                continue;
            bool dir = is_dir(cand);
            /* FileFinder: a directory with __init__ is a package; else a module
             * file in the same directory; else the directory is a namespace portion. */
            if (dir && find_module_file(cand, "__init__", t->py_minor, file, NULL)) {
                kind = PACKAGE;
                scopy(next[0], PATH_LEN, cand);
                nn = 1;
                scopy(st->where, sizeof st->where, file);
            } else if (find_module_file(paths[i], part, t->py_minor, file, st->where)) {
                kind = MODULE;
                scopy(st->where, sizeof st->where, file);
            } else if (dir && nn < MAX_PATHS) {
                scopy(next[nn++], PATH_LEN, cand);
            }
        }
        if (kind == NONE && nn > 0) {
            kind = PACKAGE; /* namespace package: every portion is on __path__ */
            scopy(st->where, sizeof st->where - 24, next[0]);
            strcat(st->where, "/ (namespace package)");
        }
        if (kind == NONE) {
            st->state = DIAG_MOD_MISSING;
            scopy(st->missing, sizeof st->missing, prefix);
            goto out; /* st->where may name an extension built for another Python */
        }
        if (last) {
            st->state = DIAG_MOD_FOUND;
            goto out;
        }
        if (kind == MODULE) {
            st->state = DIAG_MOD_NOT_PACKAGE;
            scopy(st->parent, sizeof st->parent, prefix);
            /* "a.b" where a is a plain module: dotted is within st->missing's size */
            size_t l2 = strcspn(p + cl + 1, ".");
            size_t pl2 = strlen(prefix);
            memcpy(st->missing, prefix, pl2);
            st->missing[pl2] = '.';
            memcpy(st->missing + pl2 + 1, p + cl + 1, l2);
            st->missing[pl2 + 1 + l2] = '\0';
            goto out;
        }
        memcpy(paths, next, nn * PATH_LEN);
        np = nn;
        st->where[0] = '\0';
        p += cl + 1;
    }
out:
    free(paths);
    free(next);
    free(file);
}

/* PEP 503 normalisation: lower case, runs of -_. become one '_'. */
static void normalise(const char *in, char *out, size_t len)
{
    size_t o = 0;
    bool sep = false;
    for (; *in != '\0' && o + 1 < len; in++) {
        if (*in == '-' || *in == '_' || *in == '.') {
            sep = true;
            continue;
        }
        if (sep && o > 0 && o + 2 < len)
            out[o++] = '_';
        sep = false;
        out[o++] = (char)tolower((unsigned char)*in);
    }
    out[o] = '\0';
}

/* Read "Name:" and "Version:" from a METADATA (or PKG-INFO) header. */
static bool read_metadata(const char *dir, char *name, size_t nlen, char *ver, size_t vlen)
{
    static const char *const files[] = {"METADATA", "PKG-INFO"};
    for (size_t f = 0; f < 2; f++) {
        char path[PATH_LEN];
        if (!join(path, sizeof path, dir, files[f]))
            continue;
        FILE *fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        char line[512];
        name[0] = ver[0] = '\0';
        while (fgets(line, sizeof line, fp) != NULL) {
            if (line[0] == '\n' || line[0] == '\r')
                break; /* end of the header block */
            line[strcspn(line, "\r\n")] = '\0';
            if (strncmp(line, "Name:", 5) == 0)
                scopy(name, nlen, line + 5 + strspn(line + 5, " \t"));
            else if (strncmp(line, "Version:", 8) == 0)
                scopy(ver, vlen, line + 8 + strspn(line + 8, " \t"));
        }
        fclose(fp);
        if (name[0] != '\0' && ver[0] != '\0')
            return true;
    }
    return false;
}

/* The installed distributions, read once per diagnosis: name, version and
 * the top-level modules each provides (top_level.txt, else RECORD). */
static void add_top(dist_info *d, const char *s, size_t n)
{
    if (n == 0 || n >= sizeof d->tops[0] || d->n_tops >= MAX_TOPS)
        return;
    for (size_t i = 0; i < d->n_tops; i++)
        if (strlen(d->tops[i]) == n && strncmp(d->tops[i], s, n) == 0)
            return;
    memcpy(d->tops[d->n_tops], s, n);
    d->tops[d->n_tops][n] = '\0';
    d->n_tops++;
}

static void read_tops(const char *dir, dist_info *d)
{
    char path[PATH_LEN], line[1024];
    if (join(path, sizeof path, dir, "top_level.txt")) {
        FILE *fp = fopen(path, "r");
        if (fp != NULL) {
            while (fgets(line, sizeof line, fp) != NULL) {
                line[strcspn(line, "\r\n")] = '\0';
                add_top(d, line, strlen(line));
            }
            fclose(fp);
            return;
        }
    }
    if (!join(path, sizeof path, dir, "RECORD"))
        return;
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return;
    size_t total = 0;
    /* "pkg/mod.py,sha256=...,123" -> pkg; "mod.py,..." / "mod.cpython-311-...so,..." -> mod */
    while (total < MAX_META_BYTES && fgets(line, sizeof line, fp) != NULL) {
        total += strlen(line);
        size_t field = strcspn(line, ",");
        size_t slash = strcspn(line, "/");
        if (slash < field) {
            if (strncmp(line, "..", 2) != 0 && memchr(line, '-', slash) == NULL &&
                strncmp(line, "__pycache__", slash) != 0)
                add_top(d, line, slash); /* a package directory */
        } else {
            size_t dot = strcspn(line, ".");
            if (dot < field && strncmp(line + dot, ".pth", 4) != 0)
                add_top(d, line, dot); /* a module file */
        }
    }
    fclose(fp);
}

static void build_index(const diag_target *t, struct diag_fs_cache *c)
{
    c->built = true;
    for (size_t i = 0; i < t->env->n_site_packages; i++) {
        const char *sp = t->env->site_packages[i];
        DIR *d = sp ? opendir(sp) : NULL;
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && c->n_dists < MAX_DISTS) {
            size_t l = strlen(e->d_name);
            if (!(l > 10 && strcmp(e->d_name + l - 10, ".dist-info") == 0) &&
                !(l > 9 && strcmp(e->d_name + l - 9, ".egg-info") == 0))
                continue;
            if (c->n_dists % 64 == 0) {
                dist_info *nd = realloc(c->dists, (c->n_dists + 64) * sizeof *nd);
                if (nd == NULL)
                    break;
                c->dists = nd;
            }
            dist_info *di = &c->dists[c->n_dists];
            memset(di, 0, sizeof *di);
            char dir[PATH_LEN];
            if (!join(dir, sizeof dir, sp, e->d_name) ||
                !read_metadata(dir, di->name, sizeof di->name, di->version, sizeof di->version))
                continue;
            normalise(di->name, di->norm, sizeof di->norm);
            read_tops(dir, di);
            c->n_dists++;
        }
        closedir(d);
    }
}

struct diag_fs_cache *pj_diag_fs_cache_new(void)
{
    return calloc(1, sizeof(struct diag_fs_cache));
}

void pj_diag_fs_cache_free(struct diag_fs_cache *c)
{
    if (c == NULL)
        return;
    free(c->dists);
    free(c);
}

bool pj_diag_fs_budget_spent(const diag_target *t)
{
    return t->cache != NULL && t->cache->resolves > MAX_RESOLVES;
}

/* First distribution (in site-packages order) matching by name or by a module it provides. */
static const dist_info *find_dist(const struct diag_fs_cache *c, const char *want_dist,
                                  const char *top)
{
    char want[128] = "";
    if (want_dist != NULL)
        normalise(want_dist, want, sizeof want);
    for (size_t i = 0; i < c->n_dists; i++) {
        const dist_info *d = &c->dists[i];
        if (want_dist != NULL && strcmp(d->norm, want) == 0)
            return d;
        for (size_t j = 0; top != NULL && j < d->n_tops; j++)
            if (strcmp(d->tops[j], top) == 0)
                return d;
    }
    return NULL;
}

/* Run a query against the shared index, or a temporary one without a cache. */
static const dist_info *query(const diag_target *t, const char *want_dist, const char *top,
                              dist_info *out)
{
    struct diag_fs_cache tmp = {0};
    struct diag_fs_cache *c = t->cache ? t->cache : &tmp;
    if (!c->built)
        build_index(t, c);
    const dist_info *d = find_dist(c, want_dist, top);
    if (d != NULL)
        *out = *d;
    free(tmp.dists);
    return d ? out : NULL;
}

bool pj_diag_fs_dist_version(const diag_target *t, const char *dist, char *version,
                             size_t version_len)
{
    dist_info di;
    if (!t->have_site || query(t, dist, NULL, &di) == NULL)
        return false;
    scopy(version, version_len, di.version);
    return true;
}

bool pj_diag_fs_dist(const diag_target *t, const char *top, char *name, size_t name_len,
                     char *version, size_t version_len)
{
    dist_info di;
    diag_row row;
    if (!t->have_site)
        return false;
    /* The distribution named like the module first, then what each provides. */
    if (query(t, pj_diag_dist_name(top, &row), NULL, &di) == NULL &&
        query(t, NULL, top, &di) == NULL)
        return false;
    scopy(name, name_len, di.name);
    scopy(version, version_len, di.version);
    return true;
}
