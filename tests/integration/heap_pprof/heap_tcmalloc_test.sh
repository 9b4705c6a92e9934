#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A host linked with gperftools' tcmalloc ahead of cpprof: tcmalloc is the
# process's malloc, cpprof's sampler is not in the path, and the heap routes
# read tcmalloc's own sampling (TCMALLOC_SAMPLE_PARAMETER=8192 here):
#   - the profile says so (comment), the stats page shows mode 3;
#   - the first frame of every stack is the host's allocating function (no
#     tcmalloc frames), and the totals are what go tool pprof itself makes of
#     tcmalloc's own heap_v2 text (debug=1), within 3 %. (Against the truth
#     they are not within 10 %: gperftools 2.10 under-samples small objects;
#     docs/heap.md has the numbers.)
#   - ?seconds=N gives a delta that shows a planted growth.
#
#   heap_tcmalloc_test.sh HOST
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/heap_lib.sh"
host="$1"

SERVER_ENV=(TCMALLOC_SAMPLE_PARAMETER=8192)
start_env_server "$host" --mixed 20000 --rare 10 --grow-prefix "$WORK/grow"
wait_line READY 60
curl -sf --max-time 60 -o "$WORK/heap.pb.gz" "$BASE/debug/pprof/heap" || fail "GET heap failed"
pprof -comments "$WORK/heap.pb.gz" >"$WORK/comments.txt" 2>&1
assert_contains "$WORK/comments.txt" "gperftools tcmalloc is the process's allocator; live objects from its own sampling \(one sample per 8192 bytes" \
  "the profile does not say it comes from tcmalloc's sampling"
curl -sf "$BASE/debug/pprof/stats" >"$WORK/stats.txt"
assert_contains "$WORK/stats.txt" '^cpprof_heap_mode 3$' "stats: heap mode is not 'another allocator first'"
top "$WORK/in_space.txt" inuse_space "$WORK/heap.pb.gz"
for site in SiteFixed SiteMixed RareBig RareSmall; do
  v="$(flat_of "$WORK/in_space.txt" "$site")"
  python3 -c "import sys; sys.exit(0 if float('${v:-0}') > 0 else 1)" ||
    { show "$WORK/in_space.txt"; fail "tcmalloc profile: $site is not the first frame of its samples"; }
done
assert_not_contains "$WORK/in_space.txt" "^ +[1-9][0-9.]*[kMG]?B .*(tcmalloc|libtcmalloc)" "tcmalloc frames are shown as allocation sites"
log "ok: tcmalloc's samples start at the host's allocating functions"

curl -sf --max-time 60 -o "$WORK/heap.txt" "$BASE/debug/pprof/heap?debug=1" || fail "GET heap?debug=1 failed"
curl -sf --max-time 60 -o "$WORK/heap_now.pb.gz" "$BASE/debug/pprof/heap" || fail "GET heap failed"
assert_contains "$WORK/heap.txt" "^heap profile: .*@ heap_v2/8192" "debug=1 is not tcmalloc's heap_v2 text"
top "$WORK/legacy.txt" space "$WORK/heap.txt" -symbolize=none
top "$WORK/proto.txt" inuse_space "$WORK/heap_now.pb.gz" -symbolize=none
l="$(total_of "$WORK/legacy.txt")" p="$(total_of "$WORK/proto.txt")"
python3 -c "import sys; sys.exit(0 if abs($l - $p) <= 0.03 * $l else 1)" ||
  { show "$WORK/legacy.txt"; show "$WORK/proto.txt"; fail "cpprof's reading of tcmalloc's samples ($p B) differs from pprof's ($l B)"; }
log "ok: in use $p B, as pprof reads tcmalloc's own text ($l B)"

curl -sf --max-time 60 -D "$WORK/delta.h" -o "$WORK/delta.pb.gz" "$BASE/debug/pprof/heap?seconds=8" &
delta_pid=$!
sleep 3
touch "$WORK/grow1"
wait "$delta_pid" || fail "GET heap?seconds=8 failed"
grep -q "GROWN 1" "$SERVER_LOG" || fail "growth did not happen inside the window"
assert_contains "$WORK/delta.h" 'filename="heap-delta"' "seconds=N profile is not named heap-delta"
top "$WORK/delta.txt" inuse_space "$WORK/delta.pb.gz"
within "$WORK/delta.txt" Grow "$((20000 * 256))" 0.10 "tcmalloc seconds=8 inuse_space"
echo PASS
