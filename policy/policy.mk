# Included by the top-level Makefile: compile the built-in rule files into the
# library (build/gen/policy_builtin.c is generated from policy/rules/*.rules).
POLICY_RULES := $(sort $(wildcard policy/rules/*.rules))
GEN_SRCS += build/gen/policy_builtin.c

build/gen/policy_builtin.c: $(POLICY_RULES) policy/gen_rules.sh
	@mkdir -p build/gen
	sh policy/gen_rules.sh $(POLICY_RULES) > $@.tmp && mv $@.tmp $@
