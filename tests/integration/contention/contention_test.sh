#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Mutex and block profiles as go tool pprof (Go 1.19) reads them, on a host
# with known contention (contention_host.cc), every event recorded
# (CPPROF_MUTEX_FRACTION=1, CPPROF_BLOCK_RATE=1):
#   - holder attribution: the mutex profile charges HolderRound (the code
#     that unlocked) the waiters' delay up to its unlocks, within 10 % of the
#     host's own steady_clock measurement, in 5 contentions; the block
#     profile charges Waiter (the waiting code) the waiters' whole waits
#     within 10 %, in 15;
#   - coverage: every std:: lock type and condition-variable wait is in the
#     block profile at its waiting function; a recursive re-lock by the owner
#     is not; condition-variable waits are not in the mutex profile; cpprof's
#     own threads' waits are in neither;
#   - Go's proto (sample types, period type, -raw), debug=1 text that pprof
#     reads, ?seconds=N (filename mutex-delta), delta_mutex/delta_block
#     (each call: the change since the previous call), bad input -> 400
#     naming it, index / index.json / stats entries;
#   - the same coverage with cpprof linked statically, with static
#     libstdc++, and LD_PRELOADed into a build of the host without cpprof.
#
#   contention_test.sh HOST_SHARED HOST_STATIC HOST_STATIC_LIBSTDCXX HOST_PLAIN PRELOAD_SO
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../heap_pprof/heap_lib.sh"
host_shared="$1" host_static="$2" host_libstdcxx="$3" host_plain="$4" preload="$5"

WAIT_SITES=(WaitStdMutex WaitTimedMutexFor WaitTimedMutexUntil WaitRecursiveMutex WaitSharedMutex
  WaitSharedMutexShared WaitSharedTimedMutex WaitSharedTimedMutexShared WaitCondVar WaitCondVarFor
  WaitCondVarAny)

# cum value (ns) of the function whose name ends with $2 in `-top -cum` output $1 ("" if absent)
cum_of() {
  python3 - "$1" "$2" <<'PY'
import re, sys
rows = False
for line in open(sys.argv[1]).read().splitlines():
    if re.search(r'flat%.*sum%.*cum', line):
        rows = True
        continue
    parts = line.split(None, 5)
    if not rows or len(parts) < 6:
        continue
    name = re.sub(r' \[clone [^]]*\]', '', parts[5].replace(' (inline)', ''))
    if name == sys.argv[2] or name.endswith('::' + sys.argv[2]):
        m = re.match(r'^(-?[0-9.]+)([a-z]*)$', parts[3])
        scale = {'': 1, 'ns': 1, 'us': 1e3, 'ms': 1e6, 's': 1e9}[m.group(2)]
        print(int(float(m.group(1)) * scale))
        break
PY
}

top_cum() {  # OUT SAMPLE_INDEX URL
  pprof -top -cum -nodecount=1000 -nodefraction=0 -edgefraction=0 -sample_index="$2" -unit=ns "$3" >"$1" 2>"$1.err" ||
    { show "$1.err"; fail "go tool pprof -top -sample_index=$2 $3 failed"; }
}

near() {  # GOT WANT TOLERANCE LABEL
  python3 -c "import sys; g,w,t=float('$1'),float('$2'),float('$3'); sys.exit(0 if abs(g-w) <= t*w else 1)" ||
    fail "$4: $1, want $2 within $(python3 -c "print(int(100*$3))")%"
  log "ok: $4 = $1 (truth $2)"
}

# Every waiting site in the block profile, nothing of RelockRecursive; no
# condition-variable wait in the mutex profile; no cpprof thread in either.
check_coverage() {  # LABEL
  top_cum "$WORK/block.txt" delay "$BASE/debug/pprof/block"
  top_cum "$WORK/mutex.txt" delay "$BASE/debug/pprof/mutex"
  local site
  for site in "${WAIT_SITES[@]}" Waiter; do
    [[ -n "$(cum_of "$WORK/block.txt" "$site")" ]] || { show "$WORK/block.txt"; fail "$1: $site missing from the block profile"; }
  done
  assert_not_contains "$WORK/block.txt" "RelockRecursive" "$1: a recursive re-lock by its owner counted as blocking"
  assert_not_contains "$WORK/mutex.txt" "WaitCondVar" "$1: a condition-variable wait in the mutex profile"
  assert_not_contains "$WORK/block.txt" "cpprof::internal::(WorkerPool|PeriodicThread|CpuProfiler)" \
    "$1: cpprof's own threads' waits in the block profile"
  [[ -n "$(cum_of "$WORK/mutex.txt" HolderRound)" ]] || { show "$WORK/mutex.txt"; fail "$1: HolderRound missing from the mutex profile"; }
  log "ok: $1: all ${#WAIT_SITES[@]} wait sites seen, re-lock and cpprof's waits not"
}

SERVER_ENV=(CPPROF_MUTEX_FRACTION=1 CPPROF_BLOCK_RATE=1)

# ---------------------------------------------------------------- linked host
start_env_server "$host_shared"
wait_line READY 120
log "host on $BASE"
check_coverage "linked"

holder_truth="$(truth holder_ns 3)"
waits_truth="$(truth waits_ns 3)"
near "$(cum_of "$WORK/mutex.txt" HolderRound)" "$holder_truth" 0.10 "mutex delay charged to HolderRound"
near "$(cum_of "$WORK/block.txt" Waiter)" "$waits_truth" 0.10 "block delay of Waiter"
top_cum "$WORK/mutex_n.txt" contentions "$BASE/debug/pprof/mutex"
top_cum "$WORK/block_n.txt" contentions "$BASE/debug/pprof/block"
[[ "$(cum_of "$WORK/mutex_n.txt" HolderRound)" == 5 ]] || { show "$WORK/mutex_n.txt"; fail "HolderRound: want 5 contentions"; }
[[ "$(cum_of "$WORK/block_n.txt" Waiter)" == 15 ]] || { show "$WORK/block_n.txt"; fail "Waiter: want 15 contentions"; }

