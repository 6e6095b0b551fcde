#include "value.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct out {
    char *buf;
    size_t cap, len;
    int full;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->full)
        return;
    /* Keep 4 bytes for "..." and the NUL. */
    if (o->len + n + 4 > o->cap) {
        size_t room = o->cap > o->len + 4 ? o->cap - o->len - 4 : 0;
        memcpy(o->buf + o->len, s, room);
        o->len += room;
        memcpy(o->buf + o->len, "...", 3);
        o->len += 3;
        o->full = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static size_t utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (c == 0xE0 && s[1] < 0xA0)
        return 0;
    if (c == 0xF0 && s[1] < 0x90)
        return 0;
    if (c == 0xF4 && s[1] > 0x8F)
        return 0;
    return len;
}

static void put_quoted(out *o, const uint8_t *s, size_t n, size_t excerpt, int is_bytes,
                       uint64_t total)
{
    if (is_bytes)
        put(o, "b", 1);
    put(o, "'", 1);
    size_t lim = n < excerpt ? n : excerpt;
    char tmp[8];
    for (size_t i = 0; i < lim && !o->full;) {
        uint8_t c = s[i];
        if (c == '\'' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            put(o, tmp, 2);
            i++;
        } else if (c >= 0x20 && c < 0x7f) {
            put(o, (const char *)&c, 1);
            i++;
        } else if (c == '\n') {
            put(o, "\\n", 2);
            i++;
        } else if (!is_bytes && c >= 0x80 && utf8_len(s + i, lim - i) > 0) {
            size_t l = utf8_len(s + i, lim - i);
            put(o, (const char *)s + i, l);
            i += l;
        } else {
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
            put(o, tmp, 4);
            i++;
        }
    }
    put(o, "'", 1);
    if (total > lim) {
        char more[48];
        snprintf(more, sizeof more, "...(%" PRIu64 " bytes)", total);
        puts_(o, more);
    }
}

static void render(out *o, const pj_val *v, size_t excerpt, int depth);

static void render_items(out *o, const pj_seq *s, size_t excerpt, int depth, int dict)
{
    if (s == NULL) {
        put(o, "...", 3); /* contents not kept (retention budget) */
        return;
    }
    uint32_t step = dict ? 2 : 1;
    for (uint32_t i = 0; i + step <= s->kept && !o->full; i += step) {
        if (i > 0)
            put(o, ", ", 2);
        render(o, &s->items[i], excerpt, depth + 1);
        if (dict) {
            put(o, ": ", 2);
            render(o, &s->items[i + 1], excerpt, depth + 1);
        }
    }
    uint64_t shown = s->kept / step;
    if (s->count > shown) {
        char more[48];
        snprintf(more, sizeof more, "%s...(%" PRIu64 " items)", shown ? ", " : "", s->count);
        puts_(o, more);
    }
}

static void render_call(out *o, const pj_callnode *c, size_t excerpt, int depth)
{
    render(o, &c->callee, excerpt, depth + 1);
    put(o, "(", 1);
    int any = 0;
    if (c->args.kind == V_TUPLE) {
        render_items(o, c->args.u.seq, excerpt, depth, 0);
        any = c->args.u.seq != NULL && c->args.u.seq->count > 0;
    } else if (c->args.kind != V_NONE && c->args.kind != V_EMPTY) {
        put(o, "*", 1);
        render(o, &c->args, excerpt, depth + 1);
        any = 1;
    }
    if (c->kwargs.kind == V_DICT && c->kwargs.u.seq != NULL) {
        const pj_seq *kw = c->kwargs.u.seq;
        for (uint32_t i = 0; i + 2 <= kw->kept && !o->full; i += 2) {
            if (any)
                put(o, ", ", 2);
            any = 1;
            if (kw->items[i].kind == V_STR)
                put(o, (const char *)kw->items[i].u.s, kw->items[i].len);
            else
                render(o, &kw->items[i], excerpt, depth + 1);
            put(o, "=", 1);
            render(o, &kw->items[i + 1], excerpt, depth + 1);
        }
    } else if (c->kwargs.kind != V_NONE && c->kwargs.kind != V_EMPTY) {
        if (any)
            put(o, ", ", 2);
        put(o, "**", 2);
        render(o, &c->kwargs, excerpt, depth + 1);
    }
    put(o, ")", 1);
}

