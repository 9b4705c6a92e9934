// SPDX-License-Identifier: Apache-2.0

#include "http/routes.h"

#include <set>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "cpprof/cpprof.h"
#include "cpprof/handler.h"
#include "http/fake_sources.h"
#include "http/http_util.h"

using namespace cpprof::internal;
using cpprof::Request;
using cpprof::Response;

namespace {

Response Get(const std::string& target, const EndpointConfig& config = EndpointConfig(),
             cpprof::internal::HeaderList headers = {}, const std::string& method = "GET",
             const std::string& body = "") {
  cpprof_test::RegisterFakes();
  Request r;
  r.method = method;
  r.target = target;
  r.headers = std::move(headers);
  r.body = body;
  return HandleWithConfig(r, config);
}

EndpointConfig WithToken(const std::string& token) {
  EndpointConfig c;
  c.token = token;
  return c;
}

void CheckGoError(const Response& r, int status) {
  CHECK(r.status == status);
  CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(r.header("X-Go-Pprof") == "1");
  CHECK(r.header("X-Content-Type-Options") == "nosniff");
  CHECK(r.header("Content-Disposition") == "");
  CHECK(!r.body.empty());
  CHECK(r.body.back() == '\n');
}

}  // namespace

TEST_CASE("A registered proto source is served as an octet-stream attachment") {
  Response r = Get("/debug/pprof/fakeproto");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "application/octet-stream");
  CHECK(r.header("Content-Disposition") == "attachment; filename=\"fakeproto\"");
  CHECK(r.header("X-Content-Type-Options") == "nosniff");
  CHECK(r.header("X-Go-Pprof") == "");
  CHECK(r.body == std::string("\x1f\x8b\x08\x00proto", 9));
}

TEST_CASE("A text answer from a source is text/plain without a disposition") {
  Response r = Get("/debug/pprof/fakeproto?debug=1");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(r.header("Content-Disposition") == "");
  CHECK(r.body == "text form\n");
}

TEST_CASE("A source's error goes through ServeError with its status") {
  Response r = Get("/debug/pprof/fakefail");
  CheckGoError(r, 409);
  CHECK(r.body == "profile already running at another rate\n");
}

TEST_CASE("An unknown profile name is 404 Unknown profile in Go's error format") {
  Response r = Get("/debug/pprof/nosuch");
  CheckGoError(r, 404);
  CHECK(r.body == "Unknown profile: nosuch\n");
  CheckGoError(Get("/debug/pprof/a/b"), 404);
  CheckGoError(Get("/elsewhere"), 404);
}

TEST_CASE("The source receives decoded parameters, the limits and a cancelled function") {
  EndpointConfig config;
  config.limits.max_profile_seconds = 77;
  Get("/debug/pprof/fakeproto?seconds=5&name=a%20b%2Bc&seconds=7&x=1+2", config);
  auto* src = cpprof_test::RegisterFakes().recording;
  std::lock_guard<std::mutex> lock(src->mu);
  CHECK(src->last_params.at("seconds") == "7");
  CHECK(src->last_params.at("name") == "a b+c");
  CHECK(src->last_params.at("x") == "1 2");
  CHECK(src->last_limits_max_seconds == 77);
  CHECK(src->saw_cancelled_fn);
}

TEST_CASE("A malformed query is 400") {
  CheckGoError(Get("/debug/pprof/fakeproto?x=%zz"), 400);
}

TEST_CASE("Too many query parameters are 400") {
  std::string q;
  for (int i = 0; i < 100; ++i) q += "a" + std::to_string(i) + "=1&";
  CheckGoError(Get("/debug/pprof/fakeproto?" + q), 400);
}

TEST_CASE("An over-long target is 414") {
  EndpointConfig config;
  config.max_target_bytes = 100;
  CheckGoError(Get("/debug/pprof/fakeproto?x=" + std::string(200, 'a'), config), 414);
}

TEST_CASE("Without a configured token everything is served") {
  CHECK(Get("/debug/pprof/fakeproto").status == 200);
}

