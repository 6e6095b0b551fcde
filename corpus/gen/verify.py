#!/usr/bin/python3
"""Load every corpus sample with its real loader and record what happened.

For each line of corpus/manifest.jsonl a child process (fresh interpreter,
new session, rlimits, timeout) loads the sample with the loader named in the
"loader" field while PJ_MARKER_DIR points at a fresh temporary directory.
The "verified" field is then rewritten:

  {"executed": bool,   # a marker file appeared in PJ_MARKER_DIR
   "loaded": bool,     # the loader returned without an exception
   "exception": "Type: message" | null,
   "result_type": "dict" | ... | null,
   "warnings": ["Category: message", ...]}

Usage: verify.py [--jobs N] [--only SUBSTRING] [--manifest PATH]
       verify.py --child LOADER SAMPLE RESULT_JSON   (internal)

Malicious samples really run here: their payloads only create an empty file
in $PJ_MARKER_DIR. Run it on a machine where that is acceptable (it is the
point of the exercise), never with a PJ_MARKER_DIR you care about.
"""
import json
import os
import re
import sys

GEN = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.dirname(GEN)
ROOT = os.path.dirname(CORPUS)


# ---------------------------------------------------------------------------
# child side

def _load(loader, path):
    if loader == 'pickle.load':
        import pickle
        with open(path, 'rb') as f:
            return pickle.load(f)
    if loader == 'torch.load':
        import torch
        return torch.load(path, weights_only=False)
    if loader == 'torch.jit.load':
        import torch
        return torch.jit.load(path)
    if loader == 'joblib.load':
        import joblib
        return joblib.load(path)
    if loader == 'numpy.load':
        import numpy
        r = numpy.load(path, allow_pickle=True)
        if hasattr(r, 'files'):  # NpzFile is lazy: touch every member
            return {k: r[k] for k in r.files}
        return r
    if loader == 'pandas.read_pickle':
        import pandas
        return pandas.read_pickle(path)
    if loader.startswith('tarfile+pickle.load:'):
        import pickle
        import tarfile
        with tarfile.open(path) as t:
            return pickle.load(t.extractfile(loader.split(':', 1)[1]))
    if loader.startswith('zipfile+pickle.load:'):
        import pickle
        import zipfile
        with zipfile.ZipFile(path) as z:
            with z.open(loader.split(':', 1)[1]) as f:
                return pickle.load(f)
    if loader == 'zstd-cli+pickle.loads':
        import pickle
        import subprocess
        data = subprocess.run(['zstd', '-q', '-d', '-c', path], stdout=subprocess.PIPE, check=True).stdout
        return pickle.loads(data)
    if loader.startswith('7z-cli+pickle.loads:'):
        import pickle
        import subprocess
        data = subprocess.run(['7z', 'x', '-so', path, loader.split(':', 1)[1]], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=True).stdout
        return pickle.loads(data)
    raise SystemExit('unknown loader %r' % loader)


