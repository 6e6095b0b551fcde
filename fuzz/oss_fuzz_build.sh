#!/usr/bin/env bash
# OSS-Fuzz / ClusterFuzzLite build of every fuzz/fuzz_*.c harness.
#
# Contract: $CC and $CFLAGS compile (they carry the sanitizer and
# -fsanitize=fuzzer-no-link), $LIB_FUZZING_ENGINE links the engine, the
# fuzzers go to $OUT, scratch to $WORK.  For each harness <name>:
#   $OUT/<name>                   the fuzzer
#   $OUT/<name>_seed_corpus.zip   seeds (fuzz/make_seeds.py: corpus/ + conformance streams)
#   $OUT/<name>.dict              fuzz/<name>.dict, or fuzz/pickle.dict for the pickle harnesses
#   $OUT/<name>.options           fuzz/<name>.options when present
# Shared libraries the runner image lacks are copied to $OUT/lib (rpath $ORIGIN/lib).
# Extra link libraries: PJ_FUZZ_LIBS (default: what the Makefile links).
set -eu
cd "$(dirname "$0")/.."
: "${CC:=clang}" "${CFLAGS:=}" "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
: "${OUT:?set OUT to the output directory}"
WORK=${WORK:-$(mktemp -d)}
PY=${PYTHON3:-python3}
[ -x /usr/bin/python3 ] && PY=${PYTHON3:-/usr/bin/python3}
LIBS=${PJ_FUZZ_LIBS:--lz -lbz2 -llzma -lzstd -larchive -lseccomp -lcjson}
FLAGS="-std=c11 -D_GNU_SOURCE -Iinclude -Iloader -Isandbox -Ipolicy -Idiagnose -Ibuild/gen
  -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
mkdir -p "$OUT" "$WORK/obj"

# Library sources (the Makefile generates build/gen/*.c first).
srcs=$(make -s --no-print-directory fuzz-oss-srcs CC="$CC")
export CC CFLAGS FLAGS WORK
printf '%s\n' $srcs | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} sh -c '
  o="$WORK/obj/$(echo "{}" | tr / _).o"
  $CC $CFLAGS $FLAGS -c "{}" -o "$o"'
rm -f "$WORK/libpicklejail.a"
ar rcs "$WORK/libpicklejail.a" "$WORK"/obj/*.o

names=""
for src in fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  names="$names $name"
  $CC $CFLAGS $FLAGS -Ifuzz -include fuzz/fuzz.h -c "$src" -o "$WORK/$name.o"
  # $LIB_FUZZING_ENGINE may be a flag (-fsanitize=fuzzer) or an archive path.
  $CC $CFLAGS -o "$OUT/$name" "$WORK/$name.o" $LIB_FUZZING_ENGINE "$WORK/libpicklejail.a" $LIBS \
    -Wl,-rpath,'$ORIGIN/lib'
  short=${name#fuzz_}
  if [ -f "fuzz/$name.dict" ]; then cp "fuzz/$name.dict" "$OUT/$name.dict"
  elif [ -f "fuzz/$short.dict" ]; then cp "fuzz/$short.dict" "$OUT/$name.dict"
  else case "$short" in vm|scan|container) cp fuzz/pickle.dict "$OUT/$name.dict" ;; esac
  fi
  [ -f "fuzz/$name.options" ] && cp "fuzz/$name.options" "$OUT/$name.options"
done

# Seed corpora, zipped with Python's zipfile (no zip(1) needed).
"$PY" fuzz/make_seeds.py --out "$WORK/seeds" $names >/dev/null
for name in $names; do
  "$PY" - "$WORK/seeds/$name" "$OUT/${name}_seed_corpus.zip" <<'PYEOF'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
files = sorted(os.listdir(src)) if os.path.isdir(src) else []
if files:
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for f in files:
            z.write(os.path.join(src, f), f)
PYEOF
done

# Runtime libraries the OSS-Fuzz runner image does not have.
mkdir -p "$OUT/lib"
for name in $names; do
  ldd "$OUT/$name" 2>/dev/null | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libgcc_s.so*|libstdc++.so*) ;;
      *) cp -L -n "$lib" "$OUT/lib/" ;;
    esac
  done
done
echo "built:$names -> $OUT"
