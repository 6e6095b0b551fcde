#!/bin/bash -eu
# ClusterFuzzLite entry point: the repository's OSS-Fuzz build script does the work
# ($CC, $CFLAGS, $LIB_FUZZING_ENGINE, $OUT come from the builder image).
bash "$SRC/picklejail/fuzz/oss_fuzz_build.sh"
