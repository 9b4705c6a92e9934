// SPDX-License-Identifier: Apache-2.0
//
// CpuProfiler: shared CPU sampling sessions with per-request windows.
//
// Any number of requests may profile at once (a scraper holding 14 s of
// every 15 s and a person's `go tool pprof` overlap all the time). Requests
// at the same rate share one sampling session; each opens a window and gets
// exactly the samples taken between its BeginWindow() and EndWindow(). A
// request for another rate while a session runs is refused with a message
// naming the rate in use. The session starts with the first window and stops
// (timers deleted, tables freed) when the last window closes.
//
// Not signal context; thread-safe.

#ifndef CPPROF_SRC_PROFILES_CPU_CPU_PROFILER_H_
#define CPPROF_SRC_PROFILES_CPU_CPU_PROFILER_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cpprof/status.h"
#include "pprof/stack_profile.h"

namespace cpprof {
namespace internal {

class StackTable;
class ThreadTimers;

class CpuProfiler {
 public:
  static CpuProfiler& Global();

  // Starts or joins the sampling session at `hz` (samples per CPU-second per
  // thread) using signal `signo`, and opens a window. Errors:
  //   kFailedPrecondition: a session at another rate is running (HTTP 409);
  //   kUnavailable:        the signal has a handler that is not cpprof's, or
  //                        no memory for the tables.
  Status BeginWindow(int hz, int signo, uint64_t* window_id);

  // Closes the window and returns its samples: values (samples/count,
  // cpu/nanoseconds), labels `thread` (name) and `tid`, plus a synthetic
  // sample for anything dropped. Unknown ids give an empty profile.
  StackProfile EndWindow(uint64_t window_id);

  // The distinct PCs (every frame) of the samples the window holds so far,
  // at most max_pcs of them, sorted; the window stays open. Empty for an
  // unknown id. Lets a request prepare symbols while its window runs.
  std::vector<uintptr_t> PcsSoFar(uint64_t window_id, size_t max_pcs) const;

  // Rate of the running session, 0 if none.
  int active_hz() const;
  // Windows currently open.
  int open_windows() const;
  // Threads with an armed timer in the running session.
  size_t armed_threads() const;

  // Capacity of the tables created by new sessions (for tests).
  void set_table_capacity(size_t slots, size_t arena_pcs);
  // Whether a full table is replaced by a fresh one (for tests).
  void set_rotation_enabled(bool enabled);
  // Hard cap on the memory of the CPU stack tables (Options::
  // cpu_table_max_bytes). A full table is replaced by a fresh one while open
  // windows still read the old ones; past the cap it is not, and further
  // new stacks are dropped and counted (the profile shows them as a
  // "[cpprof: N samples dropped: stack table full]" frame). The first table
  // of a session is always allowed.
  void set_max_table_bytes(size_t bytes);
  // Bytes the CPU stack tables hold now, and rotations refused by the cap.
  static size_t table_bytes();
  uint64_t rotations_refused() const;

 private:
  struct Session;
  struct Window;
  CpuProfiler();
  // pthread_atfork child handler: the parent's session (its manager thread,
  // timers and waiting requests) does not exist in the child; forget it
  // without joining or destroying anything, so the child starts afresh.
  void ForgetParentAfterFork();
  friend void CpuProfilerAtForkChild();
  ~CpuProfiler() = delete;

  Status StartSessionLocked(int hz, int signo);
  void ManagerLoop(Session* session);
  void MaybeRotateTableLocked(Session* session);
  void ReleaseUnusedTablesLocked(Session* session);
  static void OnThreadStart();
  static void OnThreadExit();

  mutable std::mutex mu_;
  std::unique_ptr<Session> session_;
  std::vector<std::unique_ptr<Window>> windows_;
  uint64_t next_window_id_ = 1;
  int next_cookie_ = 0;
  size_t table_slots_ = 16384;
  size_t table_arena_pcs_ = 16384 * 24;
  bool rotation_enabled_ = true;
  size_t max_table_bytes_ = kDefaultMaxTableBytes;
  uint64_t rotations_refused_ = 0;
  const StackTable* refused_table_ = nullptr;  // the full table a rotation was refused for

 public:
  static constexpr size_t kDefaultMaxTableBytes = size_t{32} << 20;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_CPU_CPU_PROFILER_H_
