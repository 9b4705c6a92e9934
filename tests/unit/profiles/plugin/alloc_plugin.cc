// SPDX-License-Identifier: Apache-2.0
//
// A module the heap tests dlopen: its allocations must be sampled with
// stacks that start in it, and its objects freed after dlclose.

#include <stdlib.h>

extern "C" __attribute__((visibility("default"), noinline)) void* PluginAllocate(size_t n) {
  void* p = malloc(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
