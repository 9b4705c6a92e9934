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

#include "cpprof/handler.h"
#include "cpprof/options.h"
#include "cpprof/server.h"
#include "cpprof/status.h"

#define CPPROF_VERSION_MAJOR 0
#define CPPROF_VERSION_MINOR 1
#define CPPROF_VERSION_PATCH 0

namespace cpprof {
// Returns the library's version, e.g. "0.1.0".
CPPROF_API const char* Version();

// Declares that the object at `p` (as returned by malloc or new) is
// deliberately never freed: /debug/pprof/leaks and the exit report never list
// it (it is still scanned for pointers to other objects). A no-op for
// objects heap sampling did not pick, which are never reported anyway, and
// when heap sampling is not cpprof's. Thread-safe, cheap.
CPPROF_API void IgnoreLeak(const void* p);
}  // namespace cpprof

#endif  // CPPROF_CPPROF_H_
