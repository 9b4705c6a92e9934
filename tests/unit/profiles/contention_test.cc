// SPDX-License-Identifier: Apache-2.0
//
// The lock hooks inside this test process: pthread_mutex_lock and friends
// are cpprof's here (the profiles objects are linked into the test).
// ThreadSanitizer builds leave them to the sanitizer: there only the
// refusal to turn the profiles on is checked.
//
// Contention is produced deterministically: the holder waits until the lock
// word says a waiter is queued (glibc sets it to 2, or FUTEX_WAITERS for
// priority-inheritance mutexes) before it unlocks.

#include <doctest/doctest.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "cpprof/cpprof.h"
#include "profiles/contention/contention.h"
#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
namespace {

using contention::Which;

struct Totals {
  int64_t count = 0;
  int64_t delay = 0;
};

// Sum over the profile's stacks with tag `tag` (-1: all), lost samples included.
Totals Sum(Which which, int32_t tag = -1) {
  Totals t;
  TableSnapshot s = contention::TakeSnapshot(which);
  if (s.table != nullptr) {
    for (size_t i = 0; i < s.table->slot_count(); ++i) {
      const uintptr_t* pcs = nullptr;
      int depth = 0;
      int32_t slot_tag = 0;
      if (!s.table->Entry(i, &pcs, &depth, &slot_tag)) continue;
      if (tag >= 0 && slot_tag != tag) continue;
      t.count += s.value(i, 0, contention::kValues);
      t.delay += s.value(i, 1, contention::kValues);
    }
  }
  t.count += s.extra_at(0);
  t.delay += s.extra_at(1);
  return t;
}

// Turns both profiles on for one test and restores the settings.
struct ProfilingScope {
  ProfilingScope(int64_t fraction, int64_t rate)
      : mutex(contention::SetMutexFraction(fraction)), block(contention::SetBlockRate(rate)) {}
  ~ProfilingScope() {
    contention::SetMutexFraction(mutex);
    contention::SetBlockRate(block);
  }
  int64_t mutex, block;
};

bool WaiterQueued(pthread_mutex_t* m) {
  const unsigned lock = static_cast<unsigned>(__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED));
  return lock == 2 || (lock & 0x80000000u) != 0;
}

// One contention: this thread holds `m`, another locks it, and the holder
// unlocks once that waiter is queued. Returns the waiter's lock result.
int ContendOnce(pthread_mutex_t* m) {
  REQUIRE(pthread_mutex_lock(m) == 0);
  std::atomic<int> rc{-1};
  std::thread waiter([&] {
    rc.store(pthread_mutex_lock(m));
    pthread_mutex_unlock(m);
  });
  while (!WaiterQueued(m)) std::this_thread::yield();
  usleep(1000);
  pthread_mutex_unlock(m);
  waiter.join();
  return rc.load();
}

TEST_CASE("contention: the profiles are off by default and the setters report the previous value") {
  const int64_t f = contention::SetMutexFraction(-1);
  const int64_t r = contention::SetBlockRate(-1);
  CHECK(f >= 0);
  CHECK(r >= 0);
  if (!contention::HooksActive()) {
    CHECK(contention::SetMutexFraction(5) == f);
    CHECK(contention::SetMutexFraction(-1) == f);  // refused: the sanitizer owns the lock functions
    return;
  }
  CHECK(contention::SetMutexFraction(5) == f);
  CHECK(contention::SetMutexFraction(-1) == 5);
  CHECK(contention::SetMutexFraction(f) == 5);
  CHECK(contention::SetBlockRate(1000) == r);
  CHECK(contention::SetBlockRate(r) == 1000);
}

