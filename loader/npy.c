/* NumPy .npy: magic, version, header length, then a Python dict literal
 * {'descr': ..., 'fortran_order': ..., 'shape': (...)}.  Object arrays
 * (any 'O' in the dtype) hold a pickle after the header, which numpy.load
 * runs with allow_pickle=True; plain arrays are raw data whose length must
 * match the header.  The literal is parsed by a tiny bounded parser (the
 * subset ast.literal_eval accepts that numpy writes). */
#include "container.h"

#include <stdio.h>
#include <string.h>

enum { MAX_HEADER = 1 << 20, MAX_DEPTH = 16 };

typedef enum lv_kind { LV_STR, LV_INT, LV_BOOL, LV_NONE, LV_TUPLE, LV_LIST, LV_DICT } lv_kind;

typedef struct lval {
    lv_kind k;
    const uint8_t *s; /* LV_STR: raw text between the quotes */
    size_t slen;
    uint64_t i;       /* LV_INT magnitude (saturating) */
    bool neg, big;
    struct lval **items; /* tuple/list items; dict: key, value, key, value ... */
    size_t n;
} lval;

typedef struct lparser {
    pj_arena *a;
    const uint8_t *p;
    size_t n, pos;
    const char *err;
} lparser;

static void ws(lparser *L)
{
    while (L->pos < L->n && (L->p[L->pos] == ' ' || L->p[L->pos] == '\t' || L->p[L->pos] == '\n' ||
                             L->p[L->pos] == '\r'))
        L->pos++;
}

static bool word(lparser *L, const char *w)
{
    size_t l = strlen(w);
    if (L->n - L->pos >= l && memcmp(L->p + L->pos, w, l) == 0) {
        L->pos += l;
        return true;
    }
    return false;
}

static lval *parse_value(lparser *L, int depth);

static lval *new_val(lparser *L, lv_kind k)
{
    lval *v = pj_arena_alloc(L->a, sizeof *v);
    if (v == NULL)
        L->err = "out of memory";
    else
        v->k = k;
    return v;
}

/* Items up to the closing bracket; dict items come as key ':' value. */
static lval *parse_seq(lparser *L, lv_kind k, uint8_t close, int depth)
{
    lval *v = new_val(L, k);
    if (v == NULL)
        return NULL;
    size_t cap = 0;
    bool comma = false;
    L->pos++;
    for (;;) {
        ws(L);
        if (L->pos >= L->n) {
            L->err = "unterminated bracket";
            return NULL;
        }
        if (L->p[L->pos] == close) {
            L->pos++;
            break;
        }
        size_t need = k == LV_DICT ? 2 : 1;
        if (v->n + need > cap) {
            size_t ncap = cap ? cap * 2 : 8;
            lval **ni = pj_arena_array(L->a, ncap, sizeof *ni);
            if (ni == NULL) {
                L->err = "out of memory";
                return NULL;
            }
            if (v->n)
                memcpy(ni, v->items, v->n * sizeof *ni);
            v->items = ni;
            cap = ncap;
        }
        lval *item = parse_value(L, depth + 1);
        if (item == NULL)
            return NULL;
        v->items[v->n++] = item;
        ws(L);
        if (k == LV_DICT) {
            if (L->pos >= L->n || L->p[L->pos] != ':') {
                L->err = "expected ':' in dict";
                return NULL;
            }
            L->pos++;
            lval *val = parse_value(L, depth + 1);
            if (val == NULL)
                return NULL;
            v->items[v->n++] = val;
            ws(L);
        }
        if (L->pos < L->n && L->p[L->pos] == ',') {
            L->pos++;
            comma = true;
            continue;
        }
        ws(L);
        if (L->pos < L->n && L->p[L->pos] == close) {
            L->pos++;
            break;
        }
        L->err = "expected ',' or closing bracket";
        return NULL;
    }
    /* "(3)" is the int 3 in Python, not a tuple. */
    if (k == LV_TUPLE && v->n == 1 && !comma)
        return v->items[0];
    return v;
}

