"""Regenerates compat_pickle.def from the running Python's _compat_pickle.
Run: /usr/bin/python3 loader/data/gen_compat.py > loader/data/compat_pickle.def"""
import sys
import _compat_pickle as c

print("/* Generated from CPython %s Lib/_compat_pickle.py by loader/data/gen_compat.py:" % sys.version.split()[0])
print(" * the Python 2 -> 3 renames the unpickler applies when the protocol is below 3.")
print(" * PJ_NAME(py2 module, py2 name, py3 module, py3 name)")
print(" * PJ_IMPORT(py2 module, py3 module) */")
for (m, n), (m2, n2) in sorted(c.NAME_MAPPING.items()):
    print('PJ_NAME("%s", "%s", "%s", "%s")' % (m, n, m2, n2))
for m, m2 in sorted(c.IMPORT_MAPPING.items()):
    print('PJ_IMPORT("%s", "%s")' % (m, m2))
