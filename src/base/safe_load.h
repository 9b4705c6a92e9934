// SPDX-License-Identifier: Apache-2.0
//
// Fault-free memory reads for stack walking, plus the grace-period gate that
// lets signal handlers read published snapshots without locks.
//
// Signal context: ReaderGate::Enter/Exit, SafeLoad, ProbeReadable,
// TrustStack, IsExecutableAddress. Everything else here (refreshing and
// freeing the readable-memory snapshot, RegisterCurrentThreadStack) is NOT
// signal-safe.
//
// How a read is judged (no SIGSEGV/SIGBUS is ever taken):
//   1. Inside the caller's SafeLoadCache window: read directly (a few ns).
//      The window is either the current thread's own stack (TrustStack: the
//      interrupted thread runs on it, so it cannot be unmapped under us) or
//      pages a syscall probe found readable.
//   2. Otherwise probe the page with rt_sigprocmask(invalid how, addr), which
//      the kernel answers with EFAULT for unreadable memory (one syscall,
//      ~150-300 ns), and extend the window if the page is adjacent to it.
// The /proc/self/maps snapshot (sorted, published atomically) supplies the
// bounds of the stack mapping for TrustStack and the executable ranges for
// IsExecutableAddress; it is never trusted for memory that could have been
// unmapped since it was taken, which is why non-stack reads are probed.

#ifndef CPPROF_SRC_BASE_SAFE_LOAD_H_
#define CPPROF_SRC_BASE_SAFE_LOAD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/config.h"

namespace cpprof {
namespace internal {

// Readers (signal handlers) bracket their use of published snapshots with
// Enter/Exit; a writer that has unpublished a snapshot calls Synchronize()
// and may free it once Synchronize() returns true. Two reader counters with
// an epoch flip (as in userspace RCU) so a steady stream of new readers
// cannot starve the writer.
class ReaderGate {
 public:
  CPPROF_SIGNAL_SAFE unsigned Enter() {
    unsigned slot = epoch_.load(std::memory_order_seq_cst) & 1u;
    readers_[slot].fetch_add(1, std::memory_order_seq_cst);
    return slot;
  }
  CPPROF_SIGNAL_SAFE void Exit(unsigned slot) {
    readers_[slot].fetch_sub(1, std::memory_order_release);
  }
  // Not signal-safe. Waits until every reader that entered before the call
  // has exited. Returns false (nothing may be freed) after timeout_ms.
  bool Synchronize(int timeout_ms);

 private:
  std::atomic<unsigned> epoch_{0};
  std::atomic<long> readers_[2] = {};
};

// The process-wide gate shared by the memory snapshot and the unwind tables.
ReaderGate& SignalReaderGate();

class ReaderSection {
 public:
  CPPROF_SIGNAL_SAFE ReaderSection() : slot_(SignalReaderGate().Enter()) {}
  CPPROF_SIGNAL_SAFE ~ReaderSection() { SignalReaderGate().Exit(slot_); }
  ReaderSection(const ReaderSection&) = delete;
  ReaderSection& operator=(const ReaderSection&) = delete;

 private:
  unsigned slot_;
};

// One call chain's window of memory known to be readable: [lo, hi).
struct SafeLoadCache {
  uintptr_t lo = 0;
  uintptr_t hi = 0;
};

// Not signal-safe. Re-reads /proc/self/maps and publishes the new snapshot;
// the old one is retired. Returns false if the file could not be read.
bool RefreshReadableRanges();
// Not signal-safe. Frees retired snapshots no reader can still hold.
void ReleaseRetiredReadableRanges();
// True when a signal-side lookup missed the snapshot (e.g. a thread created
// since), so the next refresh should re-read the maps.
bool ReadableRangesStale();
size_t ReadableRangesBytes();

// Not signal-safe. Records the calling thread's stack bounds (from
// pthread_getattr_np) in initial-exec TLS, so TrustStack does not depend on
// the maps snapshot for this thread. Optional; call at thread start.
void RegisterCurrentThreadStack();

// Signal-safe. Sets `cache` to the mapping of the calling thread's own stack
// that contains `sp` (registered bounds first, then the maps snapshot).
// Returns false if neither knows `sp`; the cache is then left empty and reads
// fall back to probing.
CPPROF_SIGNAL_SAFE bool TrustStack(uintptr_t sp, SafeLoadCache* cache);

// Signal-safe. True if [addr, addr+len) is readable right now; len is at most
// one page (one or two syscalls; errno is not touched).
CPPROF_SIGNAL_SAFE bool ProbeReadable(uintptr_t addr, size_t len);

// Signal-safe. True if addr lies in an executable mapping of the snapshot;
// for an address the snapshot does not know (mapped since), true if it is
// readable (and the snapshot is marked stale).
CPPROF_SIGNAL_SAFE bool IsExecutableAddress(uintptr_t addr);

CPPROF_SIGNAL_SAFE bool SafeLoadSlow(uintptr_t addr, uintptr_t* out, SafeLoadCache* cache);

// Signal-safe. Reads 8 bytes at addr into *out; false (and *out untouched)
// if the memory is not readable. Never faults.
CPPROF_SIGNAL_SAFE CPPROF_NO_SANITIZE_MEMORY_READS inline bool SafeLoad(uintptr_t addr,
                                                                        uintptr_t* out,
                                                                        SafeLoadCache* cache) {
  // Reads stack slots of frames this code does not own.
  if (addr >= cache->lo && addr < cache->hi && cache->hi - addr >= sizeof(uintptr_t)) {
    *out = *reinterpret_cast<const volatile uintptr_t*>(addr);
    return true;
  }
  return SafeLoadSlow(addr, out, cache);
}

CPPROF_SIGNAL_SAFE inline bool SafeLoad(uintptr_t addr, uintptr_t* out) {
  SafeLoadCache cache;
  return SafeLoadSlow(addr, out, &cache);
}

// Shared by safe_load.cc (signal side) and safe_load_refresh.cc (control
// side, which also defines these objects). Not for other modules.
namespace safe_load_detail {

enum RangeFlags : uint32_t { kReadable = 1, kExecutable = 2, kFileBacked = 4 };

struct MemRange {
  uintptr_t start;
  uintptr_t end;
  uint32_t flags;
};

// Immutable once published.
struct MapsSnapshot {
  const MemRange* ranges = nullptr;  // sorted by start, non-overlapping
  size_t count = 0;
};

extern std::atomic<const MapsSnapshot*> g_snapshot;
extern std::atomic<bool> g_stale;
extern CPPROF_SIGNAL_TLS uintptr_t t_stack_lo;
extern CPPROF_SIGNAL_TLS uintptr_t t_stack_hi;

}  // namespace safe_load_detail
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_SAFE_LOAD_H_
