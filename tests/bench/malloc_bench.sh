#!/usr/bin/env bash
# malloc/free through cpprof's heap hooks, against plain glibc and gperftools
# (tests/bench/malloc_bench.cc; results in docs/benchmarks.md). Every
# configuration is a separate process; the rounds run all of them, interleaved,
# in alternating order. Per configuration the table gives the min and median
# over rounds of the process's ns of CPU time per malloc+free pair, the ns
# added and the ratios of the medians, then the paired figures: each process
# also times the same loop calling glibc's __libc_malloc/__libc_free directly
# (cpprof does not replace them), in blocks alternating with the real ones,
# and "paired +ns" / "paired x" are the medians over processes of (process's
# malloc - glibc direct) and of their ratio. (Not shown for the tcmalloc
# configurations: tcmalloc defines __libc_malloc too.)
# Usage: tests/bench/malloc_bench.sh [rounds]   (CPPROF_BUILD_DIR picks the build;
# CPPROF_MALLOC_BENCH_RAW=file keeps the raw RESULT lines)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${CPPROF_BUILD_DIR:-$root/build}"
rounds="${1:-9}"
bin="$build/tests/bench"
preload="$build/libcpprof_preload.so"
for f in "$bin/malloc_bench" "$bin/malloc_bench_plain" "$preload"; do
  [[ -e "$f" ]] || { echo "missing $f: build first (scripts/build.sh)" >&2; exit 1; }
done
tcmalloc="${CPPROF_TCMALLOC:-$(/sbin/ldconfig -p | awk '$1 == "libtcmalloc.so.4" {print $NF; exit}')}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
raw="${CPPROF_MALLOC_BENCH_RAW:-$tmp/raw}"
: >"$raw"

# The sampling configurations c and d run as users run them, with the
# endpoint up (CPPROF_ADDR, port 0): it builds the CFI tables and the memory
# map snapshot the sampled path walks with, and registers new threads' stacks.
# c0 samples with no endpoint started: frame pointers only, stack reads probed.
# key | what | expected allocator | binary | environment and arguments
configs=(
  "a|glibc, no cpprof|glibc|plain|"
  "b|cpprof linked, sampling off|cpprof|linked|CPPROF_HEAP_RATE=0"
  "c0|cpprof linked, 512 KiB, no endpoint|cpprof|linked|"
  "c|cpprof linked, 512 KiB|cpprof|linked|CPPROF_ADDR=127.0.0.1:0"
  "d0|cpprof preloaded, sampling off|cpprof|plain|LD_PRELOAD=$preload CPPROF_HEAP_RATE=0"
  "d|cpprof preloaded, 512 KiB|cpprof|plain|LD_PRELOAD=$preload CPPROF_ADDR=127.0.0.1:0"
)
if [[ -n "$tcmalloc" ]]; then
  # The heap profiler records every allocation (about 100x slower), so it
  # runs fewer pairs; ns per pair stays comparable.
  configs+=(
    "f|tcmalloc, sampling off|tcmalloc|plain|LD_PRELOAD=$tcmalloc TCMALLOC_SAMPLE_PARAMETER=0"
    "e|tcmalloc, sampling 512 KiB|tcmalloc|plain|LD_PRELOAD=$tcmalloc TCMALLOC_SAMPLE_PARAMETER=524288"
    "g|tcmalloc + HEAPPROFILE|tcmalloc|plain|LD_PRELOAD=$tcmalloc HEAPPROFILE=$tmp/heapprofile --pairs 10000 --work-pairs 10000 --blocks 10"
  )
else
  echo "libtcmalloc.so.4 not found (libgoogle-perftools4): gperftools configurations skipped" >&2
fi

