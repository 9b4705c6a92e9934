#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs the signal-safety check on an object that breaks both rules and
# passes only if the check fails with exit status 1 and names the reasons.
#   expect_rejected.sh CHECK_SCRIPT ALLOWLIST OBJECT...
set -uo pipefail
check="$1" allowlist="$2"; shift 2
out="$(bash "$check" --allowlist "$allowlist" "$@" 2>&1)"
rc=$?
printf '%s\n' "$out"
fail=0
[[ $rc -eq 1 ]] || { echo "expected exit status 1, got $rc"; fail=1; }
for want in 'VIOLATION: .* needs malloc' 'from CpprofUnsafeHandlerForTest' \
            'VIOLATION: .* needs printf' 'VIOLATION: .* needs free' \
            'VIOLATION: .* TLS relocation R_[A-Z0-9_]*(TLSGD|TLSDESC)'; do
  grep -Eq -- "$want" <<<"$out" || { echo "missing from the report: $want"; fail=1; }
done
exit $fail
