#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Heap profiles as go tool pprof (Go 1.19) reads them, on a host with known
# live sets (heap_host.cc) sampled at CPPROF_HEAP_RATE=2048:
#   - accuracy: inuse_space / inuse_objects of one size (SiteFixed), mixed
#     16 B - 4 KiB (SiteMixed), rare 1 MiB blocks (RareBig) among 32-byte
#     objects (RareSmall), and alloc_space / alloc_objects of freed objects
#     (Transient) within 10 % of the truth, read from `go tool pprof -top
#     -unit=B -sample_index=...` (not only our decoder), with >= 10k samples;
#   - the proto: period_type space/bytes, period 2048, Go's four sample types
#     in Go's order (-raw), allocs defaulting to alloc_space, the bytes label;
#   - debug=1: Go's legacy text, which go tool pprof unsamples itself, gives
#     the same estimates;
#   - growth: -diff_base of two snapshots, ?seconds=N (filename heap-delta)
#     and delta_heap each show a planted growth (Grow) and no steady-state
#     churn (Churn's in-use does not move, Transient is not re-reported);
#   - heap_growth (leak suspects by trend) names a site that keeps growing
#     and none of the steady ones;
#   - bad input answers 400 naming the problem; gc=1 is accepted;
#   - the index, index.json and the stats page list the heap kinds;
#   - LD_PRELOAD on a build of the host without cpprof gives the same
#     estimates with symbolized stacks.
#
#   heap_pprof_test.sh HOST_LINKED HOST_PLAIN PRELOAD_SO
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/heap_lib.sh"
host_linked="$1" host_plain="$2" preload="$3"
RATE=2048

check_estimates() {  # PROFILE LABEL
  local p="$1" label="$2"
  top "$WORK/in_space.txt" inuse_space "$p"
  top "$WORK/in_objects.txt" inuse_objects "$p"
  top "$WORK/al_space.txt" alloc_space "$p"
  top "$WORK/al_objects.txt" alloc_objects "$p"
  for site in SiteFixed SiteMixed RareBig RareSmall; do
    within "$WORK/in_space.txt" "$site" "$(truth $site 4)" 0.10 "$label inuse_space"
    within "$WORK/in_objects.txt" "$site" "$(truth $site 3)" 0.10 "$label inuse_objects"
  done
  within "$WORK/al_space.txt" Transient "$(truth Transient 4)" 0.10 "$label alloc_space"
  within "$WORK/al_objects.txt" Transient "$(truth Transient 3)" 0.10 "$label alloc_objects"
  [[ -z "$(flat_of "$WORK/in_space.txt" Transient)" ]] || { show "$WORK/in_space.txt"; fail "$label: freed Transient objects are shown in use"; }
}

# ---------------------------------------------------------------- linked host
SERVER_ENV=(CPPROF_HEAP_RATE=$RATE CPPROF_HEAP_GROWTH_INTERVAL_MS=200)
start_env_server "$host_linked" --grow-prefix "$WORK/grow"
wait_line READY 60
log "host on $BASE"

curl -sf --max-time 60 -o "$WORK/heap.pb.gz" "$BASE/debug/pprof/heap" || fail "GET heap failed"
samples="$(curl -sf "$BASE/debug/pprof/stats" | awk '$1 == "cpprof_heap_samples_total" {print $2}')"
((${samples%.*} >= 10000)) || fail "only $samples heap samples; the accuracy checks need >= 10000"
log "heap samples so far: $samples"
check_estimates "$WORK/heap.pb.gz" proto

pprof -raw "$WORK/heap.pb.gz" >"$WORK/raw.txt" 2>&1 || { show "$WORK/raw.txt"; fail "pprof -raw failed"; }
assert_contains "$WORK/raw.txt" "^PeriodType: space bytes" "-raw: no PeriodType space bytes"
assert_contains "$WORK/raw.txt" "^Period: $RATE\$" "-raw: period is not the rate $RATE"
assert_contains "$WORK/raw.txt" "^alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes\$" \
  "-raw: sample types are not Go's, in Go's order"
assert_contains "$WORK/raw.txt" "bytes:\[64 bytes\]" "-raw: no bytes label of 64 on SiteFixed's samples"
pprof -top "$WORK/heap.pb.gz" >"$WORK/default.txt" 2>&1
assert_contains "$WORK/default.txt" "^Type: inuse_space" "heap does not default to inuse_space"
pprof -top "$BASE/debug/pprof/allocs" >"$WORK/allocs.txt" 2>&1 || { show "$WORK/allocs.txt"; fail "pprof allocs failed"; }
assert_contains "$WORK/allocs.txt" "^Type: alloc_space" "allocs does not default to alloc_space"
log "ok: -raw period/types/label, heap -> inuse_space, allocs -> alloc_space"

