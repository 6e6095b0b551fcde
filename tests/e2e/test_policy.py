"""End-to-end: the policy through the CLI (scan --format json) on hand-assembled
pickles: dangerous primitives and gadgets, unknown globals and --fail-on,
benign torch/sklearn-like streams, wrappers, getattr, BUILD, memory bombs,
user policy files (allow, deny, errors with line numbers) and profiles."""
import os
import struct
import tempfile
import unittest

import pjtest

# ---- a tiny opcode assembler (stdlib only) -----------------------------------------


def proto(n):
    return b"\x80" + bytes([n])


def glob(m, n):
    return b"c" + m.encode() + b"\n" + n.encode() + b"\n"


def sbu(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def binunicode(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def binint(i):
    if 0 <= i < 256:
        return b"K" + bytes([i])
    return b"J" + struct.pack("<i", i)


def long1(i):
    b = i.to_bytes((i.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(b)]) + b


MARK, STOP, POP, TUPLE, TUPLE1, TUPLE2, TUPLE3 = b"(", b".", b"0", b"t", b"\x85", b"\x86", b"\x87"
REDUCE, BUILD, NONE, EMPTY_DICT, EMPTY_TUPLE, SETITEM = b"R", b"b", b"N", b"}", b")", b"s"
STACK_GLOBAL, BINPERSID, NEWOBJ = b"\x93", b"Q", b"\x81"


def call(m, n, *args):
    """GLOBAL m n, args as one tuple, REDUCE (protocol 2 style)."""
    return glob(m, n) + MARK + b"".join(args) + TUPLE + REDUCE


def pickle2(body):
    return proto(2) + body + STOP


def os_system():
    return pickle2(call("os", "system", binunicode("touch /nonexistent/x")))


def torch_like():
    """torch.save-style state dict: OrderedDict of one tensor rebuilt from a storage
    persistent id, plus the _metadata attribute BUILD."""
    storage = MARK + binunicode("storage") + glob("torch", "FloatStorage") + binunicode("0") + \
        binunicode("cpu") + binint(4) + TUPLE + BINPERSID
    tensor = glob("torch._utils", "_rebuild_tensor_v2") + MARK + storage + binint(0) + \
        MARK + binint(4) + TUPLE + MARK + binint(1) + TUPLE + b"\x89" + \
        glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + TUPLE + REDUCE
    od = glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + \
        binunicode("weight") + tensor + SETITEM
    return pickle2(od)


def sklearn_like():
    """protocol-2 style estimator through copy_reg._reconstructor, then BUILD."""
    obj = glob("copy_reg", "_reconstructor") + MARK + \
        glob("sklearn.linear_model._logistic", "LogisticRegression") + \
        glob("__builtin__", "object") + NONE + TUPLE + REDUCE
    state = EMPTY_DICT + binunicode("C") + binint(1) + SETITEM
    return pickle2(obj + state + BUILD)


class PolicyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def scan(self, data, extra=(), name="x.pkl"):
        return pjtest.scan_bytes(self.tmp.name, data, name=name, extra=extra)

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    @staticmethod
    def codes(entry):
        return [f["code"] for f in entry["findings"]]

    @staticmethod
    def globals_(entry):
        return {g["resolved_module"] + "." + g["resolved_name"]: g
                for s in entry["streams"] for g in s["globals"]}

    @staticmethod
    def calls(entry):
        return [c for s in entry["streams"] for c in s["calls"]]

    # ---- dangerous -------------------------------------------------------------------

    def test_os_system_is_dangerous(self):
        rc, e = self.scan(os_system())
        self.assertEqual(rc, 1)
        self.assertEqual(e["verdict"], "dangerous")
        self.assertIn("PJ300", self.codes(e))
        self.assertIn("PJ302", self.codes(e))
        g = self.globals_(e)["os.system"]
        self.assertEqual(g["policy"], "dangerous")
        self.assertEqual(g["rule"], "builtin:dangerous:os.*")
        f = [f for f in e["findings"] if f["code"] == "PJ300"][0]
        self.assertIn("os.system is a process-execution", f["message"])
        self.assertEqual(f["offset"], 2)
        f = [f for f in e["findings"] if f["code"] == "PJ302"][0]
        self.assertIn("touch /nonexistent/x", f["message"])
        self.assertEqual(self.calls(e)[0]["policy"], "dangerous")
        # dangerous even with the lenient threshold
        rc, e = self.scan(os_system(), extra=("--fail-on", "dangerous"))
        self.assertEqual(rc, 1)

    def test_gadgets_are_dangerous(self):
        for m, n in [("builtins", "eval"), ("__builtin__", "exec"), ("posix", "system"),
                     ("subprocess", "Popen"), ("runpy", "_run_code"), ("pkgutil", "resolve_name"),
                     ("pydoc", "locate"), ("uuid", "_get_command_stdout"), ("_io", "FileIO"),
                     ("logging", "FileHandler"), ("numpy.testing._private.utils", "runstring"),
                     ("torch.utils.collect_env", "run"), ("operator", "attrgetter"),
                     ("cProfile", "run"), ("timeit", "timeit"), ("pickle", "loads"),
                     ("ssl", "get_server_certificate"), ("picklescan.scanner", "scan_bytes"),
                     ("numpy.core", "_ufunc_reconstruct"), ("joblib", "load")]:
            with self.subTest(global_=m + "." + n):
                rc, e = self.scan(pickle2(call(m, n, binunicode("x"))))
                self.assertEqual((rc, e["verdict"]), (1, "dangerous"))
                self.assertIn("PJ300", self.codes(e))

    def test_dotted_walk_through_os(self):
        data = proto(4) + sbu("pathlib") + sbu("os.system") + STACK_GLOBAL + \
            sbu("id") + TUPLE1 + REDUCE + STOP
        rc, e = self.scan(data)
        self.assertEqual((rc, e["verdict"]), (1, "dangerous"))
        f = [f for f in e["findings"] if f["code"] == "PJ300"][0]
        self.assertIn("pathlib.os.system reaches os.system", f["message"])

    def test_partial_wrapper_judged_by_what_it_wraps(self):
        data = pickle2(call("functools", "partial", glob("os", "system"), binunicode("id"))
                       + EMPTY_TUPLE + REDUCE)
        rc, e = self.scan(data)
        self.assertEqual(e["verdict"], "dangerous")
        self.assertEqual(self.globals_(e)["functools.partial"]["policy"], "safe")
        msgs = [f["message"] for f in e["findings"] if f["code"] == "PJ302"]
        self.assertTrue(any("functools.partial" in m and "reaches os.system" in m for m in msgs), msgs)

    # ---- unknown and --fail-on ----------------------------------------------------------

    def test_unknown_global_is_suspicious(self):
        data = pickle2(call("mylib.models", "Net", binint(3)))
        rc, e = self.scan(data)
        self.assertEqual((rc, e["verdict"]), (1, "suspicious"))
        self.assertIn("PJ301", self.codes(e))
        self.assertEqual(self.globals_(e)["mylib.models.Net"]["policy"], "unknown")
        self.assertEqual(self.globals_(e)["mylib.models.Net"]["rule"], "default:unknown")
        rc, e = self.scan(data, extra=("--fail-on", "dangerous"))
        self.assertEqual((rc, e["verdict"]), (0, "suspicious"))

    def test_unknown_global_never_called(self):
        data = pickle2(MARK + glob("mylib.helpers", "thing") + binint(1) + b"l")
        rc, e = self.scan(data)
        self.assertEqual((rc, e["verdict"]), (1, "suspicious"))
        self.assertIn("PJ305", self.codes(e))
        self.assertNotIn("PJ301", self.codes(e))

    def test_computed_callee_is_unknown_call(self):
        inner = glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE
        rc, e = self.scan(pickle2(inner + EMPTY_TUPLE + REDUCE))
        self.assertEqual(e["verdict"], "suspicious")
        self.assertIn("PJ303", self.codes(e))

    def test_getattr_reach(self):
        data = pickle2(call("builtins", "getattr", glob("collections", "OrderedDict"),
                            binunicode("fromkeys")))
        rc, e = self.scan(data)
        self.assertEqual(e["verdict"], "suspicious")
        self.assertIn("PJ303", self.codes(e))
        data = pickle2(call("builtins", "getattr", glob("pathlib", "Path"), binunicode("os"))
                       + POP + NONE)
        rc, e = self.scan(data)
        self.assertEqual(e["verdict"], "dangerous")

    def test_build_on_unknown_and_on_a_global(self):
        # BUILD on an instance of an unknown class runs its __setstate__.
        # (BUILD on a plain dict runs nothing in CPython: no call, no PJ304.)
        rc, e = self.scan(pickle2(glob("mylib.models", "Net") + EMPTY_TUPLE + NEWOBJ +
                                  EMPTY_DICT + BUILD))
        self.assertEqual(e["verdict"], "suspicious")
        self.assertIn("PJ304", self.codes(e))
        rc, e = self.scan(pickle2(EMPTY_DICT + EMPTY_DICT + BUILD))
        self.assertNotIn("PJ304", self.codes(e))
        # BUILD that rewrites a module-level function's attributes
        data = pickle2(glob("collections", "OrderedDict") + NONE + EMPTY_DICT +
                       binunicode("shape") + binint(1) + SETITEM + TUPLE2 + BUILD)
        rc, e = self.scan(data)
        self.assertEqual(e["verdict"], "dangerous")
        f = [f for f in e["findings"] if f["code"] == "PJ304"][0]
        self.assertEqual(f["severity"], "dangerous")

    def test_bytearray_memory_bomb(self):
        rc, e = self.scan(pickle2(call("__builtin__", "bytearray", long1(2 ** 42))))
        self.assertEqual(e["verdict"], "suspicious")
        f = [f for f in e["findings"] if f["code"] == "PJ303"]
        self.assertTrue(f and "memory bomb" in f[0]["message"], e["findings"])
        rc, e = self.scan(pickle2(call("__builtin__", "bytearray", binint(16))))
        self.assertEqual((rc, e["verdict"]), (0, "safe"))

    # ---- benign ---------------------------------------------------------------------------

    def test_torch_like_is_safe(self):
        rc, e = self.scan(torch_like(), name="data.pkl")
        self.assertEqual((rc, e["verdict"]), (0, "safe"), e["findings"])
        g = self.globals_(e)
        self.assertEqual(g["torch._utils._rebuild_tensor_v2"]["rule"],
                         "builtin:torch:torch._utils._rebuild_tensor_v2")
        self.assertTrue(all(x["policy"] == "safe" for x in g.values()))

    def test_sklearn_like_is_safe(self):
        rc, e = self.scan(sklearn_like())
        self.assertEqual((rc, e["verdict"]), (0, "safe"), e["findings"])
        self.assertTrue(all(c["policy"] == "safe" for c in self.calls(e)))

    # ---- user policy files --------------------------------------------------------------

    def test_policy_allow(self):
        data = pickle2(call("mylib.models", "Net", binint(3)))
        pol = self.write("mine.policy", "# trusted in-house models\nallow mylib.models.Net\n")
        rc, e = self.scan(data, extra=("--policy", pol))
        self.assertEqual((rc, e["verdict"]), (0, "safe"))
        self.assertEqual(self.globals_(e)["mylib.models.Net"]["rule"],
                         pol + ":2:allow mylib.models.Net")
        pol2 = self.write("mod.policy", "allow-module mylib\n")
        rc, e = self.scan(data, extra=("--policy", pol2))
        self.assertEqual((rc, e["verdict"]), (0, "safe"))

    def test_policy_allow_cannot_override_dangerous(self):
        pol = self.write("p.policy", "allow os.system\nallow-module os\n")
        rc, e = self.scan(os_system(), extra=("--policy", pol))
        self.assertEqual((rc, e["verdict"]), (1, "dangerous"))

    def test_policy_deny(self):
        pol = self.write("deny.policy",
                         'deny collections.OrderedDict "no ordered dicts in this pipeline"\n')
        rc, e = self.scan(torch_like(), extra=("--policy", pol))
        self.assertEqual((rc, e["verdict"]), (1, "dangerous"))
        f = [f for f in e["findings"] if f["code"] == "PJ306"]
        self.assertTrue(f, e["findings"])
        self.assertIn("no ordered dicts in this pipeline", f[0]["message"])

    def test_policy_errors_exit_2_with_line(self):
        cases = [("allow a.b\n\nallow os..system\n", ":3: bad name 'os..system'"),
                 ("frobnicate x\n", ":1: unknown directive 'frobnicate'"),
                 ("allow x\ndeny y \"open\n", ":2: unterminated quoted text"),
                 ("profile nosuch\n", ":1: unknown profile 'nosuch'")]
        for i, (text, want) in enumerate(cases):
            with self.subTest(text=text):
                pol = self.write("bad%d.policy" % i, text)
                path = self.write("x.pkl", "")
                rc, out, err = pjtest.run("scan", "--format", "json", "--policy", pol, path)
                self.assertEqual(rc, 2, err)
                self.assertIn(pol + want, err)
        rc, out, err = pjtest.run("scan", "--policy", "/nonexistent/p.policy", path)
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent/p.policy", err)

    # ---- profiles ---------------------------------------------------------------------------

    def test_profiles_restrict(self):
        rc, e = self.scan(sklearn_like(), extra=("--profile", "torch"))
        self.assertEqual((rc, e["verdict"]), (1, "suspicious"))
        rc, e = self.scan(sklearn_like(), extra=("--profile", "torch", "--profile", "sklearn"))
        self.assertEqual((rc, e["verdict"]), (0, "safe"))
        rc, e = self.scan(torch_like(), extra=("--profile", "torch"))
        self.assertEqual((rc, e["verdict"]), (0, "safe"))
        rc, e = self.scan(torch_like(), extra=("--profile", "stdlib"))
        self.assertEqual(e["verdict"], "suspicious")
        pol = self.write("prof.policy", "profile sklearn\n")
        rc, e = self.scan(torch_like(), extra=("--policy", pol))
        self.assertEqual(e["verdict"], "suspicious")
        path = self.write("y.pkl", "")
        rc, out, err = pjtest.run("scan", "--profile", "nosuch", path)
        self.assertEqual(rc, 2)
        self.assertIn("unknown profile 'nosuch'", err)

    # ---- real library output --------------------------------------------------------------

    def test_real_library_pickles_are_safe(self):
        """False-positive regression: files written by scikit-learn, pandas, NumPy,
        joblib and torch (tests/e2e/data/policy-benign/make.py) are safe under the
        default policy, and every global in them is classified safe."""
        d = os.path.join(pjtest.ROOT, "tests", "e2e", "data", "policy-benign")
        paths = sorted(os.path.join(d, n) for n in os.listdir(d) if not n.endswith(".py"))
        self.assertGreaterEqual(len(paths), 20)
        rc, doc = pjtest.scan_json(*paths)
        self.assertEqual(len(doc["files"]), len(paths))
        for e in doc["files"]:
            with self.subTest(path=os.path.basename(e["path"])):
                worst = [(f["code"], f["message"]) for f in e["findings"]
                         if f["class"] == "security" and f["severity"] != "info"]
                self.assertEqual((e["verdict"], worst), ("safe", []))
                self.assertTrue(all(g["policy"] == "safe" for g in self.globals_(e).values()))
        self.assertEqual(rc, 0)
        # the same files under a restricted profile are not all safe
        rc, doc = pjtest.scan_json(*paths, extra=("--profile", "torch"))
        self.assertEqual(rc, 1)
        verdicts = {os.path.basename(e["path"]): e["verdict"] for e in doc["files"]}
        self.assertEqual(verdicts["torch_whole_model.pt"], "safe")
        self.assertEqual(verdicts["sk_svc_p4.pkl"], "suspicious")

    # ---- text output -------------------------------------------------------------------------

    def test_text_output_names_the_rule(self):
        path = os.path.join(self.tmp.name, "t.pkl")
        with open(path, "wb") as f:
            f.write(os_system())
        rc, out, err = pjtest.run("scan", path)
        self.assertEqual(rc, 1)
        self.assertIn("PJ300", out)


if __name__ == "__main__":
    unittest.main()