TEST_CASE("A configured token is required; missing or wrong gets 401 with a Basic challenge") {
  EndpointConfig config = WithToken("s3cret");
  Response r = Get("/debug/pprof/fakeproto", config);
  CheckGoError(r, 401);
  CHECK(r.header("WWW-Authenticate") == "Basic realm=\"cpprof\"");
  CheckGoError(Get("/debug/pprof/fakeproto", config, {{"Authorization", "Bearer wrong"}}), 401);
  CheckGoError(Get("/debug/pprof/fakeproto?token=s3cre", config), 401);
  CheckGoError(Get("/debug/pprof/fakeproto?token=s3cret1", config), 401);
  // "u:wrong" and a password-less "s3cret"
  CheckGoError(Get("/debug/pprof/fakeproto", config, {{"Authorization", "Basic dTp3cm9uZw=="}}), 401);
  CheckGoError(Get("/debug/pprof/fakeproto", config, {{"Authorization", "Basic czNjcmV0"}}), 401);
  CheckGoError(Get("/debug/pprof/fakeproto", config, {{"Authorization", "Basic !!!"}}), 401);
  // The index and the UI are protected too.
  CheckGoError(Get("/debug/pprof/", config), 401);
  CheckGoError(Get("/debug/pprof/ui/", config), 401);
}

TEST_CASE("The token is accepted as Bearer, as the Basic password with any user, and as ?token=") {
  EndpointConfig config = WithToken("s3cret");
  CHECK(Get("/debug/pprof/fakeproto", config, {{"Authorization", "Bearer s3cret"}}).status == 200);
  CHECK(Get("/debug/pprof/fakeproto", config, {{"authorization", "bearer s3cret"}}).status == 200);
  CHECK(Get("/debug/pprof/fakeproto", config, {{"Authorization", "Basic dTpzM2NyZXQ="}}).status == 200);  // u:s3cret
  CHECK(Get("/debug/pprof/fakeproto", config, {{"Authorization", "Basic OnMzY3JldA=="}}).status == 200);  // :s3cret
  CHECK(Get("/debug/pprof/fakeproto?token=s3cret", config).status == 200);
  CHECK(Get("/debug/pprof/fakeproto?token=s3%63ret", config).status == 200);
}

TEST_CASE("The token parameter never reaches a source") {
  EndpointConfig config = WithToken("s3cret");
  REQUIRE(Get("/debug/pprof/fakeproto?seconds=3&token=s3cret", config).status == 200);
  auto* src = cpprof_test::RegisterFakes().recording;
  std::lock_guard<std::mutex> lock(src->mu);
  CHECK(src->last_params.count("token") == 0);
  CHECK(src->last_params.at("seconds") == "3");
}

TEST_CASE("Methods other than GET and HEAD are 405 with Allow; symbol also takes POST") {
  Response r = Get("/debug/pprof/fakeproto", EndpointConfig(), {}, "POST");
  CheckGoError(r, 405);
  CHECK(r.header("Allow") == "GET, HEAD");
  r = Get("/debug/pprof/", EndpointConfig(), {}, "DELETE");
  CheckGoError(r, 405);
  r = Get("/debug/pprof/symbol", EndpointConfig(), {}, "PUT");
  CheckGoError(r, 405);
  CHECK(r.header("Allow") == "GET, HEAD, POST");
  CHECK(Get("/debug/pprof/fakeproto", EndpointConfig(), {}, "HEAD").status == 200);
  // Unknown names stay 404 whatever the method.
  CheckGoError(Get("/debug/pprof/nosuch", EndpointConfig(), {}, "POST"), 404);
}

TEST_CASE("The prefix without its slash redirects, keeping the query") {
  Response r = Get("/debug/pprof?token=abc", WithToken("abc"));
  CHECK(r.status == 301);
  CHECK(r.header("Location") == "/debug/pprof/?token=abc");
}

TEST_CASE("Routes follow a custom prefix") {
  cpprof_test::RegisterFakes();
  Request req;
  req.target = "/admin/prof/fakeproto";
  req.prefix = "/admin/prof/";
  CHECK(HandleWithConfig(req, EndpointConfig()).status == 200);
  req.target = "/debug/pprof/fakeproto";
  CHECK(HandleWithConfig(req, EndpointConfig()).status == 404);
}

