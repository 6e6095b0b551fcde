"""Containers: every pickle in every file a model can arrive as.

Hand-made evasive containers (built here with the standard library) and the
real samples in corpus/, scanned through the CLI's JSON output.  Each test
asserts the streams found, their locations, the findings and the format."""
import bz2
import gzip
import io
import lzma
import os
import pickle
import struct
import tarfile
import tempfile
import unittest
import warnings
import zipfile
import zlib

from pjtest import ROOT, scan_bytes, scan_json

# os.system('id') at protocol 2 and protocol 0 (no PROTO header).
PAYLOAD = b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."
PAYLOAD0 = b"cos\nsystem\n(S'id'\ntR."
BENIGN = pickle.dumps({"weight": [1.0, 2.0]}, protocol=2)


def globals_of(entry):
    out = set()
    for s in entry["streams"]:
        for g in s["globals"]:
            out.add(g["resolved_module"] + "." + g["resolved_name"])
    return out


def codes(entry):
    return [f["code"] for f in entry["findings"]]


def locations(entry):
    return [s["location"] for s in entry["streams"]]


def torch_zip(pkl=PAYLOAD, name="archive/data.pkl", method=zipfile.ZIP_STORED, extra=()):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr(zipfile.ZipInfo(name), pkl, compress_type=method)
        z.writestr("archive/data/0", b"\x00" * 64)
        z.writestr("archive/version", b"3\n")
        for n, d in extra:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                z.writestr(n, d)
    return b.getvalue()


def cd_offset(data):
    eocd = data.rfind(b"PK\x05\x06")
    return struct.unpack_from("<I", data, eocd + 16)[0], eocd


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def scan(self, data, name="x.bin", extra=()):
        rc, entry = scan_bytes(self.tmp.name, data, name=name, extra=extra)
        return rc, entry

    def assertFinding(self, entry, code, text=None):
        hits = [f for f in entry["findings"] if f["code"] == code]
        self.assertTrue(hits, f"{code} not in {codes(entry)}")
        if text is not None:
            self.assertTrue(any(text in f["message"] for f in hits),
                            f"{text!r} not in {[f['message'] for f in hits]}")
        return hits


