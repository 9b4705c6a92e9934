// SPDX-License-Identifier: Apache-2.0
//
// The endpoint's one route table and what its handlers share: the
// process-wide configuration, the parsed request context, ServeError().
// Handlers live in pprof_handlers.cc, symbol_handler.cc and ui_handlers.cc.
// Not signal-safe.

#ifndef CPPROF_SRC_HTTP_ROUTES_H_
#define CPPROF_SRC_HTTP_ROUTES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cpprof/handler.h"
#include "cpprof/options.h"
#include "cpprof/status.h"
#include "http/http_util.h"
#include "http/origin_policy.h"
#include "http/web_assets.h"
#include "registry/profile_source.h"

namespace cpprof {
namespace internal {

// What Handle() needs from cpprof::Options.
struct EndpointConfig {
  std::string token;            // empty: no authentication
  ProfileLimits limits;
  size_t max_body_bytes = 1024 * 1024;
  size_t max_target_bytes = 16 * 1024;
  size_t max_query_params = 64;
  OriginPolicy origin;          // browser-origin checks (origin_policy.h)
};

// Checks the options: sane limits, a parseable address, and the security
// policy (non-loopback address needs a token unless allowed).
Status ValidateOptions(const Options& options);
EndpointConfig EndpointConfigFromOptions(const Options& options);

// The configuration Handle() uses. Set by Configure() and Server::Start().
std::shared_ptr<const EndpointConfig> CurrentEndpointConfig();
void SetEndpointConfig(const EndpointConfig& config);

// Handle() with an explicit configuration (the own listener passes its own).
Response HandleWithConfig(const Request& request, const EndpointConfig& config);

// The one error path, as Go's serveError: status, text/plain; charset=utf-8,
// X-Go-Pprof: 1, X-Content-Type-Options: nosniff, body = text + "\n".
void ServeError(Response* response, int status, std::string_view text);

// Sets a header, replacing an existing one of the same name.
void SetHeader(Response* response, std::string_view name, std::string_view value);

// Everything a route handler gets, parsed once.
struct RouteContext {
  const Request* request = nullptr;
  const EndpointConfig* config = nullptr;
  std::string method;                  // upper case as received
  std::string prefix;                  // e.g. "/debug/pprof", no trailing '/'
  std::string subpath;                 // after prefix + "/", decoded
  std::vector<QueryParam> params;      // decoded, token removed
  std::string raw_query;               // still encoded, token removed
  std::string link_query;              // "token=..." to carry in links, or ""
  std::function<bool()> cancelled;     // never empty
};

// Route handlers (one per route in routes.cc's table).
void ServeIndex(const RouteContext& ctx, Response* response);
void ServeIndexJson(const RouteContext& ctx, Response* response);
void ServeStats(const RouteContext& ctx, Response* response);
void ServeMetrics(const RouteContext& ctx, Response* response);
void ServeCmdline(const RouteContext& ctx, Response* response);
void ServeSymbol(const RouteContext& ctx, Response* response);
void ServeUi(const RouteContext& ctx, Response* response);
void ServeProfile(const RouteContext& ctx, Response* response);

// The symbol route's lookup: returns one name per address ("" when
// unknown). The default uses the process symbolizer (ELF symbol tables).
using SymbolLookup = std::function<std::vector<std::string>(const std::vector<uint64_t>&)>;
// Test seam: replaces the lookup; an empty function restores the default.
void SetSymbolLookupForTesting(SymbolLookup lookup);

// Test seam: serves `assets` instead of the embedded web/ table; nullptr
// restores the embedded table. The array must outlive its use.
void SetWebAssetsForTesting(const WebAsset* assets, size_t count);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_HTTP_ROUTES_H_
