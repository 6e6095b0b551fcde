/* pj_policy_apply: classify every global and call of a report, add the
 * policy findings (PJ3xx), and compute the verdict. */
#include "policy_internal.h"
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_BUILD 0x62

/* ---- de-duplication of findings ------------------------------------------------
 * One finding per (code, stream, subject).  A 64-bit hash set: a collision
 * can only drop a second finding with the same code in the same stream, which
 * never changes the verdict. */
typedef struct seen_set {
    uint64_t *v;
    size_t cap, n;
} seen_set;

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* true when newly inserted (or when the set cannot grow: report anyway) */
static bool seen_insert(seen_set *s, int code, int32_t stream, const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(uint32_t)code;
    h *= 1099511628211ull;
    h ^= (uint64_t)(uint32_t)stream;
    h *= 1099511628211ull;
    h = fnv(h, a);
    h = fnv(h ^ 0xff, b);
    if (h == 0)
        h = 1;
    if (s->n * 2 >= s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        uint64_t *nv = calloc(ncap, sizeof *nv);
        if (nv == NULL)
            return true;
        for (size_t i = 0; i < s->cap; i++) {
            if (s->v[i] == 0)
                continue;
            size_t j = (size_t)(s->v[i] & (ncap - 1));
            while (nv[j] != 0)
                j = (j + 1) & (ncap - 1);
            nv[j] = s->v[i];
        }
        free(s->v);
        s->v = nv;
        s->cap = ncap;
    }
    size_t j = (size_t)(h & (s->cap - 1));
    while (s->v[j] != 0) {
        if (s->v[j] == h)
            return false;
        j = (j + 1) & (s->cap - 1);
    }
    s->v[j] = h;
    s->n++;
    return true;
}

/* ---- per-apply state -------------------------------------------------------------- */

typedef struct apply_ctx {
    const pj_policy *p;
    pj_report *r;
    const char **labels;     /* report-owned copy of each rule's label, by rule index */
    pj_classification *cls;  /* per global */
    seen_set seen;
    char **paths;            /* per global: "module.name" as the VM renders it */
    size_t *by_path;         /* global indexes sorted by (path, stream) */
    size_t *derived;         /* derived global indexes sorted by (stream, offset) */
    size_t n_derived;
} apply_ctx;

static const char *label_of(apply_ctx *c, const pj_rule *rule)
{
    if (rule == NULL)
        return "default:unknown";
    size_t i = (size_t)(rule - c->p->rules.v);
    if (i >= c->p->rules.n)
        return "default:unknown";
    if (c->labels != NULL && c->labels[i] == NULL)
        c->labels[i] = pj_report_strdup(c->r, rule->label);
    return c->labels != NULL && c->labels[i] != NULL ? c->labels[i] : "policy";
}

static const char *str(const char *s) { return s != NULL ? s : ""; }

static void global_path(const pj_global *g, char *out, size_t outlen)
{
    const char *m = g->resolved_module ? g->resolved_module : str(g->module);
    const char *n = g->resolved_name ? g->resolved_name : str(g->name);
    if (n[0] == '\0')
        snprintf(out, outlen, "%s", m);
    else
        snprintf(out, outlen, "%s.%s", m, n);
}

static const char *top_module(const pj_global *g, char *out, size_t outlen)
{
    const char *m = g->resolved_module ? g->resolved_module : str(g->module);
    snprintf(out, outlen, "%s", m);
    return out;
}

static void classify_globals(apply_ctx *c)
{
    pj_report *r = c->r;
    for (size_t i = 0; i < r->n_globals; i++) {
        pj_global *g = &r->globals[i];
        pj_classification *k = &c->cls[i];
        if (g->origin == PJ_ORIGIN_EXT) {
            /* the extension registry's target is unknown without the loader */
            memset(k, 0, sizeof *k);
            k->cls = PJ_POLICY_UNKNOWN;
        } else {
            const char *m = g->resolved_module ? g->resolved_module : g->module;
            const char *n = g->resolved_name ? g->resolved_name : g->name;
            pj_policy_classify(c->p, m, n, g->module, g->name, k);
        }
        g->policy = k->cls;
        g->policy_rule = g->origin == PJ_ORIGIN_EXT ? "builtin:ext-registry" : label_of(c, k->rule);
    }
}