class TorchZip(Base):
    def test_plain_checkpoint_metadata_and_stream(self):
        rc, e = self.scan(torch_zip(BENIGN), name="model.bin")
        self.assertEqual(e["format"], "torch-zip")
        self.assertEqual(locations(e), ["archive/data.pkl"])
        self.assertEqual(e["meta"].get("torch.version"), "3")
        self.assertEqual(e["meta"].get("torch.record_prefix"), "archive")
        self.assertFalse([c for c in codes(e) if c.startswith("PJ2")], codes(e))

    def test_payload_found_whatever_the_name(self):
        for fname in ("model.txt", "weights", "x.safetensors"):
            rc, e = self.scan(torch_zip(PAYLOAD), name=fname)
            self.assertIn("os.system", globals_of(e))
            self.assertEqual(e["verdict"], "dangerous")

    def test_every_pkl_member_scanned(self):
        data = torch_zip(BENIGN, extra=[("archive/extra.pkl", PAYLOAD)])
        rc, e = self.scan(data)
        self.assertIn("archive/extra.pkl", locations(e))
        self.assertIn("os.system", globals_of(e))

    def test_torchscript_constants(self):
        data = torch_zip(BENIGN, extra=[("archive/constants.pkl", PAYLOAD),
                                        ("archive/code/__torch__/m.py", b"def forward(self):\n")])
        rc, e = self.scan(data)
        self.assertEqual(e["format"], "torchscript")
        self.assertIn("archive/constants.pkl", locations(e))
        self.assertNotIn("archive/code/__torch__/m.py", locations(e))
        self.assertIn("os.system", globals_of(e))

    def test_duplicate_names_both_copies(self):
        data = torch_zip(BENIGN, extra=[("archive/data.pkl", PAYLOAD)])
        rc, e = self.scan(data)
        self.assertEqual(locations(e).count("archive/data.pkl"), 2)
        self.assertIn("os.system", globals_of(e))
        self.assertFinding(e, "PJ201", "PyTorch (miniz) loads entry #0")

    def test_case_mangled_member(self):
        data = torch_zip(PAYLOAD0, name="archive/DATA.PKL")
        rc, e = self.scan(data)
        self.assertIn("archive/DATA.PKL", locations(e))
        self.assertIn("os.system", globals_of(e))
        self.assertFinding(e, "PJ224", "case-insensitively")

    def test_case_collision(self):
        data = torch_zip(BENIGN, extra=[("archive/Data.pkl", PAYLOAD)])
        rc, e = self.scan(data)
        self.assertFinding(e, "PJ208")
        self.assertIn("archive/Data.pkl", locations(e))

    def test_bad_crc(self):
        data = bytearray(torch_zip(PAYLOAD))
        # local header CRC at 14; central directory record CRC at 16
        struct.pack_into("<I", data, 14, 0xDEADBEEF)
        cd, _ = cd_offset(bytes(data))
        struct.pack_into("<I", data, cd + 16, 0xDEADBEEF)
        rc, e = self.scan(bytes(data))
        self.assertFinding(e, "PJ209", "deadbeef")
        self.assertIn("os.system", globals_of(e))

    def test_flag_bits(self):
        for bit in (0x1, 0x20, 0x40):
            data = bytearray(torch_zip(PAYLOAD))
            struct.pack_into("<H", data, 6, bit)
            cd, _ = cd_offset(bytes(data))
            struct.pack_into("<H", data, cd + 8, bit)
            rc, e = self.scan(bytes(data))
            self.assertFinding(e, "PJ204")
            self.assertIn("os.system", globals_of(e))

    def test_local_central_name_mismatch(self):
        data = bytearray(torch_zip(PAYLOAD))
        i = data.index(b"archive/data.pkl")  # first: the local header
        data[i:i + 16] = b"archive/datap.kl"
        rc, e = self.scan(bytes(data))
        self.assertFinding(e, "PJ200", "datap.kl")
        self.assertIn("archive/data.pkl", locations(e))
        self.assertIn("os.system", globals_of(e))

    def test_compressed_pickle(self):
        rc, e = self.scan(torch_zip(PAYLOAD, method=zipfile.ZIP_DEFLATED))
        self.assertFinding(e, "PJ207")
        self.assertIn("os.system", globals_of(e))

    def test_prepended_pickle_polyglot(self):
        data = BENIGN + torch_zip(PAYLOAD)
        rc, e = self.scan(data)
        self.assertEqual(e["format"], "pickle")
        self.assertIn("", locations(e))
        self.assertIn("archive/data.pkl", locations(e))
        self.assertFinding(e, "PJ205")
        self.assertIn("os.system", globals_of(e))

    def test_appended_data(self):
        rc, e = self.scan(torch_zip(BENIGN) + b"HIDDEN" * 10)
        self.assertFinding(e, "PJ206", "60 bytes")

    def test_overlapping_entries(self):
        data = bytearray(torch_zip(BENIGN))
        cd, eocd = cd_offset(bytes(data))
        # point the second directory entry at the first local header
        n1 = struct.unpack_from("<HHH", data, cd + 28)
        second = cd + 46 + sum(n1)
        struct.pack_into("<I", data, second + 42, 0)
        rc, e = self.scan(bytes(data))
        self.assertFinding(e, "PJ202")

    def test_pickle_in_txt_member(self):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w") as z:
            z.writestr("model/readme.md", b"# model\n")
            z.writestr("model/data.txt", PAYLOAD)
        rc, e = self.scan(b.getvalue(), name="x.zip")
        self.assertEqual(e["format"], "zip")
        self.assertEqual(locations(e), ["model/data.txt"])
        self.assertFinding(e, "PJ212", "data.txt")

    def test_truncated_zip_walks_local_headers(self):
        data = torch_zip(PAYLOAD)
        cd, _ = cd_offset(data)
        rc, e = self.scan(data[:cd])
        self.assertFinding(e, "PJ210")
        self.assertIn("archive/data.pkl", locations(e))
        self.assertIn("os.system", globals_of(e))

    def test_member_only_in_local_headers(self):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w") as z:
            z.writestr("archive/data.pkl", BENIGN)
            z.writestr("archive/hidden.pkl", PAYLOAD)
        data = bytearray(b.getvalue())
        cd, eocd = cd_offset(bytes(data))
        first_len = 46 + sum(struct.unpack_from("<HHH", data, cd + 28))
        # drop the second directory record; fix counts and size
        new = data[:cd + first_len] + data[eocd:]
        e2 = cd + first_len
        struct.pack_into("<HHI", new, e2 + 8, 1, 1, first_len)
        rc, e = self.scan(bytes(new))
        self.assertFinding(e, "PJ200", "not in the central directory")
        self.assertIn("archive/hidden.pkl", locations(e))
        self.assertIn("os.system", globals_of(e))

    def test_entry_count_mismatch(self):
        data = bytearray(torch_zip(BENIGN, extra=[("archive/x.pkl", PAYLOAD)]))
        _, eocd = cd_offset(bytes(data))
        struct.pack_into("<HH", data, eocd + 8, 3, 3)
        rc, e = self.scan(bytes(data))
        self.assertFinding(e, "PJ211", "declares 3 entries")
        self.assertIn("archive/x.pkl", locations(e))

    def test_zip64_end_records(self):
        data = torch_zip(PAYLOAD)
        cd, eocd = cd_offset(data)
        count, size = struct.unpack_from("<HI", data, eocd + 10)[0], struct.unpack_from("<I", data, eocd + 12)[0]
        rec = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, cd)
        loc = struct.pack("<IIQI", 0x07064B50, 0, eocd, 1)
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
        z64 = data[:eocd] + rec + loc + end
        with zipfile.ZipFile(io.BytesIO(z64)) as z:  # the crafted file is valid
            self.assertEqual(z.read("archive/data.pkl"), PAYLOAD)
        rc, e = self.scan(z64)
        self.assertEqual(e["format"], "torch-zip")
        self.assertIn("archive/data.pkl", locations(e))
        self.assertIn("os.system", globals_of(e))
        self.assertFalse([c for c in codes(e) if c in ("PJ205", "PJ206", "PJ211")], codes(e))

    def test_out_of_bounds_offsets(self):
        data = bytearray(torch_zip(BENIGN))
        cd, eocd = cd_offset(bytes(data))
        n1 = struct.unpack_from("<HHH", data, cd + 28)
        second = cd + 46 + sum(n1)
        struct.pack_into("<I", data, second + 42, 0x7FFFFFF0)  # local header far past the end
        rc, e = self.scan(bytes(data))
        self.assertFinding(e, "PJ203", "no local header")
        struct.pack_into("<I", data, second + 42, struct.unpack_from("<I", torch_zip(BENIGN), second + 42)[0])
        struct.pack_into("<I", data, second + 20, 1 << 30)  # compressed size past the end
        rc, e = self.scan(bytes(data))
        self.assertFinding(e, "PJ203", "run past the end")

    def test_nested_zip_in_zip(self):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w") as z:
            z.writestr("inner.bin", torch_zip(PAYLOAD))
        rc, e = self.scan(b.getvalue())
        self.assertIn("inner.bin>archive/data.pkl", locations(e))


