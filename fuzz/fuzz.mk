# Fuzzing build (included by the top-level Makefile after the library rules).
#
# Every fuzz/fuzz_<name>.c is a harness (LLVMFuzzerTestOneInput) and is built
# three ways:
#   build/fuzz/fuzz_<name>        libFuzzer + ASan + UBSan (library compiled with
#                                 -fsanitize=fuzzer-no-link so it is instrumented)
#   build/asan/fuzz/fuzz_<name>   replay binary: fuzz/driver.c main(), ASan + UBSan,
#                                 no libFuzzer; runs files / directories given
#   build/afl/fuzz_<name>         AFL++ (afl-clang-fast, persistent mode), when installed
#
# Targets:
#   make fuzz                         libFuzzer + replay (+ AFL++ when available) builds
#   make fuzz-smoke                   each harness FUZZ_SMOKE_SECONDS (default 8) seconds
#   make fuzz-run HARNESS=vm SECONDS=600 [JOBS=1]   a longer local run, corpus kept
#                                     in build/fuzz/corpus/<name>/
#   make fuzz-afl                     AFL++ builds only
#   make fuzz-afl-run HARNESS=vm SECONDS=600
#   make fuzz-seeds                   seed corpora in build/fuzz/seeds/<name>/
#   make fuzz-cmin HARNESS=vm         minimised corpus in build/fuzz/min/<name>/
#   make fuzz-replay                  replay tests/regress/ through the replay binaries
#   make differential SECONDS=N       CPython differential over mutated inputs

FUZZ_CC ?= clang
AFL_CC ?= afl-clang-fast
PYTHON3 ?= /usr/bin/python3

FUZZ_HARNESS_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst fuzz/%.c,%,$(FUZZ_HARNESS_SRCS))
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) \
	-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -DPJ_TEST_BUILD
# Harnesses get their prototypes from fuzz/fuzz.h even if they forget to include it.
FUZZ_HARNESS_FLAGS := -Ifuzz -include fuzz/fuzz.h
FUZZ_LIB_SRCS := $(LIB_SRCS) $(GEN_SRCS)
FUZZ_HDRS := $(wildcard include/*.h include/*.def loader/*.h sandbox/*.h policy/*.h diagnose/*.h fuzz/*.h)

FZ := build/fuzz
AFLB := build/afl

FUZZ_BINS := $(addprefix $(FZ)/,$(FUZZ_NAMES))
FUZZ_REPLAY_BINS := $(addprefix $(ASN)/fuzz/,$(FUZZ_NAMES))
AFL_BINS := $(addprefix $(AFLB)/,$(FUZZ_NAMES))
HAVE_AFL := $(shell command -v $(AFL_CC) >/dev/null 2>&1 && echo yes)

FUZZ_LIB_OBJS := $(patsubst %.c,$(FZ)/obj/%.o,$(FUZZ_LIB_SRCS))
# Harness objects are intermediate files of pattern chains: keep them.
.SECONDARY: $(patsubst %,$(FZ)/obj/fuzz/%.o,$(FUZZ_NAMES)) $(patsubst %,$(ASN)/fuzz/%.o,$(FUZZ_NAMES)) \
	$(patsubst %,$(AFLB)/obj/fuzz/%.o,$(FUZZ_NAMES)) $(ASN)/fuzz/driver.o $(AFLB)/obj/fuzz/driver.o
AFL_LIB_OBJS := $(patsubst %.c,$(AFLB)/obj/%.o,$(FUZZ_LIB_SRCS))

.PHONY: fuzz fuzz-libfuzzer fuzz-replay-bins fuzz-afl fuzz-smoke fuzz-run fuzz-afl-run \
	fuzz-seeds fuzz-replay differential fuzz-check-build fuzz-oss-srcs fuzz-list fuzz-cmin

fuzz: fuzz-libfuzzer fuzz-replay-bins fuzz-seeds $(if $(HAVE_AFL),fuzz-afl)
fuzz-libfuzzer: $(FUZZ_BINS)
fuzz-replay-bins: $(FUZZ_REPLAY_BINS)
fuzz-afl: $(AFL_BINS)
fuzz-list:
	@echo $(FUZZ_NAMES)

# libFuzzer objects: the library is instrumented for coverage, not linked with
# libFuzzer's main; harnesses are linked with -fsanitize=fuzzer.
$(FZ)/obj/%.o: %.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FZ)/obj/fuzz/%.o: fuzz/%.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_HARNESS_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FZ)/libpicklejail_fuzz.a: $(FUZZ_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^
$(FZ)/fuzz_%: $(FZ)/obj/fuzz/fuzz_%.o $(FZ)/libpicklejail_fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FZ)/libpicklejail_fuzz.a $(LIBS)

# Replay binaries reuse the ASan library of `make check`.
$(ASN)/fuzz/%.o: fuzz/%.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_CFLAGS) $(FUZZ_HARNESS_FLAGS) -c $< -o $@
$(ASN)/fuzz/fuzz_%: $(ASN)/fuzz/fuzz_%.o $(ASN)/fuzz/driver.o $(ASN)/libpicklejail.a
	$(ASAN_CC) $(ASAN_CFLAGS) -o $@ $< $(ASN)/fuzz/driver.o $(ASN)/libpicklejail.a $(LIBS)

# AFL++: same sources, afl-clang-fast instrumentation, persistent-mode driver.
$(AFLB)/obj/%.o: %.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 $(AFL_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(AFLB)/obj/fuzz/%.o: fuzz/%.c $(FUZZ_HDRS)
	@mkdir -p $(dir $@)
	AFL_QUIET=1 $(AFL_CC) $(FUZZ_CFLAGS) $(FUZZ_HARNESS_FLAGS) -c $< -o $@
$(AFLB)/libpicklejail_afl.a: $(AFL_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^
$(AFLB)/fuzz_%: $(AFLB)/obj/fuzz/fuzz_%.o $(AFLB)/obj/fuzz/driver.o $(AFLB)/libpicklejail_afl.a
	AFL_QUIET=1 $(AFL_CC) $(FUZZ_CFLAGS) -o $@ $< $(AFLB)/obj/fuzz/driver.o \
		$(AFLB)/libpicklejail_afl.a $(LIBS)

# Seed corpora: generated from corpus/ (and the conformance generator) into
# build/fuzz/seeds/<name>/, plus the small committed fuzz/seeds/<name>/.
# .names changes when a harness is added, so its seeds get made.
FUZZ_NAMES_FILE := $(FZ)/seeds/.names
$(shell mkdir -p $(FZ)/seeds; [ "$$(cat $(FUZZ_NAMES_FILE) 2>/dev/null)" = "$(FUZZ_NAMES)" ] || \
	echo "$(FUZZ_NAMES)" > $(FUZZ_NAMES_FILE))
# fuzz_wire's seeds are the wire messages of corpus/ reports (fuzz/gen_wire_seeds.c).
FUZZ_WIRE_GEN := $(if $(filter fuzz_wire,$(FUZZ_NAMES)),$(ASN)/fuzz/gen_wire_seeds)
$(ASN)/fuzz/gen_wire_seeds: $(ASN)/fuzz/gen_wire_seeds.o $(ASN)/libpicklejail.a
	$(ASAN_CC) $(ASAN_CFLAGS) -o $@ $< $(ASN)/libpicklejail.a $(LIBS)
$(FZ)/seeds/.stamp: fuzz/make_seeds.py tests/conformance/pjconf.py $(wildcard corpus/manifest.jsonl) \
		$(wildcard fuzz/seeds/*/*) $(FUZZ_NAMES_FILE) $(FUZZ_WIRE_GEN)
	$(PYTHON3) fuzz/make_seeds.py --out $(FZ)/seeds $(if $(FUZZ_WIRE_GEN),--wire-gen $(FUZZ_WIRE_GEN)) \
		$(FUZZ_NAMES)
	@touch $@
