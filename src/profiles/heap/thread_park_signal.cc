// SPDX-License-Identifier: Apache-2.0
//
// Signal context: everything in this file runs in the park handler
// (SA_SIGINFO | SA_RESTART) on host threads (thread_park.h): atomics,
// raw syscalls (futex, gettid), clock_gettime and SafeLoad; no allocation,
// no locks, no stdio; errno is kept.

#include "profiles/heap/thread_park_signal.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/clock.h"
#include "base/errno_saver.h"
#include "base/safe_load.h"
#include "base/syscall_restart.h"

namespace cpprof {
namespace internal {

constexpr long kMaxParkNanos = 5L * 1000 * 1000 * 1000;  // a lost release never holds a thread longer

namespace {

ParkState g_park;
ParkCounters g_park_counters;

// A thread parked right after it entered a blocking call that the signal
// interrupted makes the call again instead of returning EINTR, when it can.
void RepairInterruptedSyscall(void* ucontext) {
  switch (RestartInterruptedSyscall(ucontext)) {
    case SyscallRestart::kRestarted:
      g_park_counters.syscalls_restarted.fetch_add(1, std::memory_order_relaxed);
      break;
    case SyscallRestart::kEintrCaused:
      g_park_counters.eintr_caused.fetch_add(1, std::memory_order_relaxed);
      break;
    case SyscallRestart::kNotInterrupted:
      break;
  }
}

}  // namespace

CPPROF_SIGNAL_SAFE void HandleParkSignal(int, siginfo_t* info, void* ucontext) {
  ErrnoSaver errno_saver;
  const int cookie = g_park.cookie.load(std::memory_order_acquire);
  if (info == nullptr || info->si_code != SI_QUEUE || cookie == 0 || info->si_value.sival_int != cookie) return;
  g_park.in_handler.fetch_add(1, std::memory_order_acq_rel);
  RepairInterruptedSyscall(ucontext);
  int index = g_park.slots.fetch_add(1, std::memory_order_acq_rel);
  if (index < kMaxParkedThreads) {
    uintptr_t here = reinterpret_cast<uintptr_t>(&index);
    g_park.tids[index] = static_cast<pid_t>(syscall(SYS_gettid));
    g_park.sps[index] = here - 256;  // below this frame's locals: everything above is kept
  }
  g_park.parked.fetch_add(1, std::memory_order_acq_rel);
  g_park_counters.parks.fetch_add(1, std::memory_order_relaxed);
  const int64_t deadline = MonotonicNanos() + kMaxParkNanos;
  while (g_park.release.load(std::memory_order_acquire) != cookie) {
    if (MonotonicNanos() >= deadline) {
      g_park_counters.timeouts.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    timespec left{0, 50 * 1000 * 1000};
    ParkFutex(&g_park.release, FUTEX_WAIT_PRIVATE, g_park.release.load(std::memory_order_acquire), &left);
  }
  g_park.in_handler.fetch_sub(1, std::memory_order_acq_rel);
}

ParkState& GetParkState() { return g_park; }
ParkCounters& GetParkCounters() { return g_park_counters; }

CPPROF_SIGNAL_SAFE long ParkFutex(std::atomic<int>* word, int op, int value, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<int*>(word), op, value, timeout, nullptr, 0);
}

}  // namespace internal
}  // namespace cpprof
