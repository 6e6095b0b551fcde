/* Queries over the compiled-in diagnosis tables (the diagnose/data tables) and
 * version comparison.  Pure: no I/O. */
#include "diag.h"
#include "diag_data.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

bool pj_diag_row_split(const char *line, diag_row *row)
{
    size_t n = strlen(line);
    if (n >= sizeof row->buf)
        n = sizeof row->buf - 1;
    memcpy(row->buf, line, n);
    row->buf[n] = '\0';
    row->n = 0;
    char *p = row->buf;
    while (*p != '\0' && row->n < 6) {
        while (*p == ' ' || *p == '\t')
            *p++ = '\0';
        if (*p == '\0')
            break;
        row->col[row->n++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t')
            p++;
    }
    for (int i = row->n; i < 6; i++)
        row->col[i] = NULL;
    return row->n > 0;
}

/* Find the row whose first column equals key. */
static bool find_row(const char *const *table, const char *key, diag_row *row)
{
    size_t klen = strlen(key);
    for (size_t i = 0; table[i] != NULL; i++) {
        if (strncmp(table[i], key, klen) == 0 && (table[i][klen] == ' ' || table[i][klen] == '\0'))
            return pj_diag_row_split(table[i], row);
    }
    return false;
}

/* Next numeric component of a version string; *p advances.  Returns -1 at the end. */
static long next_component(const char **p)
{
    const char *s = *p;
    while (*s == '.')
        s++;
    if (!isdigit((unsigned char)*s))
        return -1;
    long v = 0;
    while (isdigit((unsigned char)*s)) {
        if (v < 100000000)
            v = v * 10 + (*s - '0');
        s++;
    }
    /* Stop at local/pre-release suffixes ("+cpu", "rc1", "a0"): they rank equal. */
    if (*s != '.')
        s += strlen(s);
    *p = s;
    return v;
}

int pj_diag_vercmp(const char *a, const char *b)
{
    const char *pa = a ? a : "", *pb = b ? b : "";
    for (;;) {
        long x = next_component(&pa), y = next_component(&pb);
        if (x < 0 && y < 0)
            return 0;
        if (x < 0)
            x = 0;
        if (y < 0)
            y = 0;
        if (x != y)
            return x < y ? -1 : 1;
        if (*pa == '\0' && *pb == '\0')
            return 0;
    }
}

int pj_diag_py_minor(const char *version)
{
    if (version == NULL || version[0] != '3' || version[1] != '.' ||
        !isdigit((unsigned char)version[2]))
        return -1;
    char *end;
    long m = strtol(version + 2, &end, 10);
    if (m < 0 || m > 99 || (*end != '\0' && *end != '.'))
        return -1;
    return (int)m;
}

/* Is 3.<minor> within [since, until)?  Bounds "-" are open. */
static bool in_py_range(int minor, const char *since, const char *until)
{
    int lo = since && strcmp(since, "-") != 0 ? pj_diag_py_minor(since) : -1;
    int hi = until && strcmp(until, "-") != 0 ? pj_diag_py_minor(until) : -1;
    if (lo >= 0 && minor < lo)
        return false;
    if (hi >= 0 && minor >= hi)
        return false;
    return true;
}

bool pj_diag_stdlib_has(const char *top, int minor, const char **since_out, const char **until_out,
                        diag_row *row)
{
    if (since_out)
        *since_out = NULL;
    if (until_out)
        *until_out = NULL;
    if (!find_row(pj_diag_data_stdlib_modules, top, row))
        return false;
    if (since_out)
        *since_out = row->col[1];
    if (until_out)
        *until_out = row->col[2];
    return minor < 0 || in_py_range(minor, row->col[1], row->col[2]);
}

const char *pj_diag_compat_import(const char *module, diag_row *row)
{
    if (!find_row(pj_diag_data_compat_import, module, row) || row->n < 2)
        return NULL;
    return row->col[1];
}

bool pj_diag_compat_name(const char *module, const char *name, diag_row *row)
{
    size_t ml = strlen(module), nl = strlen(name);
    for (size_t i = 0; pj_diag_data_compat_name[i] != NULL; i++) {
        const char *l = pj_diag_data_compat_name[i];
        if (strncmp(l, module, ml) == 0 && l[ml] == ' ' && strncmp(l + ml + 1, name, nl) == 0 &&
            l[ml + 1 + nl] == ' ')
            return pj_diag_row_split(l, row) && row->n >= 4;
    }
    return false;
}

const char *pj_diag_py2_only(const char *top)
{
    size_t tl = strlen(top);
    for (size_t i = 0; pj_diag_data_py2_only[i] != NULL; i++) {
        const char *l = pj_diag_data_py2_only[i];
        if (strncmp(l, top, tl) == 0 && l[tl] == ' ')
            return l + tl + 1;
    }
    return NULL;
}

const char *pj_diag_platform_module(const char *top, diag_row *row)
{
    if (!find_row(pj_diag_data_platform_modules, top, row) || row->n < 2)
        return NULL;
    return row->col[1];
}

const char *pj_diag_dist_name(const char *top, diag_row *row)
{
    if (find_row(pj_diag_data_dist_names, top, row) && row->n >= 2)
        return row->col[1];
    return top;
}

bool pj_diag_versioned_module(const char *module, diag_row *row)
{
    size_t best = 0;
    const char *best_line = NULL;
    for (size_t i = 0; pj_diag_data_versioned_modules[i] != NULL; i++) {
        const char *l = pj_diag_data_versioned_modules[i];
        const char *sp = strchr(l, ' ');
        if (sp == NULL)
            continue;
        size_t pl = (size_t)(sp - l);
        if (pl > best && strncmp(module, l, pl) == 0 && (module[pl] == '\0' || module[pl] == '.')) {
            best = pl;
            best_line = l;
        }
    }
    return best_line != NULL && pj_diag_row_split(best_line, row) && row->n >= 5;
}

bool pj_diag_torch_allowed(const char *module, const char *name)
{
    diag_row row;
    for (size_t i = 0; pj_diag_data_torch_weights_only[i] != NULL; i++) {
        if (!pj_diag_row_split(pj_diag_data_torch_weights_only[i], &row) || row.n < 2)
            continue;
        if (strcmp(row.col[0], module) == 0 && fnmatch(row.col[1], name, 0) == 0)
            return true;
    }
    return false;
}

bool pj_diag_torch_blocked(const char *module)
{
    diag_row row;
    return find_row(pj_diag_data_torch_blocked_modules, module, &row); /* exact module */
}
