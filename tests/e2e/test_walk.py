"""End-to-end tests of the input side of `picklejail scan` (issue #9): the
directory walk (--exclude, symlinks, loops, special files, what is skipped
and why), standard input, --files-from, and -j (same results in input order
whatever N is, JSON Lines streamed as each file completes)."""
import json
import os
import select
import subprocess
import tempfile
import time
import unittest

import pjtest

OS_SYSTEM_P0 = b"cos\nsystem\n(S'echo pwned'\ntR."
BENIGN_P2 = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00bq\x02]q\x03(K\x02K\x03eu."


def jsonl(out):
    """Parsed JSON Lines: (file records, skipped records)."""
    recs = [json.loads(line) for line in out.splitlines() if line.strip()]
    files = [r for r in recs if r.get("type") != "skipped" and "verdict" in r]
    skipped = [r for r in recs if r.get("type") == "skipped"]
    return files, skipped


def has_openat2():
    """Whether this kernel (and any seccomp policy around us) allows openat2,
    which the walk needs to refuse links in every component."""
    import ctypes
    import platform
    if platform.machine() != "x86_64":
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    how = (ctypes.c_uint64 * 3)(os.O_RDONLY | os.O_DIRECTORY, 0, 0x04)  # RESOLVE_NO_SYMLINKS
    fd = libc.syscall(437, -100, b".", ctypes.byref(how), ctypes.sizeof(how))  # SYS_openat2, AT_FDCWD
    if fd < 0:
        return ctypes.get_errno() not in (38, 1)  # ENOSYS, EPERM
    os.close(fd)
    return True


class WalkTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        # An unreadable directory left by a test must not stop the cleanup.
        for root, dirs, _ in os.walk(self.dir):
            for d in dirs:
                try:
                    os.chmod(os.path.join(root, d), 0o755)
                except OSError:
                    pass
        self.tmp.cleanup()

    def write(self, name, data=BENIGN_P2):
        path = os.path.join(self.dir, name) if isinstance(name, str) else os.path.join(
            os.fsencode(self.dir), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def scan_jsonl(self, *args, input=None):
        rc, out, err = pjtest.run("scan", "--format", "jsonl", *args, input=input)
        self.assertNotIn("AddressSanitizer", err)
        self.assertNotIn("runtime error", err)
        files, skipped = jsonl(out)
        return rc, files, skipped, err

    def rel(self, records):
        return [os.path.relpath(r["path"], self.dir) for r in records]

    # -j ------------------------------------------------------------------

    def test_corpus_same_results_j1_j2(self):
        corpus = os.path.join(pjtest.ROOT, "corpus")
        docs = {}
        for j in ("1", "2"):
            rc, out, err = pjtest.run("scan", "-j", j, "--format", "json", corpus, timeout=600)
            self.assertIn(rc, (0, 1), err)
            docs[j] = (rc, json.loads(out))
        self.assertEqual(docs["1"][0], docs["2"][0])
        f1, f2 = docs["1"][1]["files"], docs["2"][1]["files"]
        self.assertGreater(len(f1), 300)
        self.assertEqual([f["path"] for f in f1], [f["path"] for f in f2])
        self.assertEqual([f["verdict"] for f in f1], [f["verdict"] for f in f2])
        self.assertEqual([[x["code"] for x in f["findings"]] for f in f1],
                         [[x["code"] for x in f["findings"]] for f in f2])
        self.assertEqual(docs["1"][1], docs["2"][1])
        # The walk order is the sorted order within each directory.
        paths = [f["path"] for f in f1]
        for d in ("benign", "malicious"):
            sub = [p for p in paths if p.startswith(os.path.join(corpus, d) + "/")]
            self.assertEqual(sub, sorted(sub))

    def test_default_jobs_keeps_input_order(self):
        names = ["c.pkl", "a.pkl", "b.pkl"]
        paths = [self.write(n, OS_SYSTEM_P0 if n == "a.pkl" else BENIGN_P2) for n in names]
        rc1, f1, _, _ = self.scan_jsonl("-j", "1", *paths)
        rc0, f0, _, _ = self.scan_jsonl(*paths)
        self.assertEqual([os.path.basename(f["path"]) for f in f0], names)
        self.assertEqual(f0, f1)
        self.assertEqual(rc0, rc1)
        self.assertEqual(rc0, 1)
        rc, out, _ = pjtest.run("--help")
        self.assertIn("number of CPUs", out)
        for bad in ("0", "65", "x", "-1"):
            self.assertEqual(pjtest.run("scan", "-j", bad, paths[0])[0], 2, bad)

    def test_jsonl_streams_each_file(self):
        """The first file's line arrives while the second (stdin) still waits."""
        a = self.write("a.pkl")
        for j in ("1", "2"):
            p = subprocess.Popen([pjtest.BIN, "scan", "-j", j, "--format", "jsonl", a, "-"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            try:
                ready, _, _ = select.select([p.stdout], [], [], 60)
                self.assertTrue(ready, "no JSON line before standard input was closed (-j %s)" % j)
                first = json.loads(p.stdout.readline())
                self.assertEqual(first["path"], a)
                self.assertIsNone(p.poll())  # still waiting for stdin
                p.stdin.write(OS_SYSTEM_P0)
                p.stdin.close()
                rest = p.stdout.read().decode()
                self.assertEqual(p.wait(60), 1)
                second = json.loads(rest.splitlines()[0])
                self.assertEqual(second["path"], "-")
                self.assertEqual(second["verdict"], "dangerous")
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stdout.close()
                p.stderr.close()

    def test_workers_lost_mid_run_same_results(self):
        """Workers killed mid-run: their files are scanned by the parent, and
        the results are those of -j 1, in order."""
        for i in range(30):
            self.write("t/f%02d.pkl" % i, OS_SYSTEM_P0 if i % 7 == 0 else BENIGN_P2)
        t = os.path.join(self.dir, "t")
        fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(fifo)
        _, ref, _, _ = self.scan_jsonl("-j", "1", t)
        # The fifo (named explicitly, so read) holds its worker until written.
        p = subprocess.Popen([pjtest.BIN, "scan", "-j", "2", "--format", "jsonl", fifo, t],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            children = []
            deadline = time.time() + 30
            while len(children) < 2 and time.time() < deadline:
                time.sleep(0.2)
                children = pjtest.children(p.pid)
            self.assertEqual(len(children), 2, "two workers expected")
            for pid in children:
                os.kill(pid, 9)
            # Wait until they are really gone: a dying worker still blocked in
            # open() of the fifo would take the write meant for the parent.
            for pid in children:
                while time.time() < deadline + 30:
                    try:
                        with open("/proc/%d/stat" % pid) as f:
                            if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                                break
                    except OSError:
                        break
                    time.sleep(0.05)
            with open(fifo, "wb") as f:
                f.write(OS_SYSTEM_P0)
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.assertEqual(p.returncode, 1, err)
        self.assertIn(b"ended early", err)
        self.assertNotIn(b"AddressSanitizer", err)
        files, _ = jsonl(out.decode())
        self.assertEqual(files[0]["path"], fifo)
        self.assertEqual(files[0]["verdict"], "dangerous")
        self.assertEqual(files[1:], ref)

    def test_stdin_in_parallel_mode_read_once(self):
        a = self.write("a.pkl")
        b = self.write("b.pkl")
        rc, files, _, _ = self.scan_jsonl("-j", "3", a, "-", b, input=OS_SYSTEM_P0)
        self.assertEqual([f["path"] for f in files], [a, "-", b])
        self.assertEqual([f["verdict"] for f in files], ["safe", "dangerous", "safe"])
        self.assertEqual(rc, 1)
        rc, out, err = pjtest.run("scan", "-", "-", input=BENIGN_P2)
        self.assertEqual(rc, 2)
        self.assertIn("only once", err)

    # directories, symlinks, special files --------------------------------

    def test_symlink_loop_without_and_with_follow(self):
        self.write("tree/a.pkl")
        self.write("tree/sub/b.pkl", OS_SYSTEM_P0)
        os.symlink("..", os.path.join(self.dir, "tree/sub/up"))
        os.symlink("sub", os.path.join(self.dir, "tree/sub2"))
        os.symlink("a.pkl", os.path.join(self.dir, "tree/link.pkl"))
        tree = os.path.join(self.dir, "tree")

        rc, files, skipped, _ = self.scan_jsonl("-j", "1", tree)
        self.assertEqual(rc, 1)
        self.assertEqual(self.rel(files), ["tree/a.pkl", "tree/sub/b.pkl"])
        self.assertEqual(sorted((self.rel([s])[0], s["reason"]) for s in skipped),
                         [("tree/link.pkl", "symlink"), ("tree/sub/up", "symlink"),
                          ("tree/sub2", "symlink")])
        self.assertTrue(all(s["message"] for s in skipped))

        rc, files, skipped, _ = self.scan_jsonl("-j", "2", "--follow-symlinks", tree)
        self.assertEqual(rc, 1)
        self.assertEqual(self.rel(files), ["tree/a.pkl", "tree/link.pkl", "tree/sub/b.pkl"])
        self.assertEqual(sorted((self.rel([s])[0], s["reason"]) for s in skipped),
                         [("tree/sub/up", "symlink-loop"), ("tree/sub2", "already-walked")])

    def test_symlink_loop_only_no_hang(self):
        loop = os.path.join(self.dir, "loop")
        os.makedirs(loop)
        os.symlink(".", os.path.join(loop, "self"))
        os.symlink("x", os.path.join(loop, "y"))
        os.symlink("y", os.path.join(loop, "x"))  # x -> y -> x: ELOOP
        rc, files, skipped, _ = self.scan_jsonl("--follow-symlinks", loop)
        self.assertEqual(rc, 0)
        self.assertEqual(files, [])
        self.assertEqual(sorted((os.path.basename(s["path"]), s["reason"]) for s in skipped),
                         [("self", "symlink-loop"), ("x", "broken-symlink"),
                          ("y", "broken-symlink")])

    def test_symlink_named_on_command_line_is_followed(self):
        self.write("real/a.pkl", OS_SYSTEM_P0)
        os.symlink("real", os.path.join(self.dir, "alias"))
        rc, files, skipped, _ = self.scan_jsonl(os.path.join(self.dir, "alias"))
        self.assertEqual(self.rel(files), ["alias/a.pkl"])
        self.assertEqual(skipped, [])
        self.assertEqual(rc, 1)

    def scan_after_change(self, t, change):
        """Scan a fifo gate, then tree t (-j 1); change() runs once the walk
        is done (the CLI is waiting on the gate, named first).  Returns
        (exit status, files, stderr, the gate's path)."""
        gate = os.path.join(self.dir, "gate")
        if not os.path.exists(gate):
            os.mkfifo(gate)
        p = subprocess.Popen([pjtest.BIN, "scan", "-j", "1", "--format", "jsonl", gate, t],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # Opening the gate returns once the scan reads it: the walk is done.
            with open(gate, "wb") as g:
                change()
                g.write(BENIGN_P2)
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        files, _ = jsonl(out.decode())
        return p.returncode, files, err, gate

    def test_tree_changed_after_the_walk(self):
        """A walked file replaced by a symlink (pointing out of the tree) or by
        a fifo between the walk and its scan is an error, not followed, and
        does not hang the scan."""
        outside = self.write("outside/secret.pkl", OS_SYSTEM_P0)
        self.write("t/b.pkl")
        self.write("t/c.pkl")
        t = os.path.join(self.dir, "t")

        def change():
            os.unlink(os.path.join(t, "b.pkl"))
            os.symlink(outside, os.path.join(t, "b.pkl"))
            os.unlink(os.path.join(t, "c.pkl"))
            os.mkfifo(os.path.join(t, "c.pkl"))

        # -j 1: with more workers the others scan b and c while the gate waits.
        rc, files, err, _ = self.scan_after_change(t, change)
        self.assertEqual(rc, 2, err)
        self.assertEqual([f["verdict"] for f in files], ["safe", "error", "error"])
        self.assertIn("symbolic link", files[1]["error"])
        self.assertIn("no longer a regular file", files[2]["error"])

    @unittest.skipUnless(has_openat2(), "openat2 unavailable (Linux < 5.6 or refused)")
    def test_directory_swapped_for_a_link_after_the_walk(self):
        """A directory of the tree replaced by a symlink (pointing out of the
        tree) between the walk and the scan: the file below it is an error,
        the file outside the tree is not scanned."""
        self.write("outside/d.pkl", OS_SYSTEM_P0)
        self.write("t/sub/d.pkl")
        self.write("t/z.pkl")
        t = os.path.join(self.dir, "t")

        def change():
            os.rename(os.path.join(t, "sub"), os.path.join(self.dir, "old-sub"))
            os.symlink(os.path.join(self.dir, "outside"), os.path.join(t, "sub"))

        rc, files, err, gate = self.scan_after_change(t, change)
        self.assertEqual([f["path"] for f in files], [gate, t + "/sub/d.pkl", t + "/z.pkl"])
        self.assertEqual([f["verdict"] for f in files], ["safe", "error", "safe"], err)
        self.assertIn("symbolic link", files[1]["error"])
        self.assertEqual(rc, 2, err)

    def test_fifo_and_socket_in_tree_skipped(self):
        self.write("d/a.pkl")
        os.mkfifo(os.path.join(self.dir, "d/pipe"))
        import socket
        s = socket.socket(socket.AF_UNIX)
        sock_path = os.path.join(self.dir, "d/sock")
        try:
            s.bind(sock_path)
        except OSError:
            sock_path = None
        try:
            rc, files, skipped, _ = self.scan_jsonl(os.path.join(self.dir, "d"))
        finally:
            s.close()
        self.assertEqual(rc, 0)
        self.assertEqual(self.rel(files), ["d/a.pkl"])
        got = {os.path.basename(k["path"]): k for k in skipped}
        self.assertEqual(got["pipe"]["reason"], "special-file")
        self.assertIn("fifo", got["pipe"]["message"])
        if sock_path:
            self.assertEqual(got["sock"]["reason"], "special-file")
            self.assertIn("socket", got["sock"]["message"])

    def test_exclude_name_relative_path_and_directory(self):
        self.write("m/a.pkl")
        self.write("m/notes.txt", b"hello")
        self.write("m/.git/objects/x.pkl", OS_SYSTEM_P0)
        self.write("m/cache/tmp/y.pkl", OS_SYSTEM_P0)
        self.write("m/cache/keep.pkl")
        m = os.path.join(self.dir, "m")
        rc, files, skipped, _ = self.scan_jsonl("--exclude", "*.txt", "--exclude", ".git",
                                                "--exclude", "cache/tmp", m)
        self.assertEqual(rc, 0)
        self.assertEqual(self.rel(files), ["m/a.pkl", "m/cache/keep.pkl"])
        # An excluded directory is reported once, not entered.
        self.assertEqual(sorted((self.rel([s])[0], s["reason"]) for s in skipped),
                         [("m/.git", "excluded"), ("m/cache/tmp", "excluded"),
                          ("m/notes.txt", "excluded")])
        self.assertTrue(any("'*.txt'" in s["message"] for s in skipped))
        # A glob on the whole path as printed, * crossing '/'.
        rc, files, skipped, _ = self.scan_jsonl("--exclude", m + "/cache*", m)
        self.assertEqual(rc, 1)
        self.assertNotIn("m/cache/keep.pkl", self.rel(files))
        # Paths named explicitly are never excluded.
        rc, files, _, _ = self.scan_jsonl("--exclude", "*.txt", os.path.join(m, "notes.txt"))
        self.assertEqual(len(files), 1)
        self.assertEqual(pjtest.run("scan", "--exclude", "", m)[0], 2)

    def test_unreadable_directory_is_an_error(self):
        prefix = []
        if os.geteuid() == 0:
            # Root reads a mode-000 directory: run the scan as nobody instead.
            setpriv = "/usr/bin/setpriv"
            if not os.access(setpriv, os.X_OK):
                self.skipTest("root reads a mode-000 directory and setpriv is missing")
            prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
            os.chmod(self.dir, 0o755)
        self.write("u/a.pkl")
        locked = os.path.join(self.dir, "u/locked")
        os.makedirs(locked)
        self.write("u/locked/b.pkl", OS_SYSTEM_P0)
        for root, dirs, fs in os.walk(self.dir):
            for n in dirs:
                os.chmod(os.path.join(root, n), 0o755)
            for n in fs:
                os.chmod(os.path.join(root, n), 0o644)
        os.chmod(locked, 0)
        p = subprocess.run(prefix + [pjtest.BIN, "scan", "--format", "jsonl",
                                     os.path.join(self.dir, "u")],
                           capture_output=True, timeout=120)
        if prefix and b"setpriv" in p.stderr:
            self.skipTest("cannot drop privileges here: " + p.stderr.decode())
        rc = p.returncode
        files, _ = jsonl(p.stdout.decode())
        self.assertEqual(rc, 2, p.stderr.decode())
        self.assertEqual(self.rel(files), ["u/a.pkl", "u/locked"])
        self.assertEqual(files[1]["verdict"], "error")
        self.assertIn("cannot read directory", files[1]["error"])

    def test_skipped_in_text_output(self):
        self.write("t/a.pkl")
        os.symlink("a.pkl", os.path.join(self.dir, "t/l\nfake: SAFE"))
        os.mkfifo(os.path.join(self.dir, "t/p"))
        t = os.path.join(self.dir, "t")
        rc, out, _ = pjtest.run("scan", "--color", "never", t)
        self.assertEqual(rc, 0)
        self.assertIn("2 paths skipped (1 symlink, 1 special-file); --verbose lists them", out)
        self.assertNotIn("skipped: ", out)
        rc, out, _ = pjtest.run("scan", "--color", "never", "-v", t)
        self.assertIn("skipped: %s/p (a named pipe (fifo)" % t, out)
        # A newline in a name cannot forge an output line.
        self.assertIn("skipped: %s/l\\x0afake: SAFE (symbolic link not followed" % t, out)
        self.assertNotIn("\nfake: SAFE", out)
        rc, out, _ = pjtest.run("scan", "--color", "never", os.path.join(self.dir, "t/a.pkl"))
        self.assertNotIn("skipped", out)

    def test_skipped_in_json_document_and_sarif(self):
        self.write("s/a.pkl")
        os.symlink("a.pkl", os.path.join(self.dir, "s/l.pkl"))
        s = os.path.join(self.dir, "s")
        rc, doc = pjtest.scan_json(s)
        self.assertEqual(rc, 0)
        self.assertEqual(len(doc["files"]), 1)
        self.assertEqual(doc["skipped"], [{"path": os.path.join(s, "l.pkl"), "reason": "symlink",
                                           "message": doc["skipped"][0]["message"]}])
        rc, doc = pjtest.scan_json(os.path.join(s, "a.pkl"))
        self.assertEqual(doc["skipped"], [])
        rc, out, _ = pjtest.run("scan", "--format", "sarif", s)
        sarif = json.loads(out)
        notes = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        self.assertEqual(len(notes), 1)
        self.assertTrue(notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                        .endswith("/s/l.pkl"))
        self.assertEqual(notes[0]["properties"]["reason"], "symlink")
        self.assertEqual(rc, 0)

    def test_skipped_non_utf8_name_keeps_json_valid(self):
        self.write("n/a.pkl")
        bad = os.path.join(os.fsencode(self.dir), b"n", b"l\xff\xfe.pkl")
        os.symlink(b"a.pkl", bad)
        n = os.path.join(self.dir, "n")
        for fmt in ("json", "jsonl"):
            p = subprocess.run([pjtest.BIN, "scan", "--format", fmt, n], capture_output=True,
                               timeout=120)
            self.assertEqual(p.returncode, 0)
            text = p.stdout.decode("utf-8")  # strict: must be valid UTF-8
            if fmt == "json":
                sk = json.loads(text)["skipped"]
            else:
                sk = [r for r in map(json.loads, text.splitlines()) if r.get("type") == "skipped"]
            self.assertEqual(len(sk), 1)
            self.assertEqual(sk[0]["reason"], "symlink")
            self.assertEqual(bytes.fromhex(sk[0]["path_bytes"]), bad)

    # --files-from --------------------------------------------------------

    def test_files_from_nul_with_odd_names(self):
        names = [b"plain.pkl", b"with space.pkl", b"new\nline.pkl", b"bad\xff\xfeutf8.pkl",
                 b"-", b"trailing space .pkl"]
        paths = []
        for i, n in enumerate(names):
            paths.append(self.write(n, OS_SYSTEM_P0 if i == 2 else BENIGN_P2))
        lst = os.path.join(self.dir, "list0")
        with open(lst, "wb") as f:
            f.write(b"\0".join(paths) + b"\0\0")  # an empty entry is ignored
        for j in ("1", "2"):
            rc, out, err = pjtest.run("scan", "-j", j, "--format", "jsonl", "--files-from", lst)
            self.assertEqual(rc, 1, err)
            lines = [x for x in out.splitlines() if x.strip()]
            self.assertEqual(len(lines), len(names), out)
            self.assertEqual(out.count('"verdict":"dangerous"'), 1)
            self.assertEqual(out.count('"verdict":"safe"'), len(names) - 1)
            self.assertNotIn('"verdict":"error"', out)
            recs = [json.loads(x) for x in lines]
            self.assertEqual(recs[0]["path"], os.fsdecode(paths[0]))
            self.assertEqual(recs[2]["path"], os.fsdecode(paths[2]))  # newline kept
            self.assertEqual(recs[2]["verdict"], "dangerous")
            self.assertEqual(bytes.fromhex(recs[3]["path_bytes"]), paths[3])  # not UTF-8
            self.assertEqual(recs[4]["path"], os.fsdecode(paths[4]))  # a file named -

    def test_files_from_lines_stdin_and_with_paths(self):
        a = self.write("a.pkl")
        self.write("d/b.pkl", OS_SYSTEM_P0)
        self.write("d/c.pkl")
        z = self.write("z.pkl")
        d = os.path.join(self.dir, "d")
        listing = ("%s\r\n\n%s\n" % (a, d)).encode()  # CRLF, empty line, a directory
        rc, files, _, err = self.scan_jsonl(z, "--files-from", "-", input=listing)
        self.assertEqual(rc, 1, err)
        self.assertEqual(self.rel(files), ["z.pkl", "a.pkl", "d/b.pkl", "d/c.pkl"])
        # No PATH at all: only the list; an empty list scans nothing and passes.
        rc, files, _, _ = self.scan_jsonl("--files-from", "-", input=a.encode())
        self.assertEqual((rc, self.rel(files)), (0, ["a.pkl"]))
        rc, files, _, _ = self.scan_jsonl("--files-from", "-", input=b"")
        self.assertEqual((rc, files), (0, []))
        # A listed file that does not exist is an error entry, like an argument.
        rc, files, _, _ = self.scan_jsonl("--files-from", "-", input=b"/nonexistent/x.pkl\n")
        self.assertEqual(rc, 2)
        self.assertEqual(files[0]["verdict"], "error")

    def test_files_from_errors(self):
        a = self.write("a.pkl")
        rc, out, err = pjtest.run("scan", "--files-from", os.path.join(self.dir, "nope"))
        self.assertEqual(rc, 2)
        self.assertIn("--files-from", err)
        self.assertIn("cannot open", err)
        self.assertEqual(out, "")
        rc, _, err = pjtest.run("scan", "--files-from", self.dir)
        self.assertEqual(rc, 2)
        self.assertIn("directory", err)
        rc, _, err = pjtest.run("scan", "--files-from", "-", "-", input=a.encode())
        self.assertEqual(rc, 2)
        self.assertIn("only once", err)
        long_entry = b"x" * 5000 + b"\n"
        rc, out, err = pjtest.run("scan", "--format", "json", "--files-from", "-",
                                  input=a.encode() + b"\n" + long_entry)
        self.assertEqual(rc, 2)
        self.assertIn("entry 2 is longer", err)
        self.assertEqual(out, "")  # nothing printed: the list is checked before scanning


if __name__ == "__main__":
    unittest.main()
