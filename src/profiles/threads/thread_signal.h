// SPDX-License-Identifier: Apache-2.0
//
// The opt-in signal of thread dumps (`?signal=1`): the stack of a thread
// that is running, taken by the thread itself in a signal handler. Only
// threads that /proc shows running are asked, one at a time, never blocked
// ones (a signal makes epoll_wait, poll, nanosleep, timed waits ... return
// EINTR); should a thread enter a system call in between, the handler
// rewinds the call when it can (base/syscall_restart.h).
//
// Signal context: HandleStackSignal (installed with SA_SIGINFO |
// SA_RESTART; ignores signals without the current request's cookie).

#ifndef CPPROF_SRC_PROFILES_THREADS_THREAD_SIGNAL_H_
#define CPPROF_SRC_PROFILES_THREADS_THREAD_SIGNAL_H_

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include "base/config.h"

namespace cpprof {
namespace internal {
namespace threads {

constexpr int kSignalStackDepth = 128;

// One request at a time (the requester holds a lock around it).
struct StackRequest {
  std::atomic<int> cookie{0};   // si_value of the current request; 0 = none
  std::atomic<int> state{0};    // kIdle, kPending, kWriting, kDone
  std::atomic<int> target{0};   // tid asked
  int depth = 0;
  uintptr_t pcs[kSignalStackDepth];
  std::atomic<uint64_t> restarted{0};    // system calls rewound instead of EINTR
  std::atomic<uint64_t> eintr_caused{0}; // interrupted calls that could not be rewound
};
enum : int { kIdle = 0, kPending = 1, kWriting = 2, kDone = 3 };

CPPROF_SIGNAL_SAFE StackRequest& GetStackRequest();
CPPROF_SIGNAL_SAFE void HandleStackSignal(int signo, siginfo_t* info, void* ucontext);

}  // namespace threads
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_THREADS_THREAD_SIGNAL_H_
