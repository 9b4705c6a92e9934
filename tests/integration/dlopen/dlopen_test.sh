#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# libcpprof.so loaded late with dlopen (RTLD_LOCAL, then RTLD_GLOBAL) by a
# program that does not link it: the load succeeds (its initial-exec TLS
# fits glibc's static TLS surplus), the endpoint starts from CPPROF_ADDR,
# the index answers and a CPU profile names the program's busy function.
# (The interposed functions are not the process's in this mode: see
# docs/cmake.md.)
#
#   dlopen_test.sh DLOPEN_HOST LIBCPPROF_SO
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
host="$1" lib="$2"
for mode in local global; do
  start_env_server "$host" "$lib" "$mode"
  assert_contains "$SERVER_LOG" "loaded with dlopen, listening on" "dlopen host ($mode) did not start"
  pprof -top "$BASE/debug/pprof/profile?seconds=1" >"$WORK/top.$mode" 2>"$WORK/err" || { show "$WORK/err"; fail "CPU profile ($mode)"; }
  entry="$(top_entry "$WORK/top.$mode")"
  [[ "$entry" == *BurnAfterDlopen* ]] || { show "$WORK/top.$mode"; fail "top entry ($mode) is '$entry'"; }
  log "dlopen $mode: ok ($entry)"
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
done
