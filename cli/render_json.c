/* JSON report (schema: docs/report-schema.md).  Built with cJSON one file at
 * a time so memory stays bounded on large directory scans. */
#include "render.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static const char *origin_name(pj_global_origin o)
{
    switch (o) {
    case PJ_ORIGIN_GLOBAL: return "GLOBAL";
    case PJ_ORIGIN_STACK_GLOBAL: return "STACK_GLOBAL";
    case PJ_ORIGIN_INST: return "INST";
    case PJ_ORIGIN_EXT: return "EXT";
    case PJ_ORIGIN_DERIVED: return "derived";
    }
    return "GLOBAL";
}

static const char *opname(uint8_t op)
{
    const char *n = pj_opcode_name(op);
    return n ? n : "?";
}

static cJSON *finding_json(const pj_finding *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "code", pj_code_id(f->code));
    cJSON_AddStringToObject(o, "title", pj_code_title(f->code));
    cJSON_AddStringToObject(o, "severity", pj_severity_name(f->severity));
    cJSON_AddStringToObject(o, "class", f->cls == PJ_CLASS_LOAD ? "load" : "security");
    cJSON_AddStringToObject(o, "message", f->message);
    cJSON_AddNumberToObject(o, "offset", (double)f->offset);
    if (f->stream >= 0)
        cJSON_AddNumberToObject(o, "stream", f->stream);
    else
        cJSON_AddNullToObject(o, "stream");
    return o;
}

static cJSON *file_json(const pj_file_result *fr)
{
    const pj_report *r = fr->report;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", fr->path);
    cJSON_AddStringToObject(o, "format", r->format ? r->format : "unknown");
    cJSON_AddStringToObject(o, "verdict", pj_verdict_name(r->verdict));
    cJSON_AddBoolToObject(o, "scanned", r->scanned);
    if (fr->error)
        cJSON_AddStringToObject(o, "error", fr->error);
    cJSON *fs = cJSON_AddArrayToObject(o, "findings");
    for (size_t i = 0; i < r->n_findings; i++)
        cJSON_AddItemToArray(fs, finding_json(&r->findings[i]));
    cJSON *ss = cJSON_AddArrayToObject(o, "streams");
    for (size_t s = 0; s < r->n_streams; s++) {
        const pj_stream *st = &r->streams[s];
        cJSON *so = cJSON_CreateObject();
        cJSON_AddNumberToObject(so, "index", (double)s);
        cJSON_AddStringToObject(so, "location", st->location);
        cJSON_AddNumberToObject(so, "offset", (double)st->offset);
        cJSON_AddNumberToObject(so, "length", (double)st->length);
        cJSON_AddNumberToObject(so, "protocol", st->protocol);
        cJSON_AddNumberToObject(so, "opcodes", (double)st->opcodes);
        cJSON_AddBoolToObject(so, "complete", st->complete);
        cJSON *gs = cJSON_AddArrayToObject(so, "globals");
        for (size_t i = 0; i < r->n_globals; i++) {
            const pj_global *g = &r->globals[i];
            if (g->stream != (int32_t)s)
                continue;
            cJSON *go = cJSON_CreateObject();
            cJSON_AddNumberToObject(go, "index", (double)i);
            cJSON_AddStringToObject(go, "module", g->module);
            cJSON_AddStringToObject(go, "name", g->name);
            cJSON_AddStringToObject(go, "resolved_module", g->resolved_module);
            cJSON_AddStringToObject(go, "resolved_name", g->resolved_name);
            cJSON_AddNumberToObject(go, "offset", (double)g->offset);
            cJSON_AddStringToObject(go, "opcode", opname(g->opcode));
            cJSON_AddStringToObject(go, "origin", origin_name(g->origin));
            cJSON_AddBoolToObject(go, "called", g->called);
            cJSON_AddStringToObject(go, "policy", pj_global_class_name(g->policy));
            if (g->policy_rule)
                cJSON_AddStringToObject(go, "rule", g->policy_rule);
            cJSON_AddItemToArray(gs, go);
        }
        cJSON *cs = cJSON_AddArrayToObject(so, "calls");
        for (size_t i = 0; i < r->n_calls; i++) {
            const pj_call *c = &r->calls[i];
            if (c->stream != (int32_t)s)
                continue;
            cJSON *co = cJSON_CreateObject();
            cJSON_AddStringToObject(co, "callee", c->callee);
            cJSON_AddStringToObject(co, "args", c->args);
            cJSON_AddStringToObject(co, "opcode", opname(c->opcode));
            cJSON_AddNumberToObject(co, "offset", (double)c->offset);
            if (c->callee_global >= 0)
                cJSON_AddNumberToObject(co, "callee_global", c->callee_global);
            cJSON_AddStringToObject(co, "policy", pj_global_class_name(c->policy));
            cJSON_AddItemToArray(cs, co);
        }
        cJSON_AddItemToArray(ss, so);
    }
    cJSON *meta = cJSON_AddObjectToObject(o, "meta");
    for (size_t i = 0; i < r->n_meta; i++) {
        /* Repeated keys (one per storage location, ...) become arrays. */
        cJSON *prev = cJSON_GetObjectItemCaseSensitive(meta, r->meta_keys[i]);
        if (prev == NULL) {
            cJSON_AddStringToObject(meta, r->meta_keys[i], r->meta_values[i]);
        } else if (cJSON_IsArray(prev)) {
            cJSON_AddItemToArray(prev, cJSON_CreateString(r->meta_values[i]));
        } else {
            cJSON *arr = cJSON_CreateArray();
            cJSON_AddItemToArray(arr, cJSON_CreateString(prev->valuestring));
            cJSON_AddItemToArray(arr, cJSON_CreateString(r->meta_values[i]));
            cJSON_ReplaceItemInObjectCaseSensitive(meta, r->meta_keys[i], arr);
        }
    }
    return o;
}

void pj_json_begin(FILE *out) { fprintf(out, "{\"picklejail\":\"%s\",\"files\":[", PJ_VERSION); }

void pj_json_file(FILE *out, const pj_file_result *f, bool first, bool lines)
{
    cJSON *o = file_json(f);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (s == NULL) {
        /* Out of memory rendering this file: say so rather than drop it. */
        cJSON_Delete(o);
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", f->path);
        cJSON_AddStringToObject(o, "verdict", "error");
        cJSON_AddStringToObject(o, "error", "report too large to render");
        s = cJSON_PrintUnformatted(o);
    }
    if (s != NULL) {
        if (lines)
            fprintf(out, "%s\n", s);
        else
            fprintf(out, "%s%s", first ? "" : ",", s);
    }
    free(s);
    cJSON_Delete(o);
}

void pj_json_end(FILE *out) { fputs("]}\n", out); }
