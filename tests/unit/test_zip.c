/* Unit tests for the zip reader (loader/zip.c): end record search, zip64,
 * the central/local views, gaps, and the replay of miniz's case-insensitive
 * heap-sorted lookup against CPython's last-name-wins lookup.  Zips are
 * built byte by byte here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "container.h"
#include "report.h"
#include "zip.h"

typedef struct zb {
    uint8_t d[8192];
    size_t n;
    uint8_t cd[4096];
    size_t cdn;
    unsigned count;
} zb;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

/* Add a stored member; local_name may differ from the central name. */
static void add(zb *z, const char *name, const char *local_name, const void *data, size_t len,
                uint16_t flags)
{
    size_t ln = strlen(local_name), cn = strlen(name);
    uint32_t ofs = (uint32_t)z->n;
    uint8_t *p = z->d + z->n;
    memset(p, 0, 30);
    put32(p, 0x04034b50);
    put16(p + 4, 20);
    put16(p + 6, flags);
    put32(p + 18, (uint32_t)len);
    put32(p + 22, (uint32_t)len);
    put16(p + 26, (uint16_t)ln);
    memcpy(p + 30, local_name, ln);
    memcpy(p + 30 + ln, data, len);
    z->n += 30 + ln + len;
    uint8_t *c = z->cd + z->cdn;
    memset(c, 0, 46);
    put32(c, 0x02014b50);
    put16(c + 4, 20);
    put16(c + 6, 20);
    put16(c + 8, flags);
    put32(c + 20, (uint32_t)len);
    put32(c + 24, (uint32_t)len);
    put16(c + 28, (uint16_t)cn);
    put32(c + 42, ofs);
    memcpy(c + 46, name, cn);
    z->cdn += 46 + cn;
    z->count++;
}

static void finish(zb *z)
{
    uint32_t cd_ofs = (uint32_t)z->n;
    memcpy(z->d + z->n, z->cd, z->cdn);
    z->n += z->cdn;
    uint8_t *e = z->d + z->n;
    memset(e, 0, 22);
    put32(e, 0x06054b50);
    put16(e + 8, (uint16_t)z->count);
    put16(e + 10, (uint16_t)z->count);
    put32(e + 12, (uint32_t)z->cdn);
    put32(e + 16, cd_ofs);
    z->n += 22;
}

typedef struct fixture {
    pj_options o;
    pj_report *r;
    pj_scan_ctx ctx;
    pj_arena a;
} fixture;

static void fx_init(fixture *f)
{
    pj_options_default(&f->o);
    f->r = pj_report_new(1u << 24, 1000);
    assert_non_null(f->r);
    f->ctx = (pj_scan_ctx){.report = f->r, .limits = &f->o.limits};
    pj_arena_init(&f->a, 4u << 20);
}

static void fx_free(fixture *f)
{
    pj_arena_release(&f->a);
    pj_report_free(f->r);
}

static bool has(const pj_report *r, pj_code c) { return pj_report_has_code(r, c); }

static void test_basic_parse(void **state)
{
    (void)state;
    zb z = {0};
    add(&z, "archive/data.pkl", "archive/data.pkl", "\x80\x02N.", 4, 0);
    add(&z, "archive/version", "archive/version", "3\n", 2, 0);
    finish(&z);
    fixture f;
    fx_init(&f);
    pj_zip zip;
    assert_true(pj_zip_parse(&f.ctx, &f.a, z.d, z.n, "", &zip));
    assert_int_equal(zip.n_cd, 2);
    assert_int_equal(zip.n, 2);
    assert_true(zip.e[0].local_ok);
    assert_int_equal(zip.e[0].data_ofs, 30 + 16);
    assert_int_equal(zip.e[1].local_ofs, 30 + 16 + 4);
    assert_int_equal(f.r->n_findings, 0);
    assert_int_equal(pj_zip_cpython_locate(&zip, (const uint8_t *)"archive/version", 15), 1);
    assert_int_equal(pj_zip_miniz_locate(&zip, "ARCHIVE/VERSION"), 1);
    assert_int_equal(pj_zip_miniz_locate(&zip, "archive/nothing"), -1);
    fx_free(&f);
}

static void test_duplicates_and_lookups(void **state)
{
    (void)state;
    zb z = {0};
    add(&z, "archive/data.pkl", "archive/data.pkl", "AAAA", 4, 0);
    add(&z, "archive/version", "archive/version", "3\n", 2, 0);
    add(&z, "archive/data.pkl", "archive/data.pkl", "BBBB", 4, 0);
    finish(&z);
    fixture f;
    fx_init(&f);
    pj_zip zip;
    assert_true(pj_zip_parse(&f.ctx, &f.a, z.d, z.n, "", &zip));
    /* CPython: last one wins. */
    assert_int_equal(pj_zip_cpython_locate(&zip, (const uint8_t *)"archive/data.pkl", 16), 2);
    /* miniz: whatever its heap sort + binary search land on; one of the two. */
    long m = pj_zip_miniz_locate(&zip, "archive/data.pkl");
    assert_true(m == 0 || m == 2);
    fx_free(&f);
}

