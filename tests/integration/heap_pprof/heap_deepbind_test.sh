#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A library opened with RTLD_DEEPBIND frees and resizes sampled objects with
# glibc's own free and realloc (deepbind_host.cc). Linked and LD_PRELOADed:
#   - the host runs on (glibc takes the objects for its mmapped chunks);
#   - the heap profile, read by go tool pprof, shows none of the freed or
#     moved objects in use, the kept ones at their size, and every one of
#     them allocated; the stats page counts the objects freed outside;
#   - a leak scan reports the real leak and nothing else: not what the
#     moved or shrunk chunks (glibc's now) still point to, nor cpprof's own
#     objects.
#
#   heap_deepbind_test.sh HOST_LINKED HOST_PLAIN PRELOAD_SO PLUGIN_SO
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/heap_lib.sh"
host_linked="$1" host_plain="$2" preload="$3" plugin="$4"

check_host() {  # LABEL
  local label="$1"
  wait_line READY 60
  top "$WORK/inuse.txt" inuse_space "$BASE/debug/pprof/heap"
  top "$WORK/alloc.txt" alloc_space "$BASE/debug/pprof/heap"
  within "$WORK/inuse.txt" KeptSite 3000000 0.05 "$label inuse_space"
  within "$WORK/inuse.txt" LeakSite 270000 0.05 "$label inuse_space"
  within "$WORK/inuse.txt" HeldByMovedSite 600000 0.05 "$label inuse_space"
  within "$WORK/inuse.txt" HeldByShrunkSite 200000 0.05 "$label inuse_space"
  for site in DeepFreedSite MovedSite ShrunkSite; do
    local v
    v="$(flat_of "$WORK/inuse.txt" "$site")"
    [[ -z "$v" || "${v%.*}" == 0 ]] || { show "$WORK/inuse.txt"; fail "$label: $site freed or moved by glibc, still in use ($v)"; }
  done
  log "ok: $label: objects glibc freed or moved are out of inuse_space"
  within "$WORK/alloc.txt" DeepFreedSite 8000000 0.05 "$label alloc_space"
  within "$WORK/alloc.txt" MovedSite 1000000 0.05 "$label alloc_space"
  within "$WORK/alloc.txt" ShrunkSite 1000000 0.05 "$label alloc_space"
  local outside
  outside="$(stat_value heap_samples_freed_outside_total)"
  ((${outside%.*} >= 260)) || fail "$label: heap_samples_freed_outside_total is $outside, want about 270"
  log "ok: $label: $outside samples freed outside cpprof counted"
  curl -sf --max-time 60 -o "$WORK/leaks.txt" "$BASE/debug/pprof/leaks?min_age=0&debug=1" || fail "$label: leak scan failed"
  assert_contains "$WORK/leaks.txt" "LeakSite" "$label: the real leak is not reported"
  # Nothing else either: cpprof's own objects (the symbolizer's, built for
  # the profiles above) included.
  assert_contains "$WORK/leaks.txt" "^leaks: [0-9]+ sampled objects unreachable .* at 1 allocation sites" \
    "$label: the leak scan reports more than the real leak"
  assert_not_contains "$WORK/leaks.txt" "(HeldBy[A-Za-z]+|KeptSite|DeepFreedSite|MovedSite|ShrunkSite)" \
    "$label: the leak scan reports an object that is freed or reachable"
  log "ok: $label: leak scan finds LeakSite only"
  kill -0 "$SERVER_PID" || fail "$label: host died"
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
}

SERVER_ENV=(CPPROF_HEAP_RATE=1024)
start_env_server "$host_linked" "$plugin"
check_host linked

SERVER_ENV=(CPPROF_HEAP_RATE=1024 LD_PRELOAD="$preload")
start_env_server "$host_plain" "$plugin"
check_host preload
echo PASS
