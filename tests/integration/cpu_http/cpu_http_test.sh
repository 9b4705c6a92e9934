#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The CPU route's HTTP contract against a running demo server:
#   - bad seconds/hz -> 400, text/plain, X-Go-Pprof: 1, message naming the
#     parameter;
#   - another hz while a profile runs -> 409 naming the rate in use;
#   - two overlapping same-rate requests -> two valid profiles;
#   - a client that disconnects mid-profile ends its share: sampling stops
#     (the stats counters stop moving), the server keeps serving, and its
#     descriptor count returns to the baseline;
#   - a window of 5 s or more builds the symbol indexes of the modules its
#     samples reached while it still runs (first thing, on a fresh server).
#
#   cpu_http_test.sh DEMO_BIN
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"

demo="$1"
start_demo_server "$demo" --threads 2
P="$BASE/debug/pprof/profile"

# 0. Symbols are prepared during a long window: on a fresh server nothing
#    has been symbolized; 3 s into a 5 s profile (the preparation runs a third
#    of the way in) the symbolizer already holds indexes.
sym0="$(stat_value memory_symbolizer_bytes)"  # not listed before first use
[[ -z "$sym0" || "$sym0" == "0" ]] || fail "symbolizer already holds $sym0 bytes on a fresh server"
curl -s -o "$WORK/prep.pb.gz" -w '%{http_code}' --max-time 60 "$BASE/debug/pprof/profile?seconds=5" >"$WORK/prep.code" &
prep_pid=$!
sleep 3
sym1="$(stat_value memory_symbolizer_bytes)"
open1="$(stat_value cpu_profile_windows_open)"
wait "$prep_pid" || fail "5 s profile: curl failed"
[[ "$(cat "$WORK/prep.code")" == 200 ]] || fail "5 s profile answered $(cat "$WORK/prep.code")"
[[ "$open1" == "1" ]] || fail "the 5 s window was not open 3 s in (cpu_profile_windows_open=$open1)"
((${sym1:-0} > 0)) || fail "no symbol index was built during the 5 s window (symbolizer bytes: $sym1)"
log "ok: symbol indexes prepared during the window ($sym1 bytes 3 s into a 5 s profile)"

# request URL -> writes $WORK/body, $WORK/headers; prints the status code.
get() {
  curl -s -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' --max-time "${2:-30}" "$1"
}

header() {  # NAME -> value from $WORK/headers (case-insensitive), without CR
  awk -v n="$(tr 'A-Z' 'a-z' <<<"$1")" -F': *' 'tolower($1) == n { sub(/\r$/, "", $2); print $2; exit }' \
    "$WORK/headers"
}

expect_error() {  # URL STATUS BODY_REGEX WHAT
  local url="$1" want="$2" re="$3" what="$4" code
  code="$(get "$url")" || fail "$what: curl failed"
  [[ "$code" == "$want" ]] || { show "$WORK/body"; fail "$what: status $code, want $want"; }
  [[ "$(header Content-Type)" == text/plain* ]] || { show "$WORK/headers"; fail "$what: Content-Type is not text/plain"; }
  [[ "$(header X-Go-Pprof)" == 1 ]] || { show "$WORK/headers"; fail "$what: no X-Go-Pprof: 1 header"; }
  grep -Eq -- "$re" "$WORK/body" || { show "$WORK/body"; fail "$what: body does not match /$re/"; }
  log "ok: $what -> $code: $(head -c 200 "$WORK/body" | tr -d '\n')"
}

# 1. Parameter validation (each must be refused at once, before sampling).
max_seconds=600   # Options::max_profile_seconds default
max_hz=1000       # Options::cpu_max_hz default
expect_error "$P?seconds=abc" 400 'seconds' "seconds=abc"
expect_error "$P?seconds=-1" 400 'seconds' "seconds=-1"
expect_error "$P?seconds=0" 400 'seconds' "seconds=0"
expect_error "$P?seconds=1e9" 400 'seconds' "seconds=1e9"
expect_error "$P?seconds=$((max_seconds + 1))" 400 'seconds' "seconds beyond the cap ($((max_seconds + 1)))"
expect_error "$P?seconds=99999999999999999999999" 400 'seconds' "seconds overflowing int64"
expect_error "$P?seconds=1&hz=0" 400 'hz' "hz=0"
expect_error "$P?seconds=1&hz=$((max_hz + 1))" 400 'hz' "hz beyond the cap ($((max_hz + 1)))"
expect_error "$P?seconds=1&hz=1000000000000" 400 'hz' "hz huge"
expect_error "$P?seconds=1&hz=abc" 400 'hz' "hz=abc"
expect_error "$P?seconds=1&hz=-5" 400 'hz' "hz=-5"

