/* A policy: the built-in rule files (compiled in) plus user rule files and
 * profile choices; and the matcher that classifies one global name. */
#include "policy_internal.h"
#include "builtin_rules.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int find_profile(const char *name)
{
    for (size_t i = 0; i < pj_builtin_rule_files_count && i < PJ_POLICY_MAX_PROFILES; i++)
        if (strcmp(pj_builtin_rule_files[i].profile, name) == 0)
            return (int)i;
    return -1;
}

/* ---- indexes --------------------------------------------------------------- */

static int cmp_key(pj_index_key key, const void *ctx, size_t x, size_t y)
{
    int c = strcmp(key(ctx, x), key(ctx, y));
    if (c != 0)
        return c;
    return x < y ? -1 : x > y;
}

void pj_policy_sort_indexes(size_t *a, size_t *tmp, size_t n, pj_index_key key, const void *ctx)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    pj_policy_sort_indexes(a, tmp, h, key, ctx);
    pj_policy_sort_indexes(a + h, tmp, n - h, key, ctx);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp_key(key, ctx, a[i], a[j]) <= 0 ? a[i++] : a[j++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

static const char *rule_pattern(const void *rules, size_t i)
{
    return ((const pj_rule *)rules)[i].pattern;
}

static bool rebuild_index(pj_policy *p)
{
    size_t n = p->rules.n;
    size_t *ex = malloc((n ? n : 1) * sizeof *ex), *pr = malloc((n ? n : 1) * sizeof *pr),
           *ot = malloc((n ? n : 1) * sizeof *ot);
    if (ex == NULL || pr == NULL || ot == NULL) {
        free(ex);
        free(pr);
        free(ot);
        return false;
    }
    size_t ne = 0, np = 0, no = 0;
    for (size_t i = 0; i < n; i++) {
        const pj_rule *r = &p->rules.v[i];
        if (r->action == PJ_RULE_PROFILE)
            continue;
        if (r->action == PJ_RULE_DENY_ATTR || r->match == PJ_MATCH_GLOB)
            ot[no++] = i;
        else if (r->match == PJ_MATCH_PREFIX)
            pr[np++] = i;
        else
            ex[ne++] = i;
    }
    size_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (tmp == NULL) {
        free(ex);
        free(pr);
        free(ot);
        return false;
    }
    pj_policy_sort_indexes(ex, tmp, ne, rule_pattern, p->rules.v);
    pj_policy_sort_indexes(pr, tmp, np, rule_pattern, p->rules.v);
    free(tmp);
    free(p->exact);
    free(p->prefix);
    free(p->other);
    p->exact = ex, p->n_exact = ne;
    p->prefix = pr, p->n_prefix = np;
    p->other = ot, p->n_other = no;
    return true;
}

/* First index in idx[0..n) whose pattern equals key[0..klen), or n. */
static size_t lower_bound(const pj_policy *p, const size_t *idx, size_t n, const char *key,
                          size_t klen)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *pat = p->rules.v[idx[mid]].pattern;
        int c = strncmp(pat, key, klen);
        if (c == 0 && pat[klen] != '\0')
            c = 1; /* pattern longer than key sorts after it */
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool pattern_eq(const char *pat, const char *key, size_t klen)
{
    return strncmp(pat, key, klen) == 0 && pat[klen] == '\0';
}

/* One dotted component: '*' matches any run of characters.  Iterative with
 * a single backtrack point, O(len(p) * len(s)): user patterns such as
 * "a*a*a*a*b" must not go exponential. */
static bool comp_match(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && p[pi] == s[si]) {
            pi++;
            si++;
        } else if (star != SIZE_MAX) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

/* Component by component; a trailing ".*" matches "" or ".anything". */
static bool glob_match(const char *pat, const char *s)
{
    for (;;) {
        if (strcmp(pat, ".*") == 0)
            return s[0] == '\0' || s[0] == '.';
        size_t pn = strcspn(pat, "."), sn = strcspn(s, ".");
        if (!comp_match(pat, pn, s, sn))
            return false;
        pat += pn;
        s += sn;
        if (strcmp(pat, ".*") == 0)
            return s[0] == '\0' || s[0] == '.';
        if (pat[0] == '\0')
            return s[0] == '\0';
        if (s[0] != '.')
            return false;
        pat++;
        s++;
    }
}

/* Does the last component of path look like a class (capital letter after
 * any leading underscores)? */
static bool classlike(const char *path)
{
    const char *last = strrchr(path, '.');
    last = last ? last + 1 : path;
    while (*last == '_')
        last++;
    return *last >= 'A' && *last <= 'Z';
}

bool pj_policy_profile_enabled(const pj_policy *p, int profile)
{
    if (profile < 0 || profile >= PJ_POLICY_MAX_PROFILES)
        return false;
    return (p->enabled >> profile) & 1u;
}

/* Is the rule in force (user rules always; built-in ones by profile)? */
static bool rule_on(const pj_policy *p, const pj_rule *r)
{
    return !r->builtin || pj_policy_profile_enabled(p, r->profile);
}

typedef struct match_state {
    const pj_policy *p;
    const char *path;      /* resolved module.name */
    bool walk;             /* name has dots or dunders: wildcard allows do not cover it */
    /* results */
    const pj_rule *udeny, *bdeny, *uallow, *ballow, *wrap;
    int bdeny_spec, ballow_any_spec;
    char via[PJ_POLICY_MAX_PATTERN];
} match_state;

static int spec(const pj_rule *r) { return r->match == PJ_MATCH_EXACT ? 2 : 1; }

/* Record that rule r matched candidate c (c == path for the real name). */
static void hit(match_state *m, const pj_rule *r, const char *c, bool is_path)
{
    switch (r->action) {
    case PJ_RULE_DENY:
    case PJ_RULE_DENY_ATTR: {
        if (!rule_on(m->p, r))
            return;
        int sp = is_path && r->action == PJ_RULE_DENY ? spec(r) : 3;
        if (!r->builtin) {
            if (m->udeny == NULL) {
                m->udeny = r;
                if (!is_path)
                    snprintf(m->via, sizeof m->via, "%s", c);
            }
        } else if (sp > m->bdeny_spec) {
            m->bdeny = r;
            m->bdeny_spec = sp;
            if (!is_path)
                snprintf(m->via, sizeof m->via, "%s", c);
            else
                m->via[0] = '\0';
        }
        return;
    }
    case PJ_RULE_ALLOW:
        if (!is_path)
            return;
        if (r->match != PJ_MATCH_EXACT && m->walk)
            return; /* attribute walks need an exact allow */
        if (r->classes_only && !classlike(c))
            return;
        if (r->builtin && spec(r) > m->ballow_any_spec)
            m->ballow_any_spec = spec(r);
        if (!rule_on(m->p, r))
            return;
        if (r->builtin) {
            if (m->ballow == NULL || spec(r) > spec(m->ballow))
                m->ballow = r;
        } else if (m->uallow == NULL) {
            m->uallow = r;
        }
        return;
    case PJ_RULE_WRAPPER:
    case PJ_RULE_REACH:
        if (is_path && r->match == PJ_MATCH_EXACT && rule_on(m->p, r) && m->wrap == NULL)
            m->wrap = r;
        return;
    case PJ_RULE_PROFILE:
        return;
    }
}

/* Run every exact, prefix and glob rule against candidate c. */
static void match_candidate(match_state *m, const char *c, bool is_path)
{
    const pj_policy *p = m->p;
    /* patterns are shorter than PJ_POLICY_MAX_PATTERN: longer spellings can
     * only match a prefix rule, so never measure more than that */
    size_t clen = strnlen(c, PJ_POLICY_MAX_PATTERN + 1);
    bool whole = clen <= PJ_POLICY_MAX_PATTERN;
    for (size_t i = whole ? lower_bound(p, p->exact, p->n_exact, c, clen) : p->n_exact;
         i < p->n_exact && pattern_eq(p->rules.v[p->exact[i]].pattern, c, clen); i++)
        hit(m, &p->rules.v[p->exact[i]], c, is_path);
    /* prefix rules: every dotted prefix of c, and c itself */
    for (size_t k = 1; k <= clen; k++) {
        if (k < clen ? c[k] != '.' : !whole)
            continue;
        for (size_t i = lower_bound(p, p->prefix, p->n_prefix, c, k);
             i < p->n_prefix && pattern_eq(p->rules.v[p->prefix[i]].pattern, c, k); i++)
            hit(m, &p->rules.v[p->prefix[i]], c, is_path);
    }
    for (size_t i = 0; i < p->n_other; i++) {
        const pj_rule *r = &p->rules.v[p->other[i]];
        if (r->action != PJ_RULE_DENY_ATTR && whole && glob_match(r->pattern, c))
            hit(m, r, c, is_path);
    }
}

/* deny-attr rules against every component of an attribute walk. */
static void match_attrs(match_state *m, const char *module, const char *name)
{
    const pj_policy *p = m->p;
    /* a plain "module.name" is not a walk: a function that happens to be
     * called "system" in some library is unknown, not dangerous */
    if (strchr(name, '.') == NULL)
        return;
    const char *s = name;
    while (*s != '\0') {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        for (size_t i = 0; i < p->n_other; i++) {
            const pj_rule *r = &p->rules.v[p->other[i]];
            bool useful = r->builtin ? m->bdeny_spec < 3 : m->udeny == NULL;
            if (useful && r->action == PJ_RULE_DENY_ATTR && rule_on(p, r) &&
                pattern_eq(r->pattern, s, n)) {
                char c[PJ_POLICY_MAX_PATTERN];
                snprintf(c, sizeof c, "%s.%s", module, name);
                hit(m, r, c, false);
            }
        }
        if (dot == NULL)
            break;
        s = dot + 1;
    }
}

static bool has_dunder_component(const char *name)
{
    const char *s = name;
    while (*s != '\0') {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n >= 4 && s[0] == '_' && s[1] == '_' && s[n - 1] == '_' && s[n - 2] == '_')
            return true;
        if (dot == NULL)
            break;
        s = dot + 1;
    }
    return false;
}

