// SPDX-License-Identifier: Apache-2.0
//
// The thread kinds in process: creation records from the pthread_create
// observer (the creator's function on the stack, removal at exit), the
// leak detector (a site that keeps adding threads is a suspect, a fixed
// pool is not), and the dump's mutex owners and deadlock cycle on two
// threads that take two mutexes in opposite orders (timed locks, so the
// test ends).

#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <atomic>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "profiles/threads/thread_creation.h"
#include "base/safe_load.h"
#include "profiles/threads/thread_dump.h"
#include "symbolize/symbolizer.h"
#include "unwind/unwinder.h"
#include "wait_for.h"

#if defined(__SANITIZE_THREAD__)
#define CPPROF_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CPPROF_TEST_TSAN 1
#endif
#endif

namespace cpprof_test {
namespace {

using namespace cpprof::internal;
using namespace cpprof::internal::threads;

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

struct Gate {
  std::atomic<bool> open{false};
  std::atomic<pid_t> tid{0};
};

void* WaitAtGate(void* p) {
  auto* g = static_cast<Gate*>(p);
  g->tid = Tid();
  while (!g->open.load()) {
    timespec ts{0, 1000000};
    nanosleep(&ts, nullptr);
  }
  return nullptr;
}

__attribute__((noinline)) pthread_t CreateFromKnownSite(Gate* g) {
  pthread_t t;
  REQUIRE(pthread_create(&t, nullptr, WaitAtGate, g) == 0);
  asm volatile("" ::: "memory");
  return t;
}

__attribute__((noinline)) pthread_t CreateFromOtherSite(Gate* g) {
  pthread_t t;
  REQUIRE(pthread_create(&t, nullptr, WaitAtGate, g) == 0);
  asm volatile("" ::: "memory");
  return t;
}

// True if one of pcs is a return address inside the function whose ELF
// symbol contains `name` (by symbol, not by a byte window: sanitizer builds
// make the function several times longer).
bool HasCallerIn(const std::vector<uintptr_t>& pcs, const char* name) {
  const std::vector<Module> modules = ListModules();
  return std::any_of(pcs.begin(), pcs.end(), [&](uintptr_t pc) {
    const int m = FindModule(modules, pc);
    return m >= 0 && Symbolizer::Global().SymbolName(modules[static_cast<size_t>(m)], pc - 1).find(name) !=
                         std::string::npos;
  });
}

TEST_CASE("creation records: the creator's stack while the thread lives, nothing after") {
#ifdef CPPROF_TEST_TSAN
  return;  // ThreadSanitizer owns thread start: no trampoline, no records
#endif
  RefreshUnwindTables();
  StartCreationTracking();
  REQUIRE(CreationTrackingActive());
  const uint64_t before = TrackedCreations();
  Gate g;
  pthread_t t = CreateFromKnownSite(&g);
  REQUIRE(WaitFor([&] { return g.tid.load() != 0; }));
  CHECK(TrackedCreations() == before + 1);
  std::vector<CreationRecord> r;
  REQUIRE(WaitFor([&] {
    r = LookupCreators({g.tid.load(), Tid()});
    return r[0].known;
  }));
  CHECK(r[0].creator_tid == Tid());
  CHECK(HasCallerIn(r[0].pcs, "CreateFromKnownSite("));
  g.open = true;
  pthread_join(t, nullptr);
  CHECK_FALSE(LookupCreators({g.tid.load()})[0].known);
}

struct StackSeen {
  uintptr_t sp = 0, lo = 0, hi = 0;
};

void* RecordStackBounds(void* p) {
  auto* seen = static_cast<StackSeen*>(p);
  seen->sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  seen->lo = safe_load_detail::t_stack_lo;
  seen->hi = safe_load_detail::t_stack_hi;
  return nullptr;
}

TEST_CASE("a thread started through the trampoline knows its stack bounds before its routine runs") {
#ifdef CPPROF_TEST_TSAN
  return;  // ThreadSanitizer owns thread start: no trampoline
#endif
  StartCreationTracking();  // the observer makes every new thread start in the trampoline
  StackSeen seen;
  pthread_t t;
  REQUIRE(pthread_create(&t, nullptr, RecordStackBounds, &seen) == 0);
  pthread_join(t, nullptr);
  // Stack walks in the thread (sampled allocations, CPU samples) read it
  // without probes and without waiting for a new memory-map snapshot.
  CHECK(seen.lo != 0);
  CHECK(seen.lo <= seen.sp);
  CHECK(seen.sp < seen.hi);
}

TEST_CASE("leak detector: a site that keeps adding threads is a suspect, a fixed pool is not") {
#ifdef CPPROF_TEST_TSAN
  return;
#endif
  RefreshUnwindTables();
  StartCreationTracking();
  std::vector<Gate> gates(4 + 8 * 6);
  std::vector<pthread_t> threads;
  size_t next = 0;
  for (int i = 0; i < 4; ++i) threads.push_back(CreateFromOtherSite(&gates[next++]));
  for (int round = 0; round < 8; ++round) {
    for (int i = 0; i < 6; ++i) threads.push_back(CreateFromKnownSite(&gates[next++]));
    REQUIRE(WaitFor([&] {
      for (size_t k = 0; k < next; ++k) if (gates[k].tid.load() == 0) return false;
      return true;
    }));
    // Each new thread registers before its start routine: all are in.
    ThreadLeakMonitor::Global().RecordPoint();
    timespec ts{0, 2000000};
    nanosleep(&ts, nullptr);
  }
  LeakReport report = ThreadLeakMonitor::Global().Suspects();
  REQUIRE(report.suspects.size() == 1);
  const LeakSuspect& s = report.suspects[0];
  CHECK(HasCallerIn(s.pcs, "CreateFromKnownSite("));
  CHECK(s.last_live - s.first_live >= 40);
  CHECK(s.threads_per_minute > 0);
  for (Gate& g : gates) g.open = true;
  for (pthread_t t : threads) pthread_join(t, nullptr);
}

pthread_mutex_t g_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t g_b = PTHREAD_MUTEX_INITIALIZER;
std::atomic<int> g_holding{0};

void LockTwo(pthread_mutex_t* first, pthread_mutex_t* second, std::atomic<pid_t>* tid) {
  *tid = Tid();
  pthread_mutex_lock(first);
  g_holding.fetch_add(1);
  while (g_holding.load() < 2) sched_yield();
  timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 20;
  if (pthread_mutex_timedlock(second, &deadline) == 0) pthread_mutex_unlock(second);
  pthread_mutex_unlock(first);
}

TEST_CASE("dump: mutex owners and a deadlock cycle with both tids") {
#ifdef CPPROF_TEST_TSAN
  return;  // lock-order inversion on purpose: ThreadSanitizer would report it
#endif
  RefreshUnwindTables();
  std::atomic<pid_t> t1{0}, t2{0};
  std::thread a(LockTwo, &g_a, &g_b, &t1), b(LockTwo, &g_b, &g_a, &t2);
  ThreadDump dump;
  REQUIRE(WaitFor([&] {
    dump = TakeThreadDump();
    return !dump.deadlocks.empty();
  }, 10000));
  std::vector<pid_t> cycle = dump.deadlocks[0];
  std::vector<pid_t> want = {std::min(t1.load(), t2.load()), std::max(t1.load(), t2.load())};
  CHECK(cycle == want);
  for (const ThreadInfo& t : dump.threads) {
    if (t.tid == t1) {
      CHECK(t.wait == "mutex wait");
      CHECK(t.mutex == reinterpret_cast<uintptr_t>(&g_b));
      CHECK(t.mutex_owner == t2);
    }
    if (t.tid == t2) {
      CHECK(t.mutex == reinterpret_cast<uintptr_t>(&g_a));
      CHECK(t.mutex_owner == t1);
    }
    if (t.tid == Tid()) CHECK(t.origin == StackOrigin::kSelf);
  }
  std::string text = ThreadDumpText(dump, 2);
  CHECK(text.find("DEADLOCK: ") != std::string::npos);
  // Break the cycle: one side times out only after 20 s, so end it now.
  g_holding = 0;
  a.detach();
  b.detach();
}

}  // namespace
}  // namespace cpprof_test
