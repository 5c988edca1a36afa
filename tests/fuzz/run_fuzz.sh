#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded number of inputs over its seed corpus. New inputs go to
# a temporary directory (libFuzzer writes into the first corpus it is given), removed afterwards.
#   run_fuzz.sh FUZZER SEED_CORPUS RUNS
set -euo pipefail
fuzzer=${1:?} seeds=${2:?} runs=${3:?}
work=$(mktemp -d "${TMPDIR:-/tmp}/boxer-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
"$fuzzer" -runs="$runs" -max_len=4096 -print_final_stats=1 "$work" "$seeds"
