"""Builds the VM benchmark inputs (standard library only) into a directory:
dense.pkl  - opcode-dense: millions of small ints, short strings, nested dicts (protocol 4)
big.pkl    - a 1 GiB BINBYTES8 payload (sparse file: the bytes are never read)"""
import os
import pickle
import struct
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
dense = os.path.join(out, "dense.pkl")
if not os.path.exists(dense):
    rows = [{"id": i, "name": "n%d" % (i % 1000), "v": [i & 255, (i >> 8) & 255, -1], "f": i % 7 == 0}
            for i in range(1_000_000)]
    with open(dense, "wb") as f:
        pickle.dump(rows, f, protocol=4)
big = os.path.join(out, "big.pkl")
if not os.path.exists(big):
    size = 1 << 30
    with open(big, "wb") as f:
        f.write(b"\x80\x04\x8e" + struct.pack("<Q", size))
        f.seek(size, os.SEEK_CUR)
        f.write(b".")