static void join(char *out, size_t outlen, const char *module, const char *name)
{
    if (name[0] == '\0')
        snprintf(out, outlen, "%s", module);
    else if (module[0] == '\0')
        snprintf(out, outlen, "%s", name);
    else
        snprintf(out, outlen, "%s.%s", module, name);
}

/* Danger checks for one (module, name) spelling: the path, the attribute
 * walk re-rooted at every component that still has an attribute after it
 * ("pathlib" + "os.system" -> "os.system"), and deny-attr components. */
static void match_danger(match_state *m, const char *module, const char *name, bool is_resolved)
{
    char path[PJ_POLICY_MAX_PATTERN * 2];
    join(path, sizeof path, module, name);
    if (!is_resolved)
        match_candidate(m, path, false);
    /* re-root at the first 64 components (hostile names can have thousands;
     * deny-attr below still sees every component) */
    const char *s = name;
    for (int n = 0; n < 64; n++) {
        const char *dot = strchr(s, '.');
        if (dot == NULL)
            break;
        match_candidate(m, s, false);
        s = dot + 1;
    }
    match_attrs(m, module, name);
}

void pj_policy_classify(const pj_policy *p, const char *module, const char *name,
                        const char *raw_module, const char *raw_name, pj_classification *out)
{
    memset(out, 0, sizeof *out);
    if (module == NULL)
        module = "";
    if (name == NULL)
        name = "";
    char path[PJ_POLICY_MAX_PATTERN * 2];
    join(path, sizeof path, module, name);
    match_state m;
    memset(&m, 0, sizeof m);
    m.p = p;
    m.path = path;
    m.walk = strchr(name, '.') != NULL || has_dunder_component(name);
    /* a name too long for the buffer is judged for danger only: no allow
     * rule may match a truncated spelling */
    bool fits = strlen(module) + strlen(name) + 2 <= sizeof path;
    match_candidate(&m, path, fits);
    match_danger(&m, module, name, true);
    if (raw_module != NULL && raw_name != NULL &&
        (strcmp(raw_module, module) != 0 || strcmp(raw_name, name) != 0))
        match_danger(&m, raw_module, raw_name, false);

    if (m.udeny != NULL) {
        out->cls = PJ_POLICY_DANGEROUS;
        out->rule = m.udeny;
        out->user_deny = true;
    } else if (m.bdeny != NULL && m.bdeny_spec >= m.ballow_any_spec) {
        out->cls = PJ_POLICY_DANGEROUS;
        out->rule = m.bdeny;
    } else if (m.uallow != NULL) {
        out->cls = PJ_POLICY_SAFE;
        out->rule = m.uallow;
    } else if (m.ballow != NULL) {
        out->cls = PJ_POLICY_SAFE;
        out->rule = m.ballow;
    } else if (m.wrap != NULL) {
        out->cls = PJ_POLICY_SAFE;
        out->rule = m.wrap;
    } else {
        out->cls = PJ_POLICY_UNKNOWN;
    }
    if (out->cls == PJ_POLICY_SAFE && m.wrap != NULL)
        out->kind = m.wrap->action == PJ_RULE_REACH ? PJ_KIND_REACH : PJ_KIND_WRAPPER;
    if (out->cls == PJ_POLICY_DANGEROUS)
        snprintf(out->via, sizeof out->via, "%s", m.via);
}

