/* Unit tests for cli/jsonstr.c: UTF-8 repair (each maximal ill-formed
 * subpart becomes one U+FFFD, as Python's decode('utf-8', 'replace') does),
 * exhaustive short sequences, path_bytes and file-path URIs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

/* The helper is part of the CLI, not the library: compile it in. */
#include "../../cli/jsonstr.c"

#define R "\xEF\xBF\xBD" /* U+FFFD */

static void check_fix(const char *in, const char *want)
{
    char *got = pj_utf8_fix(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_true(pj_utf8_valid(got));
    assert_int_equal(pj_utf8_valid(in), strcmp(in, want) == 0);
    free(got);
}

static void test_fix_table(void **state)
{
    (void)state;
    /* Expected values are Python's bytes.decode('utf-8', 'replace'). */
    check_fix("", "");
    check_fix("plain ascii \x01\x1b", "plain ascii \x01\x1b");
    check_fix("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    check_fix("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");           /* U+10FFFF */
    check_fix("a\xff" "b", "a" R "b");
    check_fix("\xc0\x80", R R);                                   /* overlong NUL */
    check_fix("\xe0\x80\x80", R R R);                             /* overlong */
    check_fix("\xed\xa0\x80", R R R);                             /* surrogate */
    check_fix("\xf4\x90\x80\x80", R R R R);                       /* above U+10FFFF */
    check_fix("\xf5\x80", R R);
    check_fix("\xe2\x82", R);                                     /* truncated: one subpart */
    check_fix("\xe2\x82x", R "x");
    check_fix("\xf0\x9f\x98", R);
    check_fix("\xf0\x9f\x98" "A", R "A");
    check_fix("\x80\x80", R R);                                   /* lone continuations */
    check_fix("\xc3", R);
}

/* Every string of up to three bytes (1..255 each, no NUL): the repair is
 * valid UTF-8, valid input is unchanged, and nothing reads past the end. */
static void test_fix_exhaustive(void **state)
{
    (void)state;
    char s[4];
    for (int a = 1; a < 256; a++)
        for (int b = 0; b < 256; b++)
            for (int c = 0; c < 256; c += (b == 0 ? 256 : 1)) {
                s[0] = (char)a;
                s[1] = (char)b;
                s[2] = (char)(b ? c : 0);
                s[3] = 0;
                char *f = pj_utf8_fix(s);
                assert_non_null(f);
                assert_true(pj_utf8_valid(f));
                if (pj_utf8_valid(s))
                    assert_string_equal(f, s);
                free(f);
            }
}

static void test_path_bytes(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    pj_json_add_path(o, "path", "ok.pkl");
    pj_json_add_path(o, "other", "n\xff" "me");
    assert_null(cJSON_GetObjectItem(o, "path_bytes"));
    assert_string_equal(cJSON_GetObjectItem(o, "other")->valuestring, "n" R "me");
    assert_string_equal(cJSON_GetObjectItem(o, "other_bytes")->valuestring, "6eff6d65");
    /* A key that is not UTF-8 is repaired too. */
    pj_json_add_string(o, "k\xfe", "v");
    assert_non_null(cJSON_GetObjectItem(o, "k" R));
    cJSON_Delete(o);
}

static void check_uri(const char *path, const char *want)
{
    char *u = pj_path_uri(path);
    assert_non_null(u);
    assert_string_equal(u, want);
    free(u);
}

static void test_uri(void **state)
{
    (void)state;
    check_uri("model.pt", "model.pt");
    check_uri("./a/b c.pkl", "a/b%20c.pkl");
    check_uri(".//x", "x");
    check_uri("/tmp/x#1%.pkl", "file:///tmp/x%231%25.pkl");
    check_uri("a:b", "a%3Ab");             /* not a scheme */
    check_uri("n\xff\n.pkl", "n%FF%0A.pkl");
    check_uri("-", "-");
    check_uri("~u/_x-1.2", "~u/_x-1.2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fix_table),
        cmocka_unit_test(test_fix_exhaustive),
        cmocka_unit_test(test_path_bytes),
        cmocka_unit_test(test_uri),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
