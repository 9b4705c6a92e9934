#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# A host linked with jemalloc ahead of cpprof, started with
# MALLOC_CONF=prof:true,prof_accum:true,lg_prof_sample:11 (one sample per
# 2 KiB, cumulative counts kept): jemalloc is the process's malloc and the
# heap routes read its own sampling (mallctl prof.dump):
#   - the profile says so (comment) and the stats page shows mode 3;
#   - go tool pprof's in-use estimates of the known live sets are within
#     10 % of the truth (20 % for mixed sizes: jemalloc counts size-class
#     bytes), each at its own allocating function (no jemalloc frames first);
#   - alloc_space of objects allocated and freed (Transient) and of kept
#     ones within 10 %, from jemalloc's cumulative counts; allocs defaults
#     to alloc_space;
#   - debug=1 is jemalloc's own dump; ?seconds=N shows a planted growth.
#
#   heap_jemalloc_test.sh HOST
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/heap_lib.sh"
host="$1"

SERVER_ENV=("MALLOC_CONF=prof:true,prof_accum:true,lg_prof_sample:11")
start_env_server "$host" --mixed 20000 --rare 10 --grow-prefix "$WORK/grow"
wait_line READY 60
curl -sf --max-time 60 -o "$WORK/heap.pb.gz" "$BASE/debug/pprof/heap" || fail "GET heap failed"
pprof -comments "$WORK/heap.pb.gz" >"$WORK/comments.txt" 2>&1
assert_contains "$WORK/comments.txt" "jemalloc is the process's allocator; live objects from its own sampling \(one sample per 2048 bytes" \
  "the profile does not say it comes from jemalloc's sampling"
curl -sf "$BASE/debug/pprof/stats" >"$WORK/stats.txt"
assert_contains "$WORK/stats.txt" '^cpprof_heap_mode 3$' "stats: heap mode is not 'another allocator first'"
top "$WORK/in_space.txt" inuse_space "$WORK/heap.pb.gz"
top "$WORK/in_objects.txt" inuse_objects "$WORK/heap.pb.gz"
for site in SiteFixed RareBig RareSmall; do
  within "$WORK/in_space.txt" "$site" "$(truth $site 4)" 0.10 "jemalloc inuse_space"
done
# jemalloc counts the bytes of its size classes, not the bytes asked for: on
# sizes spread over 16 B - 4 KiB that is about 10 % more.
within "$WORK/in_space.txt" SiteMixed "$(truth SiteMixed 4)" 0.20 "jemalloc inuse_space (size classes)"
within "$WORK/in_objects.txt" SiteFixed "$(truth SiteFixed 3)" 0.10 "jemalloc inuse_objects"
assert_not_contains "$WORK/in_space.txt" "^ +[1-9][0-9.]*[kMG]?B .*(je_|jemalloc)" "jemalloc frames are shown as allocation sites"
assert_contains "$WORK/comments.txt" "alloc_\* from its cumulative counts \(prof_accum\)" "the profile does not say alloc_* come from prof_accum"
top "$WORK/al_space.txt" alloc_space "$WORK/heap.pb.gz"
within "$WORK/al_space.txt" Transient "$(truth Transient 4)" 0.10 "jemalloc alloc_space (freed objects)"
within "$WORK/al_space.txt" SiteFixed "$(truth SiteFixed 4)" 0.10 "jemalloc alloc_space (kept objects)"
pprof -top "$BASE/debug/pprof/allocs" >"$WORK/allocs.txt" 2>&1 || { show "$WORK/allocs.txt"; fail "pprof allocs failed"; }
assert_contains "$WORK/allocs.txt" "^Type: alloc_space" "allocs does not default to alloc_space"

curl -sf --max-time 60 -o "$WORK/heap.txt" "$BASE/debug/pprof/heap?debug=1" || fail "GET heap?debug=1 failed"
assert_contains "$WORK/heap.txt" "^heap_v2/2048" "debug=1 is not jemalloc's dump"

curl -sf --max-time 60 -o "$WORK/delta.pb.gz" "$BASE/debug/pprof/heap?seconds=8" &
delta_pid=$!
sleep 3
touch "$WORK/grow1"
wait "$delta_pid" || fail "GET heap?seconds=8 failed"
grep -q "GROWN 1" "$SERVER_LOG" || fail "growth did not happen inside the window"
top "$WORK/delta.txt" inuse_space "$WORK/delta.pb.gz"
within "$WORK/delta.txt" Grow "$((20000 * 256))" 0.10 "jemalloc seconds=8 inuse_space"
echo PASS
