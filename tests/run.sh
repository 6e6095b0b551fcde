#!/usr/bin/env bash
# Runs every suite in tests/suites/ (sorted).  Each suite prints, as its last
# line, "N passed, N failed" (optionally ", N skipped"); this script adds them
# up.  A suite that exits non-zero without such a line counts as one failure.
set -u
cd "$(dirname "$0")/.."
rm -rf build/test-codes-seen
total_pass=0 total_fail=0 total_skip=0
for suite in tests/suites/*.sh; do
  name=$(basename "$suite" .sh)
  echo "=== $name"
  out=$(mktemp)
  bash "$suite" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$out" | tail -n 1)
  rm -f "$out"
  if [ -z "$line" ]; then
    echo "suite $name printed no summary (exit $rc): counted as 1 failure"
    total_fail=$((total_fail + 1))
    continue
  fi
  p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
  s=0
  case "$line" in *skipped) s=$(echo "$line" | sed -E 's/.*, ([0-9]+) skipped$/\1/') ;; esac
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    echo "suite $name exited $rc with no failed test: counted as 1 failure"
    f=1
  fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + s))
done
echo
if [ "$total_skip" != 0 ]; then
  echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
  echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" = 0 ]
