/* Unit tests for format detection and the container helpers
 * (loader/sniff.c, container.c, decompress.c, npy.c, torch_legacy.c):
 * magic numbers, location joins, the decompression budget, .npy headers and
 * legacy torch layouts, through the real scan entry point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "container.h"
#include "report.h"

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void test_sniff_table(void **state)
{
    (void)state;
    assert_int_equal(pj_sniff(S("")), PJ_FMT_EMPTY);
    assert_int_equal(pj_sniff(S("PK\x03\x04rest")), PJ_FMT_ZIP);
    assert_int_equal(pj_sniff(S("\x1f\x8b\x08\x00")), PJ_FMT_GZIP);
    assert_int_equal(pj_sniff(S("BZh91AY")), PJ_FMT_BZ2);
    assert_int_equal(pj_sniff(S("\xfd" "7zXZ\x00\x00")), PJ_FMT_XZ);
    assert_int_equal(pj_sniff(S("\x28\xb5\x2f\xfd\x00")), PJ_FMT_ZSTD);
    assert_int_equal(pj_sniff(S("\x78\x9c\x01\x02")), PJ_FMT_ZLIB);
    assert_int_equal(pj_sniff(S("\x04\x22\x4d\x18")), PJ_FMT_LZ4);
    assert_int_equal(pj_sniff(S("7z\xbc\xaf\x27\x1c\x00\x04")), PJ_FMT_7Z);
    assert_int_equal(pj_sniff(S("\x93NUMPY\x01\x00")), PJ_FMT_NPY);
    assert_int_equal(pj_sniff(S("ZF0x1f               ")), PJ_FMT_ZFILE);
    assert_int_equal(pj_sniff(S("GGUF\x03\x00\x00\x00")), PJ_FMT_GGUF);
    assert_int_equal(pj_sniff(S("version https://git-lfs.github.com/spec/v1\n")), PJ_FMT_LFS);
    assert_int_equal(pj_sniff(S("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.")),
                     PJ_FMT_TORCH_LEGACY);
    assert_int_equal(pj_sniff(S("  <!DOCTYPE html>")), PJ_FMT_HTML);
    assert_int_equal(pj_sniff(S("{\"error\": 1}")), PJ_FMT_JSON);
    assert_int_equal(pj_sniff(S("\x02\x00\x00\x00\x00\x00\x00\x00{}")), PJ_FMT_SAFETENSORS);
    assert_int_equal(pj_sniff(S("\x80\x04\x95\x00")), PJ_FMT_PICKLE);
    assert_int_equal(pj_sniff(S("cos\nsystem\n(S'id'\ntR.")), PJ_FMT_PICKLE);
    /* A protocol-0 pickle starting with MARK must not be mistaken for zlib. */
    assert_int_equal(pj_sniff(S("(lp0\nI1\na.")), PJ_FMT_PICKLE);
    assert_int_equal(pj_sniff(S("\x07\x07\x07")), PJ_FMT_UNKNOWN);
    assert_true(pj_fmt_is_container(PJ_FMT_TAR));
    assert_false(pj_fmt_is_container(PJ_FMT_PICKLE));
    assert_string_equal(pj_fmt_name(PJ_FMT_TORCH_LEGACY), "torch-legacy");
}

static void test_locations(void **state)
{
    (void)state;
    pj_arena a;
    pj_arena_init(&a, 1u << 20);
    assert_string_equal(pj_loc_join(&a, "", "archive/data.pkl"), "archive/data.pkl");
    assert_string_equal(pj_loc_join(&a, "outer.tar", "m.pkl"), "outer.tar>m.pkl");
    assert_string_equal(pj_loc_join(&a, "gzip:", "archive/data.pkl"), "gzip:archive/data.pkl");
    assert_string_equal(pj_loc_join(&a, "x.tar>y.gz", "gzip:"), "x.tar>y.gz>gzip:");
    assert_string_equal(pj_loc_joinn(&a, "", (const uint8_t *)"a>b\n\xff", 5), "a\\x3eb\\x0a\\xff");
    assert_true(pj_name_has_suffix((const uint8_t *)"archive/DATA.PKL", 16, ".pkl"));
    assert_false(pj_name_has_suffix((const uint8_t *)"pkl", 3, ".pkl"));
    pj_arena_release(&a);
}

static void test_decompress_budget(void **state)
{
    (void)state;
    static uint8_t zeros[1 << 20];
    uLongf clen = compressBound(sizeof zeros);
    uint8_t *c = malloc(clen);
    assert_non_null(c);
    assert_int_equal(compress2(c, &clen, zeros, sizeof zeros, 9), Z_OK);
    pj_options o;
    pj_options_default(&o);
    o.limits.max_decompressed_bytes = 1000;
    pj_report *r = pj_report_new(1u << 22, 100);
    pj_scan_ctx ctx = {.report = r, .limits = &o.limits};
    pj_dz_result res;
    pj_decompress(&ctx, PJ_DZ_ZLIB, c, clen, 0, &res);
    assert_int_equal(res.status, PJ_DZ_BUDGET);
    assert_int_equal(res.len, 1000);
    assert_int_equal(ctx.decompressed_total, 1000);
    pj_dz_free(&res);
    /* Budget spent: the next stream gets nothing. */
    pj_decompress(&ctx, PJ_DZ_ZLIB, c, clen, 0, &res);
    assert_int_equal(res.len, 0);
    assert_int_equal(res.status, PJ_DZ_BUDGET);
    pj_dz_free(&res);
    /* A caller's cap is not a bomb. */
    o.limits.max_decompressed_bytes = 1u << 30;
    pj_decompress(&ctx, PJ_DZ_ZLIB, c, clen, 64, &res);
    assert_int_equal(res.status, PJ_DZ_OK);
    assert_int_equal(res.len, 64);
    pj_dz_free(&res);
    /* Truncated input. */
    pj_decompress(&ctx, PJ_DZ_ZLIB, c, clen / 2, 0, &res);
    assert_int_not_equal(res.status, PJ_DZ_OK);
    pj_dz_free(&res);
    pj_report_free(r);
    free(c);
}

