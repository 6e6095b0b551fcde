"""End-to-end tests of `picklejail diagnose` (load-failure prediction).

Every corpus/loadfail sample was really loaded by corpus/gen/verify.py, which
recorded the exception in the manifest; diagnose must predict that exception
(type and module/name) from the bytes, against the fake target environment in
tests/diag-env (Python 3.11, numpy 1.26.4, scikit-learn 1.5.0, torch 2.6.0)."""
import json
import os
import tempfile
import unittest

from pjtest import ROOT, run

SITE = os.path.join(ROOT, "tests", "diag-env", "site-packages")
SITE2 = os.path.join(ROOT, "tests", "diag-env", "site-packages-2")
ENV = ("--python", "3.11", "--site-packages", SITE, "--site-packages", SITE2)

# Warnings whose recorded type is the base class of what newer libraries raise.
SUBCLASSES = {"UserWarning": ("UserWarning", "InconsistentVersionWarning")}


def diagnose_json(*paths, env=ENV):
    rc, out, err = run("diagnose", "--format", "json", *env, *paths)
    assert "runtime error" not in err and "AddressSanitizer" not in err, err
    return rc, json.loads(out)


def load_findings(entry):
    return [f for f in entry["findings"] if f["class"] == "load"]


def failing(entry):
    return [f for f in load_findings(entry)
            if f["message"].startswith(("will fail:", "may fail:"))]


