#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Zero-code mode. An unmodified, dynamically linked program that does not
# link cpprof is started with LD_PRELOAD=libcpprof_preload.so and
# CPPROF_ADDR; go tool pprof then fetches its CPU profile (-top, -traces,
# -raw and -proto at once, 3 s). Checks:
#   - the program really has no cpprof dependency (readelf -d);
#   - thirdparty::CrunchNumbers is the top flat entry, with
#     third_party.cc:LINE inside its body (-raw and -traces -lines);
#   - every stack of the std::sort predicate runs thirdparty::ByDigest -> std::
#     sort internals -> thirdparty::SortBatch -> thirdparty::Worker -> ...
#     -> the thread entry (start_thread/clone3), though neither the program
#     nor libstdc++ keeps frame pointers;
#   - the program's own locations are fully symbolized, its mapping has a
#     build ID, and thread labels name tp-worker-0/1;
#   - /debug/pprof/fd puts the program's journal files and socket at
#     thirdparty::OpenJournal (descriptor hooks work preloaded).
#
#   preload_test.sh THIRD_PARTY_BIN LIBCPPROF_PRELOAD_SO THIRD_PARTY_CC
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
TRACES="$COMMON_DIR/traces.py"

bin="$1" preload="$2" src="$3"

if readelf -d "$bin" | grep -qi cpprof; then
  readelf -d "$bin" >&2
  fail "$bin depends on cpprof; the preload test needs a program that does not"
fi
readelf -d "$bin" | grep -q 'NEEDED.*libc\.so' || fail "$bin is not dynamically linked"

read -r hot_first hot_last < <(awk '/uint64_t CrunchNumbers\(uint64_t/ {s=NR} s && !e && /^}/ {e=NR} END {print s, e}' "$src")
[[ -n "$hot_first" && -n "$hot_last" ]] || fail "cannot find CrunchNumbers in $src"

SERVER_ENV=(LD_PRELOAD="$preload")
start_env_server "$bin" --threads 2
log "third_party (preloaded) serving on $BASE"
url="$BASE/debug/pprof/profile?seconds=3"

fetch_cpu_views "$url"

top="$(top_entry "$WORK/top.txt")"
[[ "$top" == "thirdparty::CrunchNumbers" ]] || { show "$WORK/top.txt"; fail "top flat entry is '$top', want thirdparty::CrunchNumbers"; }
log "ok: -top leads with $top"

lines="$(grep -oE 'thirdparty::CrunchNumbers[^ ]* [^ ]*third_party\.cc:[0-9]+' "$WORK/raw.txt" | grep -oE '[0-9]+$' | sort -un | tr '\n' ' ')"
[[ -n "$lines" ]] || { show "$WORK/raw.txt"; fail "-raw shows no CrunchNumbers location with third_party.cc:LINE"; }
for l in $lines; do
  ((l >= hot_first && l <= hot_last)) || fail "-raw puts CrunchNumbers at third_party.cc:$l, outside $hot_first-$hot_last"
done
pprof -traces -lines "$WORK/cpu.pb.gz" >"$WORK/traces_lines.txt" 2>"$WORK/traces_lines.err" ||
  { show "$WORK/traces_lines.err"; fail "-traces -lines failed"; }
assert_contains "$WORK/traces_lines.txt" "thirdparty::CrunchNumbers [^ ]*third_party\\.cc:($(seq -s '|' "$hot_first" "$hot_last"))\$" \
  "-traces -lines shows no CrunchNumbers frame with third_party.cc:LINE"
log "ok: CrunchNumbers at third_party.cc:{ $lines}"

check_trace_chain "$WORK/traces.txt" "$url" --all \
  --chain '^thirdparty::ByDigest$' '(^| )std::(__)?(sort|introsort|insertion_sort|unguarded)' '^thirdparty::SortBatch$' '^thirdparty::Worker$' \
  --root '^(start_thread|clone3?|__clone3?)$' || { show "$WORK/traces.txt" 3000; fail "std::sort predicate chain"; }
python3 "$TRACES" "$WORK/traces.txt" --labels thread 'tp-worker-0' 'tp-worker-1' || fail "thread labels"
assert_not_contains "$WORK/traces.txt" '\?\?' "-traces output contains '??' frames"

python3 - "$WORK/cpu.pb.gz" "$bin" <<'PY' || fail "symbolization of the program's own code"
import os, sys
import pprof_reader
p = pprof_reader.load(sys.argv[1])
errors = pprof_reader.validate(p)
if errors:
    sys.exit("invalid profile: %r" % errors[:5])
exe = os.path.realpath(sys.argv[2])
maps = [m for m in p.mappings.values() if os.path.realpath(m["filename"]) == exe]
if not maps:
    sys.exit("no mapping for %s: %r" % (exe, [m["filename"] for m in p.mappings.values()]))
if not maps[0]["build_id"]:
    sys.exit("the program's mapping has no build ID")
if list(p.mappings.values())[0]["filename"] != maps[0]["filename"]:
    sys.exit("mapping[0] is %r, not the main program" % list(p.mappings.values())[0]["filename"])
bad, n = [], 0
for loc in p.locations.values():
    if loc["mapping_id"] != maps[0]["id"]:
        continue
    n += 1
    if not loc["lines"]:
        bad.append("0x%x: no lines" % loc["address"])
    for fid, line in loc["lines"]:
        f = p.functions[fid]
        if not f["name"] or "??" in f["name"] or not f["filename"] or line <= 0:
            bad.append("0x%x: %r %r:%d" % (loc["address"], f["name"], f["filename"], line))
if bad:
    sys.exit("%d of %d locations badly symbolized: %s" % (len(bad), n, "; ".join(bad[:8])))
print("%d program locations, all symbolized" % n)
PY
pprof -traces "$BASE/debug/pprof/fd" >"$WORK/fd.traces" 2>"$WORK/fd.err" || { show "$WORK/fd.err"; fail "pprof fd"; }
python3 - "$WORK/fd.traces" <<'PY' || { show "$WORK/fd.traces"; fail "preloaded descriptor tracking"; }
import re, sys
SEP = "-----------+-------------------------------------------------------"
found = {}
for t in open(sys.argv[1]).read().split(SEP):
    frames = [l.strip() for l in t.splitlines() if re.match(r"^\s+(\d+\s+)?\S", l) and not re.match(r"^\s*\w+:\s", l)]
    typ = re.search(r"^\s*type:\s+(\S+)", t, re.M)
    if frames and re.search(r"(^|\s)thirdparty::OpenJournal$", frames[0]) and typ:
        found[typ.group(1)] = found.get(typ.group(1), 0) + 1
print("OpenJournal descriptors by type:", found)
assert found.get("device") == 2 and found.get("socket") == 1, found
PY
log "PASS"
