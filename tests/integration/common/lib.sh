# SPDX-License-Identifier: Apache-2.0
#
# Shared helpers for the integration test scripts (source it, do not run it).
#
#   source "$(dirname "$0")/../common/lib.sh"
#   start_demo_server /path/to/cpprof_demo --threads 2   # sets SERVER_PID, PORT, BASE
#   pprof -top "$BASE/debug/pprof/profile?seconds=3" > top.txt
#   fail "message"                                      # prints and exits 1
#
# Every script gets a private scratch directory ($WORK) that is removed on
# exit, a private HOME (so go tool pprof writes nothing into the real one),
# and cleanup of every process it started through `track_pid`.

set -euo pipefail

COMMON_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
READER="$COMMON_DIR/pprof_reader.py"
# Inline python checks can `import pprof_reader`.
export PYTHONPATH="$COMMON_DIR${PYTHONPATH:+:$PYTHONPATH}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/cpprof-it.XXXXXX")"
export HOME="$WORK/home"
export PPROF_TMPDIR="$WORK/pprof"
export GOCACHE="$WORK/gocache"
mkdir -p "$HOME" "$PPROF_TMPDIR"
# go tool pprof must never fall back to a browser or to the network.
unset PPROF_BINARY_PATH DISPLAY BROWSER || true

TRACKED_PIDS=()

track_pid() { TRACKED_PIDS+=("$1"); }

cleanup() {
  local status=$?
  local pid
  for pid in "${TRACKED_PIDS[@]:-}"; do
    [[ -n "$pid" ]] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${TRACKED_PIDS[@]:-}"; do
    [[ -n "$pid" ]] || continue
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if ((status != 0)) && [[ -n "${KEEP_WORK_ON_FAILURE:-}" ]]; then
    echo "scratch directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $status
}
trap cleanup EXIT

log() { echo "--- $*" >&2; }

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Prints a file with a header, for failure diagnostics.
show() {
  echo "----- $1 -----" >&2
  head -c "${2:-6000}" "$1" >&2 || true
  echo >&2
}

# go tool pprof with the private HOME; never starts a browser.
# Fetches one CPU profile URL four ways at once (so the windows overlap, as a
# scraper and a person would): go tool pprof -top, -traces and -raw into
# $WORK/{top,traces,raw}.txt, and the bytes as served into $WORK/cpu.pb.gz
# (pprof -proto would save its own rewrite). Fails on any fetch error.
fetch_cpu_views() {
  local url="$1" p pids=()
  pprof -top "$url" >"$WORK/top.txt" 2>"$WORK/top.err" &
  pids+=("$!:top")
  pprof -traces "$url" >"$WORK/traces.txt" 2>"$WORK/traces.err" &
  pids+=("$!:traces")
  pprof -raw "$url" >"$WORK/raw.txt" 2>"$WORK/raw.err" &
  pids+=("$!:raw")
  curl -sf -o "$WORK/cpu.pb.gz" --max-time 90 "$url" 2>"$WORK/curl.err" &
  pids+=("$!:curl")
  for p in "${pids[@]}"; do
    wait "${p%%:*}" || { show "$WORK/${p#*:}.err"; show "$SERVER_LOG"; fail "fetch for ${p#*:} failed"; }
  done
}

pprof() {
  go tool pprof "$@"
}

# Prints a TCP port that was free a moment ago on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until GET $1 answers 200 (up to $2 seconds, default 10). Returns 1
# on timeout.
wait_http() {
  local url="$1" limit="${2:-10}" i
  for ((i = 0; i < limit * 10; i++)); do
    if curl -sf -o /dev/null --max-time 2 "$url"; then return 0; fi
    sleep 0.1
  done
  return 1
}