TEST_CASE("The index lists every registered source with count, escaped description and links") {
  Response r = Get("/debug/pprof/");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(r.header("X-Content-Type-Options") == "nosniff");
  CHECK(r.header("Content-Security-Policy").find("default-src 'none'") != std::string::npos);
  const std::string& b = r.body;
  CHECK(b.find("<td>42</td><td><a href=\"./fakeproto?debug=1\">fakeproto</a>") != std::string::npos);
  CHECK(b.find("<a href=\"./fakefail\">fakefail</a>") != std::string::npos);
  CHECK(b.find("A &lt;fake&gt; profile &amp; more") != std::string::npos);
  CHECK(b.find("A <fake>") == std::string::npos);
  CHECK(b.find("./cmdline") != std::string::npos);
  CHECK(b.find("./symbol") != std::string::npos);
  CHECK(b.find("./ui/") != std::string::npos);
  CHECK(b.find("cpprof's own cost") != std::string::npos);
  CHECK(b.find("http_requests_total") != std::string::npos);
}

TEST_CASE("Index links carry a query token so a browser session keeps working") {
  Response r = Get("/debug/pprof/?token=a%26b", WithToken("a&b"));
  REQUIRE(r.status == 200);
  CHECK(r.body.find("./fakeproto?debug=1&amp;token=a%26b") != std::string::npos);
  CHECK(r.body.find("./cmdline?token=a%26b") != std::string::npos);
}

TEST_CASE("metrics: the process collector's figures, then cpprof's own, in Prometheus text") {
  Response r = Get("/debug/pprof/metrics");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  const std::string& b = r.body;
  CHECK(b.rfind("# HELP process_", 0) == 0);
  CHECK(b.find("# HELP process_open_fds Number of open file descriptors.\n# TYPE process_open_fds gauge\n"
               "process_open_fds ") != std::string::npos);
  CHECK(b.find("# TYPE process_cpu_seconds_total counter\n") != std::string::npos);
  CHECK(b.find("# TYPE cpprof_http_requests_total counter\ncpprof_http_requests_total ") != std::string::npos);
  // Every sample line follows its HELP and TYPE lines, and names are unique.
  std::set<std::string> names;
  std::istringstream in(b);
  std::string line, help_of, type_of;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      help_of = line.substr(7, line.find(' ', 7) - 7);
    } else if (line.rfind("# TYPE ", 0) == 0) {
      type_of = line.substr(7, line.find(' ', 7) - 7);
      CHECK(type_of == help_of);
    } else {
      const std::string name = line.substr(0, line.find(' '));
      CHECK(name == type_of);
      CHECK(names.insert(name).second);
    }
  }
  CHECK(names.size() > 20);
  Response bad = Get("/debug/pprof/metrics?debug=1");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("\"debug\"") != std::string::npos);
  CHECK(Get("/debug/pprof/").body.find("metrics") != std::string::npos);
}

TEST_CASE("index.json describes the sources and the stats") {
  Response r = Get("/debug/pprof/index.json");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json");
  const std::string& b = r.body;
  CHECK(b.rfind(std::string("{\"version\":\"") + CPPROF_VERSION_STRING + "\",\"profiles\":[", 0) == 0);
  CHECK(b.find("{\"name\":\"fakeproto\",\"path\":\"/debug/pprof/fakeproto\",\"description\":"
               "\"A \\u003cfake\\u003e profile \\u0026 more\",\"params\":[\"seconds\",\"debug\"],\"count\":42}") !=
        std::string::npos);
  CHECK(b.find("\"stats\":{") != std::string::npos);
  CHECK(b.find("\"http_requests_total\":") != std::string::npos);
}

