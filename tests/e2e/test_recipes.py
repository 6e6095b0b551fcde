"""The README's integration recipes, run for real: GNU parallel across local
workers and across hosts (--sshlogin, with a stand-in ssh that runs the
command here, so no sshd is needed) merging JSON Lines, and the pre-commit
hook in .pre-commit-hooks.yaml run the way pre-commit runs it."""
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest

import pjtest

OS_SYSTEM_P0 = b"cos\nsystem\n(S'echo pwned'\ntR."
BENIGN_P2 = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s."
UNKNOWN_P2 = b"\x80\x02cmylib.models\nNet\n)\x81."

PARALLEL = shutil.which("parallel")

# An ssh stand-in: skips ssh's options and the host name, then runs the
# command line the way sshd would (one shell string, with SHELL set as sshd
# sets it to the login shell: parallel's remote wrapper runs the job with
# $SHELL and silently runs nothing without it, as in CI where SHELL is unset).
FAKE_SSH = r"""#!/bin/sh
echo "$*" >> "$FAKE_SSH_LOG"
SHELL="${SHELL:-/bin/sh}"
export SHELL
while [ $# -gt 0 ]; do
  case "$1" in
    -[1246AaCfGgKkMNnqsTtVvXxYy]*) shift ;;
    -*) shift 2 ;;
    *) break ;;
  esac
done
shift
[ "${1:-}" = "--" ] && shift
exec /bin/sh -c "$*"
"""


