"""Output side of `picklejail scan` (issue #9): JSON/JSONL/SARIF stay valid
UTF-8 JSON whatever the bytes, -o FILE is atomic, jsonl equals the json
document and streams, SARIF validates against the OASIS 2.1.0 schema, the
text summary, --quiet, --summary-only, and the progress bar on a TTY."""
import io
import json
import os
import pty
import re
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import zipfile

import pjtest

OS_SYSTEM_P0 = b"cos\nsystem\n(S'echo pwned'\ntR."
BENIGN_P2 = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s."
UNKNOWN_P2 = b"\x80\x02cmylib.models\nNet\n)\x81."
SCHEMA = os.path.join(pjtest.ROOT, "tests", "schema", "sarif-schema-2.1.0.json")

# File names that are not UTF-8 (each kind of ill-formed sequence), with
# control bytes, spaces and URI-reserved characters.
ODD_NAMES = [
    b"bad\xff\xfe name.pkl",
    b"esc\x1b[31mred\x07.pkl",
    b"nl\nin name.pkl",
    b"over\xc0\x80long\xed\xa0\x80surr.pkl",
    b"trunc\xe2\x82.pkl",
    b"caf\xc3\xa9 #1 %41 ?x=y&z.pkl",
]


def strict_json(raw):
    """Parse bytes as a JSON text: UTF-8 only (no replacement), strict JSON."""
    return json.loads(raw.decode("utf-8", "strict"), strict=True)


def run_raw(*args, input=None, timeout=300, env=None, **kw):
    """Run the CLI; returns (exit code, stdout bytes, stderr text)."""
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    if env:
        e.update(env)
    p = subprocess.run([pjtest.BIN, *args], input=input, capture_output=True, timeout=timeout,
                       env=e, **kw)
    pjtest._record(p.stdout.decode("utf-8", "replace"))
    err = p.stderr.decode("utf-8", "replace")
    assert "runtime error" not in err and "AddressSanitizer" not in err, err
    return p.returncode, p.stdout, err


