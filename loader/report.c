#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pj_report *pj_report_new(size_t budget, size_t max_findings)
{
    pj_report *r = calloc(1, sizeof *r);
    struct pj_report_impl *impl = calloc(1, sizeof *impl);
    if (r == NULL || impl == NULL) {
        free(r);
        free(impl);
        return NULL;
    }
    pj_arena_init(&impl->strings, budget);
    impl->max_findings = max_findings ? max_findings : 1;
    r->impl = impl;
    r->format = "unknown";
    r->scanned = true;
    r->verdict = PJ_VERDICT_SAFE;
    return r;
}

void pj_report_free(pj_report *r)
{
    if (r == NULL)
        return;
    if (r->impl != NULL) {
        pj_arena_release(&r->impl->strings);
        free(r->impl);
    }
    free(r);
}

const char *pj_report_strdup(pj_report *r, const char *s)
{
    if (s == NULL)
        return NULL;
    return pj_arena_strndup(&r->impl->strings, s, strlen(s));
}

/* Grow an arena-held array to hold one more element. */
static bool grow(pj_arena *a, void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *fresh = pj_arena_array(a, ncap, elem);
    if (fresh == NULL)
        return false;
    if (n > 0)
        memcpy(fresh, *arr, n * elem);
    *arr = fresh;
    *cap = ncap;
    return true;
}

static size_t utf8_seq_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    return len;
}

const char *pj_report_escape(pj_report *r, const uint8_t *s, size_t n, bool keep_utf8)
{
    if (n > SIZE_MAX / 4 - 1)
        return NULL;
    char *out = pj_arena_alloc(&r->impl->strings, n * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
            i++;
            continue;
        }
        if (c == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
            i++;
            continue;
        }
        size_t l = keep_utf8 && c >= 0x80 ? utf8_seq_len(s + i, n - i) : 0;
        if (l > 0) {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
            continue;
        }
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
        i++;
    }
    out[o] = '\0';
    return out;
}

int32_t pj_report_add_stream(pj_report *r, const char *location, uint64_t offset)
{
    struct pj_report_impl *im = r->impl;
    if (r->n_streams >= INT32_MAX ||
        !grow(&im->strings, (void **)&r->streams, &im->cap_streams, r->n_streams, sizeof(pj_stream)))
        return -1;
    pj_stream *s = &r->streams[r->n_streams];
    memset(s, 0, sizeof *s);
    s->location = pj_report_strdup(r, location ? location : "");
    if (s->location == NULL)
        return -1;
    s->offset = offset;
    s->protocol = -1;
    return (int32_t)r->n_streams++;
}

int32_t pj_report_add_global(pj_report *r, const pj_global *g)
{
    struct pj_report_impl *im = r->impl;
    if (r->n_globals >= INT32_MAX ||
        !grow(&im->strings, (void **)&r->globals, &im->cap_globals, r->n_globals, sizeof(pj_global)))
        return -1;
    r->globals[r->n_globals] = *g;
    return (int32_t)r->n_globals++;
}

int32_t pj_report_add_call(pj_report *r, const pj_call *c)
{
    struct pj_report_impl *im = r->impl;
    if (r->n_calls >= INT32_MAX ||
        !grow(&im->strings, (void **)&r->calls, &im->cap_calls, r->n_calls, sizeof(pj_call)))
        return -1;
    r->calls[r->n_calls] = *c;
    return (int32_t)r->n_calls++;
}

bool pj_report_add_meta(pj_report *r, const char *key, const char *value)
{
    struct pj_report_impl *im = r->impl;
    size_t cap = im->cap_meta;
    if (!grow(&im->strings, (void **)&r->meta_keys, &cap, r->n_meta, sizeof(char *)))
        return false;
    size_t cap2 = im->cap_meta;
    if (!grow(&im->strings, (void **)&r->meta_values, &cap2, r->n_meta, sizeof(char *)))
        return false;
    im->cap_meta = cap;
    const char *k = pj_report_strdup(r, key), *v = pj_report_strdup(r, value);
    if (k == NULL || v == NULL)
        return false;
    r->meta_keys[r->n_meta] = k;
    r->meta_values[r->n_meta] = v;
    r->n_meta++;
    return true;
}

const char *pj_report_get_meta(const pj_report *r, const char *key)
{
    for (size_t i = 0; i < r->n_meta; i++)
        if (strcmp(r->meta_keys[i], key) == 0)
            return r->meta_values[i];
    return NULL;
}

bool pj_report_vfinding(pj_report *r, pj_code code, pj_severity sev, int32_t stream,
                        uint64_t offset, const char *fmt, va_list ap)
{
    struct pj_report_impl *im = r->impl;
    /* Load-failure diagnosis runs last and has a few slots of its own, so a
     * file whose security findings fill the cap is still diagnosed. */
    size_t cap = im->max_findings;
    if (pj_code_class(code) == PJ_CLASS_LOAD)
        cap += PJ_LOAD_FINDINGS_RESERVE;
    if (r->n_findings >= cap) {
        im->findings_overflowed = true;
        /* Never lose severity: keep the worst one by upgrading the last slot. */
        if (r->n_findings > 0 && sev > r->findings[r->n_findings - 1].severity)
            r->findings[r->n_findings - 1].severity = sev;
        return false;
    }
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (!grow(&im->strings, (void **)&r->findings, &im->cap_findings, r->n_findings,
              sizeof(pj_finding)))
        return false;
    pj_finding *f = &r->findings[r->n_findings];
    f->code = code;
    f->severity = sev;
    f->cls = pj_code_class(code);
    f->stream = stream;
    f->offset = offset;
    /* Arguments were escaped when recorded; only neutralise control bytes. */
    for (char *q = buf; *q != '\0'; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
    f->message = pj_report_strdup(r, buf);
    if (f->message == NULL)
        return false;
    r->n_findings++;
    return true;
}

bool pj_report_add_finding(pj_report *r, pj_code code, pj_severity sev, int32_t stream,
                           uint64_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool ok = pj_report_vfinding(r, code, sev, stream, offset, fmt, ap);
    va_end(ap);
    return ok;
}

bool pj_report_finding(pj_report *r, pj_code code, int32_t stream, uint64_t offset,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool ok = pj_report_vfinding(r, code, pj_code_severity(code), stream, offset, fmt, ap);
    va_end(ap);
    return ok;
}

bool pj_report_has_code(const pj_report *r, pj_code code)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].code == code)
            return true;
    return false;
}
