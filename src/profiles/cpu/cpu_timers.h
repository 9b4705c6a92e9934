// SPDX-License-Identifier: Apache-2.0
//
// ThreadTimers: one POSIX timer per thread of the process, each on that
// thread's CPU-time clock, delivering the profiling signal to that thread
// (SIGEV_THREAD_ID). Covers threads that existed before profiling started
// (/proc/self/task scan), threads created during it (pthread_create hook
// calls AddCurrentThread) and threads that exit (the hook's exit callback,
// and rescans that find dead timers). Not signal context; thread-safe.

#ifndef CPPROF_SRC_PROFILES_CPU_CPU_TIMERS_H_
#define CPPROF_SRC_PROFILES_CPU_CPU_TIMERS_H_

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace cpprof {
namespace internal {

class ThreadTimers {
 public:
  // Timers deliver `signo` every `period_ns` of the thread's CPU time with
  // sigev_value = cookie. The first expiry is random in (0, period], so short
  // threads and window edges are sampled without bias.
  ThreadTimers(int signo, int64_t period_ns, int cookie);
  ~ThreadTimers();  // deletes every timer
  ThreadTimers(const ThreadTimers&) = delete;
  ThreadTimers& operator=(const ThreadTimers&) = delete;

  // Arms a timer for thread `tid` of this process (no-op if it has one).
  void AddThread(pid_t tid);
  // Deletes the timer of `tid`, if any, remembering `final_name` (the name
  // the thread had when it ended) when not empty.
  void RemoveThread(pid_t tid, const std::string& final_name = "");
  // Lists /proc/self/task: arms timers for new threads and deletes timers of
  // threads that are gone (or whose timer the kernel reports dead). Returns
  // the number of live threads seen.
  int Rescan();

  // Names of every thread seen during this session (dead ones included),
  // re-reading the current name of the threads in `refresh` first.
  std::map<pid_t, std::string> ThreadNames(const std::vector<pid_t>& refresh);
  size_t armed() const;
  uint64_t create_errors() const { return create_errors_; }
  std::string last_error() const;

 private:
  void AddThreadLocked(pid_t tid);
  std::string ReadName(pid_t tid) const;

  const int signo_;
  const int64_t period_ns_;
  const int cookie_;
  mutable std::mutex mu_;
  std::unordered_map<pid_t, timer_t> timers_;
  std::map<pid_t, std::string> names_;
  // Threads armed during the last rescans: their names are re-read, since
  // threads usually name themselves right after they start.
  std::vector<pid_t> recent_, previous_recent_;
  uint64_t create_errors_ = 0;
  std::string last_error_;
  uint64_t rng_;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_CPU_CPU_TIMERS_H_
