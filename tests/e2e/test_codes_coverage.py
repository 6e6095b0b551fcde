"""End-to-end: one small trigger through the CLI for finding codes that the
feature tests do not emit on their way (limits, malformed lengths, platform
modules).  Each test asserts the code appears, so tests/suites/90-codes.sh
can rely on every documented code being reachable from the command line."""
import os
import struct
import tempfile
import unittest

import pjtest


class CodesCoverageTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def codes(self, data, *extra, command="scan"):
        path = os.path.join(self.tmp.name, "x.pkl")
        with open(path, "wb") as f:
            f.write(data)
        if command == "scan":
            rc, doc = pjtest.scan_json(path, extra=extra)
        else:
            import json
            rc, out, err = pjtest.run(command, "--format", "json", *extra, path)
            self.assertNotIn("AddressSanitizer", err)
            doc = json.loads(out)
        entry = doc["files"][0]
        return rc, {f["code"] for f in entry["findings"]}, entry

    def test_limit_stack(self):
        rc, codes, e = self.codes(b"\x80\x02" + b"N" * 20 + b".", "--max-stack", "10")
        self.assertIn("PJ116", codes)
        self.assertNotEqual(e["verdict"], "safe")

    def test_limit_memo(self):
        rc, codes, _ = self.codes(b"\x80\x04" + b"N\x94" * 5 + b".", "--max-memo", "2")
        self.assertIn("PJ117", codes)

    def test_limit_nesting(self):
        rc, codes, _ = self.codes(b"\x80\x02" + b"(" * 6 + b"N" + b"l" * 6 + b".",
                                  "--max-nesting", "2")
        self.assertIn("PJ118", codes)

    def test_limit_arena(self):
        body = b"".join(b"\x8c\x10" + b"%016x" % i + b"\x94" for i in range(200000))
        rc, codes, _ = self.codes(b"\x80\x04" + body + b".", "--max-arena", "1")
        self.assertIn("PJ119", codes)

    def test_limit_input(self):
        rc, codes, _ = self.codes(b"\x80\x04N." + b"\0" * (2 << 20), "--max-size", "1")
        self.assertIn("PJ120", codes)

    def test_bad_length(self):
        rc, codes, _ = self.codes(b"\x80\x02T" + struct.pack("<i", -5) + b"abc.")
        self.assertIn("PJ107", codes)

    def test_odd_dict_items(self):
        rc, codes, e = self.codes(b"\x80\x02(NNNd.")
        self.assertIn("PJ125", codes)
        self.assertEqual(e["verdict"], "suspicious")

    def test_zip_without_pickle(self):
        rc, codes, _ = self.codes(b"PK\x05\x06" + b"\0" * 18)
        self.assertIn("PJ128", codes)

    def test_joblib_wrapper_without_shape(self):
        data = (b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}"
                b"X\x05\x00\x00\x00shapeX\x01\x00\x00\x00xsb.")
        rc, codes, _ = self.codes(data)
        self.assertIn("PJ218", codes)

    def test_platform_module(self):
        rc, codes, _ = self.codes(b"\x80\x02c_winapi\nGetVersion\n)R.", command="diagnose")
        self.assertIn("PJ518", codes)


if __name__ == "__main__":
    unittest.main()