# RFC 3986 URI-reference: only unreserved, reserved and %XX; no spaces,
# controls or raw non-ASCII bytes.
URI_REF = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*:)?([A-Za-z0-9\-._~!$&'()*+,;=:@/?#]|%[0-9A-Fa-f]{2})*$")


def corpus_files(limit=None):
    out = []
    for sub in ("benign", "malicious", "malformed", "loadfail"):
        d = os.path.join(pjtest.ROOT, "corpus", sub)
        for dirpath, _, names in os.walk(d):
            for n in sorted(names):
                out.append(os.path.join(dirpath, n))
    out.sort()
    return out[:limit] if limit else out


def hostile_zip():
    """A torch-style zip whose member name holds invalid UTF-8 and ESC."""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        z.writestr("archive/XXXX/data.pkl", b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.")
        z.writestr("archive/version", "3\n")
    return bio.getvalue().replace(b"XXXX", b"\xff\x1b\x80\xc0")


class OutputTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.bdir = os.fsencode(self.dir)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, data):
        p = os.path.join(self.bdir if isinstance(name, bytes) else self.dir, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def odd_tree(self):
        """Odd names, a hostile zip and hostile pickle strings; returns the directory."""
        for i, n in enumerate(ODD_NAMES):
            self.write(b"odd/" + n, OS_SYSTEM_P0 if i % 2 else BENIGN_P2)
        self.write("odd/member.pt", hostile_zip())
        # STACK_GLOBAL names and call arguments with invalid UTF-8 and controls.
        self.write("odd/strings.pkl", b"\x80\x04U\x04o\xffs\x1bU\x06sys\xc0\x80m\x93"
                   b"C\x05\xff\x1b\x00\xe9\x80\x85R.")
        self.write("odd/args.pkl", b"\x80\x02cos\nsystem\nU\x07\xff\x1b[2J\r\n\x85R.")
        return os.path.join(self.dir, "odd")

    # 1. JSON validity whatever the bytes ---------------------------------

    def test_non_utf8_names_and_strings_give_valid_json_everywhere(self):
        d = self.odd_tree()
        for fmt in ("json", "jsonl", "sarif"):
            for jobs in ("1", "2"):
                rc, out, err = run_raw("scan", "-j", jobs, "--format", fmt, d)
                self.assertEqual(rc, 1, err)
                docs = ([strict_json(l) for l in out.splitlines()] if fmt == "jsonl"
                        else [strict_json(out)])
                self.assertTrue(docs)
        rc, out, _ = run_raw("scan", "--format", "json", d)
        doc = strict_json(out)
        by_name = {}
        for f in doc["files"]:
            raw = bytes.fromhex(f["path_bytes"]) if "path_bytes" in f else f["path"].encode()
            by_name[os.path.basename(raw)] = f
            # The text is the bytes as Python's 'replace' decoding shows them.
            self.assertEqual(f["path"], raw.decode("utf-8", "replace"))
            self.assertEqual("path_bytes" in f, raw != f["path"].encode("utf-8"))
        self.assertEqual(set(by_name), set(ODD_NAMES) | {b"member.pt", b"strings.pkl", b"args.pkl"})
        self.assertIn("\ufffd", by_name[b"bad\xff\xfe name.pkl"]["path"])
        self.assertEqual(by_name[b"esc\x1b[31mred\x07.pkl"]["path"].count("\x1b"), 1)
        member = by_name[b"member.pt"]
        self.assertEqual(member["verdict"], "dangerous")
        self.assertTrue(any("/data.pkl" in s["location"] for s in member["streams"]))
        sg = by_name[b"strings.pkl"]
        mods = [g["module"] for s in sg["streams"] for g in s["globals"]]
        self.assertTrue(mods and all("\x1b" not in m for m in mods), mods)
        args = [c["args"] for s in by_name[b"args.pkl"]["streams"] for c in s["calls"]]
        self.assertTrue(args and all("\x1b" not in a and "\r" not in a for a in args), args)

    def test_text_output_escapes_control_bytes_in_names(self):
        self.write(b"esc\x1b]0;pwn\x07\xff.pkl", OS_SYSTEM_P0)
        rc, out, _ = run_raw("scan", "--color", "never", self.dir)
        self.assertEqual(rc, 1)
        self.assertNotIn(b"\x1b", out)
        self.assertNotIn(b"\x07", out)
        self.assertIn(b"esc\\x1b]0;pwn\\x07\\xff.pkl: DANGEROUS", out)

    def test_diagnose_text_escapes_control_bytes_in_names(self):
        self.write(b"esc\x1b]0;pwn\x07\xff.pkl", OS_SYSTEM_P0)
        rc, out, _ = run_raw("diagnose", "--color", "never", self.dir)
        self.assertNotIn(b"\x1b", out)
        self.assertNotIn(b"\x07", out)
        self.assertIn(b"esc\\x1b]0;pwn\\x07\\xff.pkl: ", out)
        self.assertIn(b"`picklejail scan " + os.fsencode(self.dir) + b"/esc\\x1b]0;pwn", out)

    # 2. -o FILE ------------------------------------------------------------

    def test_output_file_every_format_stdout_empty(self):
        d = self.odd_tree()
        for fmt in ("json", "jsonl", "sarif", "text"):
            for jobs in ("1", "2"):
                target = os.path.join(self.dir, "report." + fmt)
                rc0, direct, _ = run_raw("scan", "-j", jobs, "--format", fmt, "--color", "never", d)
                rc, out, err = run_raw("scan", "-j", jobs, "--format", fmt, "-o", target, d)
                self.assertEqual(rc, rc0)
                self.assertEqual(out, b"", fmt)
                with open(target, "rb") as f:
                    self.assertEqual(f.read(), direct, (fmt, jobs))
                self.assertEqual(sorted(os.listdir(self.dir)), ["odd", "report." + fmt])
                os.unlink(target)

    def test_output_replaces_existing_file_and_keeps_its_mode(self):
        p = self.write("a.pkl", BENIGN_P2)
        target = self.write("r.json", b"old")
        os.chmod(target, 0o640)
        rc, out, _ = run_raw("scan", "--format", "json", "--output", target, p)
        self.assertEqual(rc, 0)
        with open(target, "rb") as f:
            self.assertEqual(strict_json(f.read())["files"][0]["verdict"], "safe")
        self.assertEqual(os.stat(target).st_mode & 0o777, 0o640)

    def test_output_inside_the_scanned_tree(self):
        # The temporary file is created after the walk: it is never scanned.
        self.write("a.pkl", BENIGN_P2)
        rc, out, _ = run_raw("scan", "--format", "json", "-o", "r.json", ".", cwd=self.dir)
        self.assertEqual(rc, 0)
        self.assertEqual(out, b"")
        with open(os.path.join(self.dir, "r.json"), "rb") as f:
            doc = strict_json(f.read())
        self.assertEqual([f["path"] for f in doc["files"]], ["./a.pkl"])
        # Text to a file has no colour unless asked for.
        rc, _, _ = run_raw("scan", "-o", "r.txt", "a.pkl", cwd=self.dir)
        with open(os.path.join(self.dir, "r.txt"), "rb") as f:
            self.assertNotIn(b"\x1b[", f.read())
        rc, _, _ = run_raw("scan", "--color", "always", "-o", "r.txt", "a.pkl", cwd=self.dir)
        with open(os.path.join(self.dir, "r.txt"), "rb") as f:
            self.assertIn(b"\x1b[", f.read())

    def test_output_dash_is_standard_output(self):
        p = self.write("a.pkl", OS_SYSTEM_P0)
        rc, out, _ = run_raw("scan", "--format", "json", "-o", "-", p, cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertEqual(strict_json(out)["files"][0]["verdict"], "dangerous")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "-")))

    def test_output_with_stdout_closed(self):
        p = self.write("a.pkl", OS_SYSTEM_P0)
        target = os.path.join(self.dir, "r.json")
        rc, out, err = self.shell_closed_stdout(["scan", "--format", "json", "-o", target, p])
        self.assertEqual(rc, 1, err)
        with open(target, "rb") as f:
            self.assertEqual(strict_json(f.read())["files"][0]["verdict"], "dangerous")

    def shell_closed_stdout(self, args):
        cmd = " ".join("'%s'" % a.replace("'", "'\\''") for a in [pjtest.BIN, *args])
        p = subprocess.run(["/bin/sh", "-c", cmd + " >&-"], capture_output=True, timeout=120)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def test_output_in_missing_directory_is_a_usage_error(self):
        p = self.write("a.pkl", OS_SYSTEM_P0)
        target = os.path.join(self.dir, "no", "such", "r.json")
        rc, out, err = run_raw("scan", "--format", "json", "-o", target, p)
        self.assertEqual(rc, 2)
        self.assertEqual(out, b"")
        self.assertIn("cannot write the report to", err)
        self.assertIn("r.json", err)
        self.assertFalse(os.path.exists(os.path.dirname(target)))
        rc, _, err = run_raw("scan", "-o", self.dir, p)  # a directory
        self.assertEqual(rc, 2)
        self.assertIn("is a directory", err)

    def test_output_write_failure_keeps_old_file(self):
        files = [self.write("f%03d.pkl" % i, OS_SYSTEM_P0) for i in range(40)]
        target = self.write("out/r.json", b"previous report\n")

        def small_files():
            # 4 KiB is far less than the report: the write fails with EFBIG.
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

        rc, out, err = run_raw("scan", "--format", "json", "-o", target, *files,
                               preexec_fn=small_files)
        self.assertEqual(rc, 2, err)
        self.assertIn("cannot write the report", err)
        with open(target, "rb") as f:
            self.assertEqual(f.read(), b"previous report\n")
        self.assertEqual(os.listdir(os.path.dirname(target)), ["r.json"])

    def test_output_interrupted_keeps_old_file(self):
        files = [self.write("f%04d.pkl" % i, UNKNOWN_P2) for i in range(400)]
        target = self.write("out/r.sarif", b"previous\n")
        for jobs in ("1", "2"):
            for sig in (signal.SIGTERM, signal.SIGINT):
                p = subprocess.Popen([pjtest.BIN, "scan", "-j", jobs, "--format", "sarif",
                                      "-o", target, *files],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                # Wait until the temporary file exists, then interrupt.
                tmp_seen = False
                for _ in range(500):
                    if any(n.startswith(".picklejail-") for n in os.listdir(os.path.dirname(target))):
                        tmp_seen = True
                        break
                    time.sleep(0.01)
                time.sleep(0.3)
                p.send_signal(sig)
                out, _ = p.communicate(timeout=120)
                self.assertTrue(tmp_seen)
                self.assertEqual(p.returncode, -sig, (jobs, sig))
                self.assertEqual(out, b"")
                with open(target, "rb") as f:
                    self.assertEqual(f.read(), b"previous\n")
                self.assertEqual(os.listdir(os.path.dirname(target)), ["r.sarif"])

    # 3. jsonl ------------------------------------------------------------------

    def test_jsonl_lines_equal_json_document_entries(self):
        inputs = corpus_files() + [self.odd_tree()]
        rc_doc, out, _ = run_raw("scan", "--format", "json", *inputs)
        doc = strict_json(out)
        for jobs in ("1", "2"):
            rc, out, _ = run_raw("scan", "-j", jobs, "--format", "jsonl", *inputs)
            self.assertEqual(rc, rc_doc)
            lines = [strict_json(l) for l in out.splitlines()]
            file_lines = [l for l in lines if l.get("type") != "skipped"]
            self.assertEqual(len(file_lines), len(doc["files"]))
            self.assertGreater(len(file_lines), 300)
            for a, b in zip(file_lines, doc["files"]):
                self.assertEqual(a, b)

    def test_jsonl_streams_each_file_as_it_completes(self):
        a = self.write("a.pkl", OS_SYSTEM_P0)
        for jobs in ("1", "2"):
            p = subprocess.Popen([pjtest.BIN, "scan", "-j", jobs, "--format", "jsonl", a, "-"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            # The first file's line arrives while stdin (the second file) is still open.
            ready, _, _ = select.select([p.stdout], [], [], 60)
            self.assertTrue(ready, "no JSON line before the last input completed")
            first = json.loads(p.stdout.readline())
            self.assertEqual(first["verdict"], "dangerous")
            out, _ = p.communicate(BENIGN_P2, timeout=60)
            self.assertEqual(json.loads(out)["path"], "-")
            self.assertEqual(p.returncode, 1)

    # 4. SARIF ------------------------------------------------------------------

    def sarif_checks(self, doc, inputs_dir):
        run = doc["runs"][0]
        rules = run["tool"]["driver"]["rules"]
        self.assertEqual(len({r["id"] for r in rules}), len(rules))
        self.assertTrue(run["results"])
        for r in run["results"]:
            self.assertEqual(rules[r["ruleIndex"]]["id"], r["ruleId"])
            self.assertIn(r["level"], ("error", "warning", "note"))
            self.assertTrue(r["message"]["text"])
            if r["ruleId"] != "unscanned":
                self.assertTrue(r["partialFingerprints"]["picklejail/v1"].startswith(r["ruleId"] + ":"))
            pl = r["locations"][0]["physicalLocation"]
            # Code-scanning services need a line (GitHub: region.startLine).
            self.assertEqual(pl["region"]["startLine"], 1)
            al = pl["artifactLocation"]
            self.assertRegex(al["uri"], URI_REF)
            # The URI names the very file: decode it back to the bytes.
            raw = urllib.parse.unquote_to_bytes(al["uri"])
            if al["uri"].startswith("file://"):
                path = raw[len(b"file://"):]
            else:
                self.assertEqual(al["uriBaseId"], "%SRCROOT%")
                base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
                path = urllib.parse.unquote_to_bytes(base)[len(b"file://"):] + raw
            self.assertTrue(os.path.exists(path), path)
            self.assertTrue(path.startswith(os.fsencode(inputs_dir)) or inputs_dir == "", path)
        inv = run["invocations"][0]
        self.assertIn("exitCode", inv)
        self.assertEqual(inv["executionSuccessful"], inv["exitCode"] != 2)

    def test_sarif_structure_uris_and_invocation(self):
        d = self.odd_tree()
        rc, out, _ = run_raw("scan", "--format", "sarif", d)
        doc = strict_json(out)
        self.sarif_checks(doc, d)
        self.assertEqual(doc["runs"][0]["invocations"][0]["exitCode"], rc)
        self.assertEqual(rc, 1)
        # Relative paths stay relative to %SRCROOT% (the working directory).
        rc, out, _ = run_raw("scan", "--format", "sarif", "odd", cwd=self.dir)
        doc = strict_json(out)
        self.sarif_checks(doc, "")
        uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in doc["runs"][0]["results"]}
        self.assertIn("odd/esc%1B%5B31mred%07.pkl", uris)
        self.assertIn("odd/caf%C3%A9%20%231%20%2541%20%3Fx%3Dy%26z.pkl", uris)
        self.assertEqual(doc["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"],
                         "file://" + urllib.parse.quote(self.dir) + "/")

    def test_sarif_unscanned_file_is_an_error_result(self):
        missing = os.path.join(self.dir, "missing.pkl")
        p = self.write("a.pkl", BENIGN_P2)
        rc, out, _ = run_raw("scan", "--format", "sarif", p, missing)
        self.assertEqual(rc, 2)
        run = strict_json(out)["runs"][0]
        self.assertEqual([r["ruleId"] for r in run["results"]], ["unscanned"])
        self.assertEqual(run["results"][0]["level"], "error")
        self.assertEqual(run["invocations"], [{"executionSuccessful": False, "exitCode": 2}])

    def test_sarif_validates_against_schema(self):
        try:
            import jsonschema
        except ImportError:
            self.skipTest("python3-jsonschema is not installed")
        with open(SCHEMA) as f:
            schema = json.load(f)
        jsonschema.Draft4Validator.check_schema(schema)
        validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
        odd = self.odd_tree()
        missing = os.path.join(self.dir, "missing.pkl")
        for args in ([*corpus_files(), odd, missing], ["-j", "2", odd], [missing]):
            rc, out, _ = run_raw("scan", "--format", "sarif", *args)
            doc = strict_json(out)
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            self.assertEqual([], ["%s at %s" % (e.message[:200], list(e.path)) for e in errors[:5]])
        # The validator does reject what the schema forbids.
        doc["runs"][0]["results"] = [{"ruleId": "PJ300", "level": "fatal", "message": {"text": "x"}}]
        self.assertTrue(list(validator.iter_errors(doc)))

    # 5. text summary, --quiet, --summary-only ------------------------------------

    def mixed(self):
        self.write("d1.pkl", OS_SYSTEM_P0)
        self.write("d2.pkl", OS_SYSTEM_P0)
        self.write("s.pkl", BENIGN_P2)
        self.write("u.pkl", UNKNOWN_P2)
        return self.dir

    def test_text_summary_table_counts_and_top_findings(self):
        d = self.mixed()
        rc, out, _ = run_raw("scan", "--color", "never", d)
        text = out.decode()
        self.assertEqual(rc, 1)
        self.assertIn("4 files: 2 dangerous, 1 suspicious, 1 safe, 0 errors", text)
        self.assertRegex(text, r"\n  dangerous +2\n")
        self.assertRegex(text, r"\n  safe +1\n")
        self.assertIn("top findings", text)
        # PJ300 in two files comes first among the top findings.
        top = text[text.index("top findings"):].splitlines()[1]
        self.assertRegex(top, r"^  PJ30[02] .* +2 +[0-9]+$")

    def test_quiet_lists_only_files_that_are_not_safe(self):
        d = self.mixed()
        rc, out, err = run_raw("scan", "--quiet", "--color", "never", d)
        text = out.decode()
        self.assertEqual(rc, 1)
        self.assertIn("d1.pkl: DANGEROUS", text)
        self.assertIn("u.pkl: SUSPICIOUS", text)
        self.assertNotIn("s.pkl", text)
        self.assertIn("4 files: 2 dangerous", text)
        self.assertEqual(err, "")
        rc, out, _ = run_raw("scan", "-q", "--color", "never", os.path.join(d, "s.pkl"))
        self.assertEqual(rc, 0)
        self.assertNotIn(b"s.pkl", out)
        self.assertIn(b"1 file: 0 dangerous, 0 suspicious, 1 safe", out)

    def test_summary_only(self):
        d = self.mixed()
        rc, out, _ = run_raw("scan", "--summary-only", "--color", "never", d)
        self.assertEqual(rc, 1)
        self.assertNotIn(b"d1.pkl", out)
        self.assertIn(b"4 files: 2 dangerous, 1 suspicious, 1 safe, 0 errors", out)
        rc, out, _ = run_raw("scan", "--summary-only", "--format", "json", d)
        doc = strict_json(out)
        self.assertEqual(set(doc), {"picklejail", "summary"})
        s = doc["summary"]
        self.assertEqual(s["files"], 4)
        self.assertEqual(s["verdicts"], {"safe": 1, "suspicious": 1, "dangerous": 2, "error": 0})
        self.assertEqual(s["exit_code"], 1)
        self.assertIn(s["top_findings"][0]["code"], ("PJ300", "PJ302"))
        self.assertEqual(s["top_findings"][0]["files"], 2)
        # The full document carries the same summary; jsonl prints one summary line.
        for jobs in ("1", "2"):
            full = strict_json(run_raw("scan", "--format", "json", "-j", jobs, d)[1])
            self.assertEqual(full["summary"], s, jobs)
        rc, out, _ = run_raw("scan", "--summary-only", "--format", "jsonl", d)
        self.assertEqual([strict_json(l) for l in out.splitlines()], [{"summary": s}])
        rc, _, err = run_raw("scan", "--summary-only", "--format", "sarif", d)
        self.assertEqual(rc, 2)
        self.assertIn("--summary-only", err)

    def test_exit_codes(self):
        d = self.mixed()
        self.assertEqual(run_raw("scan", os.path.join(d, "s.pkl"))[0], 0)
        self.assertEqual(run_raw("scan", d)[0], 1)
        self.assertEqual(run_raw("scan", "--fail-on", "dangerous", os.path.join(d, "u.pkl"))[0], 0)
        self.assertEqual(run_raw("scan", os.path.join(d, "nope.pkl"))[0], 2)
        self.assertEqual(run_raw("scan", "--format", "yaml", d)[0], 2)

    # 6. progress bar --------------------------------------------------------

    def run_pty(self, args, env_extra=None):
        """Run with stderr on a pseudo-terminal; returns (rc, stdout, tty bytes)."""
        master, slave = pty.openpty()
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.update(env_extra or {})
        p = subprocess.Popen([pjtest.BIN, *args], stdout=subprocess.PIPE, stderr=slave,
                             stdin=subprocess.DEVNULL, env=env)
        os.close(slave)
        chunks = []
        out = []
        # Drain both so neither pipe fills.
        while True:
            r, _, _ = select.select([master, p.stdout], [], [], 120)
            if not r:
                break
            if master in r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if data:
                    chunks.append(data)
                elif p.stdout not in r:
                    break
            if p.stdout in r:
                data = p.stdout.read1(65536) if hasattr(p.stdout, "read1") else p.stdout.read()
                if data:
                    out.append(data)
                elif p.poll() is not None:
                    try:
                        while True:
                            more = os.read(master, 65536)
                            if not more:
                                break
                            chunks.append(more)
                    except OSError:
                        pass
                    break
        rc = p.wait(timeout=60)
        p.stdout.close()
        os.close(master)
        return rc, b"".join(out), b"".join(chunks)

    def test_progress_bar_on_a_tty(self):
        for i in range(60):
            self.write("p/f%03d.pkl" % i, BENIGN_P2)
        d = os.path.join(self.dir, "p")
        for jobs in ("1", "2"):
            rc, out, tty = self.run_pty(["scan", "-j", jobs, "--format", "json", d],
                                        {"PICKLEJAIL_PROGRESS_DELAY_MS": "0"})
            self.assertEqual(rc, 0)
            self.assertEqual(len(strict_json(out)["files"]), 60)
            text = tty.decode("utf-8", "replace")
            self.assertRegex(text, r"\[[#-]{8,24}\] [0-9]+/60 files")
            # Never wider than the terminal (80 columns when it says 0).
            for draw in text.split("\r"):
                self.assertLessEqual(len(draw.replace("\x1b[K", "")), 79)
            self.assertIn("60/60 files", text)
            self.assertRegex(text, r"[0-9.]+ (B|KiB)/[0-9.]+ (B|KiB)")
            self.assertIn("/s", text)
            # Drawn in place and erased at the end.
            self.assertTrue(text.startswith("\r"))
            self.assertTrue(tty.endswith(b"\r\x1b[K"), tty[-40:])
        # Default delay: a quick scan draws nothing.
        rc, out, tty = self.run_pty(["scan", "--format", "json", os.path.join(d, "f000.pkl")])
        self.assertNotIn(b"files", tty)
        # --quiet: never.
        rc, out, tty = self.run_pty(["scan", "-q", "--format", "json", d],
                                    {"PICKLEJAIL_PROGRESS_DELAY_MS": "0"})
        self.assertEqual(rc, 0)
        self.assertNotIn(b"files", tty)

    def test_progress_bar_redraws_while_a_file_holds_up_the_scan(self):
        # -j 2: a fifo named first holds one worker; the other finishes the
        # rest, and the bar keeps redrawing (rate, ETA) while the fifo waits.
        import threading
        fifo = os.path.join(self.dir, "held.pkl")
        os.mkfifo(fifo)
        names = [self.write("r%d.pkl" % i, BENIGN_P2) for i in range(3)]

        def feed():
            time.sleep(2.0)
            with open(fifo, "wb") as f:
                f.write(BENIGN_P2)
        t = threading.Thread(target=feed)
        t.start()
        try:
            rc, out, tty = self.run_pty(["scan", "-j", "2", "--format", "json", fifo, *names],
                                        {"PICKLEJAIL_PROGRESS_DELAY_MS": "0"})
        finally:
            t.join()
        self.assertEqual(rc, 0)
        self.assertEqual(len(strict_json(out)["files"]), 4)
        # Nothing queues behind a fifo (its size is unknown), so the other
        # worker finishes all three files; while the fifo waits the bar is
        # redrawn (its rate falls): "3/4 files" drawn at least 4 times.
        counts = re.findall(r"([0-4])/4 files", tty.decode("utf-8", "replace"))
        self.assertGreaterEqual(counts.count("3"), 4, counts)

    def test_no_progress_bar_when_stderr_is_not_a_tty(self):
        for i in range(30):
            self.write("f%03d.pkl" % i, BENIGN_P2)
        rc, out, err = run_raw("scan", "--format", "json", self.dir,
                               env={"PICKLEJAIL_PROGRESS_DELAY_MS": "0"})
        self.assertEqual(rc, 0)
        self.assertEqual(err, "")


if __name__ == "__main__":
    unittest.main()
