"""Helpers shared by the end-to-end tests."""
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("PJ_BIN", os.path.join(ROOT, "build", "asan", "picklejail"))


def run(*args, input=None, timeout=120):
    """Run the CLI; returns (exit code, stdout, stderr)."""
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    p = subprocess.run([BIN, *args], input=input, capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


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