static void global_findings(apply_ctx *c)
{
    pj_report *r = c->r;
    char path[1024], mod[512];
    for (size_t i = 0; i < r->n_globals; i++) {
        const pj_global *g = &r->globals[i];
        const pj_classification *k = &c->cls[i];
        global_path(g, path, sizeof path);
        if (k->cls == PJ_POLICY_DANGEROUS) {
            pj_code code = k->user_deny ? PJ_POLICY_DENY : PJ_GLOBAL_DANGEROUS;
            if (!seen_insert(&c->seen, code, g->stream, path, NULL))
                continue;
            const char *reason = k->rule && k->rule->reason ? k->rule->reason : NULL;
            const char *label = label_of(c, k->rule);
            if (k->user_deny)
                pj_report_finding(r, code, g->stream, g->offset, "%s is denied by policy rule %s%s%s",
                                  path, label, reason ? ": " : "", reason ? reason : "");
            else if (k->via[0] != '\0' && strcmp(k->via, path) != 0)
                pj_report_finding(r, code, g->stream, g->offset,
                                  "%s reaches %s, %s (rule %s)", path, k->via,
                                  reason ? reason : "a dangerous object", label);
            else
                pj_report_finding(r, code, g->stream, g->offset, "%s is %s (rule %s)", path,
                                  reason ? reason : "on the dangerous list", label);
        } else if (k->cls == PJ_POLICY_UNKNOWN) {
            if (g->origin == PJ_ORIGIN_EXT) {
                /* the VM reports EXT opcodes itself (PJ121) */
                continue;
            }
            pj_code code = g->called ? PJ_GLOBAL_UNKNOWN : PJ_GLOBAL_NOT_CALLED;
            if (!seen_insert(&c->seen, code, g->stream, path, NULL))
                continue;
            if (g->called)
                pj_report_finding(r, code, g->stream, g->offset,
                                  "%s is not on the allowlist: loading imports and calls it "
                                  "(allow it in a policy file only if you trust its code)",
                                  path);
            else
                pj_report_finding(r, code, g->stream, g->offset,
                                  "%s is not on the allowlist: loading imports module %s, which "
                                  "runs its top-level code, even though nothing calls it",
                                  path, top_module(g, mod, sizeof mod));
        }
    }
}

static bool valid_global(const pj_report *r, int32_t idx)
{
    return idx >= 0 && (size_t)idx < r->n_globals;
}

/* Worst class among a call's global arguments; UNKNOWN when there are none.
 * *which receives the index of the worst one (or -1). */
static pj_global_class args_class(const apply_ctx *c, const pj_call *call, int32_t *which)
{
    pj_global_class worst = PJ_POLICY_UNCLASSIFIED;
    *which = -1;
    for (int i = 0; i < 4; i++) {
        int32_t a = call->arg_globals[i];
        if (!valid_global(c->r, a))
            continue;
        pj_global_class k = c->cls[a].cls;
        if (*which < 0 || k > worst) {
            worst = k;
            *which = a;
        }
    }
    return worst == PJ_POLICY_UNCLASSIFIED ? PJ_POLICY_UNKNOWN : worst;
}

/* Does a rendered argument list hold an integer literal above max?  Quoted
 * strings are skipped; "<int of N bytes>" (a huge LONG4) always counts. */
static bool args_exceed(const char *a, uint64_t max, char *what, size_t whatlen)
{
    char q = 0;
    for (size_t i = 0; a[i] != '\0'; i++) {
        char ch = a[i];
        if (q != 0) {
            if (ch == '\\' && a[i + 1] != '\0')
                i++;
            else if (ch == q)
                q = 0;
            continue;
        }
        if (ch == '\'' || ch == '"') {
            q = ch;
            continue;
        }
        if (strncmp(a + i, "<int of ", 8) == 0) {
            snprintf(what, whatlen, "a very large integer");
            return true;
        }
        bool start = ch >= '0' && ch <= '9' &&
                     (i == 0 || !(a[i - 1] == '_' || a[i - 1] == '.' ||
                                  (a[i - 1] >= 'a' && a[i - 1] <= 'z') ||
                                  (a[i - 1] >= 'A' && a[i - 1] <= 'Z') ||
                                  (a[i - 1] >= '0' && a[i - 1] <= '9')));
        if (!start)
            continue;
        size_t j = i;
        uint64_t v = 0;
        bool big = false;
        while (a[j] >= '0' && a[j] <= '9') {
            if (v > (UINT64_MAX - 9) / 10)
                big = true;
            else
                v = v * 10 + (uint64_t)(a[j] - '0');
            j++;
        }
        bool is_float = a[j] == '.' || a[j] == 'e' || a[j] == 'E';
        if (!is_float && (big || v > max)) {
            snprintf(what, whatlen, "%.*s%s", (int)(j - i > 24 ? 24 : j - i), a + i,
                     j - i > 24 ? "..." : "");
            return true;
        }
        i = j - 1;
    }
    return false;
}

