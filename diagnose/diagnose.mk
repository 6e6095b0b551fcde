# Included by the top-level Makefile: the diagnosis data tables (diagnose/data/*.txt)
# are compiled in as C arrays generated at build time.
DIAG_DATA := $(sort $(wildcard diagnose/data/*.txt))
GEN_SRCS += build/gen/diag_data.c

build/gen/diag_data.c: $(DIAG_DATA) diagnose/gen_data.sh
	@mkdir -p build/gen
	sh diagnose/gen_data.sh $@ $(DIAG_DATA)
