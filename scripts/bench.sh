#!/usr/bin/env bash
# Runs the benchmarks side by side in one go and prints ratios (results are
# recorded in docs/benchmarks.md). Usage: scripts/bench.sh [seconds-per-run] [rounds]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CPPROF_BUILD_DIR:-$root/build}"
secs="${1:-5}"
rounds="${2:-3}"
bin="$build/tests/bench"
[[ -x "$bin/cpu_overhead_bench" ]] || "$root/scripts/build.sh"
threads="$(nproc)"

echo "== CPU profiler overhead: $threads threads, ${secs}s per run, $rounds interleaved rounds =="
modes=("none 0" "cpprof 100" "gperftools 100" "cpprof 1000" "gperftools 1000")
declare -A ops ratio handler median
for ((r = 0; r < rounds; r++)); do
  for m in "${modes[@]}"; do
    set -- $m
    line="$("$bin/cpu_overhead_bench" --mode "$1" --hz "${2:-100}" --threads "$threads" --seconds "$secs")"
    key="$1@$2"
    ops[$key]+="$(sed -n 's/.*ops_per_sec=\([0-9.]*\).*/\1/p' <<<"$line") "
    ratio[$key]+="$(sed -n 's/.*sample_ratio=\([0-9.]*\).*/\1/p' <<<"$line") "
    handler[$key]+="$(sed -n 's/.*handler_ns_mean=\([0-9.]*\).*/\1/p' <<<"$line") "
    median[$key]+="$(sed -n 's/.*handler_ns_median=\([0-9.]*\).*/\1/p' <<<"$line") "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base="$(median <<<"${ops[none@0]}")"
printf "%-16s %14s %12s %14s %16s %18s\n" mode ops/s vs-none sample-ratio handler-ns-mean handler-ns-median
for m in "${modes[@]}"; do
  set -- $m
  key="$1@$2"
  o="$(median <<<"${ops[$key]}")"
  printf "%-16s %14.1f %12.4f %14s %16s %18s\n" "$key" "$o" "$(awk -v a="$o" -v b="$base" 'BEGIN{print a/b}')" \
    "$(median <<<"${ratio[$key]}")" "$(median <<<"${handler[$key]}")" "$(median <<<"${median[$key]}")"
done

for b in unwind_bench symbolize_bench pprof_bench http_bench leak_scan_bench fd_bench handler_stack_bench; do
  if [[ -x "$bin/$b" ]]; then
    echo "== $b =="
    "$bin/$b"
  fi
done

# malloc/free through the heap hooks: its own interleaved runner (8 configurations, 9 rounds).
if [[ -x "$bin/malloc_bench" && -x "$bin/malloc_bench_plain" ]]; then
  CPPROF_BUILD_DIR="$build" "$root/tests/bench/malloc_bench.sh"
fi

# A large real binary (mariadbd under LD_PRELOAD; installs mariadb-server,
# mariadb-client, gperftools and perf with apt; about 10 minutes): opt-in.
if [[ "${CPPROF_BENCH_MARIADB:-0}" == 1 ]]; then
  CPPROF_BUILD_DIR="$build" "$root/tests/bench/mariadb_bench.sh"
fi