/* ---- building a policy ------------------------------------------------------- */

static bool add_rules(pj_policy *p, const char *source, const char *text, size_t len,
                      bool builtin, int profile, char *err, size_t errlen)
{
    size_t before = p->rules.n;
    if (!pj_rules_parse(source, text, len, builtin, profile, &p->rules, err, errlen))
        return false;
    /* profile directives: built-in files declare what they need; user files
     * choose profiles exactly like --profile */
    for (size_t i = before; i < p->rules.n; i++) {
        const pj_rule *r = &p->rules.v[i];
        if (r->action != PJ_RULE_PROFILE)
            continue;
        int q = find_profile(r->pattern);
        bool ok = q >= 0 || strcmp(r->pattern, "all") == 0;
        if (!ok) {
            if (err != NULL && errlen > 0)
                snprintf(err, errlen, "%s:%u: unknown profile '%s'", source, r->line, r->pattern);
        } else if (builtin) {
            if (q >= 0 && profile >= 0 && profile < PJ_POLICY_MAX_PROFILES)
                p->requires[profile] |= 1u << q;
        } else {
            ok = pj_policy_add_profile(p, r->pattern, err, errlen);
        }
        if (!ok) {
            /* drop this text's rules: all or nothing */
            pj_rule_list tail = {p->rules.v + before, p->rules.n - before, 0};
            for (size_t k = 0; k < tail.n; k++) {
                free(tail.v[k].pattern);
                free(tail.v[k].label);
                free(tail.v[k].reason);
            }
            p->rules.n = before;
            return false;
        }
    }
    if (!rebuild_index(p)) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: out of memory", source);
        return false;
    }
    return true;
}

