// SPDX-License-Identifier: Apache-2.0
//
// The unwind tables as a process service, for every profile kind whose
// stacks are captured outside a CPU session (allocation, lock and descriptor
// hooks). StartUnwindRefresher() builds the tables at once and starts one
// background thread ("cpprof-unwind") that refreshes them every second
// (cheap when no module was loaded or unloaded since: two counters compared)
// so a library loaded with dlopen is unwound with its CFI rules within a
// second. The thread stops at exit and is restarted in a forked child by the
// next call. The CPU profiler's own session refresh (every 200 ms) is
// independent and unchanged.
//
// Not signal-safe; thread-safe.

#ifndef CPPROF_SRC_UNWIND_UNWIND_SERVICE_H_
#define CPPROF_SRC_UNWIND_UNWIND_SERVICE_H_

namespace cpprof {
namespace internal {

// Idempotent. Returns once the first refresh is done.
void StartUnwindRefresher();
// Whether the refresher thread runs (for tests and the stats page).
bool UnwindRefresherRunning();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_UNWIND_UNWIND_SERVICE_H_
