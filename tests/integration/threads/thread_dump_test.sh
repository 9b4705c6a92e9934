#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# N thread dumps (debug=2) of host_safety, whose threads block in
# epoll_wait, poll, select, nanosleep, sem_timedwait, a timed futex, recv
# with SO_RCVTIMEO, read, accept and a condition variable. Requires:
#   - the host saw no EINTR and no early return (its own checks);
#   - every blocked thread's stack is complete: it ends at clone3 (or
#     _start) with no "stack incomplete" mark, and a waiter's stack holds
#     the host's own frames (main's lambdas);
#   - each kind of wait was seen blocked with such a stack in at least a
#     third of the dumps;
#   - with signal=1 (20 more dumps) the busy threads' stacks come from the
#     signal, and the waiters still see no EINTR.
#
#   thread_dump_test.sh HOST_BIN DUMPS
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

bin="$1" dumps="$2"
start_demo_server "$bin" --seconds 240 --block-ms 300 --stop-file "$WORK/stop" --until-stop
log "host on $BASE; taking $dumps thread dumps"
# Let every waiter reach its first blocking call.
for ((i = 0; i < 100; i++)); do
  curl -sf --max-time 30 "$BASE/debug/pprof/threads?debug=2" >"$WORK/first.txt" || fail "first dump failed"
  [[ "$(grep -c '^thread .*"wait-' "$WORK/first.txt")" -ge 10 ]] && break
  sleep 0.1
done
for ((i = 0; i < dumps; i++)); do
  curl -sf --max-time 30 -o "$WORK/dump.$i.txt" "$BASE/debug/pprof/goroutine?debug=2" || fail "dump $i failed"
done
# signal=1: running threads (the two busy ones burn CPU all the time) are
# asked for their stacks; blocked ones are still read without a signal.
signalled=0
for ((i = 0; i < 20; i++)); do
  curl -sf --max-time 30 -o "$WORK/sig.txt" "$BASE/debug/pprof/threads?debug=2&signal=1" || fail "signal=1 dump failed"
  # The busy thread's whole entry (up to the blank line after it): under
  # ASan its innermost frames are often the clock_gettime interceptor's.
  if awk '/^thread [0-9]* "busy-[01]" \[running, stack by signal/ {on = 1} /^$/ {on = 0} on' "$WORK/sig.txt" |
    grep -q 'BurnCpu'; then
    signalled=$((signalled + 1))
  fi
done
# ThreadSanitizer defers an asynchronous signal to the thread's next
# intercepted call and hands the handler the context saved at delivery, by
# then stale: the dumps must still succeed without EINTR, but a busy
# thread's stack from the signal is not required there.
if [[ "${CPPROF_TEST_SANITIZE:-}" != *thread* ]]; then
  ((signalled > 0)) || { show "$WORK/sig.txt" 20000; fail "signal=1 never gave a busy thread's stack"; }
fi
log "signal=1: a busy thread's stack in $signalled of 20 dumps"
curl -sf "$BASE/debug/pprof/stats" | grep thread_dump_ || true
touch "$WORK/stop"
host_rc=0
wait "$SERVER_PID" || host_rc=$?
cat "$SERVER_LOG"
((host_rc == 0)) || fail "host reported EINTR or early returns, or crashed (exit $host_rc)"

python3 - "$WORK" "$dumps" <<'PY' || fail "thread dump content"
import re, sys
work, dumps = sys.argv[1], int(sys.argv[2])
expect = {  # thread name -> system calls its own wait may show
    "wait-epoll": ("epoll_wait", "epoll_pwait"), "wait-poll": ("poll", "ppoll"),
    "wait-select": ("select", "pselect6"), "wait-nanosleep": ("nanosleep", "clock_nanosleep"),
    "wait-sem": ("futex",), "wait-futex": ("futex",), "wait-recv": ("recvfrom",),
    "wait-read": ("read",), "wait-accept": ("accept", "accept4"), "wait-condvar": ("futex",),
}
reason = {"wait-sem": "semaphore wait", "wait-condvar": "cond wait"}
seen = {k: 0 for k in expect}
head = re.compile(r'^thread (\d+) "([^"]*)" \[([^\]]*)\]')
bad = []
for i in range(dumps):
    text = open("%s/dump.%d.txt" % (work, i)).read()
    for block in text.split("\n\n")[1:]:
        lines = block.split("\n")
        m = head.match(lines[0])
        if not m:
            continue
        tid, name, wait = m.group(1), m.group(2), m.group(3)
        if wait.startswith("running") or wait.startswith("exited"):
            continue
        funcs = [l for l in lines[1:] if l and not l.startswith("\t") and not l.startswith("created by")]
        complete = ("...stack incomplete" not in block and funcs and
                    funcs[-1].strip().split()[-1] in ("clone3", "_start", "clone"))
        if not complete:
            bad.append("dump %d: thread %s %s [%s] incomplete:\n%s" % (i, tid, name, wait, block[:3000]))
            continue
        if name in expect:
            if not any(re.search(r"\bmain\b", f) for f in funcs):
                bad.append("dump %d: thread %s %s [%s] lacks the host's frames:\n%s" % (i, tid, name, wait, block[:3000]))
                continue
            calls = [c.strip() for c in wait.split(",")]
            if any(c in calls for c in expect[name]) and (name not in reason or calls[0] == reason[name]):
                seen[name] += 1
if bad:
    print("%d incomplete or wrong stacks; first ones:" % len(bad))
    print("\n".join(bad[:3]))
    sys.exit(1)
print("blocked waits seen with complete stacks:", seen)
low = [k for k, v in seen.items() if v < dumps // 3]
if low:
    sys.exit("waits seen too rarely: %s" % low)
PY
log "PASS"
