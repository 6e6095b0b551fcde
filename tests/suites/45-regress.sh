#!/usr/bin/env bash
# Replays every fuzz reproducer in tests/regress/<harness>/ through that
# harness's replay binary (build/asan/fuzz/fuzz_<harness>, ASan+UBSan, no
# libFuzzer).  <harness> is "vm" or "fuzz_vm".  A reproducer passes when the
# binary exits 0 within the time limit with no sanitizer report and no single
# allocation above 1.5 GiB (libFuzzer's -rss_limit_mb=2048 counts those as
# out-of-memory crashes; plain ASan would let them through).
# tests/regress/KNOWN lists reproducers whose fix is pending ("path: reason"):
# they are run and reported, and count as skipped while they still fail.
# tests/regress/differential/ is replayed by 35-conformance instead.
set -u
cd "$(dirname "$0")/../.."
pass=0 fail=0 skip=0
limit=${PJ_REGRESS_TIMEOUT:-30}
known() { [ -f tests/regress/KNOWN ] && grep -qF "$1:" tests/regress/KNOWN; }
for dir in tests/regress/*/; do
  h=$(basename "$dir")
  [ "$h" = differential ] && continue
  name=fuzz_${h#fuzz_}
  bin=build/asan/fuzz/$name
  for f in "$dir"*; do
    [ -f "$f" ] || continue
    case "$f" in *.txt|*.md) continue ;; esac
    if [ ! -x "$bin" ]; then
      echo "FAIL $f: replay binary $bin missing (make fuzz-replay-bins)"
      fail=$((fail + 1)); continue
    fi
    log=$(ASAN_OPTIONS=detect_leaks=1:max_allocation_size_mb=1536 timeout -s KILL "$limit" "$bin" "$f" 2>&1); rc=$?
    if [ "$rc" = 0 ] && ! echo "$log" | grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer'; then
      pass=$((pass + 1))
      known "$f" && echo "FIXED $f (remove it from tests/regress/KNOWN)"
    elif known "$f"; then
      echo "KNOWN $f: $(grep -F "$f:" tests/regress/KNOWN | cut -d: -f2-)"
      skip=$((skip + 1))
    else
      [ "$rc" = 137 ] && echo "FAIL $f: timed out after ${limit}s" || echo "FAIL $f (exit $rc)"
      echo "$log" | grep -E 'ERROR|runtime error|SUMMARY|#[0-9] ' | head -n 15
      fail=$((fail + 1))
    fi
  done
done
# The committed seeds must replay cleanly too (they are the fuzzers' start).
for dir in fuzz/seeds/*/; do
  [ -d "$dir" ] || continue
  name=fuzz_$(basename "$dir"); name=fuzz_${name#fuzz_fuzz_}
  bin=build/asan/fuzz/$name
  [ -x "$bin" ] || continue
  if ASAN_OPTIONS=detect_leaks=1 timeout -s KILL 120 "$bin" "$dir" >/dev/null 2>&1; then
    pass=$((pass + 1))
  else
    echo "FAIL committed seeds $dir"; fail=$((fail + 1))
  fi
done
if [ "$skip" != 0 ]; then echo "$pass passed, $fail failed, $skip skipped"
else echo "$pass passed, $fail failed"; fi
