// SPDX-License-Identifier: Apache-2.0
//
// The scan (see leak_scan.h). ScanChild runs in the cloned child, a copy of
// this process with one thread, whose malloc locks may be held by parked
// threads' copies: it uses only raw system calls, mmap'ed buffers and its
// own parsing, and leaves with exit_group. Everything else runs on the
// requesting thread.

#include "base/clock.h"
#include "profiles/heap/leak_scan.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "base/thread_list.h"
#include "profiles/heap/heap_sampler.h"
#include "profiles/heap/sample_region.h"
#include "profiles/heap/thread_park.h"

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
}

namespace cpprof {
namespace internal {
namespace heap {
namespace {

constexpr uint64_t kMagic = 0x63707270666c6b31ull;  // "cpprflk1"
constexpr size_t kMaxSps = 8192;
constexpr size_t kRedZone = 128;

struct ScanHeader {
  uint64_t magic;
  int64_t live_samples;
  int64_t roots_bytes;
  int64_t leaked;
  int64_t heap_walked;          // glibc heaps walked and traced (the others were roots)
  int64_t main_walked;          // 1: the main heap among them
  int64_t heap_chunks;          // in-use chunks found by the walk (mmapped ones included)
  int64_t mmapped_chunks;       // of them, glibc's mmapped chunks
  int64_t unsampled_leaked;     // in-use unsampled chunks nothing reaches
  int64_t unsampled_leaked_bytes;
  int64_t lost_samples;         // live in the metadata, but glibc's since (unmapped or rewritten)
};

// What the child needs, filled by the parent before the clone (the child
// sees this memory as it was).
struct ScanInput {
  uintptr_t region_base;
  size_t region_len;
  size_t frontier;
  const SampleMeta* meta;
  uintptr_t meta_base;
  size_t meta_len;
  uintptr_t sps[kMaxSps];
  size_t nsps;
  int64_t now_sec;
  int64_t min_age;
  int out_fd;
  uintptr_t tcache_key;  // glibc >= 2.34: what a free tcache chunk holds at user + 8
  // glibc's count and bytes of mmapped chunks just before the snapshot
  // (mallinfo2): the chunks the child finds must add up to them exactly.
  int64_t mmapped_count;
  int64_t mmapped_bytes;
};
ScanInput g_input;

// ---------------------------------------------------------------- child side

void* ChildMap(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

[[noreturn]] void ChildExit(int code) {
  syscall(SYS_exit_group, code);
  __builtin_unreachable();
}

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = syscall(SYS_write, fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

uintptr_t ParseHex(const char*& p, const char* end) {
  uintptr_t v = 0;
  while (p < end) {
    char c = *p;
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) break;
    v = v * 16 + static_cast<uintptr_t>(d);
    ++p;
  }
  return v;
}

// glibc's heaps as a traced space instead of roots: the main heap ([heap],
// the brk arena) and every heap of the thread arenas (64 MiB-aligned
// mappings starting with heap_info: an arena's first heap has ar_ptr right
// after its heap_info and prev null, its later heaps point back with prev
// and at the first heap's malloc_state with ar_ptr). Their in-use chunks are
// found by walking chunk headers (size at chunk + 8, low bits flags; a chunk
// is in use when the next chunk's PREV_INUSE bit is set, unless it is a free
// tcache entry, which holds the tcache key at user + 8). A walk must land
// exactly on its heap's end, else that heap stays a root: the top chunk in
// an arena's newest heap (and the main heap), the two fenceposts sysmalloc
// leaves where an older heap's top was (a 16-byte chunk, then a header of
// size 0, ending at the heap's end; or that header alone).
constexpr int kMaxWalkedHeaps = 256;

struct HeapChunks {
  uint64_t* start = nullptr;   // in-use chunks' addresses, ascending once sorted
  uint32_t* size16 = nullptr;  // chunk size / 16
  // 8 for a chunk of a walked heap: an in-use chunk's user area runs on into
  // the next chunk's prev_size field (malloc_usable_size is size - 8); 0 for
  // an mmapped chunk (its user area ends with it).
  uint8_t* tail = nullptr;
  uint8_t* marked = nullptr;
  uint32_t* work = nullptr;
  size_t n = 0, cap = 0, nwork = 0;
  uintptr_t lo[kMaxWalkedHeaps] = {}, hi[kMaxWalkedHeaps] = {};  // walked mappings (not roots)
  int nheaps = 0;
  size_t mmapped = 0;  // glibc mmapped chunks among the n
  uintptr_t min = UINTPTR_MAX, max = 0;
  bool main_walked = false;

  uint64_t UserEnd(size_t i) const { return start[i] + uint64_t{size16[i]} * 16 + tail[i]; }

  // The in-use chunk whose user area [chunk + 16, UserEnd) holds w, or -1.
  long Find(uintptr_t w) const {
    if (w < min || w >= max) return -1;
    size_t lo_i = 0, hi_i = n;
    while (lo_i < hi_i) {  // first start > w
      size_t mid = (lo_i + hi_i) / 2;
      if (start[mid] <= w) lo_i = mid + 1; else hi_i = mid;
    }
    if (lo_i == 0) return -1;
    const size_t i = lo_i - 1;
    if (w < start[i] + 16) {
      // A chunk's prev_size field is the tail of the in-use chunk before it.
      return i > 0 && w < UserEnd(i - 1) ? static_cast<long>(i - 1) : -1;
    }
    if (w >= UserEnd(i)) return -1;
    return static_cast<long>(i);
  }
  bool Walked(uintptr_t l, uintptr_t h) const {
    for (int k = 0; k < nheaps; ++k) {
      if (l < hi[k] && h > lo[k]) return true;
    }
    return false;
  }
};

// Walks chunks from `first` to `end` (the heap's end) into `heap`; on
// failure leaves `heap` as it was and returns false. `fenced`: the heap may
// end in fenceposts instead of a top chunk (a thread arena's older heap).
bool WalkHeap(uintptr_t first, uintptr_t end, uintptr_t tcache_key, bool fenced, HeapChunks* heap) {
  const size_t n0 = heap->n;
  uintptr_t c = first;
  while (c + 16 <= end) {
    const uintptr_t size = *reinterpret_cast<const uintptr_t*>(c + 8) & ~uintptr_t{7};
    if (fenced && size == 0 && c + 16 == end) return true;  // the last fencepost
    if (fenced && size == 16 && c + 32 == end &&
        (*reinterpret_cast<const uintptr_t*>(c + 24) & ~uintptr_t{7}) == 0) {
      return true;  // both fenceposts
    }
    if (size < 32 || size % 16 != 0 || c + size > end || size / 16 > UINT32_MAX) break;
    if (c + size == end) return true;  // the top chunk: free, and the walk is complete
    const uintptr_t next_size = *reinterpret_cast<const uintptr_t*>(c + size + 8);
    const bool in_use =
        (next_size & 1) != 0 && !(tcache_key != 0 && *reinterpret_cast<const uintptr_t*>(c + 24) == tcache_key);
    if (in_use) {
      if (heap->n >= heap->cap) break;
      heap->start[heap->n] = c;
      heap->size16[heap->n] = static_cast<uint32_t>(size / 16);
      heap->tail[heap->n] = 8;
      ++heap->n;
    }
    c += size;
  }
  heap->n = n0;
  return false;
}

// A /proc/self/maps line's tail after "lo-hi" (` perms offset dev inode
// [path]`) names anonymous memory: inode 0 and no path (or an "[anon:" name).
bool AnonymousMapping(const char* q, const char* eol) {
  const char* field[5] = {};
  int nf = 0;
  for (const char* c = q; c < eol && nf < 5;) {
    while (c < eol && *c == ' ') ++c;
    if (c >= eol) break;
    field[nf++] = c;
    while (c < eol && *c != ' ') ++c;
  }
  if (nf < 4 || field[3][0] != '0' || (field[3] + 1 < eol && field[3][1] != ' ')) return false;
  return nf == 4 || (eol - field[4] >= 6 && memcmp(field[4], "[anon:", 6) == 0);
}

// glibc's mmapped chunks (128 KiB and more, by default) as traced objects
// instead of roots. Page by page through an anonymous mapping (the kernel
// merges neighbouring mappings, so a chunk may share one with other memory):
// a page that starts with a chunk header (prev_size 0, a size that is a
// multiple of the page with IS_MMAPPED the only flag, fitting in the
// mapping) starts a chunk, which takes its pages; chunk(c, size) is called
// for those, gap(from, to) for the memory between them. The scan uses the
// chunks only when their number and bytes match what glibc counted
// (mallinfo2) just before the snapshot: a root page that happens to look
// like a header, or a chunk missed (memalign puts its header past the page
// start), makes them differ and every such mapping stays a root.
template <typename Chunk, typename Gap>
void SplitMmapped(uintptr_t lo, uintptr_t hi, Chunk chunk, Gap gap) {
  constexpr uintptr_t kIsMmapped = 2, kPage = 4096;
  uintptr_t gap_from = lo;
  for (uintptr_t c = lo; c + 16 <= hi;) {
    const uintptr_t prev_size = *reinterpret_cast<const uintptr_t*>(c);
    const uintptr_t head = *reinterpret_cast<const uintptr_t*>(c + 8);
    const uintptr_t size = head & ~uintptr_t{7};
    if (prev_size == 0 && (head & 7) == kIsMmapped && size >= kPage && size % kPage == 0 && size <= hi - c &&
        size / 16 <= UINT32_MAX) {
      if (gap_from < c) gap(gap_from, c);
      chunk(c, size);
      c += size;
      gap_from = c;
    } else {
      c += kPage;
    }
  }
  if (gap_from < hi) gap(gap_from, hi);
}

struct Marker {
  const ScanInput* in;
  uint32_t* head;     // page -> span head page + 1 (0: none)
  uint8_t* marked;    // per head page
  uint32_t* work;     // stack of head pages to scan
  size_t nwork;
  HeapChunks heap;

  // CPPROF_NO_SANITIZE_MEMORY_READS is not needed: sanitizer builds never scan.
  void Consider(uintptr_t w) {
    const uintptr_t off = w - in->region_base;
    if (off >= in->region_len) {
      const long c = heap.Find(w);
      if (c >= 0 && !heap.marked[c]) {
        heap.marked[c] = 1;
        heap.work[heap.nwork++] = static_cast<uint32_t>(c);
      }
      return;
    }
    const size_t page = off / SampleRegion::kPageSize;
    if (page >= in->frontier || head[page] == 0) return;
    const size_t h = head[page] - 1;
    const SampleMeta& m = in->meta[h];
    const uintptr_t object = in->region_base + h * SampleRegion::kPageSize + m.offset;
    if (!m.IsLive()) return;
    if (w >= object + (m.size == 0 ? 1 : m.size)) return;  // past the object's end
    if (marked[h]) return;
    marked[h] = 1;
    work[nwork++] = static_cast<uint32_t>(h);
  }

  void ScanRange(uintptr_t lo, uintptr_t hi) {
    lo = (lo + 7) & ~uintptr_t{7};
    for (uintptr_t a = lo; a + 8 <= hi; a += 8) Consider(*reinterpret_cast<const uintptr_t*>(a));
  }

  void Drain() {
    while (nwork > 0 || heap.nwork > 0) {
      if (nwork > 0) {
        const size_t h = work[--nwork];
        const SampleMeta& m = in->meta[h];
        const uintptr_t object = in->region_base + h * SampleRegion::kPageSize + m.offset;
        ScanRange(object, object + m.size);
      } else {
        const size_t c = heap.work[--heap.nwork];
        ScanRange(heap.start[c] + 16, heap.UserEnd(c));
      }
    }
  }
};

[[noreturn]] void ScanChild() {
  const ScanInput& in = g_input;
  const size_t frontier = in.frontier;
  Marker mk;
  mk.in = &in;
  mk.nwork = 0;
  const size_t n = frontier == 0 ? 1 : frontier;
  mk.head = static_cast<uint32_t*>(ChildMap(n * sizeof(uint32_t)));
  mk.marked = static_cast<uint8_t*>(ChildMap(n));
  mk.work = static_cast<uint32_t*>(ChildMap(n * sizeof(uint32_t)));
  const size_t maps_cap = size_t{8} << 20;
  char* maps = static_cast<char*>(ChildMap(maps_cap));
  if (mk.head == nullptr || mk.marked == nullptr || mk.work == nullptr || maps == nullptr) ChildExit(3);
  // Span heads: every span records its length in its first page.
  int64_t live = 0;
  for (size_t i = 0; i < frontier;) {
    const SampleMeta& m = in.meta[i];
    const size_t pages = m.pages == 0 ? 1 : m.pages;
    for (size_t k = 0; k < pages && i + k < frontier; ++k) mk.head[i + k] = static_cast<uint32_t>(i + 1);
    i += pages;
  }
  // The memory map, read raw.
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC));
  if (fd < 0) ChildExit(4);
  size_t len = 0;
  for (;;) {
    ssize_t r = syscall(SYS_read, fd, maps + len, maps_cap - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += static_cast<size_t>(r);
    if (len >= maps_cap - 1) break;
  }
  syscall(SYS_close, fd);
  // Readable memory, adjacent mappings merged (the maps are sorted).
  size_t nlines = 1;
  for (size_t k = 0; k < len; ++k) nlines += maps[k] == '\n';
  uintptr_t* rlo = static_cast<uintptr_t*>(ChildMap(nlines * sizeof(uintptr_t)));
  uintptr_t* rhi = static_cast<uintptr_t*>(ChildMap(nlines * sizeof(uintptr_t)));
  if (rlo == nullptr || rhi == nullptr) ChildExit(3);
  size_t nr = 0;
  for (const char* line = maps; line < maps + len;) {
    const char* eol = line;
    while (eol < maps + len && *eol != '\n') ++eol;
    const char* q = line;
    const uintptr_t lo = ParseHex(q, eol);
    if (q < eol && *q == '-') ++q;
    const uintptr_t hi = ParseHex(q, eol);
    line = eol < maps + len ? eol + 1 : maps + len;
    if (q + 1 >= eol || q[1] != 'r' || hi <= lo) continue;
    if (nr > 0 && rhi[nr - 1] == lo) {
      rhi[nr - 1] = hi;
    } else {
      rlo[nr] = lo;
      rhi[nr] = hi;
      ++nr;
    }
  }
  // The merged range holding addr, or nr.
  auto range_of = [&](uintptr_t addr) {
    size_t lo = 0, hi = nr;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (rhi[mid] <= addr) lo = mid + 1; else hi = mid;
    }
    return lo < nr && rlo[lo] <= addr ? lo : nr;
  };
  // Samples glibc took over (sample_region.h): lost already, or unmapped
  // since, or with a header glibc rewrote. They are no samples: marked (2)
  // so nothing counts or reports them, and their memory, glibc's or
  // another mapping's now, is scanned as a root below.
  int64_t lost = 0;
  for (size_t i = 0; i < frontier;) {
    const SampleMeta& m = in.meta[i];
    const size_t pages = m.pages == 0 ? 1 : m.pages;
    const uintptr_t start = in.region_base + i * SampleRegion::kPageSize;
    if (m.IsLive()) {
      const size_t r = range_of(start);
      bool intact = r < nr && rhi[r] >= start + pages * SampleRegion::kPageSize;
      if (intact) {
        uint64_t have[2];
        memcpy(have, reinterpret_cast<const void*>(start + m.offset - 16), sizeof(have));
        intact = SampleRegion::HeaderMatches(have, m);
      }
      if (!intact) {
        mk.marked[i] = 2;
        ++lost;
      } else if (m.objects_fx != 0 || m.space != 0) {
        ++live;
      }
    } else if (m.IsLost()) {
      mk.marked[i] = 2;
    }
    i += pages;
  }
  // Our own buffers and metadata are no roots.
  const uintptr_t skip_lo[] = {in.region_base, in.meta_base, reinterpret_cast<uintptr_t>(mk.head),
                               reinterpret_cast<uintptr_t>(mk.marked), reinterpret_cast<uintptr_t>(mk.work),
                               reinterpret_cast<uintptr_t>(maps)};
  const uintptr_t skip_hi[] = {in.region_base + in.region_len, in.meta_base + in.meta_len,
                               reinterpret_cast<uintptr_t>(mk.head) + n * sizeof(uint32_t),
                               reinterpret_cast<uintptr_t>(mk.marked) + n,
                               reinterpret_cast<uintptr_t>(mk.work) + n * sizeof(uint32_t),
                               reinterpret_cast<uintptr_t>(maps) + maps_cap};
  // A mapping that may hold glibc's mmapped chunks: anonymous, read-write,
  // not cpprof's, not a glibc heap (those are walked), no thread's stack.
  auto mmapped_candidate = [&](uintptr_t lo, uintptr_t hi, const char* q, const char* eol) {
    if (hi - lo < 4096 || lo % 4096 != 0 || !AnonymousMapping(q, eol)) return false;
    if (lo % (uintptr_t{64} << 20) == 0) return false;  // a glibc heap's start (walked or a root)
    for (size_t k = 0; k < sizeof(skip_lo) / sizeof(skip_lo[0]); ++k) {
      if (lo < skip_hi[k] && hi > skip_lo[k]) return false;
    }
    for (size_t k = 0; k < in.nsps; ++k) {
      if (in.sps[k] >= lo && in.sps[k] < hi) return false;
    }
    return true;
  };
  int64_t mmapped_found = 0, mmapped_found_bytes = 0;
  bool mmapped_ok = false;
  // First pass: glibc's heaps. Size the chunk index and count the mmapped
  // chunks (pass 0), then walk each heap and index them (pass 1).
  size_t heap_cap = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (const char* line = maps; line < maps + len;) {
      const char* eol = line;
      while (eol < maps + len && *eol != '\n') ++eol;
      const char* q = line;
      uintptr_t lo = ParseHex(q, eol);
      if (q < eol && *q == '-') ++q;
      uintptr_t hi = ParseHex(q, eol);
      const bool rw = q + 2 < eol && q[0] == ' ' && q[1] == 'r' && q[2] == 'w';
      line = eol < maps + len ? eol + 1 : maps + len;
      if (!rw || hi <= lo) continue;
      const bool main_heap = eol - q > 7 && memcmp(eol - 6, "[heap]", 6) == 0;
      if (mmapped_candidate(lo, hi, q, eol)) {
        if (pass == 0) {
          SplitMmapped(
              lo, hi,
              [&](uintptr_t, uintptr_t size) {
                ++mmapped_found;
                mmapped_found_bytes += static_cast<int64_t>(size);
              },
              [](uintptr_t, uintptr_t) {});
        } else if (mmapped_ok) {
          SplitMmapped(
              lo, hi,
              [&](uintptr_t c, uintptr_t size) {
                if (mk.heap.n >= mk.heap.cap) return;
                mk.heap.start[mk.heap.n] = c;
                mk.heap.size16[mk.heap.n] = static_cast<uint32_t>(size / 16);
                mk.heap.tail[mk.heap.n] = 0;
                ++mk.heap.n;
                ++mk.heap.mmapped;
              },
              [](uintptr_t, uintptr_t) {});
        }
        continue;
      }
      // A thread arena's heap: 64 MiB aligned; the arena's first heap has
      // heap_info.ar_ptr right after it and no prev, a later heap a prev
      // (another heap) and an ar_ptr into the first heap.
      constexpr uintptr_t kHeapMax = uintptr_t{64} << 20;
      constexpr uintptr_t kHeapInfo = 48, kMallocState = 2200;
      bool arena = false;
      uintptr_t arena_end = 0, arena_first = 0;
      if (!main_heap && lo % kHeapMax == 0 && hi - lo >= 4096) {
        const uintptr_t* h = reinterpret_cast<const uintptr_t*>(lo);
        const bool size_ok = h[2] >= 4096 && h[2] <= hi - lo;
        const bool first_heap = h[0] == lo + kHeapInfo && h[1] == 0;
        const bool later_heap = h[1] != 0 && h[1] != lo && h[1] % kHeapMax == 0 && h[0] > kHeapInfo &&
                                (h[0] - kHeapInfo) % kHeapMax == 0 && h[0] - kHeapInfo != lo;
        arena = size_ok && (first_heap || later_heap);
        arena_end = lo + h[2];
        // The first chunk follows the heap_info (and, in the first heap, the
        // arena's malloc_state), chunk2mem-aligned.
        arena_first = lo + kHeapInfo + (first_heap ? kMallocState : 0);
        arena_first = ((arena_first + 16 + 15) & ~uintptr_t{15}) - 16;
      }
      if (!main_heap && !arena) continue;
      if (pass == 0) {
        heap_cap += (hi - lo) / 32 + 1;
        continue;
      }
      if (mk.heap.nheaps >= kMaxWalkedHeaps) continue;
      bool ok;
      if (main_heap) {
        ok = WalkHeap(lo, hi, in.tcache_key, /*fenced=*/false, &mk.heap);
        mk.heap.main_walked = ok;
      } else {
        ok = WalkHeap(arena_first, arena_end, in.tcache_key, /*fenced=*/true, &mk.heap);
      }
      if (ok) {
        mk.heap.lo[mk.heap.nheaps] = lo;
        mk.heap.hi[mk.heap.nheaps] = hi;
        ++mk.heap.nheaps;
      }
    }
    if (pass == 0) {
      mmapped_ok = mmapped_found > 0 && mmapped_found == in.mmapped_count && mmapped_found_bytes == in.mmapped_bytes;
      if (mmapped_ok) heap_cap += static_cast<size_t>(mmapped_found);
      mk.heap.cap = heap_cap;
      const size_t c = heap_cap == 0 ? 1 : heap_cap;
      mk.heap.start = static_cast<uint64_t*>(ChildMap(c * sizeof(uint64_t)));
      mk.heap.size16 = static_cast<uint32_t*>(ChildMap(c * sizeof(uint32_t)));
      mk.heap.marked = static_cast<uint8_t*>(ChildMap(c));
      mk.heap.tail = static_cast<uint8_t*>(ChildMap(c));
      mk.heap.work = static_cast<uint32_t*>(ChildMap(c * sizeof(uint32_t)));
      if (mk.heap.start == nullptr || mk.heap.size16 == nullptr || mk.heap.marked == nullptr || mk.heap.tail == nullptr ||
          mk.heap.work == nullptr) {
        mk.heap.cap = 0;
        break;
      }
    }
  }
  if (mk.heap.n > 0) {
    // Sort chunk index by address (heaps were walked in map order, which is ascending).
    for (size_t i = 1; i < mk.heap.n; ++i) {
      if (mk.heap.start[i] < mk.heap.start[i - 1]) ChildExit(6);  // maps are sorted: never
    }
    mk.heap.min = mk.heap.start[0];
    mk.heap.max = mk.heap.UserEnd(mk.heap.n - 1);
  }
  int64_t roots_bytes = 0;
  const char* p = maps;
  const char* end = maps + len;
  while (p < end) {
    const char* eol = p;
    while (eol < end && *eol != '\n') ++eol;
    const char* q = p;
    uintptr_t lo = ParseHex(q, eol);
    if (q < eol && *q == '-') ++q;
    uintptr_t hi = ParseHex(q, eol);
    if (q < eol && *q == ' ') ++q;
    const bool readable = q + 1 < eol && q[0] == 'r';
    const bool writable = q + 1 < eol && q[1] == 'w';
    // "[vvar]" and friends are not ordinary memory.
    bool special = false;
    for (const char* s = q; s + 6 <= eol; ++s) {
      if (s[0] == '[' && (s[1] == 'v' || s[1] == 'u')) special = true;  // [vvar], [vsyscall], [uprobes]
    }
    p = eol < end ? eol + 1 : end;
    if (!readable || !writable || special || hi <= lo) continue;
    bool skip = false;
    for (size_t k = 0; k < sizeof(skip_lo) / sizeof(skip_lo[0]); ++k) skip = skip || (lo < skip_hi[k] && hi > skip_lo[k]);
    // The walked heap is traced from the roots, not a root itself; so are
    // mmapped chunks in the index, and the walk's own buffers.
    skip = skip || mk.heap.Walked(lo, hi);
    {
      const uintptr_t bufs[] = {reinterpret_cast<uintptr_t>(mk.heap.start), reinterpret_cast<uintptr_t>(mk.heap.size16),
                                reinterpret_cast<uintptr_t>(mk.heap.marked), reinterpret_cast<uintptr_t>(mk.heap.work),
                                reinterpret_cast<uintptr_t>(mk.heap.tail)};
      for (uintptr_t b : bufs) skip = skip || (b != 0 && b >= lo && b < hi);
    }
    if (skip) continue;
    if (mk.heap.mmapped > 0 && mmapped_candidate(lo, hi, q, eol)) {
      // Its mmapped chunks are traced; the memory between them is a root.
      SplitMmapped(
          lo, hi, [](uintptr_t, uintptr_t) {},
          [&](uintptr_t from, uintptr_t to) {
            roots_bytes += static_cast<int64_t>(to - from);
            mk.ScanRange(from, to);
            mk.Drain();
          });
      continue;
    }
    // A thread's stack: only from its stack pointer up (dead frames below
    // it would hide leaks).
    uintptr_t from = lo;
    for (size_t k = 0; k < in.nsps; ++k) {
      const uintptr_t sp = in.sps[k];
      if (sp >= lo && sp < hi) {
        const uintptr_t s = sp > lo + kRedZone ? sp - kRedZone : lo;
        if (from == lo || s < from) from = s;
      }
    }
    roots_bytes += static_cast<int64_t>(hi - from);
    mk.ScanRange(from, hi);
    mk.Drain();
  }
  // What glibc holds in lost spans is a root like the rest of its memory.
  for (size_t i = 0; i < frontier;) {
    const SampleMeta& m = in.meta[i];
    const size_t pages = m.pages == 0 ? 1 : m.pages;
    if (mk.marked[i] == 2) {
      const uintptr_t start = in.region_base + i * SampleRegion::kPageSize;
      const uintptr_t end = start + pages * SampleRegion::kPageSize;
      for (uintptr_t a = start; a < end;) {
        const size_t r = range_of(a);
        if (r == nr) {
          a += SampleRegion::kPageSize;
          continue;
        }
        const uintptr_t to = rhi[r] < end ? rhi[r] : end;
        roots_bytes += static_cast<int64_t>(to - a);
        mk.ScanRange(a, to);
        mk.Drain();
        a = to;
      }
    }
    i += pages;
  }
  // Report the unmarked, old enough.
  ScanHeader header{};
  header.magic = kMagic;
  header.live_samples = live;
  header.lost_samples = lost;
  header.roots_bytes = roots_bytes;
  header.heap_walked = mk.heap.nheaps;
  header.main_walked = mk.heap.main_walked ? 1 : 0;
  header.heap_chunks = static_cast<int64_t>(mk.heap.n);
  header.mmapped_chunks = static_cast<int64_t>(mk.heap.mmapped);
  for (size_t i = 0; i < mk.heap.n; ++i) {
    if (mk.heap.marked[i]) continue;
    ++header.unsampled_leaked;
    header.unsampled_leaked_bytes += static_cast<int64_t>(mk.heap.size16[i]) * 16;
  }
  for (size_t i = 0; i < frontier;) {
    const SampleMeta& m = in.meta[i];
    const size_t pages = m.pages == 0 ? 1 : m.pages;
    if (m.IsLive() && !m.IsIgnored() && (m.objects_fx != 0 || m.space != 0) && !mk.marked[i] &&
        in.now_sec - m.alloc_sec >= in.min_age) {
      ++header.leaked;
    }
    i += pages;
  }
  if (!WriteAll(in.out_fd, &header, sizeof(header))) ChildExit(5);
  for (size_t i = 0; i < frontier;) {
    const SampleMeta& m = in.meta[i];
    const size_t pages = m.pages == 0 ? 1 : m.pages;
    if (m.IsLive() && !m.IsIgnored() && (m.objects_fx != 0 || m.space != 0) && !mk.marked[i] &&
        in.now_sec - m.alloc_sec >= in.min_age) {
      LeakedObject o{static_cast<uint32_t>(i), m.slot, m.size, m.objects_fx, m.space, m.alloc_sec};
      if (!WriteAll(in.out_fd, &o, sizeof(o))) ChildExit(5);
    }
    i += pages;
  }
  ChildExit(0);
}

// ---------------------------------------------------------------- parent side

std::mutex g_scan_mu;

// glibc >= 2.34 marks a chunk in its tcache with a per-process random key at
// user + 8: free a small probe chunk into the tcache and read it back.
__attribute__((no_sanitize_address)) uintptr_t TcacheKey() {
  void* probe = __libc_malloc(24);
  if (probe == nullptr) return 0;
  __libc_free(probe);
  return static_cast<const volatile uintptr_t*>(probe)[1];
}

// One snapshot and scan.
Status ScanOnce(const LeakScanOptions& options, int signo, std::vector<LeakedObject>* leaked, LeakScanResult* r) {
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  std::vector<pid_t> running;
  std::vector<uintptr_t> sps;
  int blocked = 0, unparkable = 0;
  const uint64_t park_bit = uint64_t{1} << (signo - 1);
  for (pid_t tid : ListTasks()) {
    if (tid == self) continue;
    ThreadSyscall sc = ReadThreadSyscall(tid);
    if (sc.blocked) {
      ++blocked;
      sps.push_back(sc.sp);
    } else if (ReadThreadBlockedSignals(tid) & park_bit) {
      // It would never park (cpprof's own threads block every signal): its
      // whole stack mapping is scanned, its registers are not.
      ++unparkable;
    } else if (ReadThreadState(tid) != 0) {
      running.push_back(tid);
    }
  }
  // Samples glibc freed outside cpprof leave the profile first (and their
  // holes are mapped again, so the child finds fewer to skip).
  SweepLostSamples();
  const uintptr_t tcache_key = TcacheKey();
  // glibc's own count of its mmapped chunks, before any thread is parked
  // (mallinfo2 takes every arena's lock).
  const struct mallinfo2 mi = mallinfo2();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status(StatusCode::kUnavailable, std::string("pipe: ") + strerror(errno));
  ThreadParker parker;
  std::string error;
  const int64_t park_start = MonotonicNanos();
  if (!parker.ParkAll(running, options.park_timeout_ms, &error)) {
    close(fds[0]);
    close(fds[1]);
    return Status(StatusCode::kUnavailable, "could not take a consistent snapshot: " + error);
  }
  // From here to Release(), nothing may allocate (a parked thread may hold
  // a malloc arena's lock): everything goes into g_input's fixed arrays.
  ScanInput& in = g_input;
  size_t nsps = std::min(sps.size(), kMaxSps - 1);
  for (size_t i = 0; i < nsps; ++i) in.sps[i] = sps[i];
  nsps += parker.ParkedStackPointers(in.sps + nsps, kMaxSps - 1 - nsps);
  // This thread's own stack from here up: the child's frames lie below.
  uintptr_t here_sp;
#if defined(__x86_64__)
  asm volatile("mov %%rsp, %0" : "=r"(here_sp));
#else
  here_sp = reinterpret_cast<uintptr_t>(&here_sp);
#endif
  in.sps[nsps++] = here_sp;
  in.nsps = nsps;
  in.region_base = SampleRegion::base();
  in.region_len = SampleRegion::length();
  in.frontier = SampleRegion::frontier_pages();
  in.meta = &SampleRegion::MetaAt(0);
  in.meta_base = SampleRegion::meta_base();
  in.meta_len = SampleRegion::meta_bytes();
  in.now_sec = CoarseMonotonicSeconds();
  in.min_age = options.min_age_seconds;
  in.out_fd = fds[1];
  in.tcache_key = tcache_key;
  // glibc counted each sample it unmapped as one of its mmapped chunks
  // going; it never counted them coming.
  in.mmapped_count = static_cast<int64_t>(mi.hblks) + static_cast<int64_t>(SampleRegion::outside_unmapped());
  in.mmapped_bytes = static_cast<int64_t>(mi.hblkhd) + static_cast<int64_t>(SampleRegion::outside_unmapped_bytes());
  // No span half allocated or freed in the copy. A parked thread may hold
  // the lock: then give up on this snapshot rather than wait for it.
  if (!SampleRegion::LockForSnapshot(50)) {
    parker.Release();
    close(fds[0]);
    close(fds[1]);
    return Status(StatusCode::kUnavailable, "could not take a consistent snapshot: the sample region stayed busy");
  }
  // A raw clone: no fork handlers run (a parked thread may hold malloc's
  // lock; the child takes none).
  const long pid = syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid == 0) ScanChild();
  SampleRegion::UnlockAfterSnapshot();
  parker.Release();
  r->pause_ms = std::max(r->pause_ms, static_cast<double>(MonotonicNanos() - park_start) / 1e6);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return Status(StatusCode::kUnavailable, std::string("clone: ") + strerror(errno));
  }
  r->parked_threads = static_cast<int>(running.size());
  r->blocked_threads = blocked;
  r->unparkable_threads = unparkable;
  const int64_t scan_start = MonotonicNanos();
  const int64_t deadline = scan_start + static_cast<int64_t>(options.scan_timeout_ms) * 1000000;
  std::string data;
  char buf[65536];
  bool timed_out = false;
  for (;;) {
    const int64_t left_ms = (deadline - MonotonicNanos()) / 1000000;
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{fds[0], POLLIN, 0};
    int pr = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000)));
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) continue;
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(static_cast<pid_t>(pid), SIGKILL);
  int status = 0;
  while (waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
  }
  r->scan_ms += static_cast<double>(MonotonicNanos() - scan_start) / 1e6;
  if (timed_out) return Status(StatusCode::kUnavailable, "the scan took longer than " +
                                                             std::to_string(options.scan_timeout_ms) + " ms");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || data.size() < sizeof(ScanHeader)) {
    return Status(StatusCode::kUnavailable,
                  WIFSIGNALED(status) ? "the scanning child was killed by signal " + std::to_string(WTERMSIG(status))
                                      : "the scanning child failed (status " + std::to_string(WEXITSTATUS(status)) + ")");
  }
  ScanHeader h;
  memcpy(&h, data.data(), sizeof(h));
  if (h.magic != kMagic || data.size() != sizeof(h) + static_cast<size_t>(h.leaked) * sizeof(LeakedObject)) {
    return Status(StatusCode::kUnavailable, "the scanning child's report is malformed");
  }
  leaked->resize(static_cast<size_t>(h.leaked));
  if (h.leaked > 0) memcpy(leaked->data(), data.data() + sizeof(h), leaked->size() * sizeof(LeakedObject));
  r->live_samples = h.live_samples;
  r->lost_samples = h.lost_samples;
  r->roots_bytes = h.roots_bytes;
  r->heaps_walked = static_cast<int>(h.heap_walked);
  r->main_heap_walked = h.main_walked != 0;
  r->heap_chunks = h.heap_chunks;
  r->mmapped_chunks = h.mmapped_chunks;
  r->unsampled_leaked = h.unsampled_leaked;
  r->unsampled_leaked_bytes = h.unsampled_leaked_bytes;
  return Status();
}

}  // namespace

