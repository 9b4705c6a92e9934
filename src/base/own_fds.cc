// SPDX-License-Identifier: Apache-2.0

#include "base/own_fds.h"

#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace cpprof {
namespace internal {
namespace {

constexpr int kTrackedFds = 65536;
std::atomic<uint64_t> g_own_fds[kTrackedFds / 64];

}  // namespace

void TrackOwnFd(int fd) {
  if (fd >= 0 && fd < kTrackedFds) g_own_fds[fd / 64].fetch_or(uint64_t{1} << (fd % 64));
}

void UntrackOwnFd(int fd) {
  if (fd >= 0 && fd < kTrackedFds) g_own_fds[fd / 64].fetch_and(~(uint64_t{1} << (fd % 64)));
}

bool IsOwnFd(int fd) {
  return fd >= 0 && fd < kTrackedFds && (g_own_fds[fd / 64].load() & (uint64_t{1} << (fd % 64))) != 0;
}

void CloseOwnFdsInChild() {
  for (int w = 0; w < kTrackedFds / 64; ++w) {
    uint64_t bits = g_own_fds[w].exchange(0);
    while (bits != 0) {
      const int b = __builtin_ctzll(bits);
      bits &= bits - 1;
      close(w * 64 + b);
    }
  }
}

}  // namespace internal
}  // namespace cpprof