pj_policy *pj_policy_new(void)
{
    pj_policy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->n_profiles = (int)(pj_builtin_rule_files_count < PJ_POLICY_MAX_PROFILES
                              ? pj_builtin_rule_files_count
                              : PJ_POLICY_MAX_PROFILES);
    for (int i = 0; i < p->n_profiles; i++) {
        const pj_builtin_rule_file *f = &pj_builtin_rule_files[i];
        char err[512];
        if (!add_rules(p, f->file, f->text, strlen(f->text), true, i, err, sizeof err)) {
            /* a broken built-in file is a build error; unit tests catch it */
            pj_policy_free(p);
            return NULL;
        }
    }
    int d = find_profile("dangerous"), s = find_profile("stdlib");
    if (d >= 0)
        p->base |= 1u << d;
    if (s >= 0)
        p->base |= 1u << s;
    p->enabled = p->n_profiles >= 32 ? UINT32_MAX : ((1u << p->n_profiles) - 1u);
    return p;
}

void pj_policy_free(pj_policy *p)
{
    if (p == NULL)
        return;
    pj_rule_list_free(&p->rules);
    free(p->exact);
    free(p->prefix);
    free(p->other);
    free(p);
}

bool pj_policy_add_text(pj_policy *p, const char *source_name, const char *text, size_t len,
                        char *err, size_t errlen)
{
    if (p == NULL || (text == NULL && len > 0))
        return false;
    return add_rules(p, source_name ? source_name : "<policy>", text ? text : "", len, false, -1,
                     err, errlen);
}

