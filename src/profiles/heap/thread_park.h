// SPDX-License-Identifier: Apache-2.0
//
// Parking running threads for a consistent snapshot (the leak scan's fork).
// A thread that is running user code is sent a queued signal carrying a
// cookie; its handler records its stack pointer and waits on a futex until
// released, so all its registers sit in the signal frame on its own stack
// while the snapshot is taken. Threads blocked in a system call are never
// signalled (a handler would make epoll_wait, poll, nanosleep... return
// EINTR); the caller reads their stack pointer from /proc instead.
//
// The one race left: a thread seen running may enter a blocking system call
// before the signal arrives. The handler recognises that case (the frame's
// rax is -EINTR right after a `syscall` instruction) and, when the call's
// number is loaded by the `mov $NR, %eax` just before it (glibc's
// wrappers), rewinds the thread so the call is made again on return instead
// of failing with EINTR; otherwise it counts the case.
//
// Signal context: HandleParkSignal and what it calls (atomics, futex and
// the raw syscalls in safe reads of code bytes). Everything else is not.

#ifndef CPPROF_SRC_PROFILES_HEAP_THREAD_PARK_H_
#define CPPROF_SRC_PROFILES_HEAP_THREAD_PARK_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace cpprof {
namespace internal {

struct ParkCounters {
  std::atomic<uint64_t> parks{0};
  std::atomic<uint64_t> syscalls_restarted{0};  // the race above, repaired
  std::atomic<uint64_t> eintr_caused{0};        // the race above, not repairable
  std::atomic<uint64_t> timeouts{0};            // a parked thread released itself
};
ParkCounters& GetParkCounters();

class ThreadParker {
 public:
  // Installs the handler on `signo` (refusing a signal with a foreign
  // handler). Not signal-safe.
  static bool Install(int signo, std::string* error);

  // Signals every thread in `tids` and waits up to timeout_ms until each has
  // parked (a parked thread's stack pointer is inside its handler, below the
  // frame holding its interrupted registers). Allocates nothing until it
  // fails. Threads that no longer exist are skipped. Returns false (after
  // releasing those that parked) when some did not park; *error names them.
  bool ParkAll(const std::vector<pid_t>& tids, int timeout_ms, std::string* error);
  // Copies the parked threads' stack pointers into out[0..capacity) and
  // returns how many. Allocates nothing: while threads are parked, one of
  // them may hold the lock of the malloc arena the caller would use.
  size_t ParkedStackPointers(uintptr_t* out, size_t capacity) const;
  // Lets every parked thread return from its handler.
  void Release();

 private:
  int signo_ = 0;
  int cookie_ = 0;
  bool parked_ = false;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_THREAD_PARK_H_
