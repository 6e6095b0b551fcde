/* Wire encoder (runs in the seccomp child: no I/O, only malloc) and strict
 * decoder (runs in the parent on bytes from a possibly compromised child). */
#include "wire.h"

#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoder ---- */

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
} wbuf;

static void w_bytes(wbuf *b, const void *src, size_t n)
{
    if (b->failed)
        return;
    if (n > b->cap - b->len) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (n > ncap - b->len) {
            if (ncap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            ncap *= 2;
        }
        uint8_t *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void w_u8(wbuf *b, uint8_t v) { w_bytes(b, &v, 1); }

static void w_u16(wbuf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    w_bytes(b, t, 2);
}

static void w_u32(wbuf *b, uint32_t v)
{
    uint8_t t[4];
    for (int i = 0; i < 4; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    w_bytes(b, t, 4);
}

static void w_u64(wbuf *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    w_bytes(b, t, 8);
}

static void w_i32(wbuf *b, int32_t v) { w_u32(b, (uint32_t)v); }

static void w_str(wbuf *b, const char *s)
{
    if (s == NULL) {
        w_u32(b, UINT32_MAX);
        return;
    }
    size_t n = strlen(s);
    if (n > PJ_WIRE_MAX_STRING) {
        /* Never split a UTF-8 sequence: the decoder would reject the record. */
        n = PJ_WIRE_MAX_STRING;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    w_u32(b, (uint32_t)n);
    w_bytes(b, s, n);
}

/* Records are written with a placeholder length patched afterwards. */
static size_t rec_begin(wbuf *b, uint8_t type)
{
    w_u8(b, type);
    size_t at = b->len;
    w_u32(b, 0);
    return at;
}

static void rec_end(wbuf *b, size_t at)
{
    if (b->failed)
        return;
    size_t n = b->len - at - 4;
    if (n > UINT32_MAX) {
        b->failed = true;
        return;
    }
    for (int i = 0; i < 4; i++)
        b->p[at + (size_t)i] = (uint8_t)(n >> (8 * i));
}

uint8_t *pj_wire_encode(const pj_report *r, size_t *len)
{
    wbuf b = {0};
    w_bytes(&b, "PJWR", 4);
    w_u16(&b, PJ_WIRE_VERSION);
    w_u16(&b, 0);
    w_u32(&b, 0); /* body length, patched below */

    size_t at = rec_begin(&b, PJ_WIRE_FORMAT);
    w_str(&b, r->format);
    rec_end(&b, at);
    at = rec_begin(&b, PJ_WIRE_SCANNED);
    w_u8(&b, r->scanned ? 1 : 0);
    rec_end(&b, at);

    for (size_t i = 0; i < r->n_streams; i++) {
        const pj_stream *s = &r->streams[i];
        at = rec_begin(&b, PJ_WIRE_STREAM);
        w_str(&b, s->location);
        w_u64(&b, s->offset);
        w_u64(&b, s->length);
        w_i32(&b, s->protocol);
        w_u64(&b, s->opcodes);
        w_u8(&b, s->complete ? 1 : 0);
        rec_end(&b, at);
    }
    for (size_t i = 0; i < r->n_globals; i++) {
        const pj_global *g = &r->globals[i];
        at = rec_begin(&b, PJ_WIRE_GLOBAL);
        w_str(&b, g->module);
        w_str(&b, g->name);
        w_str(&b, g->resolved_module);
        w_str(&b, g->resolved_name);
        w_i32(&b, g->stream);
        w_u64(&b, g->offset);
        w_u8(&b, g->opcode);
        w_u8(&b, (uint8_t)g->origin);
        w_u8(&b, g->called ? 1 : 0);
        w_u8(&b, (uint8_t)g->policy);
        w_str(&b, g->policy_rule);
        rec_end(&b, at);
    }
    for (size_t i = 0; i < r->n_calls; i++) {
        const pj_call *c = &r->calls[i];
        at = rec_begin(&b, PJ_WIRE_CALL);
        w_str(&b, c->callee);
        w_str(&b, c->args);
        w_i32(&b, c->stream);
        w_u64(&b, c->offset);
        w_u8(&b, c->opcode);
        w_i32(&b, c->callee_global);
        for (int k = 0; k < 4; k++)
            w_i32(&b, c->arg_globals[k]);
        w_u8(&b, (uint8_t)c->policy);
        rec_end(&b, at);
    }
    for (size_t i = 0; i < r->n_findings; i++) {
        const pj_finding *f = &r->findings[i];
        at = rec_begin(&b, PJ_WIRE_FINDING);
        w_u32(&b, (uint32_t)f->code);
        w_u8(&b, (uint8_t)f->severity);
        w_u8(&b, (uint8_t)f->cls);
        w_i32(&b, f->stream);
        w_u64(&b, f->offset);
        w_str(&b, f->message);
        rec_end(&b, at);
    }
    for (size_t i = 0; i < r->n_meta; i++) {
        at = rec_begin(&b, PJ_WIRE_META);
        w_str(&b, r->meta_keys[i]);
        w_str(&b, r->meta_values[i]);
        rec_end(&b, at);
    }
    at = rec_begin(&b, PJ_WIRE_END);
    size_t counts[5] = {r->n_streams, r->n_globals, r->n_calls, r->n_findings, r->n_meta};
    for (int k = 0; k < 5; k++) {
        if (counts[k] > UINT32_MAX)
            b.failed = true;
        w_u32(&b, (uint32_t)counts[k]);
    }
    rec_end(&b, at);

    if (!b.failed && b.len - PJ_WIRE_HEADER_LEN > UINT32_MAX)
        b.failed = true;
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    size_t body = b.len - PJ_WIRE_HEADER_LEN;
    for (int i = 0; i < 4; i++)
        b.p[8 + i] = (uint8_t)(body >> (8 * i));
    *len = b.len;
    return b.p;
}

/* ---- decoder ---- */

typedef struct rd {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
} rd;

static bool r_need(rd *d, size_t n)
{
    if (d->bad || n > d->len - d->pos) {
        d->bad = true;
        return false;
    }
    return true;
}

static uint8_t r_u8(rd *d)
{
    if (!r_need(d, 1))
        return 0;
    return d->p[d->pos++];
}

static uint16_t r_u16(rd *d)
{
    if (!r_need(d, 2))
        return 0;
    uint16_t v = (uint16_t)(d->p[d->pos] | (d->p[d->pos + 1] << 8));
    d->pos += 2;
    return v;
}

static uint32_t r_u32(rd *d)
{
    if (!r_need(d, 4))
        return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)d->p[d->pos + (size_t)i] << (8 * i);
    d->pos += 4;
    return v;
}

static uint64_t r_u64(rd *d)
{
    if (!r_need(d, 8))
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)d->p[d->pos + (size_t)i] << (8 * i);
    d->pos += 8;
    return v;
}

static int32_t r_i32(rd *d) { return (int32_t)r_u32(d); }

/* Printable ASCII or well-formed UTF-8 (what pj_report_escape produces). */
static bool text_ok(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x7f) {
            i++;
            continue;
        }
        size_t l;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            l = 2;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            l = 3;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            l = 4;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (l > n - i)
            return false;
        for (size_t k = 1; k < l; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += l;
    }
    return true;
}

typedef struct dec {
    rd d;
    pj_report *r;
    char *err;
    size_t errlen;
    bool failed;
    size_t record;
} dec;

static void fail(dec *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(dec *x, const char *fmt, ...)
{
    if (x->failed)
        return;
    x->failed = true;
    if (x->errlen == 0)
        return;
    int n = snprintf(x->err, x->errlen, "record %zu: ", x->record);
    if (n < 0 || (size_t)n >= x->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Read a string into the report's storage.  *out is NULL for the NULL
 * string, which only nullable fields accept. */
static bool r_str(dec *x, const char *field, bool nullable, const char **out)
{
    *out = NULL;
    uint32_t n = r_u32(&x->d);
    if (x->d.bad) {
        fail(x, "%s: truncated", field);
        return false;
    }
    if (n == UINT32_MAX) {
        if (!nullable) {
            fail(x, "%s: missing", field);
            return false;
        }
        return true;
    }
    if (n > PJ_WIRE_MAX_STRING || !r_need(&x->d, n)) {
        fail(x, "%s: length %u out of bounds", field, n);
        return false;
    }
    const uint8_t *s = x->d.p + x->d.pos;
    if (!text_ok(s, n)) {
        fail(x, "%s: not printable text", field);
        return false;
    }
    x->d.pos += n;
    char *copy = pj_arena_alloc(&x->r->impl->strings, (size_t)n + 1);
    if (copy == NULL) {
        fail(x, "%s: report memory budget exhausted", field);
        return false;
    }
    memcpy(copy, s, n);
    copy[n] = '\0';
    *out = copy;
    return true;
}

static bool index_ok(dec *x, const char *field, int32_t v, int32_t lo, size_t n)
{
    if (v < lo || (v >= 0 && (size_t)v >= n)) {
        fail(x, "%s %d out of range (%zu known)", field, (int)v, n);
        return false;
    }
    return true;
}

static bool flag_ok(dec *x, const char *field, uint8_t v, uint8_t max)
{
    if (v > max) {
        fail(x, "%s %u invalid", field, v);
        return false;
    }
    return true;
}

static bool opcode_ok(dec *x, uint8_t op)
{
    if (pj_opcode_name(op) == NULL) {
        fail(x, "opcode 0x%02x is not a pickle opcode", op);
        return false;
    }
    return true;
}

static void dec_stream(dec *x)
{
    const char *loc;
    if (!r_str(x, "stream location", false, &loc))
        return;
    uint64_t off = r_u64(&x->d), length = r_u64(&x->d);
    int32_t proto = r_i32(&x->d);
    uint64_t ops = r_u64(&x->d);
    uint8_t complete = r_u8(&x->d);
    if (x->d.bad) {
        fail(x, "stream: truncated");
        return;
    }
    if (proto < -1 || proto > 255) {
        fail(x, "stream protocol %d invalid", (int)proto);
        return;
    }
    if (!flag_ok(x, "stream complete", complete, 1))
        return;
    int32_t i = pj_report_add_stream(x->r, loc, off);
    if (i < 0) {
        fail(x, "stream: report memory budget exhausted");
        return;
    }
    pj_stream *s = &x->r->streams[i];
    s->length = length;
    s->protocol = proto;
    s->opcodes = ops;
    s->complete = complete != 0;
}

static void dec_global(dec *x)
{
    pj_global g;
    memset(&g, 0, sizeof g);
    if (!r_str(x, "global module", false, &g.module) || !r_str(x, "global name", false, &g.name) ||
        !r_str(x, "global resolved_module", true, &g.resolved_module) ||
        !r_str(x, "global resolved_name", true, &g.resolved_name))
        return;
    g.stream = r_i32(&x->d);
    g.offset = r_u64(&x->d);
    g.opcode = r_u8(&x->d);
    uint8_t origin = r_u8(&x->d), called = r_u8(&x->d), policy = r_u8(&x->d);
    if (x->d.bad) {
        fail(x, "global: truncated");
        return;
    }
    if (!r_str(x, "global policy_rule", true, &g.policy_rule))
        return;
    if (!index_ok(x, "global stream", g.stream, 0, x->r->n_streams) || !opcode_ok(x, g.opcode) ||
        !flag_ok(x, "global origin", origin, PJ_ORIGIN_DERIVED) ||
        !flag_ok(x, "global called", called, 1) ||
        !flag_ok(x, "global policy", policy, PJ_POLICY_DANGEROUS))
        return;
    g.origin = (pj_global_origin)origin;
    g.called = called != 0;
    g.policy = (pj_global_class)policy;
    if (pj_report_add_global(x->r, &g) < 0)
        fail(x, "global: report memory budget exhausted");
}

static void dec_call(dec *x)
{
    pj_call c;
    memset(&c, 0, sizeof c);
    if (!r_str(x, "call callee", false, &c.callee) || !r_str(x, "call args", true, &c.args))
        return;
    c.stream = r_i32(&x->d);
    c.offset = r_u64(&x->d);
    c.opcode = r_u8(&x->d);
    c.callee_global = r_i32(&x->d);
    for (int k = 0; k < 4; k++)
        c.arg_globals[k] = r_i32(&x->d);
    uint8_t policy = r_u8(&x->d);
    if (x->d.bad) {
        fail(x, "call: truncated");
        return;
    }
    size_t ng = x->r->n_globals;
    if (!index_ok(x, "call stream", c.stream, 0, x->r->n_streams) || !opcode_ok(x, c.opcode) ||
        !index_ok(x, "call callee_global", c.callee_global, -1, ng) ||
        !flag_ok(x, "call policy", policy, PJ_POLICY_DANGEROUS))
        return;
    for (int k = 0; k < 4; k++)
        if (!index_ok(x, "call arg_global", c.arg_globals[k], -1, ng))
            return;
    c.policy = (pj_global_class)policy;
    if (pj_report_add_call(x->r, &c) < 0)
        fail(x, "call: report memory budget exhausted");
}

static void dec_finding(dec *x, size_t max_findings)
{
    uint32_t code = r_u32(&x->d);
    uint8_t sev = r_u8(&x->d), cls = r_u8(&x->d);
    int32_t stream = r_i32(&x->d);
    uint64_t off = r_u64(&x->d);
    const char *msg;
    if (x->d.bad) {
        fail(x, "finding: truncated");
        return;
    }
    if (!r_str(x, "finding message", false, &msg))
        return;
    /* The report builder formats messages into 512 bytes: a longer one
     * cannot come from it (and would be cut mid-character here). */
    if (strlen(msg) > PJ_WIRE_MAX_MESSAGE) {
        fail(x, "finding message longer than %d bytes", PJ_WIRE_MAX_MESSAGE);
        return;
    }
    /* PJ4xx findings describe the sandbox itself: only the parent may say
     * them, a child claiming one is lying. */
    if (code > INT32_MAX || !pj_code_valid((int)code) || (code >= 400 && code < 500)) {
        fail(x, "finding code %u invalid", code);
        return;
    }
    if (!flag_ok(x, "finding severity", sev, PJ_SEV_DANGEROUS) ||
        !flag_ok(x, "finding class", cls, PJ_CLASS_LOAD))
        return;
    if ((pj_class)cls != pj_code_class((pj_code)code)) {
        fail(x, "finding class %u does not match code %u", cls, code);
        return;
    }
    if (!index_ok(x, "finding stream", stream, -1, x->r->n_streams))
        return;
    if (x->r->n_findings >= max_findings) {
        fail(x, "more than %zu findings", max_findings);
        return;
    }
    if (!pj_report_add_finding(x->r, (pj_code)code, (pj_severity)sev, stream, off, "%s", msg))
        fail(x, "finding: report memory budget exhausted");
}

static void dec_meta(dec *x)
{
    const char *k, *v;
    if (!r_str(x, "meta key", false, &k) || !r_str(x, "meta value", false, &v))
        return;
    if (!pj_report_add_meta(x->r, k, v))
        fail(x, "meta: report memory budget exhausted");
}

static void dec_end(dec *x)
{
    uint32_t c[5];
    for (int k = 0; k < 5; k++)
        c[k] = r_u32(&x->d);
    if (x->d.bad) {
        fail(x, "end: truncated");
        return;
    }
    const pj_report *r = x->r;
    size_t have[5] = {r->n_streams, r->n_globals, r->n_calls, r->n_findings, r->n_meta};
    static const char *const names[5] = {"streams", "globals", "calls", "findings", "meta"};
    for (int k = 0; k < 5; k++)
        if (have[k] != c[k]) {
            fail(x, "end: %s count %u, but %zu were sent", names[k], c[k], have[k]);
            return;
        }
}

bool pj_wire_decode(pj_report *r, const uint8_t *data, size_t len, const pj_wire_bounds *bounds,
                    char *err, size_t errlen)
{
    dec x = {.d = {.p = data, .len = len}, .r = r, .err = err, .errlen = errlen};
    if (errlen > 0)
        err[0] = '\0';
    if (len < PJ_WIRE_HEADER_LEN) {
        snprintf(err, errlen, "report truncated: %zu bytes", len);
        return false;
    }
    if (len > bounds->max_message) {
        snprintf(err, errlen, "report of %zu bytes exceeds the %zu byte bound", len,
                 bounds->max_message);
        return false;
    }
    if (memcmp(data, "PJWR", 4) != 0) {
        snprintf(err, errlen, "report does not start with the wire magic");
        return false;
    }
    x.d.pos = 4;
    uint16_t version = r_u16(&x.d), flags = r_u16(&x.d);
    uint32_t body = r_u32(&x.d);
    if (version != PJ_WIRE_VERSION || flags != 0) {
        snprintf(err, errlen, "report version %u flags %u not supported", version, flags);
        return false;
    }
    if (body != len - PJ_WIRE_HEADER_LEN) {
        snprintf(err, errlen, "report body length %u, but %zu bytes arrived", body,
                 len - PJ_WIRE_HEADER_LEN);
        return false;
    }

    int last = 0;
    bool ended = false;
    size_t records = 0;
    while (x.d.pos < len && !x.failed) {
        x.record++;
        if (ended) {
            fail(&x, "data after the end record");
            break;
        }
        uint8_t type = r_u8(&x.d);
        uint32_t plen = r_u32(&x.d);
        if (x.d.bad || plen > len - x.d.pos) {
            fail(&x, "record header truncated or length %u out of bounds", plen);
            break;
        }
        /* Records come in type order; FORMAT, SCANNED and END once each. */
        if (type < PJ_WIRE_FORMAT || type > PJ_WIRE_END || type < last ||
            (type == last && (type == PJ_WIRE_FORMAT || type == PJ_WIRE_SCANNED))) {
            fail(&x, "record type %u unexpected after type %d", type, last);
            break;
        }
        last = type;
        if (type != PJ_WIRE_END && ++records > bounds->max_records) {
            fail(&x, "more than %zu records", bounds->max_records);
            break;
        }
        /* Each payload is decoded in its own window so it must be consumed
         * exactly. */
        rd outer = x.d;
        x.d.len = x.d.pos + plen;
        switch (type) {
        case PJ_WIRE_FORMAT: {
            const char *f;
            if (r_str(&x, "format", false, &f))
                r->format = f;
            break;
        }
        case PJ_WIRE_SCANNED: {
            uint8_t v = r_u8(&x.d);
            if (x.d.bad)
                fail(&x, "scanned: truncated");
            else if (flag_ok(&x, "scanned", v, 1))
                r->scanned = v != 0;
            break;
        }
        case PJ_WIRE_STREAM: dec_stream(&x); break;
        case PJ_WIRE_GLOBAL: dec_global(&x); break;
        case PJ_WIRE_CALL: dec_call(&x); break;
        case PJ_WIRE_FINDING: dec_finding(&x, bounds->max_findings); break;
        case PJ_WIRE_META: dec_meta(&x); break;
        case PJ_WIRE_END:
            dec_end(&x);
            ended = true;
            break;
        }
        if (!x.failed && x.d.pos != x.d.len)
            fail(&x, "type %u: %zu unread payload bytes", type, x.d.len - x.d.pos);
        outer.pos = x.d.pos;
        x.d = outer;
    }
    if (!x.failed && !ended)
        fail(&x, "report ends without its end record");
    return !x.failed;
}
