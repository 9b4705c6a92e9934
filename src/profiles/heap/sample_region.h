// SPDX-License-Identifier: Apache-2.0
//
// SampleRegion: where sampled heap objects live. One reserved range of
// address space (PROT_NONE until used, so it costs no memory and passes
// strict overcommit), carved into page-aligned spans of whole pages, one
// span per sampled object. free() recognises a sampled object with one
// subtract-and-compare against the range (Contains()), so the free path of
// every other object takes no lock and no lookup.
//
// Per-span metadata sits in a parallel array indexed by page number, outside
// the range, and holds no pointer to the object: a leak scan of the heap
// never mistakes our bookkeeping for a reference.
//
// Hook context: Allocate/Release/Meta run inside malloc/free of any thread
// (re-entry is prevented by the caller's per-thread guard). They use only
// mmap/mprotect/madvise, atomics and a spin lock held for a few list
// operations; they never allocate. Fork: the lock is taken around fork()
// (pthread_atfork), so the child's copy is consistent and unlocked.

#ifndef CPPROF_SRC_PROFILES_HEAP_SAMPLE_REGION_H_
#define CPPROF_SRC_PROFILES_HEAP_SAMPLE_REGION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/config.h"

namespace cpprof {
namespace internal {

// What the profiler keeps about one sampled object (the span's first page).
struct SampleMeta {
  uint32_t pages;        // span length; 0 = page not the head of a live span
  uint32_t next_free;    // free-list link (page index + 1), 0 = end
  int32_t slot;          // stack-table slot of its allocation stack, -1 = none (dropped)
  uint32_t flags;        // kLive
  uint64_t size;         // requested bytes
  int64_t objects_fx;    // weight in objects, fixed point (kObjectScale)
  int64_t space;         // weight in bytes (size / p, rounded)
  int64_t alloc_sec;     // CLOCK_MONOTONIC_COARSE seconds at allocation

  static constexpr uint32_t kLive = 2;     // flags: the span holds an object
  static constexpr uint32_t kIgnored = 4;  // flags: never reported as a leak
  bool IsLive() const { return (flags & kLive) != 0; }
  bool IsIgnored() const { return (flags & kIgnored) != 0; }
};

class SampleRegion {
 public:
  static constexpr size_t kPageSize = 4096;
  static constexpr size_t kRegionBytes = size_t{32} << 30;  // 32 GiB of address space
  static constexpr size_t kMaxPages = kRegionBytes / kPageSize;

  // Reserves the range (idempotent). Returns false if it cannot be mapped;
  // then Contains() stays false for every pointer.
  static bool Init();

  // The fast free-path test. Before Init() the range is empty.
  CPPROF_SIGNAL_SAFE static bool Contains(const void* p) {
    return reinterpret_cast<uintptr_t>(p) - base_.load(std::memory_order_relaxed) <
           len_.load(std::memory_order_relaxed);
  }

  // A page-aligned span for `size` bytes (alignment up to kPageSize is
  // implied), its metadata set from `meta` (all but pages, next_free and
  // flags) under the region's lock, so a snapshot never sees a live span
  // half described. Returns nullptr when the range is exhausted. The memory
  // is not zeroed when a span is reused.
  static void* Allocate(size_t size, const SampleMeta& meta);
  // Metadata of the span starting at p, or nullptr if p is not the start of
  // a live span (an interior or stale pointer).
  static SampleMeta* Meta(const void* p);
  // Bytes usable from p to the end of its span (malloc_usable_size), 0 for
  // a pointer that is not a live span start.
  static size_t UsableSize(const void* p);
  // Returns the span to the free lists; large spans give their memory back
  // to the kernel. `meta` is Meta(p), already read by the caller.
  static void Release(void* p, SampleMeta* meta);

  // Bytes of spans now holding objects, bytes committed (touched at most),
  // live spans.
  static size_t live_bytes() { return live_bytes_.load(std::memory_order_relaxed); }
  static size_t committed_bytes() { return committed_bytes_.load(std::memory_order_relaxed); }
  static size_t live_spans() { return live_spans_.load(std::memory_order_relaxed); }
  static uintptr_t base() { return base_.load(std::memory_order_relaxed); }
  static size_t length() { return len_.load(std::memory_order_relaxed); }
  // Marks the live span starting at p as never to be reported as a leak.
  // Returns false if p is not a live sampled object.
  static bool SetIgnored(const void* p);
  // Holds the region's lock across a snapshot (the leak scan's clone), so
  // no span is half allocated or half freed in it. Gives up after
  // timeout_ms (a parked thread may hold it) and returns false.
  static bool LockForSnapshot(int timeout_ms);
  static void UnlockAfterSnapshot();
  // Metadata of page index i (for a reader walking the live samples); the
  // caller must check pages != 0. i < frontier_pages().
  static const SampleMeta& MetaAt(size_t i);
  static size_t frontier_pages() { return frontier_.load(std::memory_order_acquire); }
  // The metadata array's reservation (a leak scan must not take it for roots).
  static uintptr_t meta_base();
  static size_t meta_bytes() { return kMaxPages * sizeof(SampleMeta); }

 private:
  static std::atomic<uintptr_t> base_;
  static std::atomic<size_t> len_;
  static std::atomic<size_t> frontier_;
  static std::atomic<size_t> live_bytes_;
  static std::atomic<size_t> committed_bytes_;
  static std::atomic<size_t> live_spans_;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_SAMPLE_REGION_H_
