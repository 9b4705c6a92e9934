// SPDX-License-Identifier: Apache-2.0
//
// The mutex and block profiles from snapshots of their tables (Go's shape:
// sample types contentions/count and delay/nanoseconds, period type
// contentions/count, period 1, values already unsampled), and their
// `debug=1` text (Go's `--- mutex:` / `--- contention:` form, which pprof
// also reads). Not hook context.

#ifndef CPPROF_SRC_PROFILES_CONTENTION_CONTENTION_PROFILE_H_
#define CPPROF_SRC_PROFILES_CONTENTION_CONTENTION_PROFILE_H_

#include <string>

#include "pprof/stack_profile.h"
#include "profiles/contention/contention.h"
#include "stacks/table_snapshot.h"

namespace cpprof {
namespace internal {
namespace contention {

// `now` minus `base` (an empty `base`: everything since the start). The
// profile's comments say how it was sampled; block samples carry a string
// label `kind` (mutex, rwlock, cond).
StackProfile BuildContentionProfile(Which which, const TableSnapshot& now, const TableSnapshot& base);

// Go's debug=1 text of `now`, largest delay first.
std::string ContentionText(Which which, const TableSnapshot& now);

// "1 of every N contended unlocks, ..." for comments and the index page.
std::string SamplingDescription(Which which);

}  // namespace contention
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_CONTENTION_CONTENTION_PROFILE_H_