# start_demo_server BINARY ARGS...: runs a server binary that accepts
# `--addr HOST:PORT` and prints its endpoint as ".../127.0.0.1:PORT/...";
# binds port 0 so no other process can race for the port. Sets SERVER_PID,
# PORT, BASE (http://127.0.0.1:PORT) and SERVER_LOG.
start_demo_server() {
  local bin="$1"
  shift
  SERVER_LOG="$WORK/server.log"
  "$bin" --addr 127.0.0.1:0 "$@" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  track_pid "$SERVER_PID"
  local i
  PORT=""
  for ((i = 0; i < 100; i++)); do
    PORT="$(grep -o '127\.0\.0\.1:[0-9]*' "$SERVER_LOG" 2>/dev/null | head -1 | cut -d: -f2 || true)"
    [[ -n "$PORT" && "$PORT" != "0" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { show "$SERVER_LOG"; fail "$bin exited at start"; }
    sleep 0.1
  done
  [[ -n "$PORT" && "$PORT" != "0" ]] || { show "$SERVER_LOG"; fail "$bin did not print its port"; }
  BASE="http://127.0.0.1:$PORT"
  wait_http "$BASE/debug/pprof/" 10 || { show "$SERVER_LOG"; fail "endpoint $BASE did not come up"; }
}

# start_env_server CMD...: runs a program whose endpoint is started by the
# CPPROF_ADDR environment variable (linked or LD_PRELOADed), on a free port;
# retries with another port if the first was taken meanwhile. Extra
# environment goes in SERVER_ENV (an array of NAME=VALUE). Sets the same
# variables as start_demo_server.
start_env_server() {
  SERVER_LOG="$WORK/server.log"
  local attempt
  for attempt in 1 2 3 4 5; do
    PORT="$(free_port)"
    BASE="http://127.0.0.1:$PORT"
    env ${SERVER_ENV[@]+"${SERVER_ENV[@]}"} CPPROF_ADDR="127.0.0.1:$PORT" "$@" >"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    track_pid "$SERVER_PID"
    if wait_http "$BASE/debug/pprof/" 10 && kill -0 "$SERVER_PID" 2>/dev/null; then
      return 0
    fi
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    log "endpoint did not come up on port $PORT (attempt $attempt)"
  done
  show "$SERVER_LOG"
  fail "could not start $1 with CPPROF_ADDR"
}

# Open descriptors of a process.
fd_count() { ls "/proc/$1/fd" | wc -l; }

# Value of one Prometheus-style line from /debug/pprof/stats (any prefix).
stat_value() {
  curl -sf --max-time 5 "$BASE/debug/pprof/stats" |
    awk -v n="$1" '!found && $1 ~ ("(^|_)" n "$") {print $2; found = 1}'
}

# The first data row of `go tool pprof -top` output: the function name
# (everything after the five numeric columns).
top_entry() {
  awk 'f == 1 && NF >= 6 { $1=$2=$3=$4=$5=""; sub(/^ +/, ""); print; f = 2 } /flat%.*sum%.*cum/ && !f {f=1}' "$1"
}

assert_contains() {  # FILE PATTERN (grep -E) MESSAGE
  grep -Eq -- "$2" "$1" || { show "$1"; fail "$3"; }
}

assert_not_contains() {  # FILE PATTERN (grep -E) MESSAGE
  if grep -Eq -- "$2" "$1"; then
    grep -E -- "$2" "$1" | head -5 >&2
    show "$1"
    fail "$3"
  fi
}

# check_trace_chain TRACES_FILE URL TRACES_ARGS...: runs common/traces.py on
# the file; if no trace starts at the chain's leaf (too few samples of a
# small function), fetches up to three more `go tool pprof -traces URL`
# profiles and checks each. Returns traces.py's verdict.
check_trace_chain() {
  local file="$1" url="$2" attempt rc
  shift 2
  for attempt in 1 2 3 4; do
    rc=0
    python3 "$COMMON_DIR/traces.py" "$file" "$@" || rc=$?
    ((rc == 3)) || return $rc
    ((attempt < 4)) || break
    log "no sample at the chain's leaf yet; taking another profile ($attempt)"
    file="$WORK/traces.more.$attempt.txt"
    pprof -traces "$url" >"$file" 2>"$WORK/traces.more.err" || { show "$WORK/traces.more.err"; return 1; }
  done
  return 1
}
