#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs a libFuzzer target for SECONDS on a scratch copy of its seed corpus
# (the repository's corpus is never written). Fails on a crash, a sanitizer
# report, a leak, an input slower than 10 s or more than 2 GB of memory;
# the reproducer is kept and its path printed.
#
#   run_fuzzer.sh FUZZ_TARGET SEED_CORPUS_DIR SECONDS
set -euo pipefail
target="$1" seeds="$2" seconds="$3"
work="$(mktemp -d "${TMPDIR:-/tmp}/cpprof-fuzz.XXXXXX")"
mkdir -p "$work/corpus" "$work/artifacts"
status=0
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" >"$work/log" 2>&1 || status=$?
tail -15 "$work/log"
if ((status != 0)); then
  echo "FAIL: $(basename "$target") found a problem; reproducer(s) kept in $work/artifacts:" >&2
  ls -l "$work/artifacts" >&2
  grep -m5 -E "ERROR|SUMMARY|runtime error" "$work/log" >&2 || true
  exit 1
fi
echo "$(basename "$target"): $(grep -c . <(ls "$work/corpus")) new corpus entries, no crash in ${seconds}s"
rm -rf "$work"
