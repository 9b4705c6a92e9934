// SPDX-License-Identifier: Apache-2.0
//
// Implementation notes.
//
// Signal context: everything in this file (the control side -- reading
// /proc/self/maps, publishing and retiring snapshots, Synchronize,
// RegisterCurrentThreadStack -- is in safe_load_refresh.cc, so this object
// links only against itself). Raw syscalls are issued with inline assembly
// on x86_64/aarch64 so errno is untouched; state is atomics and
// initial-exec TLS.
//
// Trust model: the window a SafeLoadCache holds is either the interrupted
// thread's own stack mapping (TrustStack: registered bounds, else the maps
// snapshot's anonymous mapping holding sp) or pages proven readable by
// ProbeReadable. Snapshot ranges other than the own stack are never read
// without a probe, because memory may have been unmapped since the snapshot.

#include "base/safe_load.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace cpprof {
namespace internal {
namespace safe_load_detail {

std::atomic<const MapsSnapshot*> g_snapshot{nullptr};
std::atomic<bool> g_stale{true};
CPPROF_SIGNAL_TLS uintptr_t t_stack_lo;
CPPROF_SIGNAL_TLS uintptr_t t_stack_hi;

}  // namespace safe_load_detail

namespace {

using namespace safe_load_detail;  // NOLINT(build/namespaces): file-local

constexpr uintptr_t kPage = 4096;
// Above any user-space address (x86_64 with 5-level paging: 2^56; aarch64:
// 2^52), so page arithmetic below cannot overflow.
constexpr uintptr_t kMaxUserAddress = (uintptr_t{1} << 56) - 2 * kPage;

ReaderGate g_gate;  // constant-initialised, trivially destructible members

// Raw system call that leaves errno alone (the libc wrapper sets it).
CPPROF_SIGNAL_SAFE long RawSyscall4(long nr, long a, long b, long c, long d) {
#if defined(__x86_64__)
  long ret;
  register long r10 asm("r10") = d;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
               : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 asm("x8") = nr;
  register long x0 asm("x0") = a;
  register long x1 asm("x1") = b;
  register long x2 asm("x2") = c;
  register long x3 asm("x3") = d;
  asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
#else
  int saved = errno;
  long ret = syscall(nr, a, b, c, d);
  if (ret == -1) ret = -errno;
  errno = saved;
  return ret;
#endif
}

CPPROF_SIGNAL_SAFE const MemRange* FindRange(const MapsSnapshot* snap, uintptr_t addr) {
  if (snap == nullptr) return nullptr;
  const MemRange* lo = snap->ranges;
  size_t n = snap->count;
  while (n > 0) {  // first range with end > addr
    size_t half = n / 2;
    if (lo[half].end <= addr) {
      lo += half + 1;
      n -= half + 1;
    } else {
      n = half;
    }
  }
  if (lo == snap->ranges + snap->count || lo->start > addr) return nullptr;
  return lo;
}

CPPROF_SIGNAL_SAFE uintptr_t CurrentSp() {
  return reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
}

}  // namespace

ReaderGate& SignalReaderGate() { return g_gate; }

CPPROF_SIGNAL_SAFE bool ProbeReadable(uintptr_t addr, size_t len) {
  if (len == 0 || len > kPage || addr < kPage || addr > kMaxUserAddress) return false;
  // rt_sigprocmask copies the 8-byte new set from user memory before it
  // validates `how`: EFAULT means unreadable, EINVAL (our invalid how) means
  // readable. Probing 8 bytes at addr and at addr+len-8 covers the range
  // (conservatively refusing a short range that ends just before a hole).
  long ret = RawSyscall4(SYS_rt_sigprocmask, ~0L, static_cast<long>(addr), 0, 8);
  if (ret != -EINVAL) return false;
  if (len <= 8) return true;
  ret = RawSyscall4(SYS_rt_sigprocmask, ~0L, static_cast<long>(addr + len - 8), 0, 8);
  return ret == -EINVAL;
}

CPPROF_SIGNAL_SAFE bool TrustStack(uintptr_t sp, SafeLoadCache* cache) {
  cache->lo = cache->hi = 0;
  if (sp >= t_stack_lo && sp < t_stack_hi) {
    cache->lo = sp;
    cache->hi = t_stack_hi;
    return true;
  }
  ReaderSection section;
  const MemRange* r = FindRange(g_snapshot.load(std::memory_order_acquire), sp);
  if (r == nullptr || (r->flags & (kReadable | kFileBacked)) != kReadable) {
    g_stale.store(true, std::memory_order_relaxed);
    return false;
  }
  cache->lo = sp & ~(kPage - 1);
  cache->hi = r->end;
  return true;
}

CPPROF_SIGNAL_SAFE bool IsExecutableAddress(uintptr_t addr) {
  ReaderSection section;
  const MemRange* r = FindRange(g_snapshot.load(std::memory_order_acquire), addr);
  if (r != nullptr && (r->flags & kExecutable) != 0) return true;
  if (r != nullptr) {
    // Data in the snapshot; it may be code mapped over it since (dlopen):
    // have the next refresh look again.
    g_stale.store(true, std::memory_order_relaxed);
    return false;
  }
  // Mapped after the snapshot (dlopen, JIT): readability is the best check.
  g_stale.store(true, std::memory_order_relaxed);
  return ProbeReadable(addr, 1);
}

CPPROF_SIGNAL_SAFE CPPROF_NO_SANITIZE_MEMORY_READS bool SafeLoadSlow(uintptr_t addr,
                                                                     uintptr_t* out,
                                                                     SafeLoadCache* cache) {
  // Reads memory this code does not own, only after proving it readable.
  if (addr < kPage || addr > kMaxUserAddress) return false;
  uintptr_t last = addr + sizeof(uintptr_t) - 1;
  bool ok = false;
  if (cache->lo == cache->hi) {
    // No window yet: if addr is on the caller's own stack, adopt that.
    uintptr_t sp = CurrentSp();
    SafeLoadCache own;
    if (TrustStack(sp, &own) && addr >= own.lo && last < own.hi) {
      *cache = own;
      ok = true;
    }
  }
  if (!ok) {
    uintptr_t first_page = addr & ~(kPage - 1);
    uintptr_t last_page = last & ~(kPage - 1);
    bool first_known = first_page >= cache->lo && first_page < cache->hi;
    bool last_known = last_page >= cache->lo && last_page < cache->hi;
    if (!first_known && !ProbeReadable(first_page, 8)) return false;
    if (!last_known && last_page != first_page && !ProbeReadable(last_page, 8)) return false;
    // Grow the window when the new page(s) touch it; else move it.
    if (cache->hi != cache->lo && first_page <= cache->hi && last_page + kPage >= cache->lo) {
      if (first_page < cache->lo) cache->lo = first_page;
      if (last_page + kPage > cache->hi) cache->hi = last_page + kPage;
    } else {
      cache->lo = first_page;
      cache->hi = last_page + kPage;
    }
  }
  *out = *reinterpret_cast<const volatile uintptr_t*>(addr);
  return true;
}

}  // namespace internal
}  // namespace cpprof
