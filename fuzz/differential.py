#!/usr/bin/python3
"""Differential fuzzing: picklejail's VM simulator against CPython's unpickler.

Mutates the conformance corpus (tests/conformance/pjconf.py) and the raw
pickles of corpus/ (byte flips, opcode insertions, splices, truncations,
dictionary tokens), runs every mutant through CPython's C unpickler with
recording stand-ins and through `picklejail scan --format json --no-sandbox`,
and compares globals and calls (see pjconf.compare_file).  Each kind of
disagreement (its signature: the first difference with numbers removed) is
saved once under --save as <sig>.pkl plus <sig>.txt describing it.

Standard library of /usr/bin/python3 only.

  fuzz/differential.py --seconds 60 --save tests/regress/differential
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "conformance"))
import pjconf  # noqa: E402

OPCODES = sorted(pjconf.OPNAMES)
TOKENS = [b"cos\nsystem\n", b"c__builtin__\neval\n", b"\x8c\x02os", b"\x8c\x06system", b"\x93",
          b"R", b"\x81", b"\x92", b"b", b"(", b"t", b")", b"\x85", b"\x86", b"\x94", b"h\x00",
          b"q\x00", b"2", b"0", b"1", b"\x80\x02", b"\x80\x04", b"\x80\x05", b"\x80\x03", b"\x80\x00",
          b"\x95\x08\x00\x00\x00\x00\x00\x00\x00", b"i__builtin__\nset\n", b"o", b"P1\n", b"Q",
          b"\x82\x01", b"N", b"]", b"}", b"e", b"u", b"s", b"a", b".", b"S'x'\n", b"V\xc3\xa9\n",
          b"\x8c\x08builtins", b"\x8c\x07getattr", b"\x8c\x0aos.getpid", b"cpathlib\nos.system\n"]


def load_seeds(include_corpus=True, max_size=16384):
    seeds = [data for _, data in pjconf.generate_corpus() if len(data) <= max_size]
    if include_corpus:
        man = os.path.join(ROOT, "corpus", "manifest.jsonl")
        if os.path.exists(man):
            with open(man) as fh:
                for line in fh:
                    try:
                        m = json.loads(line)
                    except ValueError:
                        continue
                    if m.get("format") != "pickle":
                        continue
                    p = os.path.join(ROOT, m["path"])
                    try:
                        if os.path.getsize(p) <= max_size:
                            with open(p, "rb") as f:
                                seeds.append(f.read())
                    except OSError:
                        pass
    return [s for s in seeds if s]


def generate(rng):
    """A short stream built from tokens (more of these parse than mutants do)."""
    out = [rng.choice((b"", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"))]
    for _ in range(rng.randrange(2, 14)):
        out.append(rng.choice(TOKENS))
    out.append(b".")
    return b"".join(out)


def mutate(rng, data, seeds):
    if rng.randrange(6) == 0:
        return generate(rng)
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        op = rng.randrange(9)
        n = len(b)
        if op == 0 and n:  # flip a bit
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # replace a byte by an opcode
            b[rng.randrange(n)] = rng.choice(OPCODES)
        elif op == 2:  # insert an opcode
            b.insert(rng.randrange(n + 1), rng.choice(OPCODES))
        elif op == 3 and n > 1:  # delete a range
            i = rng.randrange(n)
            del b[i:i + rng.randrange(1, 8)]
        elif op == 4 and n > 1:  # duplicate a range
            i = rng.randrange(n)
            j = min(n, i + rng.randrange(1, 16))
            b[j:j] = b[i:j]
        elif op == 5:  # splice with another seed
            o = rng.choice(seeds)
            i = rng.randrange(n + 1)
            j = rng.randrange(len(o) + 1)
            b = b[:i] + o[j:]
        elif op == 6 and n > 1:  # truncate
            del b[rng.randrange(1, n):]
        elif op == 7:  # insert a token
            t = rng.choice(TOKENS)
            i = rng.randrange(n + 1)
            b[i:i] = t
        elif n:  # small integer argument tweak
            i = rng.randrange(n)
            b[i] = rng.choice((0, 1, 2, 0x7f, 0x80, 0xff, b[i] + 1 & 0xff, b[i] - 1 & 0xff))
    return bytes(b[:65536])


def signature(diff):
    """The kind of a disagreement: the text before the first ':'."""
    return diff.split(":", 1)[0].strip()


def describe(data, rec, entry, diffs, notes):
    out = ["input (%d bytes, hex): %s" % (len(data), data.hex()),
           "", "differences:"] + ["  " + d for d in diffs]
    if notes:
        out += ["", "notes:"] + ["  " + n for n in notes]
    out += ["", "CPython (C Unpickler over io.BytesIO, recording find_class):",
            pjconf.describe_cpython(rec), "", "picklejail (scan --format json --no-sandbox):",
            pjconf.describe_picklejail(entry), ""]
    return "\n".join(out)


def run_batch(batch, tmp, timeout):
    paths = []
    for i, data in enumerate(batch):
        p = os.path.join(tmp, "m%04d.pkl" % i)
        with open(p, "wb") as fh:
            fh.write(data)
        paths.append(p)
    recs = pjconf.record_in_child(paths, timeout=timeout)
    entries, err = pjconf.picklejail_scan(paths)
    for p in paths:
        os.unlink(p)
    return recs, entries, err


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--max-inputs", type=int, default=0, help="stop after this many (0: no limit)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--batch", type=int, default=150)
    ap.add_argument("--save", default=None, help="directory for disagreements (one per signature)")
    ap.add_argument("--known", default=None,
                    help="file of known signatures (one per line, '#' comments): not counted as new")
    ap.add_argument("--no-corpus", action="store_true", help="seed from the conformance corpus only")
    ap.add_argument("--json", default=None, help="write statistics here")
    a = ap.parse_args(argv)
    seed = a.seed if a.seed is not None else int(time.time())
    rng = random.Random(seed)
    seeds = load_seeds(not a.no_corpus)
    known = set()
    if a.known and os.path.exists(a.known):
        with open(a.known) as fh:
            known = {ln.strip() for ln in fh if ln.strip() and not ln.startswith("#")}
    stats = {"seed": seed, "inputs": 0, "cpython_accepted": 0, "compared_streams": 0,
             "disagreeing_inputs": 0, "signatures": {}, "picklejail_errors": 0, "recorder_crashes": 0}
    tmp = tempfile.mkdtemp(prefix="pj-diff-")
    deadline = time.time() + a.seconds
    try:
        while time.time() < deadline and (not a.max_inputs or stats["inputs"] < a.max_inputs):
            n = a.batch
            if a.max_inputs:
                n = min(n, a.max_inputs - stats["inputs"])
            batch = [mutate(rng, rng.choice(seeds), seeds) for _ in range(n)]
            recs, entries, err = run_batch(batch, tmp, 2)
            if entries is None:
                stats["picklejail_errors"] += 1
                print("picklejail failed on a batch: " + err, file=sys.stderr)
                if a.save:
                    # keep the batch so the failure can be reproduced
                    d = os.path.join(a.save, "batch-failure-%d" % seed)
                    os.makedirs(d, exist_ok=True)
                    for i, data in enumerate(batch):
                        with open(os.path.join(d, "m%04d.pkl" % i), "wb") as fh:
                            fh.write(data)
                continue
            if "AddressSanitizer" in err or "runtime error:" in err:
                stats["picklejail_errors"] += 1
                print("picklejail sanitizer report:\n" + err[-3000:], file=sys.stderr)
            for data, rec, ent in zip(batch, recs, entries):
                stats["inputs"] += 1
                if "crash" in rec:
                    stats["recorder_crashes"] += 1
                    print("recorder failed on input %s: %s" % (data.hex()[:400], rec["crash"]),
                          file=sys.stderr)
                    continue
                if rec["file"] and rec["file"][0]["ok"]:
                    stats["cpython_accepted"] += 1
                compared, diffs, notes = pjconf.compare_file(rec, ent)
                stats["compared_streams"] += compared
                if not diffs:
                    continue
                stats["disagreeing_inputs"] += 1
                sig = signature(diffs[0])
                s = stats["signatures"].setdefault(sig, {"count": 0, "example": None, "known": sig in known})
                s["count"] += 1
                if s["example"] is None or len(data) < len(bytes.fromhex(s["example"])):
                    s["example"] = data.hex()
                    s["description"] = describe(data, rec, ent, diffs, notes)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    new = {k: v for k, v in stats["signatures"].items() if not v["known"]}
    if a.save and stats["signatures"]:
        os.makedirs(a.save, exist_ok=True)
        for sig, s in stats["signatures"].items():
            h = hashlib.sha1(sig.encode()).hexdigest()[:12]
            with open(os.path.join(a.save, h + ".pkl"), "wb") as fh:
                fh.write(bytes.fromhex(s["example"]))
            with open(os.path.join(a.save, h + ".txt"), "w") as fh:
                fh.write("signature: %s\nseen: %d of %d inputs (seed %d)\n\n%s"
                         % (sig, s["count"], stats["inputs"], seed, s["description"]))
    print("differential: seed %d, %d inputs, %d accepted by CPython, %d streams compared, "
          "%d disagreeing inputs, %d signatures (%d new), %d picklejail errors, %d recorder crashes"
          % (seed, stats["inputs"], stats["cpython_accepted"], stats["compared_streams"],
             stats["disagreeing_inputs"], len(stats["signatures"]), len(new),
             stats["picklejail_errors"], stats["recorder_crashes"]))
    for sig, s in sorted(stats["signatures"].items(), key=lambda kv: -kv[1]["count"]):
        print("  %5d %s%s" % (s["count"], "(known) " if s["known"] else "", sig))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({k: v for k, v in stats.items()}, fh, indent=1)
    return 1 if (new or stats["picklejail_errors"]) else 0


if __name__ == "__main__":
    sys.exit(main())
