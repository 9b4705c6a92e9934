// SPDX-License-Identifier: Apache-2.0
//
// Cost of cpprof's pthread lock hooks (results in docs/benchmarks.md).
// Built twice: lock_bench (cpprof's objects in the executable) and
// lock_bench_so (libcpprof.so). Each run interleaves, in alternating blocks:
//
// Uncontended (one thread, std::mutex lock+unlock pairs):
//   direct    glibc's __pthread_mutex_lock/unlock called directly (no hook)
//   idle      std::mutex through cpprof's hooks, profiles off
//   on        the same with both profiles on (every event recorded)
// reporting min and median ns per pair over blocks and the ns added.
//
// Contended (4 threads incrementing a counter under one std::mutex):
// throughput with the profiles off, and on at two settings (every event;
// Go-like production settings: 1 of 100 contentions, one block sample per
// 10 us), as ops/s and the ratio to "off".
//
//   lock_bench [blocks]

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "cpprof/cpprof.h"

extern "C" {
int bench_direct_lock(pthread_mutex_t*);
int bench_direct_unlock(pthread_mutex_t*);
}
__asm__(".symver bench_direct_lock,__pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver bench_direct_unlock,__pthread_mutex_unlock@GLIBC_2.2.5");

namespace {

int64_t CpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t WallNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

constexpr long kPairs = 5000000;
std::mutex g_mu;
pthread_mutex_t g_raw = PTHREAD_MUTEX_INITIALIZER;
volatile long g_counter;

__attribute__((noinline)) double DirectPairs() {
  const int64_t t0 = CpuNs();
  for (long i = 0; i < kPairs; ++i) {
    bench_direct_lock(&g_raw);
    g_counter = g_counter + 1;
    bench_direct_unlock(&g_raw);
  }
  return static_cast<double>(CpuNs() - t0) / kPairs;
}

__attribute__((noinline)) double HookedPairs() {
  const int64_t t0 = CpuNs();
  for (long i = 0; i < kPairs; ++i) {
    g_mu.lock();
    g_counter = g_counter + 1;
    g_mu.unlock();
  }
  return static_cast<double>(CpuNs() - t0) / kPairs;
}

void SetProfiles(int64_t fraction, int64_t rate) {
  cpprof::SetMutexProfileFraction(fraction);
  cpprof::SetBlockProfileRate(rate);
}

// 4 threads, 300 ms: lock, a little work, unlock, a little work outside.
__attribute__((noinline)) double ContendedOpsPerSecond() {
  std::atomic<bool> stop{false};
  std::atomic<long> ops{0};
  std::vector<std::thread> ts;
  const int64_t t0 = WallNs();
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      long n = 0;
      unsigned x = 1;
      while (!stop.load(std::memory_order_relaxed)) {
        g_mu.lock();
        for (int k = 0; k < 20; ++k) x = x * 1103515245u + 12345u;
        g_counter = g_counter + static_cast<long>(x & 1);
        g_mu.unlock();
        for (int k = 0; k < 50; ++k) x = x * 1103515245u + 12345u;
        ++n;
      }
      ops.fetch_add(n);
    });
  }
  struct timespec d {0, 300 * 1000 * 1000};
  nanosleep(&d, nullptr);
  stop.store(true);
  for (auto& t : ts) t.join();
  return static_cast<double>(ops.load()) * 1e9 / static_cast<double>(WallNs() - t0);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

}  // namespace

int main(int argc, char** argv) {
  const int blocks = argc > 1 ? atoi(argv[1]) : 11;
  std::vector<double> direct, idle, on;
  for (int b = 0; b < blocks; ++b) {
    // Alternate the order so drift favours none of them.
    if (b % 2 == 0) {
      SetProfiles(0, 0);
      direct.push_back(DirectPairs());
      idle.push_back(HookedPairs());
      SetProfiles(1, 1);
      on.push_back(HookedPairs());
    } else {
      SetProfiles(1, 1);
      on.push_back(HookedPairs());
      SetProfiles(0, 0);
      idle.push_back(HookedPairs());
      direct.push_back(DirectPairs());
    }
  }
  SetProfiles(0, 0);
  printf("uncontended lock+unlock, ns per pair (CPU time; %d blocks of %ld pairs)\n", blocks, kPairs);
  printf("  %-34s %8s %8s %10s\n", "", "min", "median", "added");
  printf("  %-34s %8.2f %8.2f %10s\n", "glibc direct (no hook)", Min(direct), Median(direct), "-");
  printf("  %-34s %8.2f %8.2f %+10.2f\n", "hooked, profiles off", Min(idle), Median(idle),
         Median(idle) - Median(direct));
  printf("  %-34s %8.2f %8.2f %+10.2f\n", "hooked, profiles on (all events)", Min(on), Median(on),
         Median(on) - Median(direct));

  std::vector<double> c_off, c_all, c_prod;
  for (int b = 0; b < blocks; ++b) {
    SetProfiles(0, 0);
    c_off.push_back(ContendedOpsPerSecond());
    SetProfiles(1, 1);
    c_all.push_back(ContendedOpsPerSecond());
    SetProfiles(100, 10000);
    c_prod.push_back(ContendedOpsPerSecond());
  }
  SetProfiles(0, 0);
  const double off = Median(c_off);
  printf("contended: 4 threads on one std::mutex, ops/s (median of %d blocks of 300 ms)\n", blocks);
  printf("  %-44s %12.0f %8s\n", "profiles off", off, "1.000");
  printf("  %-44s %12.0f %8.3f\n", "mutex 1/100, block 10 us (production-like)", Median(c_prod),
         Median(c_prod) / off);
  printf("  %-44s %12.0f %8.3f\n", "mutex 1/1, block 1 ns (every event)", Median(c_all), Median(c_all) / off);
  return 0;
}
