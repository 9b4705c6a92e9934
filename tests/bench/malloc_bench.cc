// SPDX-License-Identifier: Apache-2.0
//
// malloc/free cost through cpprof's heap hooks, against plain glibc and
// gperftools, one configuration per process:
//
//   malloc_bench [--threads 1,2] [--pairs 2000000] [--work-pairs 1000000] [--blocks 100]
//                [--work-rounds 112] [--depth 20] [--label NAME]
//
// Built twice from this file: malloc_bench links cpprof_static, so cpprof's
// malloc/free/new/delete are the executable's own; malloc_bench_plain has no
// cpprof at all and is run plain (glibc) or with LD_PRELOAD (cpprof's preload
// module, tcmalloc). The heap sampling rate comes from the environment
// (CPPROF_HEAP_RATE, TCMALLOC_SAMPLE_PARAMETER, HEAPPROFILE), so the program
// does the same thing in every configuration.
//
// Workload, per thread: a ring of 1024 live objects; each iteration frees a
// slot chosen at random and mallocs a new object of a log-uniform size in
// [16, 4096] bytes into it, writing its first and last byte. Slots and sizes
// come from a precomputed table (xoshiro256**, the same seeds in every
// configuration), so no PRNG runs in the timed loop. Two workloads:
//   pair  the loop above: the cost of one malloc+free pair;
//   work  the same plus a fixed computation per iteration (a 16-byte header
//         written into the object, then --work-rounds rounds of a multiply/
//         xor-shift hash chain over it, about 150 ns): a malloc-heavy loop
//         that does some work with what it allocates.
// The loop runs --depth extra (non-inlined) frames below the thread's entry,
// so a sampled allocation unwinds a stack of server-like depth.
//
// Each thread runs its pairs in --blocks blocks through the process's malloc
// and free, alternating block by block with as many blocks on a second ring
// that call __libc_malloc/__libc_free directly: an in-process baseline taken
// under the same conditions, so the cost of what sits in front of glibc shows
// as a paired difference. (That baseline is glibc's malloc unless an
// allocator also defines __libc_malloc, as gperftools' tcmalloc does.) Both
// rings get up to 50,000 untimed warm-up pairs first. One line per
// (workload, threads):
//   RESULT build=linked label=... allocator=cpprof workload=pair threads=2 pairs_per_thread=...
//     blocks=... cpu_ns_per_pair=... wall_ns_per_pair=... libc_direct_cpu_ns_per_pair=...
//     [heap_mode=... heap_rate=... samples=... slow_path_ns_per_sample=...]
// cpu_ns_per_pair is the threads' CPU time in the process's-malloc blocks
// (CLOCK_THREAD_CPUTIME_ID, so time a thread spends preempted by other work
// on the machine is not counted) divided by their pairs; wall_ns_per_pair is
// first start to last finish of all blocks, per pair of one thread and
// variant. The heap_* fields (linked build only) come from cpprof's own
// counters. tests/bench/malloc_bench.sh runs the configurations as separate
// processes, interleaved, and prints ratios.

#include <dlfcn.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#ifndef CPPROF_MALLOC_BENCH_PLAIN
#include "profiles/heap/heap_sampler.h"
#endif

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
}

