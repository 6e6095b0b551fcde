/* Human-readable report. */
#include "render.h"

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
    fprintf(out, "%s%s%s: %s%s%s", color ? BOLD : "", f->path, color ? RST : "",
            color ? verdict_color(r->verdict) : "", v, color ? RST : "");
    fprintf(out, " (%s", r->format ? r->format : "unknown");
    if (r->n_streams)
        fprintf(out, ", %zu pickle stream%s", r->n_streams, r->n_streams == 1 ? "" : "s");
    fprintf(out, ")\n");
    if (f->error)
        fprintf(out, "  error: %s\n", f->error);
    for (size_t s = 0; s < r->n_streams; s++) {
        const pj_stream *st = &r->streams[s];
        size_t ng = 0, nc = 0;
        for (size_t i = 0; i < r->n_globals; i++)
            ng += r->globals[i].stream == (int32_t)s;
        for (size_t i = 0; i < r->n_calls; i++)
            nc += r->calls[i].stream == (int32_t)s;
        fprintf(out, "  stream %zu%s%s%s: protocol %d, %" PRIu64 " bytes at offset %" PRIu64 "%s\n",
                s, st->location[0] ? " [" : "", st->location, st->location[0] ? "]" : "",
                st->protocol, st->length, st->offset, st->complete ? "" : ", incomplete");
        for (size_t i = 0; i < r->n_globals; i++) {
            const pj_global *g = &r->globals[i];
            if (g->stream != (int32_t)s)
                continue;
            if (!verbose && g->policy == PJ_POLICY_SAFE && ng > 12)
                continue;
            bool renamed = strcmp(g->module, g->resolved_module) != 0 ||
                           strcmp(g->name, g->resolved_name) != 0;
            fprintf(out, "    %s%-10s%s %s%s%s%s", color ? class_color(g->policy) : "",
                    pj_global_class_name(g->policy), color ? RST : "", g->resolved_module,
                    g->resolved_name[0] ? "." : "", g->resolved_name,
                    g->origin == PJ_ORIGIN_DERIVED ? " (computed by a call)" : "");
            if (renamed)
                fprintf(out, " (written as %s.%s)", g->module, g->name);
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
            if (strcmp(op ? op : "", "BUILD") == 0)
                fprintf(out, "    %scall%s  %s.__setstate__%s %s@%" PRIu64 " BUILD%s\n",
                        color ? class_color(c->policy) : "", color ? RST : "", c->callee, c->args,
                        color ? DIM : "", c->offset, color ? RST : "");
            else
                fprintf(out, "    %scall%s  %s%s %s@%" PRIu64 " %s%s\n",
                        color ? class_color(c->policy) : "", color ? RST : "", c->callee, c->args,
                        color ? DIM : "", c->offset, op ? op : "?", color ? RST : "");
        }
        (void)nc;
    }
    for (size_t i = 0; i < r->n_findings; i++) {
        const pj_finding *fd = &r->findings[i];
        if (!verbose && fd->severity == PJ_SEV_INFO)
            continue;
        fprintf(out, "  %s%s %s%s%s: %s", color ? sev_color(fd->severity) : "",
                pj_code_id(fd->code), fd->cls == PJ_CLASS_LOAD ? "load " : "",
                pj_severity_name(fd->severity), color ? RST : "", fd->message);
        if (fd->stream >= 0 && (size_t)fd->stream < r->n_streams &&
            r->streams[fd->stream].location[0])
            fprintf(out, " [%s]", r->streams[fd->stream].location);
        fputc('\n', out);
    }
}

void pj_render_text_summary(FILE *out, size_t files, const size_t counts[4], bool color)
{
    fprintf(out, "\n%zu file%s: %s%zu dangerous%s, %s%zu suspicious%s, %zu safe, %zu error%s\n",
            files, files == 1 ? "" : "s", color ? RED : "", counts[PJ_VERDICT_DANGEROUS],
            color ? RST : "", color ? YEL : "", counts[PJ_VERDICT_SUSPICIOUS], color ? RST : "",
            counts[PJ_VERDICT_SAFE], counts[PJ_VERDICT_ERROR],
            counts[PJ_VERDICT_ERROR] == 1 ? "" : "s");
}
