// SPDX-License-Identifier: Apache-2.0
//
// A host with known lock contention for the mutex/block tests. Its endpoint
// comes from CPPROF_ADDR (cpprof linked in, or LD_PRELOADed into the build
// without cpprof); CPPROF_MUTEX_FRACTION / CPPROF_BLOCK_RATE turn the
// profiles on. Every waiting and holding site is a function of its own.
//
//   HolderRound  5 rounds: holds a std::mutex 20 ms while 3 threads (Waiter)
//                wait for it. Prints the truth measured with steady_clock:
//                "TRUTH holder_ns N" (Σ over waiters of the time until the
//                holder's unlock) and "TRUTH waits_ns N" (Σ of the waiters'
//                whole waits).
//   Wait<Type>   one contended wait on each std:: type (the holder keeps the
//                lock until the waiter is seen blocked in futex, from
//                /proc/self/task/TID/syscall), and condition-variable waits.
//   RelockRecursive  a recursive_mutex taken twice by its owner: not
//                contention.
// Every scenario runs once; then the host prints READY and serves until
// killed.

#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#ifdef CPPROF_HOST_LINKED
#include <cpprof/server.h>  // a static cpprof has no load-time start
#endif

namespace {

using Clock = std::chrono::steady_clock;

int64_t Ns(Clock::duration d) { return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(); }

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// True once thread `tid` sits in a futex wait (syscall 202 on x86_64).
bool InFutexWait(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string nr;
  f >> nr;
  return nr == "202";
}

void WaitUntilBlocked(const std::atomic<pid_t>& tid) {
  while (tid.load() == 0) std::this_thread::yield();
  while (!InFutexWait(tid.load())) std::this_thread::sleep_for(std::chrono::microseconds(200));
  // A little longer, so the wait is well above clock noise.
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
}

// ---------------------------------------------------------------- holder
std::mutex g_mu;
std::atomic<int64_t> g_waits_ns{0};
std::atomic<int64_t> g_holder_ns{0};

__attribute__((noinline)) void Waiter(std::atomic<int>* arrived, Clock::time_point* starts, int i) {
  starts[i] = Clock::now();
  arrived->fetch_add(1);
  g_mu.lock();
  g_waits_ns.fetch_add(Ns(Clock::now() - starts[i]));
  g_mu.unlock();
}

__attribute__((noinline)) void HolderRound() {
  std::atomic<int> arrived{0};
  Clock::time_point starts[3];
  g_mu.lock();
  std::vector<std::thread> ws;
  for (int i = 0; i < 3; ++i) ws.emplace_back(Waiter, &arrived, starts, i);
  while (arrived.load() < 3) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const Clock::time_point release = Clock::now();
  g_mu.unlock();
  for (auto& t : ws) t.join();
  for (const auto& s : starts) g_holder_ns.fetch_add(Ns(release - s));
}

// ---------------------------------------------------------------- coverage
// Runs `wait` on a new thread while the calling thread holds the lock via
// `hold`/`release`, releasing once the waiter is blocked.
void Contend(const std::function<void()>& hold, const std::function<void()>& release,
             const std::function<void()>& wait) {
  std::atomic<pid_t> tid{0};
  hold();
  std::thread t([&] {
    tid.store(Tid());
    wait();
  });
  WaitUntilBlocked(tid);
  release();
  t.join();
}

std::mutex m_plain;
std::timed_mutex m_timed;
std::recursive_mutex m_recursive;
std::shared_mutex m_shared;
std::shared_timed_mutex m_shared_timed;

__attribute__((noinline)) void WaitStdMutex() { m_plain.lock(); m_plain.unlock(); }
__attribute__((noinline)) void WaitTimedMutexFor() {
  if (m_timed.try_lock_for(std::chrono::seconds(60))) m_timed.unlock();
}
__attribute__((noinline)) void WaitTimedMutexUntil() {
  if (m_timed.try_lock_until(std::chrono::system_clock::now() + std::chrono::seconds(60))) m_timed.unlock();
}
__attribute__((noinline)) void WaitRecursiveMutex() { m_recursive.lock(); m_recursive.unlock(); }
__attribute__((noinline)) void WaitSharedMutex() { m_shared.lock(); m_shared.unlock(); }
__attribute__((noinline)) void WaitSharedMutexShared() { m_shared.lock_shared(); m_shared.unlock_shared(); }
__attribute__((noinline)) void WaitSharedTimedMutex() {
  if (m_shared_timed.try_lock_for(std::chrono::seconds(60))) m_shared_timed.unlock();
}
__attribute__((noinline)) void WaitSharedTimedMutexShared() {
  if (m_shared_timed.try_lock_shared_for(std::chrono::seconds(60))) m_shared_timed.unlock_shared();
}

__attribute__((noinline)) void HoldStdMutex() { m_plain.unlock(); }
__attribute__((noinline)) void HoldTimedMutex() { m_timed.unlock(); }
__attribute__((noinline)) void HoldRecursiveMutex() { m_recursive.unlock(); }

std::mutex cv_mu;
std::condition_variable cv;
std::condition_variable_any cv_any;
bool cv_ready = false;

__attribute__((noinline)) void WaitCondVar() {
  std::unique_lock<std::mutex> lock(cv_mu);
  cv.wait(lock, [] { return cv_ready; });
}
__attribute__((noinline)) void WaitCondVarFor() {
  std::unique_lock<std::mutex> lock(cv_mu);
  cv.wait_for(lock, std::chrono::seconds(60), [] { return cv_ready; });
}
__attribute__((noinline)) void WaitCondVarAny() {
  std::unique_lock<std::mutex> lock(cv_mu);
  cv_any.wait_for(lock, std::chrono::seconds(60), [] { return cv_ready; });
}

void ContendCond(void (*wait)(), bool any) {
  {
    std::lock_guard<std::mutex> lock(cv_mu);
    cv_ready = false;
  }
  std::atomic<pid_t> tid{0};
  std::thread t([&] {
    tid.store(Tid());
    wait();
  });
  WaitUntilBlocked(tid);
  {
    std::lock_guard<std::mutex> lock(cv_mu);
    cv_ready = true;
  }
  if (any) {
    cv_any.notify_all();
  } else {
    cv.notify_all();
  }
  t.join();
}

__attribute__((noinline)) void RelockRecursive() {
  for (int i = 0; i < 1000; ++i) {
    m_recursive.lock();
    m_recursive.lock();
    m_recursive.unlock();
    m_recursive.unlock();
  }
}

}  // namespace

