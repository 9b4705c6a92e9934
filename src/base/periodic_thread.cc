// SPDX-License-Identifier: Apache-2.0

#include "base/periodic_thread.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <new>
#include <vector>

#include "base/self_stats.h"

namespace cpprof {
namespace internal {
namespace {

std::mutex g_all_mu;
std::vector<PeriodicThread*>* g_all = nullptr;  // every instance ever started; guarded by g_all_mu
bool g_exiting = false;

}  // namespace

PeriodicThread::PeriodicThread(const char* name, std::function<void()> task) : name_(name), task_(std::move(task)) {}

bool PeriodicThread::Start(int interval_ms) {
  {
    std::lock_guard<std::mutex> all(g_all_mu);
    if (g_exiting) return false;
    if (g_all == nullptr) {
      g_all = new std::vector<PeriodicThread*>();
      atexit(StopAllAtExit);
      pthread_atfork(nullptr, nullptr, ForgetAllAfterFork);
    }
    bool known = false;
    for (PeriodicThread* t : *g_all) known = known || t == this;
    if (!known) g_all->push_back(this);
  }
  std::lock_guard<std::mutex> lock(mu_);
  interval_ms_ = interval_ms < 1 ? 1 : interval_ms;
  if (running_) {
    wake_.notify_all();
    return true;
  }
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
  return true;
}

bool PeriodicThread::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

void PeriodicThread::Poke() {
  std::lock_guard<std::mutex> lock(mu_);
  poked_ = true;
  wake_.notify_all();
}

void PeriodicThread::Loop() {
  RegisterOwnThread();
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  pthread_setname_np(pthread_self(), name_);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(interval_ms_);
    wake_.wait_until(lock, deadline, [this, deadline] {
      return stopping_ || poked_ || std::chrono::steady_clock::now() >= deadline;
    });
    if (stopping_) break;
    poked_ = false;
    lock.unlock();
    task_();
    lock.lock();
  }
  lock.unlock();
  UnregisterOwnThread();
}

void PeriodicThread::StopForExit() {
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!running_) return;
    stopping_ = true;
    running_ = false;
    t = std::move(thread_);
  }
  wake_.notify_all();
  if (t.joinable()) t.join();
}

void PeriodicThread::ForgetAfterFork() {
  // The thread does not exist in the child. Its std::thread handle names the
  // parent's thread, so it is overwritten, never joined or destroyed; the
  // locks may have been held by a parent's thread, so they are made anew.
  new (&mu_) std::mutex();
  new (&wake_) std::condition_variable();
  new (&thread_) std::thread();
  running_ = false;
  stopping_ = false;
}

void PeriodicThread::StopAllAtExit() {
  std::vector<PeriodicThread*> all;
  {
    std::lock_guard<std::mutex> lock(g_all_mu);
    g_exiting = true;
    if (g_all != nullptr) all = *g_all;
  }
  for (PeriodicThread* t : all) t->StopForExit();
}

void PeriodicThread::ForgetAllAfterFork() {
  new (&g_all_mu) std::mutex();
  if (g_all == nullptr) return;
  for (PeriodicThread* t : *g_all) t->ForgetAfterFork();
}

}  // namespace internal
}  // namespace cpprof
