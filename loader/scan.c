/* Scan entry points: options, the buffer scan, and the walk over the pickle
 * streams of one piece of data (extra pickles, trailing bytes, resync). */
#include "opcodes.h"
#include "scan.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void pj_options_default(pj_options *o)
{
    memset(o, 0, sizeof *o);
    o->limits.max_input_bytes = (uint64_t)64 << 30;
    o->limits.max_opcodes = 2000000000u;
    o->limits.max_stack = 4u << 20;
    o->limits.max_memo = 8u << 20;
    o->limits.max_nesting = 1u << 20;
    o->limits.max_arena_bytes = (uint64_t)1 << 30;
    o->limits.max_decompressed_bytes = (uint64_t)1 << 30;
    o->limits.max_container_depth = 8;
    o->limits.max_streams = 1000;
    o->limits.max_findings = 1000;
    o->limits.excerpt_len = 80;
    o->sandbox = true;
    o->timeout_ms = 30000;
    o->cpu_seconds = 30;
    o->memory_bytes = (uint64_t)2 << 30;
    o->test_misbehave = -1;
}

/* Protocol 0/1 pickles have no header: accept a start when the first two
 * opcodes could begin a real pickle. */
bool pj_pickle_start_plausible(const uint8_t *d, size_t len)
{
    if (len < 2)
        return false;
    if (d[0] == OP_PROTO)
        return d[1] <= 5;
    switch (d[0]) {
    case OP_MARK:
    case OP_EMPTY_LIST:
    case OP_EMPTY_DICT:
    case OP_EMPTY_TUPLE:
        return pj_opcode_table[d[1]].name != NULL;
    case OP_GLOBAL: {
        /* "module\nname\n" of identifier characters */
        size_t lines = 0;
        for (size_t i = 1; i < len && i < 256; i++) {
            uint8_t c = d[i];
            if (c == '\n') {
                if (++lines == 2)
                    return true;
                continue;
            }
            if (!(c == '_' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z')))
                return false;
        }
        return false;
    }
    case OP_NONE:
    case OP_NEWTRUE:
    case OP_NEWFALSE:
        return d[1] == OP_STOP || d[1] == OP_MARK;
    default:
        return false;
    }
}

static size_t find_resync(const uint8_t *d, size_t len, size_t from)
{
    for (size_t i = from; i + 1 < len; i++) {
        const uint8_t *p = memchr(d + i, OP_PROTO, len - 1 - i);
        if (p == NULL)
            return len;
        i = (size_t)(p - d);
        if (d[i + 1] <= 5)
            return i;
    }
    return len;
}

size_t pj_scan_pickles(pj_scan_ctx *ctx, const uint8_t *data, size_t len, const char *location,
                       unsigned flags)
{
    pj_report *r = ctx->report;
    size_t pos = 0, ok = 0, n = 0;
    char loc[512];
    const char *base = location ? location : "";
    if (len == 0) {
        pj_report_finding(r, PJ_NO_PICKLE, -1, 0, "%s%sno pickle data (0 bytes)", base,
                          *base ? ": " : "");
        return 0;
    }
    while (pos < len) {
        if (n == 0)
            snprintf(loc, sizeof loc, "%s", base);
        else
            snprintf(loc, sizeof loc, "%s#%zu@%zu", base, n + 1, pos);
        size_t end = pos;
        size_t nstreams = r->n_streams;
        bool stopped = pj_scan_one_pickle(ctx, data, len, pos, loc, flags, &end);
        if (r->n_streams == nstreams)
            break; /* could not even record a stream: limits */
        n++;
        if (stopped)
            ok++;
        if (end <= pos)
            end = pos + 1;
        if (end >= len)
            break;
        if (stopped) {
            /* pickle.load() called again reads on from here: whatever opcode
             * comes next is a pickle to that loader. */
            if (pj_opcode_table[data[end]].name != NULL) {
                pj_report_finding(r, PJ_EXTRA_PICKLE, -1, end,
                                  "%s%sanother pickle starts at offset %zu after STOP: "
                                  "pickle.load() reads only the first; code that loads again "
                                  "(legacy torch files, loops) runs it",
                                  base, *base ? ": " : "", end);
                pos = end;
                continue;
            }
            size_t next = find_resync(data, len, end);
            pj_report_finding(r, PJ_TRAILING_DATA, -1, end,
                              "%s%s%zu bytes after STOP at offset %zu are not a pickle", base,
                              *base ? ": " : "", (next < len ? next : len) - end, end);
            if (next >= len)
                break;
            pj_report_finding(r, PJ_EXTRA_PICKLE, -1, next,
                              "%s%sa pickle header (PROTO) at offset %zu inside the trailing "
                              "data is scanned too", base, *base ? ": " : "", next);
            pos = next;
            continue;
        }
        /* After an error: a payload may sit behind deliberate garbage. */
        size_t next = find_resync(data, len, end > pos + 1 ? end : pos + 1);
        if (next >= len)
            break;
        pj_report_finding(r, PJ_RESYNC, -1, next,
                          "%s%sscan resumed at a pickle header at offset %zu after the error "
                          "before it", base, *base ? ": " : "", next);
        pos = next;
    }
    return ok;
}

pj_report *pj_scan_buffer(const uint8_t *data, size_t len, const pj_options *opts)
{
    pj_options defaults;
    if (opts == NULL) {
        pj_options_default(&defaults);
        opts = &defaults;
    }
    pj_report *r = pj_report_new(opts->limits.max_arena_bytes, opts->limits.max_findings);
    if (r == NULL)
        return NULL;
    pj_scan_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.report = r;
    ctx.limits = &opts->limits;
    if (len > opts->limits.max_input_bytes) {
        pj_report_finding(r, PJ_LIMIT_INPUT, -1, opts->limits.max_input_bytes,
                          "input of %zu bytes is larger than the limit of %" PRIu64
                          " bytes; only the first part is scanned",
                          len, opts->limits.max_input_bytes);
        len = (size_t)opts->limits.max_input_bytes;
    }
    char head[40];
    size_t hn = len < 16 ? len : 16;
    for (size_t i = 0; i < hn; i++)
        snprintf(head + 2 * i, 3, "%02x", data[i]);
    head[2 * hn] = '\0';
    pj_report_add_meta(r, "file.head", head);
    pj_scan_container(&ctx, data, len, "");
    return r;
}
