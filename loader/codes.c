/* Tables derived from include/picklejail_codes.def. */
#include "picklejail.h"

#include <stddef.h>

typedef struct code_info {
    int num;
    const char *id;
    pj_severity sev;
    pj_class cls;
    const char *title;
} code_info;

static const code_info codes[] = {
#define PJ_CODE(sym, num, sev, cls, title) {num, "PJ" #num, PJ_SEV_##sev, PJ_CLASS_##cls, title},
#include "picklejail_codes.def"
#undef PJ_CODE
};

static const code_info *find(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i].num == code)
            return &codes[i];
    return NULL;
}

bool pj_code_valid(int code) { return find(code) != NULL; }

const char *pj_code_id(pj_code code)
{
    const code_info *c = find((int)code);
    return c ? c->id : "PJ000";
}

const char *pj_code_title(pj_code code)
{
    const code_info *c = find((int)code);
    return c ? c->title : "unknown code";
}

pj_severity pj_code_severity(pj_code code)
{
    const code_info *c = find((int)code);
    return c ? c->sev : PJ_SEV_SUSPICIOUS;
}

pj_class pj_code_class(pj_code code)
{
    const code_info *c = find((int)code);
    return c ? c->cls : PJ_CLASS_SECURITY;
}

const char *pj_severity_name(pj_severity s)
{
    switch (s) {
    case PJ_SEV_INFO: return "info";
    case PJ_SEV_SUSPICIOUS: return "suspicious";
    case PJ_SEV_DANGEROUS: return "dangerous";
    }
    return "suspicious";
}

const char *pj_verdict_name(pj_verdict v)
{
    switch (v) {
    case PJ_VERDICT_SAFE: return "safe";
    case PJ_VERDICT_SUSPICIOUS: return "suspicious";
    case PJ_VERDICT_DANGEROUS: return "dangerous";
    case PJ_VERDICT_ERROR: return "error";
    }
    return "error";
}

const char *pj_global_class_name(pj_global_class c)
{
    switch (c) {
    case PJ_POLICY_UNCLASSIFIED: return "unclassified";
    case PJ_POLICY_SAFE: return "safe";
    case PJ_POLICY_UNKNOWN: return "unknown";
    case PJ_POLICY_DANGEROUS: return "dangerous";
    }
    return "unknown";
}
