#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The own listener with TLS (CPPROF_TLS_CERT, CPPROF_TLS_KEY) and a token,
# on the demo started through CPPROF_ADDR:
#   - curl verifies the (self-signed) certificate and reads the index, two
#     requests on one kept-alive connection, a large body (index.json);
#   - without the token: 401; plain HTTP on the TLS port gets no answer and
#     the endpoint keeps serving;
#   - go tool pprof reads a CPU profile over https+insecure:// with the
#     token as the Basic password;
#   - a certificate that cannot be loaded stops the endpoint from starting,
#     with a message naming the file.
#
#   tls_test.sh DEMO_BIN
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
bin="$1"
command -v openssl >/dev/null || fail "openssl not installed"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
  -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" >/dev/null 2>&1 ||
  fail "openssl could not make a certificate"
token="tls-test-token"

start_tls() {  # extra environment...
  local attempt
  SERVER_LOG="$WORK/server.log"
  for attempt in 1 2 3 4 5; do
    PORT="$(free_port)"
    BASE="https://127.0.0.1:$PORT"
    env "$@" CPPROF_ADDR="127.0.0.1:$PORT" CPPROF_TOKEN="$token" "$bin" --threads 1 >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    track_pid "$SERVER_PID"
    local i
    for ((i = 0; i < 100; i++)); do
      if curl -s -o /dev/null --max-time 2 --cacert "$WORK/cert.pem" -H "Authorization: Bearer $token" \
          "$BASE/debug/pprof/"; then
        return 0
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  done
  show "$SERVER_LOG"
  fail "the TLS endpoint did not come up"
}

start_tls CPPROF_TLS_CERT="$WORK/cert.pem" CPPROF_TLS_KEY="$WORK/key.pem"
P="$BASE/debug/pprof"
auth=(-H "Authorization: Bearer $token")
code="$(curl -s -o "$WORK/index.html" -w '%{http_code}' --cacert "$WORK/cert.pem" "${auth[@]}" "$P/")"
[[ "$code" == 200 ]] || fail "index over TLS answered $code"
assert_contains "$WORK/index.html" 'href="./profile' "index over TLS lacks the profile link"
# Two requests on one connection, and a body larger than one TLS record.
curl -s --cacert "$WORK/cert.pem" "${auth[@]}" -o "$WORK/a.json" "$P/index.json" -o "$WORK/b.txt" "$P/stats" \
  -w '%{num_connects} ' >"$WORK/connects.txt" || fail "keep-alive over TLS"
[[ "$(tr -s ' ' '\n' <"$WORK/connects.txt" | awk '{s+=$1} END {print s}')" == 1 ]] ||
  fail "two requests took $(cat "$WORK/connects.txt") connections"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/a.json" || fail "index.json over TLS is not JSON"
curl -s --cacert "$WORK/cert.pem" "${auth[@]}" -o "$WORK/ui.js" "$P/ui/app.js" || fail "page file over TLS"
[[ "$(stat -c %s "$WORK/ui.js")" -gt 20000 ]] || fail "page file over TLS truncated"
code="$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" "$P/")"
[[ "$code" == 401 ]] || fail "no token over TLS answered $code, want 401"
# Plain HTTP on the TLS port: no HTTP answer; the endpoint goes on.
if curl -s --max-time 5 -o "$WORK/plain.txt" "http://127.0.0.1:$PORT/debug/pprof/"; then
  grep -q "HTTP/1" "$WORK/plain.txt" && fail "plain HTTP got an HTTP answer on the TLS port"
fi
code="$(curl -s -o /dev/null -w '%{http_code}' --cacert "$WORK/cert.pem" "${auth[@]}" "$P/")"
[[ "$code" == 200 ]] || fail "the endpoint stopped serving after a plain HTTP client ($code)"
pprof -raw "https+insecure://user:$token@127.0.0.1:$PORT/debug/pprof/profile?seconds=1" >"$WORK/cpu.raw" 2>"$WORK/err" ||
  { show "$WORK/err"; fail "go tool pprof over https+insecure"; }
assert_contains "$WORK/cpu.raw" "^PeriodType: cpu nanoseconds" "CPU profile over TLS"
assert_contains "$WORK/cpu.raw" "demo::" "CPU profile over TLS lacks the demo's functions"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
log "TLS: ok"

# A certificate that cannot be loaded: no endpoint, a message naming it.
PORT="$(free_port)"
CPPROF_ADDR="127.0.0.1:$PORT" CPPROF_TOKEN="$token" CPPROF_TLS_CERT="$WORK/missing.pem" CPPROF_TLS_KEY="$WORK/key.pem" \
  "$bin" --threads 1 --seconds 3 >"$WORK/bad.log" 2>&1 || true
assert_contains "$WORK/bad.log" "TLS: cannot load the certificate .*missing.pem" "no message for a missing certificate"
log "TLS with a bad certificate: refused at start"
