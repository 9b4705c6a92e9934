#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The endpoint never leaks a descriptor: 1000 requests of every kind (pages,
# profiles, 404s, malformed requests, clients that connect and vanish,
# clients that abort a long profile, keep-alive connections) leave the
# host's descriptor table and the endpoint's private one as they were.
#
#   requests_test.sh FD_HOST_BIN
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

bin="$1"
start_demo_server "$bin" --mode churn
loop_tid=""
for t in /proc/"$SERVER_PID"/task/*; do
  [[ "$(cat "$t/comm")" == cpprof-http ]] && loop_tid="${t##*/}"
done
[[ -n "$loop_tid" ]] || fail "no cpprof-http thread"
private_count() { ls "/proc/$SERVER_PID/task/$loop_tid/fd" | wc -l; }
host_before="$(fd_count "$SERVER_PID")"
private_before="$(private_count)"
log "before: host table $host_before, endpoint table $private_before"

python3 - "$PORT" <<'PY' || fail "request load"
import http.client, socket, sys, time
port = int(sys.argv[1])
n = 0
def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return r.status
keep = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
paths = ["/debug/pprof/", "/debug/pprof/fd?debug=1", "/debug/pprof/stats", "/debug/pprof/nosuch",
         "/debug/pprof/fd?debug=x", "/debug/pprof/cmdline", "/debug/pprof/index.json", "/metrics"]
for i in range(1000):
    kind = i % 10
    if kind < 5:    # keep-alive requests
        get(keep, paths[i % len(paths)])
    elif kind == 5:  # a new connection per request
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        get(c, paths[i % len(paths)])
        c.close()
    elif kind == 6:  # connect and vanish
        s = socket.create_connection(("127.0.0.1", port))
        s.close()
    elif kind == 7:  # half a request, then gone
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /debug/pprof/ HTTP/1.1\r\nHost: 127.0.0.1")
        s.close()
    elif kind == 8:  # malformed
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"BLAH\x00\x01 / HTTP/9\r\n\r\n")
        s.settimeout(10)
        try:
            s.recv(4096)
        except OSError:
            pass
        s.close()
    else:            # a long profile, aborted
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /debug/pprof/fd?seconds=5 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.01)
        s.close()
    n += 1
keep.close()
print("requests:", n)
PY

# Connections close asynchronously (aborted profiles notice within their
# poll slice): wait for both tables to come back.
for ((i = 0; i < 300; i++)); do
  host_after="$(fd_count "$SERVER_PID")"
  private_after="$(private_count)"
  [[ "$host_after" == "$host_before" && "$private_after" == "$private_before" ]] && break
  sleep 0.1
done
log "after: host table $host_after, endpoint table $private_after"
[[ "$host_after" == "$host_before" ]] || { ls -l /proc/"$SERVER_PID"/fd >&2; fail "host table grew: $host_before -> $host_after"; }
[[ "$private_after" == "$private_before" ]] || {
  ls -l /proc/"$SERVER_PID"/task/"$loop_tid"/fd >&2
  fail "endpoint table grew: $private_before -> $private_after"
}
log "no descriptor leaked over 1000 requests"
