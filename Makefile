# picklejail build.  `make` builds build/release/picklejail; `make check` runs
# every test (unit, end-to-end, conformance, jail, fuzz smoke, regressions)
# against an ASan+UBSan build and prints "N passed, N failed".

.DEFAULT_GOAL := all
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
ASAN_CC ?= clang

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Iinclude -Iloader -Isandbox -Ipolicy -Idiagnose -Ibuild/gen $(WARN)
RELEASE_CFLAGS := $(BASE_CFLAGS) -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -DPJ_TEST_BUILD
# The library's dependencies are linked statically: every sandboxed scan forks
# this process, and each mapped shared library costs ~7 us per fork and exit
# here (libarchive.so alone drags in 11 more: libxml2, ICU, libstdc++, ...).
# libc stays shared (glibc's iconv loads the 7z name converter through it);
# cJSON only has a shared library and is used by the CLI parent only.
LIB_LIBS := -Wl,-Bstatic -larchive -lz -lbz2 -llzma -lzstd -lseccomp -Wl,-Bdynamic
LIBS := $(LIB_LIBS) -lcjson
# Full RELRO; also spares every sandboxed child the lazy symbol resolution.
LDFLAGS += -Wl,-z,relro,-z,now
# The sandbox helper (helper/): the fork server alone, linked statically (libc
# too) and position-independent, so each scanner child maps one object.
HELPER_LDFLAGS := -static-pie
HELPER_LIBS := -Wl,--start-group -larchive -lz -lbz2 -llzma -lzstd -lseccomp -Wl,--end-group

# Sources: every .c in these folders is part of the library; .mk fragments
# owned by each folder may add generated sources to GEN_SRCS.
LIB_SRCS := $(sort $(wildcard loader/*.c sandbox/*.c policy/*.c diagnose/*.c))
CLI_SRCS := $(sort $(wildcard cli/*.c))
GEN_SRCS :=

-include policy/policy.mk
-include diagnose/diagnose.mk

REL := build/release
ASN := build/asan
# The helper as the test build has it (misbehaving children) but without
# sanitizers, which cannot be linked statically: the jail tests run once more
# with the ASan CLI starting its children from this one.
TST := build/test-static
TST_CFLAGS := $(BASE_CFLAGS) -O1 -g -DPJ_TEST_BUILD

REL_LIB_OBJS := $(patsubst %.c,$(REL)/%.o,$(LIB_SRCS) $(GEN_SRCS))
ASN_LIB_OBJS := $(patsubst %.c,$(ASN)/%.o,$(LIB_SRCS) $(GEN_SRCS))
REL_CLI_OBJS := $(patsubst %.c,$(REL)/%.o,$(CLI_SRCS))
ASN_CLI_OBJS := $(patsubst %.c,$(ASN)/%.o,$(CLI_SRCS))

.PHONY: all asan check demo clean install corpus bench deps
all: $(REL)/picklejail $(REL)/picklejail-sandbox

$(REL)/%.o: %.c $(wildcard include/*.h include/*.def loader/*.h sandbox/*.h policy/*.h diagnose/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(RELEASE_CFLAGS) -c $< -o $@

$(TST)/%.o: %.c $(wildcard include/*.h include/*.def loader/*.h sandbox/*.h policy/*.h diagnose/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(TST_CFLAGS) -c $< -o $@

$(ASN)/%.o: %.c $(wildcard include/*.h include/*.def loader/*.h sandbox/*.h policy/*.h diagnose/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_CFLAGS) -c $< -o $@

$(REL)/libpicklejail.a: $(REL_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^
$(ASN)/libpicklejail.a: $(ASN_LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(REL)/picklejail: $(REL_CLI_OBJS) $(REL)/libpicklejail.a
	$(CC) $(RELEASE_CFLAGS) $(LDFLAGS) -o $@ $(REL_CLI_OBJS) $(REL)/libpicklejail.a $(LIBS)
$(ASN)/picklejail: $(ASN_CLI_OBJS) $(ASN)/libpicklejail.a
	$(ASAN_CC) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $(ASN_CLI_OBJS) $(ASN)/libpicklejail.a $(LIBS)

# Linked to a temporary file and copied: the linker writes its output
# piecemeal, and the page cache then holds it in small pages; written in one
# sequential pass, it is held in large folios, and every scanner child
# (which maps the helper's code) faults in and tears down that code ~25 us
# faster per file (docs/sandbox.md, "Performance").  `make install` copies
# too.
$(REL)/picklejail-sandbox: $(REL)/helper/picklejail_sandbox.o $(REL)/libpicklejail.a
	$(CC) $(RELEASE_CFLAGS) $(HELPER_LDFLAGS) $(LDFLAGS) -o $@.tmp $^ $(HELPER_LIBS)
	cat $@.tmp > $@.new && chmod 0755 $@.new && mv -f $@.new $@ && rm -f $@.tmp
$(TST)/picklejail-sandbox: $(patsubst %.c,$(TST)/%.o,$(LIB_SRCS) $(GEN_SRCS) helper/picklejail_sandbox.c)
	$(CC) $(TST_CFLAGS) $(HELPER_LDFLAGS) $(LDFLAGS) -o $@ $^ $(HELPER_LIBS)

asan: $(ASN)/picklejail

# Unit tests: tests/unit/test_*.c, each a cmocka program against the ASan library.
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(ASN)/tests/%,$(UNIT_SRCS))
$(ASN)/tests/%: tests/unit/%.c $(ASN)/libpicklejail.a
	@mkdir -p $(dir $@)
	$(ASAN_CC) $(ASAN_CFLAGS) -Wno-missing-field-initializers -Itests/unit -o $@ $< $(ASN)/libpicklejail.a $(LIBS) -lcmocka

-include fuzz/fuzz.mk

# The installed binary and the test build must both compile warning-free with
# gcc and clang.
check: all $(ASN)/picklejail $(TST)/picklejail-sandbox $(UNIT_BINS) $(CHECK_DEPS)
	@CC=$(CC) ASAN_CC=$(ASAN_CC) bash tests/run.sh

demo: deps all
	@bash tests/demo.sh

deps:
	@bash .ci/deps.sh

corpus:
	bash corpus/gen/make_corpus.sh

bench: all
	bash bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/picklejail
	install -m 0755 $(REL)/picklejail $(DESTDIR)$(PREFIX)/bin/picklejail
	install -m 0755 $(REL)/picklejail-sandbox $(DESTDIR)$(PREFIX)/libexec/picklejail/picklejail-sandbox

clean:
	rm -rf build