namespace {

constexpr size_t kRingSlots = 1024;
constexpr size_t kTableEntries = size_t{1} << 16;  // 256 KiB per thread, cycled through
constexpr size_t kMinSize = 16;
constexpr size_t kMaxSize = 4096;
constexpr size_t kWarmupPairs = 50000;  // per ring; fewer if --pairs is smaller

volatile uint64_t g_sink;

struct Xoshiro256 {
  uint64_t s[4];
  explicit Xoshiro256(uint64_t seed) {
    for (auto& w : s) {  // splitmix64
      uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      w = z ^ (z >> 31);
    }
  }
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t Next() {
    const uint64_t result = Rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = Rotl(s[3], 45);
    return result;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
};

// Entry = slot (low 16 bits) | size << 16.
std::vector<uint32_t> MakeTable(uint64_t seed) {
  Xoshiro256 rng(seed);
  std::vector<uint32_t> table(kTableEntries);
  const double lo = std::log(static_cast<double>(kMinSize));
  const double hi = std::log(static_cast<double>(kMaxSize + 1));
  for (auto& e : table) {
    const uint32_t slot = static_cast<uint32_t>(rng.Next() >> 54);  // 10 bits: 0..1023
    uint32_t size = static_cast<uint32_t>(std::exp(lo + rng.Uniform() * (hi - lo)));
    if (size > kMaxSize) size = kMaxSize;
    e = slot | (size << 16);
  }
  return table;
}

inline void Touch(unsigned char* p, size_t size, uint64_t i) {
  p[0] = static_cast<unsigned char>(i);
  p[size - 1] = static_cast<unsigned char>(i >> 8);
}

// The "work" variant's computation: write a 16-byte header into the object,
// then a serial hash chain over it (nothing the compiler can shorten).
inline uint64_t Work(unsigned char* p, uint64_t i, int rounds) {
  const uint64_t a = i * 0x9e3779b97f4a7c15ull, b = a ^ (a >> 29);
  memcpy(p, &a, 8);
  memcpy(p + 8, &b, 8);
  uint64_t w0, w1;
  memcpy(&w0, p, 8);
  memcpy(&w1, p + 8, 8);
  uint64_t h = 0xcbf29ce484222325ull;
  for (int k = 0; k < rounds; ++k) {
    h = (h ^ ((k & 1) != 0 ? w1 : w0)) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  return h;
}

// The process's malloc/free (cpprof's hooks, tcmalloc or glibc), or glibc's
// __libc_* entry points: the in-process baseline. Both are called through
// pointers from the same machine code, so nothing but the callee differs
// (in a process without an interposer the two are the same functions).
struct Allocator {
  void* (*malloc_fn)(size_t);
  void (*free_fn)(void*);
};
const Allocator kVariants[2] = {{malloc, free}, {__libc_malloc, __libc_free}};

struct LoopArgs {
  void** ring;
  const uint32_t* table;
  size_t pairs;
  size_t start;  // table position
  bool work;
  Allocator alloc;
  int work_rounds;
};

// Aligned so that both executables get the same loop layout.
template <bool kWork>
__attribute__((noinline, aligned(64))) uint64_t Loop(const LoopArgs& a) {
  uint64_t sink = 0;
  void** ring = a.ring;
  void* (*const malloc_fn)(size_t) = a.alloc.malloc_fn;
  void (*const free_fn)(void*) = a.alloc.free_fn;
  for (size_t i = a.start, end = a.start + a.pairs; i < end; ++i) {
    const uint32_t e = a.table[i & (kTableEntries - 1)];
    const size_t slot = e & 0xffff, size = e >> 16;
    free_fn(ring[slot]);
    auto* p = static_cast<unsigned char*>(malloc_fn(size));
    Touch(p, size, i);
    if (kWork) sink += Work(p, i, a.work_rounds);
    ring[slot] = p;
  }
  return sink;
}

// `depth` extra frames, then the loop (not a tail call: the result is used).
__attribute__((noinline)) uint64_t Descend(int depth, const LoopArgs& a) {
  if (depth <= 0) return a.work ? Loop<true>(a) : Loop<false>(a);
  uint64_t r = Descend(depth - 1, a);
  asm volatile("" : "+r"(r));
  return r + 1;
}

double Now(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

struct Run {
  bool work;
  size_t pairs;   // per thread and variant
  size_t blocks;  // per variant
  int work_rounds;
  int depth;
};

struct ThreadResult {
  double wall_start_ns = 0, wall_end_ns = 0;
  double cpu_ns[2] = {0, 0};  // [0] process's malloc, [1] __libc_malloc direct
};

void RunThread(const Run& run, int index, std::atomic<int>* ready, std::atomic<bool>* go,
               ThreadResult* out) {
  const std::vector<uint32_t> table = MakeTable(0x6d616c6c6f63ull + static_cast<uint64_t>(index));
  // Both rings page-aligned: the same cache-set and 4 KiB-alias placement.
  struct alignas(4096) Ring {
    void* slot[kRingSlots];
  };
  std::unique_ptr<Ring[]> rings(new Ring[2]);
  LoopArgs args[2];
  uint64_t sink = 0;
  const size_t warmup = std::min(kWarmupPairs, run.pairs);
  for (int v = 0; v < 2; ++v) {
    for (size_t i = 0; i < kRingSlots; ++i) {
      const size_t size = table[i] >> 16;
      rings[v].slot[i] = kVariants[v].malloc_fn(size);
      Touch(static_cast<unsigned char*>(rings[v].slot[i]), size, i);
    }
    args[v] = LoopArgs{rings[v].slot, table.data(), warmup, 0, run.work, kVariants[v], run.work_rounds};
    sink += Descend(run.depth, args[v]);
    args[v].start = warmup;
  }
  ready->fetch_add(1);
  while (!go->load(std::memory_order_acquire)) std::this_thread::yield();
  out->wall_start_ns = Now(CLOCK_MONOTONIC);
  for (size_t b = 0; b < run.blocks; ++b) {
    const size_t n = run.pairs / run.blocks + (b < run.pairs % run.blocks ? 1 : 0);
    for (int k = 0; k < 2; ++k) {
      const int v = (static_cast<int>(b) + k) % 2;  // order: 0 1, 1 0, 0 1, ...
      args[v].pairs = n;
      const double t0 = Now(CLOCK_THREAD_CPUTIME_ID);
      sink += Descend(run.depth, args[v]);
      out->cpu_ns[v] += Now(CLOCK_THREAD_CPUTIME_ID) - t0;
      args[v].start += n;
    }
  }
  out->wall_end_ns = Now(CLOCK_MONOTONIC);
  for (int v = 0; v < 2; ++v) {
    for (void* p : rings[v].slot) kVariants[v].free_fn(p);
  }
  g_sink = g_sink + sink;
}

const char* AllocatorName() {
#ifndef CPPROF_MALLOC_BENCH_PLAIN
  // cpprof's malloc is the executable's own (its marker is not exported).
  if (cpprof::internal::heap::CurrentMode() == cpprof::internal::heap::Mode::kGlibc) return "cpprof";
#endif
  // Which malloc the process's symbol lookup finds first.
  if (dlsym(RTLD_DEFAULT, "cpprof_heap_hooks_marker") != nullptr) return "cpprof";
  if (dlsym(RTLD_DEFAULT, "tc_malloc") != nullptr) return "tcmalloc";
  return "glibc";
}

std::vector<int> ParseList(const char* s) {
  std::vector<int> v;
  for (const char* c = s; *c != '\0';) {
    char* end;
    const long n = strtol(c, &end, 10);
    if (end == c) break;
    v.push_back(static_cast<int>(n));
    c = *end == ',' ? end + 1 : end;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts = {1, 2};
  size_t pairs = 2000000, work_pairs = 1000000, blocks = 100;
  int work_rounds = 112, depth = 20;
  std::string label = "-";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--threads") thread_counts = ParseList(v);
    else if (k == "--pairs") pairs = strtoull(v, nullptr, 10);
    else if (k == "--work-pairs") work_pairs = strtoull(v, nullptr, 10);
    else if (k == "--blocks") blocks = strtoull(v, nullptr, 10);
    else if (k == "--work-rounds") work_rounds = atoi(v);
    else if (k == "--depth") depth = atoi(v);
    else if (k == "--label") label = v;
    else {
      fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (thread_counts.empty() || blocks == 0 || pairs < blocks || work_pairs < blocks) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
#ifdef CPPROF_MALLOC_BENCH_PLAIN
  const char* build = "plain";
#else
  const char* build = "linked";
  namespace heap = cpprof::internal::heap;
#endif

  for (bool work : {false, true}) {
    for (int threads : thread_counts) {
#ifndef CPPROF_MALLOC_BENCH_PLAIN
      const uint64_t samples0 = heap::GetCounters().samples.load();
      const uint64_t slow0 = heap::GetCounters().slow_path_ns.load();
#endif
      const Run run{work, work ? work_pairs : pairs, blocks, work_rounds, depth};
      std::vector<ThreadResult> results(threads);
      std::vector<std::thread> pool;
      std::atomic<int> ready{0};
      std::atomic<bool> go{false};
      for (int t = 0; t < threads; ++t) pool.emplace_back(RunThread, run, t, &ready, &go, &results[t]);
      while (ready.load() != threads) std::this_thread::yield();
      go.store(true, std::memory_order_release);
      for (auto& th : pool) th.join();

      double first = results[0].wall_start_ns, last = results[0].wall_end_ns, cpu[2] = {0, 0};
      for (const auto& r : results) {
        first = std::min(first, r.wall_start_ns);
        last = std::max(last, r.wall_end_ns);
        cpu[0] += r.cpu_ns[0];
        cpu[1] += r.cpu_ns[1];
      }
      const double all = static_cast<double>(run.pairs) * threads;
      printf("RESULT build=%s label=%s allocator=%s workload=%s threads=%d pairs_per_thread=%zu blocks=%zu "
             "cpu_ns_per_pair=%.3f wall_ns_per_pair=%.3f libc_direct_cpu_ns_per_pair=%.3f",
             build, label.c_str(), AllocatorName(), work ? "work" : "pair", threads, run.pairs, blocks,
             cpu[0] / all, (last - first) / (2.0 * static_cast<double>(run.pairs)), cpu[1] / all);
#ifndef CPPROF_MALLOC_BENCH_PLAIN
      const uint64_t samples = heap::GetCounters().samples.load() - samples0;
      const uint64_t slow_ns = heap::GetCounters().slow_path_ns.load() - slow0;
      // Including the untimed set-up and warm-up of the ring.
      printf(" heap_mode=%d heap_rate=%lld samples=%llu slow_path_ns_per_sample=%.0f",
             static_cast<int>(heap::CurrentMode()), static_cast<long long>(heap::Rate()),
             static_cast<unsigned long long>(samples),
             samples != 0 ? static_cast<double>(slow_ns) / static_cast<double>(samples) : 0.0);
#endif
      printf("\n");
      fflush(stdout);
    }
  }
  return 0;
}
