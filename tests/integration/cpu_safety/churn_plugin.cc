// SPDX-License-Identifier: Apache-2.0
//
// A tiny shared library the churn host loads and unloads in a loop. Its
// function burns a little CPU so profiles catch PCs inside it while it is
// mapped (and the unwinder must forget it once it is unmapped).

#include <cstdint>

extern "C" __attribute__((visibility("default"), noinline)) uint64_t churn_plugin_work(uint64_t iterations) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t i = 0; i < iterations; ++i) {
    h = (h ^ i) * 1099511628211ull;
    asm volatile("" : "+r"(h));
  }
  return h;
}
