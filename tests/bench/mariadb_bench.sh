#!/usr/bin/env bash
# Large real binary: Debian's mariadbd (about 10 MB of code, 1.3 MB of
# .eh_frame) under LD_PRELOAD, loaded by mysqlslap. Modes run interleaved in
# one go, each on a fresh server:
#   none              no profiler
#   cpprof-idle       cpprof preloaded, endpoint up, no profile running (heap
#                     sampling, lock and descriptor hooks as by default)
#   cpprof-H          a CPU profile at H Hz covers the whole load
#   gperftools-H      gperftools' libprofiler preloaded, CPUPROFILE_FREQUENCY=H
#   cpprof-norowcache-H  cpprof-H with the unwinder's row caches off
# Reports queries/s against `none`, and for cpprof the handler's own figures
# (runs, frames per stack, mean and median per run, ns per frame, share of the
# process's CPU). With `perf` usable, one more cpprof run at the highest rate is
# sampled by `perf record -g -e cpu-clock` and the share of the process's
# samples under HandleCpuSignal is printed beside cpprof's own figure.
#
# Not a pass/fail test. Usage: tests/bench/mariadb_bench.sh [rounds] [queries] [hz...]
# Installs mariadb-server, mariadb-client and libgoogle-perftools4 (and
# linux-perf, if available) with apt-get when missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${CPPROF_BUILD_DIR:-$root/build}"
rounds="${1:-3}"
queries="${2:-40000}"
shift $(($# > 2 ? 2 : $#))
rates=(100 1000)
(($#)) && rates=("$@")
concurrency="${CPPROF_BENCH_CONCURRENCY:-8}"
preload="$build/libcpprof_preload.so"
[[ -f "$preload" ]] || "$root/scripts/build.sh"

need=()
command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]] || need+=(mariadb-server)
command -v mysqlslap >/dev/null 2>&1 || need+=(mariadb-client)
ls /usr/lib/*/libprofiler.so.0 >/dev/null 2>&1 || need+=(libgoogle-perftools4)
command -v perf >/dev/null 2>&1 || need+=(linux-perf)
if ((${#need[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null || \
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]/linux-perf/}" >/dev/null
fi
libprofiler="$(ls /usr/lib/*/libprofiler.so.0 | head -1)"

work="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
http=$((port + 1))
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mariadb-install-db --no-defaults --datadir="$work/data" --user="$(id -un)" \
  --auth-root-authentication-method=normal >"$work/install.log" 2>&1

start_server() {  # $@: env assignments
  rm -f "$work/sock"
  env "$@" /usr/sbin/mariadbd --no-defaults --datadir="$work/data" --user="$(id -un)" \
    --port="$port" --socket="$work/sock" --pid-file="$work/pid" --skip-grant-tables \
    --innodb-buffer-pool-size=128M --log-error="$work/server.err" >/dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 1 240); do
    [[ -S "$work/sock" ]] && mysqladmin --socket="$work/sock" ping >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  echo "mariadbd did not start" >&2
  exit 1
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
slap() {  # prints elapsed seconds of a fixed amount of work
  local t0 t1
  t0=$(date +%s.%N)
  mysqlslap --socket="$work/sock" --concurrency="$concurrency" --iterations=1 \
    --number-of-queries="$queries" --auto-generate-sql --auto-generate-sql-load-type=mixed >/dev/null
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}'
}
metric() {  # $1: cpprof stat name
  curl -s "http://127.0.0.1:$http/debug/pprof/stats?format=text" | awk -v m="cpprof_$1" '$1 == m {print $2}'
}
proc_cpu() {  # process CPU seconds (utime + stime)
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$server_pid/stat"
}

declare -A qps hmean hmed frames share
run_mode() {  # $1: mode name, $2: hz (0 = none)
  local mode="$1" hz="$2" profile_pid="" s0 f0 n0 c0 elapsed
  case "$mode" in
    none) start_server ;;
    cpprof-norowcache*) start_server LD_PRELOAD="$preload" CPPROF_ADDR="127.0.0.1:$http" \
                          CPPROF_UNWIND_ROW_CACHE=0 ;;
    cpprof*) start_server LD_PRELOAD="$preload" CPPROF_ADDR="127.0.0.1:$http" ;;
    gperftools*) start_server LD_PRELOAD="$libprofiler" CPUPROFILE="$work/gperf.prof" \
                   CPUPROFILE_FREQUENCY="$hz" ;;
  esac
  slap >/dev/null  # warm up: tables, buffer pool, thread cache
  if [[ "$hz" -gt 0 && "$mode" == cpprof* ]]; then
    curl -s -o /dev/null "http://127.0.0.1:$http/debug/pprof/profile?seconds=600&hz=$hz" &
    profile_pid=$!
    for _ in $(seq 1 100); do [[ "$(metric cpu_sampling_hz)" == "$hz" ]] && break; sleep 0.1; done
  fi
  if [[ "$mode" == cpprof* ]]; then
    s0=$(metric cpu_handler_seconds_total); f0=$(metric cpu_handler_frames_total)
    n0=$(($(metric cpu_signals_total) - $(metric cpu_handler_preempted_total))); c0=$(proc_cpu)
  fi
  elapsed=$(slap)
  qps[$mode]+="$(awk -v q="$queries" -v e="$elapsed" 'BEGIN{printf "%.1f", q / e}') "
  if [[ "$hz" -gt 0 && "$mode" == cpprof* ]]; then
    local s1 f1 n1 c1
    s1=$(metric cpu_handler_seconds_total); f1=$(metric cpu_handler_frames_total)
    n1=$(($(metric cpu_signals_total) - $(metric cpu_handler_preempted_total))); c1=$(proc_cpu)
    hmean[$mode]+="$(awk -v a="$s0" -v b="$s1" -v n="$n0" -v m="$n1" 'BEGIN{printf "%.2f", (b - a) * 1e6 / (m - n)}') "
    frames[$mode]+="$(awk -v a="$f0" -v b="$f1" -v n="$n0" -v m="$n1" 'BEGIN{printf "%.1f", (b - a) / (m - n)}') "
    share[$mode]+="$(awk -v a="$s0" -v b="$s1" -v c="$c0" -v d="$c1" 'BEGIN{printf "%.3f", (b - a) * 100 / (d - c)}') "
    hmed[$mode]+="$(awk -v v="$(metric cpu_handler_median_seconds)" 'BEGIN{printf "%.1f", v * 1e6}') "
    kill "$profile_pid" 2>/dev/null || true
  fi
  stop_server
}

