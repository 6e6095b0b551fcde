"""End-to-end tests of the sandbox through the CLI: the jail holds against a
child that misbehaves on purpose (test builds only: --test-misbehave applies
to files starting with PJ-MISBEHAVE), the filter is really loaded, the next
file is always scanned normally, and thousands of files leak nothing."""
import contextlib
import json
import os
import platform
import re
import resource
import subprocess
import tempfile
import time
import unittest

import pjtest

MARKER = b"PJ-MISBEHAVE\n"
OS_SYSTEM_P2 = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00echo\x85R."
BENIGN_P2 = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01u."

# mode -> (finding code, text the message must contain or None, verdict)
MODES = {
    "open": ("PJ400", "openat", "dangerous"),
    "exec": ("PJ400", "execve", "dangerous"),
    "socket": ("PJ400", "socket", "dangerous"),
    "mmap-exec": ("PJ400", "mmap", "dangerous"),
    "mprotect-exec": ("PJ400", "mprotect", "dangerous"),
    "fork": ("PJ400", "clone", "dangerous"),
    "stdout": ("PJ400", "write", "dangerous"),
    "proc-status": ("PJ400", "openat", "dangerous"),
    "segv": ("PJ401", "SEGV", "suspicious"),
    "alloc": ("PJ403", None, "suspicious"),
    "garbage": ("PJ405", None, "suspicious"),
    "huge-length": ("PJ405", "length", "suspicious"),
    "bad-index": ("PJ405", "out of range", "suspicious"),
    "exit": ("PJ404", None, "suspicious"),
    "server-clone": ("PJ400", "clone", "dangerous"),
    "raise-limit": ("PJ400", "prlimit64", "dangerous"),
    "close-loop": ("PJ400", "close", "dangerous"),
    "clear-deathsig": ("PJ400", "prctl", "dangerous"),
}


@contextlib.contextmanager
def fork_server_from_the_first_file():
    """Every child in the block comes from the fork server (test builds)."""
    old = os.environ.get("PJ_TEST_SERVER_AFTER")
    os.environ["PJ_TEST_SERVER_AFTER"] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["PJ_TEST_SERVER_AFTER"]
        else:
            os.environ["PJ_TEST_SERVER_AFTER"] = old


def is_test_build():
    rc, _, err = pjtest.run("scan", "--test-misbehave", "none", "/dev/null")
    return "test-misbehave" not in err


def codes(entry):
    return [f["code"] for f in entry["findings"]]


