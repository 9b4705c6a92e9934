// SPDX-License-Identifier: Apache-2.0
//
// Handle(): the one entry point every transport (own listener, cpp-httplib
// adapter, any framework) calls.
//
// Order of checks, each answering through ServeError():
//   1. target size (414), path outside the prefix (404), malformed query (400);
//   2. browser-origin safety (403, http/origin_policy.h): another page's
//      requests and, without a token, Host names that are not this endpoint;
//   3. authentication when a token is configured (401 + WWW-Authenticate),
//      before routing, so an unauthenticated client learns nothing about
//      which profile kinds exist;
//   4. the route table (404 "Unknown profile: <name>" for names nobody
//      registered), then the method (405 + Allow).
// The `token` query parameter is removed before anything reaches a handler
// or a profile source, so it never shows up in profiles or logs; when it was
// used, links on the index page carry it so a browser session keeps working.
// The configuration is an immutable snapshot behind a shared_ptr: Configure()
// swaps it while requests that already started keep the one they read.

#include "http/routes.h"

#include <mutex>

#include "base/self_stats.h"
#include "http/listen_address.h"
#include "registry/registry.h"

namespace cpprof {

std::string Response::header(const std::string& name) const {
  const std::string* v = internal::FindHeader(headers, name);
  return v ? *v : std::string();
}

namespace internal {
namespace {

std::mutex& ConfigMutex() {
  static std::mutex* mu = new std::mutex();  // used until exit
  return *mu;
}

std::shared_ptr<const EndpointConfig>& ConfigSlot() {
  static auto* slot = new std::shared_ptr<const EndpointConfig>(std::make_shared<EndpointConfig>());
  return *slot;
}

enum Methods : unsigned { kGetHead = 1, kPost = 2 };

struct Route {
  const char* path;    // under the prefix, without the leading '/'
  bool subtree;        // also serves path + "/..."
  unsigned methods;
  void (*serve)(const RouteContext&, Response*);
};

// The one route table. Anything else under the prefix is a profile name.
constexpr Route kRoutes[] = {
    {"", false, kGetHead, ServeIndex},
    {"index.json", false, kGetHead, ServeIndexJson},
    {"stats", false, kGetHead, ServeStats},
    {"metrics", false, kGetHead, ServeMetrics},
    {"cmdline", false, kGetHead, ServeCmdline},
    {"symbol", false, kGetHead | kPost, ServeSymbol},
    {"ui", true, kGetHead, ServeUi},
};
constexpr Route kProfileRoute = {"<name>", false, kGetHead, ServeProfile};

const Route& FindRoute(const std::string& subpath) {
  for (const Route& r : kRoutes) {
    std::string_view p = r.path;
    if (subpath == p) return r;
    if (r.subtree && subpath.size() > p.size() && subpath.compare(0, p.size(), p) == 0 &&
        subpath[p.size()] == '/') {
      return r;
    }
  }
  return kProfileRoute;
}

// Returns true if the request carries the token in one of the three forms;
// *via_query tells whether it was the ?token= form.
bool Authenticated(const Request& request, const std::vector<QueryParam>& all_params,
                   const std::string& token, bool* via_query) {
  *via_query = false;
  bool ok = false;
  // Every candidate is compared, so timing does not tell which form matched.
  for (const QueryParam& p : all_params) {
    if (p.key == "token" && ConstantTimeEquals(p.value, token)) {
      ok = true;
      *via_query = true;
    }
  }
  const std::string* auth = FindHeader(request.headers, "Authorization");
  if (auth != nullptr) {
    std::string_view v = TrimWhitespace(*auth);
    size_t space = v.find(' ');
    std::string_view scheme = v.substr(0, space);
    std::string_view cred = space == std::string_view::npos ? std::string_view() : TrimWhitespace(v.substr(space + 1));
    if (EqualsIgnoreCase(scheme, "Bearer")) {
      if (ConstantTimeEquals(cred, token)) ok = true;
    } else if (EqualsIgnoreCase(scheme, "Basic")) {
      std::string decoded;
      if (Base64Decode(cred, &decoded)) {
        size_t colon = decoded.find(':');
        std::string_view password =
            colon == std::string::npos ? std::string_view() : std::string_view(decoded).substr(colon + 1);
        if (colon != std::string::npos && ConstantTimeEquals(password, token)) ok = true;
      }
    }
  }
  return ok;
}

std::string AllowHeader(unsigned methods) {
  return (methods & kPost) ? "GET, HEAD, POST" : "GET, HEAD";
}

void Dispatch(const Request& request, const EndpointConfig& config, Response* response) {
  if (request.target.size() > config.max_target_bytes) {
    ServeError(response, 414, "Request target too long");
    return;
  }
  std::string prefix = request.prefix;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();

  std::string raw_path;
  std::string raw_query;
  SplitTarget(request.target, &raw_path, &raw_query);
  std::string path;
  if (!PercentDecode(raw_path, false, &path)) {
    ServeError(response, 400, "Malformed request path");
    return;
  }
  bool exact_prefix = path == prefix;
  if (!exact_prefix && path.compare(0, prefix.size() + 1, prefix + "/") != 0) {
    ServeError(response, 404, "404 page not found");
    return;
  }

  std::vector<QueryParam> all_params;
  if (!ParseQuery(raw_query, config.max_query_params, &all_params)) {
    ServeError(response, 400, "Malformed query string");
    return;
  }

  // Before authentication: another web page learns nothing, not even
  // whether a token is needed, and starts nothing.
  std::string why;
  if (!OriginAllowed(request.headers, config.origin, config.token.empty(), &why)) {
    GetSelfCounters().http_forbidden_origin.fetch_add(1, std::memory_order_relaxed);
    ServeError(response, 403, why);
    return;
  }

  RouteContext ctx;
  bool via_query = false;
  if (!config.token.empty() && !Authenticated(request, all_params, config.token, &via_query)) {
    ServeError(response, 401, "Unauthorized: send the token as Authorization: Bearer, as the Basic auth password, or as ?token=");
    SetHeader(response, "WWW-Authenticate", "Basic realm=\"cpprof\"");
    return;
  }
  for (QueryParam& p : all_params) {
    if (p.key == "token") {
      if (via_query && ctx.link_query.empty()) {
        // Re-encode only what a link needs; tokens are usually URL-safe.
        std::string enc;
        static const char kHex[] = "0123456789ABCDEF";
        for (unsigned char c : p.value) {
          if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == '~') {
            enc.push_back(static_cast<char>(c));
          } else {
            enc.push_back('%');
            enc.push_back(kHex[c >> 4]);
            enc.push_back(kHex[c & 15]);
          }
        }
        ctx.link_query = "token=" + enc;
      }
      continue;
    }
    ctx.params.push_back(std::move(p));
  }
  ctx.raw_query = StripQueryParam(raw_query, "token");

