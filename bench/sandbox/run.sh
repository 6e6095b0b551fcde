#!/usr/bin/env bash
# Per-file cost of the sandbox on 10,000 small pickles (issue 3 targets: at most
# 150 us overhead per file, at least 5,000 files/s sandboxed, on one core).
#   1. bench_sandbox: pj_scan_fd over every file, sandboxed vs in-process,
#      ROUNDS alternating passes, medians of wall and CPU time (library only).
#   2. the release CLI end to end (scan --format json DIR), with and without
#      --no-sandbox, ROUNDS runs each, median files/s.
# Everything runs pinned to one core (taskset -c 0) when taskset exists.
# Env: N (files, default 10000), ROUNDS (default 5).
set -eu
cd "$(dirname "$0")/../.."
N=${N:-10000}
ROUNDS=${ROUNDS:-5}
OUT=build/bench/sandbox
IN=$OUT/inputs-$N
mkdir -p "$OUT"
make -s build/release/libpicklejail.a build/release/picklejail build/release/picklejail-sandbox
# Same link line as the Makefile's LIB_LIBS: the library's dependencies static (fewer
# shared libraries = a cheaper fork per file), libc shared.
LIBS="-Wl,-Bstatic -larchive -lz -lbz2 -llzma -lzstd -lseccomp -Wl,-Bdynamic"
# Linked like the CLI (-z now: no lazy binding left for each child to redo).
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Wall -Wextra -Werror -Wl,-z,relro,-z,now \
  bench/sandbox/bench_sandbox.c build/release/libpicklejail.a $LIBS -o $OUT/bench_sandbox
# The library finds the static fork-server helper beside the executable.
cp build/release/picklejail-sandbox $OUT/picklejail-sandbox
[ -d "$IN" ] || /usr/bin/python3 bench/sandbox/gen_inputs.py "$IN" "$N"
PIN=""
command -v taskset >/dev/null && PIN="taskset -c 0"

echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "--- library: pj_scan_fd per file ($PIN)"
$PIN $OUT/bench_sandbox -r "$ROUNDS" "$IN"

echo "--- CLI: picklejail scan -j 1 --format json DIR ($PIN), median of $ROUNDS runs"
# One run: "wall cpu" in seconds; cpu = user + system of the CLI and of the
# processes it reaped (scanner children, fork server).
cli_run() {
  local TIMEFORMAT='%R %U %S' t
  t=$( { time $PIN build/release/picklejail scan -j 1 --format json "$@" "$IN" >/dev/null 2>&1; } 2>&1 )
  echo "$t" | awk '{print $1, $2 + $3}'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rs=$(for i in $(seq "$ROUNDS"); do cli_run; done)
rn=$(for i in $(seq "$ROUNDS"); do cli_run --no-sandbox; done)
ts=$(echo "$rs" | cut -d' ' -f1 | median); cs=$(echo "$rs" | cut -d' ' -f2 | median)
tn=$(echo "$rn" | cut -d' ' -f1 | median); cn=$(echo "$rn" | cut -d' ' -f2 | median)
awk -v ts="$ts" -v tn="$tn" -v cs="$cs" -v cn="$cn" -v n="$N" 'BEGIN {
  printf "cli no-sandbox: %8.1f us/file wall %8.1f us/file cpu  %8.0f files/s\n", tn / n * 1e6, cn / n * 1e6, n / tn;
  printf "cli sandbox:    %8.1f us/file wall %8.1f us/file cpu  %8.0f files/s\n", ts / n * 1e6, cs / n * 1e6, n / ts;
  printf "cli overhead:   %8.1f us/file wall %8.1f us/file cpu\n", (ts - tn) / n * 1e6, (cs - cn) / n * 1e6 }'
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
