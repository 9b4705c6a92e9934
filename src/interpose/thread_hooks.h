// SPDX-License-Identifier: Apache-2.0
//
// pthread_create interposition. cpprof defines pthread_create (exported from
// libcpprof.so and libcpprof_preload.so, or from the executable when the
// static library is linked in); it forwards to the next definition
// (dlsym(RTLD_NEXT)) and, while a profiler has installed hooks, runs them in
// the new thread before its start routine and when it exits (also through
// pthread_exit or cancellation, via a thread-specific-data destructor).
//
// Hooks are plain function pointers published with release/acquire, so they
// can be installed and removed at any time. Not signal context.

#ifndef CPPROF_SRC_INTERPOSE_THREAD_HOOKS_H_
#define CPPROF_SRC_INTERPOSE_THREAD_HOOKS_H_

namespace cpprof {
namespace internal {

using ThreadHook = void (*)();

// Sets (or clears, with nullptrs) the hooks run in new threads: on_start in
// the new thread before its start routine, on_exit when it ends.
void SetThreadHooks(ThreadHook on_start, ThreadHook on_exit);

// Number of threads created through the hook since the process started.
unsigned long ThreadsCreatedThroughHook();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_INTERPOSE_THREAD_HOOKS_H_