def npy_bytes(descr, shape, body, version=1):
    d = "{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, shape)
    pad = (64 - (10 + len(d) + 1) % 64) % 64
    h = (d + " " * pad + "\n").encode("latin1")
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + body
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(h)) + h + body


class Numpy(Base):
    def test_object_array_pickle(self):
        rc, e = self.scan(npy_bytes("|O", (1,), PAYLOAD), name="a.npy")
        self.assertEqual(e["format"], "npy")
        self.assertEqual(e["meta"].get("npy.descr"), "|O")
        self.assertEqual(e["meta"].get("npy.shape"), "(1,)")
        self.assertEqual(locations(e), [""])
        self.assertIn("os.system", globals_of(e))

    def test_structured_object_field(self):
        rc, e = self.scan(npy_bytes([("a", "<i4"), ("b", "|O")], (2,), PAYLOAD, version=3))
        self.assertEqual(e["meta"].get("npy.version"), "3.0")
        self.assertIn("os.system", globals_of(e))

    def test_plain_array_sizes(self):
        rc, e = self.scan(npy_bytes("<f8", (3, 2), b"\x00" * 48))
        self.assertEqual(e["streams"], [])
        self.assertNotIn("PJ216", codes(e))
        rc, e = self.scan(npy_bytes("<f8", (3, 2), b"\x00" * 40))
        self.assertFinding(e, "PJ216", "needs 48 bytes")
        rc, e = self.scan(npy_bytes("<f8", (3, 2), b"\x00" * 48 + PAYLOAD))
        self.assertFinding(e, "PJ216", "look like a pickle")
        rc, e = self.scan(npy_bytes("<f8", (2**40, 2**40), b""))
        self.assertFinding(e, "PJ216", "overflows")

    def test_bad_header(self):
        rc, e = self.scan(b"\x93NUMPY\x01\x00\x10\x00{'descr': __import__('os')}\n")
        self.assertFinding(e, "PJ216")
        rc, e = self.scan(b"\x93NUMPY\x09\x00\x10\x00")
        self.assertFinding(e, "PJ216", "version 9.0")

    def test_npz(self):
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w") as z:
            z.writestr("w.npy", npy_bytes("<f4", (2,), b"\x00" * 8))
            z.writestr("meta.npy", npy_bytes("|O", (1,), PAYLOAD))
        rc, e = self.scan(b.getvalue(), name="a.zip")
        self.assertEqual(e["format"], "npz")
        self.assertEqual(locations(e), ["meta.npy"])
        self.assertIn("os.system", globals_of(e))


