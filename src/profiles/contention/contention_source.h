// SPDX-License-Identifier: Apache-2.0
//
// The contention routes: "mutex" and "block" (Go's: cumulative since the
// profile was turned on, `debug=1` text, `seconds=N` delta) and
// "delta_mutex", "delta_block" (each call: the change since the previous
// call of that path; what Grafana Alloy's godeltaprof blocks scrape).

#ifndef CPPROF_SRC_PROFILES_CONTENTION_CONTENTION_SOURCE_H_
#define CPPROF_SRC_PROFILES_CONTENTION_CONTENTION_SOURCE_H_

#include <memory>
#include <vector>

#include "registry/profile_source.h"

namespace cpprof {
namespace internal {

// Creates the four sources and registers the contention figures on the
// stats page.
std::vector<std::unique_ptr<ProfileSource>> NewContentionProfileSources();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_CONTENTION_CONTENTION_SOURCE_H_
