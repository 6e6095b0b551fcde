#!/usr/bin/env bash
# End-to-end tests: Python's standard library only, against the built CLI.
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/e2e/runner.py
