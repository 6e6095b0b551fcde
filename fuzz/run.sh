#!/usr/bin/env bash
# Longer fuzzing runs (make fuzz-run / fuzz-afl-run).
#   fuzz/run.sh libfuzzer|afl HARNESS SECONDS [JOBS]
# The corpus grows in build/fuzz/corpus/<harness>/ (libFuzzer) or
# build/afl/out/<harness>/ (AFL++); crashes land in build/fuzz/artifacts/.
set -eu
cd "$(dirname "$0")/.."
engine=$1 name=$2 secs=$3 jobs=${4:-1}
short=${name#fuzz_}
dict=
if [ -f "fuzz/$name.dict" ]; then dict=fuzz/$name.dict
elif [ -f "fuzz/$short.dict" ]; then dict=fuzz/$short.dict
else case "$short" in vm|scan|container) dict=fuzz/pickle.dict ;; esac
fi
seeds=build/fuzz/seeds/$name
case "$engine" in
libfuzzer)
  corpus=build/fuzz/corpus/$name
  mkdir -p "$corpus" build/fuzz/artifacts
  set -x
  ASAN_OPTIONS=detect_leaks=1 build/fuzz/$name "$corpus" "$seeds" ${dict:+-dict=$dict} \
    -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/$name- \
    $( [ "$jobs" -gt 1 ] && echo "-jobs=$jobs -workers=$jobs" )
  ;;
afl)
  out=build/afl/out/$name
  mkdir -p "$out"
  in=$seeds
  [ -n "$(ls -A "$seeds" 2>/dev/null)" ] || { in=$(mktemp -d); printf '\x80\x04N.' >"$in/seed"; }
  # A prior run's queue is resumed with -i -.
  [ -d "$out/default/queue" ] && in=-
  set -x
  AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
    AFL_NO_AFFINITY=1 AFL_USE_ASAN=1 \
    timeout -s INT $((secs + 5)) afl-fuzz -V "$secs" -m none -t 5000 -i "$in" -o "$out" \
    ${dict:+-x $dict} -- build/afl/$name || true
  ;;
*) echo "usage: $0 libfuzzer|afl HARNESS SECONDS [JOBS]" >&2; exit 2 ;;
esac