# 2. Another rate while one runs -> 409 naming the rate in use; two
#    overlapping requests at the same rate both get full profiles.
curl -s -o "$WORK/a.pb.gz" -w '%{http_code}' --max-time 30 "$P?seconds=4&hz=100" >"$WORK/a.code" &
a_pid=$!
sleep 1
curl -s -o "$WORK/b.pb.gz" -w '%{http_code}' --max-time 30 "$P?seconds=2&hz=100" >"$WORK/b.code" &
b_pid=$!
sleep 0.5
expect_error "$P?seconds=1&hz=250" 409 '(hz=100|100 Hz)' "hz=250 while a 100 Hz profile runs"
wait "$a_pid" || fail "first overlapping request: curl failed"
wait "$b_pid" || fail "second overlapping request: curl failed"
[[ "$(cat "$WORK/a.code")" == 200 ]] || fail "first overlapping request answered $(cat "$WORK/a.code")"
[[ "$(cat "$WORK/b.code")" == 200 ]] || fail "second overlapping request answered $(cat "$WORK/b.code")"
python3 "$READER" check "$WORK/a.pb.gz" "$WORK/b.pb.gz" || fail "overlapping profiles are not valid"
for f in a b; do
  pprof -raw "$WORK/$f.pb.gz" >"$WORK/$f.raw" 2>"$WORK/$f.err" || { show "$WORK/$f.err"; fail "go tool pprof rejected profile $f"; }
  assert_contains "$WORK/$f.raw" '^Samples:' "profile $f: go tool pprof -raw shows no samples"
done
python3 - "$WORK/a.pb.gz" "$WORK/b.pb.gz" <<'PY' || fail "overlapping windows"
import sys
import pprof_reader
a, b = (pprof_reader.load(f) for f in sys.argv[1:3])
for name, p, want in (("a", a, 4), ("b", b, 2)):
    d = p.duration_nanos / 1e9
    n = pprof_reader.total(p, "samples")
    print("profile %s: window %.2f s, %d samples" % (name, d, n))
    if d < want - 0.5:
        sys.exit("profile %s: window cut short: %.2f s for seconds=%d" % (name, d, want))
    if n == 0:
        sys.exit("profile %s has no samples" % name)
# Each window gets its own samples: the 4 s window holds more than the 2 s one.
if pprof_reader.total(a, "samples") <= pprof_reader.total(b, "samples"):
    sys.exit("the 4 s window has no more samples than the 2 s window inside it")
PY
log "ok: overlapping same-rate profiles"

# 3. A client that goes away mid-profile ends its share of the session.
sleep 1  # let the connections above close
base_fds="$(fd_count "$SERVER_PID")"
open0="$(stat_value cpu_profile_windows_open)"
[[ "$open0" == "0" ]] || { curl -s "$BASE/debug/pprof/stats" | head -60 >&2; fail "expected no open CPU window before the test, got '$open0'"; }
curl -s -o /dev/null --max-time 1 "$P?seconds=20" && fail "seconds=20 returned within 1 s"
t_gone=$SECONDS
finished=0
for _ in $(seq 50); do
  if [[ "$(stat_value cpu_profile_windows_open)" == "0" && "$(stat_value cpu_sampling_hz)" == "0" ]]; then
    finished=1
    break
  fi
  sleep 0.1
done
((finished)) || fail "the abandoned profile did not end within 5 s (cpu_profile_windows_open=$(stat_value cpu_profile_windows_open), cpu_sampling_hz=$(stat_value cpu_sampling_hz))"
# No session may still be sampling: with two busy demo threads, 1 s of an
# active 100 Hz session adds ~200 handled signals.
s1="$(stat_value cpu_signals_total)"
sleep 1
s2="$(stat_value cpu_signals_total)"
[[ "$s1" == "$s2" ]] || fail "CPU sampling still running after the client left (cpu_signals_total $s1 -> $s2)"
log "ok: abandoned profile ended $((SECONDS - t_gone))s after the client left; sampling stopped"
fds=""
for _ in $(seq 50); do
  fds="$(fd_count "$SERVER_PID")"
  ((fds <= base_fds)) && break
  sleep 0.1
done
((fds <= base_fds)) || { ls -l "/proc/$SERVER_PID/fd" >&2; fail "descriptors: $fds after the disconnect, baseline $base_fds"; }
code="$(get "$P?seconds=1")" || fail "server stopped serving after the disconnect"
[[ "$code" == 200 ]] || fail "profile after the disconnect answered $code"
python3 "$READER" check "$WORK/body" || fail "profile after the disconnect is invalid"
code="$(get "$BASE/debug/pprof/")"
[[ "$code" == 200 ]] || fail "index after the disconnect answered $code"
log "ok: server serves after the disconnect; fds $fds (baseline $base_fds)"
log "PASS"
