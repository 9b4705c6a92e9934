// SPDX-License-Identifier: Apache-2.0
// -----------------------------------------------------------------------------
// File: cpprof/httplib.h
// -----------------------------------------------------------------------------
//
// Mounts cpprof's routes on an existing cpp-httplib server:
//
//   #include <httplib.h>
//   #include <cpprof/httplib.h>
//
//   httplib::Server server;
//   cpprof::Attach(server);                 // /debug/pprof/...
//   server.listen("127.0.0.1", 8080);
//
//   $ go tool pprof http://127.0.0.1:8080/debug/pprof/profile?seconds=30
//
// Call Attach() before listen(): cpp-httplib does not lock its route table.
// Requests are served by cpprof::Handle() with the process-wide
// configuration (cpprof::Configure(): token, limits).
//
// This header is deliberately header-only: it is compiled with *your*
// cpp-httplib, so the library never sees an httplib type and any version
// that has Server::Get/Post taking a (const Request&, Response&) handler
// works (Debian 12's 0.11 included). Set a payload limit on your server
// (set_payload_max_length); cpp-httplib's default is unlimited.
//
// A long CPU profile occupies one of your server's worker threads for its
// duration; with cpp-httplib 0.11 each open keep-alive connection also pins a
// worker. If that matters, run cpprof's own listener (cpprof/server.h).
//
// Thread safety: Attach() is not thread-safe with respect to the server it
// modifies; the handlers it installs are. Not async-signal-safe.

#ifndef CPPROF_HTTPLIB_H_
#define CPPROF_HTTPLIB_H_

#if defined(__has_include)
#if !defined(CPPHTTPLIB_HTTPLIB_H) && __has_include(<httplib.h>)
#include <httplib.h>
#endif
#endif

#include <string>
#include <type_traits>
#include <utility>

#include "cpprof/handler.h"

namespace cpprof {
namespace httplib_internal {

// Newer cpp-httplib versions tell a handler whether the client has gone
// away (Request::is_connection_closed); older ones do not. Detect it.
template <typename R, typename = void>
struct HasConnectionClosed : std::false_type {};
template <typename R>
struct HasConnectionClosed<R, std::void_t<decltype(std::declval<const R&>().is_connection_closed())>>
    : std::true_type {};

template <typename R>
void SetCancelled(const R& from, Request* to) {
  if constexpr (HasConnectionClosed<R>::value) {
    const R* req = &from;
    to->cancelled = [req] { return static_cast<bool>(req->is_connection_closed()); };
  }
}

inline std::string EscapeRegex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string("\\^$.|?*+()[]{}").find(c) != std::string::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

template <typename HttplibRequest, typename HttplibResponse>
void Serve(const std::string& prefix, const HttplibRequest& from, HttplibResponse& to) {
  Request request;
  request.method = from.method;
  // `target` is the raw path and query as sent; `path` is already decoded.
  request.target = from.target.empty() ? from.path : from.target;
  for (const auto& h : from.headers) request.headers.emplace_back(h.first, h.second);
  request.body = from.body;
  request.prefix = prefix;
  SetCancelled(from, &request);
  Response response = Handle(request);
  to.status = response.status;
  for (auto& h : response.headers) {
    to.set_header(h.first.c_str(), h.second);
  }
  to.body = std::move(response.body);
}

}  // namespace httplib_internal

// Registers cpprof's routes on `server` under `prefix` (no trailing '/'),
// for GET, HEAD, POST and, answered with 405, PUT, PATCH and DELETE.
template <typename HttplibServer>
void Attach(HttplibServer& server, const std::string& prefix = "/debug/pprof") {
  std::string p = prefix;
  while (!p.empty() && p.back() == '/') p.pop_back();
  const std::string pattern = httplib_internal::EscapeRegex(p) + "(/.*)?";
  using Handler = typename HttplibServer::Handler;
  Handler handler = [p](const auto& req, auto& res) { httplib_internal::Serve(p, req, res); };
  server.Get(pattern, handler);
  server.Post(pattern, handler);
  server.Put(pattern, handler);
  server.Patch(pattern, handler);
  server.Delete(pattern, handler);
}

}  // namespace cpprof

#endif  // CPPROF_HTTPLIB_H_
