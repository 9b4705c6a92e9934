#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Drives cpprof's own listener with curl and raw sockets:
#   errors in Go's format, oversized heads and bodies, a connection storm,
#   idle keep-alive clients not starving others, cancellation when a client
#   goes away, no fd/thread leak, Basic auth in the URL, and the refusal to
#   listen on a non-loopback address without a token, browser-origin checks.
# Usage: http_test.sh path/to/cpprof_http_test_server
set -u

SERVER_BIN=$1
WORK=$(mktemp -d)
TOKEN=s3cr3t-T0ken
PIDS=()
FAILURES=0

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }
check() {  # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# start_server NAME ARGS... -> sets PORT and SPID
start_server() {
  local name=$1; shift
  rm -f "$WORK/$name.port"
  "$SERVER_BIN" --port-file "$WORK/$name.port" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  SPID=$!
  PIDS+=("$SPID")
  for _ in $(seq 1 500); do
    [[ -s "$WORK/$name.port" ]] && break
    if ! kill -0 "$SPID" 2>/dev/null; then echo "server $name died:"; cat "$WORK/$name.err"; return 1; fi
    sleep 0.01
  done
  PORT=$(cat "$WORK/$name.port")
  BASE="http://127.0.0.1:$PORT/debug/pprof"
}

stop_server() {
  kill "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

count() { ls "/proc/$1/$2" | wc -l; }

AUTH=(-H "Authorization: Bearer $TOKEN")

# curl_status URL [ARGS...] -> prints the status code (000 when no answer)
curl_status() {
  local url=$1; shift
  curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$@" "$url"
}

# --- main server: token, default limits ----------------------------------
start_server main --addr 127.0.0.1:0 --token "$TOKEN" || exit 1
MAIN=$SPID
BASE_FDS=$(count "$MAIN" fd)
BASE_THREADS=$(count "$MAIN" task)
echo "server pid $MAIN port $PORT fds $BASE_FDS threads $BASE_THREADS"

# Unknown route: 404 in Go's error format.
curl -s -D "$WORK/h404" -o "$WORK/b404" "${AUTH[@]}" "$BASE/nosuch"
check "unknown profile is 404" grep -q '^HTTP/1.1 404' "$WORK/h404"
check "404 carries X-Go-Pprof" grep -qi '^X-Go-Pprof: 1' "$WORK/h404"
check "404 is text/plain" grep -qi '^Content-Type: text/plain; charset=utf-8' "$WORK/h404"
check "404 body names the profile" grep -qx 'Unknown profile: nosuch' "$WORK/b404"

# Authentication.
check "no token is 401" test "$(curl_status "$BASE/cmdline")" = 401
curl -s -D "$WORK/h401" -o /dev/null "$BASE/cmdline"
check "401 asks for Basic auth" grep -qi '^WWW-Authenticate: Basic realm="cpprof"' "$WORK/h401"
check "Basic auth in the URL works" test "$(curl_status "http://u:$TOKEN@127.0.0.1:$PORT/debug/pprof/cmdline")" = 200
check "wrong Basic password is 401" test "$(curl_status "http://u:nope@127.0.0.1:$PORT/debug/pprof/cmdline")" = 401
check "?token= works" test "$(curl_status "$BASE/cmdline?token=$TOKEN")" = 200
check "Bearer works" test "$(curl_status "$BASE/cmdline" "${AUTH[@]}")" = 200
curl -s "${AUTH[@]}" -o "$WORK/cmdline" "$BASE/cmdline"
check "cmdline is argv joined by NUL" bash -c "tr '\\0' '\\n' <'$WORK/cmdline' | grep -qx -- --port-file"

# Symbol route as pprof uses it (POST, then GET).
check "symbol GET answers num_symbols" test "$(curl -s "${AUTH[@]}" "$BASE/symbol")" = "num_symbols: 1"
check "symbol POST answers" bash -c "curl -s -H 'Authorization: Bearer $TOKEN' --data-binary '0x1+0x2' '$BASE/symbol' | head -1 | grep -qx 'num_symbols: 1'"

# An oversized head (64 KiB) is answered 431 or dropped; serving goes on.
BIG=$(head -c 65536 /dev/zero | tr '\0' 'a')
code=$(curl_status "$BASE/cmdline" "${AUTH[@]}" -H "X-Big: $BIG")
check "64 KiB header is refused (got $code)" test "$code" = 431 -o "$code" = 000
check "serving continues after the big header" test "$(curl_status "$BASE/cmdline" "${AUTH[@]}")" = 200

# A huge body is 413.
head -c $((4 * 1024 * 1024)) /dev/zero >"$WORK/big.body"
code=$(curl_status "$BASE/symbol" "${AUTH[@]}" --data-binary @"$WORK/big.body")
check "4 MiB body is 413 (got $code)" test "$code" = 413
code=$(curl_status "$BASE/symbol" "${AUTH[@]}" -H 'Expect:' --data-binary @"$WORK/big.body")
check "4 MiB body without Expect is 413 or dropped (got $code)" test "$code" = 413 -o "$code" = 000
check "chunked body is 411" test "$(curl_status "$BASE/symbol" "${AUTH[@]}" -H 'Transfer-Encoding: chunked' --data-binary 0x1)" = 411
check "serving continues after the big body" test "$(curl_status "$BASE/cmdline" "${AUTH[@]}")" = 200
check "PUT is 405" test "$(curl_status "$BASE/cmdline" "${AUTH[@]}" -X PUT)" = 405

# A client that goes away mid-request cancels it.
before=$(curl -s "${AUTH[@]}" "$BASE/slowstats" | awk '/^cancelled/ {print $2}')
curl -s -o /dev/null --max-time 1 "${AUTH[@]}" "$BASE/slow?ms=60000"
cancelled=$before
for _ in $(seq 1 100); do
  cancelled=$(curl -s "${AUTH[@]}" "$BASE/slowstats" | awk '/^cancelled/ {print $2}')
  [[ "$cancelled" -gt "$before" ]] && break
  sleep 0.05
done
check "disconnect cancels the running request ($before -> $cancelled)" test "$cancelled" -gt "$before"

# 200 concurrent connections: each answered or cleanly refused (503 or a
# closed connection), and the server serves afterwards.
: >"$WORK/urls"
for i in $(seq 1 200); do
  echo "url = \"$BASE/slow?ms=200&i=$i\"" >>"$WORK/urls"
  echo "output = /dev/null" >>"$WORK/urls"
done
curl -s --parallel --parallel-immediate --parallel-max 200 --max-time 60 "${AUTH[@]}" \
  -w '%{http_code}\n' -K "$WORK/urls" >"$WORK/storm" 2>/dev/null
ok=$(grep -c '^200$' "$WORK/storm")
refused=$(grep -cE '^(503|000)$' "$WORK/storm")
other=$(grep -cvE '^(200|503|000)$' "$WORK/storm")
echo "storm: $ok answered, $refused refused, $other other"
check "storm: every connection answered or refused" test "$((ok + refused))" -eq 200 -a "$other" -eq 0
check "storm: some requests were served" test "$ok" -gt 0
check "serving continues after the storm" test "$(curl_status "$BASE/cmdline" "${AUTH[@]}")" = 200

# Back to the baseline: connections closed, idle workers gone (they exit
# after 5 s idle).
fds=0; threads=0
for _ in $(seq 1 150); do
  fds=$(count "$MAIN" fd); threads=$(count "$MAIN" task)
  [[ "$fds" -eq "$BASE_FDS" && "$threads" -eq "$BASE_THREADS" ]] && break
  sleep 0.1
done
check "fd count back to baseline ($fds vs $BASE_FDS)" test "$fds" -eq "$BASE_FDS"
check "thread count back to baseline ($threads vs $BASE_THREADS)" test "$threads" -eq "$BASE_THREADS"
stop_server "$MAIN"

# --- idle keep-alive clients do not starve a third -------------------------
start_server ka --addr 127.0.0.1:0 --max-workers 2 --keep-alive-ms 60000 || exit 1
KA=$SPID
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&3
printf 'GET /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&4
read -r -t 5 line3 <&3
read -r -t 5 line4 <&4
check "first keep-alive client answered" test "${line3%$'\r'}" = "HTTP/1.1 200 OK"
check "second keep-alive client answered" test "${line4%$'\r'}" = "HTTP/1.1 200 OK"
# Both connections stay open and idle. With workers pinned by idle
# connections this third request would wait the 60 s keep-alive timeout.
code=$(curl_status "$BASE/cmdline" --max-time 10)
check "third client answered while two idle keep-alive connections are open" test "$code" = 200
exec 3>&- 4>&-

# Browser-origin safety on the listener without a token: another page's
# requests and names that are not this endpoint are 403, before anything
# runs; curl and go tool pprof style requests are served.
check "Host 127.0.0.1 is served" test "$(curl_status "$BASE/cmdline")" = 200
check "Host localhost is served" test "$(curl_status "http://localhost:$PORT/debug/pprof/cmdline")" = 200
code=$(curl_status "$BASE/cmdline" -H "Host: rebound.example:$PORT")
check "a DNS name in Host is 403 (got $code)" test "$code" = 403
curl -s -o "$WORK/b403" "$BASE/cmdline" -H "Host: rebound.example:$PORT"
check "the 403 says why" grep -q 'DNS rebinding' "$WORK/b403"
check "a foreign Origin is 403" test "$(curl_status "$BASE/symbol" --data-binary 0x1 -H 'Origin: http://attacker.example')" = 403
check "Sec-Fetch-Site: cross-site is 403" test "$(curl_status "$BASE/slow?ms=60000" -H 'Sec-Fetch-Site: cross-site')" = 403
check "the endpoint's own Origin is served" test "$(curl_status "$BASE/symbol" --data-binary 0x1 -H "Origin: http://127.0.0.1:$PORT")" = 200
stop_server "$KA"

# --- security policy --------------------------------------------------------
"$SERVER_BIN" --addr 0.0.0.0:0 >"$WORK/remote.out" 2>"$WORK/remote.err"
rc=$?
check "non-loopback bind without a token is refused (exit $rc)" test "$rc" -eq 2
check "the refusal says why" grep -q token "$WORK/remote.err"

if [[ $FAILURES -ne 0 ]]; then
  echo "$FAILURES check(s) failed"
  exit 1
fi
echo "all checks passed"
