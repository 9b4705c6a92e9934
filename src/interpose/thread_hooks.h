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

// A second, independent observer of thread creation (the threadcreate
// profile), beside the hooks above. on_create runs in the creating thread
// inside pthread_create, before the thread exists, and returns a token;
// the new thread gets it in on_start, before its start routine; if creation
// fails, on_failed gets it back in the creating thread. on_exit runs in the
// thread when it ends (return, pthread_exit, cancellation). All four must
// be set. Threads created while no observer is set are not seen.
struct ThreadCreationObserver {
  void* (*on_create)();
  void (*on_start)(void* token);
  void (*on_failed)(void* token);
  void (*on_exit)();
};
// Sets the observer (a static object; nullptr clears it).
void SetThreadCreationObserver(const ThreadCreationObserver* observer);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_INTERPOSE_THREAD_HOOKS_H_