/* Derived globals sorted by (stream, offset): the global a getattr call
 * made is the derived global recorded at the call's offset. */
static bool derived_before(const pj_global *a, const pj_global *b)
{
    return a->stream != b->stream ? a->stream < b->stream : a->offset < b->offset;
}

static void sort_derived(const pj_report *r, size_t *a, size_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_derived(r, a, tmp, h);
    sort_derived(r, a + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = derived_before(&r->globals[a[j]], &r->globals[a[i]]) ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

static void build_derived_index(apply_ctx *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->r->n_globals; i++)
        n += c->r->globals[i].origin == PJ_ORIGIN_DERIVED;
    if (n == 0)
        return;
    c->derived = malloc(n * sizeof *c->derived);
    size_t *tmp = malloc(n * sizeof *tmp);
    if (c->derived == NULL || tmp == NULL) {
        free(c->derived);
        free(tmp);
        c->derived = NULL;
        return; /* getattr calls then stay unknown: never safe by accident */
    }
    for (size_t i = 0; i < c->r->n_globals; i++)
        if (c->r->globals[i].origin == PJ_ORIGIN_DERIVED)
            c->derived[c->n_derived++] = i;
    sort_derived(c->r, c->derived, tmp, c->n_derived);
    free(tmp);
}

/* A derived global made by this call (getattr(x, 'n') -> x.n). */
static int32_t derived_of(const apply_ctx *c, const pj_call *call)
{
    size_t lo = 0, hi = c->n_derived;
    pj_global key;
    memset(&key, 0, sizeof key);
    key.stream = call->stream;
    key.offset = call->offset;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (derived_before(&c->r->globals[c->derived[mid]], &key))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->n_derived) {
        const pj_global *g = &c->r->globals[c->derived[lo]];
        if (g->stream == call->stream && g->offset == call->offset)
            return (int32_t)c->derived[lo];
    }
    return -1;
}

/* ---- BUILD targets ----------------------------------------------------------------
 * BUILD on an instance is recorded with the instance rendered as its
 * constructor call, "sklearn.x.Y(...)" or "copyreg._reconstructor(sklearn.x.Y,
 * builtins.object, None)".  The object is judged by the class that made it:
 * find the global the rendering starts with. */

static const char *path_of_global(const void *paths, size_t i)
{
    return ((char *const *)paths)[i];
}

static bool build_path_index(apply_ctx *c)
{
    size_t n = c->r->n_globals;
    if (n == 0)
        return true;
    c->paths = calloc(n, sizeof *c->paths);
    c->by_path = malloc(n * sizeof *c->by_path);
    size_t *tmp = malloc(n * sizeof *tmp);
    if (c->paths == NULL || c->by_path == NULL || tmp == NULL) {
        free(tmp);
        return false;
    }
    char buf[2048];
    for (size_t i = 0; i < n; i++) {
        const pj_global *g = &c->r->globals[i];
        const char *m = g->resolved_module ? g->resolved_module : str(g->module);
        const char *nm = g->resolved_name ? g->resolved_name : str(g->name);
        snprintf(buf, sizeof buf, "%s.%s", m, nm);
        c->paths[i] = strdup(buf);
        if (c->paths[i] == NULL) {
            free(tmp);
            return false;
        }
        c->by_path[i] = i;
    }
    pj_policy_sort_indexes(c->by_path, tmp, n, path_of_global, c->paths);
    free(tmp);
    return true;
}

static void free_path_index(apply_ctx *c)
{
    if (c->paths != NULL)
        for (size_t i = 0; i < c->r->n_globals; i++)
            free(c->paths[i]);
    free(c->paths);
    free(c->by_path);
}

