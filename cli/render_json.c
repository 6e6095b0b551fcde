/* JSON report (schema: docs/report-schema.md).  Built with cJSON one file at
 * a time so memory stays bounded on large directory scans. */
#include "render.h"
#include "jsonstr.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

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
    pj_json_add_string(o, "code", pj_code_id(f->code));
    pj_json_add_string(o, "title", pj_code_title(f->code));
    pj_json_add_string(o, "severity", pj_severity_name(f->severity));
    pj_json_add_string(o, "class", f->cls == PJ_CLASS_LOAD ? "load" : "security");
    pj_json_add_string(o, "message", f->message);
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
    pj_json_add_path(o, "path", fr->path);
    pj_json_add_string(o, "format", r->format ? r->format : "unknown");
    pj_json_add_string(o, "verdict", pj_verdict_name(r->verdict));
    cJSON_AddBoolToObject(o, "scanned", r->scanned);
    if (fr->error)
        pj_json_add_string(o, "error", fr->error);
    cJSON *fs = cJSON_AddArrayToObject(o, "findings");
    for (size_t i = 0; i < r->n_findings; i++)
        cJSON_AddItemToArray(fs, finding_json(&r->findings[i]));
    cJSON *ss = cJSON_AddArrayToObject(o, "streams");
    for (size_t s = 0; s < r->n_streams; s++) {
        const pj_stream *st = &r->streams[s];
        cJSON *so = cJSON_CreateObject();
        cJSON_AddNumberToObject(so, "index", (double)s);
        pj_json_add_string(so, "location", st->location);
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
            pj_json_add_string(go, "module", g->module);
            pj_json_add_string(go, "name", g->name);
            pj_json_add_string(go, "resolved_module", g->resolved_module);
            pj_json_add_string(go, "resolved_name", g->resolved_name);
            cJSON_AddNumberToObject(go, "offset", (double)g->offset);
            pj_json_add_string(go, "opcode", opname(g->opcode));
            pj_json_add_string(go, "origin", origin_name(g->origin));
            cJSON_AddBoolToObject(go, "called", g->called);
            pj_json_add_string(go, "policy", pj_global_class_name(g->policy));
            if (g->policy_rule)
                pj_json_add_string(go, "rule", g->policy_rule);
            cJSON_AddItemToArray(gs, go);
        }
        cJSON *cs = cJSON_AddArrayToObject(so, "calls");
        for (size_t i = 0; i < r->n_calls; i++) {
            const pj_call *c = &r->calls[i];
            if (c->stream != (int32_t)s)
                continue;
            cJSON *co = cJSON_CreateObject();
            pj_json_add_string(co, "callee", c->callee);
            pj_json_add_string(co, "args", c->args);
            pj_json_add_string(co, "opcode", opname(c->opcode));
            cJSON_AddNumberToObject(co, "offset", (double)c->offset);
            if (c->callee_global >= 0)
                cJSON_AddNumberToObject(co, "callee_global", c->callee_global);
            pj_json_add_string(co, "policy", pj_global_class_name(c->policy));
            cJSON_AddItemToArray(cs, co);
        }
        cJSON_AddItemToArray(ss, so);
    }
    cJSON *meta = cJSON_AddObjectToObject(o, "meta");
    for (size_t i = 0; i < r->n_meta; i++) {
        /* Repeated keys (one per storage location, ...) become arrays.  Keys
         * are looked up repaired, as they are stored. */
        char *key = pj_utf8_fix(r->meta_keys[i]);
        if (key == NULL)
            continue;
        cJSON *prev = cJSON_GetObjectItemCaseSensitive(meta, key);
        if (prev == NULL) {
            pj_json_add_string(meta, key, r->meta_values[i]);
        } else if (cJSON_IsArray(prev)) {
            cJSON_AddItemToArray(prev, pj_json_string(r->meta_values[i]));
        } else {
            cJSON *arr = cJSON_CreateArray();
            cJSON_AddItemToArray(arr, cJSON_CreateString(prev->valuestring));
            cJSON_AddItemToArray(arr, pj_json_string(r->meta_values[i]));
            cJSON_ReplaceItemInObjectCaseSensitive(meta, key, arr);
        }
        free(key);
    }
    return o;
}

void pj_json_begin(FILE *out, bool files)
{
    fprintf(out, "{\"picklejail\":\"%s\"%s", PJ_VERSION, files ? ",\"files\":[" : "");
}

void pj_json_file(FILE *out, const pj_file_result *f, bool first, bool lines)
{
    cJSON *o = file_json(f);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (s == NULL) {
        /* Out of memory rendering this file: say so rather than drop it. */
        cJSON_Delete(o);
        o = cJSON_CreateObject();
        pj_json_add_path(o, "path", f->path);
        pj_json_add_string(o, "verdict", "error");
        pj_json_add_string(o, "error", "report too large to render");
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
    /* JSON Lines is read as it arrives: hand each line over at once. */
    if (lines)
        fflush(out);
}

static cJSON *summary_json(const pj_run_totals *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "files", (double)t->files);
    cJSON *v = cJSON_AddObjectToObject(o, "verdicts");
    for (int i = PJ_VERDICT_SAFE; i <= PJ_VERDICT_ERROR; i++)
        cJSON_AddNumberToObject(v, pj_verdict_name((pj_verdict)i), (double)t->counts[i]);
    cJSON *top = cJSON_AddArrayToObject(o, "top_findings");
    uint16_t codes[PJ_SUMMARY_TOP];
    size_t n = pj_summary_top(t->codes, codes, PJ_SUMMARY_TOP);
    for (size_t i = 0; i < n; i++) {
        cJSON *c = cJSON_CreateObject();
        pj_json_add_string(c, "code", pj_code_id((pj_code)codes[i]));
        pj_json_add_string(c, "title", pj_code_title((pj_code)codes[i]));
        pj_json_add_string(c, "severity", pj_severity_name(pj_code_severity((pj_code)codes[i])));
        cJSON_AddNumberToObject(c, "files", (double)t->codes->files[codes[i]]);
        cJSON_AddNumberToObject(c, "findings", (double)t->codes->findings[codes[i]]);
        cJSON_AddItemToArray(top, c);
    }
    cJSON_AddNumberToObject(o, "skipped", t->skipped ? (double)t->skipped->n : 0);
    cJSON_AddNumberToObject(o, "exit_code", t->exit_code);
    return o;
}

static void print_summary(FILE *out, const pj_run_totals *t, const char *before, const char *after)
{
    cJSON *o = summary_json(t);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    fprintf(out, "%s%s%s", before, s ? s : "null", after);
    free(s);
    cJSON_Delete(o);
}

void pj_json_end(FILE *out, bool files, const pj_run_totals *t)
{
    if (files) {
        fputc(']', out);
        if (t->skipped != NULL) {
            fputs(",\"skipped\":", out);
            pj_skipped_json_array(out, t->skipped);
        }
    }
    print_summary(out, t, ",\"summary\":", "}\n");
}

void pj_json_summary_line(FILE *out, const pj_run_totals *t)
{
    print_summary(out, t, "{\"summary\":", "}\n");
    fflush(out);
}
