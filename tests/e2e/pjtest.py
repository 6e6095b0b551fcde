"""Helpers shared by the end-to-end tests."""
import json
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("PJ_BIN", os.path.join(ROOT, "build", "asan", "picklejail"))


CODES_DIR = os.path.join(ROOT, "build", "test-codes-seen")


def _record(text):
    """Remember every finding code a test saw the CLI emit (tests/suites/90-codes.sh
    checks that every documented code is emitted by some test)."""
    # SARIF lists every code as a rule ("id": "PJnnn"); only results count.
    text = re.sub(r'"id"\s*:\s*"PJ[0-9]+"', "", text)
    codes = sorted(set(re.findall(r"\bPJ[1-5][0-9][0-9]\b", text)))
    if not codes:
        return
    os.makedirs(CODES_DIR, exist_ok=True)
    with open(os.path.join(CODES_DIR, "e2e-%d.txt" % os.getpid()), "a") as f:
        f.write("\n".join(codes) + "\n")


def record_codes(files):
    """Record the codes of already-parsed JSON file entries."""
    _record(" ".join(f["code"] for d in files for f in d.get("findings", [])))


def run(*args, input=None, timeout=120):
    """Run the CLI; returns (exit code, stdout, stderr)."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.run([BIN, *args], input=input, capture_output=True, timeout=timeout, env=env)
    out = p.stdout.decode("utf-8", "replace")
    _record(out)
    return p.returncode, out, p.stderr.decode("utf-8", "replace")


def children(pid):
    """The pids of pid's children now (empty once it is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(k) for k in f.read().split()]
    except OSError:
        return []


def scan_json(*paths, extra=(), input=None):
    """Scan paths with --format json; returns (exit code, parsed document)."""
    rc, out, err = run("scan", "--format", "json", *extra, *paths, input=input)
    assert "runtime error" not in err and "AddressSanitizer" not in err, err
    return rc, json.loads(out)


def scan_bytes(tmpdir, data, name="x.pkl", extra=()):
    """Write data to a file and scan it; returns (exit code, the file's entry)."""
    path = os.path.join(tmpdir, name)
    with open(path, "wb") as f:
        f.write(data)
    rc, doc = scan_json(path, extra=extra)
    return rc, doc["files"][0]
