// SPDX-License-Identifier: Apache-2.0
// -----------------------------------------------------------------------------
// File: cpprof/handler.h
// -----------------------------------------------------------------------------
//
// The framework-agnostic core of the endpoint: a request in, a response out.
// Use it to serve cpprof's routes from any HTTP server:
//
//   cpprof::Request req;
//   req.method = "GET";
//   req.target = "/debug/pprof/profile?seconds=5";   // path and query, as sent
//   req.headers = {{"Authorization", "Bearer s3cret"}};
//   cpprof::Response res = cpprof::Handle(req);      // blocks for 5 s
//
// The own listener (cpprof/server.h) and the cpp-httplib adapter
// (cpprof/httplib.h) are built on Handle().
//
// Thread safety: Handle() may be called from many threads at once. It never
// throws. It is not async-signal-safe.

#ifndef CPPROF_HANDLER_H_
#define CPPROF_HANDLER_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cpprof/options.h"
#include "cpprof/status.h"

#if defined(CPPROF_BUILDING_LIBRARY)
#define CPPROF_API __attribute__((visibility("default")))
#else
#define CPPROF_API
#endif

namespace cpprof {

struct Request {
  std::string method = "GET";
  std::string target;  // path plus optional "?query", percent-encoded as received
  std::vector<std::pair<std::string, std::string>> headers;  // names in any case
  std::string body;
  // Optional: returns true once the client has gone away. Long requests (CPU
  // profiles) poll it and end early, releasing their share of the sampling.
  std::function<bool()> cancelled;
  // Where the routes are mounted: "/debug/pprof" serves "/debug/pprof/",
  // "/debug/pprof/heap", ... Links and redirects the endpoint produces use it.
  std::string prefix = "/debug/pprof";
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // includes Content-Type
  std::string body;

  // Returns the value of header `name` (case-insensitive), or "".
  CPPROF_API std::string header(const std::string& name) const;
};

// Serves one request with the process-wide endpoint configuration (set by
// Configure(), Server::Start() or the environment).
//
// Routes under request.prefix (Go's net/http/pprof plus cpprof's own):
//   /            HTML index of every profile kind, with cpprof's own cost
//   /index.json  the same, machine-readable (used by the flame-graph page)
//   /stats       cpprof's own cost, Prometheus text (or ?format=json)
//   /metrics     Prometheus: the process collector's metrics and cpprof's
//                own (a host mounting the handler scrapes PREFIX/metrics,
//                so it never collides with its own /metrics; cpprof's own
//                listener also answers at /metrics)
//   /cmdline     the process's argv, NUL-separated
//   /symbol      address -> function name, as `go tool pprof` expects
//   /ui/         the embedded flame-graph page
//   /<name>      profile <name> (profile, heap, ...); unknown names get 404
// Only GET and HEAD are allowed (and POST for /symbol); others get 405.
// When a token is configured, requests without it get 401. Errors are
// text/plain with an `X-Go-Pprof: 1` header, as Go's. Paths outside the
// prefix get 404.
CPPROF_API Response Handle(const Request& request);

// Sets the configuration Handle() uses (token, limits, CPU rates) without
// starting a listener. Returns an error for invalid options (including a
// non-loopback `address` without a token, unless allow_remote_without_token)
// and then leaves the previous configuration in place.
CPPROF_API Status Configure(const Options& options);

}  // namespace cpprof

#endif  // CPPROF_HANDLER_H_
