// SPDX-License-Identifier: Apache-2.0
//
// What a thread dump costs, by thread count: N threads blocked in a
// condition-variable wait under a few frames of their own (a server's idle
// pool), plus N/10 blocked in nanosleep. For each N: the collection
// (TakeThreadDump: /proc reads, unwinding, re-checks, names, wait reasons)
// and the whole proto answer (collection + grouping + symbolization +
// encoding), min and median of the runs; the first run, which builds the
// symbol indexes, is reported apart.
//
// Not a pass/fail test. Usage: thread_dump_bench [runs]   (default 7)

#include <time.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "pprof/stack_profile.h"
#include "profiles/threads/thread_dump.h"
#include "unwind/unwinder.h"

namespace {

double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

std::mutex g_mu;
std::condition_variable g_cv;
bool g_stop = false;

__attribute__((noinline)) void WaitForWork() {
  std::unique_lock<std::mutex> lock(g_mu);
  g_cv.wait(lock, [] { return g_stop; });
}
__attribute__((noinline)) void WorkerLoop(int depth) {
  if (depth > 0) {
    WorkerLoop(depth - 1);
  } else {
    WaitForWork();
  }
  asm volatile("" ::: "memory");  // no tail call: keep every frame
}
__attribute__((noinline)) void Sleeper() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(g_mu);
      if (g_stop) return;
    }
    timespec ts{0, 50 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
}

struct Stats {
  double min, median;
};
Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cpprof::internal;
  const int runs = argc > 1 ? atoi(argv[1]) : 7;
  RefreshUnwindTables();
  printf("%8s %10s %16s %16s %16s %12s\n", "threads", "first_ms", "collect_min_ms", "collect_med_ms",
         "proto_med_ms", "us/thread");
  for (int n : {10, 100, 1000}) {
    g_stop = false;
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) threads.emplace_back(WorkerLoop, 5);
    for (int i = 0; i < n / 10; ++i) threads.emplace_back(Sleeper);
    // Wait until the pool is blocked (every thread seen off the CPU once).
    for (int tries = 0; tries < 200; ++tries) {
      threads::ThreadDump d = threads::TakeThreadDump();
      size_t blocked = 0;
      for (const auto& t : d.threads) blocked += t.origin == threads::StackOrigin::kBlocked;
      if (blocked + 2 >= d.threads.size()) break;
    }
    double t0 = NowMs();
    std::string first = EncodeStackProfile(threads::ThreadDumpProfile(threads::TakeThreadDump()));
    const double first_ms = NowMs() - t0;
    std::vector<double> collect, proto;
    size_t total = 0;
    for (int r = 0; r < runs; ++r) {
      t0 = NowMs();
      threads::ThreadDump d = threads::TakeThreadDump();
      collect.push_back(NowMs() - t0);
      total = d.threads.size();
      t0 = NowMs();
      std::string body = EncodeStackProfile(threads::ThreadDumpProfile(threads::TakeThreadDump()));
      proto.push_back(NowMs() - t0);
    }
    const Stats c = Summarize(collect), p = Summarize(proto);
    printf("%8zu %10.1f %16.2f %16.2f %16.2f %12.1f\n", total, first_ms, c.min, c.median, p.median,
           c.median * 1000 / static_cast<double>(total));
    {
      std::lock_guard<std::mutex> lock(g_mu);
      g_stop = true;
    }
    g_cv.notify_all();
    for (auto& t : threads) t.join();
  }
  return 0;
}