modes=("none 0" "cpprof-idle 0")
for hz in "${rates[@]}"; do modes+=("cpprof-$hz $hz" "gperftools-$hz $hz"); done
# The unwinder's row caches off (CPPROF_UNWIND_ROW_CACHE=0), at the highest rate.
modes+=("cpprof-norowcache-${rates[-1]} ${rates[-1]}")
echo "== mariadbd $(/usr/sbin/mariadbd --version | awk '{print $3}'), mysqlslap mixed load," \
  "$queries queries x $concurrency clients, $rounds interleaved rounds, $(nproc) cores =="
for ((r = 0; r < rounds; r++)); do
  for m in "${modes[@]}"; do
    set -- $m
    run_mode "$1" "$2"
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
((rounds > 0)) && {
base="$(median <<<"${qps[none]}")"
printf "%-24s %10s %9s %12s %14s %16s %12s %16s\n" mode queries/s vs-none frames/stack \
  handler-mean-us handler-median-us ns/frame handler-%-of-cpu
for m in "${modes[@]}"; do
  set -- $m
  q="$(median <<<"${qps[$1]}")"
  if [[ "$2" -gt 0 && "$1" == cpprof* ]]; then
    fr="$(median <<<"${frames[$1]}")"; hm="$(median <<<"${hmean[$1]}")"
    printf "%-24s %10.1f %9.4f %12s %14s %16s %12.0f %16s\n" "$1" "$q" "$(awk -v a="$q" -v b="$base" 'BEGIN{print a/b}')" \
      "$fr" "$hm" "$(median <<<"${hmed[$1]}")" "$(awk -v h="$hm" -v f="$fr" 'BEGIN{print h * 1000 / f}')" \
      "$(median <<<"${share[$1]}")"
  else
    printf "%-24s %10.1f %9.4f\n" "$1" "$q" "$(awk -v a="$q" -v b="$base" 'BEGIN{print a/b}')"
  fi
done

}

# The same figure seen from outside: perf's share of the process's CPU samples
# that fall in cpprof's code, next to cpprof's own clock over the same window.
hz="${rates[-1]}"
if perf record -o "$work/probe.data" -e cpu-clock true >/dev/null 2>&1; then
  start_server LD_PRELOAD="$preload" CPPROF_ADDR="127.0.0.1:$http"
  slap >/dev/null
  curl -s -o /dev/null "http://127.0.0.1:$http/debug/pprof/profile?seconds=600&hz=$hz" &
  profile_pid=$!
  for _ in $(seq 1 100); do [[ "$(metric cpu_sampling_hz)" == "$hz" ]] && break; sleep 0.1; done
  s0=$(metric cpu_handler_seconds_total); c0=$(proc_cpu)
  perf record -q -g -o "$work/perf.data" -e cpu-clock -F 1999 -p "$server_pid" >/dev/null 2>&1 &
  perf_pid=$!
  slap >/dev/null
  kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
  s1=$(metric cpu_handler_seconds_total); c1=$(proc_cpu)
  kill "$profile_pid" 2>/dev/null || true
  ours="$(awk -v a="$s0" -v b="$s1" -v c="$c0" -v d="$c1" 'BEGIN{printf "%.3f", (b - a) * 100 / (d - c)}')"
  # Inclusive share of the handler (cpprof keeps frame pointers, so perf's
  # call chains from the unwinder reach HandleCpuSignal).
  theirs="$(perf report -i "$work/perf.data" --children --sort=sym --stdio 2>/dev/null |
    awk '/\[\.\] cpprof::internal::HandleCpuSignal$/ && !seen {gsub("%", "", $1); print $1; seen = 1}')"
  kern="$(perf report -i "$work/perf.data" --no-children --sort=sym --stdio 2>/dev/null |
    awk '/\[k\] .*(rt_sigreturn|setup_rt_frame|restore_sigcontext|fpu__restore_sig|copy_fpstate_to_sigframe|get_signal|handle_signal|posix_cpu_timer|send_sigqueue)/ {gsub("%", "", $1); s += $1} END {printf "%.3f", s}')"
  stop_server
  echo "cpprof at $hz Hz, one window: handler share of the process's CPU by cpprof's clock ${ours}%," \
    "by perf (samples under HandleCpuSignal) ${theirs:-0}%, kernel signal delivery by perf ${kern}%"
else
  echo "perf cannot sample here: no outside figure"
fi
