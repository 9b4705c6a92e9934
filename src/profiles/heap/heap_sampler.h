// SPDX-License-Identifier: Apache-2.0
//
// The heap sampler: what malloc_hooks.cc calls (hook context) and what the
// heap profile reads (request time).
//
// Sampling: a per-thread Poisson byte counter. Each allocation of s bytes
// subtracts s + 1 (so malloc(0) can be sampled); when the counter goes
// negative the allocation is sampled and a new exponential gap with mean R
// (the rate) is drawn. An allocation is thus sampled with probability
// p(s) = 1 - exp(-(s + 1) / R), and each sampled object carries the weight
// w = 1/p (Horvitz-Thompson): it stands for w objects and s*w bytes. The same
// weights are subtracted when it is freed, so in-use and allocated totals are
// unbiased for any mix of sizes and the profile emits them as they are.
//
// A sampled object lives in the SampleRegion (free() recognises it with one
// compare); its allocation stack goes into a StackTable of 8 values per
// (stack, size class):
//   0 alloc_objects (fixed point, kObjectScale)  1 alloc_space (bytes)
//   2 inuse_objects (fixed point)                3 inuse_space
//   4..7 the same four as raw sample counts and sampled bytes, for the
//        legacy text format (which pprof unsamples itself).
//
// Hook context: ShouldSample, SampledAllocate, SampledFree, SampledUsableSize
// and RealAllocator calls run inside malloc/free on any thread, before
// main() and after exit() starts. They never allocate through the hooks
// (a per-thread guard sends nested calls straight to the real allocator),
// use only initial-exec TLS, and take no lock but the region's spin lock.

#ifndef CPPROF_SRC_PROFILES_HEAP_HEAP_SAMPLER_H_
#define CPPROF_SRC_PROFILES_HEAP_HEAP_SAMPLER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/config.h"
#include "profiles/heap/sample_region.h"

namespace cpprof {
namespace internal {

class StackTable;

namespace heap {

constexpr int64_t kDefaultRate = 512 * 1024;  // bytes, as Go's MemProfileRate
constexpr int64_t kObjectScale = 1024;        // fixed point of object weights
constexpr int kValues = 8;
constexpr int kMaxStackDepth = 64;

enum Value { kAllocObjects, kAllocSpace, kInuseObjects, kInuseSpace, kRawAllocCount, kRawAllocBytes,
             kRawInuseCount, kRawInuseBytes };

// How the process's allocations reach cpprof.
enum class Mode : int {
  kUninitialised = 0,  // no allocation has gone through cpprof's malloc yet
  kGlibc = 1,          // cpprof's malloc forwards to glibc's and samples
  kForeign = 2,        // another allocator follows cpprof's malloc: calls pass through, unsampled
  kNotInterposed = 3,  // another malloc (tcmalloc, jemalloc, a sanitizer) comes first: ours is unused
  kUnavailable = 4,    // sanitizer build, or the sample region could not be reserved
};

// The allocator cpprof forwards to. Constant-initialised to glibc's
// __libc_* entry points; switched to the next definitions in lookup order
// when those are not glibc's (mode kForeign).
struct RealAllocator {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  void* (*memalign)(size_t, size_t);
  size_t (*usable_size)(void*);
};
extern RealAllocator g_real;

struct ThreadState {
  int64_t until;       // bytes left before the next sample; <= 0 at thread start
  uint64_t rng;        // xorshift state, 0 = unseeded
  uint32_t busy;       // inside the sampler: nested allocations are not sampled
  uint32_t generation; // rate generation this thread's gap was drawn for
};
extern CPPROF_SIGNAL_TLS ThreadState t_state;

// Hook context. The whole fast path: one thread-local subtract and a branch.
CPPROF_SIGNAL_SAFE inline bool ShouldSample(size_t size) {
  t_state.until -= static_cast<int64_t>(size) + 1;
  return __builtin_expect(t_state.until < 0, 0);
}

// Hook context. Called when ShouldSample() said so. Decides (the first call
// of a thread, or after a rate change, draws a fresh gap instead), and for a
// sampled allocation returns the object, placed in the region and recorded
// with its stack; `align` (0 = malloc's) up to a page is honoured, `zero`
// clears it. Returns nullptr when the allocation is not sampled or cannot be
// (caller then uses g_real).
void* SampledAllocate(size_t size, size_t align, bool zero);
// Hook context. Frees a pointer inside the region (SampleRegion::Contains):
// a sampled object, or glibc's (see sample_region.h: a sample glibc took
// over, or a chunk of its own in the hole of one), which goes to glibc.
void SampledFree(void* p);
// Hook context. What a pointer inside the region is; a sample found taken
// over by glibc on the way has its weights taken out of the profile.
RegionOwner ClassifyRegionPointer(void* p, SampleMeta** meta);
// Hook context. SampledFree for a pointer ClassifyRegionPointer has
// already told about (meta as it set it).
void FreeClassified(void* p, RegionOwner owner, SampleMeta* meta);

// Hook context (and the region's lock may be held). Takes the weights of a
// sample glibc took over out of the in-use values, and counts it.
void TakeOutLostSample(const SampleMeta& m);

// Request time (sample_region_sweep.cc). Finds the samples glibc freed or moved outside cpprof
// (SampleRegion::SweepLost) and takes their weights out of the profile.
// Called before a profile or a leak scan reads the samples (full), and by
// the growth monitor (holes only: headers=false, one msync when there are
// none). Returns how many were found.
size_t SweepLostSamples(bool headers = true);

// Request-time API ------------------------------------------------------
// Mode in effect (resolves kNotInterposed / kUnavailable lazily).
Mode CurrentMode();
const char* ModeName(Mode mode);
// Mean bytes between samples; 0 = off. Changing it makes the calling thread
// draw a new gap at its next allocation and every other thread at its next
// sample point (within a gap of the old rate; 64 MiB when it was off);
// objects keep the weight they got.
int64_t Rate();
void SetRate(int64_t bytes);
// The table of allocation stacks, or nullptr before the first sample.
StackTable* Table();

struct Counters {
  std::atomic<uint64_t> samples{0};          // sampled allocations recorded
  std::atomic<uint64_t> sampled_frees{0};
  std::atomic<uint64_t> dropped_region{0};   // sampled, but the region was full
  std::atomic<uint64_t> dropped_align{0};    // sampled, but alignment > page (kept unsampled)
  std::atomic<uint64_t> dropped_table{0};    // recorded without a stack (table full)
  std::atomic<uint64_t> invalid_frees{0};    // region pointers that were not a live sample
  std::atomic<uint64_t> freed_outside{0};    // samples glibc freed or resized outside cpprof
  std::atomic<uint64_t> slow_path_ns{0};     // time inside SampledAllocate for sampled objects
  // Weights of samples without a stack (table full), values 0..3 as the
  // table's, and of samples lost entirely (region full or alignment, alloc only).
  std::atomic<int64_t> unstacked[4] = {};
  std::atomic<int64_t> lost_alloc[2] = {};
};
Counters& GetCounters();

// Size class used as the table tag: exact to 16 bytes up to 256, then 8
// classes per power of two; the class's upper bound.
int32_t SizeClass(uint64_t size);

}  // namespace heap
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_HEAP_SAMPLER_H_
