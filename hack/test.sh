#!/usr/bin/env bash
# Runs the test suite of one build directory with ctest; the last lines are ctest's summary.
#   hack/test.sh BUILD_DIR [LABEL]   LABEL: unit, integration or fuzz (default: all)
# The run gets a private temporary directory and a marker in its environment, so that the
# leftovers check judges only what this run started and wrote, however busy the machine is.
set -euo pipefail
build=${1:?usage: hack/test.sh BUILD_DIR [LABEL]}
label=${2:-}
args=(--test-dir "$build" --output-on-failure --timeout 900)
[[ -n $label ]] && args+=(-L "$label")
# Sanitizer reports stop the test at the first finding and say where.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/boxer-test.XXXXXX")
# runsc makes its sandbox's chroot under $TMPDIR and opens that path after dropping its
# privileges: every directory above the chroot must be traversable, and mktemp's are 0700.
chmod 0711 "$TMPDIR"
export TMPDIR
export BOXER_TEST_RUN="$$.$(date +%s%N)"
trap 'rm -rf "$TMPDIR"' EXIT
ctest "${args[@]}"
