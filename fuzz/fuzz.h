/* Shared by every fuzz harness: the libFuzzer entry points (declared here so
 * -Wmissing-prototypes stays quiet; the build force-includes this header),
 * fuzzing limits, and report invariants that turn silent logic bugs (an index
 * out of range, an unescaped byte) into crashes the fuzzer can find. */
#ifndef PJ_FUZZ_H
#define PJ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "picklejail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Report a broken invariant and crash so the fuzzer saves the input. */
#define PJ_FUZZ_ASSERT(cond, what)                                                             \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "picklejail fuzz invariant failed: %s (%s:%d)\n", what, __FILE__,  \
                    __LINE__);                                                                 \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* Default limits, shrunk so one input stays well under libFuzzer's time and
 * memory limits (the code paths that hit a limit are still exercised). */
static inline void pj_fuzz_options(pj_options *o)
{
    pj_options_default(o);
    o->sandbox = false;
    pj_limits *l = &o->limits;
    if (l->max_opcodes == 0 || l->max_opcodes > 200000)
        l->max_opcodes = 200000;
    if (l->max_arena_bytes == 0 || l->max_arena_bytes > (64u << 20))
        l->max_arena_bytes = 64u << 20;
    if (l->max_decompressed_bytes == 0 || l->max_decompressed_bytes > (64u << 20))
        l->max_decompressed_bytes = 64u << 20;
    if (l->max_stack == 0 || l->max_stack > 100000)
        l->max_stack = 100000;
    if (l->max_memo == 0 || l->max_memo > 100000)
        l->max_memo = 100000;
    if (l->max_streams == 0 || l->max_streams > 64)
        l->max_streams = 64;
}

/* Every report string must be NUL-terminated and printable: no control bytes
 * (hostile bytes are escaped as \xNN by the report builder). */
static inline void pj_fuzz_check_string(const char *s, int nullable, const char *what)
{
    if (s == NULL) {
        PJ_FUZZ_ASSERT(nullable, what);
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        PJ_FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f, what);
}

/* Structural invariants of a report.  input_len bounds offsets only when the
 * report's streams lie directly in the fuzzed bytes (pass 0 otherwise). */
static inline void pj_fuzz_check_report(const pj_report *r, size_t input_len)
{
    PJ_FUZZ_ASSERT(r != NULL, "report");
    pj_fuzz_check_string(r->format, 0, "report format");
    PJ_FUZZ_ASSERT(r->verdict <= PJ_VERDICT_ERROR, "verdict range");
    PJ_FUZZ_ASSERT(r->n_streams == 0 || r->streams != NULL, "streams array");
    PJ_FUZZ_ASSERT(r->n_globals == 0 || r->globals != NULL, "globals array");
    PJ_FUZZ_ASSERT(r->n_calls == 0 || r->calls != NULL, "calls array");
    PJ_FUZZ_ASSERT(r->n_findings == 0 || r->findings != NULL, "findings array");
    for (size_t i = 0; i < r->n_streams; i++) {
        const pj_stream *s = &r->streams[i];
        pj_fuzz_check_string(s->location, 0, "stream location");
        if (input_len) {
            PJ_FUZZ_ASSERT(s->offset <= input_len, "stream offset inside input");
            PJ_FUZZ_ASSERT(s->length <= input_len - s->offset, "stream length inside input");
        }
    }
    for (size_t i = 0; i < r->n_globals; i++) {
        const pj_global *g = &r->globals[i];
        pj_fuzz_check_string(g->module, 0, "global module");
        pj_fuzz_check_string(g->name, 0, "global name");
        pj_fuzz_check_string(g->resolved_module, 1, "global resolved_module");
        pj_fuzz_check_string(g->resolved_name, 1, "global resolved_name");
        pj_fuzz_check_string(g->policy_rule, 1, "global policy rule");
        PJ_FUZZ_ASSERT(g->stream >= -1 && (g->stream < 0 || (size_t)g->stream < r->n_streams),
                       "global stream index");
        PJ_FUZZ_ASSERT(g->origin <= PJ_ORIGIN_DERIVED, "global origin");
        PJ_FUZZ_ASSERT(g->policy <= PJ_POLICY_DANGEROUS, "global policy class");
        if (input_len)
            PJ_FUZZ_ASSERT(g->offset < input_len, "global offset inside input");
    }
    for (size_t i = 0; i < r->n_calls; i++) {
        const pj_call *c = &r->calls[i];
        pj_fuzz_check_string(c->callee, 0, "call callee");
        pj_fuzz_check_string(c->args, 1, "call args");
        PJ_FUZZ_ASSERT(c->stream >= -1 && (c->stream < 0 || (size_t)c->stream < r->n_streams),
                       "call stream index");
        PJ_FUZZ_ASSERT(c->callee_global >= -1 &&
                           (c->callee_global < 0 || (size_t)c->callee_global < r->n_globals),
                       "call callee_global index");
        for (size_t k = 0; k < 4; k++)
            PJ_FUZZ_ASSERT(c->arg_globals[k] >= -1 && (c->arg_globals[k] < 0 ||
                                                        (size_t)c->arg_globals[k] < r->n_globals),
                           "call arg_globals index");
        PJ_FUZZ_ASSERT(c->policy <= PJ_POLICY_DANGEROUS, "call policy class");
        if (input_len)
            PJ_FUZZ_ASSERT(c->offset < input_len, "call offset inside input");
    }
    for (size_t i = 0; i < r->n_findings; i++) {
        const pj_finding *f = &r->findings[i];
        PJ_FUZZ_ASSERT(pj_code_valid((int)f->code), "finding code valid");
        PJ_FUZZ_ASSERT(f->severity <= PJ_SEV_DANGEROUS, "finding severity");
        PJ_FUZZ_ASSERT(f->stream >= -1 && (f->stream < 0 || (size_t)f->stream < r->n_streams),
                       "finding stream index");
        pj_fuzz_check_string(f->message, 0, "finding message");
        pj_fuzz_check_string(pj_code_id(f->code), 0, "finding id");
    }
    for (size_t i = 0; i < r->n_meta; i++) {
        pj_fuzz_check_string(r->meta_keys[i], 0, "meta key");
        pj_fuzz_check_string(r->meta_values[i], 0, "meta value");
    }
}

#endif