fuzz-seeds: $(FZ)/seeds/.stamp

# What `make check` needs (40-fuzz-smoke, 45-regress).  Built with -k and
# errors ignored here so a harness that does not build yet is reported by the
# suites as a failure instead of stopping every other suite.
fuzz-check-build: $(ASN)/libpicklejail.a $(ASN)/picklejail
	-@$(MAKE) -k --no-print-directory $(FUZZ_BINS) $(FUZZ_REPLAY_BINS) $(FZ)/seeds/.stamp
CHECK_DEPS += fuzz-check-build

FUZZ_SMOKE_SECONDS ?= 8
fuzz-smoke: fuzz-libfuzzer fuzz-seeds
	FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) bash tests/suites/40-fuzz-smoke.sh

# Longer runs.  HARNESS is "vm" or "fuzz_vm"; the growing corpus is kept.
HARNESS ?= vm
SECONDS ?= 60
JOBS ?= 1
FUZZ_H := fuzz_$(patsubst fuzz_%,%,$(HARNESS))
fuzz-run: $(FZ)/$(FUZZ_H) fuzz-seeds
	bash fuzz/run.sh libfuzzer $(FUZZ_H) $(SECONDS) $(JOBS)
fuzz-afl-run: $(AFLB)/$(FUZZ_H) fuzz-seeds
	bash fuzz/run.sh afl $(FUZZ_H) $(SECONDS) 1

# Minimise a harness's grown corpus plus its seeds into build/fuzz/min/<name>/
# (libFuzzer -merge=1: the smallest set with the same coverage).
fuzz-cmin: $(FZ)/$(FUZZ_H) fuzz-seeds
	rm -rf $(FZ)/min/$(FUZZ_H) && mkdir -p $(FZ)/min/$(FUZZ_H) $(FZ)/corpus/$(FUZZ_H)
	$(FZ)/$(FUZZ_H) -merge=1 -rss_limit_mb=2048 -timeout=25 $(FZ)/min/$(FUZZ_H) \
		$(FZ)/corpus/$(FUZZ_H) $(FZ)/seeds/$(FUZZ_H)

fuzz-replay: $(FUZZ_REPLAY_BINS)
	bash tests/suites/45-regress.sh

differential: $(ASN)/picklejail
	$(PYTHON3) fuzz/differential.py --seconds $(SECONDS) --save tests/regress/differential

# For fuzz/oss_fuzz_build.sh: make the generated sources, print every library source.
fuzz-oss-srcs: $(GEN_SRCS)
	@echo $(FUZZ_LIB_SRCS)
