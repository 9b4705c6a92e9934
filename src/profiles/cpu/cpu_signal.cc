// SPDX-License-Identifier: Apache-2.0
//
// Signal context. Everything in this file runs inside the CPU profiling
// signal handler (installed by CpuProfiler with SA_SIGINFO | SA_RESTART):
//   HandleCpuSignal()      the handler
//   ResetCachedThreadId()  also from the pthread_atfork child handler
// They may: use atomics, initial-exec TLS, raw syscalls (gettid),
// clock_gettime, CaptureStack() and StackTable::Add().
// They must not: allocate, lock, use stdio or std:: containers, change errno
// (ErrnoSaver), throw. GetCpuSignalState() returns a static object whose
// constructor is constexpr, so no guard variable is taken here.
//
// Checklist (ClickHouse/async-profiler): cookie check first (stale or foreign
// signals leave at once), errno saved, in-flight counter for the reader's
// grace period, weight = 1 + si_overrun so the kernel's folded expirations
// still count, drops counted by the table.

#include "profiles/cpu/cpu_signal.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/errno_saver.h"
#include "base/self_stats.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {
namespace {

CpuSignalState g_state;
CPPROF_SIGNAL_TLS int t_tid = 0;

}  // namespace

CpuSignalState& GetCpuSignalState() { return g_state; }

CPPROF_SIGNAL_SAFE void ResetCachedThreadId() { t_tid = 0; }

CPPROF_SIGNAL_SAFE void HandleCpuSignal(int signo, siginfo_t* info, void* ucontext) {
  ErrnoSaver errno_saver;
  SelfCounters& counters = GetSelfCounters();
  const int cookie = g_state.cookie.load(std::memory_order_acquire);
  if (info == nullptr || info->si_code != SI_TIMER || cookie == 0 ||
      info->si_value.sival_int != cookie) {
    counters.cpu_signals_ignored.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  g_state.in_flight.fetch_add(1, std::memory_order_seq_cst);
  StackTable* table = g_state.table.load(std::memory_order_seq_cst);
  if (table != nullptr) {
    const bool timed = g_state.time_runs.load(std::memory_order_relaxed);
    const uint64_t start_ns = timed ? static_cast<uint64_t>(MonotonicNanos()) : 0;
    if (t_tid == 0) t_tid = static_cast<int>(syscall(SYS_gettid));
    const uint64_t overrun = info->si_overrun > 0 ? static_cast<uint64_t>(info->si_overrun) : 0;
    const uint64_t weight = 1 + overrun;
    uintptr_t pcs[kCpuMaxStackDepth];
    int depth = CaptureStack(ucontext, pcs, kCpuMaxStackDepth);
    if (table->Add(pcs, depth, t_tid, weight)) {
      counters.cpu_samples.fetch_add(weight, std::memory_order_relaxed);
    } else {
      counters.cpu_samples_dropped.fetch_add(weight, std::memory_order_relaxed);
    }
    counters.cpu_overruns.fetch_add(overrun, std::memory_order_relaxed);
    counters.cpu_signals.fetch_add(1, std::memory_order_relaxed);
    counters.cpu_handler_frames.fetch_add(static_cast<uint64_t>(depth), std::memory_order_relaxed);
    if (timed) {
      const uint64_t spent_ns = static_cast<uint64_t>(MonotonicNanos()) - start_ns;
      if (spent_ns <= kHandlerPreemptedNs) {
        counters.cpu_handler_ns.fetch_add(spent_ns, std::memory_order_relaxed);
      } else {
        counters.cpu_handler_preempted.fetch_add(1, std::memory_order_relaxed);
      }
      RecordHandlerNanos(spent_ns);
    }
  }
  g_state.in_flight.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace internal
}  // namespace cpprof
