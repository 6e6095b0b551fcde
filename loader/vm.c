/* The pickle virtual machine, simulated over symbolic values.
 *
 * Mirrors CPython's C unpickler (Modules/_pickle.c) reading from a file
 * object, opcode by opcode, but never imports or calls anything: GLOBAL and
 * friends produce symbolic globals, REDUCE/INST/OBJ/NEWOBJ/NEWOBJ_EX produce
 * symbolic calls, BUILD records state.  Everything seen before an error is
 * kept, because CPython has already executed it by then. */
#include "opcodes.h"
#include "scan.h"
#include "value.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct memo_slot {
    uint64_t key1; /* key + 1; 0 marks an empty slot (keys are below 2^63) */
    pj_val val;
} memo_slot;

typedef struct gseen {
    uint64_t hash;
    const uint8_t *m;
    size_t ml;
    const uint8_t *n;
    size_t nl;
    int32_t index; /* -1: empty slot */
    uint8_t renamed;
    uint8_t origin;
} gseen;

typedef struct vm {
    pj_scan_ctx *ctx;
    pj_report *r;
    pj_arena a;
    const uint8_t *d;
    size_t len;
    size_t pos;
    size_t buf_end;  /* end of the unpickler's current read buffer (a FRAME) */
    bool linear;     /* pickle.loads semantics: one buffer, frames not enforced */
    bool straddled;  /* a read crossed a frame boundary */
    const char *location;
    int32_t stream;
    int proto;
    int max_opcode_proto;
    size_t op_off;
    uint8_t op;
    uint64_t opcodes;
    bool failed;

    pj_val *stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t nmarks, marks_cap;
    size_t fence;

    uint64_t *dense;        /* memo keys below dense_cap: packed cells (see cell_pack) */
    size_t dense_cap;
    size_t dense_init;      /* slots below this are initialised; the rest were never touched */
    pj_val *side;           /* dense memo values that do not pack into a cell */
    size_t side_len, side_cap;
    size_t side_free;       /* first free side slot + 1 (a list through u.i), 0: none */
    memo_slot *memo;        /* sparse memo keys */
    size_t memo_cap, sparse_len;
    size_t memo_len;        /* entries in both: MEMOIZE's key */
    bool sparse_noted;
    size_t heap_bytes;      /* malloc'd memo/stack bytes, counted in the budget */

    gseen *seen;
    size_t seen_cap, seen_len;

    /* Facts for load-failure diagnosis, emitted as stream meta at the end. */
    uint64_t py2_strings, persids;
    size_t py2_offset, py2_pos, persid_offset, max_opcode_offset, storage_device_offset;
    uint8_t py2_byte;
    bool has_storage_device;
    int64_t ext_code;
    bool has_ext;
    char storage_locations[256];

    size_t retained; /* bytes of container items kept */
    size_t start;    /* where the stream starts */
    bool deep_noted, expansion_noted, marks_noted;

    char *scratch; /* rendering buffer */
    size_t scratch_cap;
} vm;

enum { RENDER_CAP = 600, CALLS_FULL_RECORD = 50000 };
#define RETAIN_BUDGET ((size_t)32 << 20)
#define DEEP_NESTING 5000u
#define EXPANSION_LIMIT ((uint64_t)1 << 32)

/* ---------- errors ---------- */