static lval *parse_value(lparser *L, int depth)
{
    if (depth > MAX_DEPTH) {
        L->err = "nested too deeply";
        return NULL;
    }
    ws(L);
    if (L->pos >= L->n) {
        L->err = "unexpected end of header";
        return NULL;
    }
    uint8_t c = L->p[L->pos];
    if (c == '{')
        return parse_seq(L, LV_DICT, '}', depth);
    if (c == '(')
        return parse_seq(L, LV_TUPLE, ')', depth);
    if (c == '[')
        return parse_seq(L, LV_LIST, ']', depth);
    if (c == '\'' || c == '"') {
        size_t start = ++L->pos;
        while (L->pos < L->n && L->p[L->pos] != c) {
            if (L->p[L->pos] == '\\')
                L->pos++;
            L->pos++;
        }
        if (L->pos >= L->n) {
            L->err = "unterminated string";
            return NULL;
        }
        lval *v = new_val(L, LV_STR);
        if (v == NULL)
            return NULL;
        v->s = L->p + start;
        v->slen = L->pos - start;
        L->pos++;
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        lval *v = new_val(L, LV_INT);
        if (v == NULL)
            return NULL;
        if (c == '-') {
            v->neg = true;
            L->pos++;
        }
        size_t digits = 0;
        while (L->pos < L->n && L->p[L->pos] >= '0' && L->p[L->pos] <= '9') {
            unsigned dgt = (unsigned)(L->p[L->pos] - '0');
            if (v->i > (UINT64_MAX - dgt) / 10)
                v->big = true;
            else
                v->i = v->i * 10 + dgt;
            L->pos++;
            digits++;
        }
        if (digits == 0) {
            L->err = "bad number";
            return NULL;
        }
        if (L->pos < L->n && (L->p[L->pos] == 'L' || L->p[L->pos] == 'l'))
            L->pos++; /* Python 2 long, filtered by numpy */
        return v;
    }
    if (word(L, "True") || word(L, "False")) {
        lval *v = new_val(L, LV_BOOL);
        if (v)
            v->i = L->p[L->pos - 1] == 'e' && L->p[L->pos - 2] == 'u';
        return v;
    }
    if (word(L, "None"))
        return new_val(L, LV_NONE);
    L->err = "unexpected character";
    return NULL;
}

static bool str_is(const lval *v, const char *s)
{
    return v && v->k == LV_STR && v->slen == strlen(s) && memcmp(v->s, s, v->slen) == 0;
}

/* Size of one element of a dtype string like '<f8', '|O', '<U10', '<M8[ns]'.
 * Returns false when it cannot tell. */
static bool simple_itemsize(const uint8_t *s, size_t n, uint64_t *size, bool *object)
{
    size_t i = 0;
    if (i < n && (s[i] == '<' || s[i] == '>' || s[i] == '|' || s[i] == '='))
        i++;
    if (i >= n)
        return false;
    uint8_t kind = s[i++];
    uint64_t num = 0;
    bool have = false;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (num > UINT32_MAX)
            return false;
        num = num * 10 + (uint64_t)(s[i] - '0');
        have = true;
        i++;
    }
    if (i < n && s[i] != '[')
        return false;
    switch (kind) {
    case 'O':
        *object = true;
        *size = 8;
        return true;
    case '?':
        *size = 1;
        return true;
    case 'b':
    case 'i':
    case 'u':
    case 'f':
    case 'c':
    case 'S':
    case 'a':
    case 'V':
    case 'M':
    case 'm':
        if (!have)
            return false;
        *size = num;
        return true;
    case 'U':
        if (!have)
            return false;
        *size = num * 4;
        return true;
    default:
        return false;
    }
}

static bool mul_ok(uint64_t *acc, uint64_t by)
{
    if (by != 0 && *acc > UINT64_MAX / by)
        return false;
    *acc *= by;
    return true;
}

