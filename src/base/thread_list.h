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
  bool blocked = false;  // not running: in a system call, or (number -1) blocked outside one
  long number = -1;
  uintptr_t args[6] = {};
  uintptr_t sp = 0;
  uintptr_t pc = 0;
  int error = 0;         // errno when the file could not be read (EACCES: process not dumpable)
};
// /proc/self/task/TID/syscall: "running", "NR a1 .. a6 SP PC", or "-1 SP PC"
// for a thread that is blocked outside a system call.
ThreadSyscall ReadThreadSyscall(pid_t tid);

// /proc/self/task/TID/schedstat: time on the CPU, time waiting to run, and
// timeslices run. False if it cannot be read.
struct ThreadSchedstat {
  uint64_t run_ns = 0;
  uint64_t wait_ns = 0;
  uint64_t slices = 0;
};
bool ReadThreadSchedstat(pid_t tid, ThreadSchedstat* out);

// /proc/self/task/TID/wchan: the kernel function the thread sleeps in
// ("do_epoll_wait", "futex_wait_queue"), "" when running or unknown.
std::string ReadThreadWchan(pid_t tid);

// se.exec_start of /proc/self/task/TID/sched (when the thread last ran, in
// nanoseconds of the scheduler clock; present with CONFIG_SCHED_DEBUG), or
// -1. Only differences between threads' values mean anything.
int64_t ReadThreadLastRanNs(pid_t tid);

// CPU time the thread has used (its thread CPU clock), or -1.
int64_t ReadThreadCpuNanos(pid_t tid);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_THREAD_LIST_H_