static bool fail(vm *v, pj_code code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(vm *v, pj_code code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *name = pj_opcode_table[v->op].name;
    pj_report_finding(v->r, code, v->stream, v->op_off, "%s (%s at offset %zu)", msg,
                      name ? name : "opcode", v->op_off);
    v->failed = true;
    return false;
}

static bool oom(vm *v)
{
    return fail(v, PJ_LIMIT_ARENA, "scanner memory budget (%zu bytes) exhausted", v->a.budget);
}

/* ---------- reading, with CPython's file-object buffering ---------- */

static void note_straddle(vm *v, size_t want)
{
    size_t lost = v->buf_end - v->pos;
    if (!v->straddled)
        pj_report_finding(v->r, PJ_FRAME_STRADDLE, v->stream, v->pos,
                          "%s at offset %zu reads %zu bytes but its frame ends at %zu: "
                          "pickle.load() on a file drops the frame's last %zu bytes and "
                          "continues after the frame, while pickle.loads() and linear "
                          "scanners read different opcodes",
                          pj_opcode_table[v->op].name ? pj_opcode_table[v->op].name : "opcode",
                          v->op_off, want, v->buf_end, lost);
    v->straddled = true;
    v->pos = v->buf_end;
}

/* Read n bytes.  Inside a frame the C unpickler serves reads from the frame
 * buffer; a read that does not fit discards what is left of the frame and
 * reads afresh from the file (a straddle). */
static inline bool rd(vm *v, size_t n, const uint8_t **out)
{
    if (n <= v->buf_end - v->pos) {
        *out = v->d + v->pos;
        v->pos += n;
        return true;
    }
    if (v->pos < v->buf_end)
        note_straddle(v, n);
    if (n > v->len - v->pos) {
        size_t left = v->len - v->pos;
        v->pos = v->len;
        return fail(v, PJ_TRUNCATED, "pickle data was truncated (needs %zu bytes, %zu left)", n,
                    left);
    }
    *out = v->d + v->pos;
    v->pos += n;
    v->buf_end = v->linear ? v->len : v->pos;
    return true;
}

/* Read the payload of BINBYTES, SHORT_BINBYTES, BINBYTES8 and BYTEARRAY8:
 * CPython copies what is left of the buffer and reads the rest from the file
 * (_Unpickler_ReadInto), so these payloads read linearly across a frame end. */
static bool rd_into(vm *v, size_t n, const uint8_t **out)
{
    if (n <= v->buf_end - v->pos) {
        *out = v->d + v->pos;
        v->pos += n;
        return true;
    }
    if (n > v->len - v->pos) {
        size_t left = v->len - v->pos;
        v->pos = v->len;
        return fail(v, PJ_TRUNCATED, "pickle data was truncated (needs %zu bytes, %zu left)", n,
                    left);
    }
    *out = v->d + v->pos;
    v->pos += n;
    v->buf_end = v->linear ? v->len : v->pos; /* the buffer is used up */
    return true;
}

/* Read a line; *n excludes the newline. */
static bool rdline(vm *v, const uint8_t **out, size_t *n)
{
    const uint8_t *nl = memchr(v->d + v->pos, '\n', v->buf_end - v->pos);
    if (nl == NULL) {
        if (v->pos < v->buf_end)
            note_straddle(v, 1);
        nl = memchr(v->d + v->pos, '\n', v->len - v->pos);
        if (nl == NULL) {
            v->pos = v->len;
            return fail(v, PJ_TRUNCATED, "pickle data was truncated (line without newline)");
        }
        *out = v->d + v->pos;
        *n = (size_t)(nl - *out);
        v->pos = (size_t)(nl - v->d) + 1;
        v->buf_end = v->linear ? v->len : v->pos;
        return true;
    }
    *out = v->d + v->pos;
    *n = (size_t)(nl - *out);
    v->pos = (size_t)(nl - v->d) + 1;
    return true;
}

/* Fixed widths, written so compilers emit one load. */
static inline uint32_t le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

/* ---------- stack, marks, memo ---------- */

static bool budget_take(vm *v, size_t add, size_t release);

static bool grow_stack(vm *v);

static inline bool push(vm *v, pj_val val)
{
    if (v->sp == v->stack_cap && !grow_stack(v))
        return false;
    v->stack[v->sp++] = val;
    return true;
}

static bool grow_stack(vm *v)
{
    {
        if (v->stack_cap >= v->ctx->limits->max_stack)
            return fail(v, PJ_LIMIT_STACK, "stack depth limit of %" PRIu32 " reached",
                        v->ctx->limits->max_stack);
        size_t ncap = v->stack_cap ? v->stack_cap * 2 : 64;
        if (ncap > v->ctx->limits->max_stack)
            ncap = v->ctx->limits->max_stack;
        if (!budget_take(v, ncap * sizeof(pj_val), v->stack_cap * sizeof(pj_val)))
            return oom(v);
        pj_val *ns = realloc(v->stack, ncap * sizeof(pj_val));
        if (ns == NULL)
            return oom(v);
        v->stack = ns;
        v->stack_cap = ncap;
    }
    return true;
}

static bool underflow(vm *v)
{
    if (v->nmarks > 0)
        return fail(v, PJ_UNEXPECTED_MARK, "unexpected MARK found");
    return fail(v, PJ_STACK_UNDERFLOW, "unpickling stack underflow");
}

static bool pop(vm *v, pj_val *out)
{
    if (v->sp <= v->fence)
        return underflow(v);
    *out = v->stack[--v->sp];
    return true;
}

static pj_val *top(vm *v)
{
    if (v->sp <= v->fence) {
        underflow(v);
        return NULL;
    }
    return &v->stack[v->sp - 1];
}

static bool push_mark(vm *v)
{
    if (v->nmarks == v->marks_cap) {
        if (v->marks_cap >= v->ctx->limits->max_nesting)
            return fail(v, PJ_LIMIT_NESTING, "MARK nesting limit of %" PRIu32 " reached",
                        v->ctx->limits->max_nesting);
        size_t ncap = v->marks_cap ? v->marks_cap * 2 : 32;
        if (ncap > v->ctx->limits->max_nesting)
            ncap = v->ctx->limits->max_nesting;
        size_t *nm = pj_arena_array(&v->a, ncap, sizeof(size_t));
        if (nm == NULL)
            return oom(v);
        if (v->nmarks)
            memcpy(nm, v->marks, v->nmarks * sizeof(size_t));
        v->marks = nm;
        v->marks_cap = ncap;
    }
    v->marks[v->nmarks++] = v->sp;
    v->fence = v->sp;
    if (v->nmarks > DEEP_NESTING && !v->marks_noted) {
        v->marks_noted = true;
        pj_report_finding(v->r, PJ_LIMIT_NESTING, v->stream, v->op_off,
                          "%zu MARKs open at once: no pickler writes this (MARK at offset %zu)",
                          v->nmarks, v->op_off);
    }
    return true;
}

/* Pop the topmost mark; *start receives the stack index it marked. */
static bool marker(vm *v, size_t *start)
{
    if (v->nmarks == 0)
        return fail(v, PJ_MARK_MISSING, "could not find MARK");
    *start = v->marks[--v->nmarks];
    v->fence = v->nmarks ? v->marks[v->nmarks - 1] : 0;
    return true;
}

static uint64_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* The memo: a dense array for the small keys picklers use (PUT n, MEMOIZE
 * = number of entries), a hash table for sparse keys (LONG_BINPUT 2^32-1
 * must not allocate 2^33 slots as CPython does).  Both live in malloc'd
 * memory counted against the budget, and are freed with the stream. */
static memo_slot *memo_find(vm *v, uint64_t key)
{
    if (v->memo_cap == 0)
        return NULL;
    size_t mask = v->memo_cap - 1;
    for (size_t i = hash64(key) & mask;; i = (i + 1) & mask) {
        if (v->memo[i].key1 == 0)
            return NULL;
        if (v->memo[i].key1 == key + 1)
            return &v->memo[i];
    }
}

/* Dense memo cells are 8 bytes, not a 16-byte value: a pickle with millions
 * of memo entries touches half the memory.  0 is an empty slot; the low 4
 * bits say how the rest is packed:
 *   1..9  a container, global, call or persistent id: its 16-byte aligned
 *         pointer (or NULL: a summary-only container) in the other bits;
 *   10/11 a str/bytes inside the pickle data: offset << 24 | length << 4;
 *   12    an int of 60 bits;
 *   15    any other value: its index in v->side, << 4. */
enum { CELL_STR = 10, CELL_BYTES = 11, CELL_INT = 12, CELL_SIDE = 15 };
#define CELL_OFF_MAX ((uint64_t)1 << 40)
#define CELL_LEN_MAX ((uint32_t)1 << 20)
#define CELL_INT_MIN (-((int64_t)1 << 59))
#define CELL_INT_MAX (((int64_t)1 << 59) - 1)
static const uint8_t cell_kinds[16] = {V_EMPTY, V_TUPLE, V_LIST, V_DICT, V_SET, V_FROZENSET,
                                       V_GLOBAL, V_MODULE, V_CALL, V_PERSID};

/* The cell for x, or 0 when x needs a side slot. */
static inline uint64_t cell_pack(const vm *v, const pj_val *x)
{
    if (x->flags != 0)
        return 0;
    uint64_t tag;
    uintptr_t ptr;
    switch ((pj_vkind)x->kind) {
    case V_TUPLE: tag = 1; ptr = (uintptr_t)x->u.seq; break;
    case V_LIST: tag = 2; ptr = (uintptr_t)x->u.seq; break;
    case V_DICT: tag = 3; ptr = (uintptr_t)x->u.seq; break;
    case V_SET: tag = 4; ptr = (uintptr_t)x->u.seq; break;
    case V_FROZENSET: tag = 5; ptr = (uintptr_t)x->u.seq; break;
    case V_GLOBAL: tag = 6; ptr = (uintptr_t)x->u.g; break;
    case V_MODULE: tag = 7; ptr = (uintptr_t)x->u.g; break;
    case V_CALL: tag = 8; ptr = (uintptr_t)x->u.call; break;
    case V_PERSID: tag = 9; ptr = (uintptr_t)x->u.call; break;
    case V_STR:
    case V_BYTES: {
        uintptr_t off = (uintptr_t)x->u.s - (uintptr_t)v->d;
        if (off > v->len || off >= CELL_OFF_MAX || x->len >= CELL_LEN_MAX)
            return 0;
        return (uint64_t)off << 24 | (uint64_t)x->len << 4 |
               (x->kind == V_STR ? CELL_STR : CELL_BYTES);
    }
    case V_INT:
        if (x->len != 0 || x->u.i < CELL_INT_MIN || x->u.i > CELL_INT_MAX)
            return 0;
        return (uint64_t)x->u.i << 4 | CELL_INT;
    default: return 0;
    }
    if (x->len != 0 || (ptr & 15) != 0)
        return 0;
    return (uint64_t)ptr | tag;
}

/* The value of a non-empty cell. */
static inline pj_val cell_unpack(const vm *v, uint64_t c)
{
    const unsigned tag = (unsigned)(c & 15);
    pj_val x = {.kind = cell_kinds[tag]};
    switch (tag) {
    case CELL_STR:
    case CELL_BYTES:
        x.kind = tag == CELL_STR ? V_STR : V_BYTES;
        x.len = (uint32_t)(c >> 4) & (CELL_LEN_MAX - 1);
        x.u.s = v->d + (size_t)(c >> 24);
        return x;
    case CELL_INT: {
        /* Sign-extend the 60-bit value without shifting a negative number. */
        uint64_t u = c >> 4;
        x.kind = V_INT;
        x.u.i = (u & ((uint64_t)1 << 59)) ? -(int64_t)(((uint64_t)1 << 60) - u) : (int64_t)u;
        return x;
    }
    case CELL_SIDE: return v->side[c >> 4];
    case 6: case 7: x.u.g = (pj_gref *)(uintptr_t)(c & ~(uint64_t)15); return x;
    case 8: case 9: x.u.call = (pj_callnode *)(uintptr_t)(c & ~(uint64_t)15); return x;
    default: x.u.seq = (pj_seq *)(uintptr_t)(c & ~(uint64_t)15); return x;
    }
}

/* Store val in a dense cell (empty or holding an older value). */
static bool cell_store(vm *v, uint64_t *cell, const pj_val *val)
{
    uint64_t c = cell_pack(v, val);
    bool had_side = (*cell & 15) == CELL_SIDE;
    if (c != 0) {
        if (had_side) { /* free the old side slot */
            size_t i = (size_t)(*cell >> 4);
            v->side[i].u.i = (int64_t)v->side_free;
            v->side_free = i + 1;
        }
        *cell = c;
        return true;
    }
    size_t i;
    if (had_side) {
        i = (size_t)(*cell >> 4);
    } else if (v->side_free != 0) {
        i = v->side_free - 1;
        v->side_free = (size_t)v->side[i].u.i;
    } else {
        if (v->side_len == v->side_cap) {
            size_t ncap = v->side_cap ? v->side_cap * 2 : 64;
            if (!budget_take(v, ncap * sizeof(pj_val), v->side_cap * sizeof(pj_val)))
                return oom(v);
            pj_val *ns = realloc(v->side, ncap * sizeof(pj_val));
            if (ns == NULL)
                return oom(v);
            v->side = ns;
            v->side_cap = ncap;
        }
        i = v->side_len++;
    }
    v->side[i] = *val;
    *cell = (uint64_t)i << 4 | CELL_SIDE;
    return true;
}

/* The value under key, if any (*out receives a copy). */
static bool memo_get(vm *v, uint64_t key, pj_val *out)
{
    if (key < v->dense_init && v->dense[key] != 0) {
        *out = cell_unpack(v, v->dense[key]);
        return true;
    }
    /* A key put in the hash table stays there when the dense array later
     * grows past it: look there too. */
    if (v->sparse_len == 0)
        return false;
    memo_slot *s = memo_find(v, key);
    if (s == NULL)
        return false;
    *out = s->val;
    return true;
}

static bool budget_take(vm *v, size_t add, size_t release)
{
    size_t used = v->a.used + v->heap_bytes - release;
    if (add > v->a.budget || used > v->a.budget - add)
        return false;
    v->heap_bytes = v->heap_bytes - release + add;
    return true;
}

static bool memo_put(vm *v, uint64_t key, pj_val val)
{
    if (key >= (uint64_t)INT64_MAX)
        return fail(v, PJ_BAD_MEMO_KEY, "memo key too large");
    if (key < v->dense_init && v->dense[key] != 0)
        return cell_store(v, &v->dense[key], &val);
    memo_slot *old = v->sparse_len ? memo_find(v, key) : NULL;
    if (old != NULL) {
        old->val = val;
        return true;
    }
    if (key >= 2 * (uint64_t)v->memo_len + 1024 && !v->sparse_noted) {
        v->sparse_noted = true;
        pj_report_finding(v->r, PJ_BAD_MEMO_KEY, v->stream, v->op_off,
                          "memo key %" PRIu64 " is far beyond the %zu entries so far: no pickler "
                          "writes this, and CPython's unpickler allocates %" PRIu64 " memo slots for "
                          "it (MemoryError when large) (%s at offset %zu)",
                          key, v->memo_len, key * 2, pj_opcode_table[v->op].name, v->op_off);
    }
    if (v->memo_len >= v->ctx->limits->max_memo)
        return fail(v, PJ_LIMIT_MEMO, "memo limit of %" PRIu32 " entries reached",
                    v->ctx->limits->max_memo);
    /* Dense while keys stay close to the entry count. */
    if (key < v->dense_cap || key < 2 * (uint64_t)v->memo_len + 1024) {
        if (key >= v->dense_cap) {
            size_t ncap = v->dense_cap ? v->dense_cap : 1024;
            while (ncap <= key)
                ncap *= 2;
            if (!budget_take(v, ncap * sizeof(uint64_t), v->dense_cap * sizeof(uint64_t)))
                return oom(v);
            uint64_t *nd = realloc(v->dense, ncap * sizeof(uint64_t));
            if (nd == NULL)
                return oom(v);
            /* Not zeroed here: pages a pickle never reaches are never touched. */
            v->dense = nd;
            v->dense_cap = ncap;
        }
        if (key >= v->dense_init) {
            memset(v->dense + v->dense_init, 0, (size_t)(key - v->dense_init) * sizeof(uint64_t));
            v->dense[key] = 0;
            v->dense_init = (size_t)key + 1;
        }
        if (!cell_store(v, &v->dense[key], &val))
            return false;
        v->memo_len++;
        return true;
    }
    if ((v->sparse_len + 1) * 2 > v->memo_cap) {
        size_t ncap = v->memo_cap ? v->memo_cap * 2 : 64;
        if (!budget_take(v, ncap * sizeof(memo_slot), v->memo_cap * sizeof(memo_slot)))
            return oom(v);
        memo_slot *nm = calloc(ncap, sizeof(memo_slot));
        if (nm == NULL)
            return oom(v);
        for (size_t i = 0; i < v->memo_cap; i++) {
            if (v->memo[i].key1 == 0)
                continue;
            size_t j = hash64(v->memo[i].key1 - 1) & (ncap - 1);
            while (nm[j].key1 != 0)
                j = (j + 1) & (ncap - 1);
            nm[j] = v->memo[i];
        }
        free(v->memo);
        v->memo = nm;
        v->memo_cap = ncap;
    }
    size_t mask = v->memo_cap - 1;
    size_t i = hash64(key) & mask;
    while (v->memo[i].key1 != 0)
        i = (i + 1) & mask;
    v->memo[i].key1 = key + 1;
    v->memo[i].val = val;
    v->sparse_len++;
    v->memo_len++;
    return true;
}

/* ---------- values ---------- */


static pj_val mkval(vm *v, pj_vkind k)
{
    (void)v;
    pj_val x;
    memset(&x, 0, sizeof x);
    x.kind = (uint8_t)k;
    return x;
}

static pj_seq *new_seq(vm *v)
{
    pj_seq *s = pj_arena_alloc(&v->a, sizeof(pj_seq));
    if (s == NULL)
        oom(v);
    return s;
}

/* Past the retention budget, lists and sets keep nothing (not even a count)
 * and dicts keep only the keys later analysis reads. */
static bool summary_only(const vm *v, pj_vkind kind)
{
    return v->retained > RETAIN_BUDGET &&
           (kind == V_LIST || kind == V_SET || kind == V_FROZENSET || kind == V_DICT);
}

static bool key_of_interest(const pj_val *k)
{
    /* Hot on large pickles (every key of every summary-only dict): one
     * switch on the length before any bytes are compared. */
    if (k->kind != V_STR)
        return false;
    const char *s = (const char *)k->u.s;
    switch (k->len) {
    case 5:
        return memcmp(s, "shape", 5) == 0 || memcmp(s, "dtype", 5) == 0 ||
               memcmp(s, "order", 5) == 0;
    case 8: return memcmp(s, "subclass", 8) == 0;
    case 10: return memcmp(s, "allow_mmap", 10) == 0;
    case 16: return memcmp(s, "_sklearn_version", 16) == 0;
    case 27: return memcmp(s, "numpy_array_alignment_bytes", 27) == 0;
    default: return false;
    }
}

static void dict_add_pair(vm *v, pj_seq *s, const pj_val *k, const pj_val *val);

/* Does stack[start..end) (key, value pairs) hold a key later analysis reads? */
static bool has_key_of_interest(const vm *v, size_t start, size_t end)
{
    for (size_t i = start; i + 1 < end; i += 2)
        if (key_of_interest(&v->stack[i]))
            return true;
    return false;
}

_Static_assert(PJ_KEEP_DICT + 16 <= UINT16_MAX && PJ_KEEP_TUPLE <= UINT16_MAX &&
                   PJ_KEEP_LIST <= UINT16_MAX && PJ_KEEP_SET <= UINT16_MAX,
               "pj_seq.kept and cap are 16-bit");

static uint32_t keep_for(const vm *v, pj_vkind kind)
{
    switch (kind) {
    case V_TUPLE: return PJ_KEEP_TUPLE;
    case V_DICT: return v->retained > RETAIN_BUDGET ? 0 : PJ_KEEP_DICT; /* see dict_add_pair */
    case V_LIST:
        /* Past the retention budget, lists (data, rarely state) keep counts only. */
        return v->retained > RETAIN_BUDGET ? 0 : PJ_KEEP_LIST;
    default: return v->retained > RETAIN_BUDGET ? 0 : PJ_KEEP_SET;
    }
}

/* Make room for up to `more` values (bounded by the kind's keep limit),
 * allocating exactly what is needed: the arena never frees. */
static void seq_reserve(vm *v, pj_seq *s, pj_vkind kind, uint64_t more)
{
    uint32_t keep = keep_for(v, kind);
    if (s->kept >= keep)
        return;
    uint64_t want = s->kept + more;
    if (want > keep)
        want = keep;
    if (want <= s->cap)
        return;
    pj_val *items = pj_arena_array(&v->a, (size_t)want, sizeof(pj_val));
    if (items == NULL)
        return; /* only the summary is lost */
    if (s->kept)
        memcpy(items, s->items, s->kept * sizeof(pj_val));
    v->retained += (size_t)want * sizeof(pj_val);
    s->items = items;
    s->cap = (uint16_t)want;
}

/* Weight and depth let shared-reference bombs (memo/DUP fan-out) and deep
 * nesting be seen without ever expanding them. */
static void seq_measure(pj_seq *s, const pj_val *item)
{
    uint64_t w = 1;
    uint32_t d = 0;
    if ((item->kind == V_TUPLE || item->kind == V_LIST || item->kind == V_DICT ||
         item->kind == V_SET || item->kind == V_FROZENSET) && item->u.seq != NULL) {
        w = item->u.seq->weight ? item->u.seq->weight : 1;
        d = item->u.seq->depth + 1;
    }
    s->weight = s->weight > UINT64_MAX - w ? UINT64_MAX : s->weight + w;
    if (d > s->depth)
        s->depth = d;
}

static void seq_add(pj_seq *s, const pj_val *item)
{
    if (s->kept < s->cap)
        s->items[s->kept++] = *item;
    s->count++;
    seq_measure(s, item);
}

static void seq_add_pair(pj_seq *s, const pj_val *k, const pj_val *val)
{
    if (s->kept + 2 <= s->cap) {
        s->items[s->kept++] = *k;
        s->items[s->kept++] = *val;
    }
    s->count++;
    seq_measure(s, val);
}

static void dict_add_pair(vm *v, pj_seq *s, const pj_val *k, const pj_val *val)
{
    /* State keys are kept wherever they come, even past the keep limit. */
    if (s->kept + 2 > s->cap && s->kept + 2 <= PJ_KEEP_DICT + 16 && key_of_interest(k)) {
        pj_val *items = pj_arena_array(&v->a, s->kept + 2, sizeof(pj_val));
        if (items != NULL) {
            if (s->kept)
                memcpy(items, s->items, s->kept * sizeof(pj_val));
            s->items = items;
            s->cap = (uint16_t)(s->kept + 2);
        }
    }
    seq_add_pair(s, k, val);
}

/* Report, once per stream, structures no pickler writes: nesting deeper
 * than CPython's recursive pickler can go, and shared references that
 * expand to billions of objects for any consumer that walks them. */
static void note_shape(vm *v, const pj_seq *s)
{
    if (s == NULL)
        return;
    if (s->depth > DEEP_NESTING && !v->deep_noted) {
        v->deep_noted = true;
        pj_report_finding(v->r, PJ_LIMIT_NESTING, v->stream, v->op_off,
                          "containers nested %" PRIu32 " deep: CPython's pickler (recursion limit "
                          "1000 by default) does not write this; code walking the result may "
                          "crash (%s at offset %zu)", s->depth, pj_opcode_table[v->op].name,
                          v->op_off);
    }
    if (s->weight > EXPANSION_LIMIT && !v->expansion_noted) {
        v->expansion_noted = true;
        pj_report_finding(v->r, PJ_EXPANSION_BOMB, v->stream, v->op_off,
                          "shared references expand to more than %" PRIu64 " objects in %zu "
                          "bytes: anything that walks or copies the result explodes "
                          "(%s at offset %zu)", s->weight, v->op_off - v->start + 1,
                          pj_opcode_table[v->op].name, v->op_off);
    }
}

/* Make a container value from stack[start..sp) and drop those items. */
static bool collect(vm *v, pj_vkind kind, size_t start, pj_val *out)
{
    *out = mkval(v, kind);
    if (kind == V_DICT && (v->sp - start) % 2 != 0)
        return fail(v, PJ_ODD_ITEMS, "odd number of items for DICT");
    if (summary_only(v, kind) && !(kind == V_DICT && has_key_of_interest(v, start, v->sp))) {
        v->sp = start;
        return true;
    }
    pj_seq *s = new_seq(v);
    if (s == NULL)
        return false;
    seq_reserve(v, s, kind, v->sp - start);
    if (kind == V_DICT) {
        for (size_t i = start; i + 1 < v->sp; i += 2)
            dict_add_pair(v, s, &v->stack[i], &v->stack[i + 1]);
    } else {
        for (size_t i = start; i < v->sp; i++)
            seq_add(s, &v->stack[i]);
    }
    v->sp = start;
    out->u.seq = s;
    note_shape(v, s);
    return true;
}

static const pj_val *dict_get(const pj_val *d, const char *key)
{
    if (d->kind != V_DICT || d->u.seq == NULL)
        return NULL;
    const pj_seq *s = d->u.seq;
    for (uint32_t i = 0; i + 1 < s->kept; i += 2)
        if (pj_val_str_eq(&s->items[i], key))
            return &s->items[i + 1];
    return NULL;
}

/* ---------- globals ---------- */

typedef struct compat_name {
    const char *m2, *n2, *m3, *n3;
} compat_name;
typedef struct compat_import {
    const char *m2, *m3;
} compat_import;

static const compat_name compat_names[] = {
#define PJ_NAME(a, b, c, d) {a, b, c, d},
#define PJ_IMPORT(a, b)
#include "data/compat_pickle.def"
#undef PJ_NAME
#undef PJ_IMPORT
};
static const compat_import compat_imports[] = {
#define PJ_NAME(a, b, c, d)
#define PJ_IMPORT(a, b) {a, b},
#include "data/compat_pickle.def"
#undef PJ_NAME
#undef PJ_IMPORT
};

static bool eqn(const char *s, const uint8_t *b, size_t n)
{
    return strlen(s) == n && memcmp(s, b, n) == 0;
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

static bool valid_utf8(const uint8_t *s, size_t n, bool surrogatepass)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len > n - i)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        if (!surrogatepass && cp >= 0xD800 && cp <= 0xDFFF)
            return false;
        i += len;
    }
    return true;
}

