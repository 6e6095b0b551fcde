/* Human-readable report. */
#include "render.h"
#include "jsonstr.h"

#include <inttypes.h>
#include <string.h>

#define RED "\033[31m"
#define YEL "\033[33m"
#define GRN "\033[32m"
#define DIM "\033[2m"
#define BOLD "\033[1m"
#define RST "\033[0m"

static const char *verdict_color(pj_verdict v)
{
    switch (v) {
    case PJ_VERDICT_SAFE: return GRN;
    case PJ_VERDICT_SUSPICIOUS: return YEL;
    case PJ_VERDICT_DANGEROUS: return RED;
    case PJ_VERDICT_ERROR: return RED;
    }
    return "";
}

static const char *class_color(pj_global_class c)
{
    return c == PJ_POLICY_DANGEROUS ? RED : c == PJ_POLICY_UNKNOWN ? YEL : c == PJ_POLICY_SAFE ? GRN : "";
}

static const char *sev_color(pj_severity s)
{
    return s == PJ_SEV_DANGEROUS ? RED : s == PJ_SEV_SUSPICIOUS ? YEL : DIM;
}

/* Names and strings come from the file system and from hostile files: a
 * control byte (ESC, CR, C1 CSI) would let them drive the terminal, so those
 * and bytes that are not UTF-8 are shown as \xNN. */
static void put(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        size_t bad = 0, n = pj_utf8_seq((const char *)p, &bad);
        bool c1 = n == 2 && p[0] == 0xC2 && p[1] < 0xA0;
        if (n == 0 || c1 || *p < 0x20 || *p == 0x7F) {
            size_t k = n == 0 ? bad : n;
            for (size_t i = 0; i < k; i++)
                fprintf(out, "\\x%02x", p[i]);
            p += k;
        } else {
            fwrite(p, 1, n, out);
            p += n;
        }
    }
}

void pj_render_text_escaped(FILE *out, const char *s)
{
    put(out, s);
}