  if (exact_prefix) {
    // As Go's ServeMux: the subtree root without its slash redirects.
    response->status = 301;
    SetHeader(response, "Location", prefix + "/" + (raw_query.empty() ? "" : "?" + raw_query));
    SetHeader(response, "Content-Type", "text/plain; charset=utf-8");
    response->body = "Moved Permanently\n";
    return;
  }

  ctx.request = &request;
  ctx.config = &config;
  ctx.method = request.method;
  ctx.prefix = prefix;
  ctx.subpath = path.substr(prefix.size() + 1);
  if (request.cancelled) {
    ctx.cancelled = request.cancelled;
  } else {
    ctx.cancelled = [] { return false; };
  }

  const Route& route = FindRoute(ctx.subpath);
  bool allowed = ((route.methods & kGetHead) && (ctx.method == "GET" || ctx.method == "HEAD")) ||
                 ((route.methods & kPost) && ctx.method == "POST");
  if (!allowed) {
    // An unknown name is a 404 whatever the method, as in Go.
    if (&route == &kProfileRoute && Registry::Global().Find(ctx.subpath) == nullptr) {
      ServeError(response, 404, "Unknown profile: " + ctx.subpath);
      return;
    }
    ServeError(response, 405, "Method not allowed");
    SetHeader(response, "Allow", AllowHeader(route.methods));
    return;
  }
  route.serve(ctx, response);
}

}  // namespace

Status ValidateOptions(const Options& options) {
  ListenAddress address;
  Status s = ParseListenAddress(options.address, &address);
  if (!s.ok()) return s;
  if (!address.loopback && options.token.empty() && !options.allow_remote_without_token) {
    return Status(StatusCode::kPermissionDenied,
                  "refusing to serve profiles on non-loopback address \"" + options.address +
                      "\" without a token: set a token (CPPROF_TOKEN) or allow_remote_without_token "
                      "(CPPROF_ALLOW_REMOTE=1)");
  }
  if (options.cpu_default_hz <= 0 || options.cpu_max_hz <= 0 || options.cpu_default_hz > options.cpu_max_hz) {
    return Status(StatusCode::kInvalidArgument, "cpu_default_hz must be in 1..cpu_max_hz");
  }
  if (options.max_profile_seconds <= 0) {
    return Status(StatusCode::kInvalidArgument, "max_profile_seconds must be positive");
  }
  if (options.max_connections <= 0 || options.max_workers <= 0 || options.max_header_bytes < 256 ||
      options.read_timeout_ms <= 0 || options.write_timeout_ms <= 0 || options.keep_alive_timeout_ms < 0 ||
      options.max_long_requests < 0) {
    return Status(StatusCode::kInvalidArgument,
                  "max_connections and max_workers must be positive, max_header_bytes at least 256, "
                  "read_timeout_ms and write_timeout_ms positive, keep_alive_timeout_ms and "
                  "max_long_requests not negative");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "TLS needs both tls_cert_file and tls_key_file (CPPROF_TLS_CERT and CPPROF_TLS_KEY)");
  }
  return Status();
}