/* Record a global in the report (deduplicated per stream, so a flood of
 * identical GLOBAL opcodes costs no report memory) and return its index. */
static int32_t record_global(vm *v, const uint8_t *m, size_t ml, const uint8_t *n, size_t nl,
                             const char *rm, const char *rn, pj_global_origin origin)
{
    uint64_t h = fnv(m, ml, 0xcbf29ce484222325ULL);
    h = fnv("\n", 1, h);
    h = fnv(n, nl, h);
    /* The same bytes resolve differently before and after a PROTO change. */
    uint8_t renamed = rm != NULL;
    h = fnv(&renamed, 1, h);
    h = fnv(&origin, sizeof origin, h);
    if (v->seen_cap) {
        size_t mask = v->seen_cap - 1;
        for (size_t i = h & mask; v->seen[i].index >= 0; i = (i + 1) & mask) {
            const gseen *e = &v->seen[i];
            if (e->hash == h && e->ml == ml && e->nl == nl && e->renamed == renamed &&
                e->origin == (uint8_t)origin && memcmp(e->m, m, ml) == 0 &&
                memcmp(e->n, n, nl) == 0)
                return e->index;
        }
    }
    pj_global g;
    memset(&g, 0, sizeof g);
    g.module = pj_report_escape(v->r, m, ml, true);
    g.name = pj_report_escape(v->r, n, nl, true);
    g.resolved_module = rm ? pj_report_strdup(v->r, rm) : g.module;
    g.resolved_name = rn ? pj_report_strdup(v->r, rn) : g.name;
    if (!g.module || !g.name || !g.resolved_module || !g.resolved_name) {
        oom(v);
        return -1;
    }
    g.stream = v->stream;
    g.offset = v->op_off;
    g.opcode = v->op;
    g.origin = origin;
    int32_t idx = pj_report_add_global(v->r, &g);
    if (idx < 0) {
        oom(v);
        return -1;
    }
    if ((v->seen_len + 1) * 2 > v->seen_cap) {
        size_t ncap = v->seen_cap ? v->seen_cap * 2 : 64;
        gseen *ns = pj_arena_array(&v->a, ncap, sizeof(gseen));
        if (ns == NULL)
            return idx; /* only deduplication is lost */
        for (size_t i = 0; i < ncap; i++)
            ns[i].index = -1;
        for (size_t i = 0; i < v->seen_cap; i++) {
            if (v->seen[i].index < 0)
                continue;
            size_t j = v->seen[i].hash & (ncap - 1);
            while (ns[j].index >= 0)
                j = (j + 1) & (ncap - 1);
            ns[j] = v->seen[i];
        }
        v->seen = ns;
        v->seen_cap = ncap;
    }
    /* The key bytes must outlive this call: input bytes do, others are copied. */
    const uint8_t *km = (const uint8_t *)pj_arena_strndup(&v->a, (const char *)m, ml);
    const uint8_t *kn = (const uint8_t *)pj_arena_strndup(&v->a, (const char *)n, nl);
    if (km == NULL || kn == NULL)
        return idx;
    size_t j = h & (v->seen_cap - 1);
    while (v->seen[j].index >= 0)
        j = (j + 1) & (v->seen_cap - 1);
    v->seen[j] = (gseen){h, km, ml, kn, nl, idx, renamed, (uint8_t)origin};
    v->seen_len++;
    return idx;
}

static pj_val global_value(vm *v, int32_t idx, pj_vkind kind)
{
    pj_val g = mkval(v, kind);
    pj_gref *ref = pj_arena_alloc(&v->a, sizeof *ref);
    if (ref == NULL) {
        oom(v);
        return mkval(v, V_NONE);
    }
    ref->index = idx;
    ref->module = idx >= 0 ? v->r->globals[idx].resolved_module : "?";
    ref->name = kind == V_MODULE ? NULL : (idx >= 0 ? v->r->globals[idx].resolved_name : "?");
    g.u.g = ref;
    return g;
}

/* find_class as CPython applies it: _compat_pickle renames below protocol 3,
 * attribute walks for dotted names from protocol 4. */
static bool find_class(vm *v, const uint8_t *m, size_t ml, const uint8_t *n, size_t nl,
                       pj_global_origin origin, pj_val *out)
{
    const char *rm = NULL, *rn = NULL;
    if (v->proto < 3) {
        for (size_t i = 0; i < sizeof compat_names / sizeof compat_names[0]; i++) {
            if (eqn(compat_names[i].m2, m, ml) && eqn(compat_names[i].n2, n, nl)) {
                rm = compat_names[i].m3;
                rn = compat_names[i].n3;
                break;
            }
        }
        if (rm == NULL) {
            for (size_t i = 0; i < sizeof compat_imports / sizeof compat_imports[0]; i++) {
                if (eqn(compat_imports[i].m2, m, ml)) {
                    rm = compat_imports[i].m3;
                    break;
                }
            }
        }
    }
    int32_t idx = record_global(v, m, ml, n, nl, rm, rn, origin);
    if (idx < 0)
        return false;
    *out = global_value(v, idx, V_GLOBAL);
    if (v->failed)
        return false;
    /* What CPython does next may fail after the import already ran. */
    if (ml == 0)
        return fail(v, PJ_BAD_GLOBAL_NAME, "ValueError: Empty module name");
    if (memchr(m, 0, ml) != NULL)
        return fail(v, PJ_BAD_GLOBAL_NAME, "module name contains a NUL byte");
    if (memchr(n, '.', nl) != NULL) {
        if (v->proto < 4)
            return fail(v, PJ_BAD_GLOBAL_NAME,
                        "dotted name '%s' needs protocol 4 (current %d): getattr fails with "
                        "AttributeError",
                        v->r->globals[idx].name, v->proto);
        /* Attribute walk: each component must be a plain attribute. */
        size_t s = 0;
        for (size_t i = 0; i <= nl; i++) {
            if (i == nl || n[i] == '.') {
                if (i - s == 8 && memcmp(n + s, "<locals>", 8) == 0)
                    return fail(v, PJ_BAD_GLOBAL_NAME, "AttributeError: Can't get local attribute");
                s = i + 1;
            }
        }
    }
    return true;
}

/* ---------- calls ---------- */

static const char *render_str(vm *v, const pj_val *val)
{
    pj_render(val, v->scratch, v->scratch_cap, v->ctx->limits->excerpt_len);
    return pj_report_strdup(v->r, v->scratch);
}

static bool is_global(const pj_val *x, const char *module, const char *name)
{
    return x->kind == V_GLOBAL && strcmp(x->u.g->module, module) == 0 &&
           strcmp(x->u.g->name, name) == 0;
}

static const pj_val *tuple_item(const pj_val *t, uint32_t i)
{
    if (t->kind != V_TUPLE || t->u.seq == NULL || i >= t->u.seq->kept)
        return NULL;
    return &t->u.seq->items[i];
}

static uint64_t tuple_len(const pj_val *t)
{
    return t->kind == V_TUPLE && t->u.seq ? t->u.seq->count : 0;
}

/* Record a call in the report.  Past CALLS_FULL_RECORD, only calls of a
 * callee not called before are kept, so hostile fan-out stays bounded while
 * no new callee is ever hidden. */
static int32_t record_call(vm *v, uint8_t opcode, const pj_val *callee, const pj_val *args,
                           const pj_val *kwargs)
{
    int32_t cg = callee->kind == V_GLOBAL ? callee->u.g->index : -1;
    bool first_call = cg >= 0 && !v->r->globals[cg].called;
    if (cg >= 0)
        v->r->globals[cg].called = true;
    if (v->r->n_calls >= CALLS_FULL_RECORD && !first_call && cg >= 0)
        return -1;
    pj_call c;
    memset(&c, 0, sizeof c);
    c.callee = render_str(v, callee);
    pj_render_args(args, kwargs, v->scratch, v->scratch_cap, v->ctx->limits->excerpt_len);
    c.args = pj_report_strdup(v->r, v->scratch);
    if (c.callee == NULL || c.args == NULL) {
        oom(v);
        return -1;
    }
    c.stream = v->stream;
    c.offset = v->op_off;
    c.opcode = opcode;
    c.callee_global = cg;
    for (int i = 0; i < 4; i++)
        c.arg_globals[i] = -1;
    int k = 0;
    for (uint32_t i = 0; args->kind == V_TUPLE && args->u.seq && i < args->u.seq->kept && k < 4; i++) {
        const pj_val *a = &args->u.seq->items[i];
        if (a->kind == V_GLOBAL && a->u.g->index >= 0)
            c.arg_globals[k++] = a->u.g->index;
    }
    int32_t idx = pj_report_add_call(v->r, &c);
    if (idx < 0)
        oom(v);
    return idx;
}

