/* SARIF 2.1.0: one run, one result per security or load finding (and one
 * "unscanned" result per file that could not be scanned), the rule metadata
 * taken from the finding code table.  Validated against the OASIS schema by
 * tests/e2e/test_output.py; layout in docs/report-schema.md. */
#include "render.h"
#include "jsonstr.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Relative artifact URIs are relative to the directory picklejail ran in. */
#define SRCROOT "%SRCROOT%"
#define UNSCANNED "unscanned"

static const char *level(pj_severity s)
{
    return s == PJ_SEV_DANGEROUS ? "error" : s == PJ_SEV_SUSPICIOUS ? "warning" : "note";
}

static void print_item(FILE *out, cJSON *o, bool *first)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (s) {
        fprintf(out, "%s%s", *first ? "" : ",", s);
        *first = false;
    }
    free(s);
    cJSON_Delete(o);
}

static cJSON *rule(const char *id, const char *title, const char *help, const char *lvl)
{
    cJSON *r = cJSON_CreateObject();
    pj_json_add_string(r, "id", id);
    cJSON *sd = cJSON_AddObjectToObject(r, "shortDescription");
    pj_json_add_string(sd, "text", title);
    cJSON *h = cJSON_AddObjectToObject(r, "help");
    pj_json_add_string(h, "text", help);
    cJSON *dc = cJSON_AddObjectToObject(r, "defaultConfiguration");
    pj_json_add_string(dc, "level", lvl);
    return r;
}

/* Index of a code in the rules array (valid codes in order, then unscanned). */
static int rule_index(int code)
{
    int idx = 0;
    for (int c = 100; c < 600; c++) {
        if (c == code)
            return idx;
        if (pj_code_valid(c))
            idx++;
    }
    return idx;
}

void pj_sarif_begin(FILE *out)
{
    fputs("{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\",\"version\":\"2.1.0\","
          "\"runs\":[{\"tool\":{\"driver\":{\"name\":\"picklejail\",\"version\":\"" PJ_VERSION
          "\",\"rules\":[",
          out);
    bool first = true;
    for (int code = 100; code < 600; code++) {
        if (!pj_code_valid(code))
            continue;
        char help[96];
        snprintf(help, sizeof help, "%s: see docs/rules.md in the picklejail distribution",
                 pj_code_id((pj_code)code));
        cJSON *r = rule(pj_code_id((pj_code)code), pj_code_title((pj_code)code), help,
                        level(pj_code_severity((pj_code)code)));
        /* Tags group the rules; code-scanning services rank security alerts
         * by "security-severity" (a CVSS-like score as a string). */
        cJSON *props = cJSON_AddObjectToObject(r, "properties");
        cJSON *tags = cJSON_AddArrayToObject(props, "tags");
        bool security = pj_code_class((pj_code)code) == PJ_CLASS_SECURITY;
        cJSON_AddItemToArray(tags, cJSON_CreateString(security ? "security" : "load"));
        if (security) {
            pj_severity sv = pj_code_severity((pj_code)code);
            pj_json_add_string(props, "security-severity",
                               sv == PJ_SEV_DANGEROUS ? "9.0" : sv == PJ_SEV_SUSPICIOUS ? "5.0" : "1.0");
        }
        print_item(out, r, &first);
    }
    print_item(out, rule(UNSCANNED, "file could not be scanned",
                         "The file could not be read or the scan did not finish: it is not "
                         "known to be safe (verdict error).", "error"),
               &first);
    fputs("]}},", out);
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) != NULL && cwd[0] == '/') {
        char *uri = pj_path_uri(cwd);
        if (uri != NULL) {
            size_t n = strlen(uri);
            cJSON *base = cJSON_CreateObject();
            cJSON *root = cJSON_AddObjectToObject(base, SRCROOT);
            /* A base URI must end with a slash (SARIF 3.14.14). */
            char *with_slash = malloc(n + 2);
            if (with_slash != NULL) {
                memcpy(with_slash, uri, n);
                strcpy(with_slash + n, uri[n - 1] == '/' ? "" : "/");
                pj_json_add_string(root, "uri", with_slash);
                char *s = cJSON_PrintUnformatted(base);
                if (s)
                    fprintf(out, "\"originalUriBaseIds\":%s,", s);
                free(s);
            }
            free(with_slash);
            cJSON_Delete(base);
            free(uri);
        }
    }
    fputs("\"results\":[", out);
}

/* Model files are binary, but code-scanning services place alerts by line
 * and want region.startLine: line 1 stands for the whole file, next to the
 * exact byteOffset when there is one. */
static cJSON *region(cJSON *physical)
{
    cJSON *reg = cJSON_AddObjectToObject(physical, "region");
    cJSON_AddNumberToObject(reg, "startLine", 1);
    return reg;
}

static cJSON *artifact_location(cJSON *physical, const char *path)
{
    cJSON *al = cJSON_AddObjectToObject(physical, "artifactLocation");
    char *uri = pj_path_uri(path);
    pj_json_add_string(al, "uri", uri ? uri : "");
    if (uri != NULL && strncmp(uri, "file:", 5) != 0)
        pj_json_add_string(al, "uriBaseId", SRCROOT);
    free(uri);
    return al;
}

static cJSON *result(const char *rule_id, int index, const char *lvl,
                     const char *message)
{
    cJSON *o = cJSON_CreateObject();
    pj_json_add_string(o, "ruleId", rule_id);
    cJSON_AddNumberToObject(o, "ruleIndex", index);
    pj_json_add_string(o, "level", lvl);
    cJSON *m = cJSON_AddObjectToObject(o, "message");
    pj_json_add_string(m, "text", message);
    return o;
}