/* Structured and plain descr: itemsize, and whether any field is an object. */
static bool descr_itemsize(const lval *d, int depth, uint64_t *size, bool *object)
{
    if (depth > MAX_DEPTH || d == NULL)
        return false;
    if (d->k == LV_STR)
        return simple_itemsize(d->s, d->slen, size, object);
    if (d->k != LV_LIST)
        return false;
    uint64_t total = 0;
    bool known = true;
    for (size_t f = 0; f < d->n; f++) {
        const lval *fld = d->items[f];
        if (fld->k != LV_TUPLE || fld->n < 2)
            return false;
        uint64_t fs = 0;
        if (!descr_itemsize(fld->items[1], depth + 1, &fs, object))
            known = false;
        if (fld->n >= 3) {
            const lval *sh = fld->items[2];
            if (sh->k == LV_INT) {
                if (!mul_ok(&fs, sh->i))
                    return false;
            } else if (sh->k == LV_TUPLE) {
                for (size_t k = 0; k < sh->n; k++)
                    if (sh->items[k]->k != LV_INT || !mul_ok(&fs, sh->items[k]->i))
                        return false;
            }
        }
        if (total > UINT64_MAX - fs)
            return false;
        total += fs;
    }
    *size = total;
    return known;
}

static void shape_text(const lval *shape, char *out, size_t outlen)
{
    size_t o = 0;
    o += (size_t)snprintf(out + o, outlen - o, "(");
    for (size_t k = 0; k < shape->n && o + 24 < outlen; k++)
        o += (size_t)snprintf(out + o, outlen - o, "%s%llu%s", shape->items[k]->neg ? "-" : "",
                              (unsigned long long)shape->items[k]->i,
                              shape->n == 1 ? "," : (k + 1 < shape->n ? ", " : ""));
    snprintf(out + o, outlen - o, ")");
}