/* Calls whose result we can name: getattr(x, "n") and __import__("m"). */
static bool derive(vm *v, const pj_val *callee, const pj_val *args, pj_val *out)
{
    if (callee->kind != V_GLOBAL)
        return false;
    const pj_val *a0 = tuple_item(args, 0), *a1 = tuple_item(args, 1);
    if ((is_global(callee, "builtins", "getattr") || is_global(callee, "operator", "getattr")) &&
        tuple_len(args) >= 2 && a0 && a1 && a1->kind == V_STR && !(a1->flags & VF_LONGLEN) &&
        (a0->kind == V_GLOBAL || a0->kind == V_MODULE)) {
        const char *base_m = a0->u.g->module;
        char name[512];
        if (a0->kind == V_GLOBAL)
            snprintf(name, sizeof name, "%s.", a0->u.g->name);
        else
            name[0] = '\0';
        size_t bl = strlen(name);
        size_t nl = a1->len < sizeof name - bl - 1 ? a1->len : sizeof name - bl - 1;
        memcpy(name + bl, a1->u.s, nl);
        name[bl + nl] = '\0';
        int32_t idx = record_global(v, (const uint8_t *)base_m, strlen(base_m),
                                    (const uint8_t *)name, strlen(name), NULL, NULL,
                                    PJ_ORIGIN_DERIVED);
        if (idx < 0)
            return false;
        *out = global_value(v, idx, V_GLOBAL);
        return true;
    }
    if ((is_global(callee, "builtins", "__import__") ||
         is_global(callee, "importlib", "import_module")) &&
        a0 && a0->kind == V_STR && !(a0->flags & VF_LONGLEN)) {
        int32_t idx = record_global(v, a0->u.s, a0->len, (const uint8_t *)"", 0, NULL, NULL,
                                    PJ_ORIGIN_DERIVED);
        if (idx < 0)
            return false;
        *out = global_value(v, idx, V_MODULE);
        return true;
    }
    return false;
}

/* The bytes a value stands for, when the simulator can know them: bytes
 * literals, _codecs.encode(str, 'latin1') (how protocol 2 writes bytes) and
 * io.BytesIO(those). */
static bool known_bytes(vm *v, const pj_val *x, const uint8_t **data, size_t *len, int depth)
{
    if ((x->kind == V_BYTES || x->kind == V_BYTEARRAY) && !(x->flags & VF_LONGLEN)) {
        *data = x->u.s;
        *len = x->len;
        return true;
    }
    if (x->kind != V_CALL || depth > 2)
        return false;
    const pj_val *callee = &x->u.call->callee;
    const pj_val *a0 = tuple_item(&x->u.call->args, 0);
    if (a0 == NULL)
        return false;
    if (is_global(callee, "io", "BytesIO") || is_global(callee, "_io", "BytesIO"))
        return known_bytes(v, a0, data, len, depth + 1);
    const pj_val *a1 = tuple_item(&x->u.call->args, 1);
    if (is_global(callee, "_codecs", "encode") && a0->kind == V_STR && !(a0->flags & VF_LONGLEN) &&
        a1 != NULL && (pj_val_str_eq(a1, "latin1") || pj_val_str_eq(a1, "latin-1"))) {
        uint8_t *out = pj_arena_alloc(&v->a, a0->len ? a0->len : 1);
        if (out == NULL)
            return false;
        size_t n = 0;
        for (size_t i = 0; i < a0->len;) {
            uint8_t c = a0->u.s[i];
            if (c < 0x80) {
                out[n++] = c;
                i++;
            } else if ((c & 0xE0) == 0xC0 && c <= 0xC3 && i + 1 < a0->len) {
                out[n++] = (uint8_t)(((c & 0x03) << 6) | (a0->u.s[i + 1] & 0x3F));
                i += 2;
            } else {
                return false; /* not Latin-1: encode would fail */
            }
        }
        *data = out;
        *len = n;
        return true;
    }
    return false;
}

/* pickle.loads(b'...') runs a pickle inside the pickle: scan it too. */
static void scan_nested_pickle(vm *v, const pj_val *callee, const pj_val *args)
{
    static const char *const loaders[][2] = {
        {"pickle", "loads"}, {"_pickle", "loads"}, {"pickle", "_loads"}, {"pickle", "load"},
        {"_pickle", "load"}, {"pickle", "_load"}, {"dill", "loads"}, {"cloudpickle", "loads"},
        {"dill._dill", "loads"}, {"joblib", "load"}, {"torch", "load"}, {"numpy", "loads"}};
    if (callee->kind != V_GLOBAL)
        return;
    bool is_loader = false;
    for (size_t i = 0; i < sizeof loaders / sizeof loaders[0] && !is_loader; i++)
        is_loader = is_global(callee, loaders[i][0], loaders[i][1]);
    const pj_val *a0 = tuple_item(args, 0);
    const uint8_t *data;
    size_t len;
    if (!is_loader || a0 == NULL || !known_bytes(v, a0, &data, &len, 0))
        return;
    if (v->ctx->depth + 1 > v->ctx->limits->max_container_depth) {
        pj_report_finding(v->r, PJ_NESTING_DEPTH, v->stream, v->op_off,
                          "pickle nested in a pickle deeper than %" PRIu32 " levels is not scanned",
                          v->ctx->limits->max_container_depth);
        return;
    }
    char loc[300];
    snprintf(loc, sizeof loc, "%s%s%s.%s@%zu", v->location, v->location[0] ? ">" : "",
             callee->u.g->module, callee->u.g->name, v->op_off);
    v->ctx->depth++;
    pj_scan_pickles(v->ctx, data, len, loc, 0);
    v->ctx->depth--;
}

static bool do_call(vm *v, uint8_t opcode, pj_val callee, pj_val args, pj_val kwargs)
{
    int32_t ci = record_call(v, opcode, &callee, &args, &kwargs);
    if (v->failed)
        return false;
    scan_nested_pickle(v, &callee, &args);
    pj_val res;
    if (derive(v, &callee, &args, &res)) {
        return !v->failed && push(v, res);
    }
    if (v->failed)
        return false;
    pj_callnode *c = pj_arena_alloc(&v->a, sizeof *c);
    if (c == NULL)
        return oom(v);
    c->callee = callee;
    c->args = args;
    c->kwargs = kwargs;
    c->call_index = ci;
    c->opcode = opcode;
    res = mkval(v, V_CALL);
    res.u.call = c;
    return push(v, res);
}

/* ---------- joblib ---------- */

/* Item size of a numpy dtype string such as "<f8", "|u1", "<U10", "V48". */
static bool dtype_itemsize(const pj_val *s, uint64_t *size, bool *object)
{
    if (s->kind != V_STR || s->len == 0 || s->len > 32)
        return false;
    const char *p = (const char *)s->u.s;
    size_t n = s->len;
    if (*p == '<' || *p == '>' || *p == '|' || *p == '=') {
        p++;
        n--;
    }
    if (n == 0)
        return false;
    char kind = *p++;
    n--;
    uint64_t num = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9' || num > 1000000000)
            return false;
        num = num * 10 + (uint64_t)(p[i] - '0');
    }
    *object = false;
    switch (kind) {
    case 'O': *object = true; *size = 8; return true;
    case 'U': *size = num * 4; return n > 0;
    case 'b': case 'i': case 'u': case 'f': case 'c': case 'S': case 'V': case 'M': case 'm':
        *size = num;
        return n > 0;
    case '?': *size = 1; return true;
    default: return false;
    }
}

static bool is_array_wrapper(const pj_val *obj)
{
    if (obj->kind != V_CALL)
        return false;
    const pj_val *c = &obj->u.call->callee;
    return is_global(c, "joblib.numpy_pickle", "NumpyArrayWrapper") ||
           is_global(c, "sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper");
}

/* joblib writes each array's bytes raw right after the wrapper's BUILD; its
 * unpickler reads them from the file (after the current frame) and pushes
 * the array.  Object arrays are a nested pickle at that point instead. */
static bool joblib_array(vm *v, const pj_val *state)
{
    const pj_val *shape = dict_get(state, "shape");
    const pj_val *dtype = dict_get(state, "dtype");
    const pj_val *align = dict_get(state, "numpy_array_alignment_bytes");
    uint64_t itemsize = 0;
    bool object = false;
    const pj_val *dstr = NULL;
    if (dtype && dtype->kind == V_CALL && is_global(&dtype->u.call->callee, "numpy", "dtype"))
        dstr = tuple_item(&dtype->u.call->args, 0);
    if (dtype && (dtype->kind == V_CALL) && dstr == NULL && dtype->u.call->callee.kind == V_GLOBAL &&
        strcmp(dtype->u.call->callee.u.g->name, "dtype") == 0)
        dstr = tuple_item(&dtype->u.call->args, 0);
    if (shape == NULL || shape->kind != V_TUPLE || dstr == NULL ||
        !dtype_itemsize(dstr, &itemsize, &object))
        return fail(v, PJ_JOBLIB_ARRAY,
                    "NumpyArrayWrapper state without a readable shape and dtype: cannot step "
                    "over the raw array data that follows");
    /* joblib reads from the file, after whatever is left of the frame. */
    if (!v->linear && v->pos < v->buf_end)
        v->pos = v->buf_end;
    if (object) {
        size_t end = v->pos;
        char loc[64];
        snprintf(loc, sizeof loc, "%s[array@%zu]", v->location, v->pos);
        if (v->ctx->depth + 1 > v->ctx->limits->max_container_depth)
            return fail(v, PJ_NESTING_DEPTH, "nested object-array pickles too deep");
        v->ctx->depth++;
        bool ok = pj_scan_one_pickle(v->ctx, v->d, v->len, v->pos, loc, 0, &end);
        v->ctx->depth--;
        if (!ok)
            return fail(v, PJ_JOBLIB_ARRAY, "object array pickle at offset %zu is broken", v->pos);
        v->pos = end;
        v->buf_end = v->linear ? v->len : v->pos;
    } else {
        uint64_t count = 1;
        if (shape->u.seq == NULL || shape->u.seq->count > shape->u.seq->kept)
            return fail(v, PJ_JOBLIB_ARRAY, "array shape has too many dimensions to read");
        for (uint32_t i = 0; i < shape->u.seq->kept; i++) {
            const pj_val *d = &shape->u.seq->items[i];
            if (d->kind != V_INT || d->u.i < 0)
                return fail(v, PJ_JOBLIB_ARRAY, "array shape is not a tuple of sizes");
            if (d->u.i != 0 && count > UINT64_MAX / (uint64_t)d->u.i)
                return fail(v, PJ_JOBLIB_ARRAY, "array size overflows");
            count *= (uint64_t)d->u.i;
        }
        if (itemsize != 0 && count > UINT64_MAX / itemsize)
            return fail(v, PJ_JOBLIB_ARRAY, "array byte size overflows");
        uint64_t nbytes = count * itemsize;
        if (align != NULL && align->kind != V_NONE) {
            if (v->pos >= v->len)
                return fail(v, PJ_JOBLIB_ARRAY, "array padding missing (data truncated)");
            uint8_t pad = v->d[v->pos];
            v->pos += 1;
            if (pad > v->len - v->pos)
                return fail(v, PJ_JOBLIB_ARRAY, "array padding runs past the end");
            v->pos += pad;
        }
        if (nbytes > v->len - v->pos)
            return fail(v, PJ_JOBLIB_ARRAY,
                        "array of %" PRIu64 " bytes runs past the end of the data (%zu left)",
                        nbytes, v->len - v->pos);
        v->pos += (size_t)nbytes;
        v->buf_end = v->linear ? v->len : v->pos;
    }
    pj_val arr = mkval(v, V_ARRAY);
    pj_val w;
    if (!pop(v, &w))
        return false;
    return push(v, arr);
}

/* ---------- BUILD ---------- */

/* The class an object was made from: NEWOBJ/REDUCE callee, or the class
 * copyreg._reconstructor rebuilds (protocols 0 and 1). */
static const pj_gref *object_class(const pj_val *obj)
{
    if (obj->kind != V_CALL || obj->u.call->callee.kind != V_GLOBAL)
        return NULL;
    const pj_val *callee = &obj->u.call->callee;
    if (is_global(callee, "copyreg", "_reconstructor")) {
        const pj_val *cls = tuple_item(&obj->u.call->args, 0);
        return cls && cls->kind == V_GLOBAL ? cls->u.g : NULL;
    }
    return callee->u.g;
}

static void note_sklearn(vm *v, const pj_val *target, const pj_val *ver)
{
    char vs[65];
    size_t n = ver->len < 64 ? ver->len : 64;
    for (size_t i = 0; i < n; i++)
        vs[i] = (ver->u.s[i] >= 0x20 && ver->u.s[i] < 0x7f && ver->u.s[i] != ':') ? (char)ver->u.s[i] : '?';
    vs[n] = '\0';
    if (pj_report_get_meta(v->r, "sklearn.version") == NULL)
        pj_report_add_meta(v->r, "sklearn.version", vs);
    size_t count = 0;
    for (size_t i = 0; i < v->r->n_meta; i++)
        count += strncmp(v->r->meta_keys[i], "sklearn.estimator.", 18) == 0;
    if (count >= 64)
        return;
    const pj_gref *cls = object_class(target);
    char key[48], val[600];
    snprintf(key, sizeof key, "sklearn.estimator.%zu", count);
    snprintf(val, sizeof val, "%d:%zu:%s:%s%s%s", (int)v->stream, v->op_off, vs,
             cls ? cls->module : "?", cls ? "." : "", cls ? cls->name : "");
    pj_report_add_meta(v->r, key, val);
}