static int first_result = 1;

void pj_sarif_file(FILE *out, const pj_file_result *f, bool first)
{
    if (first)
        first_result = 1;
    bool firstb = first_result;
    const pj_report *r = f->report;
    if (r->verdict == PJ_VERDICT_ERROR) {
        cJSON *o = result(UNSCANNED, rule_index(INT_MAX), "error",
                          f->error ? f->error : "the file could not be scanned");
        cJSON *locs = cJSON_AddArrayToObject(o, "locations");
        cJSON *loc = cJSON_CreateObject();
        cJSON *pl = cJSON_AddObjectToObject(loc, "physicalLocation");
        artifact_location(pl, f->path);
        region(pl);
        cJSON_AddItemToArray(locs, loc);
        cJSON *props = cJSON_AddObjectToObject(o, "properties");
        pj_json_add_string(props, "verdict", pj_verdict_name(r->verdict));
        print_item(out, o, &firstb);
    }
    for (size_t i = 0; i < r->n_findings; i++) {
        const pj_finding *fd = &r->findings[i];
        cJSON *o = result(pj_code_id(fd->code), rule_index((int)fd->code), level(fd->severity),
                          fd->message);
        cJSON *locs = cJSON_AddArrayToObject(o, "locations");
        cJSON *loc = cJSON_CreateObject();
        cJSON *pl = cJSON_AddObjectToObject(loc, "physicalLocation");
        artifact_location(pl, f->path);
        cJSON *reg = region(pl);
        /* Offsets inside a container member are relative to that member:
         * only file-level offsets are byte offsets in the artifact. */
        if (fd->stream < 0 || (fd->stream < (int32_t)r->n_streams &&
                               r->streams[fd->stream].location[0] == '\0')) {
            cJSON_AddNumberToObject(reg, "byteOffset", (double)fd->offset);
        } else if (fd->stream < (int32_t)r->n_streams) {
            cJSON *ll = cJSON_AddArrayToObject(loc, "logicalLocations");
            cJSON *l = cJSON_CreateObject();
            pj_json_add_string(l, "fullyQualifiedName", r->streams[fd->stream].location);
            pj_json_add_string(l, "kind", "member");
            cJSON_AddItemToArray(ll, l);
        }
        cJSON_AddItemToArray(locs, loc);
        /* Binary files have no source lines for a service to fingerprint:
         * code, member and offset identify a finding across runs (the
         * service adds the file path). */
        const char *member = fd->stream >= 0 && fd->stream < (int32_t)r->n_streams
                                 ? r->streams[fd->stream].location
                                 : "";
        size_t need = strlen(member) + 48;
        char *fp = malloc(need);
        if (fp != NULL) {
            snprintf(fp, need, "%s:%s:%llu", pj_code_id(fd->code), member,
                     (unsigned long long)fd->offset);
            pj_json_add_string(cJSON_AddObjectToObject(o, "partialFingerprints"),
                               "picklejail/v1", fp);
            free(fp);
        }
        cJSON *props = cJSON_AddObjectToObject(o, "properties");
        pj_json_add_string(props, "class", fd->cls == PJ_CLASS_LOAD ? "load" : "security");
        pj_json_add_string(props, "verdict", pj_verdict_name(r->verdict));
        cJSON_AddNumberToObject(props, "offset", (double)fd->offset);
        print_item(out, o, &firstb);
    }
    first_result = firstb;
}

/* Paths the walk passed over: notifications of the invocation, since they
 * are about the run, not results about a file's content. */
static void skipped_notifications(FILE *out, const pj_skipped_list *sk)
{
    if (sk == NULL || sk->n == 0)
        return;
    fputs(",\"toolExecutionNotifications\":[", out);
    bool first = true;
    for (size_t i = 0; i < sk->n; i++) {
        const pj_skipped *k = &sk->items[i];
        cJSON *o = cJSON_CreateObject();
        pj_json_add_string(o, "level", "note");
        cJSON *m = cJSON_AddObjectToObject(o, "message");
        size_t need = strlen(k->message ? k->message : "") + 16;
        char *text = malloc(need);
        if (text != NULL)
            snprintf(text, need, "not scanned: %s", k->message ? k->message : "");
        pj_json_add_string(m, "text", text ? text : "not scanned");
        free(text);
        cJSON *locs = cJSON_AddArrayToObject(o, "locations");
        cJSON *loc = cJSON_CreateObject();
        artifact_location(cJSON_AddObjectToObject(loc, "physicalLocation"), k->path);
        cJSON_AddItemToArray(locs, loc);
        cJSON *props = cJSON_AddObjectToObject(o, "properties");
        pj_json_add_string(props, "reason", k->reason);
        pj_json_add_path(props, "path", k->path);
        print_item(out, o, &first);
    }
    fputc(']', out);
}

void pj_sarif_end(FILE *out, const pj_run_totals *t)
{
    /* Findings are the tool working: only an exit status of 2 (usage, or a
     * file that could not be scanned) is an unsuccessful execution. */
    fprintf(out, "],\"invocations\":[{\"executionSuccessful\":%s,\"exitCode\":%d",
            t->exit_code == 2 ? "false" : "true", t->exit_code);
    skipped_notifications(out, t->skipped);
    fputs("}]}]}\n", out);
}
