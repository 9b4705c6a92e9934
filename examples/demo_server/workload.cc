// SPDX-License-Identifier: Apache-2.0

#include "workload.h"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace demo {
namespace {

constexpr uint64_t kUnit = 2000000;
volatile uint64_t g_sink;

int CompareRecords(const void* a, const void* b) {
  uint64_t x = *static_cast<const uint64_t*>(a);
  uint64_t y = *static_cast<const uint64_t*>(b);
  // A little arithmetic so the comparator shows up in profiles.
  for (int i = 0; i < 8; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    y = y * 6364136223846793005ull + 1442695040888963407ull;
  }
  return x < y ? -1 : (x > y ? 1 : 0);
}

}  // namespace

__attribute__((noinline)) uint64_t SpinHot(uint64_t iterations) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t i = 0; i < iterations; ++i) {
    h = (h ^ i) * 1099511628211ull;
    g_sink = h;
  }
  return h;
}

__attribute__((noinline)) uint64_t SpinWarm(uint64_t iterations) {
  uint64_t x = 88172645463325252ull;
  for (uint64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    g_sink = x;
  }
  return x;
}

__attribute__((noinline)) uint64_t SortRecords(int count) {
  std::vector<uint64_t> v(static_cast<size_t>(count));
  uint64_t seed = 12345;
  for (auto& e : v) {
    seed = seed * 6364136223846793005ull + 1;
    e = seed;
  }
  qsort(v.data(), v.size(), sizeof(uint64_t), CompareRecords);
  return v[0];
}

void RunWorker(int index, const std::atomic<bool>& stop) {
  char name[16];
  snprintf(name, sizeof(name), "demo-worker-%d", index);
  pthread_setname_np(pthread_self(), name);
  while (!stop.load(std::memory_order_relaxed)) {
    g_sink = SpinHot(3 * kUnit);
    g_sink = SpinWarm(kUnit);
    g_sink = SortRecords(2000);
  }
}

}  // namespace demo
