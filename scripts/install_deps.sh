#!/usr/bin/env bash
# Installs what cpprof needs to build and test on Debian 12, only what is
# missing (so a second run is fast). Run as root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git curl python3 binutils
  libcpp-httplib-dev libprotobuf-dev protobuf-compiler doctest-dev zlib1g-dev
  libdw-dev libelf-dev libssl-dev openssl libunwind-dev libgoogle-perftools-dev google-perftools libjemalloc-dev
  golang-go chromium prometheus clang
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "cpprof: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
