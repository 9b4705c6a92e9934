// SPDX-License-Identifier: Apache-2.0
//
// PeriodicThread: one of cpprof's own background threads that runs a task
// every interval for the life of the process (the unwind-table refresher,
// the heap growth tracker). The thread blocks every signal (it is never the
// target of a host's process-directed signal), counts as cpprof's own CPU
// time, stops and is joined at exit, and is simply forgotten in a forked
// child (it does not exist there), where the next Start() starts it anew.
//
// Not signal-safe; thread-safe.

#ifndef CPPROF_SRC_BASE_PERIODIC_THREAD_H_
#define CPPROF_SRC_BASE_PERIODIC_THREAD_H_

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace cpprof {
namespace internal {

class PeriodicThread {
 public:
  // `name` (at most 15 characters) is the thread's name; `task` runs every
  // `interval_ms` (first after one interval), outside any lock of this class.
  PeriodicThread(const char* name, std::function<void()> task);
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;
  // Objects are meant to live for the process (allocate them with new and
  // never delete): the destructor must not run while the thread does.
  ~PeriodicThread() = delete;

  // Starts the thread, or changes the interval of the running one. False if
  // the process is exiting.
  bool Start(int interval_ms);
  bool running() const;
  // Runs the task once more as soon as possible (tests).
  void Poke();

 private:
  void Loop();
  void StopForExit();
  void ForgetAfterFork();
  static void StopAllAtExit();
  static void ForgetAllAfterFork();

  const char* name_;
  std::function<void()> task_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::thread thread_;
  int interval_ms_ = 1000;
  bool running_ = false;
  bool stopping_ = false;
  bool poked_ = false;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_PERIODIC_THREAD_H_
