// SPDX-License-Identifier: Apache-2.0
//
// The CPU profiling signal handler and the state it reads. The profiler
// (cpu_profiler.cc) publishes a StackTable and a session cookie; the kernel
// delivers the signal from per-thread CPU-clock timers whose sigev_value
// carries the cookie; the handler ignores any signal without the current
// cookie (stale timers after a session ended, or someone else's SIGPROF).

#ifndef CPPROF_SRC_PROFILES_CPU_CPU_SIGNAL_H_
#define CPPROF_SRC_PROFILES_CPU_CPU_SIGNAL_H_

#include <signal.h>

#include <atomic>
#include <cstdint>

#include "base/config.h"
#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {

constexpr int kCpuMaxStackDepth = 128;

struct CpuSignalState {
  std::atomic<StackTable*> table{nullptr};  // where samples go; null = drop
  std::atomic<int> cookie{0};               // current session's sigev_value; 0 = none
  std::atomic<int> in_flight{0};            // handlers currently running
  // Whether each run is timed (two CLOCK_MONOTONIC reads, for the stats page
  // only). Off where reading the clock is slow (a clocksource without vDSO
  // support, such as hpet or acpi_pm, makes each read a system call that a
  // VM may trap): the handler would then spend most of its time timing
  // itself. Set by CpuProfiler from kMaxHandlerClockNs.
  std::atomic<bool> time_runs{true};
};
constexpr int64_t kMaxHandlerClockNs = 500;
CpuSignalState& GetCpuSignalState();

// Signal context: the SA_SIGINFO handler.
CPPROF_SIGNAL_SAFE void HandleCpuSignal(int signo, siginfo_t* info, void* ucontext);

// Signal context (called from a fork child handler too): forgets the cached
// thread id of the calling thread.
CPPROF_SIGNAL_SAFE void ResetCachedThreadId();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_CPU_CPU_SIGNAL_H_
