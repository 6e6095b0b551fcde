/* Text output of `picklejail diagnose`: per file, whether it will load and,
 * for each predicted problem, the error the user would see, why, and what to
 * do.  Diagnosis messages are "<outcome>: <error> | why: <cause> | fix: <what
 * to do>" (diagnose/diag.h); this splits them back into lines. */
#include "render_diagnose.h"
#include "render.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { O_WILL, O_MAY, O_WARN, O_NOTE, O_N };

static const struct {
    const char *prefix, *label, *color;
} outcomes[O_N] = {
    {"will fail: ", "will fail", "\033[1;31m"},
    {"may fail: ", "may fail ", "\033[1;33m"},
    {"warning: ", "warning  ", "\033[33m"},
    {"note: ", "note     ", "\033[36m"},
};

static int outcome_of(const char *msg)
{
    for (int o = 0; o < O_N; o++)
        if (strncmp(msg, outcomes[o].prefix, strlen(outcomes[o].prefix)) == 0)
            return o;
    return O_NOTE;
}

/* Print msg[0..n) on its own indented line. */
static void part(FILE *out, const char *indent, const char *label, const char *s, size_t n)
{
    fprintf(out, "%s%s%.*s\n", indent, label, (int)n, s);
}

static void render_finding(FILE *out, const pj_report *r, const pj_finding *f, bool color)
{
    int o = outcome_of(f->message);
    const char *body = f->message;
    if (strncmp(body, outcomes[o].prefix, strlen(outcomes[o].prefix)) == 0)
        body += strlen(outcomes[o].prefix);
    const char *why = strstr(body, " | why: ");
    const char *fix = why ? strstr(why, " | fix: ") : strstr(body, " | fix: ");
    size_t head_len = why ? (size_t)(why - body) : fix ? (size_t)(fix - body) : strlen(body);

    fprintf(out, "  %s%s%s  %.*s\n", color ? outcomes[o].color : "", outcomes[o].label,
            color ? "\033[0m" : "", (int)head_len, body);
    const char *ind = "             ";
    if (f->stream >= 0 && (size_t)f->stream < r->n_streams) {
        const char *loc = r->streams[f->stream].location;
        bool named = loc != NULL && *loc != '\0';
        fprintf(out, "%sat: %s%soffset %llu (%s %s)\n", ind, named ? loc : "", named ? " " : "",
                (unsigned long long)f->offset, pj_code_id(f->code), pj_code_title(f->code));
    } else {
        fprintf(out, "%s(%s %s)\n", ind, pj_code_id(f->code), pj_code_title(f->code));
    }
    if (why != NULL) {
        const char *w = why + 8;
        part(out, ind, "why: ", w, fix ? (size_t)(fix - w) : strlen(w));
    }
    if (fix != NULL)
        part(out, ind, "fix: ", fix + 8, strlen(fix + 8));
}

typedef struct sort_item {
    int outcome;
    int32_t stream;
    uint64_t offset;
    size_t index;
} sort_item;

static int cmp_item(const void *pa, const void *pb)
{
    const sort_item *a = pa, *b = pb;
    if (a->outcome != b->outcome)
        return a->outcome < b->outcome ? -1 : 1;
    if (a->stream != b->stream)
        return a->stream < b->stream ? -1 : 1;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

void pj_render_diagnosis(FILE *out, const char *path, const pj_report *r, bool color)
{
    size_t count[O_N] = {0};
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].cls == PJ_CLASS_LOAD)
            count[outcome_of(r->findings[i].message)]++;

    const char *head, *hc;
    if (!r->scanned) {
        head = "could not be read";
        hc = "\033[1;31m";
    } else if (count[O_WILL]) {
        head = "WILL FAIL to load";
        hc = outcomes[O_WILL].color;
    } else if (count[O_MAY]) {
        head = "MAY FAIL to load";
        hc = outcomes[O_MAY].color;
    } else if (count[O_WARN]) {
        head = "loads, with warnings";
        hc = outcomes[O_WARN].color;
    } else {
        head = "no load problem found";
        hc = "\033[1;32m";
    }
    pj_render_text_escaped(out, path); /* a name could drive the terminal */
    fprintf(out, ": %s%s%s (%s", color ? hc : "", head, color ? "\033[0m" : "",
            r->format ? r->format : "unknown");
    if (r->n_streams == 1 && r->streams[0].protocol >= 0)
        fprintf(out, ", protocol %d", r->streams[0].protocol);
    else if (r->n_streams > 1)
        fprintf(out, ", %zu pickle streams", r->n_streams);
    fputs(")\n", out);

    /* Failures first, then warnings, then notes; each in file order (file-level
     * problems, then by stream and offset), so the first "will fail" line is
     * the error the loader stops at. */
    size_t n = 0;
    sort_item *items = calloc(r->n_findings ? r->n_findings : 1, sizeof *items);
    for (size_t i = 0; items != NULL && i < r->n_findings; i++) {
        const pj_finding *f = &r->findings[i];
        if (f->cls == PJ_CLASS_LOAD)
            items[n++] = (sort_item){outcome_of(f->message), f->stream, f->offset, i};
    }
    if (items != NULL)
        qsort(items, n, sizeof *items, cmp_item);
    for (size_t i = 0; i < n; i++)
        render_finding(out, r, &r->findings[items[i].index], color);
    free(items);

    /* Loading runs whatever the file calls: point at the security verdict. */
    if (r->scanned && r->verdict != PJ_VERDICT_SAFE) {
        fprintf(out, "  %ssecurity%s   verdict %s: loading it runs code you have not vetted; see "
                     "`picklejail scan ",
                color ? "\033[1;35m" : "", color ? "\033[0m" : "", pj_verdict_name(r->verdict));
        pj_render_text_escaped(out, path);
        fputs("`\n", out);
    }
}
