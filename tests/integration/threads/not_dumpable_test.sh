#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A non-dumpable process run by a non-root user cannot read
# /proc/self/task/TID/syscall (EACCES): the thread dump says so in its
# header and proto comments, shows each thread's name, state and CPU time,
# and marks its stack unavailable instead of guessing. Needs root (to run
# the host as nobody with setpriv); skipped (77) otherwise.
#
#   not_dumpable_test.sh THREAD_HOST_BIN
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

bin="$1"
if [[ "$(id -u)" != 0 ]] || ! command -v setpriv >/dev/null; then
  echo "needs root and setpriv to run the host as another user; skipped"
  exit 77
fi
chmod 755 "$WORK"
# exec: $! must be the host itself, so that the cleanup stops it.
setpriv_host() { exec setpriv --reuid=65534 --regid=65534 --clear-groups "$bin" "$@"; }
SERVER_LOG="$WORK/server.log"
setpriv_host --addr 127.0.0.1:0 --mode idle --not-dumpable 1 >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
track_pid "$SERVER_PID"
for ((i = 0; i < 100; i++)); do
  PORT="$(grep -o '127\.0\.0\.1:[0-9]*' "$SERVER_LOG" 2>/dev/null | head -1 | cut -d: -f2 || true)"
  [[ -n "$PORT" ]] && break
  sleep 0.1
done
[[ -n "$PORT" ]] || { show "$SERVER_LOG"; fail "host did not start"; }
BASE="http://127.0.0.1:$PORT"
wait_http "$BASE/debug/pprof/" 10 || fail "endpoint did not come up"
curl -sf "$BASE/debug/pprof/goroutine?debug=2" >"$WORK/dump.txt" || fail "dump failed"
head -12 "$WORK/dump.txt"
assert_contains "$WORK/dump.txt" "^# /proc/self/task/TID/syscall cannot be read \\(Permission denied: the process is not dumpable\\)" \
  "the dump does not say why stacks are missing"
assert_contains "$WORK/dump.txt" "^thread [0-9]+ \"pool\" \\[unknown, state S\\] cpu [0-9.]+ ms:" "names, states and CPU times are not shown"
assert_contains "$WORK/dump.txt" "^\\[stack unavailable: " "threads are not marked as without a stack"
curl -sf -o "$WORK/g.pb.gz" "$BASE/debug/pprof/goroutine" || fail "proto failed"
python3 - "$WORK/g.pb.gz" <<'PY' || fail "proto comment"
import sys, pprof_reader
p = pprof_reader.load(sys.argv[1])
assert any("not dumpable" in c for c in p.comments), p.comments
PY
log "PASS"
