// SPDX-License-Identifier: Apache-2.0
//
// Heap profiles from another allocator's own sampling, for processes whose
// malloc is not cpprof's sampler (heap_sampler.h modes kNotInterposed and
// kForeign): gperftools' tcmalloc, through MallocExtension::GetHeapSample(),
// and jemalloc built with profiling and run with MALLOC_CONF=prof:true,
// through mallctl("prof.dump") (both found with dlsym, so nothing is
// linked). Its sampled live objects come in
// the legacy heap_v2 text form; each record is one sampled object (since
// gperftools 2.8), so it is unsampled per object, with
// 1 / (1 - exp(-size / period)), as cpprof's own samples are. tcmalloc keeps
// no record of freed samples: alloc_* are not available and are left 0.
//
// Request time only; not signal-safe.

#ifndef CPPROF_SRC_PROFILES_HEAP_NATIVE_HEAP_H_
#define CPPROF_SRC_PROFILES_HEAP_NATIVE_HEAP_H_

#include <string>

#include "pprof/stack_profile.h"

namespace cpprof {
namespace internal {
namespace heap {

// The allocator whose own sampling can be read, or "" when none is present.
std::string NativeAllocatorName();

// Fills *out (Go's four heap sample types; inuse_* from the allocator's
// samples) and returns true when a native allocator answered; *comment says
// which and how it samples (or why its profile is empty).
bool NativeHeapProfile(StackProfile* out);

// The allocator's own text (heap_v2, which go tool pprof reads and
// unsamples), or "" when no native allocator answered.
std::string NativeHeapText();

// Parses heap_v2 text (gperftools' GetHeapSample, jeprof dumps) into *out:
// unsampled per record. Exposed for tests. Returns false if `text` is not
// heap_v2.
bool ParseHeapV2(const std::string& text, StackProfile* out);
// Parses jemalloc's prof.dump (jeprof form) the same way.
bool ParseJemallocDump(const std::string& text, StackProfile* out);

}  // namespace heap
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_NATIVE_HEAP_H_
