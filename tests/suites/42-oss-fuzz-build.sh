#!/usr/bin/env bash
# The OSS-Fuzz / ClusterFuzzLite build script, run as the builder image would
# run it but with local values: CC=clang, OSS-Fuzz-like CFLAGS, LIB_FUZZING_ENGINE
# =-fsanitize=fuzzer, OUT and WORK temporary.  Checks every harness was built
# with its seed corpus zip and dictionary where expected, its shared libraries
# resolve, and it runs a few hundred iterations.
set -u
cd "$(dirname "$0")/../.."
pass=0 fail=0
out=$(mktemp -d) work=$(mktemp -d)
trap 'rm -rf "$out" "$work"' EXIT
if CC=clang CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize=fuzzer-no-link" \
   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT="$out" WORK="$work" \
   bash fuzz/oss_fuzz_build.sh >"$work/build.log" 2>&1; then
  pass=$((pass + 1)); echo "ok   oss_fuzz_build.sh"
else
  fail=$((fail + 1)); echo "FAIL oss_fuzz_build.sh:"; tail -n 30 "$work/build.log"
fi
for src in fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  f=$out/$name
  if [ ! -x "$f" ]; then echo "FAIL $name: not in \$OUT"; fail=$((fail + 1)); continue; fi
  if ldd "$f" | grep -q 'not found'; then
    echo "FAIL $name: unresolved shared library"; ldd "$f" | grep 'not found'; fail=$((fail + 1)); continue
  fi
  case "${name#fuzz_}" in
    vm|scan)
      if [ ! -s "$out/${name}_seed_corpus.zip" ] || [ ! -s "$out/$name.dict" ]; then
        echo "FAIL $name: seed corpus zip or dictionary missing"; fail=$((fail + 1)); continue
      fi ;;
  esac
  dict=()
  [ -f "$out/$name.dict" ] && dict=(-dict="$out/$name.dict")
  if ASAN_OPTIONS=detect_leaks=1 timeout -s KILL 120 "$f" -runs=300 -seed=1 "${dict[@]}" \
       >"$work/$name.log" 2>&1 && grep -q 'Done 300 runs' "$work/$name.log"; then
    echo "ok   $name runs ($(grep -oE 'cov: [0-9]+' "$work/$name.log" | tail -n1))"
    pass=$((pass + 1))
  else
    echo "FAIL $name did not run cleanly:"; grep -E 'ERROR|runtime error|SUMMARY' "$work/$name.log" | head
    fail=$((fail + 1))
  fi
done
echo "$pass passed, $fail failed"
