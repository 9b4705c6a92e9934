// SPDX-License-Identifier: Apache-2.0
//
// The process's threads as /proc shows them: listing, names, scheduler
// state and, for a thread blocked in a system call, its stack and
// instruction pointers (/proc/self/task/TID/syscall), which lets cpprof read
// a blocked thread's stack without signalling it.
//
// Not signal-safe (allocates); thread-safe.

#ifndef CPPROF_SRC_BASE_THREAD_LIST_H_
#define CPPROF_SRC_BASE_THREAD_LIST_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cpprof {
namespace internal {

// Thread ids of this process (/proc/self/task); empty if it cannot be read.
std::vector<pid_t> ListTasks();
// The thread's name (/proc/self/task/TID/comm), "" if gone.
std::string ReadThreadName(pid_t tid);
// The state letter of /proc/self/task/TID/stat ('R' running, 'S' sleeping,
// 'D' disk wait, 't' traced, ...), or 0 if the thread is gone.
char ReadThreadState(pid_t tid);

// The thread's blocked-signal mask (SigBlk of /proc/self/task/TID/status),
// bit n-1 for signal n; 0 if it cannot be read.
uint64_t ReadThreadBlockedSignals(pid_t tid);

struct ThreadSyscall {
  bool blocked = false;  // in a system call (false: running, or unknown)
  long number = -1;
  uintptr_t sp = 0;
  uintptr_t pc = 0;
};
// /proc/self/task/TID/syscall: "running", or "NR a1 .. a6 SP PC".
ThreadSyscall ReadThreadSyscall(pid_t tid);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_THREAD_LIST_H_
