# SPDX-License-Identifier: Apache-2.0
#
# Helpers of the heap tests (source after ../common/lib.sh): values of one
# function in `go tool pprof -top` output, tolerance checks against the
# host's TRUTH lines, waiting for the host's log lines.

# flat value of the function whose name ends with $2 in -top output $1 ("" if absent)
flat_of() {
  python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read().splitlines()
rows = False
for line in text:
    if re.search(r'flat%.*sum%.*cum', line):
        rows = True
        continue
    if not rows:
        continue
    parts = line.split(None, 5)
    if len(parts) < 6:
        continue
    name = parts[5].replace(' (inline)', '')
    if name == sys.argv[2] or name.endswith('::' + sys.argv[2]):
        v = parts[0]
        mult = {'B': 1, 'kB': 1e3, 'MB': 1e6, 'GB': 1e9, 'k': 1e3, 'M': 1e6}
        m = re.match(r'^(-?[0-9.]+)([a-zA-Z]*)$', v)
        print(float(m.group(1)) * mult.get(m.group(2), 1))
        break
PY
}

# within FILE SITE WANT TOLERANCE LABEL: the site's flat value is within TOLERANCE (fraction) of WANT
within() {
  local got
  got="$(flat_of "$1" "$2")"
  [[ -n "$got" ]] || { show "$1"; fail "$5: $2 missing from go tool pprof -top"; }
  python3 -c "import sys; g,w,t=float('$got'),float('$3'),float('$4'); sys.exit(0 if abs(g-w) <= t*w else 1)" ||
    { show "$1"; fail "$5: $2 is $got, want $3 within $(python3 -c "print(int(100*$4))")%"; }
  log "ok: $5: $2 = $got (truth $3)"
}

truth() { awk -v s="$1" -v f="$2" '$1 == "TRUTH" && $2 == s {print $f}' "$SERVER_LOG"; }

wait_line() {  # PATTERN SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    grep -q "$1" "$SERVER_LOG" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { show "$SERVER_LOG"; fail "host exited"; }
    sleep 0.1
  done
  show "$SERVER_LOG"
  fail "host never printed '$1'"
}

top() {  # OUT SAMPLE_INDEX SOURCE [more pprof args]
  local out="$1" index="$2" src="$3"
  shift 3
  pprof -top -nodecount=500 -nodefraction=0 -unit=B -sample_index="$index" "$@" "$src" >"$out" 2>"$out.err" ||
    { show "$out.err"; fail "go tool pprof -top -sample_index=$index $src failed"; }
}


# The total of a `go tool pprof -top` output ("... of N total"), in the unit shown (B with -unit=B).
total_of() { awk '/^Showing nodes accounting for/ {for (i = 1; i <= NF; i++) if ($i == "of") {v = $(i + 1); gsub(/[B,]/, "", v); print v; exit}}' "$1"; }
