#!/usr/bin/env bash
# `make demo`: scan a few bundled samples and show what picklejail reports.
set -u
cd "$(dirname "$0")/.."
BIN=build/release/picklejail
run() { echo "\$ picklejail $*"; "$BIN" "$@"; echo "(exit $?)"; echo; }
run scan corpus/benign/torch_state_dict.pt corpus/benign/sklearn_pipeline_joblib_zlib.joblib
run scan corpus/malicious/os_system_p0.pkl
run scan corpus/malicious/zip_case_mangled_data_pkl.pt
run scan corpus/malicious/frame_straddle_p5.pkl
run scan --format json corpus/malicious/builtin_getattr_import_p2.pkl
run diagnose corpus/loadfail/builtin_set_proto3.pkl corpus/loadfail/main_class_p4.pkl
run scan corpus
exit 0
