#!/usr/bin/env bash
# Fuzz smoke: every libFuzzer harness (build/fuzz/fuzz_*, ASan+UBSan) runs for
# FUZZ_SMOKE_SECONDS (default 8) from its seed corpus and dictionary.  A crash,
# leak, sanitizer report or timeout fails the harness; the input is left in
# build/fuzz/smoke-artifacts/ (copy it to tests/regress/<harness>/ with the fix).
set -u
cd "$(dirname "$0")/../.."
secs=${FUZZ_SMOKE_SECONDS:-8}
pass=0 fail=0
art=build/fuzz/smoke-artifacts
mkdir -p "$art"
for src in fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  bin=build/fuzz/$name
  if [ ! -x "$bin" ]; then
    echo "FAIL $name: $bin was not built (make fuzz)"
    fail=$((fail + 1)); continue
  fi
  short=${name#fuzz_}
  dict=()
  if [ -f "fuzz/$name.dict" ]; then dict=(-dict="fuzz/$name.dict")
  elif [ -f "fuzz/$short.dict" ]; then dict=(-dict="fuzz/$short.dict")
  else case "$short" in vm|scan|container) dict=(-dict=fuzz/pickle.dict) ;; esac
  fi
  seeds=build/fuzz/seeds/$name
  [ -d "$seeds" ] || seeds=
  work=$(mktemp -d)
  log=$(mktemp)
  ASAN_OPTIONS=detect_leaks=1 timeout -s KILL $((secs * 4 + 60)) "$bin" "$work" $seeds \
    "${dict[@]}" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$art/$name-" >"$log" 2>&1
  rc=$?
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n1)
  eps=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1)
  if [ "$rc" = 0 ]; then
    echo "ok   $name: ${execs:-?} runs, ${eps:-?} exec/s, ${cov:-no coverage line}"
    pass=$((pass + 1))
  else
    echo "FAIL $name (exit $rc): ${execs:-?} runs"
    grep -E 'ERROR|runtime error|SUMMARY|invariant|Test unit written|^ *#[0-9]+ ' "$log" | head -n 25
    fail=$((fail + 1))
  fi
  rm -rf "$work" "$log"
done
echo "$pass passed, $fail failed"