# Legacy text: go tool pprof reads and unsamples it itself.
curl -sf --max-time 60 -o "$WORK/heap.txt" "$BASE/debug/pprof/heap?debug=1" || fail "GET heap?debug=1 failed"
assert_contains "$WORK/heap.txt" "^heap profile: [0-9]+: [0-9]+ \[[0-9]+: [0-9]+\] @ heap/$((2 * RATE))\$" "debug=1 header"
assert_contains "$WORK/heap.txt" "^#	0x[0-9a-f]+	.*SiteFixed" "debug=1 does not name SiteFixed"
# Totals: the text's raw counts unsampled by pprof against the proto's
# (per-object) estimates of the same moment's heap.
# (A proto of the same moment: the first fetch above built symbol indexes,
# which are live heap too.)
curl -sf --max-time 60 -o "$WORK/heap_now.pb.gz" "$BASE/debug/pprof/heap" || fail "GET heap failed"
top "$WORK/legacy_space.txt" inuse_space "$WORK/heap.txt" -symbolize=none
top "$WORK/proto_space.txt" inuse_space "$WORK/heap_now.pb.gz" -symbolize=none
legacy_total="$(total_of "$WORK/legacy_space.txt")" proto_total="$(total_of "$WORK/proto_space.txt")"
python3 -c "import sys; l,p=float('$legacy_total'),float('$proto_total'); sys.exit(0 if abs(l-p) <= 0.1*p else 1)" ||
  { show "$WORK/legacy_space.txt"; fail "debug=1 read by pprof totals $legacy_total B in use, the proto $proto_total B"; }
log "ok: debug=1 read by go tool pprof: $legacy_total B in use (proto: $proto_total B)"

# -diff_base of two snapshots: the planted growth, not the churn.
grow_bytes=$((20000 * 256))
touch "$WORK/grow1"
wait_line "GROWN 1" 30
curl -sf --max-time 60 -o "$WORK/heap2.pb.gz" "$BASE/debug/pprof/heap" || fail "GET heap (2) failed"
top "$WORK/diff.txt" inuse_space "$WORK/heap2.pb.gz" -diff_base "$WORK/heap.pb.gz"
within "$WORK/diff.txt" Grow "$grow_bytes" 0.10 "-diff_base inuse_space"
churn="$(flat_of "$WORK/diff.txt" Churn)"
python3 -c "import sys; sys.exit(0 if abs(float('${churn:-0}')) < 0.1 * $grow_bytes else 1)" ||
  { show "$WORK/diff.txt"; fail "-diff_base shows steady churn as growth: Churn $churn"; }
log "ok: -diff_base shows Grow, Churn ${churn:-0}"

# ?seconds=N: the delta over the window.
curl -sf --max-time 60 -D "$WORK/delta.h" -o "$WORK/delta.pb.gz" "$BASE/debug/pprof/heap?seconds=8" &
delta_pid=$!
sleep 3
touch "$WORK/grow2"
wait "$delta_pid" || fail "GET heap?seconds=8 failed"
grep -q "GROWN 2" "$SERVER_LOG" || fail "growth 2 did not happen inside the window"
assert_contains "$WORK/delta.h" 'filename="heap-delta"' "seconds=N profile is not named heap-delta"
top "$WORK/delta.txt" inuse_space "$WORK/delta.pb.gz"
within "$WORK/delta.txt" Grow "$grow_bytes" 0.10 "seconds=8 inuse_space"
[[ -z "$(flat_of "$WORK/delta.txt" SiteFixed)" ]] || { show "$WORK/delta.txt"; fail "seconds=8 delta shows the unchanged SiteFixed"; }
log "ok: seconds=8 delta"

# delta_heap (godeltaprof): allocations since the previous call, in-use as now.
curl -sf --max-time 60 -o "$WORK/d1.pb.gz" "$BASE/debug/pprof/delta_heap" || fail "delta_heap (1) failed"
touch "$WORK/grow3"
wait_line "GROWN 3" 30
curl -sf --max-time 60 -o "$WORK/d2.pb.gz" "$BASE/debug/pprof/delta_heap" || fail "delta_heap (2) failed"
top "$WORK/d2_alloc.txt" alloc_space "$WORK/d2.pb.gz"
top "$WORK/d2_inuse.txt" inuse_space "$WORK/d2.pb.gz"
within "$WORK/d2_alloc.txt" Grow "$grow_bytes" 0.10 "delta_heap alloc_space"
within "$WORK/d2_inuse.txt" Grow "$((3 * grow_bytes))" 0.10 "delta_heap inuse_space (absolute)"
[[ -z "$(flat_of "$WORK/d2_alloc.txt" Transient)" ]] || { show "$WORK/d2_alloc.txt"; fail "delta_heap re-reports old allocations"; }
log "ok: delta_heap"