static pj_report *scan(const void *d, size_t n)
{
    pj_options o;
    pj_options_default(&o);
    o.sandbox = false;
    pj_report *r = pj_scan_buffer(d, n, &o);
    assert_non_null(r);
    return r;
}

static const char *meta(const pj_report *r, const char *k)
{
    const char *v = pj_report_get_meta(r, k);
    return v ? v : "(none)";
}

static void test_npy_headers(void **state)
{
    (void)state;
    static const char plain[] = "\x93NUMPY\x01\x00\x39\x00"
                                "{'descr': '<i4', 'fortran_order': True, 'shape': (2,), }\n"
                                "\x01\x00\x00\x00\x02\x00\x00\x00";
    pj_report *r = scan(plain, sizeof plain - 1);
    assert_string_equal(r->format, "npy");
    assert_string_equal(meta(r, "npy.descr"), "<i4");
    assert_string_equal(meta(r, "npy.shape"), "(2,)");
    assert_string_equal(meta(r, "npy.fortran_order"), "True");
    assert_false(pj_report_has_code(r, PJ_NPY_MALFORMED));
    assert_int_equal(r->n_streams, 0);
    pj_report_free(r);

    static const char structured[] = "\x93NUMPY\x02\x00\x57\x00\x00\x00"
                                     "{'descr': [('a', '<U2'), ('b', '<f8', (2, 2))], "
                                     "'shape': (1,), 'fortran_order': False}\n"
                                     "01234567890123456789012345678901234567";
    r = scan(structured, sizeof structured - 1); /* 8 + 32 = 40 bytes per item, 38 given */
    assert_true(pj_report_has_code(r, PJ_NPY_MALFORMED));
    pj_report_free(r);

    static const char wrongkeys[] = "\x93NUMPY\x01\x00\x21\x00{'descr': '|O', 'shape': ()}    \n"
                                    "\x80\x02N.";
    r = scan(wrongkeys, sizeof wrongkeys - 1);
    assert_true(pj_report_has_code(r, PJ_NPY_MALFORMED));
    assert_int_equal(r->n_streams, 1); /* object array: the pickle is scanned anyway */
    pj_report_free(r);
}

static void test_legacy_torch(void **state)
{
    (void)state;
    /* magic, 1001, {}, None, ['0'], one storage of 2 float32 */
    static const char f[] =
        "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."
        "\x80\x02M\xe9\x03."
        "\x80\x02}q\x00."
        "\x80\x02" "ctorch\nFloatStorage\nq\x00."
        "\x80\x02]q\x00X\x01\x00\x00\x00" "0q\x01a."
        "\x02\x00\x00\x00\x00\x00\x00\x00" "ABCDEFGH";
    pj_report *r = scan(f, sizeof f - 1);
    assert_string_equal(r->format, "torch-legacy");
    assert_int_equal(r->n_streams, 5);
    assert_string_equal(r->streams[1].location, "pickle#2");
    assert_string_equal(meta(r, "torch.legacy.protocol_version"), "1001");
    assert_string_equal(meta(r, "torch.legacy.storages"), "1");
    assert_false(pj_report_has_code(r, PJ_TORCH_LEGACY_MALFORMED));
    pj_report_free(r);
    /* cut the storage data short (float32: element size from the pickle) */
    r = scan(f, sizeof f - 5);
    assert_true(pj_report_has_code(r, PJ_TORCH_LEGACY_MALFORMED));
    pj_report_free(r);
}

static void test_nesting_depth(void **state)
{
    (void)state;
    /* zlib(zlib(zlib(...))) deeper than the limit */
    uint8_t buf[4096] = "\x80\x02N.";
    size_t n = 4;
    for (int i = 0; i < 6; i++) {
        uint8_t out[4096];
        uLongf ol = sizeof out;
        assert_int_equal(compress2(out, &ol, buf, n, 9), Z_OK);
        memcpy(buf, out, ol);
        n = ol;
    }
    pj_options o;
    pj_options_default(&o);
    o.sandbox = false;
    o.limits.max_container_depth = 3;
    pj_report *r = pj_scan_buffer(buf, n, &o);
    assert_true(pj_report_has_code(r, PJ_NESTING_DEPTH));
    assert_string_equal(r->format, "zlib");
    pj_report_free(r);
    o.limits.max_container_depth = 8;
    r = pj_scan_buffer(buf, n, &o);
    assert_false(pj_report_has_code(r, PJ_NESTING_DEPTH));
    assert_int_equal(r->n_streams, 1);
    assert_string_equal(r->streams[0].location, "zlib:zlib:zlib:zlib:zlib:zlib:");
    pj_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff_table),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_decompress_budget),
        cmocka_unit_test(test_npy_headers),
        cmocka_unit_test(test_legacy_torch),
        cmocka_unit_test(test_nesting_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