Status ScanForLeaks(const LeakScanOptions& options, LeakScanResult* result) {
  if (CurrentMode() != Mode::kGlibc) {
    return Status(StatusCode::kFailedPrecondition,
                  std::string("leak scans need cpprof's own heap sampling; heap: ") + ModeName(CurrentMode()));
  }
  std::unique_lock<std::mutex> lock(g_scan_mu, std::try_to_lock);
  if (!lock.owns_lock()) return Status(StatusCode::kFailedPrecondition, "a leak scan is already running; try again when it ends");
  const int signo = options.signo != 0 ? options.signo : SIGRTMIN + 4;
  std::string error;
  if (!ThreadParker::Install(signo, &error)) return Status(StatusCode::kUnavailable, error);
  LeakScanResult r;
  std::vector<LeakedObject> first;
  Status s = ScanOnce(options, signo, &first, &r);
  if (!s.ok()) return s;
  r.scans = 1;
  if (options.confirm_ms > 0 && !first.empty()) {
    timespec ts{options.confirm_ms / 1000, (options.confirm_ms % 1000) * 1000000L};
    nanosleep(&ts, nullptr);
    std::vector<LeakedObject> second;
    s = ScanOnce(options, signo, &second, &r);
    if (!s.ok()) return s;
    r.scans = 2;
    // Unreachable both times: the same object (page and allocation time).
    std::set<std::pair<uint32_t, int64_t>> seen;
    for (const LeakedObject& o : first) seen.insert({o.page, o.alloc_sec});
    std::vector<LeakedObject> both;
    for (const LeakedObject& o : second) {
      if (seen.count({o.page, o.alloc_sec}) != 0) both.push_back(o);
    }
    first = std::move(both);
  }
  r.leaked = std::move(first);
  *result = std::move(r);
  return Status();
}

}  // namespace heap
}  // namespace internal
}  // namespace cpprof


