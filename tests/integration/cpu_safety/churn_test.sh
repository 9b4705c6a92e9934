#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Churn: back-to-back 1 s CPU profiles at HZ for about SECONDS (at least
# two, however slow a sanitizer build makes them) while the
# host dlopens/dlcloses a library, creates and joins threads, and forks
# children (some exec /bin/true). Requires: the host exits 0 (no crash, no
# child killed by a signal, no stuck loop; ctest's timeout catches a
# deadlock), every profile answered 200 and is valid, and go tool pprof
# reads them.
#
#   churn_test.sh CHURN_BIN PLUGIN_SO SECONDS HZ
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

bin="$1" plugin="$2" seconds="$3" hz="$4"
stop_file="$WORK/stop" go_file="$WORK/go"
start_demo_server "$bin" --seconds "$((seconds + 250))" --plugin "$plugin" --stop-file "$stop_file" \
  --go-file "$go_file"
# Warm the symbolizer before the churn starts: a thread dump and a CPU
# profile index the modules the churn profiles name (in a TSan build that
# took over 100 s once it had to share two cores with the churning threads).
curl -sf -o "$WORK/warm.txt" --max-time 150 "$BASE/debug/pprof/goroutine?debug=2" ||
  { show "$SERVER_LOG"; fail "warm-up thread dump failed"; }
curl -sf -o "$WORK/warm.pb.gz" --max-time 150 "$BASE/debug/pprof/profile?seconds=1&hz=$hz" ||
  { show "$SERVER_LOG"; fail "warm-up profile failed"; }
touch "$go_file"
log "churn host on $BASE; profiles of 1 s at $hz Hz for ${seconds}s"

n=0
end=$((SECONDS + seconds))
while ((SECONDS < end || n < 2)); do
  n=$((n + 1))
  out="$WORK/cpu.$n.pb.gz"
  code="$(curl -s -o "$out" -w '%{http_code}' --max-time 150 \
    "$BASE/debug/pprof/profile?seconds=1&hz=$hz")" ||
    { show "$SERVER_LOG"; fail "profile $n: curl failed (server gone?)"; }
  [[ "$code" == 200 ]] || { show "$out"; show "$SERVER_LOG"; fail "profile $n answered $code"; }
done
touch "$stop_file"

python3 "$READER" check "$WORK"/cpu.*.pb.gz || fail "invalid profile"
pprof -raw "$WORK/cpu.$n.pb.gz" >"$WORK/raw.txt" 2>"$WORK/raw.err" || { show "$WORK/raw.err"; fail "go tool pprof rejected profile $n"; }
assert_contains "$WORK/raw.txt" '^Samples:' "go tool pprof -raw printed no samples"

host_rc=0
wait "$SERVER_PID" || host_rc=$?
cat "$SERVER_LOG"
((host_rc == 0)) || fail "churn host failed (exit $host_rc)"

python3 - "$WORK"/cpu.*.pb.gz <<'PY'
import sys
import pprof_reader
threads, plugin = {}, 0
for path in sys.argv[1:]:
    p = pprof_reader.load(path)
    for k, v in pprof_reader.sum_by_label(p, "thread", "samples").items():
        threads[k] = threads.get(k, 0) + v
    plugin += pprof_reader.cum_by_function(p, "samples").get("churn_plugin_work", 0)
print("%d profiles; samples by thread: %r; in churn_plugin_work: %d" % (
    len(sys.argv) - 1, dict(sorted(threads.items(), key=lambda kv: -kv[1])[:8]), plugin))
if threads.get("churn-busy", 0) == 0:
    sys.exit("FAIL: no samples from the churn-busy thread")
PY
log "PASS ($n profiles)"
