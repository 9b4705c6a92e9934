#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# /metrics read by the real clients (Debian's prometheus package):
#   - promtool check metrics accepts the body;
#   - a Prometheus server scrapes the demo's /metrics every second: up is 1,
#     and process_open_fds as Prometheus stores it equals the entries of
#     /proc/PID/fd (waited for: the count moves while connections come and
#     go, but an off-by-one would never match); process_max_fds is the
#     soft limit; cpprof's own counters are there;
#   - the same body at /debug/pprof/metrics, 400 naming a parameter.
#
#   prometheus_test.sh DEMO
source "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
command -v prometheus >/dev/null && command -v promtool >/dev/null || fail "prometheus and promtool are required (Debian package prometheus)"
start_demo_server "$1" --seconds 300

curl -sf -D "$WORK/head.txt" -o "$WORK/metrics.txt" "$BASE/metrics" || fail "GET /metrics failed"
assert_contains "$WORK/head.txt" "Content-Type: text/plain; version=0.0.4; charset=utf-8" "content type"
promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.txt" 2>&1 || { show "$WORK/promtool.txt"; fail "promtool check metrics"; }
for name in process_cpu_seconds_total process_open_fds process_max_fds process_resident_memory_bytes \
  process_virtual_memory_bytes process_start_time_seconds process_threads cpprof_http_requests_total; do
  assert_contains "$WORK/metrics.txt" "^$name [0-9.e+-]+$" "/metrics lacks $name"
done
curl -sf -o "$WORK/prefixed.txt" "$BASE/debug/pprof/metrics" || fail "GET /debug/pprof/metrics failed"
assert_contains "$WORK/prefixed.txt" "^process_open_fds " "/debug/pprof/metrics"
code="$(curl -s -o "$WORK/bad.txt" -w '%{http_code}' "$BASE/metrics?format=json")"
[[ "$code" == 400 ]] || fail "/metrics?format=json answered $code"
assert_contains "$WORK/bad.txt" '"format"' "the 400 does not name the parameter"

ppport="$(free_port)"
cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: cpprof
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:$PORT"]
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$ppport" >"$WORK/prometheus.log" 2>&1 &
track_pid $!
api="http://127.0.0.1:$ppport/api/v1/query"
query() {  # PromQL -> the first result's value, or nothing
  curl -sf --max-time 5 -G "$api" --data-urlencode "query=$1" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
for ((i = 0; i < 600; i++)); do
  [[ "$(query 'up{job="cpprof"}')" == 1 ]] && break
  sleep 0.1
done
[[ "$(query 'up{job="cpprof"}')" == 1 ]] || { show "$WORK/prometheus.log"; fail "prometheus never scraped the endpoint"; }

matched=""
for ((i = 0; i < 60; i++)); do
  stored="$(query 'process_open_fds{job="cpprof"}')"
  actual="$(fd_count "$SERVER_PID")"
  if [[ -n "$stored" && "$stored" == "$actual" ]]; then matched="$stored"; break; fi
  sleep 0.5
done
[[ -n "$matched" ]] || fail "process_open_fds in Prometheus ($stored) never equalled /proc/$SERVER_PID/fd ($actual)"
limit="$(awk '/Max open files/ {print $4}' "/proc/$SERVER_PID/limits")"
[[ "$(query 'process_max_fds{job="cpprof"}')" == "$limit" ]] || fail "process_max_fds is not the soft limit $limit"
[[ -n "$(query 'cpprof_http_requests_total{job="cpprof"}')" ]] || fail "cpprof's own counters are not scraped"
log "prometheus: up, process_open_fds $matched = /proc/PID/fd, process_max_fds $limit"
echo PASS
