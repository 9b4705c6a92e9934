#!/usr/bin/env bash
# README command 2: installs what is missing, builds, and runs every test:
# unit, integration, browser and package tests in a normal build, then the
# unit and safety tests again under ASan+UBSan and under TSan, then the
# libFuzzer targets for a bounded time (clang, ASan+UBSan).
# Fails if any test fails. Set CPPROF_SKIP_SANITIZERS=1 for the quick loop.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install_deps.sh"
if [[ -f "$root/tests/browser/package-lock.json" ]]; then
  (cd "$root/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
fi

status=0
run_suite() {  # name build-dir ctest-args... (after --) cmake-args...
  local name="$1" dir="$2"; shift 2
  local ctest_args=() cmake_args=()
  while (($#)) && [[ "$1" != "--" ]]; do ctest_args+=("$1"); shift; done
  (($#)) && shift
  cmake_args=("$@")
  echo "=== cpprof: $name build ==="
  CPPROF_BUILD_DIR="$dir" "$root/scripts/build.sh" "${cmake_args[@]}"
  echo "=== cpprof: $name tests ==="
  if ! (cd "$dir" && ctest --output-on-failure --timeout 600 "${ctest_args[@]}"); then
    status=1
  fi
}

run_suite "main" "$root/build"
if [[ "${CPPROF_SKIP_SANITIZERS:-0}" != "1" ]]; then
  run_suite "asan+ubsan" "$root/build-asan" -L "unit|sanitize" -- \
    -DCPPROF_SANITIZE=address,undefined -DCPPROF_BUILD_BENCH=OFF -DCPPROF_BUILD_EXAMPLES=OFF
  run_suite "tsan" "$root/build-tsan" -L "unit|sanitize" -- \
    -DCPPROF_SANITIZE=thread -DCPPROF_BUILD_BENCH=OFF -DCPPROF_BUILD_EXAMPLES=OFF
  # libFuzzer targets (clang), each for CPPROF_FUZZ_SECONDS (20) on its corpus.
  run_suite "fuzz" "$root/build-fuzz" -L fuzz -- \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCPPROF_FUZZ=ON \
    -DCPPROF_SANITIZE=address,undefined -DCPPROF_BUILD_BENCH=OFF -DCPPROF_BUILD_EXAMPLES=OFF -DCPPROF_INSTALL=OFF
fi
if ((status)); then
  echo "cpprof: some tests FAILED"
else
  echo "cpprof: all tests passed"
fi
exit $status
