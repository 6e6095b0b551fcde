#!/usr/bin/env bash
# A sequential fuzzing campaign on one core: each harness in turn for SECONDS
# (libFuzzer, ASan+UBSan), from a snapshot of the binaries so a rebuild in the
# shared tree cannot disturb it.  Logs and final stats: build/fuzz/logs/.
#   fuzz/campaign.sh SECONDS [HARNESS...]     (default: every fuzz/fuzz_*.c)
# FUZZ_EXTRA adds libFuzzer flags (e.g. -malloc_limit_mb=4096 to get past a
# known big-allocation bug).  A crash ends that harness's run early; the
# input is in build/fuzz/artifacts/.
set -u
cd "$(dirname "$0")/.."
secs=$1; shift
names=${*:-$(for s in fuzz/fuzz_*.c; do basename "$s" .c; done)}
snap=build/fuzz/campaign-bin
mkdir -p "$snap" build/fuzz/logs build/fuzz/artifacts
for n in $names; do cp "build/fuzz/$n" "$snap/$n"; done
for n in $names; do
  short=${n#fuzz_}
  dict=
  if [ -f "fuzz/$n.dict" ]; then dict=fuzz/$n.dict
  elif [ -f "fuzz/$short.dict" ]; then dict=fuzz/$short.dict
  else case "$short" in vm|scan|container) dict=fuzz/pickle.dict ;; esac
  fi
  mkdir -p "build/fuzz/corpus/$n"
  log=build/fuzz/logs/$n-$(date +%H%M).log
  echo "$(date +%T) start $n ${secs}s -> $log"
  ASAN_OPTIONS=detect_leaks=1 nice -n 5 "$snap/$n" "build/fuzz/corpus/$n" "build/fuzz/seeds/$n" \
    ${dict:+-dict=$dict} -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$n-" ${FUZZ_EXTRA:-} >"$log" 2>&1
  rc=$?
  echo "$(date +%T) end $n exit $rc $(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n1)" \
       "$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log" | tr '\n' ' ')"
done
