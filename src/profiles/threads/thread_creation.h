// SPDX-License-Identifier: Apache-2.0
//
// Where each live thread was created (/debug/pprof/threadcreate) and the
// thread-leak detector built on it.
//
// Tracking: an observer on cpprof's pthread_create interposer
// (interpose/thread_hooks.h) captures the creator's stack in
// pthread_create (CaptureCurrentStack: the published unwind tables, no
// allocation) and interns it in a StackTable (values: live threads,
// threads created); the new thread registers tid -> stack slot before its
// start routine runs, and takes itself off when it ends (also through
// pthread_exit or cancellation). Threads made before tracking started, by a
// raw clone(), or inside glibc without the PLT (SIGEV_THREAD timers, POSIX
// AIO) have no entry: listings reconcile with /proc/self/task and report
// them under an "unknown creator" frame instead of dropping them.
//
// Leak detector: a background thread ("cpprof-threadmon") records, every
// interval (10 s by default), the live thread count of every creation
// stack; a stack whose count keeps rising over the recorded window (a
// robust trend, base/trend.h, plus at least kMinThreadGrowth more threads
// at the end than at the start) is a suspect, the C++ form of a goroutine
// leak. A fixed pool, a pool that grew once, or threads that come and go
// are not.
//
// Not signal-safe; thread-safe.

#ifndef CPPROF_SRC_PROFILES_THREADS_THREAD_CREATION_H_
#define CPPROF_SRC_PROFILES_THREADS_THREAD_CREATION_H_

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace cpprof {
namespace internal {
namespace threads {

constexpr int kDefaultLeakIntervalMs = 10000;
constexpr size_t kLeakHistory = 90;       // points kept (15 min at 10 s)
constexpr int kMinLeakPoints = 6;
constexpr int64_t kMinThreadGrowth = 5;   // threads more at the window's end than at its start

// Installs the pthread_create observer (idempotent). Threads created from
// now on are tracked.
void StartCreationTracking();
bool CreationTrackingActive();

struct CreationRecord {
  bool known = false;            // false: unknown creator
  std::vector<uintptr_t> pcs;    // creator's stack: return addresses, innermost first
  pid_t creator_tid = 0;
  int64_t created_unix_ns = 0;
  long slot = -1;
};

// Creation records of `tids` (same order); unknown for untracked threads.
std::vector<CreationRecord> LookupCreators(const std::vector<pid_t>& tids);

// Forgets tracked threads that are no longer in `live_tids` (exited
// without their exit hook, or a forked child's parent threads). Returns how
// many were dropped.
size_t ForgetThreadsNotIn(const std::vector<pid_t>& live_tids);

// Threads created through the tracked pthread_create since tracking began.
uint64_t TrackedCreations();

struct LeakSuspect {
  long slot = -1;
  std::vector<uintptr_t> pcs;   // the creation stack
  int points = 0;
  double window_seconds = 0;
  int64_t first_live = 0, last_live = 0;
  double threads_per_minute = 0;  // Theil-Sen slope
  double mk_z = 0;
};

struct LeakReport {
  int interval_ms = 0;
  int points = 0;
  double window_seconds = 0;
  std::vector<LeakSuspect> suspects;  // largest growth first
};

class ThreadLeakMonitor {
 public:
  static ThreadLeakMonitor& Global();
  // Starts (or re-times) the background recording. Idempotent.
  void Start(int interval_ms);
  bool running() const;
  // Records one point now (the thread's task; also for tests).
  void RecordPoint();
  LeakReport Suspects() const;
  size_t memory_bytes() const;

 private:
  struct Point {
    double t;                          // CLOCK_MONOTONIC seconds
    std::map<long, int64_t> live;      // slot -> live threads
  };
  ThreadLeakMonitor() = default;
  mutable std::mutex mu_;
  std::deque<Point> history_;
  int interval_ms_ = kDefaultLeakIntervalMs;
};

// One line per suspect for headers and the index page:
// "12 -> 40 threads in 30 s (56/min) created at Foo() <- Bar()".
std::string DescribeSuspect(const LeakSuspect& suspect, int max_frames);

}  // namespace threads
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_THREADS_THREAD_CREATION_H_
