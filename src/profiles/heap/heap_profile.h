// SPDX-License-Identifier: Apache-2.0
//
// Heap profiles from the sampler's table: snapshots, the proto form (Go's
// sample types, already unbiased), differences between two snapshots, and
// Go's legacy `debug=1` text. Request time only; not signal-safe.

#ifndef CPPROF_SRC_PROFILES_HEAP_HEAP_PROFILE_H_
#define CPPROF_SRC_PROFILES_HEAP_HEAP_PROFILE_H_

#include <cstdint>
#include <string>

#include "pprof/stack_profile.h"
#include "profiles/heap/heap_growth.h"
#include "profiles/heap/leak_scan.h"
#include "stacks/table_snapshot.h"

namespace cpprof {
namespace internal {
namespace heap {

// The sampler's table and its side totals (weights without a stack, lost
// samples) at this moment.
TableSnapshot TakeHeapSnapshot();

enum class DeltaKind {
  kNone,       // `now` as it is (cumulative alloc_*, current inuse_*)
  kAll,        // every value now - base (Go's ?seconds=N)
  kAllocOnly,  // alloc_* now - base, inuse_* as now (godeltaprof's delta_heap)
};

struct HeapProfileOptions {
  DeltaKind delta = DeltaKind::kNone;
  bool allocs_default = false;  // default_sample_type = alloc_space (/allocs)
};

// `base` is ignored for kNone and may be empty (then it counts as zeros).
StackProfile BuildHeapProfile(const TableSnapshot& now, const TableSnapshot& base,
                              const HeapProfileOptions& options);

// Go's debug=1 text: "heap profile: I: IB [A: AB] @ heap/<2*rate>", then
// one record per stack with raw sample counts (pprof unsamples them, as for
// Go's own output), symbolized frames, and cpprof's sampler figures as
// comments at the end.
std::string HeapProfileText(const TableSnapshot& now);

// Stacks with live sampled objects (the index page's count for heap).
int64_t LiveBuckets();

// "cpprof heap: <mode>; one sample per N bytes ..." (a profile comment).
std::string ModeComment();

// The growth suspects as a profile: sample types inuse_objects, inuse_space,
// growth_objects, growth_space (the default: bytes gained over the window),
// numeric labels oldest_age (seconds), slope (bytes per hour), samples.
StackProfile GrowthProfile(const GrowthReport& report);
// The same as a readable report.
std::string GrowthText(const GrowthReport& report);

// A leak scan's unreachable objects by allocation stack: sample types
// leaked_objects/count, leaked_space/bytes (unbiased like the heap
// profile's), numeric label oldest_age (seconds).
StackProfile LeakProfile(const LeakScanResult& result, int64_t min_age);
// The same as a readable report, with the scan's figures; `suppressed` is
// the number of leaked objects SuppressLeaks() took out.
std::string LeakText(const LeakScanResult& result, const StackProfile& profile, int64_t min_age,
                     int64_t suppressed = 0);

// Suppression patterns from Options::leak_suppressions / CPPROF_LEAK_SUPPRESS:
// split on ';' and newlines, "leak:" prefixes and blanks removed.
std::vector<std::string> ParseSuppressions(const std::string& text);
// Removes from a leak profile every sample whose allocation stack names a
// pattern (function or file, as a substring). Returns the leaked objects
// removed.
int64_t SuppressLeaks(const std::vector<std::string>& patterns, StackProfile* profile);

}  // namespace heap
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_HEAP_PROFILE_H_