static bool do_build(vm *v)
{
    pj_val state, *inst;
    if (!pop(v, &state))
        return false;
    inst = top(v);
    if (inst == NULL)
        return false;
    pj_val none = mkval(v, V_NONE);
    pj_val args = mkval(v, V_TUPLE);
    pj_seq *s = new_seq(v);
    if (s == NULL)
        return false;
    seq_reserve(v, s, V_TUPLE, 1);
    seq_add(s, &state);
    args.u.seq = s;
    pj_val target = *inst;
    /* Plain values have no __setstate__ and no __dict__ to update: CPython
     * calls nothing for them (and fails later for non-None state). */
    if (target.kind == V_CALL || target.kind == V_GLOBAL || target.kind == V_MODULE ||
        target.kind == V_PERSID || target.kind == V_ARRAY) {
        record_call(v, OP_BUILD, &target, &args, &none);
        if (v->failed)
            return false;
    }
    if (target.kind == V_CALL) {
        target.u.call->state = state;
        target.u.call->built = 1;
    }
    const pj_val *ver = dict_get(&state, "_sklearn_version");
    if (ver != NULL && ver->kind == V_STR)
        note_sklearn(v, &target, ver);
    if (is_array_wrapper(&target))
        return joblib_array(v, &state);
    return true;
}

/* ---------- persistent ids ---------- */

static void note_location(vm *v, const pj_val *loc)
{
    char l[64];
    size_t n = loc->len < sizeof l - 1 ? loc->len : sizeof l - 1;
    for (size_t i = 0; i < n; i++)
        l[i] = (loc->u.s[i] >= 0x20 && loc->u.s[i] < 0x7f && loc->u.s[i] != ',') ? (char)loc->u.s[i] : '?';
    l[n] = '\0';
    if (strcmp(l, "cpu") != 0 && !v->has_storage_device) {
        v->has_storage_device = true;
        v->storage_device_offset = v->op_off;
    }
    /* distinct, first-seen order, comma separated */
    const char *p = v->storage_locations;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, l, n) == 0)
            return;
        p = e ? e + 1 : p + len;
    }
    size_t used = strlen(v->storage_locations);
    if (used + n + 2 < sizeof v->storage_locations)
        snprintf(v->storage_locations + used, sizeof v->storage_locations - used, "%s%s",
                 used ? "," : "", l);
}

static bool do_persid(vm *v, pj_val pid)
{
    if (v->persids++ == 0)
        v->persid_offset = v->op_off;
    const pj_val *tag = tuple_item(&pid, 0);
    /* ('storage', type, key, location, numel) in zip checkpoints; legacy
     * files add view metadata as a sixth item. */
    if (tag != NULL && pj_val_str_eq(tag, "storage") &&
        (tuple_len(&pid) == 5 || tuple_len(&pid) == 6)) {
        const pj_val *loc = tuple_item(&pid, 3);
        if (loc && loc->kind == V_STR)
            note_location(v, loc);
        if (loc && loc->kind == V_STR) {
            const char *ls = pj_report_escape(v->r, loc->u.s, loc->len < 64 ? loc->len : 64, false);
            bool seen = false;
            for (size_t i = 0; ls && i < v->r->n_meta; i++)
                if (strcmp(v->r->meta_keys[i], "torch.storage.location") == 0 &&
                    strcmp(v->r->meta_values[i], ls) == 0)
                    seen = true;
            if (ls && !seen)
                pj_report_add_meta(v->r, "torch.storage.location", ls);
        }
    } else if (tag != NULL && pj_val_str_eq(tag, "module") && tuple_len(&pid) == 4 &&
               tuple_item(&pid, 1) && tuple_item(&pid, 1)->kind == V_GLOBAL) {
        /* Legacy torch.save of a whole module: ('module', class, source file,
         * source); torch's persistent_load compares the source text and
         * returns the class, which is reported as a global already. */
        return push(v, *tuple_item(&pid, 1));
    } else {
        const char *txt = render_str(v, &pid);
        pj_report_finding(v->r, PJ_PERSISTENT_ID, v->stream, v->op_off,
                          "%s at offset %zu: persistent id %s is not a PyTorch storage; "
                          "the loader's persistent_load decides what it becomes",
                          pj_opcode_table[v->op].name, v->op_off, txt ? txt : "?");
    }
    pj_callnode *c = pj_arena_alloc(&v->a, sizeof *c);
    if (c == NULL)
        return oom(v);
    c->args = pid;
    c->call_index = -1;
    c->opcode = v->op;
    pj_val res = mkval(v, V_PERSID);
    res.u.call = c;
    return push(v, res);
}

/* ---------- literals ---------- */

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int digit_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

/* Python's int(s, base) for base 0 or 10 (PyLong_FromString): surrounding
 * whitespace, a sign, 0x/0o/0b prefixes for base 0, single underscores
 * between digits, no leading zeros in base-0 decimals.  Sets *big when the
 * value does not fit in int64. */
static bool py_int(const uint8_t *s, size_t n, int base, int64_t *out, bool *big)
{
    size_t i = 0, l = n;
    while (i < l && is_space(s[i]))
        i++;
    while (l > i && is_space(s[l - 1]))
        l--;
    bool neg = false;
    if (i < l && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    int b = base;
    if (base == 0) {
        b = 10;
        if (l - i >= 2 && s[i] == '0') {
            uint8_t c = s[i + 1] | 0x20;
            if (c == 'x')
                b = 16;
            else if (c == 'o')
                b = 8;
            else if (c == 'b')
                b = 2;
            if (b != 10) {
                i += 2;
                if (i < l && s[i] == '_')
                    i++;
            }
        }
    }
    if (i >= l)
        return false;
    size_t first = i;
    uint64_t acc = 0;
    *big = false;
    bool prev_us = false, all_zero = true;
    for (; i < l; i++) {
        if (s[i] == '_') {
            if (prev_us || i == first)
                return false;
            prev_us = true;
            continue;
        }
        prev_us = false;
        int dv = digit_value(s[i]);
        if (dv >= b)
            return false;
        if (dv != 0)
            all_zero = false;
        if (acc > (UINT64_MAX - (uint64_t)dv) / (uint64_t)b)
            *big = true;
        else
            acc = acc * (uint64_t)b + (uint64_t)dv;
    }
    if (prev_us)
        return false;
    if (base == 0 && b == 10 && s[first] == '0' && !all_zero)
        return false;
    if (acc > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        *big = true;
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return true;
}

/* strtol(s, &end, 0) as load_int uses it first: accepted when it stops at
 * the end of the line or at a NUL byte and did not overflow. */
static bool c_strtol0(const uint8_t *s, size_t n, int64_t *out)
{
    /* No digits: strtol leaves endptr at the start, which load_int accepts
     * (as 0) when the line is empty or starts with a NUL. */
    if (n == 0) {
        *out = 0;
        return true;
    }
    size_t i = 0;
    while (i < n && is_space(s[i]))
        i++;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    int b = 10;
    if (i < n && s[i] == '0') {
        if (i + 2 < n && (s[i + 1] | 0x20) == 'x' && digit_value(s[i + 2]) < 16) {
            b = 16;
            i += 2;
        } else {
            b = 8;
        }
    }
    size_t start = i;
    uint64_t acc = 0;
    for (; i < n; i++) {
        int dv = digit_value(s[i]);
        if (dv >= b)
            break;
        if (acc > ((uint64_t)INT64_MAX - (uint64_t)dv) / (uint64_t)b)
            return false; /* overflow: CPython falls back to int() */
        acc = acc * (uint64_t)b + (uint64_t)dv;
    }
    if (i == start)
        return false;
    if (i < n && s[i] != '\0')
        return false;
    *out = neg ? -(int64_t)acc : (int64_t)acc;
    return true;
}

/* INT (base 0 via strtol, then int(s, 0)), LONG (int(s, 0) after dropping
 * one trailing 'L'), and memo keys (int(s, 10)). */
enum { INT_OPCODE, INT_LONG, INT_MEMO };

static bool parse_int_line(vm *v, const uint8_t *s, size_t n, pj_val *out, int mode)
{
    int64_t val;
    bool big = false;
    /* CPython hands the line to strtol/PyLong_FromString as a C string:
     * a NUL byte ends it. */
    const uint8_t *nul = memchr(s, 0, n);
    if (nul != NULL)
        n = (size_t)(nul - s);
    if (mode == INT_OPCODE && c_strtol0(s, n, &val)) {
        *out = mkval(v, V_INT);
        out->u.i = val;
        return true;
    }
    size_t l = n;
    if (mode == INT_LONG && l > 0 && s[l - 1] == 'L')
        l--;
    if (!py_int(s, l, mode == INT_MEMO ? 10 : 0, &val, &big))
        return fail(v, PJ_BAD_LITERAL, "invalid literal for int() with base %d",
                    mode == INT_MEMO ? 10 : 0);
    if (!big) {
        *out = mkval(v, V_INT);
        out->u.i = val;
    } else {
        *out = mkval(v, V_BIGINT);
        out->u.s = s;
        out->len = (uint32_t)(l > UINT32_MAX ? UINT32_MAX : l);
    }
    return true;
}

static pj_val str_val(vm *v, pj_vkind kind, const uint8_t *s, uint64_t n)
{
    pj_val x = mkval(v, kind);
    x.u.s = s;
    if (n > UINT32_MAX) {
        x.len = UINT32_MAX;
        x.flags |= VF_LONGLEN;
    } else {
        x.len = (uint32_t)n;
    }
    return x;
}

/* STRING: quoted, with Python 2 string escapes (PyBytes_DecodeEscape). */
static bool decode_string_nl(vm *v, const uint8_t *s, size_t n, pj_val *out)
{
    /* CPython strips trailing whitespace? No: it requires matching quotes. */
    if (n < 2 || s[0] != s[n - 1] || (s[0] != '\'' && s[0] != '"'))
        return fail(v, PJ_BAD_LITERAL, "the STRING opcode argument must be quoted");
    s++;
    n -= 2;
    uint8_t *o = pj_arena_alloc(&v->a, n + 1);
    if (o == NULL)
        return oom(v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c != '\\') {
            o[k++] = c;
            continue;
        }
        if (++i >= n)
            return fail(v, PJ_BAD_LITERAL, "Trailing \\ in string");
        c = s[i];
        switch (c) {
        case '\n': break;
        case '\\': o[k++] = '\\'; break;
        case '\'': o[k++] = '\''; break;
        case '"': o[k++] = '"'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 't': o[k++] = '\t'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 'v': o[k++] = '\v'; break;
        case 'a': o[k++] = '\a'; break;
        case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
            unsigned val = (unsigned)(c - '0');
            for (int d = 0; d < 2 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; d++)
                val = val * 8 + (unsigned)(s[++i] - '0');
            o[k++] = (uint8_t)val;
            break;
        }
        case 'x': {
            unsigned val = 0;
            for (int d = 0; d < 2; d++) {
                if (i + 1 >= n)
                    return fail(v, PJ_BAD_LITERAL, "invalid \\x escape");
                uint8_t h = s[++i];
                int hv = (h >= '0' && h <= '9') ? h - '0'
                         : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                         : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
                if (hv < 0)
                    return fail(v, PJ_BAD_LITERAL, "invalid \\x escape");
                val = val * 16 + (unsigned)hv;
            }
            o[k++] = (uint8_t)val;
            break;
        }
        default:
            o[k++] = '\\';
            o[k++] = c;
            break;
        }
    }
    *out = str_val(v, V_STR, o, k);
    return true;
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* UNICODE: raw-unicode-escape (only \uXXXX and \UXXXXXXXX are escapes;
 * other bytes are Latin-1 code points). */
static bool decode_unicode_nl(vm *v, const uint8_t *s, size_t n, pj_val *out)
{
    if (n > (SIZE_MAX - 1) / 4)
        return oom(v);
    uint8_t *o = pj_arena_alloc(&v->a, n * 4 + 1);
    if (o == NULL)
        return oom(v);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '\\' && i + 1 < n && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
            /* CPython's decoder treats every backslash directly before u/U
             * as an escape, whatever precedes it. */
            {
                int digits = s[i + 1] == 'u' ? 4 : 8;
                if (i + 2 + (size_t)digits > n)
                    return fail(v, PJ_BAD_ENCODING, "truncated \\uXXXX escape");
                uint32_t cp = 0;
                for (int d = 0; d < digits; d++) {
                    uint8_t h = s[i + 2 + (size_t)d];
                    int hv = (h >= '0' && h <= '9') ? h - '0'
                             : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                             : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
                    if (hv < 0)
                        return fail(v, PJ_BAD_ENCODING, "truncated \\uXXXX escape");
                    cp = cp * 16 + (uint32_t)hv;
                }
                if (cp > 0x10FFFF)
                    return fail(v, PJ_BAD_ENCODING, "\\Uxxxxxxxx out of range");
                k += put_utf8(o + k, cp);
                i += 1 + (size_t)digits;
                continue;
            }
        }
        k += put_utf8(o + k, c);
    }
    *out = str_val(v, V_STR, o, k);
    return true;
}