def is_gnu_parallel():
    if PARALLEL is None:
        return False
    p = subprocess.run([PARALLEL, "--version"], capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    return "GNU parallel" in p.stdout


class RecipeBase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.models = os.path.join(self.dir, "models")
        os.makedirs(os.path.join(self.models, "sub dir"))
        self.paths = []
        names = ["a.pkl", "b.pt", "c.bin", "sub dir/d e.pkl", "sub dir/f'g\".joblib",
                 "sub dir/h.npy", "nl\nname.pkl"] + ["x%02d.pkl" % i for i in range(20)]
        for i, n in enumerate(names):
            data = OS_SYSTEM_P0 if i % 5 == 0 else UNKNOWN_P2 if i % 5 == 1 else BENIGN_P2
            p = os.path.join(self.models, n)
            with open(p, "wb") as f:
                f.write(data)
            self.paths.append(p)
        bad = os.path.join(os.fsencode(self.models), b"bad\xffname.pkl")
        with open(bad, "wb") as f:
            f.write(OS_SYSTEM_P0)
        self.paths.append(bad)
        # The direct scan that every recipe must reproduce.
        rc, out, err = pjtest.run("scan", "-j", "1", "--format", "jsonl", self.models)
        self.direct = {}
        for line in out.splitlines():
            d = json.loads(line)
            if d.get("type") != "skipped":
                self.direct[self.key(d)] = d["verdict"]
        self.assertEqual(len(self.direct), len(self.paths))
        self.bindir = os.path.join(self.dir, "bin")
        os.makedirs(self.bindir)
        # The recipes call "picklejail" from PATH, as a user would.
        os.symlink(pjtest.BIN, os.path.join(self.bindir, "picklejail"))
        self.env = dict(os.environ)
        self.env["PATH"] = self.bindir + os.pathsep + self.env.get("PATH", "")
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def key(self, d):
        raw = bytes.fromhex(d["path_bytes"]) if "path_bytes" in d else os.fsencode(d["path"])
        return os.path.normpath(os.path.join(os.fsencode(self.dir), raw))

    def shell(self, script):
        p = subprocess.run(["/bin/bash", "-c", script], capture_output=True, cwd=self.dir,
                           env=self.env, timeout=600, stdin=subprocess.DEVNULL)
        err = p.stderr.decode("utf-8", "replace")
        self.assertNotIn("AddressSanitizer", err)
        self.assertNotIn("runtime error", err)
        return p.returncode, p.stdout, err

    def check_merged(self, path):
        with open(path, "rb") as f:
            raw = f.read()
        lines = [json.loads(l.decode("utf-8", "strict")) for l in raw.splitlines()]
        got = {}
        for d in lines:
            self.assertNotIn(self.key(d), got, "a file was scanned twice")
            got[self.key(d)] = d["verdict"]
        # One line per input file, each with the verdict of a direct scan.
        self.assertEqual(got, self.direct)
        self.assertIn("dangerous", got.values())
        self.assertIn("suspicious", got.values())
        self.assertIn("safe", got.values())
        return lines


@unittest.skipUnless(is_gnu_parallel(), "GNU parallel is not installed")
class ParallelRecipeTest(RecipeBase):
    def readme_block(self, marker):
        """The shell command of the README line that contains marker."""
        with open(os.path.join(pjtest.ROOT, "README.md")) as f:
            for line in f:
                if marker in line:
                    return line.split("  #")[0].strip()
        self.fail("README has no recipe containing %r" % marker)

    def test_local_workers_merge_jsonl(self):
        cmd = self.readme_block("> merged.jsonl")
        self.assertIn("parallel", cmd)
        rc, out, err = self.shell(cmd)
        # parallel's exit status: how many batches had a dangerous file.
        self.assertGreaterEqual(rc, 1, err)
        self.assertLess(rc, 101, err)
        self.check_merged(os.path.join(self.dir, "merged.jsonl"))

    def test_across_hosts_with_sshlogin(self):
        ssh = os.path.join(self.dir, "fake-ssh")
        with open(ssh, "w") as f:
            f.write(FAKE_SSH)
        os.chmod(ssh, 0o755)
        log = os.path.join(self.dir, "ssh.log")
        self.env["FAKE_SSH_LOG"] = log
        cmd = self.readme_block("> merged-hosts.jsonl")
        self.assertIn("--sshlogin", cmd)
        # The README recipe with the stand-in ssh, two "hosts" and batches
        # small enough that both get some.
        cmd = cmd.replace("--sshlogin 8/host1,8/host2", "--ssh %s --sshlogin 2/host1,2/host2"
                          % shlex.quote(ssh)).replace("-n 64", "-n 4")
        self.assertIn("--ssh ", cmd)
        self.assertIn("-n 4", cmd)
        rc, out, err = self.shell(cmd)
        self.assertGreaterEqual(rc, 1, err)
        self.assertLess(rc, 101, err)
        self.check_merged(os.path.join(self.dir, "merged-hosts.jsonl"))
        with open(log) as f:
            hosts = [line.split()[0] for line in f]
        self.assertIn("host1", hosts)
        self.assertIn("host2", hosts)


class PreCommitHookTest(RecipeBase):
    def load_hooks(self):
        path = os.path.join(pjtest.ROOT, ".pre-commit-hooks.yaml")
        with open(path) as f:
            text = f.read()
        try:
            import yaml
        except ImportError:
            yaml = None
        if yaml is not None:
            return yaml.safe_load(text)
        # Minimal reading of the flat list this file is: "- id:" items with
        # "key: value" members, where a value may be a [flow, list].
        hooks = []
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.match(r"^(- |  )([a-z_]+): *(.*?)(\s+#.*)?$", line)
            self.assertIsNotNone(m, line)
            if m.group(1) == "- ":
                hooks.append({})
            v = m.group(3)
            if v.startswith("["):
                v = [x.strip() for x in v.strip("[]").split(",")]
            elif v.startswith("'"):
                v = v[1:-1]
            elif v in ("true", "false"):
                v = v == "true"
            hooks[-1][m.group(2)] = v
        return hooks

    def test_hook_definition(self):
        hooks = self.load_hooks()
        self.assertEqual(len(hooks), 1)
        h = hooks[0]
        for k in ("id", "name", "entry", "language", "files"):
            self.assertIn(k, h)
        self.assertEqual(h["id"], "picklejail")
        self.assertIn(h["language"], ("system", "script"))
        self.assertEqual(h["entry"].split()[0], "picklejail")
        rx = re.compile(h["files"])
        for n in ("model.pt", "w.PTH", "pytorch_model.bin", "a.pkl", "b.pickle", "c.joblib",
                  "d.npy", "e.npz", "f.ckpt", "dir/sub/g.pt"):
            self.assertTrue(rx.search(n), n)
        for n in ("README.md", "train.py", "model.safetensors", "pt"):
            self.assertFalse(rx.search(n), n)

    def run_hook(self, files):
        h = self.load_hooks()[0]
        # pre-commit runs: entry + args + the staged file names matching "files".
        rx = re.compile(h["files"])
        chosen = [f for f in files if rx.search(os.fsdecode(f))]
        argv = shlex.split(h["entry"]) + list(h.get("args", [])) + chosen
        p = subprocess.run(argv, capture_output=True, env=self.env, cwd=self.dir, timeout=300)
        return p.returncode, p.stdout.decode("utf-8", "replace"), chosen

    def test_hook_runs_on_staged_files(self):
        clean = [p for p in self.paths if isinstance(p, str) and
                 self.direct[os.fsencode(p)] == "safe"]
        self.assertTrue(clean)
        notes = os.path.join(self.models, "notes.txt")
        with open(notes, "w") as f:
            f.write("not a model\n")
        rc, out, chosen = self.run_hook(clean + [notes])
        self.assertNotIn(notes, chosen)
        self.assertTrue(chosen)
        self.assertEqual(rc, 0, out)
        bad = [p for p in self.paths if isinstance(p, str) and
               self.direct[os.fsencode(p)] == "dangerous"]
        rc, out, chosen = self.run_hook(clean + bad[:1])
        self.assertEqual(rc, 1)
        self.assertIn("DANGEROUS", out)
        # --quiet in the hook: safe files are not listed.
        self.assertNotIn(os.path.basename(clean[0]) + ":", out)


if __name__ == "__main__":
    unittest.main()
