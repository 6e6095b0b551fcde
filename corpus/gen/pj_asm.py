"""Tiny pickle assembler used by generate.py.

Every function returns the raw bytes of one opcode (with its argument), so a
hostile stream is written out opcode by opcode instead of relying on
pickle.dumps. Names follow Lib/pickletools.py.
"""
import struct

MARK = b'('
STOP = b'.'
POP = b'0'
POP_MARK = b'1'
DUP = b'2'
NONE = b'N'
NEWTRUE = b'\x88'
NEWFALSE = b'\x89'
REDUCE = b'R'
BUILD = b'b'
OBJ = b'o'
NEWOBJ = b'\x81'
NEWOBJ_EX = b'\x92'
STACK_GLOBAL = b'\x93'
MEMOIZE = b'\x94'
TUPLE = b't'
TUPLE1 = b'\x85'
TUPLE2 = b'\x86'
TUPLE3 = b'\x87'
EMPTY_TUPLE = b')'
EMPTY_LIST = b']'
EMPTY_DICT = b'}'
EMPTY_SET = b'\x8f'
APPEND = b'a'
APPENDS = b'e'
SETITEM = b's'
SETITEMS = b'u'
ADDITEMS = b'\x90'
LIST = b'l'
DICT = b'd'
NEXT_BUFFER = b'\x97'
READONLY_BUFFER = b'\x98'


def proto(n):
    return b'\x80' + bytes([n])


def frame(n):
    return b'\x95' + struct.pack('<Q', n)


def global_(mod, name):
    return b'c' + mod.encode() + b'\n' + name.encode() + b'\n'


def inst(mod, name):
    return b'i' + mod.encode() + b'\n' + name.encode() + b'\n'


def sbu(s):
    b = s.encode('utf-8')
    assert len(b) < 256
    return b'\x8c' + bytes([len(b)]) + b


def binunicode(s):
    b = s.encode('utf-8')
    return b'X' + struct.pack('<I', len(b)) + b


def unicode0(s):
    assert '\n' not in s and '\\' not in s
    return b'V' + s.encode('raw_unicode_escape') + b'\n'


def string0(s):
    """Protocol-0 STRING with a Python-style quoted literal."""
    b = s.encode('latin1') if isinstance(s, str) else s
    return b'S' + repr(b)[1:].encode('ascii') + b'\n'


def binstring(b):
    if len(b) < 256:
        return b'U' + bytes([len(b)]) + b
    return b'T' + struct.pack('<i', len(b)) + b


def binbytes(b):
    if len(b) < 256:
        return b'C' + bytes([len(b)]) + b
    return b'B' + struct.pack('<I', len(b)) + b


def binint(i):
    if 0 <= i < 256:
        return b'K' + bytes([i])
    if 0 <= i < 65536:
        return b'M' + struct.pack('<H', i)
    return b'J' + struct.pack('<i', i)


def int0(i):
    return b'I' + str(i).encode() + b'\n'


def binput(i):
    return b'q' + bytes([i]) if i < 256 else b'r' + struct.pack('<I', i)


def binget(i):
    return b'h' + bytes([i]) if i < 256 else b'j' + struct.pack('<I', i)


def put0(i):
    return b'p' + str(i).encode() + b'\n'


def get0(i):
    return b'g' + str(i).encode() + b'\n'


# ---- protocol-aware helpers ------------------------------------------------

def s(x, p):
    """A str constant encoded the way protocol p would."""
    if p == 0:
        return unicode0(x)
    if p >= 4 and len(x.encode()) < 256:
        return sbu(x)
    return binunicode(x)


def i(x, p):
    return int0(x) if p == 0 else binint(x)


def g(mod, name, p):
    """Reference a global: GLOBAL for p<4, STACK_GLOBAL (SBU operands) for p>=4."""
    if p >= 4:
        return sbu(mod) + sbu(name) + STACK_GLOBAL
    return global_(mod, name)


def tup(items, p):
    if p >= 2 and len(items) == 0:
        return EMPTY_TUPLE
    if p >= 2 and len(items) <= 3:
        return b''.join(items) + (TUPLE1, TUPLE2, TUPLE3)[len(items) - 1]
    return MARK + b''.join(items) + TUPLE


def lst(items, p):
    if p == 0:
        return MARK + b''.join(items) + LIST
    out = EMPTY_LIST
    if items:
        out += MARK + b''.join(items) + APPENDS
    return out


def dct(pairs, p):
    if p == 0:
        return MARK + b''.join(k + v for k, v in pairs) + DICT
    out = EMPTY_DICT
    if pairs:
        out += MARK + b''.join(k + v for k, v in pairs) + SETITEMS
    return out


def call(fn, args, p):
    """fn(*args) via REDUCE; fn and each arg are already-encoded bytes."""
    return fn + tup(args, p) + REDUCE


def wrap(body, p):
    """PROTO (p>=2) + optional FRAME (p>=4) + body + STOP."""
    if p < 2:
        return body + STOP
    inner = body + STOP
    if p >= 4:
        return proto(p) + frame(len(inner)) + inner
    return proto(p) + inner
