// SPDX-License-Identifier: Apache-2.0
//
// The park handler and the state it shares with ThreadParker
// (thread_park.h). Signal context: HandleParkSignal, ParkFutex,
// GetParkState, GetParkCounters.

#ifndef CPPROF_SRC_PROFILES_HEAP_THREAD_PARK_SIGNAL_H_
#define CPPROF_SRC_PROFILES_HEAP_THREAD_PARK_SIGNAL_H_

#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstdint>

#include "base/config.h"
#include "profiles/heap/thread_park.h"

namespace cpprof {
namespace internal {

constexpr int kMaxParkedThreads = 8192;

struct ParkState {
  std::atomic<int> cookie{0};      // accepted cookie; 0 = none
  std::atomic<int> release{0};     // futex word: the cookie once released
  std::atomic<int> slots{0};       // slots taken by handlers of this round
  std::atomic<int> parked{0};      // handlers that have parked for `cookie` (slot written)
  std::atomic<int> in_handler{0};
  pid_t tids[kMaxParkedThreads];
  uintptr_t sps[kMaxParkedThreads];
};
CPPROF_SIGNAL_SAFE ParkState& GetParkState();

CPPROF_SIGNAL_SAFE void HandleParkSignal(int signo, siginfo_t* info, void* ucontext);
CPPROF_SIGNAL_SAFE long ParkFutex(std::atomic<int>* word, int op, int value, const timespec* timeout);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_THREAD_PARK_SIGNAL_H_
