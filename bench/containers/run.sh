#!/usr/bin/env bash
# Container benchmark: scan a generated 2 GiB PyTorch zip checkpoint (mostly
# zeros, sparse on disk).  Only the directory and archive/data.pkl may be
# read: target under 20 ms wall and under 32 MiB peak RSS.  First the scan
# alone, in process (bench_scan.c: pj_scan_buffer on a mapping, 21 runs);
# then the whole CLI, wall time in ns around the command and peak RSS from
# /usr/bin/time -v, medians of 11 runs, with and without the sandbox, next to
# a 4-byte pickle as the start-up baseline.
set -eu
cd "$(dirname "$0")/../.."
BIN=${PJ_BIN:-build/release/picklejail}
DIR=${BENCH_DIR:-build/bench/containers}
/usr/bin/python3 bench/containers/make_inputs.py "$DIR" >/dev/null
# In-process cost of the scan alone (container readers + VM), no start-up.
make -s build/release/libpicklejail.a
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Iinclude -o "$DIR/bench_scan" bench/containers/bench_scan.c \
  build/release/libpicklejail.a -lz -lbz2 -llzma -lzstd -larchive -lseccomp -lcjson
"$DIR/bench_scan" "$DIR/big_torch.pt" 21
big=$DIR/big_torch.pt
tiny=$DIR/tiny.pkl
printf '\x80\x02N.' > "$tiny"   # baseline: process start-up, policy, report
size=$(stat -c %s "$big")
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for f in "$tiny" "$big"; do
for mode in --no-sandbox sandbox; do
  args=(); [ "$mode" = --no-sandbox ] && args=(--no-sandbox)
  ms=(); rss=()
  "$BIN" scan --format json "${args[@]}" "$f" >/dev/null || true   # warm the page cache
  for i in 1 2 3 4 5 6 7 8 9 10 11; do
    t0=$(date +%s%N)
    /usr/bin/time -v -o "$DIR/time.txt" "$BIN" scan --format json "${args[@]}" "$f" >/dev/null || true
    t1=$(date +%s%N)
    ms+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')")
    rss+=("$(sed -nE 's/.*Maximum resident set size \(kbytes\): ([0-9]+).*/\1/p' "$DIR/time.txt")")
  done
  t=$(printf '%s\n' "${ms[@]}" | median)
  m=$(printf '%s\n' "${rss[@]}" | median)
  verdict=$(awk -v t="$t" -v m="$m" 'BEGIN { print (t < 20 && m < 32768) ? "within target" : "OVER TARGET" }')
  echo "containers: $(basename "$f") ($(stat -c %s "$f") bytes) $mode: median ${t} ms wall (incl. /usr/bin/time), peak RSS ${m} KiB: $verdict (20 ms, 32 MiB)"
done
done
