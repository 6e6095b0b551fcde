/* The sandbox wire format: round trip of every report field, and the
 * decoder's refusal of everything a hostile child could send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "picklejail.h"
#include "report.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

static const pj_wire_bounds bounds = {.max_message = 1 << 24, .max_records = 1 << 20,
                                      .max_findings = 100};

static pj_report *sample(void)
{
    pj_report *r = pj_report_new(1 << 20, 100);
    r->format = "torch-zip";
    r->scanned = false;
    int32_t s0 = pj_report_add_stream(r, "archive/data.pkl", 64);
    int32_t s1 = pj_report_add_stream(r, "archive/data.pkl#2@99", 99);
    r->streams[s0].length = 35;
    r->streams[s0].protocol = 2;
    r->streams[s0].opcodes = 12;
    r->streams[s0].complete = true;
    r->streams[s1].protocol = -1;
    pj_global g = {.module = "__builtin__", .name = "eval", .resolved_module = "builtins",
                   .resolved_name = "eval", .stream = s0, .offset = 2, .opcode = 'c',
                   .origin = PJ_ORIGIN_GLOBAL, .called = true, .policy = PJ_POLICY_DANGEROUS,
                   .policy_rule = NULL};
    pj_report_add_global(r, &g);
    pj_global g2 = {.module = "caf\xc3\xa9", .name = "x", .resolved_module = NULL,
                    .resolved_name = NULL, .stream = s1, .offset = 7, .opcode = 0x93,
                    .origin = PJ_ORIGIN_DERIVED, .policy_rule = "rule 3"};
    pj_report_add_global(r, &g2);
    pj_call c = {.callee = "builtins.eval", .args = "('1+1',)", .stream = s0, .offset = 30,
                 .opcode = 'R', .callee_global = 0, .arg_globals = {1, -1, -1, -1},
                 .policy = PJ_POLICY_UNKNOWN};
    pj_report_add_call(r, &c);
    pj_report_add_finding(r, PJ_GLOBAL_DANGEROUS, PJ_SEV_DANGEROUS, s0, 2, "eval at %d", 2);
    pj_report_add_finding(r, PJ_TRAILING_DATA, PJ_SEV_INFO, -1, 1234, "trailing");
    pj_report_add_meta(r, "torch.version", "3");
    return r;
}

static void test_roundtrip(void **state)
{
    (void)state;
    pj_report *a = sample();
    size_t n = 0;
    uint8_t *msg = pj_wire_encode(a, &n);
    assert_non_null(msg);
    pj_report *b = pj_report_new(1 << 20, 100);
    char err[256];
    assert_true(pj_wire_decode(b, msg, n, &bounds, err, sizeof err));
    assert_string_equal(b->format, "torch-zip");
    assert_false(b->scanned);
    assert_int_equal(b->n_streams, 2);
    assert_string_equal(b->streams[1].location, "archive/data.pkl#2@99");
    assert_int_equal(b->streams[0].offset, 64);
    assert_int_equal(b->streams[0].length, 35);
    assert_int_equal(b->streams[0].protocol, 2);
    assert_int_equal(b->streams[0].opcodes, 12);
    assert_true(b->streams[0].complete);
    assert_int_equal(b->streams[1].protocol, -1);
    assert_false(b->streams[1].complete);
    assert_int_equal(b->n_globals, 2);
    assert_string_equal(b->globals[0].resolved_module, "builtins");
    assert_null(b->globals[0].policy_rule);
    assert_true(b->globals[0].called);
    assert_int_equal(b->globals[0].policy, PJ_POLICY_DANGEROUS);
    assert_string_equal(b->globals[1].module, "caf\xc3\xa9");
    assert_null(b->globals[1].resolved_module);
    assert_string_equal(b->globals[1].policy_rule, "rule 3");
    assert_int_equal(b->globals[1].origin, PJ_ORIGIN_DERIVED);
    assert_int_equal(b->globals[1].opcode, 0x93);
    assert_int_equal(b->globals[1].stream, 1);
    assert_int_equal(b->n_calls, 1);
    assert_string_equal(b->calls[0].args, "('1+1',)");
    assert_int_equal(b->calls[0].callee_global, 0);
    assert_int_equal(b->calls[0].arg_globals[0], 1);
    assert_int_equal(b->calls[0].arg_globals[3], -1);
    assert_int_equal(b->calls[0].opcode, 'R');
    assert_int_equal(b->calls[0].policy, PJ_POLICY_UNKNOWN);
    assert_int_equal(b->n_findings, 2);
    assert_int_equal(b->findings[0].code, PJ_GLOBAL_DANGEROUS);
    assert_string_equal(b->findings[0].message, "eval at 2");
    assert_int_equal(b->findings[1].severity, PJ_SEV_INFO);
    assert_int_equal(b->findings[1].stream, -1);
    assert_int_equal(b->findings[1].offset, 1234);
    assert_int_equal(b->n_meta, 1);
    assert_string_equal(b->meta_values[0], "3");
    free(msg);
    pj_report_free(a);
    pj_report_free(b);
}

/* Every strict prefix is rejected, and what was decoded is a prefix of the
 * report (counts never exceed the original's). */