# The proto as go tool pprof -raw shows it.
pprof -raw "$BASE/debug/pprof/mutex" >"$WORK/raw.txt" 2>"$WORK/raw.err" || { show "$WORK/raw.err"; fail "pprof -raw mutex"; }
assert_contains "$WORK/raw.txt" "^PeriodType: contentions count" "mutex: period type"
assert_contains "$WORK/raw.txt" "^contentions/count delay/nanoseconds" "mutex: sample types"
pprof -raw "$BASE/debug/pprof/block" >"$WORK/raw_block.txt" 2>&1 || fail "pprof -raw block"
assert_contains "$WORK/raw_block.txt" "kind:\[mutex\]" "block: kind label mutex"
assert_contains "$WORK/raw_block.txt" "kind:\[rwlock\]" "block: kind label rwlock"
assert_contains "$WORK/raw_block.txt" "kind:\[cond\]" "block: kind label cond"

# debug=1: Go's text, which go tool pprof reads with the same totals.
curl -sf "$BASE/debug/pprof/mutex?debug=1" >"$WORK/mutex1.txt" || fail "mutex?debug=1"
assert_contains "$WORK/mutex1.txt" "^--- mutex:" "mutex?debug=1: Go's header"
assert_contains "$WORK/mutex1.txt" "HolderRound" "mutex?debug=1: symbolized frames"
curl -sf "$BASE/debug/pprof/block?debug=1" >"$WORK/block1.txt" || fail "block?debug=1"
assert_contains "$WORK/block1.txt" "^--- contention:" "block?debug=1: Go's header"
top_cum "$WORK/mutex_text.txt" delay "$BASE/debug/pprof/mutex?debug=1"
near "$(cum_of "$WORK/mutex_text.txt" HolderRound)" "$(cum_of "$WORK/mutex.txt" HolderRound)" 0.001 \
  "HolderRound read by pprof from debug=1 text"

# Deltas: nothing contends any more, so a window and a second delta_ call are empty.
curl -sf -D "$WORK/h.txt" -o "$WORK/delta.pb.gz" "$BASE/debug/pprof/mutex?seconds=1" || fail "mutex?seconds=1"
assert_contains "$WORK/h.txt" 'filename="mutex-delta"' "mutex?seconds: Go's filename"
pprof -raw "$WORK/delta.pb.gz" >"$WORK/delta.txt" 2>&1 || fail "pprof -raw of the delta"
assert_not_contains "$WORK/delta.txt" "^ +[1-9][0-9]* +[0-9]+:" "mutex?seconds=1: contention that happened before the window"
top_cum "$WORK/d1.txt" delay "$BASE/debug/pprof/delta_block"
[[ -n "$(cum_of "$WORK/d1.txt" Waiter)" ]] || { show "$WORK/d1.txt"; fail "delta_block: first call lacks Waiter"; }
top_cum "$WORK/d2.txt" delay "$BASE/debug/pprof/delta_block"
[[ -z "$(cum_of "$WORK/d2.txt" Waiter)" ]] || { show "$WORK/d2.txt"; fail "delta_block: second call repeats Waiter"; }
log "ok: deltas"

# Bad input.
for q in "debug=3" "seconds=0" "seconds=1&debug=1" "frac=2"; do
  code="$(curl -s -o "$WORK/err.txt" -w '%{http_code}' "$BASE/debug/pprof/mutex?$q")"
  [[ "$code" == 400 ]] || { show "$WORK/err.txt"; fail "mutex?$q: HTTP $code, want 400"; }
  [[ -s "$WORK/err.txt" ]] || fail "mutex?$q: 400 without a reason"
done
assert_contains "$WORK/err.txt" '"frac"' "unknown parameter not named"

# Index, index.json, stats.
curl -sf "$BASE/debug/pprof/" >"$WORK/index.html" || fail "index"
for n in mutex block delta_mutex delta_block; do
  assert_contains "$WORK/index.html" "\./$n" "index lacks $n"
done
assert_contains "$WORK/index.html" "every contended unlock recorded" "index lacks the mutex sampling setting"
curl -sf "$BASE/debug/pprof/index.json" >"$WORK/index.json" || fail "index.json"
python3 - "$WORK/index.json" <<'PY' || fail "index.json: mutex/block entries"
import json, sys
d = json.load(open(sys.argv[1]))
names = {p["name"]: p for p in d["profiles"]}
for n in ("mutex", "block", "delta_mutex", "delta_block"):
    assert n in names, n
assert names["mutex"].get("seconds_delta") is True
PY
[[ "$(stat_value mutex_profile_fraction)" == 1 ]] || fail "stats: mutex_profile_fraction"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true

# ------------------------------------------------ other ways cpprof is linked
start_env_server "$host_static"
wait_line READY 120
check_coverage "static library"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true

start_env_server "$host_libstdcxx"
wait_line READY 120
check_coverage "static libstdc++"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true

SERVER_ENV+=(LD_PRELOAD="$preload")
start_env_server "$host_plain"
wait_line READY 120
check_coverage "LD_PRELOAD"
near "$(cum_of "$WORK/mutex.txt" HolderRound)" "$(truth holder_ns 3)" 0.10 "LD_PRELOAD: mutex delay charged to HolderRound"
echo "PASS"
