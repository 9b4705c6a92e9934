// SPDX-License-Identifier: Apache-2.0

#include <httplib.h>

#include "cpprof/httplib.h"

#include <doctest/doctest.h>

#include <thread>

#include "http/fake_sources.h"

namespace {

struct MountedServer {
  explicit MountedServer(const std::string& prefix = "/debug/pprof") {
    cpprof_test::RegisterFakes();
    server.Get("/hello", [](const httplib::Request&, httplib::Response& res) { res.set_content("hi", "text/plain"); });
    cpprof::Attach(server, prefix);
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    for (int i = 0; i < 500 && !server.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~MountedServer() {
    server.stop();
    thread.join();
  }
  httplib::Server server;
  int port = 0;
  std::thread thread;
};

}  // namespace

TEST_CASE("Attach mounts the routes on a cpp-httplib server next to its own") {
  MountedServer s;
  REQUIRE(s.port > 0);
  httplib::Client client("127.0.0.1", s.port);
  auto hello = client.Get("/hello");
  REQUIRE(hello);
  CHECK(hello->body == "hi");

  auto proto = client.Get("/debug/pprof/fakeproto?seconds=2");
  REQUIRE(proto);
  CHECK(proto->status == 200);
  CHECK(proto->get_header_value("Content-Type") == "application/octet-stream");
  CHECK(proto->get_header_value("Content-Disposition") == "attachment; filename=\"fakeproto\"");
  CHECK(proto->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(proto->body == std::string("\x1f\x8b\x08\x00proto", 9));

  auto missing = client.Get("/debug/pprof/nosuch");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->get_header_value("X-Go-Pprof") == "1");
  CHECK(missing->body == "Unknown profile: nosuch\n");

  auto index = client.Get("/debug/pprof/");
  REQUIRE(index);
  CHECK(index->status == 200);
  CHECK(index->get_header_value("Content-Type") == "text/html; charset=utf-8");
  CHECK(index->body.find("fakeproto") != std::string::npos);

  auto symbol = client.Post("/debug/pprof/symbol", "0x1+0x2", "application/octet-stream");
  REQUIRE(symbol);
  CHECK(symbol->status == 200);
  CHECK(symbol->body.rfind("num_symbols: 1\n", 0) == 0);

  auto put = client.Put("/debug/pprof/", "x", "text/plain");
  REQUIRE(put);
  CHECK(put->status == 405);
  CHECK(put->get_header_value("Allow") == "GET, HEAD");
}

TEST_CASE("Attach honours a custom prefix and the configured token") {
  MountedServer s("/admin/pprof/");
  httplib::Client client("127.0.0.1", s.port);
  auto r = client.Get("/admin/pprof/fakeproto");
  REQUIRE(r);
  CHECK(r->status == 200);
  auto other = client.Get("/debug/pprof/fakeproto");
  REQUIRE(other);
  CHECK(other->status == 404);

  cpprof::Options o;
  o.token = "tk";
  REQUIRE(cpprof::Configure(o).ok());
  r = client.Get("/admin/pprof/fakeproto");
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->get_header_value("WWW-Authenticate") == "Basic realm=\"cpprof\"");
  client.set_basic_auth("anyone", "tk");
  r = client.Get("/admin/pprof/fakeproto");
  REQUIRE(r);
  CHECK(r->status == 200);
  REQUIRE(cpprof::Configure(cpprof::Options()).ok());
}