def child(loader, path, out):
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (120, 120))
    sys.setrecursionlimit(10000)
    import warnings
    res = {'loaded': False, 'exception': None, 'result_type': None, 'warnings': []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        try:
            obj = _load(loader, path)
            res['loaded'] = True
            res['result_type'] = type(obj).__name__
        except BaseException as e:  # noqa: B902 - we record everything, incl. SystemExit
            msg = str(e).replace('\n', ' ')
            if len(msg) > 300:
                msg = msg[:300] + '...'
            res['exception'] = '%s: %s' % (type(e).__name__, msg)
    seen = []
    for w in caught:
        s = '%s: %s' % (w.category.__name__, str(w.message).replace('\n', ' ')[:200])
        s = re.sub(r'subprocess \d+', 'subprocess N', s)
        if s not in seen and 'TypedStorage is deprecated' not in s:
            seen.append(s)
    res['warnings'] = seen[:5]
    with open(out, 'w') as f:
        json.dump(res, f)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown (deep structures, stray threads)


# ---------------------------------------------------------------------------
# parent side

def run_one(entry):
    import shutil
    import signal
    import subprocess
    import tempfile
    import time
    base = tempfile.mkdtemp(prefix='pj-verify-')
    marker = os.path.join(base, 'marker')
    cwd = os.path.join(base, 'cwd')
    os.mkdir(marker)
    os.mkdir(cwd)
    out = os.path.join(base, 'result.json')
    env = dict(os.environ)
    env['PJ_MARKER_DIR'] = marker
    env['PYTHONHASHSEED'] = '0'
    env.pop('PYTHONPATH', None)
    slow = entry['loader'].startswith('torch') or 'torch' in entry['path']
    timeout = 90 if slow else 30
    cmd = [sys.executable, os.path.abspath(__file__), '--child', entry['loader'],
           os.path.join(ROOT, entry['path']), out]
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    timed_out = False
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, err = p.communicate()
    res = None
    if os.path.exists(out):
        with open(out) as f:
            res = json.load(f)
    if res is None:
        tail = (err or b'').decode('utf-8', 'replace').strip().splitlines()[-1:] or ['']
        if timed_out:
            exc = 'Timeout: no result after %ds' % timeout
        elif p.returncode < 0:
            exc = 'Killed: signal %d' % -p.returncode
        else:
            exc = 'ChildDied: rc=%d %s' % (p.returncode, tail[0][:200])
        res = {'loaded': False, 'exception': exc, 'result_type': None, 'warnings': []}
    # asynchronous payloads (Popen, os.popen) may finish after the loader returned
    if entry['category'] == 'malicious':
        for _ in range(20):
            if os.listdir(marker):
                break
            time.sleep(0.1)
    files = sorted(os.listdir(marker))
    # a stray process group member could still be running: end it before cleanup
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    shutil.rmtree(base, ignore_errors=True)
    v = {'executed': bool(files), 'loaded': res['loaded'], 'exception': res['exception'],
         'result_type': res['result_type'], 'warnings': res['warnings']}
    if files:
        v['markers'] = files
    return v


def main(argv):
    import argparse
    from concurrent.futures import ThreadPoolExecutor
    ap = argparse.ArgumentParser()
    ap.add_argument('--jobs', type=int, default=max(2, os.cpu_count() or 2))
    ap.add_argument('--only', default=None)
    ap.add_argument('--manifest', default=os.path.join(CORPUS, 'manifest.jsonl'))
    a = ap.parse_args(argv)
    with open(a.manifest) as f:
        entries = [json.loads(line) for line in f if line.strip()]
    todo = [e for e in entries if a.only is None or a.only in e['path']]
    with ThreadPoolExecutor(a.jobs) as ex:
        for e, v in zip(todo, ex.map(run_one, todo)):
            e['verified'] = v
    with open(a.manifest, 'w') as f:
        for e in entries:
            f.write(json.dumps(e) + '\n')
    # report what did not behave as designed
    odd = []
    for e in todo:
        v = e['verified']
        if e['category'] == 'malicious' and not v['executed'] and e.get('expect_executes', True):
            odd.append('NOT EXECUTED  %s  (%s)' % (e['path'], v['exception']))
        elif e['category'] == 'malicious' and v['executed'] and not e.get('expect_executes', True):
            odd.append('EXECUTED (designed not to) %s' % e['path'])
        elif e['category'] != 'malicious' and v['executed']:
            odd.append('EXECUTED?!    %s' % e['path'])
        elif e['category'] == 'benign' and not v['loaded']:
            odd.append('BENIGN FAILED %s  (%s)' % (e['path'], v['exception']))
        elif e['category'] in ('loadfail', 'malformed') and v['loaded'] and not e.get('expect_loads'):
            odd.append('LOADED        %s  (%s)' % (e['path'], v['result_type']))
    print('verified %d samples' % len(todo))
    for line in odd:
        print(line)
    return 0


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[1] == '--child':
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    sys.exit(main(sys.argv[1:]))
