#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Builds the consumer with nothing but pkg-config against an installed
# prefix, then runs it (tests/cmake/).
#   build_and_run.sh shared|static CXX PREFIX LIBDIR SOURCE WORKDIR
# shared: `pkg-config --cflags --libs cpprof`
# static: `pkg-config --static --libs cpprof`, with -lcpprof replaced by
#         -l:libcpprof.a (both files sit in the same directory)
set -euo pipefail
mode="$1" cxx="$2" prefix="$3" libdir="$4" source="$5" work="$6"
rm -rf "$work"
mkdir -p "$work"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
echo "pkg-config --variable=prefix cpprof: $(pkg-config --variable=prefix cpprof)"
case "$mode" in
  shared)
    flags="$(pkg-config --cflags --libs cpprof)"
    expect=(-DCPPROF_EXPECT_LIBRARY_DIR="\"$prefix/$libdir\"" -Wl,-rpath,"$prefix/$libdir") ;;
  static)
    flags="$(pkg-config --cflags --static --libs cpprof)"
    flags="${flags/-lcpprof /-l:libcpprof.a }"
    [[ "$flags" == *"-l:libcpprof.a"* ]] || { echo "no -lcpprof in: $flags"; exit 1; }
    expect=(-DCPPROF_EXPECT_STATIC=1) ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
echo "flags: $flags"
# shellcheck disable=SC2086  # flags are words
"$cxx" -std=c++17 -o "$work/app" "$source" $flags -ldl "${expect[@]}"
"$work/app"
