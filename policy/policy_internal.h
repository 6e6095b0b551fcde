/* Policy internals: rules, the rule-file parser, and the matcher shared by
 * policy.c (building a policy) and apply.c (classifying a report). */
#ifndef PJ_POLICY_INTERNAL_H
#define PJ_POLICY_INTERNAL_H

#include "picklejail.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum pj_rule_action {
    PJ_RULE_ALLOW,         /* allow PATTERN, allow-module M, allow-classes M */
    PJ_RULE_DENY,          /* deny PATTERN, deny-module M */
    PJ_RULE_DENY_ATTR,     /* deny-attr NAME: any attribute-walk component */
    PJ_RULE_WRAPPER,       /* wrapper NAME: calls judged by their global arguments */
    PJ_RULE_REACH,         /* reach NAME: calls judged by the attribute they reach */
    PJ_RULE_PROFILE,       /* profile NAME (pattern holds the name) */
} pj_rule_action;

typedef enum pj_rule_match {
    PJ_MATCH_EXACT,  /* the whole dotted path */
    PJ_MATCH_PREFIX, /* pattern "X.*": X itself and anything below */
    PJ_MATCH_GLOB,   /* '*' matches within one component; a final ".*" matches the rest */
} pj_rule_match;

typedef struct pj_rule {
    pj_rule_action action;
    pj_rule_match match;
    bool classes_only;  /* allow-classes: last component starts with a capital letter */
    bool builtin;
    int profile;        /* index into the built-in files, -1 for user rules */
    unsigned line;
    char *pattern;      /* normalised: ':' -> '.', PREFIX without the ".*" */
    char *label;        /* "builtin:torch:torch._utils._rebuild_*" or "file:3:allow x" */
    char *reason;       /* quoted text after the pattern, or NULL */
    bool has_max_int;   /* max-int=N: calls with a larger integer argument are not covered */
    uint64_t max_int;
} pj_rule;

typedef struct pj_rule_list {
    pj_rule *v;
    size_t n, cap;
} pj_rule_list;

/* Parse rule text.  Appends to out only on success (the whole text or
 * nothing).  profile is the built-in file index (-1 for user text); builtin
 * selects the label form.  On error writes "source:line: message". */
bool pj_rules_parse(const char *source, const char *text, size_t len, bool builtin, int profile,
                    pj_rule_list *out, char *err, size_t errlen);
void pj_rule_list_free(pj_rule_list *l);

/* Limits for user input. */
#define PJ_POLICY_MAX_PATTERN 512
#define PJ_POLICY_MAX_REASON 256
#define PJ_POLICY_MAX_FILE (16u * 1024u * 1024u)
#define PJ_POLICY_MAX_PROFILES 32

struct pj_policy {
    pj_rule_list rules;
    uint32_t enabled;           /* built-in profiles in force */
    bool restricted;            /* a profile was chosen: only those (plus the base) */
    uint32_t requires[PJ_POLICY_MAX_PROFILES]; /* profile -> profiles it pulls in */
    int n_profiles;
    uint32_t base;              /* always on: dangerous, stdlib */
    /* indexes into rules.v, rebuilt after every add */
    size_t *exact, n_exact;
    size_t *prefix, n_prefix;
    size_t *other, n_other;     /* globs and deny-attr */
};

/* Result of classifying one global. */
typedef enum pj_callkind { PJ_KIND_PLAIN, PJ_KIND_WRAPPER, PJ_KIND_REACH } pj_callkind;

typedef struct pj_classification {
    pj_global_class cls;
    pj_callkind kind;
    const pj_rule *rule;   /* deciding rule, NULL for the default */
    bool user_deny;        /* decided by a user deny rule (POLICY_DENY) */
    char via[PJ_POLICY_MAX_PATTERN]; /* what matched, when not the path itself */
} pj_classification;

/* Classify module.name (resolved names) and, for danger only, the names as
 * written. */
void pj_policy_classify(const pj_policy *p, const char *module, const char *name,
                        const char *raw_module, const char *raw_name, pj_classification *out);

/* Undo everything added after a mark (the fuzz harness reuses one parsed
 * built-in policy across inputs). */
typedef struct pj_policy_mark {
    size_t n_rules;
    uint32_t enabled;
    bool restricted;
} pj_policy_mark;
pj_policy_mark pj_policy_get_mark(const pj_policy *p);
bool pj_policy_rollback(pj_policy *p, pj_policy_mark m);

/* Stable merge sort of the indexes a[0..n) by the string key(ctx, index),
 * ties by index; tmp holds n entries (qsort has no context argument and the
 * policy keeps no globals). */
typedef const char *(*pj_index_key)(const void *ctx, size_t index);
void pj_policy_sort_indexes(size_t *a, size_t *tmp, size_t n, pj_index_key key, const void *ctx);

/* Is the built-in profile index enabled in p? */
bool pj_policy_profile_enabled(const pj_policy *p, int profile);

#endif
