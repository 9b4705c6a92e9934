#!/usr/bin/env bash
# README command 1: installs what is missing, builds, and runs the demo
# server with the endpoint on 127.0.0.1:6060 (Ctrl-C to stop).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install_deps.sh"
"$root/scripts/build.sh"
addr="${CPPROF_ADDR:-127.0.0.1:6060}"
exec env -u CPPROF_ADDR "$root/build/examples/demo_server/cpprof_demo" --addr "$addr" "$@"