static void test_truncation(void **state)
{
    (void)state;
    pj_report *a = sample();
    size_t n = 0;
    uint8_t *msg = pj_wire_encode(a, &n);
    for (size_t k = 0; k < n; k++) {
        uint8_t *cut = malloc(k ? k : 1); /* exact size: ASan sees over-reads */
        memcpy(cut, msg, k);
        pj_report *b = pj_report_new(1 << 20, 100);
        char err[256];
        assert_false(pj_wire_decode(b, cut, k, &bounds, err, sizeof err));
        assert_true(err[0] != '\0');
        assert_true(b->n_streams <= a->n_streams && b->n_globals <= a->n_globals &&
                    b->n_findings <= a->n_findings);
        pj_report_free(b);
        free(cut);
    }
    free(msg);
    pj_report_free(a);
}

/* Flip every bit once: the decoder never crashes, and an accepted message
 * still has only valid indexes. */
static void test_bitflips(void **state)
{
    (void)state;
    pj_report *a = sample();
    size_t n = 0;
    uint8_t *msg = pj_wire_encode(a, &n);
    for (size_t k = 0; k < n * 8; k++) {
        msg[k / 8] ^= (uint8_t)(1u << (k % 8));
        pj_report *b = pj_report_new(1 << 20, 100);
        char err[256];
        if (pj_wire_decode(b, msg, n, &bounds, err, sizeof err)) {
            for (size_t i = 0; i < b->n_calls; i++)
                assert_true(b->calls[i].callee_global < (int32_t)b->n_globals);
            for (size_t i = 0; i < b->n_globals; i++)
                assert_true(b->globals[i].stream >= 0 &&
                            b->globals[i].stream < (int32_t)b->n_streams);
        }
        pj_report_free(b);
        msg[k / 8] ^= (uint8_t)(1u << (k % 8));
    }
    free(msg);
    pj_report_free(a);
}

/* Encode a report that breaks one rule and expect the decoder to say so. */
static void expect_reject(pj_report *a, const char *why_contains)
{
    size_t n = 0;
    uint8_t *msg = pj_wire_encode(a, &n);
    assert_non_null(msg);
    pj_report *b = pj_report_new(1 << 20, 100);
    char err[256];
    assert_false(pj_wire_decode(b, msg, n, &bounds, err, sizeof err));
    if (strstr(err, why_contains) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, why_contains);
    free(msg);
    pj_report_free(b);
    pj_report_free(a);
}

static void test_rejects(void **state)
{
    (void)state;
    pj_report *a;

    a = sample();
    a->globals[0].module = "os\nsystem";
    expect_reject(a, "not printable");

    a = sample();
    a->globals[1].name = "\xc3"; /* cut UTF-8 sequence */
    expect_reject(a, "not printable");

    a = sample();
    a->streams[0].location = "\x1b[2J";
    expect_reject(a, "not printable");

    a = sample();
    a->globals[0].stream = 2;
    expect_reject(a, "global stream 2 out of range");

    a = sample();
    a->globals[0].stream = -1;
    expect_reject(a, "global stream -1");

    a = sample();
    a->calls[0].callee_global = 2;
    expect_reject(a, "callee_global 2 out of range");

    a = sample();
    a->calls[0].arg_globals[3] = -2;
    expect_reject(a, "arg_global -2");

    a = sample();
    a->findings[0].code = (pj_code)999;
    expect_reject(a, "code 999 invalid");

    a = sample();
    a->findings[0].code = PJ_SANDBOX_TIMEOUT; /* only the parent may say this */
    a->findings[0].cls = PJ_CLASS_SECURITY;
    expect_reject(a, "code 402 invalid");

    a = sample();
    a->findings[0].cls = PJ_CLASS_LOAD;
    expect_reject(a, "does not match");

    a = sample();
    a->findings[1].stream = 2;
    expect_reject(a, "finding stream 2");

    a = sample();
    a->findings[0].severity = (pj_severity)3;
    expect_reject(a, "severity 3");

    a = sample();
    a->globals[0].origin = (pj_global_origin)9;
    expect_reject(a, "origin 9");

    a = sample();
    a->globals[0].opcode = 0xff; /* not an opcode */
    expect_reject(a, "not a pickle opcode");

    a = sample();
    a->calls[0].policy = (pj_global_class)4;
    expect_reject(a, "policy 4");

    a = sample();
    a->streams[0].protocol = 256;
    expect_reject(a, "protocol 256");

    a = sample();
    a->globals[0].name = NULL;
    expect_reject(a, "missing");

    a = sample();
    a->format = NULL;
    expect_reject(a, "missing");
}

/* Hand-made messages for what the encoder never writes. */
static size_t put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return 4;
}

static void check_raw(const uint8_t *m, size_t n, bool ok, const char *why)
{
    pj_report *b = pj_report_new(1 << 20, 100);
    char err[256];
    bool got = pj_wire_decode(b, m, n, &bounds, err, sizeof err);
    if (got != ok)
        fail_msg("expected %s, got %s (%s)", ok ? "ok" : "reject", got ? "ok" : "reject", err);
    if (!ok && why != NULL && strstr(err, why) == NULL)
        fail_msg("error '%s' does not mention '%s'", err, why);
    pj_report_free(b);
}

