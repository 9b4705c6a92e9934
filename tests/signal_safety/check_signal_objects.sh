#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Checks that the signal-world objects are closed: every symbol they need
# from outside their own set is on a reviewed allowlist, and they use no
# thread-local storage model that may call __tls_get_addr.
#
#   check_signal_objects.sh --allowlist FILE OBJECT...
#
# Rule 1. `nm -u` of the objects, minus symbols that one of the objects
#   defines (`nm --defined-only`), demangled, must be a subset of the
#   allowlist (one demangled name per line; `#` starts a comment). Each
#   offending symbol is printed with the object and the functions that
#   reference it (from `objdump -dr`).
# Rule 2. No relocation of a general- or local-dynamic TLS model
#   (x86_64 TLSGD/TLSLD/DTPOFF/TLSDESC, aarch64 TLSGD/TLSLD/TLSDESC/DTPREL):
#   only initial-exec (GOTTPOFF) and local-exec (TPOFF) are allowed.
#
# Exit status: 0 clean, 1 violations found, 2 usage or tool error.
# Tools can be overridden with NM, OBJDUMP, READELF, CXXFILT.
set -euo pipefail

NM="${NM:-nm}"
OBJDUMP="${OBJDUMP:-objdump}"
READELF="${READELF:-readelf}"
CXXFILT="${CXXFILT:-c++filt}"

usage() { echo "usage: $0 --allowlist FILE OBJECT..." >&2; exit 2; }

allowlist=""
objects=()
while (($#)); do
  case "$1" in
    --allowlist) [[ $# -ge 2 ]] || usage; allowlist="$2"; shift 2 ;;
    -*) usage ;;
    *) objects+=("$1"); shift ;;
  esac
done
[[ -n "$allowlist" && -r "$allowlist" ]] || { echo "error: allowlist not readable: '$allowlist'" >&2; exit 2; }
((${#objects[@]} > 0)) || { echo "error: no objects given" >&2; exit 2; }
for o in "${objects[@]}"; do
  [[ -r "$o" ]] || { echo "error: object not readable: $o" >&2; exit 2; }
done
for tool in "$NM" "$OBJDUMP" "$READELF" "$CXXFILT"; do
  command -v "$tool" >/dev/null || { echo "error: $tool not found" >&2; exit 2; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Allowed names: strip comments and surrounding blanks, drop empty lines.
sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$allowlist" | grep -v '^$' \
  | sort -u >"$tmp/allowed" || true

# Symbols defined anywhere in the set (mangled).
for o in "${objects[@]}"; do
  "$NM" -P --defined-only "$o" | awk '{print $1}'
done | sort -u >"$tmp/defined"

status=0
checked=0
for o in "${objects[@]}"; do
  checked=$((checked + 1))
  name="$(basename "$o")"
  "$NM" -P -u "$o" | awk '{print $1}' | sort -u >"$tmp/undef"
  comm -23 "$tmp/undef" "$tmp/defined" >"$tmp/external"

  # function<TAB>symbol for every relocation in code, mangled.
  "$OBJDUMP" -dr --no-show-raw-insn "$o" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2; sub(/^</, "", fn); sub(/>:$/, "", fn); next }
    $2 ~ /^R_/ { sym = $3; sub(/[-+]0x[0-9a-f]+$/, "", sym); print fn "\t" sym }
  ' | sort -u >"$tmp/refs"

  while IFS= read -r sym; do
    [[ -n "$sym" ]] || continue
    demangled="$(printf '%s\n' "$sym" | "$CXXFILT")"
    if grep -qxF -- "$demangled" "$tmp/allowed"; then
      echo "ok:        $name needs $demangled"
      continue
    fi
    status=1
    echo "VIOLATION: $name needs $demangled (not on the signal-safety allowlist)"
    users="$(awk -F'\t' -v s="$sym" '$2 == s {print $1}' "$tmp/refs" | sort -u)"
    if [[ -z "$users" ]]; then
      echo "             referenced from a data section (vtable, initializer or address table)"
    else
      while IFS= read -r fn; do
        echo "             from $(printf '%s\n' "$fn" | "$CXXFILT")"
      done <<<"$users"
    fi
  done <"$tmp/external"

  # Rule 2: TLS models that may call __tls_get_addr.
  # DWARF describes TLS variables with DTPOFF relocations in .debug_*; those
  # are read by debuggers, never executed, so only other sections count.
  "$READELF" -rW "$o" | awk '
    /^Relocation section / { sec = $3; gsub(/\047/, "", sec); next }
    sec ~ /^\.rela?\.debug/ { next }
    $3 ~ /TLSGD|TLSLD|TLSDESC|DTPOFF|DTPMOD|DTPREL/ { print $3 "\t" $5 }
  ' | sort -u >"$tmp/tls"
  while IFS=$'\t' read -r type sym; do
    [[ -n "$type" ]] || continue
    status=1
    echo "VIOLATION: $name has TLS relocation $type against $(printf '%s\n' "$sym" | "$CXXFILT")" \
      "(use CPPROF_SIGNAL_TLS: initial-exec only)"
  done <"$tmp/tls"
done

if ((status)); then
  echo "FAILED: the signal world needs symbols or TLS models outside the reviewed set."
  echo "Move non-signal code out of these files, or review the symbol and extend"
  echo "$allowlist (see docs/signal-safety.md)."
else
  echo "PASSED: $checked signal-world objects need only allowlisted symbols and initial-exec TLS."
fi
exit $status