TEST_CASE("contention: mutex kinds; holder and waiter both charged; re-locks by the owner are not contention") {
  if (!contention::HooksActive()) return;
  ProfilingScope on(1, 1);
  for (int protocol : {PTHREAD_PRIO_NONE, PTHREAD_PRIO_INHERIT}) {
    for (int type : {PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE, PTHREAD_MUTEX_ERRORCHECK}) {
      CAPTURE(protocol);
      CAPTURE(type);
      pthread_mutexattr_t attr;
      pthread_mutexattr_init(&attr);
      pthread_mutexattr_settype(&attr, type);
      pthread_mutexattr_setprotocol(&attr, protocol);
      pthread_mutex_t m;
      REQUIRE(pthread_mutex_init(&m, &attr) == 0);
      pthread_mutexattr_destroy(&attr);

      const Totals mutex0 = Sum(Which::kMutex);
      const Totals block0 = Sum(Which::kBlock, static_cast<int32_t>(contention::WaitKind::kMutex));
      CHECK(ContendOnce(&m) == 0);
      const Totals mutex1 = Sum(Which::kMutex);
      const Totals block1 = Sum(Which::kBlock, static_cast<int32_t>(contention::WaitKind::kMutex));
      CHECK(mutex1.count == mutex0.count + 1);
      CHECK(mutex1.delay - mutex0.delay >= 1000000);  // the holder slept 1 ms after the waiter queued
      CHECK(block1.count == block0.count + 1);
      CHECK(block1.delay - block0.delay >= 1000000);

      // The owner locking again: a recursive count, or EDEADLK; never a wait.
      REQUIRE(pthread_mutex_lock(&m) == 0);
      if (type == PTHREAD_MUTEX_RECURSIVE) {
        CHECK(pthread_mutex_lock(&m) == 0);
        CHECK(pthread_mutex_unlock(&m) == 0);
      } else if (type == PTHREAD_MUTEX_ERRORCHECK) {
        CHECK(pthread_mutex_lock(&m) == EDEADLK);
      }
      CHECK(pthread_mutex_unlock(&m) == 0);
      CHECK(Sum(Which::kBlock, static_cast<int32_t>(contention::WaitKind::kMutex)).count == block1.count);
      pthread_mutex_destroy(&m);
    }
  }
}

TEST_CASE("contention: block sampling is unbiased (Go's rate/duration weights)") {
  if (!contention::HooksActive()) return;
  ProfilingScope on(0, 1000000);  // 1 ms
  const int32_t user = static_cast<int32_t>(contention::WaitKind::kUser);
  const Totals before = Sum(Which::kBlock, user);
  // 2,000,000 waits of 1 us: each kept with p = 0.001, weighted 1000.
  const int64_t n = 2000000, wait_ns = 1000;
  for (int64_t i = 0; i < n; ++i) RecordLockWait(wait_ns);
  const Totals after = Sum(Which::kBlock, user);
  const double count = static_cast<double>(after.count - before.count);
  const double delay = static_cast<double>(after.delay - before.delay);
  CHECK(count == doctest::Approx(static_cast<double>(n)).epsilon(0.10));
  CHECK(delay == doctest::Approx(static_cast<double>(n * wait_ns)).epsilon(0.10));
  // Waits longer than the rate are all kept at their own weight.
  const Totals long0 = Sum(Which::kBlock, user);
  for (int i = 0; i < 100; ++i) RecordLockWait(5000000);
  const Totals long1 = Sum(Which::kBlock, user);
  CHECK(long1.count - long0.count == 100);
  CHECK(long1.delay - long0.delay == 500000000);
}

TEST_CASE("contention: mutex sampling keeps 1 of N, weighted xN") {
  if (!contention::HooksActive()) return;
  ProfilingScope on(10, 0);
  const Totals before = Sum(Which::kMutex);
  const int64_t n = 200000;
  for (int64_t i = 0; i < n; ++i) RecordContendedUnlock(500);
  const Totals after = Sum(Which::kMutex);
  CHECK(static_cast<double>(after.count - before.count) == doctest::Approx(static_cast<double>(n)).epsilon(0.05));
  CHECK(static_cast<double>(after.delay - before.delay) == doctest::Approx(500.0 * n).epsilon(0.05));
  CHECK((after.count - before.count) % 10 == 0);
}

TEST_CASE("contention: annotations and hooks are silent while the profiles are off") {
  if (!contention::HooksActive()) return;
  ProfilingScope off(0, 0);
  const Totals m0 = Sum(Which::kMutex), b0 = Sum(Which::kBlock);
  RecordLockWait(5000000);
  RecordContendedUnlock(5000000);
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  CHECK(ContendOnce(&m) == 0);
  CHECK(Sum(Which::kMutex).count == m0.count);
  CHECK(Sum(Which::kBlock).count == b0.count);
}

TEST_CASE("contention: a child forked while other threads contend locks and profiles normally") {
  if (!contention::HooksActive()) return;
  ProfilingScope on(1, 1);
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop.load()) {
      pthread_mutex_lock(&m);
      pthread_mutex_unlock(&m);
    }
  });
  for (int i = 0; i < 20; ++i) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // The parent's waiters do not exist here; a fresh contention works.
      pthread_mutex_t c = PTHREAD_MUTEX_INITIALIZER;
      const int64_t before = Sum(Which::kMutex).count;
      pthread_mutex_lock(&c);
      std::atomic<int> rc{-1};
      std::thread w([&] {
        rc.store(pthread_mutex_lock(&c));
        pthread_mutex_unlock(&c);
      });
      while (!WaiterQueued(&c)) std::this_thread::yield();
      pthread_mutex_unlock(&c);
      w.join();
      _exit(rc.load() == 0 && Sum(Which::kMutex).count == before + 1 ? 0 : 3);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  stop.store(true);
  churn.join();
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
