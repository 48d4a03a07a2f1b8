#!/usr/bin/env bash
# fuzz/run.sh FUZZER SECONDS SEED... — a bounded libFuzzer run: a fresh working corpus (seeds are
# read, never written), every finding fails the run and is kept in build/fuzz-findings/.
set -euo pipefail
fuzzer=$1 seconds=$2; shift 2
name=$(basename "$fuzzer")
findings="$(dirname "$fuzzer")/../fuzz-findings/$name"
mkdir -p "$findings"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# -rss_limit_mb: a target must stay within it on any input (unbounded memory is a finding too).
# FUZZ_DICT: a libFuzzer dictionary for the target (fuzz/<name>.dict, set by CMakeLists.txt).
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  ${FUZZ_DICT:+-dict="$FUZZ_DICT"} -artifact_prefix="$findings/" "$work" "$@" 2>&1 | tail -25