# Leak suspects by growth (tier 1): Grow keeps growing, step by step; the
# steady churn and the constant live sets are not suspects.
for k in 4 5 6 7 8; do
  touch "$WORK/grow$k"
  wait_line "GROWN $k" 30
  sleep 0.5
done
curl -sf --max-time 30 -o "$WORK/growth.txt" "$BASE/debug/pprof/heap_growth?debug=1&window=6" || fail "GET heap_growth?debug=1 failed"
assert_contains "$WORK/growth.txt" "^heap growth: [1-9][0-9]* suspect sites" "heap_growth lists no suspect"
first_site="$(awk '/^growth /{getline; print; exit}' "$WORK/growth.txt")"
[[ "$first_site" == *Grow* ]] || { show "$WORK/growth.txt"; fail "the first growth suspect is not Grow: $first_site"; }
assert_contains "$WORK/growth.txt" "oldest live object [0-9]+ s old" "heap_growth gives no age of the oldest live object"
assert_not_contains "$WORK/growth.txt" "Churn|SiteFixed|SiteMixed" "heap_growth reports a steady site"
curl -sf --max-time 30 -o "$WORK/growth.pb.gz" "$BASE/debug/pprof/heap_growth?window=6" || fail "GET heap_growth failed"
top "$WORK/growth_top.txt" growth_space "$WORK/growth.pb.gz"
[[ -n "$(flat_of "$WORK/growth_top.txt" Grow)" ]] || { show "$WORK/growth_top.txt"; fail "go tool pprof: no Grow in heap_growth"; }
log "ok: heap_growth names Grow, not the steady sites"

# Bad input and accepted parameters.
expect_status() {  # QUERY STATUS BODY_PATTERN
  local code
  code="$(curl -s -o "$WORK/body.txt" -w '%{http_code}' --max-time 30 "$BASE/debug/pprof/heap?$1")"
  [[ "$code" == "$2" ]] || { show "$WORK/body.txt"; fail "heap?$1 answered $code, want $2"; }
  [[ -z "$3" ]] || assert_contains "$WORK/body.txt" "$3" "heap?$1: body does not say '$3'"
}
expect_status "seconds=0" 400 '"seconds"'
expect_status "seconds=abc" 400 '"seconds"'
expect_status "seconds=999999" 400 'out of range'
expect_status "seconds=2&debug=1" 400 'seconds and debug params are incompatible'
expect_status "debug=7" 400 '"debug"'
expect_status "gc=1" 200 ''
log "ok: bad input -> 400, gc=1 accepted"

curl -sf "$BASE/debug/pprof/" >"$WORK/index.html"
for k in heap allocs delta_heap heap_growth; do assert_contains "$WORK/index.html" "href=\"\./$k" "index lacks $k"; done
curl -sf "$BASE/debug/pprof/index.json" >"$WORK/index.json"
assert_contains "$WORK/index.json" '"name":"heap","path":"[^"]*","description":"[^"]*","params":\["debug","gc","seconds"\],"seconds_delta":true' "index.json heap entry"
curl -sf "$BASE/debug/pprof/stats" >"$WORK/stats.txt"
assert_contains "$WORK/stats.txt" '^cpprof_heap_mode 1$' "stats: heap mode is not glibc-sampled"
assert_contains "$WORK/stats.txt" '^cpprof_heap_sampling_seconds_total [0-9.e-]+$' "stats: no heap sampling cost"
log "ok: index, index.json, stats"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true

# ---------------------------------------------------------------- preloaded
SERVER_ENV=(CPPROF_HEAP_RATE=$RATE LD_PRELOAD="$preload")
start_env_server "$host_plain" --fixed 400000 --mixed 40000
wait_line READY 60
curl -sf --max-time 60 -o "$WORK/pre.pb.gz" "$BASE/debug/pprof/heap" || fail "GET heap (preload) failed"
check_estimates "$WORK/pre.pb.gz" preload
pprof -traces "$WORK/pre.pb.gz" >"$WORK/pre_traces.txt" 2>&1
assert_contains "$WORK/pre_traces.txt" "SiteFixed$" "preload: no SiteFixed frame in -traces"
python3 - "$WORK/pre_traces.txt" <<'PY' || fail "preload: SiteFixed stacks do not reach main"
import sys
blocks = open(sys.argv[1]).read().split('-----------+')
hits = [b for b in blocks if 'SiteFixed' in b]
ok = [b for b in hits if '  main' in b or ' main\n' in b]
print(f"SiteFixed stacks: {len(hits)}, reaching main: {len(ok)}")
sys.exit(0 if hits and len(ok) == len(hits) else 1)
PY
log "ok: preload"
echo "PASS"