int main() {
  setvbuf(stdout, nullptr, _IOLBF, 0);
#ifdef CPPROF_HOST_LINKED
  if (cpprof::Status s = cpprof::StartFromEnvironment(); !s.ok()) {
    fprintf(stderr, "cpprof: %s\n", s.message().c_str());
    return 1;
  }
#endif
  for (int round = 0; round < 5; ++round) HolderRound();
  printf("TRUTH holder_ns %lld\n", static_cast<long long>(g_holder_ns.load()));
  printf("TRUTH waits_ns %lld\n", static_cast<long long>(g_waits_ns.load()));

  Contend([] { m_plain.lock(); }, HoldStdMutex, WaitStdMutex);
  Contend([] { m_timed.lock(); }, HoldTimedMutex, WaitTimedMutexFor);
  Contend([] { m_timed.lock(); }, HoldTimedMutex, WaitTimedMutexUntil);
  Contend([] { m_recursive.lock(); }, HoldRecursiveMutex, WaitRecursiveMutex);
  Contend([] { m_shared.lock(); }, [] { m_shared.unlock(); }, WaitSharedMutex);
  Contend([] { m_shared.lock(); }, [] { m_shared.unlock(); }, WaitSharedMutexShared);
  Contend([] { m_shared_timed.lock(); }, [] { m_shared_timed.unlock(); }, WaitSharedTimedMutex);
  Contend([] { m_shared_timed.lock(); }, [] { m_shared_timed.unlock(); }, WaitSharedTimedMutexShared);
  ContendCond(WaitCondVar, false);
  ContendCond(WaitCondVarFor, false);
  ContendCond(WaitCondVarAny, true);
  RelockRecursive();
  printf("READY\n");
  for (;;) pause();
}