/* ---------- the loop ---------- */

static bool collect_mark(vm *v, pj_vkind kind, pj_val *out)
{
    size_t start = 0;
    if (!marker(v, &start))
        return false;
    return collect(v, kind, start, out);
}

static bool maybe_object(const pj_val *x);

static bool add_items(vm *v, pj_val *target, size_t start, bool pairs)
{
    if (start == v->sp)
        return true; /* CPython: nothing to add is a no-op on any object */
    if (pairs && (v->sp - start) % 2 != 0)
        return fail(v, PJ_ODD_ITEMS, "odd number of items for SETITEMS");
    /* Where CPython raises, the load stops: a list takes APPEND(S) only
     * (dicts and sets have no append/extend: AttributeError), a dict takes
     * SETITEM(S) (a set refuses item assignment: TypeError; a list only with
     * integer indexes, which never grows it), and ADDITEMS calls .add() on
     * anything but a set (lists and dicts have none).  Index ranges are not
     * judged: calls we do not run may have grown the list. */
    if (v->op == OP_ADDITEMS && (target->kind == V_LIST || target->kind == V_DICT))
        return fail(v, PJ_BAD_OPERAND_TYPE, "ADDITEMS target has no add()");
    bool appending = v->op == OP_APPEND || v->op == OP_APPENDS;
    if (appending && (target->kind == V_DICT || target->kind == V_SET))
        return fail(v, PJ_BAD_OPERAND_TYPE, "%s target has no append() (a %s)",
                    pj_opcode_table[v->op].name, target->kind == V_DICT ? "dict" : "set");
    if (pairs && target->kind == V_SET)
        return fail(v, PJ_BAD_OPERAND_TYPE, "%s on a set: no item assignment",
                    pj_opcode_table[v->op].name);
    if (pairs && target->kind == V_LIST) {
        for (size_t i = start; i < v->sp; i += 2) {
            const pj_val *k = &v->stack[i];
            if (k->kind != V_INT && k->kind != V_BOOL && !maybe_object(k))
                return fail(v, PJ_BAD_OPERAND_TYPE, "%s on a list with a non-integer index",
                            pj_opcode_table[v->op].name);
        }
        v->sp = start; /* replaces elements: nothing new to keep */
        return true;
    }
    if (target->kind == V_DICT && target->u.seq == NULL && pairs && has_key_of_interest(v, start, v->sp)) {
        /* A summary-only dict receiving state keys: give this copy a body. */
        target->u.seq = new_seq(v);
        if (target->u.seq == NULL)
            return false;
    }
    if ((target->kind == V_LIST || target->kind == V_DICT || target->kind == V_SET) &&
        target->u.seq != NULL) {
        pj_seq *s = target->u.seq;
        seq_reserve(v, s, (pj_vkind)target->kind, v->sp - start);
        if (pairs) {
            for (size_t i = start; i + 1 < v->sp; i += 2)
                dict_add_pair(v, s, &v->stack[i], &v->stack[i + 1]);
        } else {
            for (size_t i = start; i < v->sp; i++)
                seq_add(s, &v->stack[i]);
        }
        note_shape(v, s);
    } else if (target->kind == V_TUPLE || target->kind == V_FROZENSET || target->kind == V_STR ||
               target->kind == V_INT || target->kind == V_NONE || target->kind == V_BOOL ||
               target->kind == V_BYTES || target->kind == V_FLOAT) {
        return fail(v, PJ_BAD_OPERAND_TYPE, "cannot add items to a %s",
                    target->kind == V_TUPLE ? "tuple" : "non-container");
    }
    /* Other targets (objects made by calls) get append/extend/__setitem__
     * calls in CPython; their class was already reported. */
    v->sp = start;
    return true;
}

/* Python 3 decodes STRING/BINSTRING with the loader's encoding (ASCII by
 * default): non-ASCII bytes need encoding='latin1' or 'bytes'. */
static void note_py2_string(vm *v, const uint8_t *p, size_t n)
{
    const uint8_t *hi = NULL;
    for (size_t i = 0; i < n && hi == NULL; i++)
        if (p[i] >= 0x80)
            hi = p + i;
    if (hi == NULL)
        return;
    if (v->py2_strings++ == 0) {
        v->py2_offset = v->op_off;
        v->py2_pos = (size_t)(hi - p);
        v->py2_byte = *hi;
    }
}

/* Values of unknown type (made by calls, globals, persistent ids) may be
 * anything, including a tuple. */
static bool maybe_object(const pj_val *x)
{
    return x->kind == V_CALL || x->kind == V_GLOBAL || x->kind == V_PERSID || x->kind == V_ARRAY;
}

static bool maybe_tuple(const pj_val *x) { return x->kind == V_TUPLE || maybe_object(x); }

/* The count of LONG1/LONG4 and SHORT_BINSTRING/BINSTRING: one unsigned
 * byte, or a signed 4-byte int that must not be negative. */
static bool read_small_count(vm *v, bool one_byte, const char *what, uint64_t *cnt)
{
    const uint8_t *p = NULL;
    if (!rd(v, one_byte ? 1 : 4, &p))
        return false;
    if (one_byte) {
        *cnt = p[0];
        return true;
    }
    int32_t sc = (int32_t)(uint32_t)le(p, 4);
    if (sc < 0)
        return fail(v, PJ_BAD_LENGTH, "%s pickle has negative byte count", what);
    *cnt = (uint64_t)sc;
    return true;
}

