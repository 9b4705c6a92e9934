// SPDX-License-Identifier: Apache-2.0
//
// Run with CPPROF_LEAK_CHECK=exit CPPROF_HEAP_RATE=1: leaks one object
// (LeakAtExit) and keeps one (KeptAtExit), then returns from main; the
// report at exit must name the first and not the second.

#include <stdio.h>
#include <stdlib.h>

namespace {

void* volatile g_kept;

__attribute__((noinline)) void LeakAtExit() { static_cast<volatile char*>(malloc(5555))[0] = 1; }
__attribute__((noinline)) void KeptAtExit() { g_kept = malloc(5556); }
__attribute__((noinline)) void Scrub() {
  volatile char wipe[16384];
  for (size_t i = 0; i < sizeof(wipe); ++i) wipe[i] = 0;
}

}  // namespace

int main() {
  LeakAtExit();
  KeptAtExit();
  Scrub();
  puts("done");
  return 0;
}
