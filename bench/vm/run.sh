#!/usr/bin/env bash
# VM throughput (issue #2 targets on the 2-core dev machine):
#   dense.pkl  opcode-dense protocol-4 pickle, 1M rows of small ints, short
#              strings, nested dicts and lists (37.8 MB, 19.0M opcodes):
#              at least 300 MB/s
#   big.pkl    a 1 GiB BINBYTES8 payload: under 5 ms, peak RSS under 64 MiB
#              (only 20 bytes of it are read: the payload is referenced)
# Each file is scanned RUNS times (default 11) by the release CLI
# (scan --format json), with --no-sandbox and sandboxed, alternating.  Wall
# time and CPU time (user+sys of the CLI and its reaped sandbox child, from
# wait4) are medians; on a machine others load, compare CPU time.  MiB/s is
# bytes / 2^20 / seconds; MB/s bytes / 10^6 / seconds.  The whole process is
# timed (exec, mapping the file, scanning, JSON), not the VM alone.  Peak RSS
# (median of 3 more runs under /usr/bin/time) includes the mapped input file.
# Results and what was tried: bench/vm/README.md.
set -eu
cd "$(dirname "$0")/../.."
BIN=${PJ_BIN:-build/release/picklejail}
DIR=${BENCH_DIR:-build/bench/vm}
RUNS=${RUNS:-11}
/usr/bin/python3 bench/vm/make_inputs.py "$DIR"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$BIN" "$DIR" "$RUNS" <<'EOF'
import os, statistics, subprocess, sys, time
binary, d, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
modes = (["--no-sandbox"], [])
for name in ("dense.pkl", "big.pkl"):
    path = os.path.join(d, name)
    size = os.path.getsize(path)
    res = {i: [] for i in range(len(modes))}
    for _ in range(runs):
        for i, extra in enumerate(modes):
            t = time.perf_counter()
            p = subprocess.Popen([binary, "scan", "--format", "json", *extra, path],
                                 stdout=subprocess.DEVNULL)
            _, status, ru = os.wait4(p.pid, 0)
            wall = time.perf_counter() - t
            code = os.waitstatus_to_exitcode(status)
            if code not in (0, 1):  # 1: findings; anything else is a failed scan
                sys.exit("%s: picklejail exited with %d" % (path, code))
            res[i].append((wall, ru.ru_utime + ru.ru_stime))
    for i, extra in enumerate(modes):
        wall = statistics.median(r[0] for r in res[i])
        cpu = statistics.median(r[1] for r in res[i])
        # Peak RSS through /usr/bin/time: a child forked from this Python
        # would count Python's own pages (the high-water mark survives exec).
        rss = statistics.median(
            int(subprocess.run(["/usr/bin/time", "-f", "%M", binary, "scan", "--format", "json",
                                *extra, path], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True).stderr.split()[-1])
            for _ in range(3))
        rate = lambda s, unit: "%.0f" % (size / unit / s) if s > 0 else "inf"
        print("%s (%d bytes) %s: median wall %.1f ms (%s MiB/s, %s MB/s), CPU %.1f ms "
              "(%s MiB/s), peak RSS %d KiB, %d runs"
              % (name, size, extra[0] if extra else "sandbox", wall * 1e3,
                 rate(wall, 1 << 20), rate(wall, 1e6), cpu * 1e3, rate(cpu, 1 << 20), rss, runs))
EOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
