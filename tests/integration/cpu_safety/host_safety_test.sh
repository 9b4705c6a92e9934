#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Host safety: profiles host_safety over HTTP (seconds=$2, hz=$3) while its
# threads sit in blocking calls, then requires that every call behaved (the
# host's own checks, see host_safety.cc) and that the profile is valid and
# has the busy threads' samples.
#
#   host_safety_test.sh HOST_SAFETY_BIN PROFILE_SECONDS HZ
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

bin="$1" seconds="$2" hz="$3"
start_demo_server "$bin" --seconds "$((seconds + 3))" --stop-file "$WORK/stop"
log "host on $BASE; profiling for ${seconds}s at ${hz} Hz while its threads block"

code="$(curl -s -o "$WORK/cpu.pb.gz" -w '%{http_code}' --max-time "$((seconds + 150))" \
  "$BASE/debug/pprof/profile?seconds=$seconds&hz=$hz")" || fail "profile request failed (curl)"
[[ "$code" == 200 ]] || { show "$WORK/cpu.pb.gz"; fail "profile request answered $code"; }
touch "$WORK/stop"

host_rc=0
wait "$SERVER_PID" || host_rc=$?
cat "$SERVER_LOG"
((host_rc == 0)) || fail "host reported blocking-call violations or crashed (exit $host_rc)"

python3 "$READER" check "$WORK/cpu.pb.gz" || fail "profile is not valid"
python3 - "$WORK/cpu.pb.gz" "$hz" <<'PY' || fail "profile content"
import sys
import pprof_reader
p = pprof_reader.load(sys.argv[1])
hz = int(sys.argv[2])
assert p.period == 10**9 // hz, "period %d for %d Hz" % (p.period, hz)
threads = pprof_reader.sum_by_label(p, "thread", "samples")
print("samples by thread:", dict(sorted(threads.items(), key=lambda kv: -kv[1])[:12]))
for t in ("busy-0", "busy-1"):
    if threads.get(t, 0) == 0:
        sys.exit("no samples for thread %s" % t)
PY
log "PASS"
