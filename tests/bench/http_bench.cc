// SPDX-License-Identifier: Apache-2.0
//
// HTTP layer costs and behaviour, printed side by side:
//   1. Handle() in process (no socket) for a tiny route;
//   2. the own listener: sequential requests on one keep-alive connection,
//      and one connection per request;
//   3. how soon a running request sees cancelled() after its client closes;
//   4. a third client's wait while two idle keep-alive clients are open on a
//      two-worker server: cpprof::Server versus cpp-httplib 0.11 with
//      cpprof::Attach (each open connection pins an httplib worker).

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cpprof/handler.h"
#include "cpprof/httplib.h"
#include "cpprof/server.h"
#include "registry/registry.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::atomic<int64_t> g_seen_cancel_ns{0};
std::atomic<int> g_running{0};

class WaitSource : public cpprof::internal::ProfileSource {
 public:
  std::string name() const override { return "benchwait"; }
  std::string description() const override { return "Waits until cancelled (1 ms polls)"; }
  std::vector<std::string> parameters() const override { return {}; }
  cpprof::internal::ProfileResponse Collect(const cpprof::internal::ProfileRequest& request) override {
    g_running.fetch_add(1);
    auto end = Clock::now() + std::chrono::seconds(30);
    while (Clock::now() < end) {
      if (request.cancelled()) {
        g_seen_cancel_ns = Clock::now().time_since_epoch().count();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    g_running.fetch_sub(1);
    return cpprof::internal::ProfileResponse::Error(503, "cancelled");
  }
};

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    perror("connect");
    exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Sends a request and reads one Content-Length-framed response; returns the status.
int RoundTrip(int fd, const std::string& request, std::string* buffer) {
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return 0;
  for (;;) {
    size_t end = buffer->find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t len = 0;
      size_t cl = buffer->find("Content-Length: ");
      if (cl != std::string::npos && cl < end) len = std::strtoul(buffer->c_str() + cl + 16, nullptr, 10);
      if (buffer->size() >= end + 4 + len) {
        int status = std::atoi(buffer->c_str() + 9);
        buffer->erase(0, end + 4 + len);
        return status;
      }
    }
    char buf[16384];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return 0;
    buffer->append(buf, static_cast<size_t>(n));
  }
}

void BenchHandle() {
  cpprof::Request req;
  req.target = "/debug/pprof/symbol";
  const int n = 200000;
  auto t0 = Clock::now();
  size_t bytes = 0;
  for (int i = 0; i < n; ++i) bytes += cpprof::Handle(req).body.size();
  double ns = Ms(Clock::now() - t0) * 1e6 / n;
  printf("Handle(GET /symbol) in process          %8.0f ns/request   (%zu bytes)\n", ns, bytes / n);
}

void BenchServer() {
  cpprof::Options o;
  o.address = "127.0.0.1:0";
  cpprof::Server server(o);
  if (!server.Start().ok()) exit(1);
  const std::string keep = "GET /debug/pprof/symbol HTTP/1.1\r\nHost: b\r\n\r\n";
  const std::string close_req = "GET /debug/pprof/symbol HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n";
  int fd = Connect(server.port());
  std::string buffer;
  for (int i = 0; i < 1000; ++i) RoundTrip(fd, keep, &buffer);  // warm-up: worker started
  const int n = 20000;
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    if (RoundTrip(fd, keep, &buffer) != 200) exit(1);
  }
  double us = Ms(Clock::now() - t0) * 1e3 / n;
  close(fd);
  printf("own listener, one keep-alive connection %8.1f us/request  (%.0f requests/s)\n", us, 1e6 / us);

  const int m = 3000;
  t0 = Clock::now();
  for (int i = 0; i < m; ++i) {
    int c = Connect(server.port());
    std::string b;
    if (RoundTrip(c, close_req, &b) != 200) exit(1);
    close(c);
  }
  us = Ms(Clock::now() - t0) * 1e3 / m;
  printf("own listener, connection per request    %8.1f us/request  (%.0f requests/s)\n", us, 1e6 / us);

  // Cancellation latency: client close() -> source sees cancelled().
  std::vector<double> lat;
  for (int i = 0; i < 20; ++i) {
    int c = Connect(server.port());
    std::string req = "GET /debug/pprof/benchwait HTTP/1.1\r\nHost: b\r\n\r\n";
    send(c, req.data(), req.size(), MSG_NOSIGNAL);
    while (g_running.load() == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    g_seen_cancel_ns = 0;
    auto closed = Clock::now();
    close(c);
    while (g_seen_cancel_ns.load() == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
    lat.push_back(static_cast<double>(g_seen_cancel_ns.load() - closed.time_since_epoch().count()) / 1e6);
    while (g_running.load() != 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::sort(lat.begin(), lat.end());
  printf("client close -> cancelled() seen         median %.2f ms, max %.2f ms (20 runs, source polls every 1 ms)\n",
         lat[lat.size() / 2], lat.back());
  server.Stop();
}

// Two idle keep-alive clients, then a third request; returns its latency.
double StarvationProbe(int port) {
  const std::string req = "GET /debug/pprof/symbol HTTP/1.1\r\nHost: b\r\n\r\n";
  int idle[2];
  for (int& fd : idle) {
    fd = Connect(port);
    std::string b;
    RoundTrip(fd, req, &b);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  int c = Connect(port);
  std::string b;
  auto t0 = Clock::now();
  int status = RoundTrip(c, req, &b);
  double ms = Ms(Clock::now() - t0);
  close(c);
  for (int fd : idle) close(fd);
  return status == 200 ? ms : -1;
}

void BenchStarvation() {
  cpprof::Options o;
  o.address = "127.0.0.1:0";
  o.max_workers = 2;
  o.keep_alive_timeout_ms = 5000;
  cpprof::Server server(o);
  if (!server.Start().ok()) exit(1);
  double ours = StarvationProbe(server.port());
  server.Stop();

  httplib::Server hs;
  hs.new_task_queue = [] { return new httplib::ThreadPool(2); };
  hs.set_keep_alive_timeout(5);
  cpprof::Attach(hs);
  int port = hs.bind_to_any_port("127.0.0.1");
  std::thread t([&] { hs.listen_after_bind(); });
  while (!hs.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  double theirs = StarvationProbe(port);
  hs.stop();
  t.join();
  printf("3rd client, 2 idle keep-alive, 2 workers: cpprof::Server %.2f ms, cpp-httplib %s %.0f ms (keep-alive 5 s)\n",
         ours, CPPHTTPLIB_VERSION, theirs);
}

}  // namespace

int main() {
  cpprof::internal::Registry::Global().Register(std::make_unique<WaitSource>());
  BenchHandle();
  BenchServer();
  BenchStarvation();
  return 0;
}
