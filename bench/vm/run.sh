#!/usr/bin/env bash
# VM throughput: MB/s on an opcode-dense pickle, and time/RSS for a 1 GiB
# BINBYTES8 pickle.  Medians of 5 runs, --no-sandbox and sandboxed.
set -eu
cd "$(dirname "$0")/../.."
BIN=${PJ_BIN:-build/release/picklejail}
DIR=${BENCH_DIR:-build/bench/vm}
/usr/bin/python3 bench/vm/make_inputs.py "$DIR"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() { # file, extra args -> prints "seconds maxrss_kb"
  local f=$1; shift
  /usr/bin/time -f "%e %M" "$BIN" scan --format json "$@" "$f" 2>&1 >/dev/null | tail -n1
}
for f in dense.pkl big.pkl; do
  size=$(stat -c %s "$DIR/$f")
  for mode in --no-sandbox sandbox; do
    args=(); [ "$mode" = --no-sandbox ] && args=(--no-sandbox)
    times=(); rss=()
    for i in 1 2 3 4 5; do
      read -r t m < <(measure "$DIR/$f" "${args[@]}")
      times+=("$t"); rss+=("$m")
    done
    t=$(printf '%s\n' "${times[@]}" | median)
    m=$(printf '%s\n' "${rss[@]}" | median)
    mbs=$(awk -v s="$size" -v t="$t" 'BEGIN { if (t > 0) printf "%.0f", s / 1048576 / t; else print "inf" }')
    echo "$f ($size bytes) $mode: median ${t}s, ${mbs} MB/s, peak RSS ${m} KiB"
  done
done
