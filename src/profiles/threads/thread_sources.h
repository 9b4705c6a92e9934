// SPDX-License-Identifier: Apache-2.0
//
// The thread routes: "goroutine" and "threads" (the same thread dump: proto
// goroutine/count, debug=1 grouped text, debug=2 one block per thread,
// seconds=N a delta), "threadcreate" (creation stacks of live threads) and
// "thread_leaks" (creation sites whose live thread count keeps growing).

#ifndef CPPROF_SRC_PROFILES_THREADS_THREAD_SOURCES_H_
#define CPPROF_SRC_PROFILES_THREADS_THREAD_SOURCES_H_

#include <memory>
#include <vector>

#include "registry/profile_source.h"

namespace cpprof {
namespace internal {

// Creates the four sources and registers the thread figures on the stats page.
std::vector<std::unique_ptr<ProfileSource>> NewThreadProfileSources();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_THREADS_THREAD_SOURCES_H_