@unittest.skipUnless(is_test_build(), "needs the test build (--test-misbehave)")
class SandboxJailTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.bad = self.write("a_bad.pkl", MARKER)
        self.good = self.write("b_good.pkl", OS_SYSTEM_P2)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assert_good_scanned(self, entry):
        self.assertEqual(entry["verdict"], "dangerous")
        self.assertFalse([c for c in codes(entry) if c.startswith("PJ4")], entry)
        names = [(g["module"], g["name"]) for s in entry["streams"] for g in s["globals"]]
        self.assertIn(("os", "system"), names)

    def test_each_misbehaviour_is_stopped_and_the_next_file_scans(self):
        self.check_modes()

    def test_each_misbehaviour_of_a_fork_server_child(self):
        """The same outcomes for a child of the fork server, which inherits
        the server's filter and has forgotten the cookie before parsing."""
        with fork_server_from_the_first_file():
            self.check_modes()

    def check_modes(self):
        for mode, (code, text, verdict) in MODES.items():
            with self.subTest(mode=mode):
                extra = ["--test-misbehave", mode, "--timeout", "20", "--memory", "128"]
                rc, doc = pjtest.scan_json(self.bad, self.good, extra=extra)
                bad, good = doc["files"]
                self.assertIn(code, codes(bad), bad)
                f = [x for x in bad["findings"] if x["code"] == code][0]
                if text:
                    self.assertIn(text, f["message"])
                self.assertEqual(bad["verdict"], verdict)
                self.assertEqual(rc, 1)
                self.assert_good_scanned(good)

    def test_timeout(self):
        start = time.monotonic()
        rc, doc = pjtest.scan_json(self.bad, self.good,
                                   extra=["--test-misbehave", "loop", "--timeout", "1"])
        self.assertLess(time.monotonic() - start, 15)
        bad, good = doc["files"]
        self.assertIn("PJ402", codes(bad))
        self.assertNotEqual(bad["verdict"], "safe")
        self.assert_good_scanned(good)

    def test_closed_pipe_then_loop_still_times_out(self):
        """A child that closed its report pipe and kept running would show
        the CLI the end of the pipe but no exit; the deadline must still hold
        (the CLI once waited forever).  Close is trapped now, so this checks
        that nothing hangs either way."""
        start = time.monotonic()
        with fork_server_from_the_first_file():
            rc, doc = pjtest.scan_json(self.bad, self.good,
                                       extra=["--test-misbehave", "close-loop", "--timeout", "1"])
        self.assertLess(time.monotonic() - start, 15)
        bad, good = doc["files"]
        self.assertIn(codes(bad)[0], ("PJ402", "PJ400"))
        self.assertNotEqual(bad["verdict"], "safe")
        self.assert_good_scanned(good)

    def test_cpu_limit(self):
        rc, doc = pjtest.scan_json(self.bad, self.good,
                                   extra=["--test-misbehave", "loop", "--timeout", "30",
                                          "--cpu", "1"])
        bad, good = doc["files"]
        self.assertIn("PJ407", codes(bad))
        self.assert_good_scanned(good)

    def test_no_seccomp_refuses_to_call_safe(self):
        benign = self.write("c_benign.pkl", MARKER)
        rc, doc = pjtest.scan_json(benign, extra=["--test-misbehave", "no-seccomp"])
        entry = doc["files"][0]
        self.assertIn("PJ406", codes(entry))
        self.assertNotEqual(entry["verdict"], "safe")
        msg = [f["message"] for f in entry["findings"] if f["code"] == "PJ406"][0]
        self.assertIn("--no-sandbox", msg)
        self.assertNotEqual(rc, 0)

    def test_filter_is_loaded_seen_from_outside(self):
        """While the child spins, its /proc status shows seccomp filter mode
        (2) and no_new_privs; and a child that opens /proc/self/status is
        stopped (proc-status mode, above)."""
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        p = subprocess.Popen([pjtest.BIN, "scan", "--format", "json", "--test-misbehave", "loop",
                              "--timeout", "10", self.bad], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
        status = None
        try:
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and status is None:
                for k in pjtest.children(p.pid):
                    try:
                        with open(f"/proc/{k}/status") as f:
                            s = f.read()
                    except OSError:
                        continue
                    if re.search(r"^Seccomp:\s+2", s, re.M):
                        status = s
                time.sleep(0.05)
        finally:
            p.kill()
            p.wait()
        self.assertIsNotNone(status, "no sandboxed child with Seccomp: 2 seen")
        self.assertRegex(status, r"NoNewPrivs:\s+1")

    def test_fork_server_is_a_fresh_process(self):
        """After the first 16 files, children are started by the CLI's
        executable started again as the fork server (not a copy of the CLI),
        and are still the CLI's own children (the CLI kills the spinning one
        at the deadline)."""
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        first = [self.write("0_%02d.pkl" % i, BENIGN_P2) for i in range(20)]  # sort first
        p = subprocess.Popen([pjtest.BIN, "scan", "-j", "1", "--format", "json", "--test-misbehave",
                              "loop", "--timeout", "3", *first, self.bad, self.good],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        # the spinning child: a filtered child still there 0.3 s later (the
        # first files' children come and go)
        child, kids, seen = None, [], set()
        deadline = time.monotonic() + 20
        while child is None and time.monotonic() < deadline:
            c, k = self.spinning_child(p)
            if c in seen:
                child, kids = c, k
            seen.add(c)
            time.sleep(0.3)
        server = [k for k in kids if k != child]
        cmds = []
        for k in server:
            try:
                with open(f"/proc/{k}/cmdline", "rb") as f:
                    cmds.append(f.read())
            except OSError:
                pass
        exes, server_seccomp, server_caps = [], [], []
        for k in server:
            try:
                with open(f"/proc/{k}/status") as f:
                    st = f.read()
                server_seccomp += re.findall(r"^Seccomp:\s+(\d)", st, re.M)
                server_caps += re.findall(r"^Cap(?:Prm|Eff):\s+(\w+)", st, re.M)
            except OSError:
                pass
            try:
                exes.append(os.readlink(f"/proc/{k}/exe"))
            except OSError:
                pass
        out, _ = p.communicate(timeout=60)
        self.assertIsNotNone(child)
        self.assertEqual(cmds, [b"picklejail-sandbox-server\0"])
        if platform.machine() == "x86_64":
            # the server runs under the filter its children inherit
            self.assertEqual(server_seccomp, ["2"])
            # with no capabilities: its children may only lower their limits
            self.assertEqual(server_caps, ["0" * 16] * 2)
        # The static helper when one is given (suite 32), else the CLI's own
        # executable (the test build has no helper beside it).
        helper = os.environ.get("PJ_TEST_SANDBOX_HELPER")
        self.assertEqual(exes, [os.path.realpath(helper or pjtest.BIN)])
        files = json.loads(out)["files"]
        self.assertEqual(len(files), 22)
        self.assertIn("PJ402", codes(files[20]))
        self.assert_good_scanned(files[21])

    def test_broken_helper_is_given_up(self):
        """A wrong program installed as the sandbox helper (one that exits,
        one that never answers) costs time, never a file: the CLI gives it
        up (the latter after PJ_TEST_SERVER_ANSWER_SECONDS) and starts its
        children from itself, every file scanned normally."""
        import shutil
        bindir = os.path.join(self.dir, "bin")
        os.mkdir(bindir)
        cli = os.path.join(bindir, "picklejail")
        shutil.copy(pjtest.BIN, cli)
        files = [self.write("f%02d.pkl" % i, OS_SYSTEM_P2 if i % 3 == 0 else BENIGN_P2)
                 for i in range(20)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PJ_TEST_")}
        env["PJ_TEST_SERVER_ANSWER_SECONDS"] = "1"
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        for body in ("exit 2", "exec sleep 600"):
            with self.subTest(helper=body):
                helper = os.path.join(bindir, "picklejail-sandbox")
                with open(helper, "w") as f:
                    f.write("#!/bin/sh\n" + body + "\n")
                os.chmod(helper, 0o755)
                start = time.monotonic()
                p = subprocess.run([cli, "scan", "-j", "1", "--format", "json", *files],
                                   capture_output=True, timeout=120, env=env)
                self.assertLess(time.monotonic() - start, 60)
                self.assertNotIn(b"AddressSanitizer", p.stderr)
                doc = json.loads(p.stdout)
                self.assertEqual(len(doc["files"]), 20)
                for i, entry in enumerate(doc["files"]):
                    self.assertFalse([c for c in codes(entry) if c.startswith("PJ4")], entry)
                    self.assertEqual(entry["verdict"], "dangerous" if i % 3 == 0 else "safe")

    def test_helper_others_could_plant_is_not_run(self):
        """A 'helper' beside the executable that someone else could have put
        or changed there (group/other-writable file or directory) is never
        executed; the same file, safely owned, is (the control)."""
        import shutil
        files = [self.write("g%02d.pkl" % i, BENIGN_P2) for i in range(20)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PJ_TEST_")}
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        for label, file_mode, dir_mode, runs in (("file 0777", 0o777, 0o755, False),
                                                  ("dir 0777", 0o755, 0o777, False),
                                                  ("dir 1777 (sticky)", 0o755, 0o1777, True),
                                                  ("safe", 0o755, 0o755, True)):
            with self.subTest(label):
                bindir = os.path.join(self.dir, "bin-" + label.split()[0] + str(dir_mode))
                os.mkdir(bindir)
                cli = os.path.join(bindir, "picklejail")
                shutil.copy(pjtest.BIN, cli)
                marker = os.path.join(self.dir, "ran-" + str(file_mode) + str(dir_mode))
                helper = os.path.join(bindir, "picklejail-sandbox")
                with open(helper, "w") as f:
                    f.write("#!/bin/sh\ntouch '%s'\nexit 2\n" % marker)
                os.chmod(helper, file_mode)
                os.chmod(bindir, dir_mode)
                p = subprocess.run([cli, "scan", "-j", "1", "--format", "json", *files],
                                   capture_output=True, timeout=120, env=env)
                os.chmod(bindir, 0o755)
                doc = json.loads(p.stdout)
                self.assertEqual([f["verdict"] for f in doc["files"]], ["safe"] * 20)
                self.assertEqual(os.path.exists(marker), runs)

    def test_unmappable_file_through_the_fork_server(self):
        """A regular file that cannot be mapped (sysfs): the fork server's
        child cannot map it, so the CLI reads it and scans it from its own
        child; same report as in-process, no sandbox finding."""
        path = "/sys/kernel/mm/transparent_hugepage/enabled"
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            self.skipTest("no " + path)
        try:
            import mmap
            mmap.mmap(fd, 4096, prot=mmap.PROT_READ).close()
            self.skipTest(path + " can be mapped here")
        except OSError:
            pass
        finally:
            os.close(fd)
        with fork_server_from_the_first_file():
            _, a = pjtest.scan_json(path, self.good)
        _, b = pjtest.scan_json(path, self.good, extra=["--no-sandbox"])
        self.assertEqual(a, b)
        self.assertFalse([c for c in codes(a["files"][0]) if c.startswith("PJ4")], a)
        self.assert_good_scanned(a["files"][1])

    def spinning_child(self, proc):
        """The pid of proc's scanner child once it spins under its filter (or
        None), and every child of proc seen then (the fork server too)."""
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            kids = pjtest.children(proc.pid)
            for k in kids:
                try:
                    with open(f"/proc/{k}/status") as f:
                        st = f.read()
                    # filtered and running (the fork server is filtered too,
                    # but sleeps waiting for work)
                    if re.search(r"^Seccomp:\s+2", st, re.M) and re.search(r"^State:\s+R", st, re.M):
                        return k, kids
                except OSError:
                    pass
            time.sleep(0.05)
        return None, []

    def test_child_dies_with_its_parent(self):
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        p = subprocess.Popen([pjtest.BIN, "scan", "--test-misbehave", "loop", "--timeout", "60",
                              "--cpu", "60", self.bad], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
        child, kids = self.spinning_child(p)
        p.kill()
        p.wait()
        self.assertIsNotNone(child)

        def gone(pid):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().split(")")[-1].split()[0] in ("Z", "X")
            except OSError:
                return True

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(gone(k) for k in kids):
            time.sleep(0.05)
        self.assertTrue(gone(child), "the scanner child outlived the killed CLI")
        # and so does every other child (a fork server, once there is one)
        self.assertEqual([k for k in kids if not gone(k)], [])

    def test_thousands_of_files_no_leaks(self):
        """2000 files in one invocation, every twentieth crashing its child, with
        only 64 descriptors allowed: any per-file descriptor leak fails."""
        d = os.path.join(self.dir, "many")
        os.mkdir(d)
        for i in range(2000):
            with open(os.path.join(d, f"f{i:04d}.pkl"), "wb") as f:
                f.write(MARKER if i % 20 == 0 else BENIGN_P2)

        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1")
        p = subprocess.run([pjtest.BIN, "scan", "--format", "json", "--test-misbehave", "segv", d],
                           capture_output=True, timeout=600, env=env, preexec_fn=limit)
        self.assertNotIn(b"AddressSanitizer", p.stderr)
        files = json.loads(p.stdout)["files"]
        self.assertEqual(len(files), 2000)
        for i, entry in enumerate(files):
            c = codes(entry)
            if i % 20 == 0:
                self.assertIn("PJ401", c, entry["path"])
            else:
                self.assertFalse([x for x in c if x.startswith("PJ4")], entry)


class SandboxTest(unittest.TestCase):
    """What holds in every build."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_sandbox_and_in_process_agree_on_the_corpus(self):
        corpus = os.path.join(pjtest.ROOT, "corpus")
        paths = []
        for sub in ("benign", "malicious", "malformed", "loadfail"):
            d = os.path.join(corpus, sub)
            if os.path.isdir(d):
                paths += sorted(os.path.join(d, n) for n in os.listdir(d))[:15]
        _, a = pjtest.scan_json(*paths)
        _, b = pjtest.scan_json(*paths, extra=["--no-sandbox"])
        self.assertEqual(len(a["files"]), len(paths))
        for x, y in zip(a["files"], b["files"]):
            self.assertEqual(x, y)
            self.assertFalse([c for c in codes(x) if c.startswith("PJ4")], x["path"])

    def test_large_report_same_as_in_process(self):
        """3,000 globals: a report far larger than the pipe and the parent's
        first receive buffer, and more findings than the findings cap."""
        data = b"\x80\x02(" + b"".join(b"cmod%d\nname%d\n" % (i, i) for i in range(3000)) + b"l."
        path = os.path.join(self.dir, "many.pkl")
        with open(path, "wb") as f:
            f.write(data)
        _, a = pjtest.scan_json(path)
        _, b = pjtest.scan_json(path, extra=["--no-sandbox"])
        self.assertEqual(a, b)
        globals_ = [g for s in a["files"][0]["streams"] for g in s["globals"]]
        self.assertEqual(len(globals_), 3000)

    def test_stdin_over_the_size_limit_is_not_safe(self):
        data = BENIGN_P2 + b"\x00" * (2 << 20)
        rc, out, err = pjtest.run("scan", "--format", "json", "--max-size", "1", "-", input=data)
        entry = json.loads(out)["files"][0]
        self.assertIn("PJ120", codes(entry))
        self.assertNotEqual(entry["verdict"], "safe")

    def test_stdin_is_sandboxed_like_a_file(self):
        rc, out, err = pjtest.run("scan", "--format", "json", "-", input=OS_SYSTEM_P2)
        entry = json.loads(out)["files"][0]
        self.assertEqual(entry["verdict"], "dangerous")
        self.assertFalse([c for c in codes(entry) if c.startswith("PJ4")])

    def test_stray_server_variable_is_ignored(self):
        """PJ_SANDBOX_SERVER (how the fork server is started) in a user's
        environment does not turn the CLI into anything else."""
        env = dict(os.environ, PJ_SANDBOX_SERVER="0:1")
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        p = subprocess.run([pjtest.BIN, "scan", "--format", "json", "-"], input=OS_SYSTEM_P2,
                           capture_output=True, timeout=120, env=env)
        entry = json.loads(p.stdout)["files"][0]
        self.assertEqual(entry["verdict"], "dangerous")
        path = os.path.join(self.dir, "f.pkl")
        with open(path, "wb") as f:
            f.write(OS_SYSTEM_P2)
        env["PJ_SANDBOX_SERVER"] = "1:%d" % os.getpid()
        p = subprocess.run([pjtest.BIN, "scan", "--format", "json", path], capture_output=True,
                           timeout=120, env=env)
        entry = json.loads(p.stdout)["files"][0]
        self.assertEqual(entry["verdict"], "dangerous")
        self.assertFalse([c for c in codes(entry) if c.startswith("PJ4")])

    def test_limits_are_in_help(self):
        rc, out, _ = pjtest.run("--help")
        for opt in ("--no-sandbox", "--timeout", "--memory", "--cpu"):
            self.assertIn(opt, out)


if __name__ == "__main__":
    unittest.main()
