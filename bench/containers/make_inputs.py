"""Generate a 2 GiB PyTorch-style zip checkpoint, mostly zeros, for the
container benchmark.  Written with the standard library's zipfile (as
torch.save's layout: archive/data.pkl, archive/data/0, archive/version, all
ZIP_STORED); runs of zeros are turned into holes, so the file is sparse and
takes almost no disk space.  Usage: make_inputs.py DIR [SIZE_MIB]"""
import io
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class SparseWriter(io.RawIOBase):
    """File wrapper: a write of only zero bytes becomes a seek (a hole)."""

    def __init__(self, f):
        self.f = f

    def writable(self):
        return True

    def seekable(self):
        return True

    def write(self, b):
        b = memoryview(b)
        if len(b) >= 4096 and not any(b.tobytes()[::4096]) and b.tobytes().count(0) == len(b):
            self.f.seek(len(b), os.SEEK_CUR)
        else:
            self.f.write(b)
        return len(b)

    def tell(self):
        return self.f.tell()

    def seek(self, off, whence=os.SEEK_SET):
        return self.f.seek(off, whence)

    def flush(self):
        self.f.flush()


def data_pkl():
    """The data.pkl of a real torch.save output from the corpus, if there."""
    src = os.path.join(ROOT, "corpus", "benign", "torch_state_dict.pt")
    try:
        with zipfile.ZipFile(src) as z:
            return z.read("archive/data.pkl")
    except (OSError, KeyError, zipfile.BadZipFile):
        import pickle
        return pickle.dumps({"weight": None}, protocol=2)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "build/bench/containers"
    size = (int(sys.argv[2]) if len(sys.argv) > 2 else 2048) << 20
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "big_torch.pt")
    if os.path.exists(path) and os.path.getsize(path) > size:
        print(path, "exists")
        return
    chunk = bytes(64 << 20)
    with open(path + ".tmp", "wb") as raw:
        sw = SparseWriter(raw)
        with zipfile.ZipFile(sw, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            z.writestr("archive/data.pkl", data_pkl())
            with z.open("archive/data/0", "w", force_zip64=True) as m:
                left = size
                while left > 0:
                    n = min(left, len(chunk))
                    m.write(chunk[:n])
                    left -= n
            z.writestr("archive/version", b"3\n")
        raw.truncate()
    os.replace(path + ".tmp", path)
    st = os.stat(path)
    print(f"{path}: {st.st_size} bytes, {st.st_blocks * 512} on disk")


if __name__ == "__main__":
    main()
