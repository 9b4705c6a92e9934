#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# fd_host --mode exhaust lowers its soft limit to 256 and opens descriptors
# from ExhaustOpen until EMFILE. Checks that the watchdog's warning came
# before the first EMFILE and names ExhaustOpen, and that with the host at
# its limit the index, fd?debug=1, /metrics and a CPU profile all answer.
#
#   emfile_test.sh FD_HOST_BIN
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

bin="$1"
start_demo_server "$bin" --mode exhaust
P="$BASE/debug/pprof"
for ((i = 0; i < 900; i++)); do
  grep -q '^at limit' "$SERVER_LOG" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { show "$SERVER_LOG"; fail "host exited"; }
  sleep 0.1
done
grep -q '^at limit [0-9]* open errno=EMFILE' "$SERVER_LOG" || { show "$SERVER_LOG"; fail "host did not reach EMFILE"; }
assert_contains "$SERVER_LOG" "^alert warn before emfile: yes" "no warning before the first EMFILE"
assert_contains "$SERVER_LOG" "^cpprof: open descriptors at [0-9]+% of the limit \([0-9]+ of RLIMIT_NOFILE 256\)" \
  "stderr lacks the limit warning"
assert_contains "$SERVER_LOG" "open, created at .*ExhaustOpen" "the warning does not name ExhaustOpen"
open_now="$(fd_count "$SERVER_PID")"
[[ "$open_now" == 256 ]] || fail "host holds $open_now descriptors, expected 256"

curl -sf --max-time 10 "$P/" >"$WORK/index.html" || fail "index did not answer at the limit"
assert_contains "$WORK/index.html" 'href="./fd' "index lacks fd"
curl -sf --max-time 30 "$P/fd?debug=1" >"$WORK/fd.txt" || fail "fd?debug=1 did not answer at the limit"
assert_contains "$WORK/fd.txt" "^fd profile: 256 open" "fd?debug=1 does not count 256"
assert_contains "$WORK/fd.txt" "ExhaustOpen" "fd?debug=1 does not name ExhaustOpen"
curl -sf --max-time 10 "$P/metrics" >"$WORK/metrics.txt" || fail "/metrics did not answer at the limit"
assert_contains "$WORK/metrics.txt" "^process_open_fds 256$" "process_open_fds is not 256"
assert_contains "$WORK/metrics.txt" "^process_max_fds 256$" "process_max_fds is not 256"
assert_contains "$WORK/metrics.txt" "^cpprof_fd_emfile_total [1-9]" "EMFILE not counted"
assert_contains "$WORK/metrics.txt" "^cpprof_fd_alerts_total [1-9]" "alerts not counted"
pprof -raw "$P/profile?seconds=1" >"$WORK/cpu.raw" 2>"$WORK/err" || { show "$WORK/err"; fail "CPU profile at the limit"; }
assert_contains "$WORK/cpu.raw" "^PeriodType: cpu nanoseconds" "CPU profile unreadable at the limit"
[[ "$(fd_count "$SERVER_PID")" == 256 ]] || fail "the host's descriptor count changed while serving"
log "endpoint at EMFILE: ok"
