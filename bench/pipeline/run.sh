#!/usr/bin/env bash
# Files per second of the whole CLI pipeline (walk, sandboxed scan per file,
# JSON Lines out) over N small pickles in a 100-directory tree, with -j 1 and
# -j 2 (issue #9).  Release build; ROUNDS interleaved runs each, median wall time; the
# load average is printed before and after (a busy machine skews -j 2 most).
# Then the load-balance check (held.py).  Results measured on the project
# machine are in bench/pipeline/README.md.
# Env: N (files, default 10000), ROUNDS (default 5), JOBS (default "1 2").
set -eu
cd "$(dirname "$0")/../.."
N=${N:-10000}
ROUNDS=${ROUNDS:-5}
JOBS=${JOBS:-1 2}
OUT=build/bench/pipeline
IN=$OUT/inputs-$N
mkdir -p "$OUT"
make -s build/release/picklejail
[ -d "$IN" ] || /usr/bin/python3 bench/pipeline/gen_inputs.py "$IN" "$N"
BIN=build/release/picklejail

echo "machine: $(nproc) cpus, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run_once() {
  local t0 t1 rc=0
  t0=$(date +%s.%N)
  "$BIN" scan --format jsonl "$@" "$IN" >"$OUT/out.jsonl" || rc=$?
  t1=$(date +%s.%N)
  [ "$rc" -le 1 ] || { echo "scan failed (exit $rc)" >&2; exit 1; }
  echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
run_once -j 1 >/dev/null # warm the page cache
lines=$(wc -l <"$OUT/out.jsonl")
[ "$lines" -eq "$N" ] || { echo "expected $N JSON lines, got $lines" >&2; exit 1; }
# Rounds interleave the -j values, so a change in the machine's load
# affects each of them alike.
for i in $(seq "$ROUNDS"); do
  for j in $JOBS; do echo "$j $(run_once -j "$j")"; done
done >"$OUT/times"
for j in $JOBS; do
  all=$(awk -v j="$j" '$1 == j {print $2}' "$OUT/times")
  t=$(echo "$all" | median)
  awk -v t="$t" -v n="$N" -v j="$j" -v all="$(echo $all)" 'BEGIN {
    printf "-j %-2s median %6.2f s  %7.0f files/s  (runs: %s)\n", j, t, n / t, all }'
done
# Load balance: a fifo named first holds one worker for HOLD s; the time the
# run still takes after it is released is what was queued behind it.
HOLD=${HOLD:-4}
held_dirs=$(ls -d "$IN"/d0* | head -n 10) # 10 directories, 1,000 files at N=10000
for j in 2; do
  all=$(for i in $(seq 3); do /usr/bin/python3 bench/pipeline/held.py "$BIN" "$j" "$HOLD" $held_dirs; done)
  echo "-j $j one input held ${HOLD} s before 1,000 files: still $(echo "$all" | median) s after its release (median; runs: $(echo $all))"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
