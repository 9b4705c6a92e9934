// SPDX-License-Identifier: Apache-2.0
//
// The heap routes: "heap" and "allocs" (Go's: the same data, allocs
// defaulting to alloc_space; `debug=1` text, `seconds=N` delta, `gc`
// accepted) and "delta_heap" (each call: allocations since the previous
// call, current in-use; what Grafana Alloy's godeltaprof_memory scrapes).

#ifndef CPPROF_SRC_PROFILES_HEAP_HEAP_SOURCE_H_
#define CPPROF_SRC_PROFILES_HEAP_HEAP_SOURCE_H_

#include <memory>
#include <vector>

#include "registry/profile_source.h"

namespace cpprof {
namespace internal {

// Creates the three sources and registers the heap figures on the stats page.
std::vector<std::unique_ptr<ProfileSource>> NewHeapProfileSources();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_HEAP_SOURCE_H_
