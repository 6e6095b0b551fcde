#!/usr/bin/python3
"""Build the seed corpora for the fuzz harnesses (standard library only).

  fuzz/make_seeds.py --out build/fuzz/seeds fuzz_vm fuzz_scan ...

For each harness name, writes build/fuzz/seeds/<name>/<sha1> files from:
  - fuzz/seeds/<name>/ (small committed seeds, e.g. written by a harness owner)
  - corpus/ (by format, from corpus/manifest.jsonl; files over --max-size skipped)
  - for pickle-level harnesses: the CPython conformance corpus
    (tests/conformance/pjconf.py) and the pickle members of zip samples.
Harnesses this script does not know get their committed seeds plus every small
corpus file.
"""
import argparse
import hashlib
import io
import json
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Which corpus formats feed which harness (None: every format).
FORMATS = {
    "vm": {"pickle", "joblib", "torch-legacy"},
    "scan": None,
    "container": None,
    "zip": {"torch-zip", "torchscript", "npz", "zip"},
    "npy": {"npy", "npz"},
    "wire": set(),     # wire messages come from --wire-gen
    "policy": set(),   # policy text: policy/rules/*.rules
}
PICKLE_LEVEL = {"vm"}


def manifest():
    p = os.path.join(ROOT, "corpus", "manifest.jsonl")
    if not os.path.exists(p):
        return []
    out = []
    with open(p) as fh:
        for line in fh:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def read(p, max_size):
    try:
        if os.path.getsize(p) > max_size:
            return None
        with open(p, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def zip_pickles(data, max_size):
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        for info in z.infolist():
            if info.file_size <= max_size and info.filename.endswith(".pkl"):
                yield z.read(info)
    except Exception:  # malformed zips are expected in the corpus
        return


def seeds_for(short, entries, max_size):
    seeds = []
    committed = os.path.join(HERE, "seeds", short)
    if os.path.isdir(committed):
        for n in sorted(os.listdir(committed)):
            d = read(os.path.join(committed, n), max_size)
            if d is not None:
                seeds.append(d)
    fmts = FORMATS.get(short, None)
    if short not in FORMATS:
        fmts = None
    for m in entries:
        if fmts is not None and m.get("format") not in fmts and not (
                short in PICKLE_LEVEL and m.get("format") in ("torch-zip", "torchscript")):
            continue
        d = read(os.path.join(ROOT, m["path"]), max_size * 4)
        if d is None:
            continue
        if short in PICKLE_LEVEL and d[:2] == b"PK":
            seeds.extend(zip_pickles(d, max_size))
            continue
        if len(d) <= max_size:
            seeds.append(d)
    if short == "policy":
        rules = os.path.join(ROOT, "policy", "rules")
        if os.path.isdir(rules):
            for n in sorted(os.listdir(rules)):
                d = read(os.path.join(rules, n), max_size)
                if d is not None:
                    seeds.append(d)
                    # single rules too: small inputs mutate better
                    seeds.extend(ln for ln in d.splitlines()[:400:7] if ln.strip())
    if short in PICKLE_LEVEL or short in ("scan", "container"):
        sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))
        import pjconf
        corp = pjconf.generate_corpus()
        if short not in PICKLE_LEVEL:
            corp = corp[::7]
        seeds.extend(d for _, d in corp if len(d) <= max_size)
    return seeds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-size", type=int, default=65536)
    ap.add_argument("--wire-gen", default=None,
                    help="gen_wire_seeds binary: wire messages of corpus reports for fuzz_wire")
    ap.add_argument("harnesses", nargs="+")
    a = ap.parse_args()
    entries = manifest()
    for h in a.harnesses:
        short = h[5:] if h.startswith("fuzz_") else h
        d_out = d = os.path.join(a.out, h)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            os.unlink(os.path.join(d, old))
        seen = set()
        if short == "wire" and a.wire_gen and os.path.exists(a.wire_gen):
            import subprocess
            import tempfile
            with tempfile.TemporaryDirectory() as t:
                files = [os.path.join(ROOT, m["path"]) for m in entries
                         if m.get("category") in ("benign", "malicious")][::3]
                files = [f for f in files if os.path.exists(f) and os.path.getsize(f) <= 1 << 20]
                subprocess.run([a.wire_gen, t] + files, capture_output=True, timeout=300)
                for n in sorted(os.listdir(t)):
                    d = read(os.path.join(t, n), a.max_size)
                    if d is not None and hashlib.sha1(d).hexdigest() not in seen:
                        seen.add(hashlib.sha1(d).hexdigest())
                        with open(os.path.join(d_out, hashlib.sha1(d).hexdigest()), "wb") as fh:
                            fh.write(d)
        for s in seeds_for(short, entries, a.max_size):
            k = hashlib.sha1(s).hexdigest()
            if k in seen:
                continue
            seen.add(k)
            with open(os.path.join(d, k), "wb") as fh:
                fh.write(s)
        print("%s: %d seeds" % (h, len(seen)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
