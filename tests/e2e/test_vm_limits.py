"""End-to-end: malformed-stream and limit findings of the VM through the CLI.
Each limit is a finding (never a crash, never safe)."""
import collections
import os
import pickle
import struct
import tempfile
import unittest

import pjtest


def codes(entry):
    return {f["code"] for f in entry["findings"]}


class VmLimitsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def scan(self, data, *extra):
        rc, f = pjtest.scan_bytes(self.tmp.name, data, extra=extra)
        self.assertNotEqual(f["verdict"], "safe", codes(f))
        self.assertEqual(rc, 1)
        return f

    def test_negative_length(self):
        self.assertIn("PJ107", codes(self.scan(b"\x80\x02\x8b\xff\xff\xff\xff")))

    def test_stack_limit(self):
        self.assertIn("PJ116", codes(self.scan(b"K\x01" * 200 + b".", "--max-stack", "100")))

    def test_memo_limit(self):
        data = b"\x80\x04" + b"K\x01\x94" * 50 + b"."
        self.assertIn("PJ117", codes(self.scan(data, "--max-memo", "10")))

    def test_nesting_limit(self):
        self.assertIn("PJ118", codes(self.scan(b"(" * 100 + b"N.", "--max-nesting", "50")))

    def test_memory_budget(self):
        data = pickle.dumps([{"k%d" % i: i} for i in range(200000)], protocol=4)
        f = self.scan(data, "--max-arena", "1", "--no-sandbox")
        self.assertIn("PJ119", codes(f))

    def test_past_retention_budget_state_and_calls_still_seen(self):
        # 32 MiB of container items are kept; past that, lists and dicts keep
        # nothing but state keys (the hot loop handles these SETITEMS itself).
        # The estimator's version, the call and its memoised argument must
        # still be found after 400,000 rows (~51 MiB of items, 32 MiB kept).
        class Est:
            def __reduce__(self):
                return (collections.OrderedDict, (), {"_sklearn_version": "1.5.0", "n": 1})

        class Call:
            def __reduce__(self):
                return (os.system, ("echo pwned",))

        rows = [{"id": i, "name": "n%d" % (i % 1000), "v": [i & 255, -1]} for i in range(400000)]
        data = pickle.dumps({"rows": rows, "est": Est(), "run": [Call(), "echo pwned"]}, protocol=4)
        rc, f = pjtest.scan_bytes(self.tmp.name, data)
        self.assertEqual(f["meta"].get("sklearn.version"), "1.5.0", f["meta"])
        calls = [c["callee"] + c["args"] for s in f["streams"] for c in s["calls"]]
        self.assertIn("posix.system('echo pwned',)", calls)
        self.assertEqual(f["verdict"], "dangerous")
        self.assertEqual(rc, 1)

    def test_input_size_limit(self):
        data = b"\x80\x04\x8e" + struct.pack("<Q", 1536 * 1024) + b"\x00" * (1536 * 1024) + b"."
        f = self.scan(data, "--max-size", "1")
        self.assertIn("PJ120", codes(f))

    def test_odd_dict_items(self):
        self.assertIn("PJ125", codes(self.scan(b"(K\x01d.")))

    def test_empty_memo_line_and_bad_literal(self):
        self.assertIn("PJ109", codes(self.scan(b"Ixyz\n.")))

    def test_unknown_opcode_message_is_cpythons(self):
        f = self.scan(b"\x80\x02\xff.")
        msgs = [x["message"] for x in f["findings"] if x["code"] == "PJ102"]
        self.assertTrue(msgs and msgs[0].startswith("invalid load key, '\\xff'"), msgs)

    def test_joblib_wrapper_without_shape(self):
        data = (b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(U\x05orderU\x01Cub"
                b"\x00\x01\x02\x03.")
        self.assertIn("PJ218", codes(self.scan(data)))

    def test_no_pickle_in_empty_zip(self):
        self.assertIn("PJ128", codes(self.scan(b"PK\x05\x06" + b"\x00" * 18)))

    def test_billion_laughs_is_fast_and_bounded(self):
        # 2^60 logical elements through memo fan-out: linear for picklejail.
        parts = [b"\x80\x02]q\x00"]
        for i in range(1, 61):
            parts.append(b"h%ch%c\x86q%c" % (i - 1, i - 1, i))
        parts.append(b"0cbuiltins\nlen\nh<\x85R.")
        rc, f = pjtest.scan_bytes(self.tmp.name, b"".join(parts))
        self.assertEqual(f["streams"][0]["complete"], True)
        self.assertLess(len(f["streams"][0]["calls"][0]["args"]), 700)
        self.assertIn("PJ131", codes(f))
        self.assertNotEqual(f["verdict"], "safe")

    def test_deep_nesting_beyond_any_pickler(self):
        data = b"\x80\x02" + b"]" * 6000 + b"a" * 5999 + b"."
        f = self.scan(data)
        self.assertIn("PJ118", codes(f))


if __name__ == "__main__":
    unittest.main()