class Wrappers(Base):
    def test_each_compressor(self):
        cases = {
            "gzip": gzip.compress(PAYLOAD),
            "bz2": bz2.compress(PAYLOAD),
            "xz": lzma.compress(PAYLOAD),
            "zlib": zlib.compress(PAYLOAD, 3),
        }
        for fmt, data in cases.items():
            rc, e = self.scan(data, name="m.pkl")
            self.assertEqual(e["format"], fmt)
            self.assertEqual(locations(e), [fmt + ":"])
            self.assertIn("os.system", globals_of(e), fmt)

    def test_lzma_alone(self):
        data = lzma.compress(PAYLOAD, format=lzma.FORMAT_ALONE)
        rc, e = self.scan(data)
        self.assertEqual(locations(e), ["lzma:"])
        self.assertIn("os.system", globals_of(e))

    def test_joblib_zfile(self):
        body = zlib.compress(PAYLOAD)
        data = b"ZF" + ("0x%x" % len(PAYLOAD)).ljust(19).encode() + body
        rc, e = self.scan(data)
        self.assertEqual(e["format"], "zlib")
        self.assertIn("os.system", globals_of(e))

    def test_multi_member_gzip(self):
        data = gzip.compress(BENIGN) + gzip.compress(PAYLOAD)
        rc, e = self.scan(data)
        self.assertIn("os.system", globals_of(e))

    def test_lz4_frames(self):
        # one compressed block (15 literals, an overlapping match of 19, 5
        # literals), checked against python3-lz4 when it was written
        data = b"cos\nsystem\n(S'" + b"a" * 20 + b"'\ntR."
        blk = (bytes([0xFF, 0x00]) + b"cos\nsystem\n(S'a" + struct.pack("<H", 1) + bytes([0x00]) +
               bytes([0x50]) + b"'\ntR.")
        frame = (b"\x04\x22\x4d\x18" + bytes([0x60, 0x40, 0x82]) + struct.pack("<I", len(blk)) +
                 blk + b"\0\0\0\0")
        rc, e = self.scan(frame)
        self.assertEqual(e["format"], "lz4")
        self.assertEqual(locations(e), ["lz4:"])
        self.assertIn("os.system", globals_of(e))
        self.assertEqual(e["meta"].get("decompressed.size"), str(len(data)))
        # an uncompressed block, then a frame that points before its output
        raw = (b"\x04\x22\x4d\x18" + bytes([0x60, 0x40, 0x82]) +
               struct.pack("<I", 0x80000000 | len(PAYLOAD)) + PAYLOAD + b"\0\0\0\0")
        rc, e = self.scan(raw)
        self.assertIn("os.system", globals_of(e))
        bad = (b"\x04\x22\x4d\x18" + bytes([0x60, 0x40, 0x82]) + struct.pack("<I", 5) +
               bytes([0x10, 0x41, 0x09, 0x00, 0x00]) + b"\0\0\0\0")
        rc, e = self.scan(bad)
        self.assertFinding(e, "PJ214", "before the output")

    def test_lz4_dictionary_not_supported_is_said(self):
        frame = b"\x04\x22\x4d\x18" + bytes([0x61, 0x40]) + b"\x01\x02\x03\x04\x00" + b"\x00" * 8
        rc, e = self.scan(frame)
        self.assertEqual(e["format"], "lz4")
        self.assertFinding(e, "PJ225", "NOT scanned")
        self.assertNotEqual(e["verdict"], "safe")

    def test_real_7z(self):
        # made by p7zip 16.02: 7z a real.7z model.pkl (LZMA2), model.pkl = protocol-0 os.system
        data = b"7z\xbc\xaf'\x1c\x00\x04\x87_7\xc1\x19\x00\x00\x00\x00\x00\x00\x00Z\x00\x00\x00\x00\x00\x00\x00\xa2\x9eK\x82\x01\x00\x14cos\nsystem\n(S'id'\ntR.\x00\x01\x04\x06\x00\x01\t\x19\x00\x07\x0b\x01\x00\x01!!\x01\x00\x0c\x15\x00\x08\n\x01\xbeE\xb8'\x00\x00\x05\x01\x19\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x11\x15\x00m\x00o\x00d\x00e\x00l\x00.\x00p\x00k\x00l\x00\x00\x00\x14\n\x01\x00h\xcf\xc6:\xd4|\xdd\x01\x15\x06\x01\x00 \x80\xa4\x81\x00\x00"
        rc, e = self.scan(data, name="model.bin")
        self.assertEqual(e["format"], "7z")
        self.assertEqual(locations(e), ["model.pkl"])
        self.assertIn("os.system", globals_of(e))

    def test_7z_non_ascii_member_name(self):
        # made by p7zip 16.02: 7z a u.7z "model_ü.pkl"-like name "mod\u00e8l_\u00fc.pkl".
        # Names are UTF-16LE in 7z; they were lost ('') under the C locale, where
        # libarchive converted them to ASCII through iconv.  Same in and out of the
        # sandbox (the sandbox helper converts them the same way).
        data = (b"7z\xbc\xaf'\x1c\x00\x04Y\x19\xc0\x17\x19\x00\x00\x00\x00\x00\x00\x00b\x00\x00"
                b"\x00\x00\x00\x00\x00;\x85\x0c\xad\x01\x00\x14cos\nsystem\n(S'id'\ntR.\x00\x01\x04"
                b"\x06\x00\x01\t\x19\x00\x07\x0b\x01\x00\x01!!\x01\x00\x0c\x15\x00\x08\n\x01\xbeE"
                b"\xb8'\x00\x00\x05\x01\x19\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x11"
                b"\x19\x00m\x00o\x00d\x00\xe8\x00l\x00_\x00\xfc\x00.\x00p\x00k\x00l\x00\x00\x00\x19"
                b"\x02\x00\x00\x14\n\x01\x00\x89\xa2\xa0k\xf2|\xdd\x01\x15\x06\x01\x00 \x80\xa4"
                b"\x81\x00\x00")
        for extra in ((), ("--no-sandbox",)):
            rc, e = self.scan(data, name="u.7z", extra=extra)
            self.assertEqual(e["format"], "7z")
            # Location strings escape bytes outside printable ASCII.
            self.assertEqual(locations(e), ["mod\\xc3\\xa8l_\\xc3\\xbc.pkl"], extra)
            self.assertIn("os.system", globals_of(e))

    def test_damaged_7z(self):
        rc, e = self.scan(b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\xff" * 40)
        self.assertEqual(e["format"], "7z")
        self.assertFinding(e, "PJ219")

    def test_bomb(self):
        data = gzip.compress(b"\x00" * (3 << 20))
        rc, e = self.scan(data, extra=("--max-decompressed", "1"))
        self.assertFinding(e, "PJ213")

    def test_corrupt_stream(self):
        data = gzip.compress(PAYLOAD * 50)
        rc, e = self.scan(data[:40])
        self.assertFinding(e, "PJ214")

    def test_nesting_limit(self):
        data = PAYLOAD
        for _ in range(12):
            data = gzip.compress(data)
        rc, e = self.scan(data)
        self.assertFinding(e, "PJ215")

    def test_tar_of_gzip_of_zip(self):
        inner = gzip.compress(torch_zip(PAYLOAD))
        b = io.BytesIO()
        with tarfile.open(fileobj=b, mode="w") as t:
            ti = tarfile.TarInfo("dir/model.pt.gz")
            ti.size = len(inner)
            t.addfile(ti, io.BytesIO(inner))
        rc, e = self.scan(b.getvalue())
        self.assertEqual(e["format"], "tar")
        self.assertIn("dir/model.pt.gz>gzip:archive/data.pkl", locations(e))
        self.assertIn("os.system", globals_of(e))


class NotModels(Base):
    def test_non_models(self):
        cases = [
            (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n",
             "lfs-pointer", "PJ220"),
            (b"<!DOCTYPE html><html><body>quota</body></html>", "html", "PJ220"),
            (b'{"error": "not found"}', "json", "PJ220"),
            (b"", "empty", "PJ223"),
            (struct.pack("<Q", 2) + b"{}" + b"\x00" * 16, "safetensors", "PJ222"),
            (b"GGUF\x03\x00\x00\x00" + b"\x00" * 32, "gguf", "PJ222"),
            (b"\x07\x07\x07\x07 nothing known", "unknown", "PJ221"),
        ]
        for data, fmt, code in cases:
            rc, e = self.scan(data, name="model.pt")
            self.assertEqual(e["format"], fmt, data[:20])
            self.assertIn(code, codes(e), fmt)
            self.assertNotEqual(e["verdict"], "dangerous")

    def test_headerless_pickles_are_pickles(self):
        for data in (b"I1\n.", b"Vabc\np0\n.", pickle.dumps("x", protocol=0), PAYLOAD0):
            rc, e = self.scan(data)
            self.assertEqual(e["format"], "pickle", data)
            self.assertNotIn("PJ221", codes(e))
            self.assertEqual(locations(e), [""])

    def test_safetensors_bad_length(self):
        rc, e = self.scan(struct.pack("<Q", 1 << 40) + b'{"a":1}')
        self.assertEqual(e["format"], "safetensors")
        self.assertFinding(e, "PJ220", "truncated")

    def test_lfs_pointer_fields(self):
        rc, e = self.scan(b"version https://git-lfs.github.com/spec/v1\noid sha256:ab12\nsize 99\n")
        self.assertFinding(e, "PJ220", "sha256:ab12")


MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."


def legacy(main=BENIGN, keys=("0",), storages=(struct.pack("<Q", 2) + b"\x00" * 8,), tail=b""):
    return (MAGIC + pickle.dumps(1001, protocol=2) +
            pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2) +
            main + pickle.dumps(list(keys), protocol=2) + b"".join(storages) + tail)


