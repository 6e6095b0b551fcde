/* The child-to-parent wire format.
 *
 * The sandboxed child encodes its pj_report into one message; the parent
 * decodes it.  The parent treats every byte as hostile: the child has parsed
 * attacker-controlled input and may be compromised.
 *
 * Message = header, then records, the last of which is END.
 *   header: "PJWR" | u16 version (1) | u16 flags (0) | u32 body length
 *   record: u8 type | u32 payload length | payload
 * Integers are little-endian.  A string is u32 length then that many bytes
 * (no NUL); length 0xFFFFFFFF means NULL.  Record payloads, in the order
 * the encoder writes them:
 *   FORMAT  str format
 *   SCANNED u8 scanned
 *   STREAM  str location | u64 offset | u64 length | i32 protocol | u64 opcodes | u8 complete
 *   GLOBAL  str module | str name | str resolved_module | str resolved_name | i32 stream |
 *           u64 offset | u8 opcode | u8 origin | u8 called | u8 policy | str policy_rule
 *   CALL    str callee | str args | i32 stream | u64 offset | u8 opcode | i32 callee_global |
 *           i32 arg_globals[4] | u8 policy
 *   FINDING u32 code | u8 severity | u8 class | i32 stream | u64 offset | str message
 *   META    str key | str value
 *   END     u32 counts of streams, globals, calls, findings, meta
 * Streams precede globals, globals precede calls, so every index a record
 * holds refers to something already decoded. */
#ifndef PJ_WIRE_H
#define PJ_WIRE_H

#include "picklejail.h"

#include <stddef.h>
#include <stdint.h>

#define PJ_WIRE_VERSION 1
#define PJ_WIRE_HEADER_LEN 12
/* No single string in a report is longer (messages are < 512 bytes, call
 * summaries are excerpted); anything longer is a lie. */
#define PJ_WIRE_MAX_STRING (1u << 20)
/* Finding messages are formatted into 512 bytes by the report builder. */
#define PJ_WIRE_MAX_MESSAGE 511

enum pj_wire_type {
    PJ_WIRE_FORMAT = 1,
    PJ_WIRE_SCANNED = 2,
    PJ_WIRE_STREAM = 3,
    PJ_WIRE_GLOBAL = 4,
    PJ_WIRE_CALL = 5,
    PJ_WIRE_FINDING = 6,
    PJ_WIRE_META = 7,
    PJ_WIRE_END = 8,
};

/* Encode a report into one malloc'ed message (*len bytes).  Uses no I/O, no
 * stdio: safe in the seccomp child.  Returns NULL when out of memory or the
 * report cannot be represented. */
uint8_t *pj_wire_encode(const pj_report *r, size_t *len);

/* Bounds the decoder enforces (counts come from the scan limits). */
typedef struct pj_wire_bounds {
    size_t max_message;   /* whole message, header included */
    size_t max_records;   /* streams + globals + calls + findings + meta */
    size_t max_findings;
} pj_wire_bounds;

/* Decode a message into r, a fresh report made with pj_report_new.  Every
 * record that decodes and validates cleanly is added; decoding stops at the
 * first inconsistency.  Returns true when the whole message was valid;
 * otherwise false with a one-line reason in err (never NULL-terminated
 * past errlen).  The caller turns a false return into a SANDBOX_BAD_REPORT
 * finding. */
bool pj_wire_decode(pj_report *r, const uint8_t *data, size_t len, const pj_wire_bounds *bounds,
                    char *err, size_t errlen);

#endif
