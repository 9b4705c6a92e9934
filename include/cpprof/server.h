// SPDX-License-Identifier: Apache-2.0
// -----------------------------------------------------------------------------
// File: cpprof/server.h
// -----------------------------------------------------------------------------
//
// Server runs cpprof's own HTTP listener on its own threads:
//
//   cpprof::Options options;                 // 127.0.0.1:6060
//   cpprof::Server debug(options);
//   if (cpprof::Status s = debug.Start(); !s.ok()) { /* log s.message() */ }
//   ...
//   debug.Stop();                            // also done by the destructor
//
// Start() validates the options (a non-loopback address needs a token unless
// allow_remote_without_token is set), binds, and returns; requests are served
// in the background. Only one Server may run per process at a time.
//
// Thread safety: Start/Stop/port are thread-safe. Not async-signal-safe.

#ifndef CPPROF_SERVER_H_
#define CPPROF_SERVER_H_

#include <memory>

#include "cpprof/handler.h"
#include "cpprof/options.h"
#include "cpprof/status.h"

namespace cpprof {

class CPPROF_API Server {
 public:
  explicit Server(Options options = Options());
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving. Returns an error (bad address, port in use,
  // refused by the security policy, already running) and leaves nothing
  // running on failure.
  Status Start();
  // Stops accepting, ends running profiles early and joins the threads.
  void Stop();
  // Returns the bound port (useful with port 0), or 0 when not running.
  int port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Starts the process-wide listener from the environment: CPPROF_ADDR (if
// unset, nothing starts and OK is returned), CPPROF_TOKEN,
// CPPROF_ALLOW_REMOTE, CPPROF_ALLOWED_HOSTS and the profiles' settings. Called automatically when the library is loaded with
// CPPROF_ADDR set (linked or LD_PRELOADed).
CPPROF_API Status StartFromEnvironment();

}  // namespace cpprof

#endif  // CPPROF_SERVER_H_
