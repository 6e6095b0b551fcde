/* SARIF 2.1.0: one run, one result per security or load finding, the rule
 * metadata taken from the finding code table and docs/rules.md anchors. */
#include "render.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *level(pj_severity s)
{
    return s == PJ_SEV_DANGEROUS ? "error" : s == PJ_SEV_SUSPICIOUS ? "warning" : "note";
}

void pj_sarif_begin(FILE *out)
{
    fputs("{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\","
          "\"runs\":[{\"tool\":{\"driver\":{\"name\":\"picklejail\",\"version\":\"" PJ_VERSION
          "\",\"informationUri\":\"https://example.invalid/picklejail/docs/rules.md\",\"rules\":[",
          out);
    bool first = true;
    for (int code = 100; code < 600; code++) {
        if (!pj_code_valid(code))
            continue;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", pj_code_id((pj_code)code));
        cJSON *sd = cJSON_AddObjectToObject(r, "shortDescription");
        cJSON_AddStringToObject(sd, "text", pj_code_title((pj_code)code));
        char uri[96];
        snprintf(uri, sizeof uri, "docs/rules.md#%s", pj_code_id((pj_code)code));
        for (char *p = uri; *p; p++)
            if (*p >= 'A' && *p <= 'Z' && p > uri + 13)
                *p = (char)(*p - 'A' + 'a');
        cJSON_AddStringToObject(r, "helpUri", uri);
        cJSON *dc = cJSON_AddObjectToObject(r, "defaultConfiguration");
        cJSON_AddStringToObject(dc, "level", level(pj_code_severity((pj_code)code)));
        char *s = cJSON_PrintUnformatted(r);
        if (s)
            fprintf(out, "%s%s", first ? "" : ",", s);
        first = false;
        free(s);
        cJSON_Delete(r);
    }
    fputs("]}},\"results\":[", out);
}

static int first_result = 1;

void pj_sarif_file(FILE *out, const pj_file_result *f, bool first)
{
    if (first)
        first_result = 1;
    const pj_report *r = f->report;
    for (size_t i = 0; i < r->n_findings; i++) {
        const pj_finding *fd = &r->findings[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "ruleId", pj_code_id(fd->code));
        cJSON_AddStringToObject(o, "level", level(fd->severity));
        cJSON *m = cJSON_AddObjectToObject(o, "message");
        cJSON_AddStringToObject(m, "text", fd->message);
        cJSON *locs = cJSON_AddArrayToObject(o, "locations");
        cJSON *loc = cJSON_CreateObject();
        cJSON *pl = cJSON_AddObjectToObject(loc, "physicalLocation");
        cJSON *al = cJSON_AddObjectToObject(pl, "artifactLocation");
        cJSON_AddStringToObject(al, "uri", f->path);
        /* Offsets inside a container member are relative to that member:
         * only file-level offsets are byte offsets in the artifact. */
        if (fd->stream < 0 || (fd->stream < (int32_t)r->n_streams &&
                               r->streams[fd->stream].location[0] == '\0')) {
            cJSON *reg = cJSON_AddObjectToObject(pl, "region");
            cJSON_AddNumberToObject(reg, "byteOffset", (double)fd->offset);
        } else {
            cJSON *ll = cJSON_AddArrayToObject(loc, "logicalLocations");
            cJSON *l = cJSON_CreateObject();
            cJSON_AddStringToObject(l, "fullyQualifiedName", r->streams[fd->stream].location);
            cJSON_AddStringToObject(l, "kind", "member");
            cJSON_AddItemToArray(ll, l);
        }
        cJSON_AddItemToArray(locs, loc);
        cJSON *props = cJSON_AddObjectToObject(o, "properties");
        cJSON_AddStringToObject(props, "class", fd->cls == PJ_CLASS_LOAD ? "load" : "security");
        cJSON_AddStringToObject(props, "verdict", pj_verdict_name(r->verdict));
        cJSON_AddNumberToObject(props, "offset", (double)fd->offset);
        char *s = cJSON_PrintUnformatted(o);
        if (s)
            fprintf(out, "%s%s", first_result ? "" : ",", s);
        first_result = 0;
        free(s);
        cJSON_Delete(o);
    }
}

void pj_sarif_end(FILE *out) { fputs("]}]}\n", out); }
