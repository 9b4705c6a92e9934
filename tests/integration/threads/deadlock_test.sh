#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A planted deadlock (two threads, two mutexes taken in opposite orders) is
# reported by the thread dump as a cycle naming both tids, in debug=2, in
# debug=1's header and as a comment of the proto; each thread's own block
# names the mutex and its owner.
#
#   deadlock_test.sh THREAD_HOST_BIN
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

bin="$1"
start_demo_server "$bin" --mode deadlock
for ((i = 0; i < 300; i++)); do
  grep -q '^deadlock tids' "$SERVER_LOG" && break
  sleep 0.1
done
read -r _ _ t1 t2 < <(grep '^deadlock tids' "$SERVER_LOG") || fail "host did not deadlock"
log "deadlocked threads $t1 and $t2"
# Both threads reach the futex wait a moment after printing: wait for the cycle.
found=0
for ((i = 0; i < 100; i++)); do
  curl -sf --max-time 30 -o "$WORK/dump.txt" "$BASE/debug/pprof/goroutine?debug=2" || fail "dump failed"
  if grep -q '^# DEADLOCK' "$WORK/dump.txt"; then found=1; break; fi
  sleep 0.1
done
((found)) || { show "$WORK/dump.txt" 20000; fail "no DEADLOCK line"; }
line="$(grep '^# DEADLOCK' "$WORK/dump.txt")"
echo "$line"
lo=$((t1 < t2 ? t1 : t2)) hi=$((t1 < t2 ? t2 : t1))
[[ "$line" == *"(tids $lo $hi)"* ]] || fail "cycle does not name tids $lo and $hi: $line"
assert_contains "$WORK/dump.txt" "^thread $t1 \"lock-ab\" \\[mutex wait, futex, .*mutex 0x[0-9a-f]+ held by thread $t2 \"lock-ba\"" \
  "thread $t1 does not name its mutex's owner $t2"
assert_contains "$WORK/dump.txt" "^thread $t2 \"lock-ba\" \\[mutex wait, futex, .*held by thread $t1 \"lock-ab\"" \
  "thread $t2 does not name its mutex's owner $t1"
# Each waiter's stack goes through pthread_mutex_lock into the host's function.
python3 - "$WORK/dump.txt" "$t1" "$t2" <<'PY' || fail "deadlocked stacks"
import sys
text = open(sys.argv[1]).read()
for tid, fn in ((sys.argv[2], "LockAThenB"), (sys.argv[3], "LockBThenA")):
    block = [b for b in text.split("\n\n") if b.startswith("thread %s " % tid)][0]
    assert "pthread_mutex_lock" in block and fn in block and "clone3" in block, block
PY
curl -sf "$BASE/debug/pprof/goroutine?debug=1" >"$WORK/d1.txt" || fail "debug=1 failed"
assert_contains "$WORK/d1.txt" "^# DEADLOCK: .*\\(tids $lo $hi\\)" "debug=1 header lacks the deadlock"
curl -sf -o "$WORK/g.pb.gz" "$BASE/debug/pprof/goroutine" || fail "proto failed"
python3 - "$WORK/g.pb.gz" "$lo" "$hi" <<'PY' || fail "proto comment"
import sys, pprof_reader
p = pprof_reader.load(sys.argv[1])
assert any("DEADLOCK" in c and "(tids %s %s)" % (sys.argv[2], sys.argv[3]) in c for c in p.comments), p.comments
PY
log "PASS"