static bool step(vm *v)
{
    const uint8_t *p = NULL;
    size_t n;
    pj_val x, y, z;
    const pj_opinfo *info = &pj_opcode_table[v->op];
    if (info->proto > v->max_opcode_proto) {
        v->max_opcode_proto = info->proto;
        v->max_opcode_offset = v->op_off;
    }

    switch (v->op) {
    case OP_MARK: return push_mark(v);
    case OP_STOP: return true; /* handled by the caller */
    case OP_POP:
        if (v->nmarks > 0 && v->marks[v->nmarks - 1] == v->sp) {
            v->nmarks--;
            v->fence = v->nmarks ? v->marks[v->nmarks - 1] : 0;
            return true;
        }
        return pop(v, &x);
    case OP_POP_MARK: {
        size_t start = 0;
        if (!marker(v, &start))
            return false;
        v->sp = start;
        return true;
    }
    case OP_DUP: {
        pj_val *t = top(v);
        return t && push(v, *t);
    }
    case OP_FLOAT: {
        if (!rdline(v, &p, &n))
            return false;
        char buf[128];
        if (n == 0 || n >= sizeof buf)
            return fail(v, PJ_BAD_LITERAL, "could not convert string to float");
        memcpy(buf, p, n);
        buf[n] = '\0';
        char *end;
        double f = strtod(buf, &end);
        if (end == buf || *end != '\0')
            return fail(v, PJ_BAD_LITERAL, "could not convert string to float");
        x = mkval(v, V_FLOAT);
        x.u.f = f;
        return push(v, x);
    }
    case OP_INT:
        if (!rdline(v, &p, &n))
            return false;
        if (!parse_int_line(v, p, n, &x, INT_OPCODE))
            return false;
        /* load_int: a two-character line holding 0 or 1 is a bool (I00, I01). */
        if (n == 2 && x.kind == V_INT && (x.u.i == 0 || x.u.i == 1)) {
            x.kind = V_BOOL;
            return push(v, x);
        }
        return push(v, x);
    case OP_LONG:
        if (!rdline(v, &p, &n))
            return false;
        return parse_int_line(v, p, n, &x, INT_LONG) && push(v, x);
    case OP_BININT:
        if (!rd(v, 4, &p))
            return false;
        x = mkval(v, V_INT);
        x.u.i = (int32_t)(uint32_t)le(p, 4);
        return push(v, x);
    case OP_BININT1:
    case OP_BININT2:
        if (!rd(v, v->op == OP_BININT1 ? 1 : 2, &p))
            return false;
        x = mkval(v, V_INT);
        x.u.i = (int64_t)le(p, v->op == OP_BININT1 ? 1 : 2);
        return push(v, x);
    case OP_LONG1:
    case OP_LONG4: {
        uint64_t cnt;
        if (!read_small_count(v, v->op == OP_LONG1, "LONG", &cnt) || !rd(v, (size_t)cnt, &p))
            return false;
        if (cnt <= 8) {
            uint64_t u = cnt ? le(p, (int)cnt) : 0;
            if (cnt > 0 && cnt < 8 && (p[cnt - 1] & 0x80))
                u |= ~(uint64_t)0 << (cnt * 8);
            x = mkval(v, V_INT);
            x.u.i = (int64_t)u;
        } else {
            x = str_val(v, V_BIGINT, p, cnt);
            x.flags |= VF_BINARY;
        }
        return push(v, x);
    }
    case OP_NONE: return push(v, mkval(v, V_NONE));
    case OP_NEWTRUE:
    case OP_NEWFALSE:
        x = mkval(v, V_BOOL);
        x.u.i = v->op == OP_NEWTRUE;
        return push(v, x);
    case OP_STRING:
        if (!rdline(v, &p, &n))
            return false;
        if (!decode_string_nl(v, p, n, &x))
            return false;
        note_py2_string(v, x.u.s, x.len);
        return push(v, x);
    case OP_BINSTRING:
    case OP_SHORT_BINSTRING: {
        uint64_t cnt;
        if (!read_small_count(v, v->op == OP_SHORT_BINSTRING, "BINSTRING", &cnt) ||
            !rd(v, (size_t)cnt, &p))
            return false;
        /* Python 3 decodes these with the loader's encoding (ASCII by
         * default): non-ASCII needs encoding='latin1' or 'bytes'. */
        note_py2_string(v, p, (size_t)cnt);
        return push(v, str_val(v, V_STR, p, cnt));
    }
    case OP_BINBYTES:
    case OP_SHORT_BINBYTES:
    case OP_BINBYTES8:
    case OP_BYTEARRAY8:
    case OP_BINUNICODE:
    case OP_SHORT_BINUNICODE:
    case OP_BINUNICODE8: {
        int w = (v->op == OP_SHORT_BINBYTES || v->op == OP_SHORT_BINUNICODE) ? 1
                : (v->op == OP_BINBYTES || v->op == OP_BINUNICODE) ? 4 : 8;
        if (!rd(v, (size_t)w, &p))
            return false;
        uint64_t cnt = le(p, w);
        if (cnt > (uint64_t)INT64_MAX)
            return fail(v, PJ_BAD_LENGTH, "%s exceeds system's maximum size", info->name);
        bool counted_bytes = v->op == OP_BINBYTES || v->op == OP_SHORT_BINBYTES ||
                             v->op == OP_BINBYTES8 || v->op == OP_BYTEARRAY8;
        if (cnt > SIZE_MAX ||
            !(counted_bytes ? rd_into(v, (size_t)cnt, &p) : rd(v, (size_t)cnt, &p)))
            return v->failed ? false : fail(v, PJ_TRUNCATED, "pickle data was truncated");
        pj_vkind k = (v->op == OP_BINUNICODE || v->op == OP_SHORT_BINUNICODE ||
                      v->op == OP_BINUNICODE8) ? V_STR
                     : v->op == OP_BYTEARRAY8 ? V_BYTEARRAY : V_BYTES;
        /* Large payloads are referenced in place, never copied; validate
         * UTF-8 (surrogatepass, as CPython) only where it could matter. */
        if (k == V_STR && cnt <= (1u << 20) && !valid_utf8(p, (size_t)cnt, true))
            return fail(v, PJ_BAD_ENCODING, "'utf-8' codec can't decode bytes");
        return push(v, str_val(v, k, p, cnt));
    }
    case OP_NEXT_BUFFER:
        pj_report_finding(v->r, PJ_OUT_OF_BAND_BUFFER, v->stream, v->op_off,
                          "NEXT_BUFFER at offset %zu: the pickle refers to out-of-band data; "
                          "loading needs buffers=", v->op_off);
        return push(v, mkval(v, V_BUFFER));
    case OP_READONLY_BUFFER: return top(v) != NULL;
    case OP_UNICODE:
        if (!rdline(v, &p, &n))
            return false;
        return decode_unicode_nl(v, p, n, &x) && push(v, x);
    case OP_BINFLOAT: {
        if (!rd(v, 8, &p))
            return false;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = (bits << 8) | p[i];
        double f;
        memcpy(&f, &bits, sizeof f);
        x = mkval(v, V_FLOAT);
        x.u.f = f;
        return push(v, x);
    }
    case OP_EMPTY_LIST:
    case OP_EMPTY_DICT:
    case OP_EMPTY_SET:
    case OP_EMPTY_TUPLE: {
        x = mkval(v, v->op == OP_EMPTY_LIST ? V_LIST : v->op == OP_EMPTY_DICT ? V_DICT
                     : v->op == OP_EMPTY_SET ? V_SET : V_TUPLE);
        if (summary_only(v, (pj_vkind)x.kind))
            return push(v, x);
        x.u.seq = new_seq(v);
        return x.u.seq && push(v, x);
    }
    case OP_LIST: return collect_mark(v, V_LIST, &x) && push(v, x);
    case OP_TUPLE: return collect_mark(v, V_TUPLE, &x) && push(v, x);
    case OP_DICT: return collect_mark(v, V_DICT, &x) && push(v, x);
    case OP_FROZENSET: return collect_mark(v, V_FROZENSET, &x) && push(v, x);
    case OP_TUPLE1:
    case OP_TUPLE2:
    case OP_TUPLE3: {
        size_t k = (size_t)(v->op - OP_TUPLE1 + 1);
        if (v->sp < v->fence + k)
            return underflow(v);
        return collect(v, V_TUPLE, v->sp - k, &x) && push(v, x);
    }
    case OP_APPEND: {
        if (v->sp < v->fence + 2)
            return underflow(v);
        return add_items(v, &v->stack[v->sp - 2], v->sp - 1, false);
    }
    case OP_SETITEM: {
        if (v->sp < v->fence + 3)
            return underflow(v);
        return add_items(v, &v->stack[v->sp - 3], v->sp - 2, true);
    }
    case OP_APPENDS:
    case OP_SETITEMS:
    case OP_ADDITEMS: {
        size_t start = 0;
        if (!marker(v, &start))
            return false;
        if (start == 0 || start <= v->fence)
            return underflow(v);
        return add_items(v, &v->stack[start - 1], start, v->op == OP_SETITEMS);
    }
    case OP_GET:
    case OP_BINGET:
    case OP_LONG_BINGET:
    case OP_PUT:
    case OP_BINPUT:
    case OP_LONG_BINPUT: {
        uint64_t key;
        bool is_get = v->op == OP_GET || v->op == OP_BINGET || v->op == OP_LONG_BINGET;
        if (v->op == OP_GET || v->op == OP_PUT) {
            if (!rdline(v, &p, &n))
                return false;
            if (n == 0)
                return fail(v, PJ_TRUNCATED, "pickle data was truncated (empty memo key line)");
            if (!parse_int_line(v, p, n, &x, INT_MEMO))
                return false;
            if (x.kind != V_INT)
                return fail(v, PJ_BAD_MEMO_KEY, "memo key too large");
            if (x.u.i < 0) {
                if (!is_get)
                    return fail(v, PJ_BAD_MEMO_KEY, "negative PUT argument");
                return fail(v, PJ_MEMO_MISSING, "Memo value not found at index %" PRId64, x.u.i);
            }
            key = (uint64_t)x.u.i;
        } else {
            int w = (v->op == OP_BINGET || v->op == OP_BINPUT) ? 1 : 4;
            if (!rd(v, (size_t)w, &p))
                return false;
            key = le(p, w);
        }
        if (is_get) {
            pj_val m;
            if (!memo_get(v, key, &m))
                return fail(v, PJ_MEMO_MISSING, "Memo value not found at index %" PRIu64, key);
            return push(v, m);
        }
        pj_val *t = top(v);
        return t && memo_put(v, key, *t);
    }
    case OP_MEMOIZE: {
        pj_val *t = top(v);
        return t && memo_put(v, v->memo_len, *t);
    }
    case OP_EXT1:
    case OP_EXT2:
    case OP_EXT4: {
        int w = v->op == OP_EXT1 ? 1 : v->op == OP_EXT2 ? 2 : 4;
        if (!rd(v, (size_t)w, &p))
            return false;
        int64_t code = w == 4 ? (int32_t)(uint32_t)le(p, 4) : (int64_t)le(p, w);
        if (!v->has_ext) {
            v->has_ext = true;
            v->ext_code = code;
        }
        char name[48];
        snprintf(name, sizeof name, "_extension_registry[%" PRId64 "]", code);
        pj_report_finding(v->r, PJ_EXT_OPCODE, v->stream, v->op_off,
                          "%s at offset %zu: object from copyreg's extension registry, code "
                          "%" PRId64 " (whatever the loading process registered)",
                          info->name, v->op_off, code);
        if (code <= 0)
            return fail(v, PJ_BAD_LITERAL, "EXT specifies code <= 0");
        int32_t idx = record_global(v, (const uint8_t *)"copyreg", 7, (const uint8_t *)name,
                                    strlen(name), NULL, NULL, PJ_ORIGIN_EXT);
        if (idx < 0)
            return false;
        x = global_value(v, idx, V_GLOBAL);
        return !v->failed && push(v, x);
    }
    case OP_GLOBAL:
    case OP_INST: {
        const uint8_t *m, *nm;
        size_t ml, nl;
        size_t start = 0;
        if (v->op == OP_INST && !marker(v, &start))
            return false;
        if (!rdline(v, &m, &ml) || !rdline(v, &nm, &nl))
            return false;
        if (!valid_utf8(m, ml, false) || !valid_utf8(nm, nl, false))
            return fail(v, PJ_BAD_ENCODING, "module or name is not valid UTF-8");
        if (!find_class(v, m, ml, nm, nl, v->op == OP_INST ? PJ_ORIGIN_INST : PJ_ORIGIN_GLOBAL,
                        &x))
            return false;
        if (v->op == OP_GLOBAL)
            return push(v, x);
        if (!collect(v, V_TUPLE, start, &y))
            return false;
        return do_call(v, OP_INST, x, y, mkval(v, V_NONE));
    }
    case OP_STACK_GLOBAL: {
        if (!pop(v, &y) || !pop(v, &x))
            return false;
        if (x.kind != V_STR || y.kind != V_STR || (x.flags & VF_LONGLEN) || (y.flags & VF_LONGLEN))
            return fail(v, PJ_BAD_OPERAND_TYPE, "STACK_GLOBAL requires str");
        if (!find_class(v, x.u.s, x.len, y.u.s, y.len, PJ_ORIGIN_STACK_GLOBAL, &z))
            return false;
        return push(v, z);
    }
    case OP_REDUCE:
        if (!pop(v, &y) || !pop(v, &x))
            return false;
        if (!maybe_tuple(&y))
            return fail(v, PJ_BAD_OPERAND_TYPE, "REDUCE argument list must be a tuple");
        return do_call(v, OP_REDUCE, x, y, mkval(v, V_NONE));
    case OP_BUILD: return do_build(v);
    case OP_OBJ: {
        size_t start = 0;
        if (!marker(v, &start))
            return false;
        if (v->sp <= start)
            return underflow(v);
        x = v->stack[start];
        if (!collect(v, V_TUPLE, start + 1, &y))
            return false;
        v->sp = start;
        return do_call(v, OP_OBJ, x, y, mkval(v, V_NONE));
    }
    case OP_NEWOBJ:
        if (!pop(v, &y) || !pop(v, &x))
            return false;
        if (!maybe_tuple(&y))
            return fail(v, PJ_BAD_OPERAND_TYPE, "NEWOBJ expected an arg tuple");
        return do_call(v, OP_NEWOBJ, x, y, mkval(v, V_NONE));
    case OP_NEWOBJ_EX:
        if (!pop(v, &z) || !pop(v, &y) || !pop(v, &x))
            return false;
        if (!maybe_tuple(&y))
            return fail(v, PJ_BAD_OPERAND_TYPE, "NEWOBJ_EX args argument must be a tuple");
        if (z.kind != V_DICT && !maybe_object(&z))
            return fail(v, PJ_BAD_OPERAND_TYPE, "NEWOBJ_EX kwargs argument must be a dict");
        return do_call(v, OP_NEWOBJ_EX, x, y, z);
    case OP_PROTO:
        if (!rd(v, 1, &p))
            return false;
        if (p[0] > 5)
            return fail(v, PJ_PROTO_UNSUPPORTED, "unsupported pickle protocol: %d", p[0]);
        v->proto = p[0];
        if (v->r->streams[v->stream].protocol < 0)
            v->r->streams[v->stream].protocol = p[0];
        return true;
    case OP_FRAME: {
        if (!rd(v, 8, &p))
            return false;
        uint64_t flen = le(p, 8);
        if (flen > (uint64_t)INT64_MAX)
            return fail(v, PJ_BAD_LENGTH, "FRAME length exceeds system's maximum");
        if (v->linear) {
            if (flen > v->len - v->pos)
                return fail(v, PJ_TRUNCATED, "pickle data was truncated (frame of %" PRIu64
                            " bytes, %zu left)", flen, v->len - v->pos);
            return true;
        }
        if (flen <= v->buf_end - v->pos) {
            /* Served from the current frame: CPython only checks the bytes
             * are there; the pure-Python unpickler refuses it. */
            pj_report_finding(v->r, PJ_FRAME_NESTED, v->stream, v->op_off,
                              "FRAME at offset %zu opens a frame inside a frame: the C unpickler "
                              "ignores it, the pure-Python unpickler fails", v->op_off);
            return true;
        }
        if (v->pos < v->buf_end)
            note_straddle(v, (size_t)flen);
        if (flen > v->len - v->pos)
            return fail(v, PJ_TRUNCATED, "pickle data was truncated (frame of %" PRIu64
                        " bytes, %zu left)", flen, v->len - v->pos);
        v->buf_end = v->pos + (size_t)flen;
        return true;
    }
    case OP_PERSID: {
        if (!rdline(v, &p, &n))
            return false;
        for (size_t i = 0; i < n; i++)
            if (p[i] >= 0x80)
                return fail(v, PJ_BAD_ENCODING, "persistent IDs in protocol 0 must be ASCII strings");
        return do_persid(v, str_val(v, V_STR, p, n));
    }
    case OP_BINPERSID:
        if (!pop(v, &x))
            return false;
        return do_persid(v, x);
    default:
        return fail(v, PJ_UNKNOWN_OPCODE, "invalid load key, '\\x%02x'", v->op);
    }
}

/* ---------- the hot loop ---------- */

/* Runs the opcodes dense pickles are made of (small ints, short strings,
 * memo traffic, marks, containers) with the VM state in locals: a store to
 * a pj_val's byte fields may alias anything in *v, so through v the
 * compiler reloads the state after every push.  An opcode is taken here only
 * when every check step() makes passes (the whole opcode inside the current
 * read buffer, room on the stack, the mark list and the memo, the opcode
 * limit, its protocol already seen); otherwise it is left, unread, to
 * step(), so errors, limits, frame straddles and findings come from one
 * place and read the same.  Returns with the state written back and v->pos
 * at the next opcode (or v->failed set). */