static void render(out *o, const pj_val *v, size_t excerpt, int depth)
{
    char tmp[64];
    if (depth > 8) {
        put(o, "...", 3);
        return;
    }
    switch ((pj_vkind)v->kind) {
    case V_EMPTY: puts_(o, "?"); break;
    case V_NONE: puts_(o, "None"); break;
    case V_BOOL: puts_(o, v->u.i ? "True" : "False"); break;
    case V_INT:
        snprintf(tmp, sizeof tmp, "%" PRId64, v->u.i);
        puts_(o, tmp);
        break;
    case V_BIGINT:
        if (v->flags & VF_BINARY) {
            snprintf(tmp, sizeof tmp, "<int of %" PRIu32 " bytes>", v->len);
            puts_(o, tmp);
        } else {
            /* The literal's text as written: keep only what a number can hold
             * (the line may carry whitespace or control bytes around it). */
            size_t shown = 0;
            for (uint32_t i = 0; i < v->len && shown < 40; i++) {
                char ch = (char)v->u.s[i];
                if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    ch == '-' || ch == '+' || ch == '_') {
                    put(o, &ch, 1);
                    shown++;
                }
            }
            if (v->len > 40)
                puts_(o, "...");
        }
        break;
    case V_FLOAT:
        snprintf(tmp, sizeof tmp, "%.17g", v->u.f);
        puts_(o, tmp);
        break;
    case V_STR:
    case V_BYTES:
    case V_BYTEARRAY:
        if (v->kind == V_BYTEARRAY)
            puts_(o, "bytearray(");
        put_quoted(o, v->u.s, v->len, excerpt, v->kind != V_STR,
                   (v->flags & VF_LONGLEN) ? UINT64_MAX : v->len);
        if (v->kind == V_BYTEARRAY)
            puts_(o, ")");
        break;
    case V_TUPLE:
        put(o, "(", 1);
        render_items(o, v->u.seq, excerpt, depth, 0);
        if (v->u.seq && v->u.seq->count == 1)
            put(o, ",", 1);
        put(o, ")", 1);
        break;
    case V_LIST:
        put(o, "[", 1);
        render_items(o, v->u.seq, excerpt, depth, 0);
        put(o, "]", 1);
        break;
    case V_DICT:
        put(o, "{", 1);
        render_items(o, v->u.seq, excerpt, depth, 1);
        put(o, "}", 1);
        break;
    case V_SET:
        if (v->u.seq != NULL && v->u.seq->count == 0) {
            puts_(o, "set()");
            break;
        }
        put(o, "{", 1);
        render_items(o, v->u.seq, excerpt, depth, 0);
        put(o, "}", 1);
        break;
    case V_FROZENSET:
        puts_(o, "frozenset({");
        render_items(o, v->u.seq, excerpt, depth, 0);
        puts_(o, "})");
        break;
    case V_GLOBAL:
        puts_(o, v->u.g->module);
        put(o, ".", 1);
        puts_(o, v->u.g->name);
        break;
    case V_MODULE:
        puts_(o, v->u.g->module);
        break;
    case V_CALL: render_call(o, v->u.call, excerpt, depth); break;
    case V_PERSID:
        puts_(o, "persistent_load(");
        render(o, &v->u.call->args, excerpt, depth + 1);
        puts_(o, ")");
        break;
    case V_BUFFER: puts_(o, "<out-of-band buffer>"); break;
    case V_ARRAY: puts_(o, "<joblib array>"); break;
    }
}

/* Buffers too small to hold "..." and a NUL get an empty string. */
static bool usable(char *buf, size_t cap)
{
    if (cap >= 8)
        return true;
    if (cap)
        buf[0] = '\0';
    return false;
}

size_t pj_render(const pj_val *v, char *buf, size_t cap, size_t excerpt)
{
    out o = {buf, cap, 0, 0};
    if (!usable(buf, cap))
        return 0;
    render(&o, v, excerpt, 0);
    o.buf[o.len] = '\0';
    return o.len;
}

size_t pj_render_call(const pj_callnode *c, char *buf, size_t cap, size_t excerpt)
{
    out o = {buf, cap, 0, 0};
    if (!usable(buf, cap))
        return 0;
    render_call(&o, c, excerpt, 0);
    o.buf[o.len] = '\0';
    return o.len;
}

size_t pj_render_args(const pj_val *args, const pj_val *kwargs, char *buf, size_t cap,
                      size_t excerpt)
{
    pj_callnode c;
    memset(&c, 0, sizeof c);
    c.args = *args;
    c.kwargs = *kwargs;
    out o = {buf, cap, 0, 0};
    if (!usable(buf, cap))
        return 0;
    /* render_call without a callee: */
    put(&o, "(", 1);
    int any = 0;
    if (c.args.kind == V_TUPLE) {
        render_items(&o, c.args.u.seq, excerpt, 0, 0);
        any = c.args.u.seq != NULL && c.args.u.seq->count > 0;
        if (c.args.u.seq && c.args.u.seq->count == 1 && c.kwargs.kind == V_NONE)
            put(&o, ",", 1);
    } else if (c.args.kind != V_NONE) {
        render(&o, &c.args, excerpt, 1);
        any = 1;
    }
    if (c.kwargs.kind != V_NONE) {
        if (any)
            put(&o, ", ", 2);
        put(&o, "**", 2);
        render(&o, &c.kwargs, excerpt, 1);
    }
    put(&o, ")", 1);
    o.buf[o.len] = '\0';
    return o.len;
}

int pj_val_str_eq(const pj_val *v, const char *s)
{
    size_t n = strlen(s);
    return v->kind == V_STR && !(v->flags & VF_LONGLEN) && v->len == n &&
           memcmp(v->u.s, s, n) == 0;
}