/* A global whose rendered path is key[0..klen), preferring one of stream. */
static int32_t global_by_path(const apply_ctx *c, const char *key, size_t klen, int32_t stream)
{
    if (c->by_path == NULL || klen == 0)
        return -1;
    size_t lo = 0, hi = c->r->n_globals;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *p = c->paths[c->by_path[mid]];
        int k = strncmp(p, key, klen);
        if (k == 0 && p[klen] != '\0')
            k = 1;
        if (k < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    int32_t any = -1;
    for (size_t i = lo; i < c->r->n_globals; i++) {
        size_t g = c->by_path[i];
        const char *p = c->paths[g];
        if (strncmp(p, key, klen) != 0 || p[klen] != '\0')
            break;
        if (c->r->globals[g].stream == stream)
            return (int32_t)g;
        if (any < 0)
            any = (int32_t)g;
    }
    return any;
}

/* The class of the object a BUILD applies state to, from its rendering;
 * -1 when it was not made by calling a global. */
static int32_t build_target_class(const apply_ctx *c, const pj_call *call)
{
    const char *s = str(call->callee);
    const char *paren = strchr(s, '(');
    if (paren == NULL || paren == s)
        return -1;
    int32_t g = global_by_path(c, s, (size_t)(paren - s), call->stream);
    if (g < 0)
        return -1;
    if (c->cls[g].cls == PJ_POLICY_SAFE && c->cls[g].kind == PJ_KIND_WRAPPER) {
        /* copyreg._reconstructor(cls, base, state), copyreg.__newobj__(cls, ...) */
        const char *a = paren + 1;
        size_t n = strcspn(a, ",)(");
        if (a[n] != ',' && a[n] != ')')
            return -1;
        return global_by_path(c, a, n, call->stream);
    }
    return g;
}

static void call_findings(apply_ctx *c)
{
    pj_report *r = c->r;
    char path[1024], wpath[1024];
    for (size_t i = 0; i < r->n_calls; i++) {
        pj_call *call = &r->calls[i];
        const char *callee = str(call->callee), *args = str(call->args);
        bool build = call->opcode == OP_BUILD;
        if (build && !valid_global(r, call->callee_global)) {
            int32_t t = build_target_class(c, call);
            if (t >= 0 && c->cls[t].cls == PJ_POLICY_SAFE) {
                call->policy = PJ_POLICY_SAFE;
                continue;
            }
            if (t >= 0 && c->cls[t].cls == PJ_POLICY_DANGEROUS) {
                call->policy = PJ_POLICY_DANGEROUS; /* the global is reported already */
                continue;
            }
        }
        if (!valid_global(r, call->callee_global)) {
            call->policy = PJ_POLICY_UNKNOWN;
            pj_code code = build ? PJ_BUILD_UNKNOWN : PJ_CALL_UNKNOWN;
            if (!seen_insert(&c->seen, code, call->stream, callee, build ? NULL : args))
                continue;
            if (build)
                pj_report_finding(r, code, call->stream, call->offset,
                                  "BUILD applies state %s to %s, an object whose type cannot be "
                                  "checked (its __setstate__ runs on load)",
                                  args, callee);
            else
                pj_report_finding(r, code, call->stream, call->offset,
                                  "call %s%s: the callable is computed while loading and cannot be "
                                  "checked against the allowlist",
                                  callee, args);
            continue;
        }
        const pj_global *g = &r->globals[call->callee_global];
        const pj_classification *k = &c->cls[call->callee_global];
        global_path(g, path, sizeof path);
        if (build) {
            /* BUILD on a module-level object (not an instance) rewrites that
             * function's or class's attributes for the whole process: the
             * "numpy.size.shape = __builtins__" gadget.  Never benign. */
            call->policy = PJ_POLICY_DANGEROUS;
            if (seen_insert(&c->seen, PJ_BUILD_UNKNOWN, call->stream, callee, args))
                pj_report_add_finding(r, PJ_BUILD_UNKNOWN, PJ_SEV_DANGEROUS, call->stream,
                                      call->offset,
                                      "BUILD applies state %s to %s itself, not to an instance: "
                                      "this rewrites the attributes of a module-level object",
                                      args, path);
            continue;
        }
        pj_global_class cls = k->cls;
        int32_t which = -1;
        if (cls == PJ_POLICY_SAFE && k->kind == PJ_KIND_WRAPPER) {
            cls = args_class(c, call, &which);
        } else if (cls == PJ_POLICY_SAFE && k->kind == PJ_KIND_REACH) {
            which = derived_of(c, call);
            cls = which >= 0 ? c->cls[which].cls : PJ_POLICY_UNKNOWN;
        }
        if (cls == PJ_POLICY_SAFE && k->rule != NULL && k->rule->has_max_int && !build) {
            char what[64];
            if (args_exceed(args, k->rule->max_int, what, sizeof what)) {
                call->policy = PJ_POLICY_UNKNOWN;
                if (seen_insert(&c->seen, PJ_CALL_UNKNOWN, call->stream, callee, args))
                    pj_report_finding(r, PJ_CALL_UNKNOWN, call->stream, call->offset,
                                      "call %s%s: argument %s is above the %llu its allow rule "
                                      "%s permits (a memory bomb)",
                                      callee, args, what, (unsigned long long)k->rule->max_int,
                                      label_of(c, k->rule));
                continue;
            }
        }
        call->policy = cls;
        if (cls == PJ_POLICY_SAFE)
            continue;
        if (which >= 0)
            global_path(&r->globals[which], wpath, sizeof wpath);
        if (cls == PJ_POLICY_DANGEROUS) {
            if (build)
                continue; /* the dangerous global itself is already reported */
            if (!seen_insert(&c->seen, PJ_CALL_DANGEROUS, call->stream, callee, args))
                continue;
            const pj_classification *wk = which >= 0 ? &c->cls[which] : k;
            const char *reason = wk->rule && wk->rule->reason ? wk->rule->reason
                                                               : "a dangerous callable";
            if (which >= 0)
                pj_report_finding(r, PJ_CALL_DANGEROUS, call->stream, call->offset,
                                  "call %s%s reaches %s, %s", callee, args, wpath, reason);
            else
                pj_report_finding(r, PJ_CALL_DANGEROUS, call->stream, call->offset,
                                  "call %s%s runs %s", callee, args, reason);
            continue;
        }
        /* UNKNOWN */
        if (k->cls == PJ_POLICY_UNKNOWN && !build)
            continue; /* GLOBAL_UNKNOWN already says it */
        pj_code code = build ? PJ_BUILD_UNKNOWN : PJ_CALL_UNKNOWN;
        if (!seen_insert(&c->seen, code, call->stream, callee, build ? NULL : args))
            continue;
        if (build)
            pj_report_finding(r, code, call->stream, call->offset,
                              "BUILD applies state %s to %s, which is not on the allowlist "
                              "(its __setstate__ runs on load)",
                              args, callee);
        else if (k->kind == PJ_KIND_REACH)
            pj_report_finding(r, code, call->stream, call->offset,
                              "call %s%s: %s reaches %s, which is not on the allowlist", callee,
                              args, path, which >= 0 ? wpath : "an attribute that cannot be seen");
        else
            pj_report_finding(r, code, call->stream, call->offset,
                              "call %s%s: %s calls what it is given, and %s is not on the "
                              "allowlist",
                              callee, args, path, which >= 0 ? wpath : "that callable");
    }
}

static void compute_verdict(pj_report *r)
{
    if (!r->scanned) {
        r->verdict = PJ_VERDICT_ERROR;
        return;
    }
    pj_severity worst = PJ_SEV_INFO;
    bool any = false;
    for (size_t i = 0; i < r->n_findings; i++) {
        const pj_finding *f = &r->findings[i];
        if (f->cls != PJ_CLASS_SECURITY)
            continue;
        if (!any || f->severity > worst)
            worst = f->severity;
        any = true;
    }
    r->verdict = !any || worst == PJ_SEV_INFO ? PJ_VERDICT_SAFE
                 : worst == PJ_SEV_SUSPICIOUS ? PJ_VERDICT_SUSPICIOUS
                                              : PJ_VERDICT_DANGEROUS;
}

void pj_policy_apply(const pj_policy *p, pj_report *report)
{
    if (report == NULL)
        return;
    if (p == NULL) {
        compute_verdict(report);
        return;
    }
    apply_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.r = report;
    c.labels = p->rules.n ? calloc(p->rules.n, sizeof *c.labels) : NULL;
    c.cls = report->n_globals ? calloc(report->n_globals, sizeof *c.cls) : NULL;
    if (report->n_globals > 0 && c.cls == NULL) {
        /* cannot classify: never let that pass as safe */
        pj_report_finding(report, PJ_ENGINE_ERROR, -1, 0, "policy ran out of memory");
        for (size_t i = 0; i < report->n_globals; i++)
            report->globals[i].policy = PJ_POLICY_UNKNOWN;
    } else {
        classify_globals(&c);
        global_findings(&c);
        if (!build_path_index(&c)) {
            free_path_index(&c);
            c.paths = NULL;
            c.by_path = NULL;
        }
        build_derived_index(&c);
        call_findings(&c);
        free_path_index(&c);
        free(c.derived);
    }
    free(c.seen.v);
    free(c.labels);
    free(c.cls);
    compute_verdict(report);
}
