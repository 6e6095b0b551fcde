#!/usr/bin/env bash
# cmocka unit tests (built by make check into build/asan/tests/).
set -u
cd "$(dirname "$0")/../.."
pass=0 fail=0
for t in build/asan/tests/test_*; do
  [ -x "$t" ] || continue
  out=$(ASAN_OPTIONS=detect_leaks=1 "$t" 2>&1); rc=$?
  echo "$out" | grep -E '^\[  (FAILED|ERROR)|^\[  PASSED' || true
  p=$(echo "$out" | sed -nE 's/^\[  PASSED  \] ([0-9]+) test.*/\1/p' | tail -n1)
  f=$(echo "$out" | sed -nE 's/^\[  FAILED  \] ([0-9]+) test.*/\1/p' | tail -n1)
  p=${p:-0}; f=${f:-0}
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    echo "$out" | tail -n 30
    echo "$t exited $rc"; f=1
  fi
  pass=$((pass + p)); fail=$((fail + f))
done
echo "$pass passed, $fail failed"
