// SPDX-License-Identifier: Apache-2.0
//
// How much of an interrupted thread's stack the CPU profiling signal uses
// (the kernel's signal frame plus cpprof's handler: stack walk, stack
// table), for hosts that run code on small stacks (fibers, coroutines).
// A thread runs on a stack of our own, filled with a pattern, in a busy
// loop that calls nothing; cpprof samples it at 1000 Hz for `seconds`.
// Afterwards the lowest byte that is no longer the pattern tells how far
// below the loop's stack pointer the signal reached. Results in
// docs/benchmarks.md.
//
//   handler_stack_bench [seconds]   (default 3)

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>

#include "profiles/cpu/cpu_profiler.h"
#include "unwind/unwind_service.h"

namespace {

constexpr size_t kStackBytes = 256 * 1024;
constexpr unsigned char kPattern = 0xA5;
std::atomic<bool> g_stop{false};
std::atomic<uintptr_t> g_loop_sp{0};
volatile uint64_t g_sink;

__attribute__((noinline)) void Spin() {
  char here;
  g_loop_sp.store(reinterpret_cast<uintptr_t>(&here));
  uint64_t h = 1;
  while (!g_stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < 100000; ++i) h = h * 6364136223846793005ull + 1442695040888963407ull;
    g_sink = h;
  }
}

void* Thread(void*) {
  Spin();
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? atoi(argv[1]) : 3;
  cpprof::internal::StartUnwindRefresher();
  void* stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) return 1;
  memset(stack, kPattern, kStackBytes);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, stack, kStackBytes);
  uint64_t window = 0;
  if (!cpprof::internal::CpuProfiler::Global().BeginWindow(1000, SIGPROF, &window).ok()) {
    fprintf(stderr, "cannot start the CPU profiler\n");
    return 1;
  }
  pthread_t t;
  if (pthread_create(&t, &attr, Thread, nullptr) != 0) return 1;
  struct timespec ts = {seconds, 0};
  nanosleep(&ts, nullptr);
  g_stop = true;
  pthread_join(t, nullptr);
  cpprof::internal::StackProfile p = cpprof::internal::CpuProfiler::Global().EndWindow(window);
  int64_t samples = 0;
  for (const auto& s : p.samples) samples += s.values.empty() ? 0 : s.values[0];
  const unsigned char* base = static_cast<const unsigned char*>(stack);
  size_t lowest = 0;
  while (lowest < kStackBytes && base[lowest] == kPattern) ++lowest;
  const uintptr_t touched = reinterpret_cast<uintptr_t>(base) + lowest;
  const uintptr_t loop_sp = g_loop_sp.load();
  printf("handler_stack_bench: %lld samples of the thread in %d s at 1000 Hz; the signal used %ld bytes below "
         "the interrupted frame (kernel signal frame + cpprof's handler)\n",
         static_cast<long long>(samples), seconds, static_cast<long>(loop_sp - touched));
  // The kernel's own part: AT_MINSIGSTKSZ is its signal frame on this CPU
  // (the xsave area grows with AVX-512, AMX).
  printf("handler_stack_bench: AT_MINSIGSTKSZ (kernel signal frame on this CPU) = %lu bytes\n",
         getauxval(AT_MINSIGSTKSZ));
  return 0;
}
