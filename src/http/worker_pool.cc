// SPDX-License-Identifier: Apache-2.0
//
// Workers start on demand: Submit() starts one when the queue holds more
// tasks than there are idle workers and fewer than max_workers exist. An
// idle worker exits after idle_exit_ms, so a process that was profiled once
// goes back to a single listener thread. A worker that exits marks itself
// done; the next Submit() or Shutdown() joins it (its thread function has
// returned or is about to, so the join does not wait for work).
//
// Signals: the new thread's mask is set in the creating thread around
// pthread_create, so there is no window in which a host signal could land
// on a cpprof thread. The profiling signal stays unblocked (cpprof's own
// CPU then appears in CPU profiles), and so do SIGSEGV/SIGBUS/SIGFPE/SIGILL,
// whose blocking is undefined when they are raised by a fault.

#include "http/worker_pool.h"

#include <signal.h>

#include <chrono>
#include <cstring>
#include <memory>

#include "base/private_fd_table.h"
#include "base/self_stats.h"

namespace cpprof {
namespace internal {
namespace {

struct ThreadStart {
  std::string name;
  std::function<void()> body;
  bool private_fds;  // the creator's descriptor table is private, hence the new thread's too
};

void* ThreadMain(void* arg) {
  std::unique_ptr<ThreadStart> start(static_cast<ThreadStart*>(arg));
  if (start->private_fds) MarkThreadFdTablePrivate();
  pthread_setname_np(pthread_self(), start->name.substr(0, 15).c_str());
  RegisterOwnThread();
  start->body();
  UnregisterOwnThread();
  return nullptr;
}

}  // namespace

Status StartOwnThread(const char* name, int profiling_signal, std::function<void()> body, pthread_t* thread) {
  sigset_t block;
  sigfillset(&block);
  if (profiling_signal > 0) sigdelset(&block, profiling_signal);
  sigdelset(&block, SIGSEGV);
  sigdelset(&block, SIGBUS);
  sigdelset(&block, SIGFPE);
  sigdelset(&block, SIGILL);
  sigset_t old;
  pthread_sigmask(SIG_SETMASK, &block, &old);
  auto* start = new ThreadStart{name, std::move(body), ThreadFdTableIsPrivate()};
  int err = pthread_create(thread, nullptr, ThreadMain, start);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (err != 0) {
    delete start;
    return Status(StatusCode::kUnavailable, std::string("pthread_create: ") + strerror(err));
  }
  return Status();
}

WorkerPool::WorkerPool(int max_workers, int idle_exit_ms, int profiling_signal)
    : max_workers_(max_workers > 0 ? max_workers : 1),
      idle_exit_ms_(idle_exit_ms),
      profiling_signal_(profiling_signal) {}

WorkerPool::~WorkerPool() { Shutdown(); }

void WorkerPool::ReapLocked(std::vector<pthread_t>* to_join) {
  for (size_t i = 0; i < workers_.size();) {
    if (workers_[i]->done) {
      to_join->push_back(workers_[i]->thread);
      delete workers_[i];
      workers_[i] = workers_.back();
      workers_.pop_back();
    } else {
      ++i;
    }
  }
}

bool WorkerPool::Submit(std::function<void()> task) {
  std::vector<pthread_t> to_join;
  bool ok = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    ReapLocked(&to_join);
    queue_.push_back(std::move(task));
    if (static_cast<int>(queue_.size()) > idle_ && static_cast<int>(workers_.size()) < max_workers_) {
      auto* w = new Worker();
      Status s = StartOwnThread("cpprof-http-w", profiling_signal_, [this, w] { Run(w); }, &w->thread);
      if (s.ok()) {
        workers_.push_back(w);
      } else {
        delete w;
        // With no worker at all the task would never run.
        if (workers_.empty()) {
          queue_.pop_back();
          ok = false;
        }
      }
    }
    cv_.notify_one();
  }
  for (pthread_t t : to_join) pthread_join(t, nullptr);
  return ok;
}

void WorkerPool::Run(Worker* self) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (queue_.empty() && !stopping_) {
      ++idle_;
      bool woke = cv_.wait_for(lock, std::chrono::milliseconds(idle_exit_ms_),
                               [this] { return !queue_.empty() || stopping_; });
      --idle_;
      if (!woke) break;  // idle for idle_exit_ms: exit
      continue;
    }
    if (stopping_) break;
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // release captures outside the lock
    lock.lock();
  }
  self->done = true;
}

void WorkerPool::Shutdown() {
  std::vector<Worker*> workers;
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
    workers.swap(workers_);
    cv_.notify_all();
  }
  dropped.clear();
  // Workers write self->done before exiting: delete only after the join.
  for (Worker* w : workers) {
    pthread_join(w->thread, nullptr);
    delete w;
  }
}

int WorkerPool::live_workers() const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const Worker* w : workers_) n += w->done ? 0 : 1;
  return n;
}

}  // namespace internal
}  // namespace cpprof
