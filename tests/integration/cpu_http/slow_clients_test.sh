#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Slow and long clients cannot make the endpoint unreachable (defaults of
# the demo: 16 workers, 128 connections, max_long_requests 12):
#   - 64 slow readers hold connections that never read their answers, 8 of
#     them answers larger than the kernel's socket buffers (so the loop
#     keeps them unsent);
#   - 16 CPU profiles at once: 12 run, the 4 beyond max_long_requests get
#     429 naming the limit;
#   - meanwhile the index, stats and symbol answer within a second;
#   - when the readers go away, their connections and descriptors go too.
#
#   slow_clients_test.sh DEMO
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
start_demo_server "$1" --seconds 300
fds_before="$(fd_count "$SERVER_PID")"

# A symbol query whose answer (names of libcpprof's code, else the largest
# mapped code) is several MiB: more than a loopback socket buffers.
python3 - "$SERVER_PID" "$WORK/symbols.txt" <<'PY'
import sys
pid, out = sys.argv[1], sys.argv[2]
segs = []
for line in open(f"/proc/{pid}/maps"):
    f = line.split()
    if len(f) >= 6 and f[1] == "r-xp":
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        segs.append(("libcpprof" in f[5], hi - lo, lo, hi))
segs.sort(reverse=True)
_, _, lo, hi = segs[0]
step = max(1, (hi - lo) // 55000)
open(out, "w").write("+".join(hex(a) for a in range(lo, hi, step)[:55000]))
PY

python3 - "$PORT" "$WORK/symbols.txt" "$WORK/readers.ready" "$WORK/readers.stop" >"$WORK/readers.log" 2>&1 <<'PY' &
import os, socket, sys, time
port, symbols, ready, stop = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3], sys.argv[4]
socks = []
for i in range(64):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    if i < 8:
        req = (b"POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(symbols)) + symbols
    else:
        req = b"GET /debug/pprof/ui/app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    s.sendall(req)
    socks.append(s)
open(ready, "w").close()
deadline = time.time() + 240
while not os.path.exists(stop) and time.time() < deadline:
    time.sleep(0.05)
PY
READERS_PID=$!
track_pid "$READERS_PID"
for ((i = 0; i < 600; i++)); do [[ -f "$WORK/readers.ready" ]] && break; sleep 0.1; done
[[ -f "$WORK/readers.ready" ]] || { show "$WORK/readers.log"; fail "slow readers did not connect"; }
# The 8 large answers are made and wait, unsent, in the event loop.
for ((i = 0; i < 600; i++)); do
  [[ "$(stat_value http_sending)" -ge 8 ]] 2>/dev/null && break
  sleep 0.1
done
[[ "$(stat_value http_sending)" -ge 8 ]] || fail "the large answers are not waiting to be sent ($(stat_value http_sending))"
log "64 slow readers connected, $(stat_value http_sending) answers unsent"

# 16 CPU profiles at once.
for ((k = 0; k < 16; k++)); do
  curl -s --max-time 60 -o "$WORK/p$k.out" -w '%{http_code}\n' "$BASE/debug/pprof/profile?seconds=8" >"$WORK/p$k.code" &
  track_pid $!
done
for ((i = 0; i < 300; i++)); do
  [[ "$(stat_value http_long_running)" == 12 && "$(cat "$WORK"/p*.code 2>/dev/null | grep -c 429)" == 4 ]] && break
  sleep 0.1
done
[[ "$(stat_value http_long_running)" == 12 ]] || fail "want 12 profiles running, have $(stat_value http_long_running)"

# Everything else still answers at once.
times=()
for path in "" stats "symbol" "" "ui/" "" stats; do
  t="$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %{time_total}' "$BASE/debug/pprof/$path")"
  [[ "${t%% *}" == 200 ]] || fail "/debug/pprof/$path answered ${t%% *} while busy"
  times+=("${t#* }")
done
log "answer times while busy: ${times[*]}"
python3 - "${times[@]}" <<'PY' || fail "the endpoint was slow to answer while busy: ${times[*]}"
import sys
t = sorted(float(x) for x in sys.argv[1:])
sys.exit(0 if t[len(t) // 2] < 1.0 and t[-1] < 3.0 else 1)
PY
[[ "$(stat_value http_sending)" -ge 8 ]] || fail "the large answers were sent meanwhile: the test proves nothing"

wait_codes() {
  for ((i = 0; i < 600; i++)); do
    [[ "$(cat "$WORK"/p*.code 2>/dev/null | wc -l)" == 16 ]] && return 0
    sleep 0.1
  done
  return 1
}
wait_codes || fail "the profiles did not all end"
codes="$(cat "$WORK"/p*.code | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
[[ "$codes" == " 12 200; 4 429;" ]] || fail "want 12 × 200 and 4 × 429, got $codes"
for ((k = 0; k < 16; k++)); do
  if [[ "$(cat "$WORK/p$k.code")" == 429 ]]; then
    assert_contains "$WORK/p$k.out" "max_long_requests" "the 429 does not name the limit"
  fi
done
log "profiles: $codes"

touch "$WORK/readers.stop"
wait "$READERS_PID" || true
for ((i = 0; i < 100; i++)); do
  [[ "$(stat_value http_sending)" == 0 && "$(fd_count "$SERVER_PID")" -le "$fds_before" ]] && break
  sleep 0.1
done
[[ "$(stat_value http_sending)" == 0 ]] || fail "closed readers still counted as sending"
fds_after="$(fd_count "$SERVER_PID")"
((fds_after <= fds_before)) || fail "descriptors before $fds_before, after $fds_after"
echo PASS
