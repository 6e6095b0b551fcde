/* Parser for policy rule text (user --policy files and the built-in
 * policy/rules/NAME.rules).  Line based; see docs/policy.md for the grammar.
 * Input is untrusted: every error names the source and line. */
#include "policy_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t errlen, const char *source, unsigned line, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

static void set_err(char *err, size_t errlen, const char *source, unsigned line, const char *fmt,
                    ...)
{
    if (err == NULL || errlen == 0)
        return;
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s:%u: %s", source, line, msg);
}

void pj_rule_list_free(pj_rule_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].pattern);
        free(l->v[i].label);
        free(l->v[i].reason);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static bool list_push(pj_rule_list *l, const pj_rule *r)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        if (ncap > SIZE_MAX / sizeof(pj_rule))
            return false;
        pj_rule *v = realloc(l->v, ncap * sizeof(pj_rule));
        if (v == NULL)
            return false;
        l->v = v;
        l->cap = ncap;
    }
    l->v[l->n++] = *r;
    return true;
}

static bool is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Printable for messages: the token with control bytes replaced. */
static void excerpt(char *dst, size_t dstlen, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 4 < dstlen; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > 0 && o + 4 >= dstlen && o >= 3) {
        dst[o - 3] = dst[o - 2] = dst[o - 1] = '.';
    }
    dst[o] = '\0';
}

typedef struct keyword {
    const char *word;
    pj_rule_action action;
    int arg; /* 0 pattern, 1 plain dotted module, 2 one identifier, 3 exact dotted name */
    bool classes_only;
} keyword;

static const keyword keywords[] = {
    {"allow", PJ_RULE_ALLOW, 0, false},
    {"deny", PJ_RULE_DENY, 0, false},
    {"allow-module", PJ_RULE_ALLOW, 1, false},
    {"deny-module", PJ_RULE_DENY, 1, false},
    {"allow-classes", PJ_RULE_ALLOW, 1, true},
    {"deny-attr", PJ_RULE_DENY_ATTR, 2, false},
    {"wrapper", PJ_RULE_WRAPPER, 3, false},
    {"reach", PJ_RULE_REACH, 3, false},
    {"profile", PJ_RULE_PROFILE, 2, false},
};

/* Validate and normalise a pattern token.  Writes the normalised pattern
 * into out (':' becomes '.'), sets *match.  Returns NULL or an error text. */
static const char *check_pattern(const char *tok, size_t n, int argkind, char *out,
                                 pj_rule_match *match)
{
    if (n == 0)
        return "missing name";
    if (n >= PJ_POLICY_MAX_PATTERN)
        return "name too long";
    bool any_star = false, colon = false;
    size_t comp_start = 0, comps = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = i < n ? tok[i] : '.';
        if (c == '.' || c == ':') {
            if (c == ':') {
                if (colon)
                    return "more than one ':' in a name";
                colon = true;
            }
            if (i == comp_start)
                return "empty component (two dots, or a dot at an end)";
            comps++;
            out[i] = '.';
            comp_start = i + 1;
            continue;
        }
        if (c == '*') {
            if (argkind != 0)
                return "wildcards are not allowed here";
            if (comps == 0)
                return "the first component must be a module name without wildcards";
            any_star = true;
        } else if (!is_ident_char(c)) {
            return "invalid character (names use letters, digits, '_', '.', ':' and '*')";
        }
        out[i] = c;
    }
    out[n] = '\0';
    if (argkind == 2 && comps != 1)
        return "expected a single name without dots";
    *match = PJ_MATCH_EXACT;
    if (!any_star)
        return NULL;
    /* "X.*" with no other wildcard is a prefix rule. */
    if (n >= 2 && out[n - 1] == '*' && out[n - 2] == '.' && memchr(out, '*', n - 1) == NULL) {
        out[n - 2] = '\0';
        *match = PJ_MATCH_PREFIX;
        return NULL;
    }
    *match = PJ_MATCH_GLOB;
    return NULL;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *make_label(bool builtin, const char *source, int profile_unused, unsigned line,
                        const char *kw, const char *tok, size_t toklen)
{
    (void)profile_unused;
    char buf[PJ_POLICY_MAX_PATTERN + 600];
    if (builtin) {
        /* source is the profile name for built-in files */
        if (strcmp(kw, "allow") == 0 || strcmp(kw, "deny") == 0)
            snprintf(buf, sizeof buf, "builtin:%s:%.*s", source, (int)toklen, tok);
        else
            snprintf(buf, sizeof buf, "builtin:%s:%s %.*s", source, kw, (int)toklen, tok);
    } else {
        char src[256];
        excerpt(src, sizeof src, source, strlen(source));
        snprintf(buf, sizeof buf, "%s:%u:%s %.*s", src, line, kw, (int)toklen, tok);
    }
    return dup_n(buf, strlen(buf));
}