TEST_CASE("stats is Prometheus text with HELP lines, or JSON") {
  Response r = Get("/debug/pprof/stats");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type").rfind("text/plain", 0) == 0);
  CHECK(r.body.find("# HELP cpprof_http_requests_total ") != std::string::npos);
  CHECK(r.body.find("# TYPE cpprof_http_requests_total counter\ncpprof_http_requests_total ") !=
        std::string::npos);
  r = Get("/debug/pprof/stats?format=json");
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.body.rfind("{\"", 0) == 0);
  CHECK(r.body.find("\"http_requests_total\":") != std::string::npos);
  CheckGoError(Get("/debug/pprof/stats?format=xml"), 400);
}

TEST_CASE("cmdline is argv joined by NUL") {
  Response r = Get("/debug/pprof/cmdline");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
  REQUIRE(!r.body.empty());
  CHECK(r.body.back() != '\0');
  CHECK(r.body.find("cpprof_http_tests") != std::string::npos);
}

TEST_CASE("symbol without addresses answers num_symbols: 1") {
  Response r = Get("/debug/pprof/symbol");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(r.body == "num_symbols: 1\n");
}

TEST_CASE("symbol resolves addresses from a POST body or a GET query, leaving out unknown ones") {
  SetSymbolLookupForTesting([](const std::vector<uint64_t>& addrs) {
    std::vector<std::string> names;
    for (uint64_t a : addrs) names.push_back(a == 0x401000 ? "main" : a == 0x401abc ? "ns::Foo<int>::bar()" : "");
    return names;
  });
  Response r = Get("/debug/pprof/symbol", EndpointConfig(), {}, "POST", "0x401000+0x999+0x401abc");
  CHECK(r.status == 200);
  CHECK(r.body == "num_symbols: 1\n0x401000 main\n0x401abc ns::Foo<int>::bar()\n");
  r = Get("/debug/pprof/symbol?0x401abc+junk+0x401000");
  CHECK(r.body == "num_symbols: 1\n0x401abc ns::Foo<int>::bar()\n0x401000 main\n");
  // A query token is not taken for an address.
  r = Get("/debug/pprof/symbol?0x401000&token=t", WithToken("t"));
  CHECK(r.body == "num_symbols: 1\n0x401000 main\n");
  SetSymbolLookupForTesting(nullptr);
}

TEST_CASE("symbol refuses a body beyond the limit") {
  EndpointConfig config;
  config.max_body_bytes = 16;
  CheckGoError(Get("/debug/pprof/symbol", config, {}, "POST", std::string(64, '1')), 413);
}

void ThisFunctionIsLookedUp() {}

TEST_CASE("symbol uses the real symbolizer by default") {
  char buf[32];
  snprintf(buf, sizeof(buf), "%p", reinterpret_cast<void*>(&ThisFunctionIsLookedUp));
  Response r = Get("/debug/pprof/symbol", EndpointConfig(), {}, "POST", buf);
  CHECK(r.status == 200);
  CHECK(r.body.rfind("num_symbols: 1\n", 0) == 0);
  CHECK(r.body.find("ThisFunctionIsLookedUp") != std::string::npos);
}

namespace {
const char kPage[] = "<!DOCTYPE html><script src=\"app.js\"></script>";
const char kScript[] = "console.log('x');";
const WebAsset kFixtureAssets[] = {
    {"index.html", "text/html; charset=utf-8", {kPage, sizeof(kPage) - 1}},
    {"app.js", "text/javascript; charset=utf-8", {kScript, sizeof(kScript) - 1}},
};
}  // namespace