class TorchLegacy(Base):
    def test_five_pickles(self):
        rc, e = self.scan(legacy(main=PAYLOAD))
        self.assertEqual(e["format"], "torch-legacy")
        self.assertEqual(locations(e), ["pickle#%d" % i for i in range(1, 6)])
        self.assertEqual(e["meta"].get("torch.legacy.protocol_version"), "1001")
        self.assertIn("os.system", globals_of(e))
        self.assertNotIn("PJ217", codes(e))

    def test_storage_data_checked(self):
        rc, e = self.scan(legacy(storages=(struct.pack("<Q", 1000) + b"\x00" * 8,)))
        self.assertFinding(e, "PJ217", "truncated")
        rc, e = self.scan(legacy(tail=b"X" * 5))
        self.assertFinding(e, "PJ217", "do not split")

    def test_payload_in_keys_pickle(self):
        data = legacy()
        data = data.replace(pickle.dumps(["0"], protocol=2), PAYLOAD)
        rc, e = self.scan(data)
        self.assertIn("os.system", globals_of(e))

    def test_tar_layout(self):
        b = io.BytesIO()
        members = {
            "sys_info": pickle.dumps({"protocol_version": 1001}, protocol=2),
            "storages": pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2),
            "tensors": pickle.dumps(0, protocol=2),
            "pickle": PAYLOAD,
        }
        with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
            for n, d in members.items():
                ti = tarfile.TarInfo(n)
                ti.size = len(d)
                t.addfile(ti, io.BytesIO(d))
        rc, e = self.scan(b.getvalue())
        self.assertEqual(e["format"], "torch-tar")
        self.assertIn("pickle", locations(e))
        self.assertIn("os.system", globals_of(e))


