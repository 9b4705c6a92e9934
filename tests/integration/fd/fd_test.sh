#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# On fd_host --mode leak (one leaking function per kind of descriptor), with
# descriptor 7 inherited from this script:
#   - go tool pprof reads /debug/pprof/fd (fds/count) and each leak site is
#     the top entry for its type (-tagfocus type=...) with its exact count;
#     OpenAndClose (50 opened and closed) is absent; the inherited
#     descriptor is "unknown origin" with its path;
#   - fclose'd descriptors disappear; seconds=N holds only what was created
#     in the window (LeakLate's eventfds);
#   - debug=1 lists descriptors with type, target and flags under their
#     creation stacks; index, index.json and stats know the route;
#   - bad input gets a 400 naming it.
#
#   fd_test.sh FD_HOST_BIN
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

bin="$1"
exec 7</etc/hostname
start_demo_server "$bin" --mode leak
exec 7<&-
P="$BASE/debug/pprof"
wait_log() {  # LINE
  local i
  for ((i = 0; i < 300; i++)); do
    grep -qx "$1" "$SERVER_LOG" && return 0
    sleep 0.1
  done
  show "$SERVER_LOG"
  fail "host did not print '$1'"
}
wait_log leaked

pprof -raw "$P/fd" >"$WORK/fd.raw" 2>"$WORK/err" || { show "$WORK/err"; fail "pprof -raw fd"; }
assert_contains "$WORK/fd.raw" "^PeriodType: fds count" "fd period type"
assert_contains "$WORK/fd.raw" "^fds/count" "fd sample type"

# Top entry per type, with its flat count.
check_top() {  # TYPE FUNCTION COUNT
  pprof -top -tagfocus "type=$1" "$P/fd" >"$WORK/top.$1" 2>"$WORK/err" || { show "$WORK/err"; fail "pprof -top type=$1"; }
  local entry flat
  entry="$(top_entry "$WORK/top.$1")"
  flat="$(awk '/flat%.*sum%.*cum/ {getline; print $1; exit}' "$WORK/top.$1")"
  [[ "$entry" == *"$2"* ]] || { show "$WORK/top.$1"; fail "top entry for type=$1 is '$entry', expected $2"; }
  [[ "$flat" == "$3" ]] || { show "$WORK/top.$1"; fail "$2 holds $flat descriptors of type $1, expected $3"; }
  log "type=$1: $entry $flat"
}
check_top socket LeakSocket 4
check_top pipe LeakPipe 6
check_top device LeakOpen 5
check_top dir LeakOpendir 2

pprof -traces "$P/fd" >"$WORK/fd.traces" 2>"$WORK/err" || { show "$WORK/err"; fail "pprof -traces fd"; }
python3 - "$WORK/fd.traces" <<'PY' || { show "$WORK/fd.traces"; fail "fd traces"; }
import re, sys
SEP = "-----------+-------------------------------------------------------"
counts, types, unknown_targets = {}, {}, []
for t in open(sys.argv[1]).read().split(SEP):
    labels = dict(re.findall(r"^\s*(\w+):\s+(.*)$", t, re.M))
    frames = re.findall(r"^\s+(?:(\d+)\s+)?(\S.*)$", t, re.M)
    frames = [f for f in frames if not re.match(r"^\s*\w+:\s", f[1])]
    if not frames:
        continue
    n = int(frames[0][0] or 1)
    leaf = frames[0][1]
    if "unknown origin" in leaf:
        unknown_targets.append(labels.get("target", ""))
        continue
    for site in ("LeakOpen", "LeakSocket", "LeakPipe", "LeakFopen", "LeakOpendir", "LeakMkstemp", "LeakPopen",
                 "OpenAndClose"):
        if re.search(r"(^|::)" + site + r"(\(.*\))?$", leaf):
            counts[site] = counts.get(site, 0) + n
            types.setdefault(site, set()).add(labels.get("type"))
print("sites:", counts, types)
print("unknown origin:", unknown_targets)
want = {"LeakOpen": 5, "LeakSocket": 4, "LeakPipe": 6, "LeakFopen": 3, "LeakOpendir": 2, "LeakMkstemp": 2,
        "LeakPopen": 1}
