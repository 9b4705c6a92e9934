// SPDX-License-Identifier: Apache-2.0
// -----------------------------------------------------------------------------
// File: cpprof/cpprof.h
// -----------------------------------------------------------------------------
//
// cpprof serves pprof-compatible profiles of the running process over HTTP,
// like Go's net/http/pprof. Link it in (or LD_PRELOAD libcpprof_preload.so
// with CPPROF_ADDR=127.0.0.1:6060) and start the endpoint once:
//
//   #include <cpprof/cpprof.h>
//   int main() {
//     cpprof::Server debug(cpprof::Options{});   // 127.0.0.1:6060
//     if (cpprof::Status s = debug.Start(); !s.ok()) {
//       fprintf(stderr, "cpprof disabled: %s\n", s.message().c_str());
//     }
//     ...
//   }
//
//   $ go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=30
//
// Other ways in: cpprof/httplib.h mounts the routes on an existing
// cpp-httplib server; cpprof/handler.h serves them from any HTTP framework.

#ifndef CPPROF_CPPROF_H_
#define CPPROF_CPPROF_H_

#include <cstdint>
#include <string>

#include "cpprof/handler.h"
#include "cpprof/options.h"
#include "cpprof/server.h"
#include "cpprof/status.h"

// The project's only statement of its version (CMake reads it from here).
#define CPPROF_VERSION_MAJOR 0
#define CPPROF_VERSION_MINOR 1
#define CPPROF_VERSION_PATCH 0
#define CPPROF_VERSION_STR_(x) #x
#define CPPROF_VERSION_STR(x) CPPROF_VERSION_STR_(x)
// "MAJOR.MINOR.PATCH", as a string literal.
#define CPPROF_VERSION_STRING                                                             \
  CPPROF_VERSION_STR(CPPROF_VERSION_MAJOR) "." CPPROF_VERSION_STR(CPPROF_VERSION_MINOR) "." \
      CPPROF_VERSION_STR(CPPROF_VERSION_PATCH)

namespace cpprof {
// Returns the library's version, e.g. "0.1.0".
CPPROF_API const char* Version();

// Declares that the object at `p` (as returned by malloc or new) is
// deliberately never freed: /debug/pprof/leaks and the exit report never list
// it (it is still scanned for pointers to other objects). A no-op for
// objects heap sampling did not pick, which are never reported anyway, and
// when heap sampling is not cpprof's. Thread-safe, cheap.
CPPROF_API void IgnoreLeak(const void* p);

// Descriptor alerts (/debug/pprof/fd's watchdog): raised when the open
// descriptor count reaches 80 % and 95 % of the RLIMIT_NOFILE soft limit
// (Options::fd_warn_percent, fd_critical_percent), keeps growing, when a
// call failed with EMFILE/ENFILE, and when a descriptor number >= 1024
// exists (select() hazard). Each is written to stderr and passed to the
// callback, on a cpprof thread, outside any lock of cpprof's.
struct FdAlert {
  std::string kind;        // "warn", "critical", "growth", "emfile", "select"
  int64_t open_fds = 0;    // open descriptors when raised
  int64_t soft_limit = 0;  // RLIMIT_NOFILE soft limit then (-1: unlimited)
  std::string message;     // one line, as written to stderr
  std::string top_stacks;  // the top creation sites, one per line
};
// Sets (or clears, with nullptr) the function alerts are passed to.
// Thread-safe.
CPPROF_API void SetFdAlertCallback(void (*callback)(const FdAlert& alert));

// Mutex contention profile: records 1 of every `fraction` contended unlocks
// of pthread mutexes (std::mutex and friends), weighted back; 1 records all,
// 0 turns it off, a negative value only reports. Returns the previous
// setting, as Go's runtime.SetMutexProfileFraction. Thread-safe; takes
// effect at once.
CPPROF_API int64_t SetMutexProfileFraction(int64_t fraction);

// Block profile: about one sample per `rate_ns` nanoseconds that threads
// spend waiting for pthread mutexes, rwlocks and condition variables; 1
// records every wait, 0 turns it off, a negative value only reports.
// Returns the previous setting. Thread-safe; takes effect at once.
CPPROF_API int64_t SetBlockProfileRate(int64_t rate_ns);

// Annotations for locks cpprof cannot see: those built on futexes or spins
// rather than pthread functions (absl::Mutex, folly's mutexes, your own).
// Call them from the lock's slow path; they cost nothing while the profile
// is off and are sampled like pthread events while it is on.
//   RecordLockWait(ns): the calling thread has just waited `ns` to acquire
//     the lock (block profile, at the caller's stack, label kind=user).
//   RecordContendedUnlock(ns): this unlock released waiters that waited
//     `ns` in total since the previous unlock (mutex profile, at the
//     caller's stack) - what absl::RegisterMutexProfiler's callback gets
//     (convert its cycles to nanoseconds).
// Async-signal-safe; never allocate or lock.
CPPROF_API void RecordLockWait(int64_t wait_ns);
CPPROF_API void RecordContendedUnlock(int64_t delay_ns);
}  // namespace cpprof

#endif  // CPPROF_CPPROF_H_
