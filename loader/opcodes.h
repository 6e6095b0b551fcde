/* The opcode table (one table: byte, name, argument kind, protocol). */
#ifndef PJ_OPCODES_H
#define PJ_OPCODES_H

#include <stdint.h>

typedef enum pj_argkind {
    ARG_NONE,
    ARG_UINT1,
    ARG_UINT2,
    ARG_INT4,
    ARG_UINT4,
    ARG_UINT8,
    ARG_DECIMALNL_SHORT,
    ARG_DECIMALNL_LONG,
    ARG_FLOATNL,
    ARG_FLOAT8,
    ARG_STRINGNL,
    ARG_STRINGNL_NOESCAPE,
    ARG_STRINGNL_NOESCAPE_PAIR,
    ARG_UNICODESTRINGNL,
    ARG_STRING1,
    ARG_STRING4,
    ARG_BYTES1,
    ARG_BYTES4,
    ARG_BYTES8,
    ARG_UNICODE1,
    ARG_UNICODE4,
    ARG_UNICODE8,
    ARG_LONG1,
    ARG_LONG4,
} pj_argkind;

enum pj_opcode {
#define PJ_OP(name, byte, arg, proto) OP_##name = byte,
#include "opcodes.def"
#undef PJ_OP
};

typedef struct pj_opinfo {
    const char *name; /* NULL: not an opcode */
    pj_argkind arg;
    uint8_t proto;
} pj_opinfo;

/* Indexed by byte. */
extern const pj_opinfo pj_opcode_table[256];

#endif