static void fast_run(vm *v)
{
    const uint8_t *const d = v->d;
    const size_t len = v->len;
    const uint64_t max_ops = v->ctx->limits->max_opcodes;
    const size_t max_memo = v->ctx->limits->max_memo;
    const int maxp = v->max_opcode_proto;
    uint64_t *const dense = v->dense;
    const size_t dense_cap = v->dense_cap;
    const bool sparse = v->sparse_len != 0;
    size_t pos = v->pos, buf_end = v->buf_end;
    uint64_t ops = v->opcodes;
    pj_val *stack = v->stack;
    size_t sp = v->sp, cap = v->stack_cap, fence = v->fence;
    size_t *marks = v->marks;
    size_t nmarks = v->nmarks, marks_cap = v->marks_cap;
    size_t dense_init = v->dense_init, memo_len = v->memo_len;
    size_t op_off = pos;
    uint8_t op = 0;

    /* State out to v (before calling a helper, and on the way out), and back. */
#define FAST_SAVE()                                                                          \
    do {                                                                                     \
        v->pos = pos; v->buf_end = buf_end; v->opcodes = ops;                                \
        v->sp = sp; v->fence = fence; v->nmarks = nmarks;                                    \
        v->dense_init = dense_init; v->memo_len = memo_len;                                  \
        v->op_off = op_off; v->op = op;                                                      \
    } while (0)
#define FAST_LOAD()                                                                          \
    do {                                                                                     \
        stack = v->stack; sp = v->sp; cap = v->stack_cap; fence = v->fence;                  \
        marks = v->marks; nmarks = v->nmarks; marks_cap = v->marks_cap;                      \
    } while (0)
    /* The opcode and its n argument bytes are consumed (as rd() would). */
#define FAST_TAKE(n)                                                                         \
    do {                                                                                     \
        pos += 1 + (n);                                                                      \
        ops++;                                                                               \
        if (outside)                                                                         \
            buf_end = pos;                                                                   \
    } while (0)
#define FAST_PUSH(...) (stack[sp++] = (pj_val){__VA_ARGS__})

    for (;;) {
        /* Inside a frame (or pickle.loads' single buffer) the whole opcode
         * must be in what is left of it; outside, reads come from the file. */
        const bool outside = pos == buf_end;
        const size_t lim = outside ? len : buf_end;
        if (pos >= lim || ops >= max_ops)
            break;
        op_off = pos;
        op = d[pos];
        if (pj_opcode_table[op].proto > maxp)
            break;
        const uint8_t *const a = d + pos + 1;
        const size_t room = lim - pos - 1; /* argument bytes available */
        size_t key, w, cnt; /* memo key or payload length, argument width */
        switch (op) {
        case OP_BININT1:
            if (room < 1 || sp == cap)
                goto out;
            FAST_PUSH(.kind = V_INT, .u.i = a[0]);
            FAST_TAKE(1);
            break;
        case OP_BININT2:
            if (room < 2 || sp == cap)
                goto out;
            FAST_PUSH(.kind = V_INT, .u.i = (int64_t)le16(a));
            FAST_TAKE(2);
            break;
        case OP_BININT:
            if (room < 4 || sp == cap)
                goto out;
            FAST_PUSH(.kind = V_INT, .u.i = (int32_t)le32(a));
            FAST_TAKE(4);
            break;
        case OP_BINFLOAT: {
            if (room < 8 || sp == cap)
                goto out;
            uint64_t bits = 0;
            for (int i = 0; i < 8; i++)
                bits = (bits << 8) | a[i];
            double f;
            memcpy(&f, &bits, sizeof f);
            FAST_PUSH(.kind = V_FLOAT, .u.f = f);
            FAST_TAKE(8);
            break;
        }
        case OP_NONE:
            if (sp == cap)
                goto out;
            FAST_PUSH(.kind = V_NONE);
            FAST_TAKE(0);
            break;
        case OP_NEWTRUE:
        case OP_NEWFALSE:
            if (sp == cap)
                goto out;
            FAST_PUSH(.kind = V_BOOL, .u.i = op == OP_NEWTRUE);
            FAST_TAKE(0);
            break;
        case OP_SHORT_BINUNICODE:
        case OP_SHORT_BINBYTES:
            if (room < 1)
                goto out;
            cnt = a[0];
            w = 1;
            goto counted;
        case OP_BINUNICODE:
        case OP_BINBYTES:
            if (room < 4)
                goto out;
            cnt = (size_t)le32(a);
            w = 4;
        counted: {
            if (cnt > room - w || sp == cap)
                goto out;
            const bool str = op == OP_SHORT_BINUNICODE || op == OP_BINUNICODE;
            if (str && cnt <= (1u << 20) && !valid_utf8(a + w, cnt, true))
                goto out;
            FAST_PUSH(.kind = str ? V_STR : V_BYTES, .len = (uint32_t)cnt, .u.s = a + w);
            FAST_TAKE(w + cnt);
            break;
        }
        case OP_MARK:
            if (nmarks == marks_cap || nmarks >= DEEP_NESTING)
                goto out;
            marks[nmarks++] = sp;
            fence = sp;
            FAST_TAKE(0);
            break;
        case OP_POP:
            if (nmarks > 0 && marks[nmarks - 1] == sp) {
                nmarks--;
                fence = nmarks ? marks[nmarks - 1] : 0;
            } else if (sp > fence) {
                sp--;
            } else {
                goto out;
            }
            FAST_TAKE(0);
            break;
        case OP_DUP:
            if (sp <= fence || sp == cap)
                goto out;
            stack[sp] = stack[sp - 1];
            sp++;
            FAST_TAKE(0);
            break;
        /* Memo keys are read at their constant width per opcode. */
        case OP_BINGET:
            if (room < 1)
                goto out;
            key = a[0];
            w = 1;
            goto get_key;
        case OP_LONG_BINGET:
            if (room < 4)
                goto out;
            key = (size_t)le32(a);
            w = 4;
        get_key:
            if (key >= dense_init || dense[key] == 0 || sp == cap)
                goto out;
            stack[sp++] = cell_unpack(v, dense[key]);
            FAST_TAKE(w);
            break;
        case OP_MEMOIZE:
            key = memo_len;
            w = 0;
            goto put_key;
        case OP_BINPUT:
            if (room < 1)
                goto out;
            key = a[0];
            w = 1;
            goto put_key;
        case OP_LONG_BINPUT:
            if (room < 4)
                goto out;
            key = (size_t)le32(a);
            w = 4;
        put_key:
            if (sp <= fence)
                goto out;
            /* Values that pack into a cell (and do not replace a side slot);
             * the rest go to memo_put through step(). */
            const uint64_t c = cell_pack(v, &stack[sp - 1]);
            if (c == 0)
                goto out;
            if (key < dense_init && dense[key] != 0) {
                if ((dense[key] & 15) == CELL_SIDE)
                    goto out;
                dense[key] = c; /* replaces: no new entry */
            } else if (key == dense_init && key < dense_cap && !sparse && memo_len < max_memo &&
                       key < 2 * (uint64_t)memo_len + 1024) {
                /* A new entry next to the last (memo_put would also report
                 * keys far beyond the entry count: those go to step()). */
                dense[key] = c;
                dense_init++;
                memo_len++;
            } else {
                goto out;
            }
            FAST_TAKE(w);
            break;
        case OP_EMPTY_LIST:
        case OP_EMPTY_DICT:
        case OP_EMPTY_SET:
        case OP_EMPTY_TUPLE: {
            if (sp == cap)
                goto out;
            const pj_vkind k = op == OP_EMPTY_LIST ? V_LIST : op == OP_EMPTY_DICT ? V_DICT
                               : op == OP_EMPTY_SET ? V_SET : V_TUPLE;
            FAST_TAKE(0);
            pj_seq *s = NULL;
            if (!summary_only(v, k)) {
                FAST_SAVE();
                s = new_seq(v);
                if (s == NULL)
                    return;
            }
            FAST_PUSH(.kind = (uint8_t)k, .u.seq = s);
            break;
        }
        case OP_APPENDS:
        case OP_SETITEMS: {
            if (nmarks == 0)
                goto out;
            const size_t start = marks[nmarks - 1];
            const size_t nf = nmarks > 1 ? marks[nmarks - 2] : 0;
            if (start == 0 || start <= nf || start > sp ||
                (op == OP_SETITEMS && (sp - start) % 2 != 0))
                goto out;
            FAST_TAKE(0);
            nmarks--;
            fence = nf;
            pj_val *t = &stack[start - 1];
            if (start == sp)
                break; /* nothing to add: a no-op on anything */
            if (t->kind == V_LIST && t->u.seq == NULL && op == OP_APPENDS) {
                sp = start; /* a summary-only list: nothing kept */
                break;
            }
            if (t->kind == V_DICT && t->u.seq == NULL && op == OP_SETITEMS &&
                !has_key_of_interest(v, start, sp)) {
                sp = start; /* a summary-only dict and no state key: nothing kept */
                break;
            }
            FAST_SAVE();
            if (!add_items(v, t, start, op == OP_SETITEMS))
                return;
            FAST_LOAD();
            break;
        }
        case OP_APPEND:
        case OP_SETITEM: {
            const size_t k = op == OP_APPEND ? 1 : 2;
            if (sp < fence + k + 1)
                goto out;
            FAST_TAKE(0);
            FAST_SAVE();
            if (!add_items(v, &stack[sp - k - 1], sp - k, op == OP_SETITEM))
                return;
            FAST_LOAD();
            break;
        }
        case OP_TUPLE1:
        case OP_TUPLE2:
        case OP_TUPLE3: {
            const size_t k = (size_t)(op - OP_TUPLE1 + 1);
            if (sp < fence + k)
                goto out;
            FAST_TAKE(0);
            FAST_SAVE();
            pj_val x;
            if (!collect(v, V_TUPLE, sp - k, &x))
                return;
            FAST_LOAD();
            stack[sp++] = x; /* k >= 1 slots were just freed */
            break;
        }
        case OP_TUPLE:
        case OP_LIST:
        case OP_DICT: {
            if (nmarks == 0)
                goto out;
            const size_t start = marks[nmarks - 1];
            if (start >= cap || start > sp)
                goto out;
            FAST_TAKE(0);
            nmarks--;
            fence = nmarks ? marks[nmarks - 1] : 0;
            FAST_SAVE();
            pj_val x;
            if (!collect(v, op == OP_TUPLE ? V_TUPLE : op == OP_LIST ? V_LIST : V_DICT, start, &x))
                return;
            FAST_LOAD();
            stack[sp++] = x; /* start < cap */
            break;
        }
        default:
            goto out;
        }
    }
out:
    FAST_SAVE();
#undef FAST_SAVE
#undef FAST_LOAD
#undef FAST_TAKE
#undef FAST_PUSH
}

static void stream_meta(vm *v, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void stream_meta(vm *v, const char *name, const char *fmt, ...)
{
    char key[64], val[300];
    snprintf(key, sizeof key, "stream.%d.%s", (int)v->stream, name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    pj_report_add_meta(v->r, key, val);
}

/* Per-stream facts the diagnosis needs (docs/report-schema.md lists them). */
static void emit_stream_meta(vm *v)
{
    const char *opn = NULL;
    if (v->max_opcode_offset < v->len)
        opn = pj_opcode_table[v->d[v->max_opcode_offset]].name;
    stream_meta(v, "max_opcode_proto", "%d", v->max_opcode_proto);
    stream_meta(v, "max_opcode_offset", "%zu", v->max_opcode_offset);
    stream_meta(v, "max_opcode", "%s", opn ? opn : "?");
    if (v->py2_strings) {
        stream_meta(v, "py2_strings", "%" PRIu64, v->py2_strings);
        stream_meta(v, "py2_string_offset", "%zu", v->py2_offset);
        stream_meta(v, "py2_string_byte", "0x%02x", v->py2_byte);
        stream_meta(v, "py2_string_pos", "%zu", v->py2_pos);
    }
    if (v->persids) {
        stream_meta(v, "persid_count", "%" PRIu64, v->persids);
        stream_meta(v, "persid_offset", "%zu", v->persid_offset);
    }
    if (v->storage_locations[0])
        stream_meta(v, "storage_locations", "%s", v->storage_locations);
    if (v->has_storage_device)
        stream_meta(v, "storage_device_offset", "%zu", v->storage_device_offset);
    if (v->has_ext)
        stream_meta(v, "ext_code", "%" PRId64, v->ext_code);
}

bool pj_scan_one_pickle(pj_scan_ctx *ctx, const uint8_t *data, size_t len, size_t start,
                        const char *location, unsigned flags, size_t *end)
{
    vm v;
    memset(&v, 0, sizeof v);
    v.ctx = ctx;
    v.r = ctx->report;
    v.d = data;
    v.len = len;
    v.pos = start;
    v.start = start;
    v.linear = (flags & PJ_PICKLES_LINEAR) != 0;
    v.buf_end = v.linear ? len : start;
    v.location = location ? location : "";
    *end = start;
    if (start > len)
        return false;
    v.stream = pj_report_add_stream(v.r, v.location, start);
    if (v.stream < 0) {
        pj_report_finding(v.r, PJ_LIMIT_ARENA, -1, start, "no memory left to record a stream");
        return false;
    }
    if (v.r->n_streams > ctx->limits->max_streams) {
        pj_report_finding(v.r, PJ_LIMIT_ARENA, -1, start,
                          "more than %" PRIu32 " pickle streams in one file; the rest is not scanned",
                          ctx->limits->max_streams);
        return false;
    }
    pj_arena_init(&v.a, ctx->limits->max_arena_bytes);
    v.scratch_cap = RENDER_CAP;
    v.scratch = pj_arena_alloc(&v.a, v.scratch_cap);
    bool stopped = false;
    if (v.scratch == NULL) {
        oom(&v);
    } else {
        while (!v.failed) {
            fast_run(&v);
            if (v.failed)
                break;
            v.op_off = v.pos;
            const uint8_t *p = NULL;
            v.op = 0;
            if (!rd(&v, 1, &p))
                break;
            v.op = p[0];
            if (++v.opcodes > ctx->limits->max_opcodes) {
                fail(&v, PJ_LIMIT_OPCODES, "opcode limit of %" PRIu64 " reached",
                     ctx->limits->max_opcodes);
                break;
            }
            if (v.op == OP_STOP) {
                pj_val x;
                if (pop(&v, &x)) {
                    stopped = true;
                    if (v.sp > 0 || v.nmarks > 0)
                        pj_report_finding(v.r, PJ_STACK_NOT_EMPTY, v.stream, v.op_off,
                                          "STOP at offset %zu leaves %zu values and %zu marks "
                                          "on the stack", v.op_off, v.sp, v.nmarks);
                }
                break;
            }
            if (!step(&v))
                break;
        }
    }
    pj_stream *s = &v.r->streams[v.stream];
    s->length = v.pos - start;
    s->opcodes = v.opcodes;
    s->complete = stopped;
    if (s->protocol < 0)
        s->protocol = 0; /* no PROTO: the unpickler runs as protocol 0 */
    emit_stream_meta(&v);
    bool straddled = v.straddled;
    free(v.stack);
    free(v.dense);
    free(v.side);
    free(v.memo);
    pj_arena_release(&v.a);
    *end = v.pos;
    /* A frame straddle means pickle.loads() sees other opcodes than
     * pickle.load(): scan that reading too. */
    if (straddled && !(flags & PJ_PICKLES_LINEAR)) {
        char loc[256];
        size_t lend;
        snprintf(loc, sizeof loc, "%s(as read by pickle.loads)", v.location);
        pj_scan_one_pickle(ctx, data, len, start, loc, flags | PJ_PICKLES_LINEAR, &lend);
    }
    return stopped;
}
