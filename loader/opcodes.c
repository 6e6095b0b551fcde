#include "opcodes.h"
#include "picklejail.h"

/* A read-only table, not mutable state. */
const pj_opinfo pj_opcode_table[256] = {
#define PJ_OP(name, byte, arg, proto) [byte] = {#name, arg, proto},
#include "opcodes.def"
#undef PJ_OP
};

const char *pj_opcode_name(uint8_t opcode) { return pj_opcode_table[opcode].name; }
