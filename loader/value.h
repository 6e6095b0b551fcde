/* Symbolic values of the simulated pickle machine.  Containers keep their
 * first few items (enough to summarise a call and to read joblib/torch
 * metadata) and a count; sharing through the memo and DUP copies a handle,
 * never the contents, so fan-out stays linear. */
#ifndef PJ_VALUE_H
#define PJ_VALUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum pj_vkind {
    V_EMPTY = 0, /* no value (an unused memo slot) */
    V_NONE,
    V_BOOL,
    V_INT,       /* u.i */
    V_BIGINT,    /* u.s/len: decimal text (flag VF_BINARY: little-endian two's complement) */
    V_FLOAT,     /* u.f */
    V_STR,       /* u.s/len: UTF-8 (may be escaped already, see VF_ESCAPED) */
    V_BYTES,
    V_BYTEARRAY,
    V_TUPLE,     /* u.seq */
    V_LIST,
    V_DICT,      /* u.seq: key, value, key, value ... */
    V_SET,
    V_FROZENSET,
    V_GLOBAL,    /* u.g */
    V_MODULE,    /* u.g (name NULL): result of __import__("m") */
    V_CALL,      /* u.call */
    V_PERSID,    /* u.call (callee unused, args = pid) */
    V_BUFFER,    /* out-of-band buffer */
    V_ARRAY,     /* joblib array read from raw data */
} pj_vkind;

enum {
    VF_BINARY = 1,   /* V_BIGINT stored as bytes */
    VF_LONGLEN = 2,  /* string longer than len says (len saturated) */
};

typedef struct pj_seq pj_seq;
typedef struct pj_gref pj_gref;
typedef struct pj_callnode pj_callnode;

/* 16 bytes: large pickles make millions of these.  Offsets are kept where a
 * report needs them (globals, calls, findings), not in every scalar. */
typedef struct pj_val {
    uint8_t kind;
    uint8_t flags;
    uint32_t len;
    union {
        int64_t i;
        double f;
        const uint8_t *s;
        pj_seq *seq;
        pj_gref *g;
        pj_callnode *call;
    } u;
} pj_val;

/* Values kept per container (dicts: keys and values): enough to summarise a
 * call and read joblib/torch/sklearn state, never the whole container. */
enum { PJ_KEEP_TUPLE = 8, PJ_KEEP_LIST = 4, PJ_KEEP_SET = 4, PJ_KEEP_DICT = 16 };

/* 32 bytes (one per container kept): kept and cap never exceed
 * PJ_KEEP_DICT + 16 (state keys kept past the limit, see vm.c). */
struct pj_seq {
    uint64_t count;  /* items (dict: pairs) */
    pj_val *items;
    uint64_t weight; /* objects reachable, counting shared ones again (saturating) */
    uint32_t depth;  /* nesting depth of the containers inside */
    uint16_t kept;   /* values stored in items */
    uint16_t cap;    /* values allocated in items */
};

struct pj_gref {
    const char *module; /* effective (resolved) names, printable */
    const char *name;   /* NULL for V_MODULE */
    int32_t index;      /* report->globals index, -1 when not recorded */
};

struct pj_callnode {
    pj_val callee;
    pj_val args;
    pj_val kwargs;  /* V_NONE when absent */
    pj_val state;   /* after BUILD */
    int32_t call_index;
    uint8_t opcode;
    uint8_t built;
};

/* Python-like repr of v into buf (always NUL-terminated, cut at cap with
 * "..."): strings excerpted to excerpt bytes, nesting bounded. */
size_t pj_render(const pj_val *v, char *buf, size_t cap, size_t excerpt);
/* Render a call: callee(args, k=v). */
size_t pj_render_call(const pj_callnode *c, char *buf, size_t cap, size_t excerpt);
/* Render an argument tuple without the callee: "('x', 1)". */
size_t pj_render_args(const pj_val *args, const pj_val *kwargs, char *buf, size_t cap,
                      size_t excerpt);

/* True when v is a str equal to s. */
int pj_val_str_eq(const pj_val *v, const char *s);

#endif