static size_t header(uint8_t *m, size_t body)
{
    memcpy(m, "PJWR\1\0\0\0", 8);
    put32(m + 8, (uint32_t)body);
    return 12;
}

static size_t end_rec(uint8_t *p, uint32_t nfind)
{
    size_t o = 0;
    p[o++] = PJ_WIRE_END;
    o += put32(p + o, 20);
    for (int k = 0; k < 5; k++)
        o += put32(p + o, k == 3 ? nfind : 0);
    return o;
}

static void test_raw(void **state)
{
    (void)state;
    uint8_t m[4096];
    size_t o, b;

    /* Minimal valid message: only END. */
    o = 12;
    o += end_rec(m + o, 0);
    header(m, o - 12);
    check_raw(m, o, true, NULL);

    /* Body length lies. */
    header(m, o - 11);
    check_raw(m, o, false, "body length");

    /* Wrong version. */
    header(m, o - 12);
    m[4] = 2;
    check_raw(m, o, false, "version");

    /* Data after END. */
    o = 12;
    o += end_rec(m + o, 0);
    m[o++] = PJ_WIRE_META;
    header(m, o - 12);
    check_raw(m, o, false, "after the end");

    /* END claims a finding that never came. */
    o = 12;
    o += end_rec(m + o, 1);
    header(m, o - 12);
    check_raw(m, o, false, "findings count");

    /* No END at all. */
    o = 12;
    m[o++] = PJ_WIRE_SCANNED;
    o += put32(m + o, 1);
    m[o++] = 1;
    header(m, o - 12);
    check_raw(m, o, false, "end record");

    /* Two SCANNED records; SCANNED after a STREAM-ordered record. */
    o = 12;
    for (int k = 0; k < 2; k++) {
        m[o++] = PJ_WIRE_SCANNED;
        o += put32(m + o, 1);
        m[o++] = 1;
    }
    o += end_rec(m + o, 0);
    header(m, o - 12);
    check_raw(m, o, false, "unexpected");

    /* SCANNED with a value that is not a bool; payload with extra bytes. */
    o = 12;
    m[o++] = PJ_WIRE_SCANNED;
    o += put32(m + o, 1);
    m[o++] = 7;
    o += end_rec(m + o, 0);
    header(m, o - 12);
    check_raw(m, o, false, "scanned 7");
    o = 12;
    m[o++] = PJ_WIRE_SCANNED;
    o += put32(m + o, 2);
    m[o++] = 1;
    m[o++] = 0;
    o += end_rec(m + o, 0);
    header(m, o - 12);
    check_raw(m, o, false, "unread");

    /* Record length beyond the message; string length beyond the record. */
    o = 12;
    m[o++] = PJ_WIRE_FORMAT;
    o += put32(m + o, 0x7fffffff);
    header(m, o - 12);
    check_raw(m, o, false, "out of bounds");
    o = 12;
    m[o++] = PJ_WIRE_FORMAT;
    o += put32(m + o, 8);
    o += put32(m + o, 1000);
    o += put32(m + o, 0);
    o += end_rec(m + o, 0);
    header(m, o - 12);
    check_raw(m, o, false, "format");

    /* A string with a NUL inside. */
    o = 12;
    m[o++] = PJ_WIRE_FORMAT;
    o += put32(m + o, 7);
    o += put32(m + o, 3);
    memcpy(m + o, "a\0b", 3);
    o += 3;
    o += end_rec(m + o, 0);
    header(m, o - 12);
    check_raw(m, o, false, "not printable");

    /* Unknown record type. */
    o = 12;
    m[o++] = 42;
    o += put32(m + o, 0);
    o += end_rec(m + o, 0);
    header(m, o - 12);
    check_raw(m, o, false, "type 42");

    /* More findings than the bound: 101 findings of 'x'. */
    static uint8_t big[1 << 16];
    o = 12;
    for (int k = 0; k < 101; k++) {
        big[o++] = PJ_WIRE_FINDING;
        o += put32(big + o, 4 + 1 + 1 + 4 + 8 + 5);
        o += put32(big + o, PJ_TRUNCATED);
        big[o++] = 1;
        big[o++] = 0;
        o += put32(big + o, UINT32_MAX); /* stream -1 */
        memset(big + o, 0, 8);
        o += 8;
        o += put32(big + o, 1);
        big[o++] = 'x';
    }
    o += end_rec(big + o, 101);
    b = o;
    header(big, b - 12);
    check_raw(big, b, false, "more than 100 findings");

    /* The message bound. */
    pj_wire_bounds tiny = bounds;
    tiny.max_message = 16;
    pj_report *r = pj_report_new(1 << 20, 100);
    char err[128];
    assert_false(pj_wire_decode(r, big, b, &tiny, err, sizeof err));
    assert_non_null(strstr(err, "exceeds"));
    pj_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_bitflips),  cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_raw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