def loadfail_samples():
    with open(os.path.join(ROOT, "corpus", "manifest.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            if e["category"] == "loadfail":
                yield e


def recorded_type(e):
    """Exception (or warning) type the real loader produced."""
    v = e.get("verified") or {}
    if v.get("exception"):
        return v["exception"].split(":", 1)[0]
    if v.get("warnings"):
        return v["warnings"][0].split(":", 1)[0]
    return e["expected_error"]["type"]


class TestLoadfailCorpus(unittest.TestCase):
    """One test per corpus/loadfail sample (added below)."""

    def check_sample(self, e):
        path = os.path.join(ROOT, e["path"])
        rc, doc = diagnose_json(path)
        entry = doc["files"][0]
        msgs = [f["message"] for f in load_findings(entry)]
        want = e["expected_error"]
        types = SUBCLASSES.get(want["type"], (want["type"],))
        self.assertEqual(recorded_type(e), want["type"], "manifest disagrees with itself")

        def names_type(m):
            return any(t + ":" in m or t + " (" in m for t in types)

        hits = [m for m in msgs if names_type(m)]
        self.assertTrue(hits, "%s: no load finding names %s; got %s" % (e["path"], types, msgs))
        # The same module and name as the recorded exception.
        for key in ("module", "name"):
            if key in want:
                hits = [m for m in hits if ("'%s'" % want[key]) in m or
                        (" %s " % want[key]) in m or ("%s." % want[key]) in m]
                self.assertTrue(hits, "%s: no %s finding names %s %r: %s"
                                % (e["path"], types, key, want[key], msgs))
        if "message" in want:
            hits = [m for m in hits if want["message"] in m]
            self.assertTrue(hits, "%s: no finding quotes %r: %s" % (e["path"], want["message"], msgs))
        # Predicted failures make diagnose exit 1; a file that only warns exits 0,
        # and so does a file given to the wrong loader (its own loader reads it).
        if all(m.startswith("note: ") for m in hits):
            self.assertIn(e["loader"], ("pickle.load",), "a wrong-loader note for " + e["loader"])
            self.assertEqual(failing(entry), [], msgs)
            self.assertEqual(rc, 0)
        elif e.get("expect_loads"):
            self.assertEqual(failing(entry), [], msgs)
            self.assertEqual(rc, 0)
        else:
            self.assertEqual(rc, 1, msgs)


def _make(e):
    def t(self):
        self.check_sample(e)
    return t


for _e in loadfail_samples():
    _stem = os.path.splitext(os.path.basename(_e["path"]))[0]
    setattr(TestLoadfailCorpus, "test_" + _stem, _make(_e))


# Malformed samples whose recorded exception diagnosis does not predict, and why.
MALFORMED_UNPREDICTED = {
    "corpus/malformed/newobj_non_type.pkl": "NEWOBJ on an int: a type check of runtime values",
    "corpus/malformed/bomb_bytearray_call.pkl": "MemoryError inside a call the VM only records",
    "corpus/malformed/mut/containers_p2_m09.pkl": "VM reports a later error than CPython's UTF-8 decode",
    "corpus/malformed/mut/containers_p4_m14.pkl": "'dict'.append at runtime vs the VM's UTF-8 check",
    "corpus/malformed/mut/containers_p2_m17.pkl": "attribute missing from a stdlib module (not checked)",
    "corpus/malformed/mut/odict_p2_m19.pkl": "attribute missing from a stdlib module (not checked)",
    "corpus/malformed/mut/odict_p2_m28.pkl": "attribute missing from a stdlib module (not checked)",
    "corpus/malformed/mut/containers_p5_m30.pkl": "'dict'.append at runtime vs the VM's MARK check",
}


class TestMalformedCorpus(unittest.TestCase):
    def test_first_predicted_error_matches_cpython(self):
        """The first will-fail prediction names the exception CPython raised."""
        checked, wrong = 0, []
        with open(os.path.join(ROOT, "corpus", "manifest.jsonl")) as f:
            samples = [json.loads(l) for l in f]
        samples = [e for e in samples if e["category"] == "malformed" and not e.get("expect_loads")
                   and (e.get("verified") or {}).get("exception")]
        paths = [os.path.join(ROOT, e["path"]) for e in samples]
        rc, doc = diagnose_json(*paths)
        by_path = {os.path.relpath(x["path"], ROOT): x for x in doc["files"]}
        for e in samples:
            if e["path"] in MALFORMED_UNPREDICTED:
                continue
            want = e["verified"]["exception"].split(":", 1)[0]
            fl = sorted(failing(by_path[e["path"]]),
                        key=lambda x: (x["stream"] if x["stream"] is not None else -1, x["offset"]))
            first = fl[0]["message"] if fl else ""
            checked += 1
            if (want + ":") not in first and (want + " (") not in first:
                wrong.append((e["path"], e["verified"]["exception"][:80], first[:120]))
        self.assertGreater(checked, 150)
        self.assertEqual(wrong, [])


DEBIAN_SITE = "/usr/lib/python3/dist-packages"


def _debian_ml_stack():
    """The environment corpus/gen/verify.py loaded the corpus in (README: Debian's
    python3-numpy, -sklearn, -torch, -pandas), when this machine has it."""
    return all(os.path.isdir(os.path.join(DEBIAN_SITE, m))
               for m in ("numpy", "sklearn", "torch", "pandas", "joblib"))


@unittest.skipUnless(_debian_ml_stack(), "Debian's numpy/sklearn/torch/pandas are not installed")
class TestAgainstVerifyEnvironment(unittest.TestCase):
    """Against the real environment the corpus was verified in: every benign
    sample is predicted to load, and every loadfail sample's recorded exception
    is predicted (except wrong-loader notes, which exit 0 by design)."""

    def test_benign_and_loadfail(self):
        env = ("--python", "3.11", "--site-packages", DEBIAN_SITE)
        with open(os.path.join(ROOT, "corpus", "manifest.jsonl")) as f:
            samples = [json.loads(l) for l in f]
        benign = [e for e in samples if e["category"] == "benign"]
        rc, doc = diagnose_json(*[os.path.join(ROOT, e["path"]) for e in benign], env=env)
        for entry in doc["files"]:
            self.assertEqual(failing(entry), [], entry["path"])
        loadfail = [e for e in samples if e["category"] == "loadfail" and not e.get("expect_loads")]
        rc, doc = diagnose_json(*[os.path.join(ROOT, e["path"]) for e in loadfail], env=env)
        for e, entry in zip(loadfail, doc["files"]):
            want = e["verified"]["exception"].split(":", 1)[0]
            msgs = [x["message"] for x in load_findings(entry)]
            self.assertTrue(any(want + ":" in m or want + " (" in m for m in msgs), (e["path"], msgs))


class TestDiagnoseCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        p = os.path.join(self.tmp.name, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def test_every_loadfail_sample_is_covered(self):
        self.assertGreaterEqual(len(list(loadfail_samples())), 20)

    def test_text_output(self):
        p = os.path.join(ROOT, "corpus", "loadfail", "builtin_set_proto3.pkl")
        rc, out, err = run("diagnose", "--color", "never", p)
        self.assertEqual(rc, 1, err)
        self.assertIn("WILL FAIL to load", out)
        self.assertIn("ModuleNotFoundError: No module named '__builtin__'", out)
        self.assertIn("why: ", out)
        self.assertIn("fix: ", out)
        self.assertIn("at: offset 2 (PJ504", out)

    def test_benign_file_loads(self):
        p = os.path.join(ROOT, "corpus", "benign", "containers_p2.pkl")
        rc, out, err = run("diagnose", *ENV, p)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("no load problem found", out)

    def test_unreadable_file(self):
        rc, out, err = run("diagnose", os.path.join(self.tmp.name, "missing.pkl"))
        self.assertEqual(rc, 2)

    def test_site_packages_lookups(self):
        # GLOBAL opcodes (protocol 2) naming modules to look up in tests/diag-env.
        body = b"".join(b"c%s\n%s\n0" % (m, n) for m, n in [
            (b"models.yolo", b"Model"),      # not installed
            (b"plainmod.sub", b"X"),         # plainmod.py is not a package
            (b"nspkg.other", b"Y"),          # namespace package across two dirs
            (b"fastext", b"Z"),              # extension built for Python 3.10
            (b"abimod", b"W"),               # abi3 extension
            (b"collections", b"OrderedDict"),
        ])
        p = self.write("env.pkl", b"\x80\x02" + body + b"N.")
        rc, doc = diagnose_json(p)
        msgs = [f["message"] for f in load_findings(doc["files"][0])]
        text = "\n".join(msgs)
        self.assertIn("No module named 'models'", text)
        self.assertIn("No module named 'plainmod.sub'; 'plainmod' is not a package", text)
        self.assertIn("cpython-310", text)
        self.assertNotIn("'nspkg", text)
        self.assertNotIn("'abimod'", text)
        self.assertNotIn("'collections'", text)
        self.assertEqual(rc, 1)
        # The same file for Python 3.10: the extension module is found.
        rc, doc = diagnose_json(p, env=("--python", "3.10", "--site-packages", SITE))
        text = "\n".join(f["message"] for f in load_findings(doc["files"][0]))
        self.assertNotIn("'fastext'", text)
        # Without a target nothing is looked up on disk.
        rc, doc = diagnose_json(p, env=())
        codes = [f["code"] for f in load_findings(doc["files"][0])]
        self.assertNotIn("PJ515", codes)

    def test_python_version(self):
        # Every accepted target (3.8+) reads protocol 5: a note, not a failure.
        p = self.write("p5.pkl", b"\x80\x05N.")
        rc, doc = diagnose_json(p, env=("--python", "3.8"))
        msgs = [f["message"] for f in load_findings(doc["files"][0])]
        self.assertTrue(any(m.startswith("note: needs Python >= 3.8 (pickle protocol 5)")
                            for m in msgs), msgs)
        self.assertEqual(rc, 0)
        p = self.write("imp.pkl", b"\x80\x02cimp\nload_module\n0N.")
        rc, doc = diagnose_json(p, env=("--python", "3.12"))
        msgs = [f["message"] for f in failing(doc["files"][0])]
        self.assertTrue(any("No module named 'imp'" in m for m in msgs), msgs)
        rc, doc = diagnose_json(p, env=("--python", "3.11"))
        self.assertEqual(failing(doc["files"][0]), [])

    def test_platform_module_and_incomplete_scan(self):
        # nt exists only on Windows; the target is POSIX.
        p = self.write("nt.pkl", b"\x80\x02cnt\nstat\n0N.")
        rc, doc = diagnose_json(p, env=())
        msgs = [f["message"] for f in failing(doc["files"][0]) if f["code"] == "PJ518"]
        self.assertTrue(any("No module named 'nt'" in m for m in msgs), msgs)
        # A scan stopped by a limit says the diagnosis is partial.
        p = os.path.join(ROOT, "corpus", "benign", "containers_p2.pkl")
        rc, out, err = run("diagnose", "--format", "json", "--max-opcodes", "3", p)
        codes = [f["code"] for f in load_findings(json.loads(out)["files"][0])]
        self.assertIn("PJ519", codes)

    def test_headlines(self):
        cases = [("torch_zip_cuda_storage.pt", "MAY FAIL to load", 1),
                 ("joblib_zlib_via_pickle_load.joblib", "loads, with warnings", 0)]
        for stem, head, want_rc in cases:
            p = os.path.join(ROOT, "corpus", "loadfail", stem)
            rc, out, err = run("diagnose", "--color", "never", *ENV, p)
            self.assertIn(head, out.splitlines()[0], out)
            self.assertEqual(rc, want_rc, out)

    def test_pathlib_local_needs_python_313(self):
        p = self.write("p313.pkl", b"\x80\x02cpathlib._local\nPosixPath\nq\x00)R.")
        rc, doc = diagnose_json(p, env=("--python", "3.12"))
        msgs = [f["message"] for f in failing(doc["files"][0])]
        self.assertTrue(any("No module named 'pathlib._local'; 'pathlib' is not a package" in m
                            for m in msgs), msgs)
        rc, doc = diagnose_json(p, env=("--python", "3.13"))
        self.assertEqual(failing(doc["files"][0]), [])
        self.assertEqual(rc, 0)

    def test_far_memo_key_loads_unless_gigabytes(self):
        # CPython grows its memo to twice a far key: fine at 5000, MemoryError at 2^32-1.
        def far(key):
            body = b"K\x01r" + key.to_bytes(4, "little") + b"j" + key.to_bytes(4, "little") + b"."
            return b"\x80\x04\x95" + len(body).to_bytes(8, "little") + body
        rc, doc = diagnose_json(self.write("near.pkl", far(5000)))
        self.assertEqual(failing(doc["files"][0]), [])
        self.assertEqual(rc, 0)
        rc, doc = diagnose_json(self.write("far.pkl", far(0xFFFFFFFF)))
        msgs = [f["message"] for f in failing(doc["files"][0])]
        self.assertTrue(any(m.startswith("will fail: MemoryError") for m in msgs), msgs)
        self.assertEqual(rc, 1)

    def test_hostile_module_names(self):
        # Path separators never reach the disk; hundreds of modules stay bounded.
        body = b"c../../etc\npasswd\n0" + b"".join(b"cmod%d.sub\nX\n0" % i for i in range(600))
        p = self.write("many.pkl", b"\x80\x02" + body + b"N.")
        rc, doc = diagnose_json(p)
        entry = doc["files"][0]
        msgs = [f["message"] for f in load_findings(entry)]
        self.assertTrue(any("more modules than are looked up" in m for m in msgs), msgs[-3:])
        self.assertEqual(rc, 1)

    def test_load_findings_do_not_change_the_verdict(self):
        for stem in ("numpy2_core_path_p2.pkl", "builtin_set_proto3.pkl", "torch_zip_cuda_storage.pt"):
            p = os.path.join(ROOT, "corpus", "loadfail", stem)
            rc1, out1, _ = run("scan", "--format", "json", p)
            rc2, out2, _ = run("scan", "--format", "json", *ENV, p)
            a, b = json.loads(out1)["files"][0], json.loads(out2)["files"][0]
            self.assertEqual(a["verdict"], b["verdict"], stem)
            self.assertEqual(rc1, rc2, stem)
            self.assertTrue(load_findings(b), stem)
            for f in load_findings(b):
                self.assertIn(f["severity"], ("info", "suspicious"))
                self.assertTrue(f["code"].startswith("PJ5"))


if __name__ == "__main__":
    unittest.main()
