// SPDX-License-Identifier: Apache-2.0
//
// Leak detection, tier 2: which sampled objects does no live memory point
// to? On request:
//   1. threads running user code are parked (thread_park.h) so their
//      registers sit in memory; threads blocked in a system call are not
//      signalled: their stack pointer comes from /proc;
//   2. a child is made with a raw clone(SIGCHLD) (no fork handlers: a parked
//      thread may hold malloc's locks), and the threads are released at once;
//   3. the child scans, without allocating (mmap'ed buffers, raw system
//      calls): roots are every readable-writable mapping except the sample
//      region and cpprof's own metadata; thread stacks from their stack
//      pointer up; any aligned word pointing into a live sampled object,
//      interior pointers and low-bit tags included, marks it, and marked
//      objects are scanned in turn; it writes the unmarked sampled objects
//      older than `min_age` to a pipe and exits.
// The glibc heap is a root ("unreferenced" mode): a leaked object that
// stale or leaked unsampled memory still points to is not found (false
// negatives), but nothing a live pointer reaches is ever reported. A pointer
// held only in a callee-saved register of a thread blocked across the scan
// is invisible; an object is therefore reported only when it was unreachable
// in two scans `confirm_ms` apart.
//
// One scan at a time. Not signal-safe; thread-safe.

#ifndef CPPROF_SRC_PROFILES_HEAP_LEAK_SCAN_H_
#define CPPROF_SRC_PROFILES_HEAP_LEAK_SCAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "cpprof/status.h"

namespace cpprof {
namespace internal {
namespace heap {

struct LeakScanOptions {
  int64_t min_age_seconds = 0;
  int confirm_ms = 500;        // second scan after this; 0 = one scan
  int park_timeout_ms = 500;
  int scan_timeout_ms = 60000;
  int signo = 0;               // 0: SIGRTMIN + 4
};

struct LeakedObject {
  uint32_t page;       // region page of the object (an id, not a pointer)
  int32_t slot;        // stack-table slot of its allocation stack, -1 = none
  uint64_t size;
  int64_t objects_fx;  // weights, as the heap profile's
  int64_t space;
  int64_t alloc_sec;   // CLOCK_MONOTONIC_COARSE seconds
};

struct LeakScanResult {
  std::vector<LeakedObject> leaked;  // unreachable in every scan, old enough
  int scans = 0;
  int64_t live_samples = 0;          // sampled objects alive at the last scan
  int64_t lost_samples = 0;          // of the region's, taken over by glibc since the last sweep (skipped)
  int64_t roots_bytes = 0;           // memory scanned as roots in the last scan
  int parked_threads = 0;            // running threads parked (last scan)
  int blocked_threads = 0;           // threads left alone in a system call (last scan)
  int unparkable_threads = 0;        // running threads that block the signal (stacks scanned whole)
  int heaps_walked = 0;              // glibc heaps walked and traced, the others being roots (last scan)
  bool main_heap_walked = false;     // the main heap among them
  int64_t heap_chunks = 0;           // their in-use chunks, and glibc's mmapped chunks
  int64_t mmapped_chunks = 0;        // of them, mmapped chunks (traced, not roots)
  int64_t unsampled_leaked = 0;      // in-use unsampled chunks nothing reaches (exact)
  int64_t unsampled_leaked_bytes = 0;
  double pause_ms = 0;               // longest time threads were parked
  double scan_ms = 0;                // total time of the child scans
};

// Errors: kFailedPrecondition (heap sampling is not cpprof's, or a scan is
// running: HTTP 409), kUnavailable (threads could not be parked, the child
// failed or timed out: 503).
Status ScanForLeaks(const LeakScanOptions& options, LeakScanResult* result);

}  // namespace heap
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_LEAK_SCAN_H_
