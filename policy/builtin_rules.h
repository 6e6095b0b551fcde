/* The built-in rule files, compiled in from policy/rules/NAME.rules by
 * policy/gen_rules.sh (build/gen/policy_builtin.c). */
#ifndef PJ_BUILTIN_RULES_H
#define PJ_BUILTIN_RULES_H

#include <stddef.h>

typedef struct pj_builtin_rule_file {
    const char *profile; /* "torch" for safe-torch.rules, "dangerous", "stdlib" */
    const char *file;    /* "safe-torch.rules" */
    const char *text;
} pj_builtin_rule_file;

extern const pj_builtin_rule_file pj_builtin_rule_files[];
extern const size_t pj_builtin_rule_files_count;

#endif
