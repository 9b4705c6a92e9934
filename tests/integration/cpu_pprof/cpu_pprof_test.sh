#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# go tool pprof (as shipped with Go 1.19) against the demo server's CPU
# profile. Four fetches of /debug/pprof/profile?seconds=3 run at once (one
# shared sampling session, four windows): -top, -traces, -raw and curl.
# Then, on the saved profile:
#   - demo::SpinHot is the top flat entry (3 of 5 work units);
#   - its samples carry workload.cc:LINE with LINE inside SpinHot's body
#     (-raw, and -traces -lines);
#   - every location in the demo binary is symbolized (no "??", no bare
#     addresses), with a file name, and the mapping has a build ID;
#   - every stack of the qsort comparator runs comparator -> qsort (libc,
#     built without frame pointers) -> demo::SortRecords -> demo::RunWorker
#     -> ... -> the thread entry (start_thread/clone3) (if the 3 s window
#     holds no comparator sample, more profiles are taken);
#   - names: default output shortens C++ names (demo::SpinHot),
#     -symbolize=remote:demangle=full shows the whole name
#     demo::SpinHot(unsigned long), as does -symbolize=none (the name as
#     served: Function.name == Function.system_name == full name);
#   - labels: -tags, -tagshow=thread -tags, -tagroot=thread -top and -traces
#     show thread demo-worker-0/1 (and tid where not filtered out).
#
#   cpu_pprof_test.sh DEMO_BIN WORKLOAD_CC
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
TRACES="$COMMON_DIR/traces.py"

demo="$1" workload="$2"
start_demo_server "$demo" --threads 2
url="$BASE/debug/pprof/profile?seconds=3"
log "demo on $BASE"

# SpinHot's body in the source: from its definition to the closing brace.
read -r hot_first hot_last < <(awk '/^__attribute__.*SpinHot\(uint64_t/ {s=NR} s && !e && /^}/ {e=NR} END {print s, e}' "$workload")
[[ -n "$hot_first" && -n "$hot_last" ]] || fail "cannot find demo::SpinHot in $workload"
log "demo::SpinHot is $workload:$hot_first-$hot_last"

fetch_cpu_views "$url"
for f in top traces raw; do
  assert_not_contains "$WORK/$f.err" 'server response|could not|failed|error' "go tool pprof -$f complained"
done

# --- top flat entry, shortened by default.
top="$(top_entry "$WORK/top.txt")"
[[ "$top" == "demo::SpinHot" ]] || { show "$WORK/top.txt"; fail "top flat entry is '$top', want demo::SpinHot"; }
log "ok: -top leads with $top"

# --- file:line in -raw (Locations: "ID: 0xADDR M=N function file:line s=0").
line_re="demo::SpinHot[^ ]* [^ ]*workload\\.cc:([0-9]+)"
lines="$(grep -oE "$line_re" "$WORK/raw.txt" | grep -oE '[0-9]+$' | sort -un | tr '\n' ' ')"
[[ -n "$lines" ]] || { show "$WORK/raw.txt"; fail "-raw shows no demo::SpinHot location with workload.cc:LINE"; }
for l in $lines; do
  ((l >= hot_first && l <= hot_last)) || fail "-raw puts demo::SpinHot at workload.cc:$l, outside its body $hot_first-$hot_last"
done
log "ok: -raw shows demo::SpinHot at workload.cc:{ $lines}"

pprof -traces -lines "$WORK/cpu.pb.gz" >"$WORK/traces_lines.txt" 2>"$WORK/traces_lines.err" ||
  { show "$WORK/traces_lines.err"; fail "go tool pprof -traces -lines failed"; }
assert_contains "$WORK/traces_lines.txt" "demo::SpinHot [^ ]*workload\\.cc:($(seq -s '|' "$hot_first" "$hot_last"))\$" \
  "-traces -lines shows no demo::SpinHot frame at workload.cc:$hot_first-$hot_last"
log "ok: -traces -lines shows demo::SpinHot with file:line"

# --- everything in the demo binary symbolized; libc frames named too.
assert_not_contains "$WORK/traces.txt" '\?\?' "-traces output contains '??' frames"
python3 - "$WORK/cpu.pb.gz" "$demo" <<'PY' || fail "symbolization of the demo's own code"
import os, sys, re
import pprof_reader
p = pprof_reader.load(sys.argv[1])
demo = os.path.realpath(sys.argv[2])
errors = pprof_reader.validate(p)
if errors:
    sys.exit("invalid profile: %r" % errors[:5])
mids = [m["id"] for m in p.mappings.values() if os.path.realpath(m["filename"]) == demo]
if not mids:
    sys.exit("no mapping for %s; mappings: %r" % (demo, [m["filename"] for m in p.mappings.values()]))
m = p.mappings[mids[0]]
if not m["build_id"]:
    sys.exit("the demo's mapping has no build ID")
if not (m["has_functions"] and m["has_filenames"] and m["has_line_numbers"]):
    sys.exit("the demo's mapping does not claim functions/filenames/lines: %r" % m)
