// SPDX-License-Identifier: Apache-2.0
//
// Threads of the own listener: a helper that starts a thread with the
// host's signals blocked, and a pool that starts workers on demand up to a
// maximum and lets idle ones exit. Not signal-safe.

#ifndef CPPROF_SRC_HTTP_WORKER_POOL_H_
#define CPPROF_SRC_HTTP_WORKER_POOL_H_

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "cpprof/status.h"

namespace cpprof {
namespace internal {

// Starts `body` on a new thread named `name` that has every signal blocked
// except `profiling_signal` (so cpprof's own CPU cost shows in profiles) and
// the synchronous fault signals. The thread registers itself as one of
// cpprof's own threads. Returns an error (and starts nothing) if
// pthread_create fails.
Status StartOwnThread(const char* name, int profiling_signal, std::function<void()> body, pthread_t* thread);

class WorkerPool {
 public:
  WorkerPool(int max_workers, int idle_exit_ms, int profiling_signal);
  ~WorkerPool();  // Shutdown()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues a task; starts a worker when none is idle and fewer than
  // max_workers run. Never blocks on a running task. Returns false after
  // Shutdown() (the task is not run).
  bool Submit(std::function<void()> task);

  // Drops queued tasks, waits for running ones and joins every thread.
  void Shutdown();

  // Live worker threads (for tests and stats).
  int live_workers() const;

 private:
  struct Worker {
    pthread_t thread;
    bool done = false;
  };
  void Run(Worker* self);
  void ReapLocked(std::vector<pthread_t>* to_join);

  const int max_workers_;
  const int idle_exit_ms_;
  const int profiling_signal_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<Worker*> workers_;
  int idle_ = 0;
  bool stopping_ = false;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_HTTP_WORKER_POOL_H_
