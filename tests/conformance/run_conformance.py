#!/usr/bin/python3
"""Conformance of picklejail's VM against CPython's own unpickler.

Generates the conformance corpus (pjconf.generate_corpus), adds the saved
differential disagreements (tests/regress/differential/*.pkl), records what
CPython does with each (pjconf.record, C Unpickler over io.BytesIO with
recording stand-ins) and compares globals and calls with
`picklejail scan --format json --no-sandbox`.

Cases listed in tests/conformance/known.txt ("name: reason") are known
disagreements: reported and counted as skipped while they disagree, as passed
(with a note to remove them) once they agree.  Prints "N passed, N failed,
N skipped" last.
"""
import argparse
import glob
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pjconf  # noqa: E402


def load_known(path):
    known = {}
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                name, _, why = line.partition(":")
                known[name.strip()] = why.strip()
    return known


def selftest():
    """The reference itself: what the recorder must see for a few streams
    whose CPython behaviour is known.  Returns a list of failures."""
    cases = [
        # (stream, [(raw module, raw name, module, name)], [(kind, callee)], accepted)
        (b"c__builtin__\neval\n(S'1'\ntR.", [("__builtin__", "eval", "builtins", "eval")],
         [("call", "builtins.eval")], True),
        (b"\x80\x03c__builtin__\neval\n.", [("__builtin__", "eval", "__builtin__", "eval")], [], True),
        (b"\x80\x02c__builtin__\nxrange\n.", [("__builtin__", "xrange", "builtins", "range")], [], True),
        (b"\x80\x04\x8c\x07pathlib\x8c\x09os.system\x93.",
         [("pathlib", "os.system", "pathlib", "os.system")], [], True),
        (b"\x80\x02cpathlib\nos.system\n.", [("pathlib", "os.system", "pathlib", None)], [], False),
        (b"\x80\x02cm\nC\n)\x81}b.", [("m", "C", "m", "C")], [("new", "m.C"), ("build", "m.C()")], True),
        (b"(cm\nC\no.", [("m", "C", "m", "C")], [("new", "m.C")], True),
        (b"(S'a'\nim\nC\n.", [("m", "C", "m", "C")], [("call", "m.C")], True),
        (b"\x80\x02\x82\x01)R.", [("pj_ext_mod", "ext_one", "pj_ext_mod", "ext_one")],
         [("call", "pj_ext_mod.ext_one")], True),
        (b"cos\nsystem\n\xff", [("os", "system", "os", "system")], [], False),
    ]
    fails = []
    for data, globs, calls, ok in cases:
        rec = pjconf.record(data)
        ld = rec["file"][0]
        got_g = [(e["raw_module"], e["raw_name"], e["module"], e["name"] if not e.get("failed") else None)
                 for e in ld["events"] if e["ev"] == "global"]
        got_c = [(e["kind"], e["callee"]) for e in ld["events"] if e["ev"] == "call"]
        if got_g != globs or got_c != calls or ld["ok"] != ok:
            fails.append("recorder on %r: globals %r calls %r ok %r" % (data, got_g, got_c, ld["ok"]))
    return fails


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--only", default=None, help="substring of case names")
    a = ap.parse_args(argv)
    if not os.path.exists(pjconf.PJ_BIN):
        print("picklejail binary missing: %s" % pjconf.PJ_BIN)
        print("0 passed, 1 failed")
        return 1
    known = load_known(os.path.join(HERE, "known.txt"))
    st_fails = selftest()
    for f in st_fails:
        print("FAIL selftest: " + f)
    with tempfile.TemporaryDirectory(prefix="pj-conf-") as tmp:
        cases = []
        for name, data in pjconf.generate_corpus():
            p = os.path.join(tmp, name + ".pkl")
            with open(p, "wb") as fh:
                fh.write(data)
            cases.append((name, p))
        regress = os.path.join(pjconf.ROOT, "tests", "regress", "differential")
        for p in sorted(glob.glob(os.path.join(regress, "*.pkl"))):
            cases.append(("differential/" + os.path.basename(p)[:-4], p))
        if a.only:
            cases = [c for c in cases if a.only in c[0]]
        paths = [p for _, p in cases]
        recs = pjconf.record_in_child(paths)
        entries, err = pjconf.picklejail_scan(paths)
        if entries is None:
            print("picklejail failed: " + err)
            print("0 passed, %d failed" % len(cases))
            return 1
        sanitizer = "AddressSanitizer" in err or "runtime error:" in err
        if sanitizer:
            print("sanitizer report from picklejail:\n" + err[-4000:])
        passed, failed, skipped = (0, 1, 0) if st_fails else (1, 0, 0)
        accepted = compared = 0
        for (name, p), rec, ent in zip(cases, recs, entries):
            c, diffs, notes = pjconf.compare_file(rec, ent)
            compared += c
            if rec.get("file") and rec["file"][0]["ok"]:
                accepted += 1
            if not diffs:
                passed += 1
                if name in known:
                    print("FIXED %s (remove it from tests/conformance/known.txt)" % name)
                elif a.verbose:
                    print("ok   %s%s" % (name, "".join("\n       note: " + n for n in notes)))
                continue
            if name in known:
                skipped += 1
                print("KNOWN %s: %s\n       %s" % (name, known[name], diffs[0]))
                continue
            failed += 1
            print("FAIL %s" % name)
            for d in diffs[:12]:
                print("       " + d)
            for n in notes:
                print("       note: " + n)
            if a.verbose:
                print("     -- CPython\n" + pjconf.describe_cpython(rec))
                print("     -- picklejail\n" + pjconf.describe_picklejail(ent))
        print("conformance: %d cases (%d accepted by CPython), %d streams compared"
              % (len(cases), accepted, compared))
        if sanitizer:
            failed += 1
        print("%d passed, %d failed, %d skipped" % (passed, failed, skipped) if skipped else
              "%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
