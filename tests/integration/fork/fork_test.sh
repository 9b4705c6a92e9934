#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# fork() without exec (fork_host.cc, a pre-forking server), while a CPU
# profile of the parent is running:
#   - each child starts its own endpoint (the parent's state does not stop
#     it) and profiles only itself: ChildBurn, never the parent's thread;
#   - the children hold none of the parent's descriptors: the parent's port
#     is listened on by the parent alone;
#   - the parent's running profile completes with its own samples;
#   - each child destroys its copy of the parent's Server and exits at once
#     (it must not wait for the parent's threads).
#
# With "env" the parent's endpoint is started by CPPROF_ADDR and each child
# starts its own with StartFromEnvironment() (CPPROF_ADDR=127.0.0.1:0).
#
#   fork_test.sh FORK_HOST [env]
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
if [[ "${2:-}" == env ]]; then
  start_env_server "$1" --env "$WORK/go" "$WORK/stop"
else
  start_demo_server "$1" "$WORK/go" "$WORK/stop"
fi
parent_port="$PORT"
parent="$BASE"

curl -sf --max-time 60 -o "$WORK/parent.pb.gz" "$parent/debug/pprof/profile?seconds=4" &
parent_profile=$!
track_pid "$parent_profile"
# Fork while the parent's profile runs.
for ((i = 0; i < 100; i++)); do [[ "$(stat_value cpu_profile_windows_open)" == 1 ]] && break; sleep 0.05; done
touch "$WORK/go"
# "port pid" of each child's endpoint.
child_endpoints() {
  grep -o '^CHILD PORT [0-9]* PID [0-9]*' "$SERVER_LOG" | awk '{print $3, $5}'
  grep -o 'endpoint on http://127\.0\.0\.1:[0-9]*/debug/pprof/ (pid [0-9]*)' "$SERVER_LOG" |
    sed -E 's|.*:([0-9]+)/debug/pprof/ \(pid ([0-9]+)\)|\1 \2|'
}
for ((i = 0; i < 200; i++)); do [[ "$(child_endpoints | wc -l)" == 2 ]] && break; sleep 0.05; done
[[ "$(child_endpoints | wc -l)" == 2 ]] || { show "$SERVER_LOG"; fail "the children did not start their endpoints"; }

# Only the parent listens on its port.
listeners="$(ss -Hltnp "sport = :$parent_port" | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' ')"
[[ "$listeners" == "pid=$SERVER_PID " ]] || fail "port $parent_port is held by: $listeners (parent $SERVER_PID)"

while read -r port pid; do
  child="http://127.0.0.1:$port"
  curl -sf --max-time 10 -o /dev/null "$child/debug/pprof/" || fail "child $pid: index failed"
  [[ "$(curl -sf --max-time 10 "$child/debug/pprof/cmdline" | tr '\0' ' ')" == *fork_host* ]] || fail "child $pid: cmdline"
  curl -sf --max-time 60 -o "$WORK/child-$pid.pb.gz" "$child/debug/pprof/profile?seconds=2" || fail "child $pid: CPU profile failed"
  pprof -top -nodecount=200 "$WORK/child-$pid.pb.gz" >"$WORK/child-$pid.txt" 2>&1 || { show "$WORK/child-$pid.txt"; fail "child $pid: pprof"; }
  assert_contains "$WORK/child-$pid.txt" "ChildBurn" "child $pid: its own busy function is not in its profile"
  assert_not_contains "$WORK/child-$pid.txt" "ParentBurn" "child $pid: its profile shows the parent's thread"
  listeners="$(ss -Hltnp "sport = :$port" | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' ')"
  [[ "$listeners" == "pid=$pid " ]] || fail "child port $port is held by: $listeners"
done < <(child_endpoints)
log "children: own endpoints and profiles"

wait "$parent_profile" || fail "the parent's profile failed across the fork"
pprof -top -nodecount=200 "$WORK/parent.pb.gz" >"$WORK/parent.txt" 2>&1 || { show "$WORK/parent.txt"; fail "parent: pprof"; }
assert_contains "$WORK/parent.txt" "ParentBurn" "the parent's profile lost its own samples"
assert_not_contains "$WORK/parent.txt" "ChildBurn" "the parent's profile shows a child's samples"
curl -sf --max-time 10 -o /dev/null "$parent/debug/pprof/" || fail "parent endpoint stopped answering"

touch "$WORK/stop"
host_rc=0
wait "$SERVER_PID" || host_rc=$?
cat "$SERVER_LOG"
((host_rc == 0)) && grep -q "CHILDREN OK" "$SERVER_LOG" || fail "a child did not exit cleanly (exit $host_rc)"
echo PASS
