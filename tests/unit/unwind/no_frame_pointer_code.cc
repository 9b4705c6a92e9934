// SPDX-License-Identifier: Apache-2.0
//
// Built with -fomit-frame-pointer (extra.cmake); the attributes repeat it in
// case the flags are overridden.

#include "no_frame_pointer_code.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#define NO_FP __attribute__((noinline, optimize("omit-frame-pointer")))

namespace cpprof_test {
namespace {

Hook g_hook;
void* g_arg;
bool g_called;
const std::atomic<bool>* g_stop;
long g_max_spins;
volatile long g_sink;

NO_FP int CompareInts(const void* a, const void* b) {
  if (!g_called) {
    g_called = true;
    g_hook(g_arg);
  }
  int x = *static_cast<const int*>(a), y = *static_cast<const int*>(b);
  return (x > y) - (x < y);
}

NO_FP int CompareSpinning(const void* a, const void* b) {
  if (!g_called) {
    g_called = true;
    for (long i = 0; i < g_max_spins && !g_stop->load(std::memory_order_relaxed); ++i) {
      g_sink = g_sink + i;
    }
  }
  int x = *static_cast<const int*>(a), y = *static_cast<const int*>(b);
  return (x > y) - (x < y);
}

struct Less {
  NO_FP bool operator()(int x, int y) const {
    if (!g_called) {
      g_called = true;
      g_hook(g_arg);
    }
    return x < y;
  }
};

std::vector<int> Shuffled() {
  std::vector<int> v(64);
  for (int i = 0; i < 64; ++i) v[static_cast<size_t>(i)] = (i * 37) % 64;
  return v;
}

}  // namespace

NO_FP void SortWithQsort(Hook hook, void* arg) {
  g_hook = hook;
  g_arg = arg;
  g_called = false;
  std::vector<int> v = Shuffled();
  qsort(v.data(), v.size(), sizeof(int), &CompareInts);
  g_sink = v[0];
}

NO_FP void SortWithStdSort(Hook hook, void* arg) {
  g_hook = hook;
  g_arg = arg;
  g_called = false;
  std::vector<int> v = Shuffled();
  std::sort(v.begin(), v.end(), Less());
  g_sink = v[0];
}

NO_FP void SortSpinningInComparator(const std::atomic<bool>* stop, long max_spins) {
  g_stop = stop;
  g_max_spins = max_spins;
  g_called = false;
  std::vector<int> v = Shuffled();
  qsort(v.data(), v.size(), sizeof(int), &CompareSpinning);
  g_sink = v[0];
}

NO_FP int RecurseWithoutFramePointers(int depth, Hook hook, void* arg) {
  if (depth <= 0) {
    hook(arg);
    return static_cast<int>(g_sink & 1);
  }
  int r = RecurseWithoutFramePointers(depth - 1, hook, arg);
  g_sink = g_sink + r;
  return r + 1;
}

}  // namespace cpprof_test
