#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# On thread_host --mode leak (a thread every 100 ms from LeakyStarter, never
# joined; a fixed pool of four from PoolStarter; short-lived threads from
# ChurnStarter), with a leak-detector point every 200 ms:
#   - /debug/pprof/thread_leaks names LeakyStarter, and neither the pool nor
#     the churn; the index page and the thread dump's header name it too;
#   - go tool pprof reads threadcreate (-raw: threadcreate/count; -traces:
#     the leaky site with its live threads, the pool with exactly 4) and
#     goroutine (goroutine/count; the sleepers' stacks), and a seconds=N
#     delta;
#   - bad input gets a 400 naming it on every thread route.
#
#   leak_test.sh THREAD_HOST_BIN
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

bin="$1"
start_demo_server "$bin" --mode leak --leak-interval-ms 200 --every-ms 100
P="$BASE/debug/pprof"

found=0
for ((i = 0; i < 600; i++)); do
  curl -sf --max-time 30 -o "$WORK/leaks.txt" "$P/thread_leaks?debug=1" || fail "thread_leaks failed"
  if grep -q 'LeakyStarter' "$WORK/leaks.txt"; then found=1; break; fi
  sleep 0.1
done
((found)) || { show "$WORK/leaks.txt"; fail "the leak detector did not name LeakyStarter"; }
cat "$WORK/leaks.txt" | head -20
assert_not_contains "$WORK/leaks.txt" "PoolStarter|ChurnStarter" "a fixed pool or churn was reported as a leak"
curl -sf "$P/" >"$WORK/index.html" || fail "index failed"
assert_contains "$WORK/index.html" "THREAD LEAK suspected.*LeakyStarter" "index page does not show the suspect"
for name in goroutine threads threadcreate thread_leaks; do
  assert_contains "$WORK/index.html" "href=\"./$name" "index page does not list $name"
done
curl -sf "$P/index.json" >"$WORK/index.json" || fail "index.json failed"
python3 - "$WORK/index.json" <<'PY' || fail "index.json"
import json, sys
d = {p["name"]: p for p in json.load(open(sys.argv[1]))["profiles"]}
for n in ("goroutine", "threads", "threadcreate", "thread_leaks"):
    assert n in d, n
assert d["goroutine"]["seconds_delta"] and d["goroutine"]["count"] >= 8, d["goroutine"]
PY
curl -sf "$P/goroutine?debug=2" >"$WORK/dump.txt" || fail "dump failed"
assert_contains "$WORK/dump.txt" "^# THREAD LEAK suspect: .*LeakyStarter" "thread dump header does not name the leak"
assert_contains "$WORK/dump.txt" "^created by .*StartDetached.* in thread [0-9]+" "a leaky thread's block lacks its creator"

pprof -raw "$P/threadcreate" >"$WORK/tc.raw" 2>"$WORK/tc.err" || { show "$WORK/tc.err"; fail "pprof -raw threadcreate"; }
assert_contains "$WORK/tc.raw" "^PeriodType: threadcreate count" "threadcreate period type"
assert_contains "$WORK/tc.raw" "^threadcreate/count" "threadcreate sample type"
pprof -traces "$P/threadcreate" >"$WORK/tc.traces" 2>"$WORK/tc.err" || { show "$WORK/tc.err"; fail "pprof -traces threadcreate"; }
python3 - "$WORK/tc.traces" <<'PY' || fail "threadcreate traces"
import re, sys
traces = open(sys.argv[1]).read().split("-----------+-------------------------------------------------------")
counts = {}
for t in traces:
    m = re.search(r"^\s+(\d+)\s+\S", t, re.M)
    if not m:
        continue
    for fn in ("LeakyStarter", "PoolStarter", "unknown creator"):
        if fn in t:
            counts[fn] = counts.get(fn, 0) + int(m.group(1))
print("threadcreate:", counts)
assert counts.get("LeakyStarter", 0) >= 10, counts
assert counts.get("PoolStarter") == 4, counts
assert counts.get("unknown creator", 0) >= 1, counts   # the main thread
PY
pprof -raw "$P/goroutine" >"$WORK/g.raw" 2>"$WORK/g.err" || { show "$WORK/g.err"; fail "pprof -raw goroutine"; }
assert_contains "$WORK/g.raw" "^PeriodType: goroutine count" "goroutine period type"
assert_contains "$WORK/g.raw" "^goroutine/count" "goroutine sample type"
pprof -traces "$P/goroutine" >"$WORK/g.traces" 2>"$WORK/g.err" || { show "$WORK/g.err"; fail "pprof -traces goroutine"; }
assert_contains "$WORK/g.traces" "thread:.*leaky" "goroutine traces lack the thread label"
python3 "$COMMON_DIR/traces.py" "$WORK/g.traces" --chain pause Sleeper start_thread --root clone3 ||
  { show "$WORK/g.traces"; fail "no sleeper stack pause <- Sleeper <- start_thread <- clone3"; }
hdr="$(curl -s -D - -o "$WORK/delta.pb.gz" "$P/goroutine?seconds=1")"
grep -qi 'filename="goroutine-delta"' <<<"$hdr" || { echo "$hdr"; fail "seconds=1 is not a goroutine-delta"; }
# Deltas may be negative (threads that ended), as Go's: read it with pprof.
pprof -raw "$WORK/delta.pb.gz" >"$WORK/delta.raw" 2>"$WORK/delta.err" || { show "$WORK/delta.err"; fail "delta profile unreadable"; }
assert_contains "$WORK/delta.raw" "^Duration: 1s" "delta profile lacks its duration"

for route in goroutine threads threadcreate; do
  for q in "debug=3:debug" "debug=1&seconds=1:seconds and debug" "seconds=0:seconds" "signal=1&x=2:unknown parameter" "bogus=1:bogus"; do
    code="$(curl -s -o "$WORK/err.txt" -D "$WORK/err.hdr" -w '%{http_code}' "$P/$route?${q%%:*}")"
    [[ "$code" == 400 ]] || { show "$WORK/err.txt"; fail "$route?${q%%:*} answered $code, want 400"; }
    grep -q "${q#*:}" "$WORK/err.txt" || { show "$WORK/err.txt"; fail "$route?${q%%:*}: message does not name ${q#*:}"; }
    grep -qi '^X-Go-Pprof: 1' "$WORK/err.hdr" || fail "$route error lacks X-Go-Pprof"
  done
done
code="$(curl -s -o "$WORK/err.txt" -w '%{http_code}' "$P/thread_leaks?seconds=5")"
[[ "$code" == 400 ]] && grep -q seconds "$WORK/err.txt" || fail "thread_leaks?seconds=5 answered $code"
log "PASS"