if list(p.mappings.values())[0]["id"] != mids[0]:
    sys.exit("mapping[0] is %r, not the main binary" % list(p.mappings.values())[0]["filename"])
bad, n = [], 0
for loc in p.locations.values():
    if loc["mapping_id"] not in mids:
        continue
    n += 1
    if not loc["lines"]:
        bad.append("0x%x: no lines" % loc["address"])
    for fid, line in loc["lines"]:
        f = p.functions[fid]
        if not f["name"] or "??" in f["name"] or re.fullmatch(r"(0x)?[0-9a-fA-F]+", f["name"]):
            bad.append("0x%x: function %r" % (loc["address"], f["name"]))
        elif f["name"] != f["system_name"]:
            bad.append("%s: system_name %r differs" % (f["name"], f["system_name"]))
        elif not f["filename"] or line <= 0:
            bad.append("%s: no file:line (%r:%d)" % (f["name"], f["filename"], line))
if bad:
    sys.exit("%d of %d demo locations badly symbolized: %s" % (len(bad), n, "; ".join(bad[:8])))
names = {f["name"] for f in p.functions.values()}
if "demo::SpinHot(unsigned long)" not in names:
    sys.exit("no Function named 'demo::SpinHot(unsigned long)'; demo:: names: %r"
             % sorted(x for x in names if "demo::" in x))
print("%d demo locations, all symbolized; build id %s" % (n, m["build_id"]))
PY
log "ok: the demo's locations are fully symbolized"

# --- the comparator's stack through libc's qsort up to the thread entry.
check_trace_chain "$WORK/traces.txt" "$url" --all \
  --chain 'CompareRecords' '(^|[^a-z])(qsort|msort)' '^demo::SortRecords$' '^demo::RunWorker$' \
  --root '^(start_thread|clone3?|__clone3?)$' || { show "$WORK/traces.txt" 3000; fail "qsort comparator chain"; }
log "ok: comparator -> qsort -> SortRecords -> RunWorker -> thread entry"

# --- whole names on request.
pprof -symbolize=remote:demangle=full -top "$WORK/cpu.pb.gz" >"$WORK/top_full.txt" 2>"$WORK/top_full.err" ||
  { show "$WORK/top_full.err"; fail "-symbolize=remote:demangle=full failed"; }
top="$(top_entry "$WORK/top_full.txt")"
[[ "$top" == "demo::SpinHot(unsigned long)" ]] || { show "$WORK/top_full.txt"; fail "demangle=full: top entry '$top'"; }
pprof -symbolize=none -top "$WORK/cpu.pb.gz" >"$WORK/top_none.txt" 2>"$WORK/top_none.err" ||
  { show "$WORK/top_none.err"; fail "-symbolize=none failed"; }
top="$(top_entry "$WORK/top_none.txt")"
[[ "$top" == "demo::SpinHot(unsigned long)" ]] || { show "$WORK/top_none.txt"; fail "-symbolize=none: top entry '$top'"; }
log "ok: full names: $top"

# --- labels.
pprof -tags "$WORK/cpu.pb.gz" >"$WORK/tags.txt" 2>"$WORK/tags.err" || { show "$WORK/tags.err"; fail "-tags failed"; }
assert_contains "$WORK/tags.txt" 'demo-worker-0' "-tags does not list thread demo-worker-0"
assert_contains "$WORK/tags.txt" 'demo-worker-1' "-tags does not list thread demo-worker-1"
assert_contains "$WORK/tags.txt" '^ *tid:' "-tags does not list the tid label"
# -tagshow selects which tags -tags (and graphs) display; -tagroot turns a
# tag into root pseudo-frames, so -top shows per-thread totals.
pprof -tagshow=thread -tags "$WORK/cpu.pb.gz" >"$WORK/tagshow.txt" 2>"$WORK/tagshow.err" ||
  { show "$WORK/tagshow.err"; fail "-tagshow=thread -tags failed"; }
assert_contains "$WORK/tagshow.txt" 'demo-worker-0' "-tagshow=thread -tags does not show demo-worker-0"
assert_contains "$WORK/tagshow.txt" 'demo-worker-1' "-tagshow=thread -tags does not show demo-worker-1"
assert_not_contains "$WORK/tagshow.txt" '^ *tid:' "-tagshow=thread -tags still shows the tid tag"
pprof -tagroot=thread -top "$WORK/cpu.pb.gz" >"$WORK/tagroot.txt" 2>"$WORK/tagroot.err" ||
  { show "$WORK/tagroot.err"; fail "-tagroot=thread -top failed"; }
assert_contains "$WORK/tagroot.txt" ' demo-worker-0$' "-tagroot=thread -top has no demo-worker-0 node"
assert_contains "$WORK/tagroot.txt" ' demo-worker-1$' "-tagroot=thread -top has no demo-worker-1 node"
python3 "$TRACES" "$WORK/traces.txt" --labels thread 'demo-worker-0' 'demo-worker-1' || fail "-traces thread labels"
python3 "$TRACES" "$WORK/traces.txt" --labels tid '[0-9]+' || fail "-traces tid labels"
log "ok: thread and tid labels"
log "PASS"
