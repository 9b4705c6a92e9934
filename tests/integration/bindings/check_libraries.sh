#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Checks cpprof's shared objects: none depends on libunwind (directly, per
# readelf -d, or transitively, per ldd), and none exports unwinder entry
# points (_Unwind_*, unw_*, backtrace*) that could preempt libgcc_s's or
# glibc's in a host process.
#   check_libraries.sh LIB...
set -uo pipefail
fail=0
for lib in "$@"; do
  name="$(basename "$lib")"
  if [[ ! -r "$lib" ]]; then echo "FAIL: $lib is missing"; fail=1; continue; fi
  needed="$(readelf -dW "$lib" | awk '/\(NEEDED\)/ {gsub(/[][]/, "", $NF); print $NF}')"
  echo "$name NEEDED: $(echo $needed)"
  if grep -qi unwind <<<"$needed"; then echo "FAIL: $name needs libunwind directly"; fail=1; fi
  if ! grep -qx 'libgcc_s.so.1' <<<"$needed" && ! grep -qx 'libstdc++.so.6' <<<"$needed"; then
    echo "note: $name links neither libgcc_s nor libstdc++ dynamically"
  fi
  deps="$(ldd "$lib" 2>&1)" || { echo "FAIL: ldd $lib: $deps"; fail=1; continue; }
  if grep -qi 'libunwind' <<<"$deps"; then
    echo "FAIL: $name pulls in libunwind:"; grep -i libunwind <<<"$deps"; fail=1
  fi
  exported="$(nm -D --defined-only "$lib" | awk '{print $NF}' |
              grep -E '^(_Unwind_|_U_|unw_|_ULx86|__libunwind|backtrace)' || true)"
  if [[ -n "$exported" ]]; then
    echo "FAIL: $name exports unwinder symbols that would preempt the host's:"; echo "$exported"; fail=1
  fi
done
((fail)) && echo FAILED || echo "PASSED: no libunwind dependency, no exported unwinder symbols"
exit $fail
