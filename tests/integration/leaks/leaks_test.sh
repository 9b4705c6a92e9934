#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# /debug/pprof/leaks on leak_host.cc (every allocation sampled):
#   - every planted leak is reported (a list reached only from leaked
#     nodes, a cycle, the member of a freed container, an object held only
#     by a leaked glibc chunk cpprof did not sample, which needs glibc's heap
#     walked and traced rather than taken as a root; the leaked chunk itself
#     is counted exactly; also in a thread arena grown past one heap,
#     whose older heap ends in fenceposts, and in a chunk glibc mmapped),
#     read with go tool
#     pprof -top and in the debug=1 report; the dropped pointer's leak is
#     suppressed by CPPROF_LEAK_SUPPRESS and counted as such;
#   - nothing a live pointer reaches is (globals, interior and low-bit
#     tagged pointers, a blocked thread's thread_local and local, a pointer
#     only in a spinning thread's register, standard containers' contents);
#   - a pointer moved all the time between a global, a heap cell and a
#     running thread's stack and registers is never reported, in any of
#     100 single scans; an object declared with cpprof::IgnoreLeak neither;
#   - 100 scans while threads sit in epoll_wait, poll, nanosleep, read,
#     accept and a condition variable (one waking every millisecond): no call
#     returns EINTR;
#   - min_age hides young objects; bad parameters are 400; a second scan
#     while one runs is 409.
#
#   leaks_test.sh HOST
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
host="$1"
SERVER_ENV=(CPPROF_HEAP_RATE=1 "CPPROF_LEAK_SUPPRESS=leak:NotInThisProgram; leak:LeakDropped")
start_env_server "$host" "$WORK/go"
# The endpoint is up and idle: let the host plant its leaks.
touch "$WORK/go"
for ((i = 0; i < 100; i++)); do grep -q READY "$SERVER_LOG" && break; sleep 0.1; done
grep -q READY "$SERVER_LOG" || { show "$SERVER_LOG"; fail "host not ready"; }

curl -sf --max-time 60 -o "$WORK/leaks.pb.gz" "$BASE/debug/pprof/leaks?min_age=0" || fail "GET leaks failed"
pprof -top -nodecount=200 -nodefraction=0 -sample_index=leaked_objects "$WORK/leaks.pb.gz" >"$WORK/top.txt" 2>&1 ||
  { show "$WORK/top.txt"; fail "go tool pprof cannot read the leaks profile"; }
# (the report's heap figures, for a failure message)
curl -sf --max-time 60 -o "$WORK/first.txt" "$BASE/debug/pprof/leaks?min_age=0&debug=1" || true
for site in LeakListNode LeakCycleNode LeakFreedMember LeakViaUnsampled LeakViaArena LeakViaLaterHeap LeakViaMmapped; do
  assert_contains "$WORK/top.txt" "^ +[1-9][0-9]* .*$site\$" \
    "planted leak $site is not reported ($(grep -m1 '^# glibc heaps' "$WORK/first.txt"))"
done
assert_not_contains "$WORK/top.txt" "LeakDropped" "the suppressed leak (CPPROF_LEAK_SUPPRESS) is reported"
assert_contains "$WORK/top.txt" "^ +50 .*LeakListNode\$" "not all 50 leaked list nodes are reported"
assert_not_contains "$WORK/top.txt" "Kept[A-Za-z]+" "a reachable object is reported as leaked"
log "ok: the planted leaks, the suppressed one hidden, no reachable object"

curl -sf --max-time 60 -o "$WORK/leaks.txt" "$BASE/debug/pprof/leaks?min_age=0&debug=1" || fail "GET leaks?debug=1 failed"
assert_contains "$WORK/leaks.txt" "^leaks: [0-9]+ sampled objects unreachable" "debug=1 header"
assert_contains "$WORK/leaks.txt" "LeakFreedMember" "debug=1 does not name LeakFreedMember"
assert_contains "$WORK/leaks.txt" "^# 1 more suppressed" "debug=1 does not count the suppressed leak"
assert_contains "$WORK/leaks.txt" "^# glibc heaps walked: ([3-9]|[1-9][0-9]+) \(main heap included\): [0-9]+ chunks in use; ([2-9]|[1-9][0-9]+) unsampled chunks unreachable" \
  "debug=1: glibc's heap was not walked, or the leaked unsampled holder is not counted"
assert_contains "$WORK/leaks.txt" "; [1-9][0-9]* mmapped chunks among them" "debug=1: no mmapped chunk was traced"
assert_contains "$WORK/leaks.txt" "threads parked [0-9]+, left blocked [0-9]+" "debug=1 does not give the snapshot figures"
assert_not_contains "$WORK/leaks.txt" "Kept[A-Za-z]+" "debug=1 reports a reachable object"

curl -sf --max-time 60 -o "$WORK/young.txt" "$BASE/debug/pprof/leaks?min_age=3600&debug=1" || fail "GET leaks?min_age=3600 failed"
assert_contains "$WORK/young.txt" "^leaks: 0 sampled objects" "min_age=3600 still reports objects"

code="$(curl -s -o "$WORK/bad.txt" -w '%{http_code}' "$BASE/debug/pprof/leaks?min_age=-1")"
[[ "$code" == 400 ]] || fail "min_age=-1 answered $code"
assert_contains "$WORK/bad.txt" '"min_age"' "the 400 does not name min_age"
# Two at once: one of them is refused with 409 (whichever starts second).
pids=()
for k in 1 2; do
  curl -s --max-time 60 -o "$WORK/c$k.txt" -w '%{http_code}\n' "$BASE/debug/pprof/leaks?min_age=0&confirm_ms=3000" >"$WORK/code$k" &
  pids+=($!)
done
wait "${pids[@]}"
codes="$(cat "$WORK/code1" "$WORK/code2" | sort | tr '\n' ' ')"
[[ "$codes" == "200 409 " ]] || { show "$WORK/c1.txt"; show "$WORK/c2.txt"; fail "two concurrent scans answered $codes, want 200 and 409"; }
grep -q "already running" "$WORK/c1.txt" "$WORK/c2.txt" || fail "the 409 does not say a scan is running"
log "ok: min_age, bad input, one scan at a time"

for ((i = 0; i < 100; i++)); do
  curl -sf --max-time 60 -o "$WORK/scan.txt" "$BASE/debug/pprof/leaks?min_age=0&confirm_ms=0&debug=1" || fail "scan $i failed"
  assert_not_contains "$WORK/scan.txt" "Kept[A-Za-z]+" "single scan $i reports a reachable object (the moving pointer?)"
done
kill -0 "$SERVER_PID" || fail "host died during the scans"
assert_not_contains "$SERVER_LOG" "VIOLATION" "a blocked call returned EINTR during the scans"
stats="$(curl -sf "$BASE/debug/pprof/stats")"
grep -Eq '^cpprof_leak_scan_eintr_caused_total 0$' <<<"$stats" || fail "the stats page counts EINTRs caused by parking"
log "ok: 100 scans, no EINTR ($(grep -E '^cpprof_leak_scan' <<<"$stats" | tr '\n' ' '))"
echo PASS