TEST_CASE("ui redirects to ui/ and serves assets with CSP, no-cache and an ETag") {
  SetWebAssetsForTesting(kFixtureAssets, 2);
  Response r = Get("/debug/pprof/ui");
  CHECK(r.status == 301);
  CHECK(r.header("Location") == "/debug/pprof/ui/");

  r = Get("/debug/pprof/ui/");
  CHECK(r.status == 200);
  CHECK(r.body == kPage);
  CHECK(r.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(r.header("Cache-Control") == "no-cache");
  CHECK(r.header("X-Content-Type-Options") == "nosniff");
  std::string csp = r.header("Content-Security-Policy");
  CHECK(csp.find("default-src 'self'") != std::string::npos);
  CHECK(csp.find("script-src 'self';") != std::string::npos);
  CHECK(csp.find("unsafe") == std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  std::string etag = r.header("ETag");
  CHECK(etag.size() == 18);
  CHECK(etag.front() == '"');

  r = Get("/debug/pprof/ui/app.js");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/javascript; charset=utf-8");
  CHECK(r.body == kScript);
  CHECK(r.header("ETag") != etag);

  Response cached = Get("/debug/pprof/ui/", EndpointConfig(), {{"If-None-Match", "\"other\", " + etag}});
  CHECK(cached.status == 304);
  CHECK(cached.body.empty());
  CHECK(cached.header("ETag") == etag);
  CHECK(Get("/debug/pprof/ui/", EndpointConfig(), {{"If-None-Match", "\"other\""}}).status == 200);

  CheckGoError(Get("/debug/pprof/ui/missing.js"), 404);
  CheckGoError(Get("/debug/pprof/ui/../cmdline"), 404);
  SetWebAssetsForTesting(nullptr, 0);
}

TEST_CASE("Configure refuses a non-loopback address without a token") {
  cpprof::Options o;
  o.address = "0.0.0.0:6060";
  cpprof::Status s = cpprof::Configure(o);
  CHECK_FALSE(s.ok());
  CHECK(s.code() == cpprof::StatusCode::kPermissionDenied);
  o.token = "t";
  CHECK(cpprof::Configure(o).ok());
  o.token.clear();
  o.allow_remote_without_token = true;
  CHECK(cpprof::Configure(o).ok());
  o = cpprof::Options();
  o.address = "[::1]:0";
  CHECK(cpprof::Configure(o).ok());
  o.address = "example.com:80";
  CHECK_FALSE(cpprof::Configure(o).ok());
  CHECK(cpprof::Configure(cpprof::Options()).ok());
}

TEST_CASE("Handle uses the configuration set by Configure") {
  cpprof_test::RegisterFakes();
  cpprof::Options o;
  o.token = "conf";
  REQUIRE(cpprof::Configure(o).ok());
  Request req;
  req.target = "/debug/pprof/fakeproto";
  CHECK(cpprof::Handle(req).status == 401);
  req.target += "?token=conf";
  CHECK(cpprof::Handle(req).status == 200);
  REQUIRE(cpprof::Configure(cpprof::Options()).ok());
  req.target = "/debug/pprof/fakeproto";
  CHECK(cpprof::Handle(req).status == 200);
}

TEST_CASE("Without a token, Host must be an IP literal, localhost or an allowed name (DNS rebinding)") {
  for (const char* host : {"127.0.0.1:6060", "127.0.0.1", "[::1]:6060", "localhost:6060", "LOCALHOST", "localhost.:6060",
                           "app.localhost:6060", "10.1.2.3:80", "[fe80::1]"}) {
    CAPTURE(host);
    CHECK(Get("/debug/pprof/fakeproto", EndpointConfig(), {{"Host", host}}).status == 200);
  }
  for (const char* host : {"attacker.example:6060", "attacker.example", "localhost.attacker.example:6060",
                           "127.0.0.1.nip.io:6060", "evil.test"}) {
    CAPTURE(host);
    Response r = Get("/debug/pprof/fakeproto", EndpointConfig(), {{"Host", host}});
    CheckGoError(r, 403);
    CHECK(r.body.find("DNS rebinding") != std::string::npos);
    CHECK(r.body.find("CPPROF_ALLOWED_HOSTS") != std::string::npos);
  }
  // The index and the page are guarded as much as the profiles.
  CheckGoError(Get("/debug/pprof/", EndpointConfig(), {{"Host", "evil.test:6060"}}), 403);
  CheckGoError(Get("/debug/pprof/ui/", EndpointConfig(), {{"Host", "evil.test:6060"}}), 403);
  CheckGoError(Get("/debug/pprof/cmdline", EndpointConfig(), {{"Host", "evil.test:6060"}}), 403);
  // Malformed and repeated Host headers.
  for (const char* host : {"a b", "[::1", "[::1]x", "host:port", "[nothex]:1", "h:1:2", ""}) {
    CAPTURE(host);
    CheckGoError(Get("/debug/pprof/fakeproto", EndpointConfig(), {{"Host", host}}), 403);
  }
  CheckGoError(Get("/debug/pprof/fakeproto", EndpointConfig(), {{"Host", "127.0.0.1"}, {"host", "evil.test"}}), 403);
  // No Host at all (HTTP/1.0 tools): served.
  CHECK(Get("/debug/pprof/fakeproto").status == 200);

  EndpointConfig allowed;
  allowed.origin.allowed_hosts = {"Profiler.Internal", ".corp.example"};
  CHECK(Get("/debug/pprof/fakeproto", allowed, {{"Host", "profiler.internal:6060"}}).status == 200);
  CHECK(Get("/debug/pprof/fakeproto", allowed, {{"Host", "db7.corp.example"}}).status == 200);
  CHECK(Get("/debug/pprof/fakeproto", allowed, {{"Host", "corp.example"}}).status == 403);
  CHECK(Get("/debug/pprof/fakeproto", allowed, {{"Host", "profiler.internal.evil.test"}}).status == 403);
  allowed.origin.allowed_hosts = {"*"};
  CHECK(Get("/debug/pprof/fakeproto", allowed, {{"Host", "anything.example"}}).status == 200);

  // With a token the name is not checked (the token is the guard), the token still is.
  CHECK(Get("/debug/pprof/fakeproto", WithToken("s3cret"), {{"Host", "profiler.example"}, {"Authorization", "Bearer s3cret"}})
            .status == 200);
  CheckGoError(Get("/debug/pprof/fakeproto", WithToken("s3cret"), {{"Host", "profiler.example"}}), 401);
}

TEST_CASE("Requests from other web pages are 403 with or without a token; the endpoint's own page is served") {
  const cpprof::internal::HeaderList own = {{"Host", "127.0.0.1:6060"}, {"Origin", "http://127.0.0.1:6060"},
                                            {"Sec-Fetch-Site", "same-origin"}};
  CHECK(Get("/debug/pprof/fakeproto", EndpointConfig(), own).status == 200);
  CHECK(Get("/debug/pprof/fakeproto", EndpointConfig(), {{"Host", "localhost"}, {"Origin", "http://LocalHost:80"}}).status == 200);
  CHECK(Get("/debug/pprof/fakeproto", EndpointConfig(), {{"Host", "127.0.0.1:6060"}, {"Sec-Fetch-Site", "none"}}).status == 200);
  CHECK(Get("/debug/pprof/symbol", EndpointConfig(), own, "POST", "0x1").status == 200);

  for (const EndpointConfig& config : {EndpointConfig(), WithToken("s3cret")}) {
    const std::string auth = config.token.empty() ? "" : "Bearer s3cret";
    auto with = [&](cpprof::internal::HeaderList h) {
      if (!auth.empty()) h.emplace_back("Authorization", auth);
      return h;
    };
    for (const cpprof::internal::HeaderList& h : {
             with({{"Host", "127.0.0.1:6060"}, {"Origin", "http://attacker.example"}}),
             with({{"Host", "127.0.0.1:6060"}, {"Origin", "http://127.0.0.1:8080"}}),  // another port is another origin
             with({{"Host", "127.0.0.1:6060"}, {"Origin", "https://127.0.0.1:6061"}}),
             with({{"Host", "127.0.0.1:6060"}, {"Origin", "null"}}),  // sandboxed frames, file:// pages
             with({{"Origin", "http://127.0.0.1:6060"}}),             // an Origin but no Host
             with({{"Host", "127.0.0.1:6060"}, {"Sec-Fetch-Site", "cross-site"}}),  // <img>, <script>, no-cors fetch
             with({{"Host", "127.0.0.1:6060"}, {"Sec-Fetch-Site", "same-site"}}),   // a page on localhost:other
         }) {
      Response r = Get("/debug/pprof/fakeproto?seconds=600", config, h);
      CheckGoError(r, 403);
      CHECK(r.body.find("Forbidden") == 0);
      CheckGoError(Get("/debug/pprof/symbol", config, h, "POST", "0x1"), 403);
    }
  }
}