static void upper(char *dst, const char *s, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        dst[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    dst[i] = '\0';
}

void pj_render_text(FILE *out, const pj_file_result *f, bool color, bool verbose)
{
    const pj_report *r = f->report;
    char v[16];
    upper(v, pj_verdict_name(r->verdict), sizeof v);
    fputs(color ? BOLD : "", out);
    put(out, f->path);
    fprintf(out, "%s: %s%s%s", color ? RST : "", color ? verdict_color(r->verdict) : "", v,
            color ? RST : "");
    fprintf(out, " (%s", r->format ? r->format : "unknown");
    if (r->n_streams)
        fprintf(out, ", %zu pickle stream%s", r->n_streams, r->n_streams == 1 ? "" : "s");
    fprintf(out, ")\n");
    if (f->error) {
        fputs("  error: ", out);
        put(out, f->error);
        fputc('\n', out);
    }
    for (size_t s = 0; s < r->n_streams; s++) {
        const pj_stream *st = &r->streams[s];
        size_t ng = 0, nc = 0;
        for (size_t i = 0; i < r->n_globals; i++)
            ng += r->globals[i].stream == (int32_t)s;
        for (size_t i = 0; i < r->n_calls; i++)
            nc += r->calls[i].stream == (int32_t)s;
        fprintf(out, "  stream %zu", s);
        if (st->location[0]) {
            fputs(" [", out);
            put(out, st->location);
            fputc(']', out);
        }
        fprintf(out, ": protocol %d, %" PRIu64 " bytes at offset %" PRIu64 "%s\n", st->protocol,
                st->length, st->offset, st->complete ? "" : ", incomplete");
        for (size_t i = 0; i < r->n_globals; i++) {
            const pj_global *g = &r->globals[i];
            if (g->stream != (int32_t)s)
                continue;
            if (!verbose && g->policy == PJ_POLICY_SAFE && ng > 12)
                continue;
            bool renamed = strcmp(g->module, g->resolved_module) != 0 ||
                           strcmp(g->name, g->resolved_name) != 0;
            fprintf(out, "    %s%-10s%s ", color ? class_color(g->policy) : "",
                    pj_global_class_name(g->policy), color ? RST : "");
            put(out, g->resolved_module);
            if (g->resolved_name[0]) {
                fputc('.', out);
                put(out, g->resolved_name);
            }
            if (g->origin == PJ_ORIGIN_DERIVED)
                fputs(" (computed by a call)", out);
            if (renamed) {
                fputs(" (written as ", out);
                put(out, g->module);
                fputc('.', out);
                put(out, g->name);
                fputc(')', out);
            }
            fprintf(out, " %s@%" PRIu64 "%s\n", color ? DIM : "", g->offset, color ? RST : "");
        }
        size_t shown = 0;
        for (size_t i = 0; i < r->n_calls; i++) {
            const pj_call *c = &r->calls[i];
            if (c->stream != (int32_t)s)
                continue;
            if (!verbose && c->policy == PJ_POLICY_SAFE)
                continue;
            if (!verbose && ++shown > 20) {
                fprintf(out, "    ... more calls (use --verbose)\n");
                break;
            }
            const char *op = pj_opcode_name(c->opcode);
            bool build = strcmp(op ? op : "", "BUILD") == 0;
            fprintf(out, "    %scall%s  ", color ? class_color(c->policy) : "", color ? RST : "");
            put(out, c->callee);
            if (build)
                fputs(".__setstate__", out);
            put(out, c->args);
            fprintf(out, " %s@%" PRIu64 " %s%s\n", color ? DIM : "", c->offset,
                    build ? "BUILD" : op ? op : "?", color ? RST : "");
        }
        (void)nc;
    }
    for (size_t i = 0; i < r->n_findings; i++) {
        const pj_finding *fd = &r->findings[i];
        if (!verbose && fd->severity == PJ_SEV_INFO)
            continue;
        fprintf(out, "  %s%s %s%s%s: ", color ? sev_color(fd->severity) : "",
                pj_code_id(fd->code), fd->cls == PJ_CLASS_LOAD ? "load " : "",
                pj_severity_name(fd->severity), color ? RST : "");
        put(out, fd->message);
        if (fd->stream >= 0 && (size_t)fd->stream < r->n_streams &&
            r->streams[fd->stream].location[0]) {
            fputs(" [", out);
            put(out, r->streams[fd->stream].location);
            fputc(']', out);
        }
        fputc('\n', out);
    }
}

void pj_render_text_summary(FILE *out, const pj_run_totals *t, bool color)
{
    const size_t *n = t->counts;
    fprintf(out, "\n%zu file%s: %s%zu dangerous%s, %s%zu suspicious%s, %zu safe, %zu error%s\n",
            t->files, t->files == 1 ? "" : "s", color ? RED : "", n[PJ_VERDICT_DANGEROUS],
            color ? RST : "", color ? YEL : "", n[PJ_VERDICT_SUSPICIOUS], color ? RST : "",
            n[PJ_VERDICT_SAFE], n[PJ_VERDICT_ERROR], n[PJ_VERDICT_ERROR] == 1 ? "" : "s");
    static const pj_verdict order[] = {PJ_VERDICT_DANGEROUS, PJ_VERDICT_SUSPICIOUS,
                                       PJ_VERDICT_ERROR, PJ_VERDICT_SAFE};
    fprintf(out, "\n  %-12s %8s\n", "verdict", "files");
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        fprintf(out, "  %s%-12s%s %8zu\n", color ? verdict_color(order[i]) : "",
                pj_verdict_name(order[i]), color ? RST : "", n[order[i]]);
    uint16_t top[PJ_SUMMARY_TOP];
    size_t k = pj_summary_top(t->codes, top, PJ_SUMMARY_TOP);
    if (k == 0)
        return;
    fprintf(out, "\n  %-52s %8s %9s\n", "top findings", "files", "findings");
    for (size_t i = 0; i < k; i++) {
        pj_code c = (pj_code)top[i];
        char label[128];
        snprintf(label, sizeof label, "%s %s", pj_code_id(c), pj_code_title(c));
        fprintf(out, "  %s%-52.52s%s %8" PRIu64 " %9" PRIu64 "\n",
                color ? sev_color(pj_code_severity(c)) : "", label, color ? RST : "",
                t->codes->files[c], t->codes->findings[c]);
    }
}
