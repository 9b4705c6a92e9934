// SPDX-License-Identifier: Apache-2.0
//
// The clocks cpprof reads, in one place. All are vDSO calls: signal-safe,
// no allocation, no lock (CPPROF_SIGNAL_SAFE), fine in allocation hooks.

#ifndef CPPROF_SRC_BASE_CLOCK_H_
#define CPPROF_SRC_BASE_CLOCK_H_

#include <time.h>

#include <cstdint>

#include "base/config.h"

namespace cpprof {
namespace internal {

CPPROF_SIGNAL_SAFE inline int64_t ClockNanos(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// CLOCK_MONOTONIC in nanoseconds: durations, deadlines.
CPPROF_SIGNAL_SAFE inline int64_t MonotonicNanos() { return ClockNanos(CLOCK_MONOTONIC); }
// CLOCK_REALTIME in nanoseconds since the Unix epoch: profile time stamps.
CPPROF_SIGNAL_SAFE inline int64_t RealtimeNanos() { return ClockNanos(CLOCK_REALTIME); }
// CLOCK_MONOTONIC_COARSE in whole seconds (a tick old at most): object ages.
CPPROF_SIGNAL_SAFE inline int64_t CoarseMonotonicSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return ts.tv_sec;
}

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_CLOCK_H_