void pj_scan_npy(pj_scan_ctx *ctx, const uint8_t *d, size_t n, const char *loc)
{
    if (ctx->depth == 0)
        ctx->report->format = "npy";
    if (n < 10) {
        pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, 0, "NumPy file cut off inside its %zu-byte preamble", n);
        return;
    }
    unsigned major = d[6], minor = d[7];
    size_t hl_at = 8, hdr_start;
    uint64_t hl;
    if (major == 1) {
        hl = pj_le16(d + 8);
        hdr_start = 10;
    } else if (major == 2 || major == 3) {
        if (n < 12) {
            pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, 0, "NumPy file cut off inside its preamble");
            return;
        }
        hl = pj_le32(d + 8);
        hdr_start = 12;
    } else {
        pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, 6,
                    "NumPy format version %u.%u is unknown (numpy raises: we only support format "
                    "version (1,0), (2,0), and (3,0))",
                    major, minor);
        return;
    }
    char ver[16];
    snprintf(ver, sizeof ver, "%u.%u", major, minor);
    pj_cmeta(ctx, loc, "npy.version", ver);
    if (hl > n - hdr_start) {
        pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, hl_at,
                    "NumPy header claims %llu bytes but only %zu follow: truncated",
                    (unsigned long long)hl, n - hdr_start);
        return;
    }
    if (hl > MAX_HEADER) {
        pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, hl_at,
                    "NumPy header of %llu bytes is implausibly large; not parsed",
                    (unsigned long long)hl);
        return;
    }
    size_t data_ofs = hdr_start + (size_t)hl;
    char dofs[32];
    snprintf(dofs, sizeof dofs, "%zu", data_ofs);
    pj_cmeta(ctx, loc, "npy.data_offset", dofs);

    pj_arena a;
    pj_arena_init(&a, 4u << 20);
    lparser L = {&a, d + hdr_start, (size_t)hl, 0, NULL};
    lval *dict = parse_value(&L, 0);
    const lval *descr = NULL, *fortran = NULL, *shape = NULL;
    bool bad_keys = false;
    if (dict != NULL && dict->k == LV_DICT) {
        for (size_t k = 0; k + 1 < dict->n; k += 2) {
            const lval *key = dict->items[k], *val = dict->items[k + 1];
            if (str_is(key, "descr"))
                descr = val;
            else if (str_is(key, "fortran_order"))
                fortran = val;
            else if (str_is(key, "shape"))
                shape = val;
            else
                bad_keys = true;
        }
    }
    if (dict == NULL || dict->k != LV_DICT) {
        pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, hdr_start + L.pos,
                    "NumPy header is not a dict literal (%s at header offset %zu); numpy.load "
                    "refuses it",
                    L.err ? L.err : "not a dict", L.pos);
        pj_arena_release(&a);
        return;
    }
    if (bad_keys || descr == NULL || fortran == NULL || shape == NULL) {
        pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, hdr_start,
                    "NumPy header does not hold exactly the keys descr, fortran_order and shape "
                    "(numpy raises: Header does not contain the correct keys)");
    }
    if (descr != NULL) {
        char txt[128];
        if (descr->k == LV_STR)
            snprintf(txt, sizeof txt, "%s",
                     pj_escape_name(&a, descr->s, descr->slen > 100 ? 100 : descr->slen));
        else
            snprintf(txt, sizeof txt, "[structured, %zu fields]", descr->n);
        pj_cmeta(ctx, loc, "npy.descr", txt);
    }
    if (fortran != NULL)
        pj_cmeta(ctx, loc, "npy.fortran_order",
                 fortran->k == LV_BOOL ? (fortran->i ? "True" : "False") : "?");
    bool shape_ok = shape != NULL && shape->k == LV_TUPLE;
    for (size_t k = 0; shape_ok && k < shape->n; k++)
        if (shape->items[k]->k != LV_INT || shape->items[k]->neg || shape->items[k]->big)
            shape_ok = false;
    if (shape != NULL) {
        char st[160] = "?";
        if (shape_ok)
            shape_text(shape, st, sizeof st);
        pj_cmeta(ctx, loc, "npy.shape", st);
        if (!shape_ok)
            pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, hdr_start,
                        "NumPy header shape is not a tuple of non-negative integers");
    }

    uint64_t itemsize = 0;
    bool object = false;
    bool size_known = descr != NULL && descr_itemsize(descr, 0, &itemsize, &object);
    const uint8_t *body = d + data_ofs;
    size_t body_len = n - data_ofs;
    if (object) {
        /* numpy.load(allow_pickle=True) runs pickle.load on what follows. */
        pj_cmeta(ctx, loc, "npy.object", "True");
        pj_scan_pickles(ctx, body, body_len, loc, PJ_PICKLES_EXPECT_ONE);
    } else if (descr != NULL && !size_known) {
        pj_cfinding_sev(ctx, loc, PJ_NPY_MALFORMED, PJ_SEV_INFO, hdr_start,
                        "NumPy dtype not understood; array data length not checked");
    } else if (shape_ok && size_known) {
        uint64_t want = itemsize;
        bool ok = true;
        for (size_t k = 0; k < shape->n && ok; k++)
            ok = mul_ok(&want, shape->items[k]->i);
        if (!ok)
            pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, hdr_start,
                        "NumPy shape times item size overflows 64 bits: crafted header");
        else if (want > body_len)
            pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, data_ofs,
                        "NumPy array needs %llu bytes of data but only %zu follow the header: "
                        "truncated (numpy raises on load)",
                        (unsigned long long)want, body_len);
        else if (want < body_len)
            pj_cfinding(ctx, loc, PJ_NPY_MALFORMED, data_ofs + want,
                        "%zu bytes after the NumPy array data (offset %llu): ignored by "
                        "numpy.load, hidden data?%s",
                        body_len - (size_t)want, (unsigned long long)(data_ofs + want),
                        pj_pickle_start_plausible(body + want, body_len - (size_t)want)
                            ? " (they look like a pickle)"
                            : "");
    }
    pj_arena_release(&a);
}
