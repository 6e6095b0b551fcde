/* Rendering of the walk's skipped entries (skipped.h) in every format. */
#include "skipped.h"
#include "jsonstr.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static cJSON *skipped_json(const pj_skipped *s, bool typed)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    if (typed)
        cJSON_AddStringToObject(o, "type", "skipped");
    /* Names are bytes, messages may quote a glob: both repaired to UTF-8
     * (path_bytes keeps a non-UTF-8 name exactly, as for files). */
    pj_json_add_path(o, "path", s->path);
    pj_json_add_string(o, "reason", s->reason);
    pj_json_add_string(o, "message", s->message);
    return o;
}

static void print_json(FILE *out, cJSON *o, const char *prefix, const char *suffix)
{
    char *txt = o ? cJSON_PrintUnformatted(o) : NULL;
    if (txt != NULL)
        fprintf(out, "%s%s%s", prefix, txt, suffix);
    free(txt);
    cJSON_Delete(o);
}

void pj_skipped_json_array(FILE *out, const pj_skipped_list *s)
{
    fputc('[', out);
    bool first = true;
    for (size_t i = 0; i < s->n; i++) {
        print_json(out, skipped_json(&s->items[i], false), first ? "" : ",", "");
        first = false;
    }
    fputc(']', out);
}

void pj_skipped_jsonl(FILE *out, const pj_skipped_list *s)
{
    for (size_t i = 0; i < s->n; i++)
        print_json(out, skipped_json(&s->items[i], true), "", "\n");
}

/* A path in text output: control bytes (a newline in a file name, terminal
 * escapes) are shown as \xNN so they cannot forge lines or drive the terminal. */
static void text_path(FILE *out, const char *p)
{
    for (const unsigned char *c = (const unsigned char *)p; *c; c++) {
        if (*c < 0x20 || *c == 0x7f || *c == '\\')
            fprintf(out, "\\x%02x", *c);
        else
            fputc(*c, out);
    }
}

void pj_skipped_text(FILE *out, const pj_skipped_list *s, bool verbose, bool color)
{
    if (s->n == 0)
        return;
    if (verbose) {
        for (size_t i = 0; i < s->n; i++) {
            fprintf(out, "%sskipped%s: ", color ? "\033[2m" : "", color ? "\033[0m" : "");
            text_path(out, s->items[i].path);
            fprintf(out, " (%s)\n", s->items[i].message);
        }
    }
    /* Count per reason, in order of first appearance (a handful of reasons). */
    const char *reasons[16];
    size_t counts[16], nr = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t r = 0;
        while (r < nr && strcmp(reasons[r], s->items[i].reason) != 0)
            r++;
        if (r == nr) {
            if (nr == sizeof reasons / sizeof reasons[0])
                continue;
            reasons[nr] = s->items[i].reason;
            counts[nr++] = 0;
        }
        counts[r]++;
    }
    fprintf(out, "%zu path%s skipped (", s->n, s->n == 1 ? "" : "s");
    for (size_t r = 0; r < nr; r++)
        fprintf(out, "%s%zu %s", r ? ", " : "", counts[r], reasons[r]);
    fprintf(out, ")%s\n", verbose ? "" : "; --verbose lists them");
}
