#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs a host program with LD_DEBUG=bindings and checks that the C++
# exception and backtrace() machinery binds to libgcc_s.so.1, never to
# libunwind, with cpprof linked in one of three ways.
#
#   check_bindings.sh shared  HOST     # HOST linked with libcpprof.so
#   check_bindings.sh static  HOST     # HOST linked with libcpprof.a
#   check_bindings.sh preload HOST LIB # HOST unmodified, LD_PRELOAD=LIB
#
# CPPROF_ADDR=127.0.0.1:0 is set so the library also starts its listener at
# load time, as it does in production.
set -uo pipefail
mode="$1" host="$2" preload="${3:-}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

env_args=(LD_DEBUG=bindings LD_DEBUG_OUTPUT="$tmp/ld" CPPROF_ADDR=127.0.0.1:0)
case "$mode" in
  shared|static) ;;
  preload) [[ -n "$preload" ]] || { echo "preload mode needs the library"; exit 2; }
           env_args+=(LD_PRELOAD="$preload") ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac

env "${env_args[@]}" "$host"
rc=$?
cat "$tmp"/ld.* >"$tmp/all" 2>/dev/null || true
fail=0
if ((rc != 0)); then echo "FAIL: host exited with status $rc"; fail=1; fi
if [[ ! -s "$tmp/all" ]]; then echo "FAIL: LD_DEBUG produced no output"; exit 1; fi

# Every binding of these symbols must go to libgcc_s.so.1; the first two must
# be seen (the host throws and calls backtrace()).
for sym in _Unwind_RaiseException _Unwind_Backtrace _Unwind_Find_FDE; do
  lines="$(grep -F "normal symbol \`$sym'" "$tmp/all" | sed 's/^ *[0-9]*:[[:space:]]*//')"
  if [[ -z "$lines" ]]; then
    if [[ "$sym" != _Unwind_Find_FDE ]]; then
      echo "FAIL: no binding of $sym was seen"; fail=1
    else
      echo "note: no dynamic binding of $sym in this run"
    fi
    continue
  fi
  bad="$(grep -v ' to [^ ]*/libgcc_s\.so\.1 ' <<<"$lines")"
  if [[ -n "$bad" ]]; then
    echo "FAIL: $sym is not bound to libgcc_s.so.1:"; echo "$bad"; fail=1
  else
    echo "ok: $sym -> libgcc_s.so.1 ($(wc -l <<<"$lines") binding(s))"
  fi
done

# libunwind (libunwind.so.8, libunwind-x86_64.so.8, ...) must not be in the
# process at all.
unwind_lib='/libunwind[-_.a-z0-9]*\.so'
if grep -Eq "$unwind_lib" "$tmp/all"; then
  echo "FAIL: libunwind was loaded into the host:"
  grep -E "$unwind_lib" "$tmp/all" | sed 's/^ *[0-9]*:[[:space:]]*//' | head -5
  fail=1
fi

# Prove the mode: cpprof must really be in the process, the expected way.
case "$mode" in
  shared)  pattern='libcpprof\.so' ;;
  preload) pattern='libcpprof_preload\.so' ;;
  static)  pattern='' ;;
esac
if [[ -n "$pattern" ]]; then
  if grep -Eq "$pattern" "$tmp/all"; then
    echo "ok: $(grep -Eo "[^ ]*$pattern[^ ]*" "$tmp/all" | head -1) is loaded"
  else
    echo "FAIL: ${pattern//\\/} is not in the process"; fail=1
  fi
elif grep -Eq 'libcpprof(_preload)?\.so' "$tmp/all"; then
  echo "FAIL: a cpprof shared library is loaded although cpprof is linked statically"; fail=1
fi

((fail)) && echo "FAILED ($mode)" || echo "PASSED ($mode)"
exit $fail
