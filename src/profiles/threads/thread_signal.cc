// SPDX-License-Identifier: Apache-2.0
//
// Signal context. Everything in this file runs inside the thread-dump stack
// handler (HandleStackSignal, installed by thread_dump.cc with SA_SIGINFO |
// SA_RESTART) on a host thread that was running when it was asked:
// it may use atomics, raw syscalls (gettid), CaptureStack() and
// RestartInterruptedSyscall(); it must not allocate, lock, use stdio or
// change errno (ErrnoSaver). The request (StackRequest) is a static object
// with constexpr construction, so no guard variable is taken here.

#include "profiles/threads/thread_signal.h"

#include <sys/syscall.h>
#include <unistd.h>

#include "base/errno_saver.h"
#include "base/syscall_restart.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {
namespace threads {
namespace {

StackRequest g_request;

}  // namespace

CPPROF_SIGNAL_SAFE StackRequest& GetStackRequest() { return g_request; }

CPPROF_SIGNAL_SAFE void HandleStackSignal(int, siginfo_t* info, void* ucontext) {
  ErrnoSaver errno_saver;
  const int cookie = g_request.cookie.load(std::memory_order_acquire);
  if (info == nullptr || info->si_code != SI_QUEUE || cookie == 0 || info->si_value.sival_int != cookie) return;
  switch (RestartInterruptedSyscall(ucontext)) {
    case SyscallRestart::kRestarted: g_request.restarted.fetch_add(1, std::memory_order_relaxed); break;
    case SyscallRestart::kEintrCaused: g_request.eintr_caused.fetch_add(1, std::memory_order_relaxed); break;
    case SyscallRestart::kNotInterrupted: break;
  }
  if (g_request.target.load(std::memory_order_acquire) != static_cast<int>(syscall(SYS_gettid))) return;
  int expected = kPending;
  if (!g_request.state.compare_exchange_strong(expected, kWriting, std::memory_order_acq_rel)) return;
  g_request.depth = CaptureStack(ucontext, g_request.pcs, kSignalStackDepth);
  g_request.state.store(kDone, std::memory_order_release);
}

}  // namespace threads
}  // namespace internal
}  // namespace cpprof