class Corpus(Base):
    """The real samples (made by torch, numpy, joblib) the corpus holds."""

    def check(self, rel, fmt, locs=None, must=()):
        path = os.path.join(ROOT, rel)
        if not os.path.exists(path):
            self.skipTest(rel + " missing")
        rc, doc = scan_json(path)
        e = doc["files"][0]
        self.assertEqual(e["format"], fmt, rel)
        if locs is not None:
            for l in locs:
                self.assertIn(l, locations(e), rel)
        for g in must:
            self.assertIn(g, globals_of(e), rel)
        return e

    def test_real_files(self):
        self.check("corpus/benign/torch_state_dict.pt", "torch-zip", ["archive/data.pkl"])
        self.check("corpus/benign/torchscript_linear.pt", "torchscript",
                   ["archive/data.pkl", "archive/constants.pkl"])
        self.check("corpus/benign/torch_state_dict_legacy.pt", "torch-legacy",
                   ["pickle#%d" % i for i in range(1, 6)])
        self.check("corpus/benign/numpy_arrays.npz", "npz")
        self.check("corpus/benign/sklearn_pipeline_joblib.joblib", "joblib", [""])
        self.check("corpus/benign/sklearn_pipeline_joblib_xz.joblib", "xz", ["xz:"])
        self.check("corpus/malicious/zip_duplicate_benign_first.pt", "torch-zip",
                   ["archive/data.pkl"], ["os.system"])
        self.check("corpus/malicious/torch_tar_payload_in_pickle_member.pt", "torch-tar",
                   ["storages", "tensors", "pickle"], ["os.system"])
        self.check("corpus/malicious/sevenzip_payload_then_garbage.7z", "7z", None, ["os.system"])
        self.check("corpus/malicious/torch_legacy_magic_by_eval.pt", "torch-legacy", None,
                   ["builtins.eval", "os.system"])
        self.check("corpus/loadfail/truncated_torch_zip.pt", "torch-zip", ["archive/data.pkl"])


if __name__ == "__main__":
    unittest.main()
