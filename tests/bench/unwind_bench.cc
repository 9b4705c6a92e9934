// SPDX-License-Identifier: Apache-2.0
//
// Cost of one stack capture on a 40-deep stack of functions built without
// frame pointers (plus the frames below main): cpprof's CFI unwinder
// (CaptureStack), libunwind's unw_backtrace on the same stack, and a pure
// frame-pointer walk (which stops early on such a stack). Reports median and
// p99 ns per capture, frames captured, and ratios. A second part takes the
// same measurement inside a SIGPROF handler driven by a per-thread CPU timer.
//
// A third part ("cold") interrupts 40 distinct functions (one template
// instantiation per level, so every frame needs its own unwind row) while
// the thread streams through 64 MiB between samples, as a server's work
// evicts caches and TLB between two samples: the per-frame cost to compare
// with a large binary's (docs/benchmarks.md, "Large binary").
//
// Not a pass/fail test. Usage: unwind_bench [iterations] [getcontext|signal|cold]

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "unwind/frame_pointer_unwinder.h"
#include "unwind/unwinder.h"

namespace {

constexpr int kDepth = 40;
constexpr int kMaxFrames = 128;

int g_iterations = 20000;
volatile long g_sink;

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct Result {
  const char* name;
  std::vector<uint64_t> ns;
  int frames = 0;
  uint64_t Median() { return Pct(50); }
  uint64_t Pct(int p) {
    std::sort(ns.begin(), ns.end());
    return ns.empty() ? 0 : ns[std::min(ns.size() - 1, ns.size() * static_cast<size_t>(p) / 100)];
  }
};

void Print(Result* rs, int n, uint64_t timer_overhead) {
  std::printf("  %-34s %8s %8s %7s %12s\n", "method", "median", "p99", "frames", "median ratio");
  uint64_t base = rs[0].Median() > timer_overhead ? rs[0].Median() - timer_overhead : 1;
  for (int i = 0; i < n; ++i) {
    uint64_t med = rs[i].Median() > timer_overhead ? rs[i].Median() - timer_overhead : 0;
    uint64_t p99 = rs[i].Pct(99) > timer_overhead ? rs[i].Pct(99) - timer_overhead : 0;
    std::printf("  %-34s %6lu ns %6lu ns %7d %11.2fx\n", rs[i].name, static_cast<unsigned long>(med),
                static_cast<unsigned long>(p99), rs[i].frames, static_cast<double>(med) / base);
  }
}

uint64_t TimerOverhead() {
  std::vector<uint64_t> v;
  for (int i = 0; i < 10000; ++i) {
    uint64_t t0 = NowNs();
    v.push_back(NowNs() - t0);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Part 1: from getcontext() at the bottom of the recursion.
__attribute__((noinline)) void MeasureHere() {
  uintptr_t pcs[kMaxFrames];
  void* bt[kMaxFrames];
  ucontext_t uc;
  getcontext(&uc);
  Result rs[3] = {{"cpprof CaptureStack (CFI)", {}}, {"libunwind unw_backtrace", {}},
                  {"frame-pointer walk", {}}};
  for (auto& r : rs) r.ns.reserve(static_cast<size_t>(g_iterations));
  for (int i = 0; i < g_iterations; ++i) {
    uint64_t t0 = NowNs();
    rs[0].frames = cpprof::internal::CaptureStack(&uc, pcs, kMaxFrames);
    uint64_t t1 = NowNs();
    rs[1].frames = unw_backtrace(bt, kMaxFrames);
    uint64_t t2 = NowNs();
    rs[2].frames = cpprof::internal::CaptureStackFramePointers(
        static_cast<uintptr_t>(uc.uc_mcontext.gregs[REG_RIP]),
        static_cast<uintptr_t>(uc.uc_mcontext.gregs[REG_RSP]),
        static_cast<uintptr_t>(uc.uc_mcontext.gregs[REG_RBP]), pcs, kMaxFrames);
    uint64_t t3 = NowNs();
    rs[0].ns.push_back(t1 - t0);
    rs[1].ns.push_back(t2 - t1);
    rs[2].ns.push_back(t3 - t2);
  }
  std::printf("From getcontext() at the bottom of %d frame-pointer-less frames (%d iterations):\n",
              kDepth, g_iterations);
  Print(rs, 3, TimerOverhead());
}

// Part 2: inside a SIGPROF handler while spinning at the bottom.
struct SignalBench {
  Result ours{"cpprof CaptureStack in handler", {}};
  Result again{"  same, again at once", {}};
  Result fp{"frame-pointer walk in handler", {}};
  std::atomic<int> samples{0};
};
SignalBench* g_bench;

void Handler(int, siginfo_t*, void* uc) {
  SignalBench* b = g_bench;
  if (b == nullptr || b->samples.load() >= g_iterations / 10) return;
  uintptr_t pcs[kMaxFrames];
  uint64_t t0 = NowNs();
  b->ours.frames = cpprof::internal::CaptureStack(uc, pcs, kMaxFrames);
  uint64_t t1 = NowNs();
  // The same walk repeated right away: what it costs once the first walk has
  // brought the tables, TLB entries and branch history back.
  b->again.frames = cpprof::internal::CaptureStack(uc, pcs, kMaxFrames);
  uint64_t t2 = NowNs();
  const auto* ctx = static_cast<const ucontext_t*>(uc);
  b->fp.frames = cpprof::internal::CaptureStackFramePointers(
      static_cast<uintptr_t>(ctx->uc_mcontext.gregs[REG_RIP]),
      static_cast<uintptr_t>(ctx->uc_mcontext.gregs[REG_RSP]),
      static_cast<uintptr_t>(ctx->uc_mcontext.gregs[REG_RBP]), pcs, kMaxFrames);
  uint64_t t3 = NowNs();
  b->ours.ns.push_back(t1 - t0);  // reserved up front: no allocation here
  b->again.ns.push_back(t2 - t1);
  b->fp.ns.push_back(t3 - t2);
  b->samples.fetch_add(1);
}

// With `g_evict`, the spinning thread streams through a 64 MiB buffer (one
// line per page plus one, so lines and TLB entries both go cold).
constexpr size_t kEvictBytes = size_t{64} << 20;
volatile char* g_evict = nullptr;

__attribute__((noinline, optimize("omit-frame-pointer"))) void SpinHere() {
  size_t at = 0;
  while (g_bench->samples.load(std::memory_order_relaxed) < g_iterations / 10) {
    if (g_evict != nullptr) {
      g_evict[at] = static_cast<char>(g_evict[at] + 1);
      at = (at + 4096 + 64) % kEvictBytes;
    }
    g_sink = g_sink + 1;
  }
}

void MeasureInHandler() {
  SignalBench bench;
  bench.ours.ns.reserve(static_cast<size_t>(g_iterations));
  bench.again.ns.reserve(static_cast<size_t>(g_iterations));
  bench.fp.ns.reserve(static_cast<size_t>(g_iterations));
  g_bench = &bench;
  struct sigaction sa {}, old {};
  sa.sa_sigaction = &Handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigaction(SIGPROF, &sa, &old);
  sigevent sev{};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
  timer_t timer;
  if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &timer) != 0) return;
  itimerspec its{};
  its.it_value.tv_nsec = g_evict != nullptr ? 4000000 : 100000;  // 250 Hz (a busy server's tick) or 10 kHz
  its.it_interval.tv_nsec = its.it_value.tv_nsec;
  timer_settime(timer, 0, &its, nullptr);
  SpinHere();
  timer_delete(timer);
  sigaction(SIGPROF, &old, nullptr);
  g_bench = nullptr;
  std::printf("\nInside a SIGPROF handler, interrupted %d frames deep%s (%d samples):\n", kDepth,
              g_evict != nullptr ? " in distinct functions, 64 MiB streamed between samples" : "",
              bench.samples.load());
  Result rs[3] = {bench.ours, bench.again, bench.fp};
  Print(rs, 3, TimerOverhead());
}

using Leaf = void (*)();

__attribute__((noinline, optimize("omit-frame-pointer"))) int Recurse(int depth, Leaf leaf) {
  if (depth == 0) {
    leaf();
    return static_cast<int>(g_sink & 1);
  }
  int r = Recurse(depth - 1, leaf);
  g_sink = g_sink + r;
  return r + 1;
}

// One function per level (distinct code, distinct unwind rows).
template <int N>
__attribute__((noinline, optimize("omit-frame-pointer"))) int Distinct(Leaf leaf) {
  if constexpr (N == 0) {
    leaf();
    return static_cast<int>(g_sink & 1);
  } else {
    int r = Distinct<N - 1>(leaf);
    g_sink = g_sink + r + N;
    return r + 1;
  }
}

void MeasureCold() {
  char* buf = static_cast<char*>(std::calloc(kEvictBytes, 1));
  if (buf == nullptr) return;
  g_evict = buf;
  const int saved = g_iterations;
  g_iterations = std::min(g_iterations, 3000);  // 300 samples at 250 Hz of CPU time
  Distinct<kDepth>(&MeasureInHandler);
  g_iterations = saved;
  g_evict = nullptr;
  std::free(buf);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_iterations = std::max(100, std::atoi(argv[1]));
  if (!cpprof::internal::RefreshUnwindTables()) {
    std::fprintf(stderr, "RefreshUnwindTables failed (no CFI on this platform?)\n");
  }
  const char* only = argc > 2 ? argv[2] : "";
  if (only[0] != 's') Recurse(kDepth, &MeasureHere);
  if (only[0] != 'g' && only[0] != 'c') Recurse(kDepth, &MeasureInHandler);
  if (only[0] != 'g' && only[0] != 's') MeasureCold();
  std::printf("\nunwind tables: %zu bytes\n", cpprof::internal::UnwindTablesBytes());
  return 0;
}
