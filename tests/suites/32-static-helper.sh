#!/usr/bin/env bash
# The jail, container, corpus and limit tests once more, with every scanner
# child started from the statically linked sandbox helper (the test build's,
# without sanitizers: they cannot be linked statically) from the first file on.
cd "$(dirname "$0")/../.."
export PJ_TEST_SANDBOX_HELPER="$PWD/build/test-static/picklejail-sandbox"
export PJ_TEST_SERVER_AFTER=0
exec /usr/bin/python3 tests/e2e/runner.py test_sandbox test_containers test_corpus test_vm_limits
