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
// glibc can free them too. An object sits `offset` bytes into its span
// (16, or its alignment up to a page) behind a 16-byte header in the form of
// one of glibc's mmapped chunks (prev_size = offset - 16, size = span bytes
// - prev_size, IS_MMAPPED). A free, realloc or malloc_usable_size that
// bypasses cpprof (a library opened with RTLD_DEEPBIND binds glibc's; code
// that calls __libc_free) then treats the object as glibc's own mmapped
// chunk: free munmaps the span, realloc mremaps it, instead of aborting.
// Such a span is lost to cpprof: Classify() tells a pointer in it apart on
// the free path (header changed: glibc's now), and SweepLost() finds the
// rest at request time (holes glibc left, headers that are not cpprof's),
// maps the holes again and returns the spans to the free lists.
//
// Hook context: Allocate/Release/Meta/Classify run inside malloc/free of any
// thread (re-entry is prevented by the caller's per-thread guard). They use
// only mmap/mprotect/madvise (and, in Classify, a one-syscall readability
// probe), atomics and a spin lock held for a few list operations; they
// never allocate. Fork: the lock is taken around fork()
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
  uint32_t next_free;    // free-list link (page index + 1), 0 = end; lost: its pages mapped again
  int32_t slot;          // stack-table slot of its allocation stack, -1 = none (dropped)
  uint16_t flags;        // kLive, kIgnored, kLost
  uint16_t offset;       // the object's offset in the span (kept after it is freed)
  uint64_t size;         // requested bytes
  int64_t objects_fx;    // weight in objects, fixed point (kObjectScale)
  int64_t space;         // weight in bytes (size / p, rounded)
  int64_t alloc_sec;     // CLOCK_MONOTONIC_COARSE seconds at allocation

  static constexpr uint16_t kLive = 2;     // flags: the span holds an object
  static constexpr uint16_t kIgnored = 4;  // flags: never reported as a leak
  static constexpr uint16_t kLost = 8;     // flags: glibc took it over (freed or resized outside cpprof)
  static constexpr uint16_t kReleasing = 16;  // flags: being freed (its memory going back to the kernel)
  bool IsLive() const { return (flags & kLive) != 0; }
  bool IsIgnored() const { return (flags & kIgnored) != 0; }
  bool IsLost() const { return (flags & kLost) != 0; }
};

// Who a pointer inside the region belongs to.
enum class RegionOwner {
  kSample,   // a live sampled object of cpprof's
  kGlibc,    // glibc's: a sample freed or resized in place outside cpprof, or a chunk mapped into its hole
  kNobody,   // a freed sample's stale pointer, or an interior one: not a heap pointer
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

  // An object of `size` bytes aligned to `align` (0 or up to kPageSize) in
  // a span of its own, behind its glibc-form header, its metadata set from
  // `meta` (all but pages, next_free, flags and offset) under the region's
  // lock, so a snapshot never sees a live span half described. Returns
  // nullptr when the range is exhausted. The memory is not zeroed when a
  // span is reused.
  static void* Allocate(size_t size, size_t align, const SampleMeta& meta);
  // Metadata of the live sampled object at p, or nullptr if p is not one
  // (an interior or stale pointer). Does not look at the header.
  static SampleMeta* Meta(const void* p);
  // Hook context, for p inside the region (Contains). kSample sets *meta.
  // A live sample whose header glibc rewrote is glibc's now: it is marked
  // lost and its metadata copied to *lost (lost->pages != 0) for the caller
  // to take its weights out; otherwise lost->pages is 0.
  static RegionOwner Classify(const void* p, SampleMeta** meta, SampleMeta* lost);
  // Bytes usable from p to the end of its span (malloc_usable_size), 0 for
  // a pointer that is not a live sampled object.
  static size_t UsableSize(const void* p);
  static size_t UsableSize(const SampleMeta& m) { return m.pages * kPageSize - m.offset; }
  // Returns the span to the free lists; large spans give their memory back
  // to the kernel. `meta` is Meta(p), already read by the caller.
  static void Release(void* p, SampleMeta* meta);
  // Request time. Finds the samples glibc took over (freed, moved or
  // resized outside cpprof): each is marked lost and passed to on_lost (to
  // take its weights out). Holes are mapped again at once (nothing else
  // can land in them then); a lost span whose pages have all been holes
  // goes back to the free lists. A span unmapped and then taken by another
  // mapping (glibc's next mmapped chunk) is found by its header: with
  // check_headers, every live sample's header is read, 256 per system call
  // (0.4-2 us per sample). Returns the samples found.
  static size_t SweepLost(void (*on_lost)(const SampleMeta&), bool check_headers);
  // Samples glibc took over, and of them the spans it unmapped whole: glibc
  // counted each as one of its mmapped chunks going (mallinfo2's hblks and
  // hblkhd are that much below what it maps).
  static uint64_t lost_spans() { return lost_spans_.load(std::memory_order_relaxed); }
  static uint64_t outside_unmapped() { return outside_unmapped_.load(std::memory_order_relaxed); }
  static uint64_t outside_unmapped_bytes() { return outside_unmapped_bytes_.load(std::memory_order_relaxed); }
  // The header glibc reads before the object at p (prev_size, size).
  static constexpr uint64_t kIsMmapped = 2;
  static void HeaderFor(const SampleMeta& m, uint64_t out[2]) {
    out[0] = m.offset - 16u;
    out[1] = (uint64_t{m.pages} * kPageSize - (m.offset - 16u)) | kIsMmapped;
  }
  // Whether the 16 bytes read before an object are the header cpprof wrote for m.
  static bool HeaderMatches(const uint64_t have[2], const SampleMeta& m) {
    uint64_t want[2];
    HeaderFor(m, want);
    return have[0] == want[0] && have[1] == want[1];
  }

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
  // Live span at page index -> lost; its metadata copied to *lost first.
  static void MarkLost(size_t index, SampleMeta* lost);
  // A live span's metadata -> lost, and the counters; the lock is held.
  static void SetLostLocked(SampleMeta& m);
  // SweepLost's second half: live samples whose header is not cpprof's.
  static size_t CheckHeaders(void (*on_lost)(const SampleMeta&));
  // For SweepLost (sample_region_sweep.cc): the lock, the free lists and the
  // metadata of sample_region.cc.
  static void LockRegion();
  static void UnlockRegion();
  static void PushFree(size_t index);  // lock held
  static SampleMeta& MutableMetaAt(size_t i);

  static std::atomic<uintptr_t> base_;
  static std::atomic<size_t> len_;
  static std::atomic<size_t> frontier_;
  static std::atomic<size_t> live_bytes_;
  static std::atomic<size_t> committed_bytes_;
  static std::atomic<size_t> live_spans_;
  static std::atomic<uint64_t> lost_spans_;
  static std::atomic<uint64_t> outside_unmapped_;
  static std::atomic<uint64_t> outside_unmapped_bytes_;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_SAMPLE_REGION_H_