static void test_local_name_and_flags(void **state)
{
    (void)state;
    zb z = {0};
    add(&z, "archive/data.pkl", "archive/datap.kl", "\x80\x02N.", 4, 0x1);
    finish(&z);
    fixture f;
    fx_init(&f);
    pj_zip zip;
    assert_true(pj_zip_parse(&f.ctx, &f.a, z.d, z.n, "", &zip));
    assert_true(has(f.r, PJ_ZIP_CD_LOCAL_MISMATCH));
    assert_true(has(f.r, PJ_ZIP_FLAGS));
    assert_memory_equal(zip.e[0].lname, "archive/datap.kl", 16);
    fx_free(&f);
}

static void test_truncated_walks_local_headers(void **state)
{
    (void)state;
    zb z = {0};
    add(&z, "a/x.pkl", "a/x.pkl", "\x80\x02N.", 4, 0);
    add(&z, "a/y.pkl", "a/y.pkl", "\x80\x02K\x01.", 5, 0);
    /* no finish(): no central directory, no end record */
    fixture f;
    fx_init(&f);
    pj_zip zip;
    assert_true(pj_zip_parse(&f.ctx, &f.a, z.d, z.n, "", &zip));
    assert_false(zip.have_eocd);
    assert_true(has(f.r, PJ_ZIP_TRUNCATED));
    assert_int_equal(zip.n, 2);
    assert_false(zip.e[1].in_cd);
    assert_int_equal(zip.e[1].csize, 5);
    fx_free(&f);
}

static void test_prepended_and_appended(void **state)
{
    (void)state;
    zb z = {0};
    add(&z, "a/x.pkl", "a/x.pkl", "\x80\x02N.", 4, 0);
    finish(&z);
    uint8_t buf[9000];
    memcpy(buf, "JUNKJUNK", 8);
    memcpy(buf + 8, z.d, z.n);
    memcpy(buf + 8 + z.n, "TAIL", 4);
    fixture f;
    fx_init(&f);
    pj_zip zip;
    assert_true(pj_zip_parse(&f.ctx, &f.a, buf, z.n + 12, "", &zip));
    assert_int_equal(zip.concat, 8);        /* CPython's shift */
    assert_int_equal(zip.e[0].local_ofs, 8);
    assert_true(has(f.r, PJ_ZIP_PREPENDED_DATA));
    assert_true(has(f.r, PJ_ZIP_APPENDED_DATA));
    assert_true(pj_zip_has_directory(buf, z.n + 12));
    fx_free(&f);
}

static void test_zip64_end_record(void **state)
{
    (void)state;
    zb z = {0};
    add(&z, "a/x.pkl", "a/x.pkl", "\x80\x02N.", 4, 0);
    uint32_t cd_ofs = (uint32_t)z.n;
    memcpy(z.d + z.n, z.cd, z.cdn);
    z.n += z.cdn;
    uint8_t *r = z.d + z.n; /* zip64 end record */
    memset(r, 0, 56);
    put32(r, 0x06064b50);
    put32(r + 4, 44);
    put32(r + 24, 1); /* entries on disk */
    put32(r + 32, 1); /* entries */
    put32(r + 40, (uint32_t)z.cdn);
    put32(r + 48, cd_ofs);
    uint32_t rec_ofs = (uint32_t)z.n;
    z.n += 56;
    uint8_t *l = z.d + z.n; /* locator */
    memset(l, 0, 20);
    put32(l, 0x07064b50);
    put32(l + 8, rec_ofs);
    put32(l + 16, 1);
    z.n += 20;
    uint8_t *e = z.d + z.n;
    memset(e, 0, 22);
    put32(e, 0x06054b50);
    put16(e + 8, 0xffff);
    put16(e + 10, 0xffff);
    put32(e + 12, 0xffffffff);
    put32(e + 16, 0xffffffff);
    z.n += 22;
    fixture f;
    fx_init(&f);
    pj_zip zip;
    assert_true(pj_zip_parse(&f.ctx, &f.a, z.d, z.n, "", &zip));
    assert_true(zip.zip64);
    assert_int_equal(zip.n_cd, 1);
    assert_int_equal(zip.concat, 0);
    assert_false(has(f.r, PJ_ZIP_MALFORMED));
    assert_false(has(f.r, PJ_ZIP_PREPENDED_DATA));
    fx_free(&f);
}

static void test_garbage_never_crashes(void **state)
{
    (void)state;
    uint8_t buf[512];
    uint32_t x = 12345;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        memcpy(buf, "PK\x03\x04", 4);
        memcpy(buf + sizeof buf - 22, "PK\x05\x06", 4);
        fixture f;
        fx_init(&f);
        pj_zip zip;
        pj_zip_parse(&f.ctx, &f.a, buf, sizeof buf, "", &zip);
        pj_zip_miniz_locate(&zip, "archive/data.pkl");
        fx_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_parse),
        cmocka_unit_test(test_duplicates_and_lookups),
        cmocka_unit_test(test_local_name_and_flags),
        cmocka_unit_test(test_truncated_walks_local_headers),
        cmocka_unit_test(test_prepended_and_appended),
        cmocka_unit_test(test_zip64_end_record),
        cmocka_unit_test(test_garbage_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
