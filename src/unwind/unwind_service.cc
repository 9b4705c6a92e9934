// SPDX-License-Identifier: Apache-2.0

#include "unwind/unwind_service.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/self_stats.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {
namespace {

constexpr auto kRefreshInterval = std::chrono::seconds(1);

struct Refresher {
  std::mutex mu;
  std::condition_variable wake;
  std::thread thread;
  bool running = false;
  bool stopping = false;
};

Refresher& State() {
  static Refresher* r = new Refresher();  // never destroyed: used until exit
  return *r;
}

void Loop() {
  RegisterOwnThread();
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);  // never a host signal's target
  pthread_setname_np(pthread_self(), "cpprof-unwind");
  Refresher& r = State();
  std::unique_lock<std::mutex> lock(r.mu);
  while (!r.stopping) {
    r.wake.wait_for(lock, kRefreshInterval);
    if (r.stopping) break;
    lock.unlock();
    RefreshUnwindTables();
    lock.lock();
  }
  UnregisterOwnThread();
}

void StopAtExit() {
  Refresher& r = State();
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    if (!r.running) return;
    r.stopping = true;
    r.running = false;
    t = std::move(r.thread);
  }
  r.wake.notify_all();
  if (t.joinable()) t.join();
}

void AtForkChild() {
  // The thread does not exist in the child; forget it without touching the
  // std::thread object (its handle names the parent's thread).
  Refresher& r = State();
  new (&r.mu) std::mutex();
  new (&r.wake) std::condition_variable();
  if (r.thread.joinable()) new (&r.thread) std::thread();
  r.running = false;
  r.stopping = false;
}

}  // namespace

void StartUnwindRefresher() {
  Refresher& r = State();
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(nullptr, nullptr, AtForkChild);
    atexit(StopAtExit);
  });
  std::lock_guard<std::mutex> lock(r.mu);
  if (r.running || r.stopping) return;
  RefreshUnwindTables();
  r.running = true;
  r.thread = std::thread(Loop);
}

bool UnwindRefresherRunning() {
  Refresher& r = State();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.running;
}

}  // namespace internal
}  // namespace cpprof
