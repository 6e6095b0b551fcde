/* Strings for JSON and SARIF.  cJSON copies a string's bytes as they are, so a
 * file name that is not UTF-8, or a module name or argument taken from a
 * hostile pickle, would make the whole document invalid.  Every string put
 * into a report goes through these helpers (docs/report-schema.md). */
#ifndef PJ_CLI_JSONSTR_H
#define PJ_CLI_JSONSTR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Length (1-4) of the well-formed UTF-8 sequence at s, or 0 when it is
 * ill-formed; then *bad is the length of the maximal subpart (>= 1). */
size_t pj_utf8_seq(const char *s, size_t *bad);

/* True when s (NUL-terminated) is well-formed UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF). */
bool pj_utf8_valid(const char *s);

/* A malloc'd copy of s in which every ill-formed sequence (each maximal
 * subpart, as Unicode recommends and Python's 'replace' does) becomes
 * U+FFFD.  NULL when out of memory. */
char *pj_utf8_fix(const char *s);

/* cJSON_AddStringToObject / cJSON_CreateString on the repaired text.  A NULL
 * s is added as "". */
cJSON *pj_json_add_string(cJSON *obj, const char *key, const char *s);
cJSON *pj_json_string(const char *s);

/* Adds key: the path as text, and when the path is not UTF-8 also
 * key_bytes: its exact bytes in lower-case hex. */
void pj_json_add_path(cJSON *obj, const char *key, const char *path);

/* A malloc'd RFC 3986 URI reference for a file path: an absolute path
 * becomes file:///..., a relative one stays relative (leading "./" dropped);
 * every byte outside the unreserved set and '/' is %-encoded, so spaces,
 * '#', '%', control bytes and non-UTF-8 bytes are all kept exactly.
 * NULL when out of memory. */
char *pj_path_uri(const char *path);

#endif
