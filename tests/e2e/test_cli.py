"""End-to-end tests of the `picklejail` command line itself: usage, exit
codes, output formats, stdin, directories, and the VM through the CLI."""
import json
import os
import tempfile
import time
import unittest

import pjtest

OS_SYSTEM_P0 = b"cos\nsystem\n(S'echo pwned'\ntR."
BENIGN_P2 = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02]q\x03(K\x02K\x03eu."


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_help_and_version(self):
        rc, out, _ = pjtest.run("--help")
        self.assertEqual(rc, 0)
        self.assertIn("usage: picklejail scan", out)
        self.assertIn("--fail-on", out)
        self.assertIn("--no-sandbox", out)
        self.assertIn("--timeout", out)
        rc, out, _ = pjtest.run("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^picklejail \d+\.\d+\.\d+\n$")

    def test_make_install_destdir(self):
        import subprocess
        dest = os.path.join(self.dir, "root")
        p = subprocess.run(["make", "-s", "-C", pjtest.ROOT, "install", "DESTDIR=" + dest,
                            "PREFIX=/opt/pj"], capture_output=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        installed = os.path.join(dest, "opt", "pj", "bin", "picklejail")
        self.assertTrue(os.access(installed, os.X_OK))
        out = subprocess.run([installed, "--version"], capture_output=True).stdout.decode()
        self.assertTrue(out.startswith("picklejail "))
        helper = os.path.join(dest, "opt", "pj", "libexec", "picklejail", "picklejail-sandbox")
        self.assertTrue(os.access(helper, os.X_OK))
        p = subprocess.run([helper], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"sandbox helper of picklejail", p.stderr)
        # The installed CLI starts its children from the installed helper
        # (found as ../libexec/picklejail/ from its own path): 20 files (the
        # server starts at the 17th), then a fifo the CLI blocks on while we
        # look at its children.
        files = [self.write("f%02d.pkl" % i, BENIGN_P2) for i in range(20)]
        fifo = os.path.join(self.dir, "slow.pkl")
        os.mkfifo(fifo)
        cli = subprocess.Popen([installed, "scan", "-j", "1", "--format", "json", *files, fifo],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        exes, deadline = [], time.monotonic() + 30
        try:
            # (the first 16 files' children are started by the CLI itself)
            while os.path.realpath(helper) not in exes and time.monotonic() < deadline:
                for k in pjtest.children(cli.pid):
                    try:
                        exes.append(os.readlink(f"/proc/{k}/exe"))
                    except OSError:
                        pass
                time.sleep(0.05)
        finally:
            with open(fifo, "wb") as f:
                f.write(BENIGN_P2)
            out, err = cli.communicate(timeout=120)
        self.assertIn(os.path.realpath(helper), exes)
        doc = json.loads(out)
        self.assertEqual(len(doc["files"]), 21)
        self.assertEqual({f["verdict"] for f in doc["files"]}, {"safe"})

    def test_usage_errors_exit_2(self):
        p = self.write("a.pkl", BENIGN_P2)
        for args in ([], ["frobnicate"], ["scan"], ["scan", "--format", "xml", p],
                     ["scan", "--fail-on", "never", p], ["scan", "--timeout", "0", p],
                     ["scan", "--max-memo", "-3", p], ["scan", "--bogus", p],
                     ["diagnose", "--python", "2.7", p]):
            rc, out, err = pjtest.run(*args)
            self.assertEqual(rc, 2, args)
            self.assertTrue(err.strip(), args)

    def test_missing_file_is_an_error_not_safe(self):
        rc, doc = pjtest.scan_json(os.path.join(self.dir, "nope.pkl"))
        self.assertEqual(rc, 2)
        f = doc["files"][0]
        self.assertEqual(f["verdict"], "error")
        self.assertFalse(f["scanned"])
        self.assertIn("No such file", f["error"])

    def test_dangerous_exit_1_and_json_shape(self):
        rc, f = pjtest.scan_bytes(self.dir, OS_SYSTEM_P0)
        self.assertEqual(rc, 1)
        self.assertEqual(f["verdict"], "dangerous")
        self.assertEqual(f["format"], "pickle")
        for key in ("path", "format", "verdict", "findings", "streams"):
            self.assertIn(key, f)
        s = f["streams"][0]
        for key in ("location", "protocol", "globals", "calls"):
            self.assertIn(key, s)
        g = s["globals"][0]
        self.assertEqual((g["module"], g["name"], g["offset"], g["opcode"]), ("os", "system", 0, "GLOBAL"))
        c = s["calls"][0]
        self.assertEqual(c["callee"], "os.system")
        self.assertEqual(c["opcode"], "REDUCE")
        self.assertEqual(c["args"], "('echo pwned',)")
        for fd in f["findings"]:
            for key in ("code", "severity", "message", "offset", "stream"):
                self.assertIn(key, fd)

    def test_compat_names_reported_raw_and_resolved(self):
        rc, f = pjtest.scan_bytes(self.dir, b"\x80\x02c__builtin__\neval\n(X\x01\x00\x00\x001tR.")
        g = f["streams"][0]["globals"][0]
        self.assertEqual((g["module"], g["name"]), ("__builtin__", "eval"))
        self.assertEqual((g["resolved_module"], g["resolved_name"]), ("builtins", "eval"))
        self.assertEqual(f["verdict"], "dangerous")

    def test_benign_exit_0(self):
        rc, f = pjtest.scan_bytes(self.dir, BENIGN_P2)
        self.assertEqual(f["verdict"], "safe")
        self.assertEqual(rc, 0)

    def test_fail_on_threshold(self):
        unknown = b"\x80\x02cmylib.models\nNet\n)\x81."
        rc, f = pjtest.scan_bytes(self.dir, unknown)
        self.assertEqual(f["verdict"], "suspicious")
        self.assertEqual(rc, 1)
        rc, f = pjtest.scan_bytes(self.dir, unknown, extra=("--fail-on", "dangerous"))
        self.assertEqual(rc, 0)

    def test_stdin(self):
        rc, doc = pjtest.scan_json("-", input=OS_SYSTEM_P0)
        self.assertEqual(rc, 1)
        self.assertEqual(doc["files"][0]["path"], "-")
        self.assertEqual(doc["files"][0]["verdict"], "dangerous")

    def test_directory_walk_sorted(self):
        os.mkdir(os.path.join(self.dir, "sub"))
        self.write("b.bin", BENIGN_P2)
        self.write("sub/a.txt", OS_SYSTEM_P0)
        self.write("a.dat", BENIGN_P2)
        rc, doc = pjtest.scan_json(self.dir)
        names = [os.path.relpath(f["path"], self.dir) for f in doc["files"]]
        self.assertEqual(names, ["a.dat", "b.bin", "sub/a.txt"])
        self.assertEqual(rc, 1)
        self.assertEqual(doc["files"][2]["verdict"], "dangerous")

    def test_parallel_jobs_same_output_in_order(self):
        for i in range(7):
            self.write("f%d.pkl" % i, OS_SYSTEM_P0 if i % 3 == 0 else BENIGN_P2)
        missing = os.path.join(self.dir, "missing.pkl")
        for fmt in ("json", "jsonl", "sarif", "text"):
            r1 = pjtest.run("scan", "--format", fmt, "--color", "never", self.dir, missing)
            r3 = pjtest.run("scan", "-j", "3", "--format", fmt, "--color", "never", self.dir, missing)
            self.assertEqual(r1[0], 1)
            self.assertEqual(r3[0], r1[0], fmt)
            self.assertEqual(r3[1], r1[1], fmt)
        doc = json.loads(pjtest.run("scan", "-j", "3", "--format", "json", self.dir, missing)[1])
        self.assertEqual([os.path.basename(f["path"]) for f in doc["files"]],
                         ["f%d.pkl" % i for i in range(7)] + ["missing.pkl"])
        self.assertEqual(doc["files"][-1]["verdict"], "error")
        rc, _, err = pjtest.run("scan", "-j", "0", self.dir)
        self.assertEqual(rc, 2)

    def test_jsonl_one_line_per_file(self):
        a = self.write("a.pkl", BENIGN_P2)
        b = self.write("b.pkl", OS_SYSTEM_P0)
        rc, out, _ = pjtest.run("scan", "--format", "jsonl", a, b)
        lines = out.strip().split("\n")
        self.assertEqual(len(lines), 2)
        self.assertEqual([json.loads(l)["verdict"] for l in lines], ["safe", "dangerous"])

    def test_sarif(self):
        p = self.write("a.pkl", OS_SYSTEM_P0)
        rc, out, _ = pjtest.run("scan", "--format", "sarif", p)
        doc = json.loads(out)
        self.assertEqual(doc["version"], "2.1.0")
        run = doc["runs"][0]
        self.assertEqual(run["tool"]["driver"]["name"], "picklejail")
        rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
        self.assertIn("PJ300", rule_ids)
        results = run["results"]
        self.assertTrue(any(r["ruleId"] == "PJ300" and r["level"] == "error" for r in results))
        for r in results:
            self.assertIn(r["ruleId"], rule_ids)
            # An absolute path becomes a file: URI (docs/report-schema.md).
            self.assertEqual(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                             "file://" + p)

    def test_text_report(self):
        p = self.write("a.pkl", OS_SYSTEM_P0)
        rc, out, _ = pjtest.run("scan", "--color", "never", p)
        self.assertEqual(rc, 1)
        self.assertIn(p + ": DANGEROUS", out)
        self.assertIn("os.system('echo pwned',)", out)
        self.assertIn("PJ300", out)
        self.assertNotIn("\033[", out)
        rc, out, _ = pjtest.run("scan", "--color", "always", p)
        self.assertIn("\033[31m", out)

    def test_payload_before_garbage_is_kept(self):
        rc, f = pjtest.scan_bytes(self.dir, OS_SYSTEM_P0[:-1] + b"\xff\xfe\xfd garbage")
        self.assertEqual(f["verdict"], "dangerous")
        codes = {x["code"] for x in f["findings"]}
        self.assertIn("PJ102", codes)
        self.assertIn("PJ300", codes)

    def test_payload_behind_garbage_found_by_resync(self):
        data = BENIGN_P2[:-1] + b"\x00junk" + b"\x80\x02cposix\nsystem\n(X\x02\x00\x00\x00idtR."
        rc, f = pjtest.scan_bytes(self.dir, data)
        self.assertEqual(f["verdict"], "dangerous")
        self.assertGreaterEqual(len(f["streams"]), 2)
        self.assertIn("PJ114", {x["code"] for x in f["findings"]})

    def test_frame_straddle_scanned_both_ways(self):
        # The frame holds "\x8c\x05a"; pickle.load on a file reads "hello" after the frame.
        data = (b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00\x8c\x05ahello0"
                b"cos\nsystem\n(S'x'\ntR.")
        rc, f = pjtest.scan_bytes(self.dir, data)
        self.assertIn("PJ110", {x["code"] for x in f["findings"]})
        self.assertEqual(f["verdict"], "dangerous")
        self.assertTrue(any("pickle.loads" in s["location"] for s in f["streams"]))

    def test_limits_are_findings(self):
        data = b"\x80\x02" + b"K\x01" * 1000 + b"."
        rc, f = pjtest.scan_bytes(self.dir, data, extra=("--max-opcodes", "100"))
        self.assertIn("PJ115", {x["code"] for x in f["findings"]})
        self.assertNotEqual(f["verdict"], "safe")

    def test_nested_pickle_scanned(self):
        inner = b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R."
        # protocol 3: bytes literal; protocol 2: _codecs.encode(str, 'latin1')
        outer3 = b"\x80\x03cpickle\nloads\nC" + bytes([len(inner)]) + inner + b"\x85R."
        latin = inner.decode("latin1").encode("utf-8")
        outer2 = (b"\x80\x02c_pickle\nloads\nc_codecs\nencode\nX" + len(latin).to_bytes(4, "little")
                  + latin + b"X\x06\x00\x00\x00latin1\x86R\x85R.")
        for data, where in ((outer3, "pickle.loads@"), (outer2, "_pickle.loads@")):
            rc, f = pjtest.scan_bytes(self.dir, data)
            nested = [s for s in f["streams"] if s["location"].startswith(where)]
            self.assertEqual(len(nested), 1, [s["location"] for s in f["streams"]])
            self.assertEqual([(g["module"], g["name"]) for g in nested[0]["globals"]],
                             [("posix", "system")])
            self.assertEqual(nested[0]["calls"][0]["args"], "('id',)")
            self.assertEqual(f["verdict"], "dangerous")

    def test_getattr_chain_resolves_callee(self):
        data = (b"\x80\x02cbuiltins\ngetattr\n(cbuiltins\n__import__\n(X\x02\x00\x00\x00ostR"
                b"X\x06\x00\x00\x00systemtR(X\x02\x00\x00\x00idtR.")
        rc, f = pjtest.scan_bytes(self.dir, data)
        callees = [c["callee"] for c in f["streams"][0]["calls"]]
        self.assertEqual(callees, ["builtins.__import__", "builtins.getattr", "os.system"])
        derived = [g for g in f["streams"][0]["globals"] if g["origin"] == "derived"]
        self.assertIn(("os", "system"), [(g["module"], g["name"]) for g in derived])
        self.assertEqual(f["verdict"], "dangerous")


if __name__ == "__main__":
    unittest.main()