for site, n in want.items():
    assert counts.get(site) == n, (site, counts.get(site), n)
assert "OpenAndClose" not in counts, counts
assert types["LeakMkstemp"] == {"file"}, types
assert types["LeakPopen"] == {"pipe"}, types
assert "/etc/hostname" in unknown_targets, unknown_targets
PY

curl -sf "$P/fd?debug=1" >"$WORK/fd.txt" || fail "fd?debug=1 failed"
assert_contains "$WORK/fd.txt" "^fd profile: [0-9]+ open, [0-9]+ of unknown origin" "debug=1 header"
assert_contains "$WORK/fd.txt" "^4 descriptors created at:" "debug=1 lacks the socket group"
assert_contains "$WORK/fd.txt" "LeakSocket.*fd_host.cc:[0-9]+" "debug=1 lacks LeakSocket with file:line"
assert_contains "$WORK/fd.txt" "#   fd [0-9]+ +socket +age [0-9]+s +O_RDWR +socket" "debug=1 lacks a socket line"
assert_contains "$WORK/fd.txt" "#   fd 7 +file .*O_RDONLY" "debug=1 lacks the inherited descriptor"
assert_contains "$WORK/fd.txt" "descriptors of unknown origin" "debug=1 lacks the unknown-origin group"

# fclose: LeakFopen's descriptors go away.
kill -USR1 "$SERVER_PID"
wait_log closed
pprof -traces "$P/fd" >"$WORK/fd2.traces" 2>"$WORK/err" || { show "$WORK/err"; fail "pprof -traces fd (2)"; }
assert_not_contains "$WORK/fd2.traces" "LeakFopen" "closed descriptors are still listed"
assert_contains "$WORK/fd2.traces" "LeakSocket" "open descriptors vanished"

# seconds=N: only what was created in the window and is still open.
hdr="$WORK/delta.hdr"
curl -s -D "$hdr" -o "$WORK/delta.pb.gz" "$P/fd?seconds=3" &
curl_pid=$!
sleep 1
kill -USR2 "$SERVER_PID"
wait "$curl_pid" || fail "fd?seconds=3 failed"
grep -qi 'filename="fd-delta"' "$hdr" || { show "$hdr"; fail "seconds=3 is not an fd-delta"; }
pprof -traces "$WORK/delta.pb.gz" >"$WORK/delta.traces" 2>"$WORK/err" || { show "$WORK/err"; fail "delta unreadable"; }
assert_contains "$WORK/delta.traces" "LeakLate" "delta lacks the window's eventfds"
assert_contains "$WORK/delta.traces" "type:  eventfd" "delta lacks the eventfd type"
assert_not_contains "$WORK/delta.traces" "LeakSocket|unknown origin" "delta holds descriptors from before the window"

curl -sf "$P/" >"$WORK/index.html" || fail "index failed"
assert_contains "$WORK/index.html" 'href="./fd' "index does not list fd"
curl -sf "$P/index.json" >"$WORK/index.json" || fail "index.json failed"
python3 - "$WORK/index.json" <<'PY' || fail "index.json"
import json, sys
d = {p["name"]: p for p in json.load(open(sys.argv[1]))["profiles"]}
assert "fd" in d and d["fd"]["seconds_delta"] and d["fd"]["count"] >= 25, d.get("fd")
PY
created="$(stat_value fd_created_total)"
[[ -n "$created" ]] && python3 -c "import sys; sys.exit(0 if float('$created') >= 70 else 1)" ||
  fail "fd_created_total is '$created'"

for bad in "debug=x" "debug=3" "seconds=0" "seconds=1&debug=1" "nosuch=1"; do
  code="$(curl -s -o "$WORK/bad.txt" -w '%{http_code}' "$P/fd?$bad")"
  [[ "$code" == 400 ]] || { show "$WORK/bad.txt"; fail "fd?$bad answered $code, expected 400"; }
  [[ -s "$WORK/bad.txt" ]] || fail "fd?$bad: empty 400 body"
done
log "fd route: ok"
