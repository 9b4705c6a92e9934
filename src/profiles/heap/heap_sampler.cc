// SPDX-License-Identifier: Apache-2.0
//
// Hook context: SampledAllocate, SampledFree and everything they call run
// inside malloc/free (see heap_sampler.h). They must not allocate through
// the hooks: t_state.busy is set for their whole duration, so any nested
// allocation (dlsym's, StackTable's own bookkeeping) goes to the real
// allocator unsampled, or, while cpprof initialises, to bootstrap spans in
// the region that belong to no allocator at all. Initialisation happens in
// the first allocation that reaches the slow path (thread-local state starts
// at zero, so that is the process's first allocation through cpprof): it
// reads CPPROF_HEAP_RATE with getenv, reserves the region with mmap and asks
// the loader which malloc follows cpprof's. No constructor is involved:
// libstdc++ allocates before constructors run.

#include "base/clock.h"
#include "profiles/heap/heap_sampler.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmath>

#include "base/errno_saver.h"
#include "profiles/heap/heap_hooks_section.h"
#include "profiles/heap/sample_region.h"
#include "stacks/stack_table.h"
#include "unwind/unwinder.h"

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace cpprof {
namespace internal {
namespace heap {

RealAllocator g_real = {__libc_malloc, __libc_free, __libc_calloc, __libc_realloc, __libc_memalign, nullptr};
CPPROF_SIGNAL_TLS ThreadState t_state;

namespace {

constexpr int64_t kIdleGap = int64_t{64} << 20;  // off: look again after 64 MiB
constexpr size_t kTableSlots = 32768;
constexpr size_t kTableArenaPcs = kTableSlots * 32;

std::atomic<int> g_mode{static_cast<int>(Mode::kUninitialised)};
std::atomic<int> g_init_state{0};  // 0 not started, 1 running, 2 done
std::atomic<int64_t> g_rate{kDefaultRate};
std::atomic<uint32_t> g_generation{1};
std::atomic<StackTable*> g_table{nullptr};
CPPROF_SIGNAL_TLS bool t_initialising = false;
Counters g_counters;

int64_t ParseRate(const char* v) {
  if (v == nullptr || *v == '\0') return -1;
  int64_t n = 0;
  for (const char* c = v; *c != '\0'; ++c) {
    if (*c < '0' || *c > '9' || n > (int64_t{1} << 40)) return -1;
    n = n * 10 + (*c - '0');
  }
  return n;
}

void Initialise() {
  int64_t env = ParseRate(getenv("CPPROF_HEAP_RATE"));
  if (env >= 0) g_rate.store(env, std::memory_order_relaxed);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  g_mode.store(static_cast<int>(Mode::kUnavailable));
  return;
#else
  if (!SampleRegion::Init()) {
    g_mode.store(static_cast<int>(Mode::kUnavailable));
    return;
  }
  t_initialising = true;  // dlsym may allocate: those go to bootstrap spans
  void* next = dlsym(RTLD_NEXT, "malloc");
  void* other_copy = dlsym(RTLD_NEXT, "cpprof_heap_hooks_marker");
  if (next == nullptr || next == reinterpret_cast<void*>(&__libc_malloc) || other_copy != nullptr) {
    // glibc follows (or another copy of cpprof, which would forward to glibc too).
    g_real.usable_size = reinterpret_cast<size_t (*)(void*)>(dlsym(RTLD_NEXT, "malloc_usable_size"));
    if (other_copy != nullptr || g_real.usable_size == nullptr) {
      g_real.usable_size = reinterpret_cast<size_t (*)(void*)>(dlsym(RTLD_DEFAULT, "__malloc_usable_size"));
    }
    g_mode.store(static_cast<int>(Mode::kGlibc));
  } else {
    RealAllocator r;
    r.malloc = reinterpret_cast<void* (*)(size_t)>(next);
    r.free = reinterpret_cast<void (*)(void*)>(dlsym(RTLD_NEXT, "free"));
    r.calloc = reinterpret_cast<void* (*)(size_t, size_t)>(dlsym(RTLD_NEXT, "calloc"));
    r.realloc = reinterpret_cast<void* (*)(void*, size_t)>(dlsym(RTLD_NEXT, "realloc"));
    r.memalign = reinterpret_cast<void* (*)(size_t, size_t)>(dlsym(RTLD_NEXT, "memalign"));
    r.usable_size = reinterpret_cast<size_t (*)(void*)>(dlsym(RTLD_NEXT, "malloc_usable_size"));
    if (r.free != nullptr && r.calloc != nullptr && r.realloc != nullptr && r.memalign != nullptr) {
      g_real = r;
      g_mode.store(static_cast<int>(Mode::kForeign));
    } else {
      g_mode.store(static_cast<int>(Mode::kGlibc));
    }
  }
  t_initialising = false;
#endif
}

void EnsureInitialised() {
  if (g_init_state.load(std::memory_order_acquire) == 2) return;
  int expected = 0;
  if (g_init_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    Initialise();
    g_init_state.store(2, std::memory_order_release);
    return;
  }
  while (g_init_state.load(std::memory_order_acquire) != 2) sched_yield();
}

uint64_t NextRandom(ThreadState& t) {
  if (t.rng == 0) {
    t.rng = (static_cast<uint64_t>(MonotonicNanos()) * 0x9e3779b97f4a7c15ull) ^
            reinterpret_cast<uintptr_t>(&t) ^ (static_cast<uint64_t>(syscall(SYS_gettid)) << 32) ^ 1;
  }
  // xorshift64*
  t.rng ^= t.rng >> 12;
  t.rng ^= t.rng << 25;
  t.rng ^= t.rng >> 27;
  return t.rng * 0x2545f4914f6cdd1dull;
}

// An exponential gap with mean `rate` bytes.
int64_t DrawGap(ThreadState& t, int64_t rate) {
  double u = (static_cast<double>(NextRandom(t) >> 11) + 1.0) * (1.0 / 9007199254740992.0);  // (0, 1]
  double gap = -std::log(u) * static_cast<double>(rate);
  return gap > 4e18 ? int64_t{4000000000000000000} : static_cast<int64_t>(gap);
}

StackTable* GetOrCreateTable() {
  StackTable* t = g_table.load(std::memory_order_acquire);
  if (t != nullptr) return t;
  StackTable* fresh = StackTable::Create(kTableSlots, kTableArenaPcs, kValues, /*prefault=*/false);
  if (fresh == nullptr) return nullptr;
  StackTable* expected = nullptr;
  if (!g_table.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
    StackTable::Destroy(fresh);
    return expected;
  }
  return fresh;
}

// A span that belongs to nobody's statistics (allocations made by the
// loader while cpprof asks it which malloc follows).
void* BootstrapAllocate(size_t size, bool zero) {
  SampleMeta fields{};
  fields.slot = -1;
  fields.size = size;
  void* p = SampleRegion::Allocate(size, 0, fields);
  if (p == nullptr) return nullptr;
  if (zero) memset(p, 0, size);
  return p;
}

struct BusyScope {
  explicit BusyScope(ThreadState& t) : t_(t) { t_.busy = 1; }
  ~BusyScope() { t_.busy = 0; }
  ThreadState& t_;
};

}  // namespace

CPPROF_HOOK_SECTION void* SampledAllocate(size_t size, size_t align, bool zero) {
  ThreadState& t = t_state;
  if (t.busy != 0) {
    if (t_initialising) return BootstrapAllocate(size, zero);
    return nullptr;
  }
  ErrnoSaver errno_saver;
  BusyScope busy(t);
  EnsureInitialised();
  const int64_t rate = g_rate.load(std::memory_order_relaxed);
  if (g_mode.load(std::memory_order_relaxed) != static_cast<int>(Mode::kGlibc) || rate <= 0) {
    t.until = kIdleGap;
    return nullptr;
  }
  const uint32_t generation = g_generation.load(std::memory_order_relaxed);
  if (t.generation != generation) {
    // A fresh counter (new thread, or a new rate): draw a gap and let this
    // allocation take its chance against it, as every later one will.
    t.generation = generation;
    const int64_t gap = DrawGap(t, rate);
    if (gap >= static_cast<int64_t>(size) + 1) {
      t.until = gap - static_cast<int64_t>(size) - 1;
      return nullptr;
    }
  }
  const int64_t start_ns = MonotonicNanos();
  Counters& c = g_counters;
  const double p = -std::expm1(-(static_cast<double>(size) + 1.0) / static_cast<double>(rate));
  const double w = 1.0 / p;
  const int64_t objects_fx = std::llround(w * kObjectScale);
  const int64_t space = std::llround(w * static_cast<double>(size));
  if (align > SampleRegion::kPageSize) {
    c.dropped_align.fetch_add(1, std::memory_order_relaxed);
    c.lost_alloc[0].fetch_add(objects_fx, std::memory_order_relaxed);
    c.lost_alloc[1].fetch_add(space, std::memory_order_relaxed);
    t.until = DrawGap(t, rate);
    return nullptr;
  }
  uintptr_t pcs[kMaxStackDepth + 8];
  int depth = CaptureCurrentStack(pcs, kMaxStackDepth + 8);
  const int skip = LeadingFramesIn(HookSection(), pcs, depth);
  if (depth - skip > kMaxStackDepth) depth = skip + kMaxStackDepth;
  const int64_t sz = static_cast<int64_t>(size);
  const int64_t deltas[kValues] = {objects_fx, space, objects_fx, space, 1, sz, 1, sz};
  StackTable* table = GetOrCreateTable();
  long slot = table != nullptr ? table->AddValues(pcs + skip, depth - skip, SizeClass(size), deltas) : -1;
  SampleMeta fields{};
  fields.slot = static_cast<int32_t>(slot);
  fields.size = size;
  fields.objects_fx = objects_fx;
  fields.space = space;
  fields.alloc_sec = CoarseMonotonicSeconds();
  void* ptr = SampleRegion::Allocate(size, align, fields);
  if (ptr == nullptr) {
    // No room: take the weights back out of the stack and count them lost.
    if (slot >= 0) {
      int64_t undo[kValues];
      for (int i = 0; i < kValues; ++i) undo[i] = -deltas[i];
      table->AddToSlot(static_cast<size_t>(slot), undo);
    }
    c.dropped_region.fetch_add(1, std::memory_order_relaxed);
    c.lost_alloc[0].fetch_add(objects_fx, std::memory_order_relaxed);
    c.lost_alloc[1].fetch_add(space, std::memory_order_relaxed);
    t.until = DrawGap(t, rate);
    return nullptr;
  }
  if (slot < 0) {
    c.dropped_table.fetch_add(1, std::memory_order_relaxed);
    for (int i = 0; i < 4; ++i) c.unstacked[i].fetch_add(deltas[i], std::memory_order_relaxed);
  }
  if (zero) memset(ptr, 0, size);
  c.samples.fetch_add(1, std::memory_order_relaxed);
  // The next gap is drawn last, so allocations nested in this one (none
  // expected) cannot leave the counter spent.
  t.until = DrawGap(t, rate);
  c.slow_path_ns.fetch_add(static_cast<uint64_t>(MonotonicNanos() - start_ns), std::memory_order_relaxed);
  return ptr;
}

namespace {

// The weights a sample added when it was allocated, out of the in-use
// values (its stack's, or the unstacked ones).
void TakeOutInuse(const SampleMeta& m) {
  if (m.objects_fx == 0 && m.space == 0) return;  // a bootstrap span: in nobody's statistics
  const int64_t sz = static_cast<int64_t>(m.size);
  const int64_t deltas[kValues] = {0, 0, -m.objects_fx, -m.space, 0, 0, -1, -sz};
  StackTable* table = g_table.load(std::memory_order_acquire);
  if (m.slot >= 0 && table != nullptr) {
    table->AddToSlot(static_cast<size_t>(m.slot), deltas);
  } else {
    g_counters.unstacked[2].fetch_sub(m.objects_fx, std::memory_order_relaxed);
    g_counters.unstacked[3].fetch_sub(m.space, std::memory_order_relaxed);
  }
}

}  // namespace

void TakeOutLostSample(const SampleMeta& m) {
  TakeOutInuse(m);
  g_counters.freed_outside.fetch_add(1, std::memory_order_relaxed);
}

CPPROF_HOOK_SECTION RegionOwner ClassifyRegionPointer(void* p, SampleMeta** meta) {
  SampleMeta lost;
  const RegionOwner owner = SampleRegion::Classify(p, meta, &lost);
  if (lost.pages != 0) TakeOutLostSample(lost);
  return owner;
}

CPPROF_HOOK_SECTION void SampledFree(void* p) {
  SampleMeta* meta = nullptr;
  const RegionOwner owner = ClassifyRegionPointer(p, &meta);
  FreeClassified(p, owner, meta);
}

CPPROF_HOOK_SECTION void FreeClassified(void* p, RegionOwner owner, SampleMeta* meta) {
  ErrnoSaver errno_saver;
  switch (owner) {
    case RegionOwner::kGlibc:
      g_real.free(p);
      return;
    case RegionOwner::kNobody:
      g_counters.invalid_frees.fetch_add(1, std::memory_order_relaxed);
      return;
    case RegionOwner::kSample:
      break;
  }
  TakeOutInuse(*meta);
  if (meta->objects_fx != 0 || meta->space != 0) g_counters.sampled_frees.fetch_add(1, std::memory_order_relaxed);
  // A recycled span must not keep the old object's pointers: a leak scan
  // would take them for live references. (Spans of 16 pages and more go
  // back to the kernel in Release.)
  if (meta->size < 16 * SampleRegion::kPageSize) memset(p, 0, meta->size);
  SampleRegion::Release(p, meta);
}

int32_t SizeClass(uint64_t size) {
  if (size <= 256) return static_cast<int32_t>((size + 15) / 16 * 16);
  if (size >= (uint64_t{1} << 30)) return int32_t{1} << 30;
  const int shift = 63 - __builtin_clzll(size) - 3;  // 8 classes per power of two
  const uint64_t step = uint64_t{1} << shift;
  return static_cast<int32_t>((size + step - 1) / step * step);
}

Mode CurrentMode() {
  Mode m = static_cast<Mode>(g_mode.load(std::memory_order_acquire));
  if (m != Mode::kUninitialised) return m;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return Mode::kUnavailable;
#else
  // Nothing has come through our malloc yet: is it the process's malloc?
  void* first = dlsym(RTLD_DEFAULT, "cpprof_heap_hooks_marker");
  void* active = dlsym(RTLD_DEFAULT, "malloc");
  if (first != nullptr && active != nullptr && !InHookSection(reinterpret_cast<uintptr_t>(active))) {
    return Mode::kNotInterposed;
  }
  return Mode::kUninitialised;
#endif
}

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kUninitialised: return "idle (no allocation has reached cpprof's malloc yet)";
    case Mode::kGlibc: return "glibc malloc, sampled by cpprof's interposed malloc";
    case Mode::kForeign:
      return "another allocator follows cpprof's malloc in symbol lookup order; its calls pass through "
             "unsampled (link cpprof after the allocator, or preload it, to profile)";
    case Mode::kNotInterposed:
      return "the process's malloc is another allocator's (tcmalloc, jemalloc or a sanitizer), which "
             "comes before cpprof in symbol lookup order";
    case Mode::kUnavailable:
      return "heap sampling is unavailable (sanitizer build, or the sample region could not be reserved)";
  }
  return "unknown";
}

int64_t Rate() { return g_rate.load(std::memory_order_relaxed); }

void SetRate(int64_t bytes) {
  if (bytes < 0) bytes = 0;
  if (g_rate.exchange(bytes, std::memory_order_relaxed) != bytes) {
    g_generation.fetch_add(1, std::memory_order_relaxed);
  }
  // This thread draws its new gap at its next allocation; others when their
  // current gap runs out.
  t_state.until = 0;
}

StackTable* Table() { return g_table.load(std::memory_order_acquire); }

Counters& GetCounters() { return g_counters; }

}  // namespace heap
}  // namespace internal
}  // namespace cpprof