bool pj_policy_add_file(pj_policy *p, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return false;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > PJ_POLICY_MAX_FILE) {
        snprintf(err, errlen, "%s: policy file larger than %u bytes", path, PJ_POLICY_MAX_FILE);
        close(fd);
        return false;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return false;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "short read");
            free(buf);
            close(fd);
            return false;
        }
        got += (size_t)n;
    }
    close(fd);
    bool ok = pj_policy_add_text(p, path, buf, size, err, errlen);
    free(buf);
    return ok;
}

pj_policy_mark pj_policy_get_mark(const pj_policy *p)
{
    pj_policy_mark m = {p->rules.n, p->enabled, p->restricted};
    return m;
}

bool pj_policy_rollback(pj_policy *p, pj_policy_mark m)
{
    if (m.n_rules > p->rules.n)
        return false;
    for (size_t i = m.n_rules; i < p->rules.n; i++) {
        free(p->rules.v[i].pattern);
        free(p->rules.v[i].label);
        free(p->rules.v[i].reason);
    }
    p->rules.n = m.n_rules;
    p->enabled = m.enabled;
    p->restricted = m.restricted;
    return rebuild_index(p);
}

/* The profile and everything it pulls in. */
static uint32_t closure(const pj_policy *p, int q)
{
    uint32_t m = 1u << q, prev = 0;
    while (m != prev) {
        prev = m;
        for (int i = 0; i < p->n_profiles; i++)
            if ((m >> i) & 1u)
                m |= p->requires[i];
    }
    return m;
}

bool pj_policy_add_profile(pj_policy *p, const char *profile, char *err, size_t errlen)
{
    if (p == NULL || profile == NULL)
        return false;
    uint32_t add;
    if (strcmp(profile, "all") == 0) {
        add = p->n_profiles >= 32 ? UINT32_MAX : ((1u << p->n_profiles) - 1u);
    } else {
        int q = find_profile(profile);
        if (q < 0 || strcmp(profile, "dangerous") == 0) {
            if (err != NULL && errlen > 0) {
                char names[256] = "";
                size_t o = 0;
                for (int i = 0; i < p->n_profiles; i++) {
                    if (strcmp(pj_builtin_rule_files[i].profile, "dangerous") == 0)
                        continue;
                    int w = snprintf(names + o, sizeof names - o, "%s, ",
                                     pj_builtin_rule_files[i].profile);
                    if (w < 0 || (size_t)w >= sizeof names - o)
                        break;
                    o += (size_t)w;
                }
                snprintf(err, errlen, "unknown profile '%.64s' (known: %sall)", profile, names);
            }
            return false;
        }
        add = closure(p, q);
    }
    if (!p->restricted) {
        p->restricted = true;
        p->enabled = p->base;
    }
    p->enabled |= add | p->base;
    return true;
}

/* ---- small helpers for the CLI ----------------------------------------------- */

size_t pj_policy_profile_count(void)
{
    return pj_builtin_rule_files_count;
}

const char *pj_policy_profile_name(size_t i)
{
    return i < pj_builtin_rule_files_count ? pj_builtin_rule_files[i].profile : NULL;
}

bool pj_severity_parse(const char *s, pj_severity *out)
{
    if (s == NULL)
        return false;
    if (strcmp(s, "suspicious") == 0)
        *out = PJ_SEV_SUSPICIOUS;
    else if (strcmp(s, "dangerous") == 0)
        *out = PJ_SEV_DANGEROUS;
    else if (strcmp(s, "info") == 0)
        *out = PJ_SEV_INFO;
    else
        return false;
    return true;
}

int pj_exit_code(pj_verdict worst, pj_severity fail_on)
{
    if (worst == PJ_VERDICT_ERROR)
        return 2;
    /* INFO findings never make a verdict worse than safe, so a threshold
     * below suspicious behaves as suspicious. */
    pj_verdict threshold =
        fail_on >= PJ_SEV_DANGEROUS ? PJ_VERDICT_DANGEROUS : PJ_VERDICT_SUSPICIOUS;
    return worst >= threshold ? 1 : 0;
}
