// SPDX-License-Identifier: Apache-2.0
//
// A dump of every thread of the process, for /debug/pprof/goroutine and
// /debug/pprof/threads, taken without disturbing any blocked thread.
//
// Per thread (/proc/self/task/TID): name, state, what it waits in (system
// call, arguments, kernel wait channel), CPU time, how long since it last
// ran, and its stack:
//   - blocked in the kernel: unwound from the stack and instruction
//     pointers in `syscall` (unwind/blocked_stack.h), no signal; `syscall`
//     and `schedstat` are read again after the walk and must not have
//     changed (the thread did not run meanwhile), else the walk is retried
//     (3 tries) and otherwise marked as changed while read;
//   - the dumping thread: its own stack, directly;
//   - running: retried after sched_yield (3 tries), then shown as running
//     with no stack; only with DumpOptions::signal_running is a thread that
//     is still running asked for its stack with a signal (thread_signal.h),
//     and never one that blocks that signal.
// Threads blocked in pthread_mutex_lock name the mutex (the futex address,
// first system call argument, is the mutex's lock word) and its owner (the
// __owner field 8 bytes further); owner edges that close a cycle are
// reported as a deadlock. When `syscall` cannot be read (EACCES: the
// process is not dumpable) the dump says so and shows no blocked stacks.
//
// Not signal-safe; thread-safe.

#ifndef CPPROF_SRC_PROFILES_THREADS_THREAD_DUMP_H_
#define CPPROF_SRC_PROFILES_THREADS_THREAD_DUMP_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/thread_list.h"
#include "pprof/stack_profile.h"
#include "profiles/threads/thread_creation.h"

namespace cpprof {
namespace internal {
namespace threads {

enum class StackOrigin {
  kBlocked,     // unwound from /proc while the thread was blocked
  kSelf,        // the dumping thread
  kRunning,     // on a CPU (or runnable) at every try
  kSignalled,   // running; its stack taken by itself in a signal handler (?signal=1)
  kChanged,     // ran while it was being read, at every try
  kUnreadable,  // /proc/self/task/TID/syscall could not be read
  kGone,        // exited during the dump
};

struct ThreadInfo {
  pid_t tid = 0;
  std::string name;
  char state = 0;             // /proc stat letter
  ThreadSyscall syscall;      // as read for the stack
  std::string wchan;
  std::string wait;           // Go-like reason: "IO wait", "mutex wait", "sleep", "running", ...
  int64_t cpu_ns = -1;
  int64_t blocked_ns = -1;    // since it last ran, -1 unknown
  StackOrigin origin = StackOrigin::kGone;
  bool complete = false;      // the stack reaches a thread entry
  bool fp_guessed = false;
  std::vector<uintptr_t> pcs; // pcs[0] the PC (or return address for kSelf), then return addresses
  uintptr_t mutex = 0;        // the pthread mutex it waits for, 0 if none
  pid_t mutex_owner = 0;      // that mutex's owner, 0 if unknown
  CreationRecord creator;
  std::string note;           // why a running thread has no stack, when it was asked for one
};

struct ThreadDump {
  std::vector<ThreadInfo> threads;          // by tid
  std::vector<std::vector<pid_t>> deadlocks;  // each a cycle of "waits for a mutex held by"
  std::string proc_problem;                 // why stacks are missing ("" when /proc was readable)
  std::string signal_problem;               // why running threads were not signalled, when asked
  LeakReport leaks;
  int64_t unix_ns = 0;
  int64_t took_ns = 0;
};

struct DumpOptions {
  bool signal_running = false;  // ask running threads for their stacks with a signal
  int signo = 0;                // that signal; 0 = SIGRTMIN + 5
};

// Reads every thread now.
ThreadDump TakeThreadDump(const DumpOptions& options = DumpOptions());

// Counters of the opt-in signal: system calls rewound instead of EINTR, and
// interrupted calls that could not be.
uint64_t SignalSyscallsRestarted();
uint64_t SignalEintrCaused();

// The system call's name ("epoll_wait"), or null for one not listed.
const char* SyscallNameOrNull(long nr);

// The goroutine/count profile: one sample per distinct stack with the
// number of threads, labels `thread` (names), `state` (wait reasons) and
// `tid`; the dump's notes (deadlocks, leak suspects, /proc problems) as
// comments.
StackProfile ThreadDumpProfile(const ThreadDump& dump);

// debug=1: Go's grouped text ("threads profile: total N", "N @ 0x..",
// "#\t0x..\tfunc\tfile:line"). debug=2: one block per thread.
std::string ThreadDumpText(const ThreadDump& dump, int debug);

// The threadcreate/count profile: one sample per creation stack with the
// number of live threads created there; untracked threads under an
// "unknown creator" frame.
StackProfile ThreadCreateProfile();
std::string ThreadCreateText();

// The thread_leaks report: suspects as a threadcreate/count profile of
// their live threads, or as text.
StackProfile ThreadLeakProfile(const LeakReport& report);
std::string ThreadLeakText(const LeakReport& report);

}  // namespace threads
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_THREADS_THREAD_DUMP_H_