EndpointConfig EndpointConfigFromOptions(const Options& options) {
  EndpointConfig c;
  c.token = options.token;
  c.origin.allowed_hosts = options.allowed_hosts;
  c.limits.cpu_default_hz = options.cpu_default_hz;
  c.limits.cpu_max_hz = options.cpu_max_hz;
  c.limits.max_profile_seconds = options.max_profile_seconds;
  c.limits.cpu_signal = options.cpu_signal;
  c.max_body_bytes = options.max_body_bytes;
  c.max_target_bytes = options.max_header_bytes;
  return c;
}

std::shared_ptr<const EndpointConfig> CurrentEndpointConfig() {
  std::lock_guard<std::mutex> lock(ConfigMutex());
  return ConfigSlot();
}

void SetEndpointConfig(const EndpointConfig& config) {
  auto next = std::make_shared<const EndpointConfig>(config);
  std::lock_guard<std::mutex> lock(ConfigMutex());
  ConfigSlot() = std::move(next);
}

void SetHeader(Response* response, std::string_view name, std::string_view value) {
  for (auto& h : response->headers) {
    if (EqualsIgnoreCase(h.first, name)) {
      h.second.assign(value);
      return;
    }
  }
  response->headers.emplace_back(std::string(name), std::string(value));
}

void ServeError(Response* response, int status, std::string_view text) {
  response->status = status;
  // As Go's serveError: drop what a handler may have set for a success.
  std::vector<std::pair<std::string, std::string>> kept;
  for (auto& h : response->headers) {
    if (!EqualsIgnoreCase(h.first, "Content-Disposition") && !EqualsIgnoreCase(h.first, "Content-Type")) {
      kept.push_back(std::move(h));
    }
  }
  response->headers = std::move(kept);
  SetHeader(response, "Content-Type", "text/plain; charset=utf-8");
  SetHeader(response, "X-Go-Pprof", "1");
  SetHeader(response, "X-Content-Type-Options", "nosniff");
  response->body.assign(text);
  response->body.push_back('\n');
}

Response HandleWithConfig(const Request& request, const EndpointConfig& config) {
  RegisterBuiltinSources();
  GetSelfCounters().http_requests.fetch_add(1, std::memory_order_relaxed);
  Response response;
  Dispatch(request, config, &response);
  SetHeader(&response, "X-Content-Type-Options", "nosniff");
  if (response.status >= 400) GetSelfCounters().http_rejected.fetch_add(1, std::memory_order_relaxed);
  return response;
}

}  // namespace internal

Response Handle(const Request& request) {
  std::shared_ptr<const internal::EndpointConfig> config = internal::CurrentEndpointConfig();
  return internal::HandleWithConfig(request, *config);
}

Status Configure(const Options& options) {
  Status s = internal::ValidateOptions(options);
  if (!s.ok()) return s;
  internal::SetEndpointConfig(internal::EndpointConfigFromOptions(options));
  internal::RegisterBuiltinSources();
  internal::Registry::Global().ConfigureAll(options);
  return Status();
}

}  // namespace cpprof
