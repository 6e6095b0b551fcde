"""End-to-end: scan the whole corpus with the CLI and check every file against
its manifest line (corpus/manifest.jsonl).  Prints the confusion table."""
import collections
import json
import os
import unittest

import pjtest

RANK = {"safe": 0, "suspicious": 1, "dangerous": 2, "error": 3}


def load_manifest():
    with open(os.path.join(pjtest.ROOT, "corpus", "manifest.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


class CorpusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.manifest = load_manifest()
        paths = [os.path.join(pjtest.ROOT, m["path"]) for m in cls.manifest]
        rc, out, err = pjtest.run("scan", "--format", "jsonl", *paths, timeout=900)
        assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
        cls.results = {}
        for line in out.splitlines():
            d = json.loads(line)
            cls.results[os.path.relpath(d["path"], pjtest.ROOT)] = d
        pjtest.record_codes(cls.results.values())
        table = collections.Counter()
        for m in cls.manifest:
            got = cls.results.get(m["path"], {}).get("verdict", "missing")
            table[(m["category"], m["expected_verdict"], got)] += 1
        print("\ncorpus confusion table (category, expected verdict -> picklejail verdict: files)")
        for key in sorted(table):
            print("  %-10s %-10s -> %-10s %4d" % (key[0], key[1], key[2], table[key]))

    def entries(self, category):
        return [m for m in self.manifest if m["category"] == category]

    def test_every_file_scanned(self):
        missing = [m["path"] for m in self.manifest if m["path"] not in self.results]
        self.assertEqual(missing, [])

    def test_no_crash(self):
        crashed = [p for p, d in self.results.items()
                   if any(f["code"] in ("PJ401", "PJ404", "PJ405") for f in d["findings"])]
        self.assertEqual(crashed, [])

    def test_malicious_are_dangerous_with_their_globals(self):
        bad = []
        for m in self.entries("malicious"):
            d = self.results[m["path"]]
            names = set()
            for s in d["streams"]:
                for g in s["globals"]:
                    names.add(g["module"] + "." + g["name"])
                    names.add(g["resolved_module"] + "." + g["resolved_name"])
            lacking = [g for g in m.get("must_report_globals", []) if g not in names]
            if d["verdict"] != "dangerous" or lacking:
                bad.append((m["path"], d["verdict"], lacking))
        self.assertEqual(bad, [], "malicious samples not reported dangerous with their globals")

    def test_benign_are_safe(self):
        bad = [(m["path"], self.results[m["path"]]["verdict"],
                [f["code"] + " " + f["message"] for f in self.results[m["path"]]["findings"]
                 if f["class"] == "security" and f["severity"] != "info"][:3])
               for m in self.entries("benign") if self.results[m["path"]]["verdict"] != "safe"]
        self.assertEqual(bad, [], "benign real-world samples not reported safe")

    def test_malformed_give_findings(self):
        # Every malformed sample gets a finding.  The verdict is at least
        # suspicious, except where the only defect is a load failure of a
        # legitimate construct (out-of-band buffers without buffers=): that is
        # a load finding, not a security one.
        bad = []
        for m in self.entries("malformed"):
            d = self.results[m["path"]]
            sec = [f for f in d["findings"] if f["class"] == "security" and f["severity"] != "info"]
            load = [f for f in d["findings"] if f["class"] == "load" and f["severity"] != "info"]
            if m.get("expect_loads") and m["verified"].get("loaded"):
                continue  # CPython loads it (e.g. trailing bytes after STOP)
            if sec and RANK[d["verdict"]] >= RANK["suspicious"]:
                continue
            if not sec and load:
                continue
            bad.append((m["path"], d["verdict"]))
        self.assertEqual(bad, [], "malformed samples without a finding")

    def test_loadfail_verdicts(self):
        bad = []
        for m in self.entries("loadfail"):
            got = self.results[m["path"]]["verdict"]
            exp = m["expected_verdict"]
            if (exp == "safe" and got != "safe") or RANK[got] < RANK[exp]:
                bad.append((m["path"], exp, got))
        self.assertEqual(bad, [])


if __name__ == "__main__":
    unittest.main()
