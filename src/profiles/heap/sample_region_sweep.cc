// SPDX-License-Identifier: Apache-2.0
//
// SampleRegion::SweepLost: finding the samples glibc took over (see
// sample_region.h). Request time only (a profile, a leak scan, the growth
// monitor's tick), never inside malloc/free: it uses msync, mmap and
// process_vm_readv, and holds the region's spin lock only for list and
// metadata updates (and, when glibc left holes, for plugging them).

#include "profiles/heap/sample_region.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/errno_saver.h"
#include "profiles/heap/heap_sampler.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace cpprof {
namespace internal {

namespace {

constexpr size_t kMaxHoleRuns = 256;  // per sweep; more wait for the next one
constexpr int kMaxProbes = 4096;

// Page ranges [lo, hi) that were holes and are mapped again, ascending.
struct HoleRuns {
  size_t lo[kMaxHoleRuns];
  size_t hi[kMaxHoleRuns];
  size_t n = 0;
  int probes = 0;
};
HoleRuns g_runs;  // guarded by the region's lock

// msync(MS_ASYNC) does nothing but fail with ENOMEM when part of the range
// is not mapped: a probe without side effects on whatever is mapped there.
bool AllMapped(uintptr_t addr, size_t bytes) { return msync(reinterpret_cast<void*>(addr), bytes, MS_ASYNC) == 0; }

// Maps [addr, addr + bytes) again if nothing at all is mapped there.
bool Plug(uintptr_t addr, size_t bytes) {
  void* want = reinterpret_cast<void*>(addr);
  void* got = mmap(want, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (got == want) return true;
  if (got != MAP_FAILED) munmap(got, bytes);  // a kernel without MAP_FIXED_NOREPLACE took it as a hint
  return false;
}

// Bisects [lo, lo + n) down to ranges that are wholly mapped (left alone)
// or wholly unmapped (plugged and recorded).
void FindAndPlugHoles(uintptr_t base, size_t lo, size_t n, HoleRuns* runs) {
  if (n == 0 || runs->n == kMaxHoleRuns || runs->probes >= kMaxProbes) return;
  runs->probes += 2;
  const uintptr_t addr = base + lo * SampleRegion::kPageSize;
  if (AllMapped(addr, n * SampleRegion::kPageSize)) return;
  if (Plug(addr, n * SampleRegion::kPageSize)) {
    if (runs->n > 0 && runs->hi[runs->n - 1] == lo) {
      runs->hi[runs->n - 1] = lo + n;
    } else {
      runs->lo[runs->n] = lo;
      runs->hi[runs->n] = lo + n;
      ++runs->n;
    }
    return;
  }
  if (n == 1) return;  // mapped after all (raced with a new mapping)
  FindAndPlugHoles(base, lo, n / 2, runs);
  FindAndPlugHoles(base, lo + n / 2, n - n / 2, runs);
}

// Reads the 16 bytes at each of n addresses into out without faulting
// (process_vm_readv on this process); ok[k] is false where unreadable.
void ReadHeaders(const uintptr_t* at, size_t n, uint64_t (*out)[2], bool* ok) {
  constexpr size_t kMaxIov = 256;
  iovec local[kMaxIov], remote[kMaxIov];
  const pid_t self = getpid();
  size_t k = 0;
  while (k < n) {
    const size_t m = n - k < kMaxIov ? n - k : kMaxIov;
    for (size_t j = 0; j < m; ++j) {
      local[j] = {out[k + j], 16};
      remote[j] = {reinterpret_cast<void*>(at[k + j]), 16};
    }
    const ssize_t got = process_vm_readv(self, local, m, remote, m, 0);
    // Whole iovecs are read in order up to the first that fails.
    const size_t done = got > 0 ? static_cast<size_t>(got) / 16 : 0;
    for (size_t j = 0; j < done; ++j) ok[k + j] = true;
    if (done < m) ok[k + done] = false;
    k += done < m ? done + 1 : m;
  }
}

}  // namespace

size_t SampleRegion::CheckHeaders(void (*on_lost)(const SampleMeta&)) {
  // Batches of live spans read without the lock; a mismatch is confirmed
  // under it (a span may have been freed and reused meanwhile).
  constexpr size_t kBatch = 256;
  uintptr_t at[kBatch];
  size_t index[kBatch];
  uint64_t have[kBatch][2];
  bool ok[kBatch];
  const uintptr_t base = base_.load(std::memory_order_relaxed);
  const size_t frontier = frontier_.load(std::memory_order_acquire);
  size_t nlost = 0, n = 0;
  auto flush = [&] {
    ReadHeaders(at, n, have, ok);
    bool any = false;
    for (size_t k = 0; k < n; ++k) any = any || !ok[k] || !HeaderMatches(have[k], MutableMetaAt(index[k]));
    if (any) {
      LockRegion();
      for (size_t k = 0; k < n; ++k) {
        SampleMeta& m = MutableMetaAt(index[k]);
        if ((m.flags & SampleMeta::kLive) == 0) continue;
        uint64_t now[2];
        bool readable;
        const uintptr_t where = base + index[k] * kPageSize + m.offset - 16;
        ReadHeaders(&where, 1, &now, &readable);
        if (readable && HeaderMatches(now, m)) continue;
        on_lost(m);
        ++nlost;
        SetLostLocked(m);
      }
      UnlockRegion();
    }
    n = 0;
  };
  for (size_t i = 0; i < frontier;) {
    const SampleMeta& m = MutableMetaAt(i);  // racy: confirmed under the lock
    const size_t pages = m.pages == 0 ? 1 : m.pages;
    if ((m.flags & SampleMeta::kLive) != 0 && m.offset >= 16 && m.offset <= pages * kPageSize) {
      at[n] = base + i * kPageSize + m.offset - 16;
      index[n] = i;
      if (++n == kBatch) flush();
    }
    i += pages;
  }
  if (n > 0) flush();
  return nlost;
}

size_t SampleRegion::SweepLost(void (*on_lost)(const SampleMeta&), bool check_headers) {
  const uintptr_t base = base_.load(std::memory_order_relaxed);
  const size_t frontier = frontier_.load(std::memory_order_acquire);
  if (base == 0 || frontier == 0) return 0;
  ErrnoSaver errno_saver;
  // Where glibc unmapped a span, the kernel may have mapped something else
  // since (glibc's next mmapped chunk, typically): only the header tells.
  if (AllMapped(base, frontier * kPageSize)) return check_headers ? CheckHeaders(on_lost) : 0;
  size_t nlost = 0;
  LockRegion();  // also serialises the use of g_runs
  HoleRuns& runs = g_runs;
  runs.n = 0;
  runs.probes = 0;
  FindAndPlugHoles(base, 0, frontier, &runs);
  size_t r = 0;
  for (size_t i = 0; i < frontier && r < runs.n;) {
    SampleMeta& m = MutableMetaAt(i);
    const size_t pages = m.pages == 0 ? 1 : m.pages;
    const size_t end = i + pages;
    while (r < runs.n && runs.hi[r] <= i) ++r;
    if (r == runs.n || runs.lo[r] >= end) {
      i = end;
      continue;
    }
    // Holes (mapped again now) in [i, end): glibc unmapped (part of) this span.
    size_t hole_pages = 0;
    for (size_t k = r; k < runs.n && runs.lo[k] < end; ++k) {
      hole_pages += (runs.hi[k] < end ? runs.hi[k] : end) - (runs.lo[k] > i ? runs.lo[k] : i);
    }
    if ((m.flags & SampleMeta::kLive) != 0) {
      // Weights out under the lock (atomic adds to the stack table): the
      // span may go back to the free lists right below.
      on_lost(m);
      ++nlost;
      SetLostLocked(m);
    }
    if ((m.flags & SampleMeta::kLost) != 0) {
      // A lost span counts its pages mapped again in next_free. Unmapped in
      // part, glibc still holds the rest (it shrank the chunk in place).
      // Once all are back, glibc has freed or moved the chunk: one of its
      // mmapped chunks gone, that it never counted coming; the span is all
      // ours again (fresh zero pages).
      m.next_free += static_cast<uint32_t>(hole_pages);
      if (m.next_free >= pages) {
        outside_unmapped_.fetch_add(1, std::memory_order_relaxed);
        outside_unmapped_bytes_.fetch_add(pages * kPageSize, std::memory_order_relaxed);
        m.flags = 0;
        PushFree(i);
      }
    }
    i = end;
  }
  UnlockRegion();
  return nlost + (check_headers ? CheckHeaders(on_lost) : 0);
}

namespace heap {

size_t SweepLostSamples(bool headers) { return SampleRegion::SweepLost(TakeOutLostSample, headers); }

}  // namespace heap
}  // namespace internal
}  // namespace cpprof
