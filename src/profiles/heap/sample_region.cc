// SPDX-License-Identifier: Apache-2.0
//
// Hook context: everything here runs inside malloc/free (see
// sample_region.h). No allocation; a spin lock guards the free lists and the
// frontier for a handful of instructions (plus, every 2 MiB of new spans, one
// mprotect); large spans are madvise'd outside it.
//
// Layout: base_ .. base_ + kRegionBytes, PROT_NONE until the frontier passes
// (committed in 2 MiB steps, metadata in step). Free spans sit in singly
// linked lists through their metadata: list n (1..kExactLists) holds spans of
// exactly n pages, list 0 larger ones (first fit, split on take).

#include "base/clock.h"
#include "profiles/heap/sample_region.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "base/safe_load.h"

namespace cpprof {
namespace internal {
namespace {

constexpr size_t kCommitPages = 512;          // 2 MiB of region per mprotect
constexpr uint32_t kExactLists = 32;
constexpr uint32_t kMetaLive = SampleMeta::kLive;
constexpr size_t kReturnToKernelPages = 16;    // spans this long give memory back on free
constexpr int kMaxLargeProbes = 64;

SampleMeta* g_meta = nullptr;                  // kMaxPages entries, committed with the region
std::atomic<bool> g_lock{false};
std::atomic<bool> g_init_done{false};
std::atomic<bool> g_init_failed{false};
// Exact lists are FIFO queues that give a span back only once more than
// kQuarantine spans of that length wait: a freed object's address is not
// handed out again at once, so a stale pointer to it (in dead stack slots,
// recycled buffers) rarely points at a new object, which would hide that
// object from a leak scan. List 0 (longer spans) is first fit.
constexpr uint32_t kQuarantine = 16;
uint32_t g_free_heads[kExactLists + 1] = {};   // page index + 1; guarded by g_lock
uint32_t g_free_tails[kExactLists + 1] = {};   // exact lists: last entry (page index + 1)
uint32_t g_free_counts[kExactLists + 1] = {};
size_t g_committed_pages = 0;                  // guarded by g_lock

void Lock() {
  while (g_lock.exchange(true, std::memory_order_acquire)) {
    while (g_lock.load(std::memory_order_relaxed)) sched_yield();
  }
}
void Unlock() { g_lock.store(false, std::memory_order_release); }

void AtForkPrepare() { Lock(); }
void AtForkRelease() { Unlock(); }

uint32_t ListFor(size_t pages) { return pages <= kExactLists ? static_cast<uint32_t>(pages) : 0; }

void PushFreeLocked(size_t index) {
  SampleMeta& m = g_meta[index];
  uint32_t list = ListFor(m.pages);
  if (list == 0) {
    m.next_free = g_free_heads[0];
    g_free_heads[0] = static_cast<uint32_t>(index + 1);
    return;
  }
  m.next_free = 0;
  if (g_free_tails[list] != 0) {
    g_meta[g_free_tails[list] - 1].next_free = static_cast<uint32_t>(index + 1);
  } else {
    g_free_heads[list] = static_cast<uint32_t>(index + 1);
  }
  g_free_tails[list] = static_cast<uint32_t>(index + 1);
  ++g_free_counts[list];
}

}  // namespace

std::atomic<uintptr_t> SampleRegion::base_{0};
std::atomic<size_t> SampleRegion::len_{0};
std::atomic<size_t> SampleRegion::frontier_{0};
std::atomic<size_t> SampleRegion::live_bytes_{0};
std::atomic<size_t> SampleRegion::committed_bytes_{0};
std::atomic<size_t> SampleRegion::live_spans_{0};
std::atomic<uint64_t> SampleRegion::lost_spans_{0};
std::atomic<uint64_t> SampleRegion::outside_unmapped_{0};
std::atomic<uint64_t> SampleRegion::outside_unmapped_bytes_{0};

bool SampleRegion::Init() {
  if (g_init_done.load(std::memory_order_acquire)) return !g_init_failed.load(std::memory_order_relaxed);
  Lock();
  if (!g_init_done.load(std::memory_order_relaxed)) {
    void* region = mmap(nullptr, kRegionBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void* meta = mmap(nullptr, kMaxPages * sizeof(SampleMeta), PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (region == MAP_FAILED || meta == MAP_FAILED) {
      if (region != MAP_FAILED) munmap(region, kRegionBytes);
      if (meta != MAP_FAILED) munmap(meta, kMaxPages * sizeof(SampleMeta));
      g_init_failed.store(true, std::memory_order_relaxed);
    } else {
      g_meta = static_cast<SampleMeta*>(meta);
      base_.store(reinterpret_cast<uintptr_t>(region), std::memory_order_relaxed);
      len_.store(kRegionBytes, std::memory_order_release);
    }
    g_init_done.store(true, std::memory_order_release);
  }
  Unlock();
  if (!g_init_failed.load(std::memory_order_relaxed)) {
    static std::atomic<bool> atfork_registered{false};
    if (!atfork_registered.exchange(true)) pthread_atfork(AtForkPrepare, AtForkRelease, AtForkRelease);
  }
  return !g_init_failed.load(std::memory_order_relaxed);
}

void* SampleRegion::Allocate(size_t size, size_t align, const SampleMeta& fields) {
  if (len_.load(std::memory_order_relaxed) == 0 || size > kRegionBytes || align > kPageSize) return nullptr;
  // The header takes 16 bytes before the object; an alignment (rounded up to
  // a power of two, as memalign does) above that moves the object to it.
  size_t offset = 16;
  while (offset < align) offset <<= 1;
  // One byte more than the object: its one-past-the-end pointer (a stdio
  // buffer's end, a vector's end()) then stays inside its own span instead
  // of naming the next span's object to a leak scan.
  size_t pages = (offset + size) / kPageSize + 1;
  if (pages > kMaxPages / 4) return nullptr;  // no single sample may take a quarter of the range
  size_t index = 0;
  bool found = false;
  Lock();
  uint32_t list = ListFor(pages);
  if (list != 0 && g_free_counts[list] > kQuarantine) {
    index = g_free_heads[list] - 1;
    g_free_heads[list] = g_meta[index].next_free;
    if (g_free_heads[list] == 0) g_free_tails[list] = 0;
    --g_free_counts[list];
    found = true;
  } else if (list == 0) {
    // Larger free spans: first fit, split.
    uint32_t* link = &g_free_heads[0];
    for (int probe = 0; *link != 0 && probe < kMaxLargeProbes; ++probe) {
      size_t i = *link - 1;
      if (g_meta[i].pages >= pages) {
        *link = g_meta[i].next_free;
        size_t rest = g_meta[i].pages - pages;
        if (rest > 0) {
          g_meta[i + pages].pages = static_cast<uint32_t>(rest);
          g_meta[i + pages].flags = 0;
          PushFreeLocked(i + pages);
        }
        index = i;
        found = true;
        break;
      }
      link = &g_meta[i].next_free;
    }
  }
  if (!found) {
    size_t frontier = frontier_.load(std::memory_order_relaxed);
    if (frontier + pages > kMaxPages) {
      Unlock();
      return nullptr;
    }
    if (frontier + pages > g_committed_pages) {
      size_t want = (frontier + pages + kCommitPages - 1) / kCommitPages * kCommitPages;
      if (want > kMaxPages) want = kMaxPages;
      char* region = reinterpret_cast<char*>(base_.load(std::memory_order_relaxed));
      char* meta = reinterpret_cast<char*>(g_meta);
      // kCommitPages * sizeof(SampleMeta) is a whole number of pages.
      if (mprotect(region + g_committed_pages * kPageSize, (want - g_committed_pages) * kPageSize,
                   PROT_READ | PROT_WRITE) != 0 ||
          mprotect(meta + g_committed_pages * sizeof(SampleMeta), (want - g_committed_pages) * sizeof(SampleMeta),
                   PROT_READ | PROT_WRITE) != 0) {
        Unlock();
        return nullptr;
      }
      committed_bytes_.fetch_add((want - g_committed_pages) * kPageSize, std::memory_order_relaxed);
      g_committed_pages = want;
    }
    index = frontier;
    frontier_.store(frontier + pages, std::memory_order_release);
  }
  SampleMeta& m = g_meta[index];
  m.slot = fields.slot;
  m.size = fields.size;
  m.objects_fx = fields.objects_fx;
  m.space = fields.space;
  m.alloc_sec = fields.alloc_sec;
  m.pages = static_cast<uint32_t>(pages);
  m.next_free = 0;
  m.offset = static_cast<uint16_t>(offset);
  char* object = reinterpret_cast<char*>(base_.load(std::memory_order_relaxed) + index * kPageSize + offset);
  uint64_t header[2];
  HeaderFor(m, header);
  memcpy(object - 16, header, sizeof(header));
  m.flags = kMetaLive;
  Unlock();
  live_bytes_.fetch_add(pages * kPageSize, std::memory_order_relaxed);
  live_spans_.fetch_add(1, std::memory_order_relaxed);
  return object;
}

SampleMeta* SampleRegion::Meta(const void* p) {
  uintptr_t off = reinterpret_cast<uintptr_t>(p) - base_.load(std::memory_order_relaxed);
  if (off >= len_.load(std::memory_order_relaxed) || off < 16 || off % 16 != 0) return nullptr;
  size_t index = (off - 16) / kPageSize;  // the header's page: the span's first
  if (index >= frontier_.load(std::memory_order_acquire)) return nullptr;
  SampleMeta* m = &g_meta[index];
  if ((m->flags & kMetaLive) == 0 || index * kPageSize + m->offset != off) return nullptr;
  return m;
}

namespace {

// Whether the glibc-form header of the object described by m (whose span
// starts at `span`) is the one cpprof wrote. The header may lie in a page
// glibc unmapped, so it is probed first unless it shares the object's page
// (which the caller holds a pointer into).
bool HeaderIntact(uintptr_t span, const SampleMeta& m, bool object_page_mapped) {
  const uintptr_t at = span + m.offset - 16;
  if (!(object_page_mapped && m.offset < SampleRegion::kPageSize) && !ProbeReadable(at, 16)) return false;
  uint64_t have[2];
  memcpy(have, reinterpret_cast<const void*>(at), sizeof(have));
  return SampleRegion::HeaderMatches(have, m);
}

}  // namespace

RegionOwner SampleRegion::Classify(const void* p, SampleMeta** meta, SampleMeta* lost) {
  lost->pages = 0;
  const uintptr_t base = base_.load(std::memory_order_relaxed);
  const uintptr_t off = reinterpret_cast<uintptr_t>(p) - base;
  if (SampleMeta* m = Meta(p)) {
    const size_t index = (off - 16) / kPageSize;
    if (HeaderIntact(base + index * kPageSize, *m, /*object_page_mapped=*/true)) {
      *meta = m;
      return RegionOwner::kSample;
    }
    // glibc resized it in place (and so rewrote the header), or unmapped it
    // and a chunk of its own now starts at the same address.
    MarkLost(index, lost);
    return RegionOwner::kGlibc;
  }
  size_t index = off / kPageSize;
  if (index >= frontier_.load(std::memory_order_acquire)) return RegionOwner::kNobody;
  // The span holding p: heads record their length, other pages 0.
  while (index > 0 && g_meta[index].pages == 0) --index;
  const SampleMeta& head = g_meta[index];
  if ((head.flags & SampleMeta::kLost) != 0) return RegionOwner::kGlibc;
  if ((head.flags & kMetaLive) == 0) return RegionOwner::kNobody;  // a free span: a stale pointer
  // Inside a live span but not its object's start: an interior pointer, or
  // a chunk glibc mapped where it unmapped the span (then the header is gone).
  if (HeaderIntact(base + index * kPageSize, head, /*object_page_mapped=*/false)) return RegionOwner::kNobody;
  MarkLost(index, lost);
  return RegionOwner::kGlibc;
}

void SampleRegion::SetLostLocked(SampleMeta& m) {
  m.flags = SampleMeta::kLost;
  m.slot = -1;
  m.next_free = 0;  // a lost span's pages mapped again (SweepLost)
  live_bytes_.fetch_sub(m.pages * kPageSize, std::memory_order_relaxed);
  live_spans_.fetch_sub(1, std::memory_order_relaxed);
  lost_spans_.fetch_add(1, std::memory_order_relaxed);
}

void SampleRegion::MarkLost(size_t index, SampleMeta* lost) {
  Lock();
  SampleMeta& m = g_meta[index];
  if ((m.flags & kMetaLive) != 0) {
    *lost = m;
    SetLostLocked(m);
  }
  Unlock();
}

const SampleMeta& SampleRegion::MetaAt(size_t i) { return g_meta[i]; }

bool SampleRegion::SetIgnored(const void* p) {
  if (!Contains(p)) return false;
  Lock();
  SampleMeta* m = Meta(p);
  if (m != nullptr) m->flags |= SampleMeta::kIgnored;
  Unlock();
  return m != nullptr;
}

bool SampleRegion::LockForSnapshot(int timeout_ms) {
  const int64_t deadline = MonotonicNanos() + int64_t{timeout_ms} * 1000000;
  while (g_lock.exchange(true, std::memory_order_acquire)) {
    if (MonotonicNanos() >= deadline) return false;
    sched_yield();
  }
  return true;
}

void SampleRegion::UnlockAfterSnapshot() { Unlock(); }

uintptr_t SampleRegion::meta_base() { return reinterpret_cast<uintptr_t>(g_meta); }

size_t SampleRegion::UsableSize(const void* p) {
  SampleMeta* m = Meta(p);
  return m == nullptr ? 0 : UsableSize(*m);
}

void SampleRegion::Release(void* p, SampleMeta* meta) {
  const size_t index = (reinterpret_cast<uintptr_t>(p) - 16 - base_.load(std::memory_order_relaxed)) / kPageSize;
  char* span = reinterpret_cast<char*>(base_.load(std::memory_order_relaxed) + index * kPageSize);
  const size_t pages = meta->pages;
  Lock();
  // A stale pointer that reaches glibc's free must not look like a chunk it
  // would unmap: size 0 makes glibc report it instead. Cleared under the
  // lock, with the span no longer live, so SweepLost never sees a live
  // span without its header.
  memset(static_cast<char*>(p) - 16, 0, 16);
  meta->slot = -1;
  if (pages >= kReturnToKernelPages) {
    // Its memory goes back to the kernel before the span can be reused.
    meta->flags = SampleMeta::kReleasing;
    Unlock();
    madvise(span, pages * kPageSize, MADV_DONTNEED);
    Lock();
  }
  meta->flags = 0;
  PushFreeLocked(index);
  Unlock();
  live_bytes_.fetch_sub(pages * kPageSize, std::memory_order_relaxed);
  live_spans_.fetch_sub(1, std::memory_order_relaxed);
}

void SampleRegion::LockRegion() { Lock(); }
void SampleRegion::UnlockRegion() { Unlock(); }
void SampleRegion::PushFree(size_t index) { PushFreeLocked(index); }
SampleMeta& SampleRegion::MutableMetaAt(size_t i) { return g_meta[i]; }

}  // namespace internal
}  // namespace cpprof