/* Parse one line [s, e).  Returns false with err set on a syntax error. */
static bool parse_line(const char *source, const char *label_src, unsigned line, const char *s,
                       const char *e, bool builtin, int profile, pj_rule_list *tmp, char *err,
                       size_t errlen, bool *oom)
{
    const char *p = s;
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    if (p == e || *p == '#')
        return true;
    const char *kw = p;
    while (p < e && ((*p >= 'a' && *p <= 'z') || *p == '-'))
        p++;
    size_t kwlen = (size_t)(p - kw);
    const keyword *k = NULL;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strlen(keywords[i].word) == kwlen && memcmp(keywords[i].word, kw, kwlen) == 0)
            k = &keywords[i];
    if (k == NULL || (p < e && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#')) {
        const char *t = kw;
        while (t < e && *t != ' ' && *t != '\t' && *t != '\r')
            t++;
        char ex[64];
        excerpt(ex, sizeof ex, kw, (size_t)(t - kw));
        set_err(err, errlen, source, line,
                "unknown directive '%s' (expected allow, deny, allow-module, deny-module, "
                "allow-classes, deny-attr, wrapper, reach or profile)",
                ex);
        return false;
    }
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    const char *tok = p;
    while (p < e && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#' && *p != '"')
        p++;
    size_t toklen = (size_t)(p - tok);
    if (toklen == 0) {
        set_err(err, errlen, source, line, "'%s' needs a name", k->word);
        return false;
    }
    char norm[PJ_POLICY_MAX_PATTERN];
    pj_rule_match match = PJ_MATCH_EXACT;
    const char *why = check_pattern(tok, toklen, k->arg, norm, &match);
    if (why != NULL) {
        char ex[80];
        excerpt(ex, sizeof ex, tok, toklen);
        set_err(err, errlen, source, line, "bad name '%s': %s", ex, why);
        return false;
    }
    /* Optional conditions: max-int=N (allow and wrapper rules). */
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    bool has_max = false;
    uint64_t max_int = 0;
    while (p < e && *p >= 'a' && *p <= 'z') {
        const char *c0 = p;
        while (p < e && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#' && *p != '"')
            p++;
        size_t cl = (size_t)(p - c0);
        if (cl > 8 && memcmp(c0, "max-int=", 8) == 0 &&
            (k->action == PJ_RULE_ALLOW || k->action == PJ_RULE_WRAPPER)) {
            uint64_t val = 0;
            bool ok = cl - 8 <= 19;
            for (size_t i = 8; ok && i < cl; i++) {
                if (c0[i] < '0' || c0[i] > '9')
                    ok = false;
                else
                    val = val * 10 + (uint64_t)(c0[i] - '0');
            }
            if (!ok) {
                set_err(err, errlen, source, line, "max-int needs a decimal number below 10^19");
                return false;
            }
            has_max = true;
            max_int = val;
        } else {
            char ex[64];
            excerpt(ex, sizeof ex, c0, cl);
            set_err(err, errlen, source, line,
                    "unknown condition '%s' (only max-int=N, on allow and wrapper rules)", ex);
            return false;
        }
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
    }
    /* Optional quoted reason. */
    char reason[PJ_POLICY_MAX_REASON + 1];
    size_t rlen = 0;
    bool has_reason = false;
    if (p < e && *p == '"') {
        has_reason = true;
        p++;
        bool closed = false;
        while (p < e) {
            char c = *p++;
            if (c == '"') {
                closed = true;
                break;
            }
            if (c == '\\') {
                if (p == e || (*p != '"' && *p != '\\')) {
                    set_err(err, errlen, source, line,
                            "bad escape in quoted text (only \\\" and \\\\)");
                    return false;
                }
                c = *p++;
            }
            if ((unsigned char)c < 0x20 && c != '\t') {
                set_err(err, errlen, source, line, "control character in quoted text");
                return false;
            }
            if (rlen >= PJ_POLICY_MAX_REASON) {
                set_err(err, errlen, source, line, "quoted text longer than %d bytes",
                        PJ_POLICY_MAX_REASON);
                return false;
            }
            reason[rlen++] = c == '\t' ? ' ' : c;
        }
        if (!closed) {
            set_err(err, errlen, source, line, "unterminated quoted text");
            return false;
        }
        reason[rlen] = '\0';
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
    }
    if (p < e && *p != '#') {
        char ex[64];
        const char *t = p;
        while (t < e && *t != ' ' && *t != '\t')
            t++;
        excerpt(ex, sizeof ex, p, (size_t)(t - p));
        set_err(err, errlen, source, line, "unexpected '%s' after the name%s", ex,
                has_reason ? " and quoted text" : "");
        return false;
    }
    if (k->arg == 1 && match == PJ_MATCH_EXACT) {
        /* allow-module X == allow X.* */
        match = PJ_MATCH_PREFIX;
    }
    pj_rule r;
    memset(&r, 0, sizeof r);
    r.action = k->action;
    r.match = match;
    r.classes_only = k->classes_only;
    r.builtin = builtin;
    r.profile = profile;
    r.line = line;
    r.pattern = dup_n(norm, strlen(norm));
    r.label = make_label(builtin, label_src, profile, line, k->word, tok, toklen);
    r.reason = has_reason ? dup_n(reason, rlen) : NULL;
    r.has_max_int = has_max;
    r.max_int = max_int;
    if (r.pattern == NULL || r.label == NULL || (has_reason && r.reason == NULL) ||
        !list_push(tmp, &r)) {
        free(r.pattern);
        free(r.label);
        free(r.reason);
        *oom = true;
        set_err(err, errlen, source, line, "out of memory");
        return false;
    }
    return true;
}

bool pj_rules_parse(const char *source, const char *text, size_t len, bool builtin, int profile,
                    pj_rule_list *out, char *err, size_t errlen)
{
    if (source == NULL)
        source = "<policy>";
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    pj_rule_list tmp = {0};
    unsigned line = 1;
    size_t i = 0;
    bool oom = false;
    /* editors on Windows start UTF-8 files with a byte order mark */
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        i = 3;
    /* built-in labels name the profile ("safe-torch.rules" -> "torch");
     * user labels name the file */
    char label_buf[128];
    const char *label_src = source;
    if (builtin) {
        const char *b = strncmp(source, "safe-", 5) == 0 ? source + 5 : source;
        size_t bl = strlen(b);
        if (bl > 6 && strcmp(b + bl - 6, ".rules") == 0)
            bl -= 6;
        snprintf(label_buf, sizeof label_buf, "%.*s", (int)bl, b);
        label_src = label_buf;
    }
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '\n') {
            if (text[j] == '\0') {
                set_err(err, errlen, source, line, "NUL byte in policy text");
                pj_rule_list_free(&tmp);
                return false;
            }
            j++;
        }
        if (!parse_line(source, label_src, line, text + i, text + j, builtin, profile, &tmp, err,
                        errlen, &oom)) {
            pj_rule_list_free(&tmp);
            return false;
        }
        if (line == UINT32_MAX) {
            set_err(err, errlen, source, line, "too many lines");
            pj_rule_list_free(&tmp);
            return false;
        }
        line++;
        i = j + 1;
    }
    for (size_t k = 0; k < tmp.n; k++) {
        if (!list_push(out, &tmp.v[k])) {
            /* Roll back what was appended; the rest is still owned by tmp. */
            out->n -= k;
            set_err(err, errlen, source, line, "out of memory");
            pj_rule_list_free(&tmp);
            return false;
        }
    }
    free(tmp.v);
    return true;
}
