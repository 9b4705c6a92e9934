// SPDX-License-Identifier: Apache-2.0
//
// Signal context. For handlers that interrupt a thread which may have just
// entered a blocking system call: when the interrupted call is about to
// return -EINTR right after its `syscall` instruction, and the number is
// known from the `mov $NR, %eax` before it, rewind the PC so the thread
// makes the call again when the handler returns instead of seeing EINTR
// (async-profiler's trick for epoll_wait/poll). x86_64 only; elsewhere a
// no-op that reports nothing.

#ifndef CPPROF_SRC_BASE_SYSCALL_RESTART_H_
#define CPPROF_SRC_BASE_SYSCALL_RESTART_H_

#include "base/config.h"

namespace cpprof {
namespace internal {

enum class SyscallRestart {
  kNotInterrupted,  // the thread was not leaving a system call with EINTR
  kRestarted,       // the call will be made again
  kEintrCaused,     // interrupted, but the number is unknown: the caller sees EINTR
};

// Signal-safe. `ucontext` is the handler's third argument.
CPPROF_SIGNAL_SAFE SyscallRestart RestartInterruptedSyscall(void* ucontext);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_SYSCALL_RESTART_H_