run_config() {
  local key what expect kind rest exe
  IFS='|' read -r key what expect kind rest <<<"$1"
  exe="$bin/malloc_bench"
  [[ "$kind" == plain ]] && exe="$bin/malloc_bench_plain"
  local vars=() args=() w
  for w in $rest; do
    if [[ "$w" == *=* && ${#args[@]} -eq 0 ]]; then vars+=("$w"); else args+=("$w"); fi
  done
  local out status=0
  out="$(env -u LD_PRELOAD -u CPPROF_ADDR -u CPPROF_HEAP_RATE -u TCMALLOC_SAMPLE_PARAMETER -u HEAPPROFILE \
    "${vars[@]}" "$exe" --label "$key" "${args[@]}" 2>>"$tmp/stderr")" || status=$?
  if [[ $status -ne 0 ]]; then
    echo "configuration $key ($what) failed with status $status:" >&2
    echo "  env ${vars[*]} $exe --label $key ${args[*]}" >&2
    tail -5 "$tmp/stderr" >&2
    exit 1
  fi
  if grep -q "allocator=" <<<"$out" && ! grep -q "allocator=$expect " <<<"$out"; then
    echo "warning: configuration $key ran with $(grep -o 'allocator=[a-z]*' <<<"$out" | head -1), expected $expect" >&2
  fi
  grep '^RESULT' <<<"$out" >>"$raw"
  rm -f "$tmp"/heapprofile*
}

n=${#configs[@]}
echo "== malloc/free: ${#configs[@]} configurations x $rounds interleaved rounds (load average: $(cut -d' ' -f1-3 /proc/loadavg)) =="
for ((r = 0; r < rounds; r++)); do
  for ((i = 0; i < n; i++)); do
    if ((r % 2 == 0)); then run_config "${configs[$i]}"; else run_config "${configs[$((n - 1 - i))]}"; fi
  done
done
echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"

order="" names=""
for c in "${configs[@]}"; do
  IFS='|' read -r key what _ <<<"$c"
  order+="$key "
  names+="$key=$what;"
done
awk -v order="$order" -v names="$names" '
function field(name,   i) {
  for (i = 1; i <= NF; i++) if (index($i, name "=") == 1) return substr($i, length(name) + 2);
  return ""
}
function sort(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
}
function median(list,   a, n) { n = split(list, a, " "); sort(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function minimum(list,   a, n, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] < m) m = a[i]; return m }
{
  k = field("label") SUBSEP field("workload") SUBSEP field("threads")
  ns[k] = ns[k] " " field("cpu_ns_per_pair")
  d = field("libc_direct_cpu_ns_per_pair")
  pdiff[k] = pdiff[k] " " (field("cpu_ns_per_pair") - d)
  pratio[k] = pratio[k] " " (field("cpu_ns_per_pair") / d)
  if (field("samples") != "") { samples[k] = samples[k] " " field("samples"); slow[k] = slow[k] " " field("slow_path_ns_per_sample") }
  runs[k]++
}
END {
  nc = split(order, keys, " ")
  split(names, pairs, ";")
  for (i in pairs) { split(pairs[i], kv, "="); what[kv[1]] = kv[2] }
  nw = split("pair work", workloads, " ")
  for (w = 1; w <= nw; w++) for (t = 1; t <= 2; t++) {
    base = SUBSEP workloads[w] SUBSEP t
    if (!(("a" base) in ns)) continue
    bmed = median(ns["a" base]); bmin = minimum(ns["a" base])
    fmed = (("f" base) in ns) ? median(ns["f" base]) : 0
    printf "\n-- %s, %d thread%s: ns of CPU per malloc+free pair%s (%d processes each) --\n", \
      workloads[w], t, (t > 1 ? "s" : ""), (workloads[w] == "work" ? " + work" : ""), runs["a" base]
    printf "%-3s %-32s %9s %9s %9s %7s %9s %7s %10s %9s\n", "", "configuration", "min", "median", "+ns", "vs a", "vs a min", "vs f", "paired +ns", "paired x"
    for (c = 1; c <= nc; c++) {
      k = keys[c] base
      if (!(k in ns)) continue
      med = median(ns[k]); mn = minimum(ns[k])
      vf = (fmed > 0 && keys[c] ~ /^[efg]$/) ? sprintf("%7.3f", med / fmed) : sprintf("%7s", "")
      paired = keys[c] ~ /^[efg]$/ ? "" : sprintf("%+10.2f %9.3f", median(pdiff[k]), median(pratio[k]))
      printf "%-3s %-32s %9.2f %9.2f %+9.2f %7.3f %9.3f %s %s\n", keys[c], what[keys[c]], mn, med, med - bmed, \
        med / bmed, mn / bmin, vf, paired
    }
    for (c = 1; c <= nc; c++) {
      k = keys[c] base
      if ((k in samples) && median(samples[k]) > 0)
        printf "    %s: %d samples per process (warm-up included), cpprof slow path %.0f ns per sample (medians)\n", keys[c], median(samples[k]), median(slow[k])
    }
  }
}' "$raw"
