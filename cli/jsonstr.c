/* UTF-8 repair and URI encoding for report strings (see jsonstr.h). */
#include "jsonstr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed sequence at s (1-4), or 0 when ill-formed; then
 * *bad is how many bytes form the maximal subpart to replace by one U+FFFD.
 * Ranges from the Unicode standard, table 3-7. */
size_t pj_utf8_seq(const char *str, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char b = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        if (b == 0xE0)
            lo = 0xA0; /* no overlongs */
        else if (b == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *bad = 1;
        return 0;
    }
    /* The string is NUL-terminated and NUL is not a continuation byte, so
     * these reads stop at the terminator at the latest. */
    for (size_t k = 1; k <= need; k++) {
        unsigned char c = s[k];
        if (c < lo || c > hi) {
            *bad = k;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

bool pj_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t bad = 0, n = pj_utf8_seq((const char *)p, &bad);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

char *pj_utf8_fix(const char *s)
{
    size_t len = strlen(s);
    /* Each input byte becomes at most 3 output bytes (U+FFFD). */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (*p) {
        size_t bad = 0, n = pj_utf8_seq((const char *)p, &bad);
        if (n > 0) {
            memcpy(out + o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            p += bad;
        }
    }
    out[o] = '\0';
    return out;
}

cJSON *pj_json_string(const char *s)
{
    if (s == NULL)
        s = "";
    if (pj_utf8_valid(s))
        return cJSON_CreateString(s);
    char *fixed = pj_utf8_fix(s);
    if (fixed == NULL)
        return NULL;
    cJSON *j = cJSON_CreateString(fixed);
    free(fixed);
    return j;
}

cJSON *pj_json_add_string(cJSON *obj, const char *key, const char *s)
{
    cJSON *v = pj_json_string(s);
    if (v == NULL)
        return NULL;
    char *fixed_key = NULL;
    if (!pj_utf8_valid(key)) {
        fixed_key = pj_utf8_fix(key);
        if (fixed_key == NULL) {
            cJSON_Delete(v);
            return NULL;
        }
        key = fixed_key;
    }
    bool ok = cJSON_AddItemToObject(obj, key, v);
    free(fixed_key);
    if (!ok) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

void pj_json_add_path(cJSON *obj, const char *key, const char *path)
{
    pj_json_add_string(obj, key, path);
    if (path == NULL || pj_utf8_valid(path))
        return;
    size_t len = strlen(path);
    if (len > (SIZE_MAX - 1) / 2)
        return;
    char *hex = malloc(len * 2 + 1);
    char name[64];
    if (hex == NULL || strlen(key) + sizeof "_bytes" > sizeof name) {
        free(hex);
        return;
    }
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[(unsigned char)path[i] >> 4];
        hex[2 * i + 1] = digits[(unsigned char)path[i] & 15];
    }
    hex[len * 2] = '\0';
    strcpy(name, key);
    strcat(name, "_bytes");
    cJSON_AddStringToObject(obj, name, hex);
    free(hex);
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

char *pj_path_uri(const char *path)
{
    bool absolute = path[0] == '/';
    if (!absolute)
        while (path[0] == '.' && path[1] == '/') {
            path += 2;
            while (*path == '/')
                path++;
        }
    size_t len = strlen(path);
    if (len > (SIZE_MAX - 8) / 3)
        return NULL;
    char *out = malloc(len * 3 + 8);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    if (absolute) {
        memcpy(out, "file://", 7);
        o = 7;
    }
    static const char digits[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (unreserved(*p) || *p == '/') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = digits[*p >> 4];
            out[o++] = digits[*p & 15];
        }
    }
    out[o] = '\0';
    return out;
}
