#!/usr/bin/env bash
# Conformance against CPython's own unpickler (tests/conformance/), then a
# short differential run over mutated inputs (fuzz/differential.py, fixed
# seed, a few seconds).  Only /usr/bin/python3's standard library is used.
set -u
cd "$(dirname "$0")/../.."
out=$(mktemp)
/usr/bin/python3 tests/conformance/run_conformance.py 2>&1 | tee "$out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
rm -f "$out"
pass=$(echo "${line:-0 passed, 1 failed}" | sed -E 's/^([0-9]+) passed.*/\1/')
fail=$(echo "${line:-0 passed, 1 failed}" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
skip=0
case "$line" in *skipped) skip=$(echo "$line" | sed -E 's/.*, ([0-9]+) skipped$/\1/') ;; esac

# Differential: new kinds of disagreement fail; known ones (listed in
# tests/conformance/known-signatures.txt) are reported only.
secs=${PJ_DIFF_SECONDS:-6}
rm -rf build/differential/check; mkdir -p build/differential
if /usr/bin/python3 fuzz/differential.py --seconds "$secs" --max-inputs 1500 --seed 1 \
    --known tests/conformance/known-signatures.txt --save build/differential/check; then
  pass=$((pass + 1)); echo "differential: ok"
else
  fail=$((fail + 1)); echo "differential: new disagreements (see build/differential/check/)"
fi
if [ "$skip" != 0 ]; then
  echo "$pass passed, $fail failed, $skip skipped"
else
  echo "$pass passed, $fail failed"
fi
