#!/usr/bin/env bash
# Runs every benchmark: each bench/*/run.sh in turn (make bench).
set -u
cd "$(dirname "$0")/.."
rc=0
for b in bench/*/run.sh; do
  echo "=== $b"
  bash "$b" || rc=1
done
exit $rc
