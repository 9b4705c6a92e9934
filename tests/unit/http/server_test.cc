// SPDX-License-Identifier: Apache-2.0

#include "cpprof/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/self_stats.h"
#include "http/fake_sources.h"
#include "wait_for.h"

namespace {

int CountEntries(const char* dir) {
  DIR* d = opendir(dir);
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

// A joined thread's /proc/self/task entry can outlive pthread_join by a
// moment (the kernel wakes the joiner before it reaps the task), so wait
// for the count to settle rather than read it once.
int StableThreadCount() {
  int n = CountEntries("/proc/self/task");
  for (int i = 0; i < 100; ++i) {
    usleep(20000);
    int again = CountEntries("/proc/self/task");
    if (again == n) break;
    n = again;
  }
  return n;
}

int SettledThreadCount(int expected) {
  int n = CountEntries("/proc/self/task");
  for (int i = 0; i < 500 && n != expected; ++i) {
    usleep(10000);
    n = CountEntries("/proc/self/task");
  }
  return n;
}

int Connect(int port, int family = AF_INET) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{10, 0};  // a hung server fails the test instead of hanging it
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  int rc;
  if (family == AF_INET6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    a.sin6_addr = in6addr_loopback;
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  }
  REQUIRE(rc == 0);
  return fd;
}

void SendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (w <= 0) return;
    done += static_cast<size_t>(w);
  }
}

struct Reply {
  int status = 0;
  std::string head;
  std::string body;
};

// Reads one response (Content-Length framed). `buffer` keeps bytes of a
// following response. status 0 means the connection ended first.
Reply ReadReply(int fd, std::string* buffer, bool head_only = false) {
  Reply r;
  for (;;) {
    size_t end = buffer->find("\r\n\r\n");
    if (end != std::string::npos) {
      r.head = buffer->substr(0, end + 4);
      size_t len = 0;
      size_t cl = r.head.find("Content-Length: ");
      if (cl != std::string::npos) len = std::strtoul(r.head.c_str() + cl + 16, nullptr, 10);
      if (head_only) len = 0;
      if (buffer->size() >= end + 4 + len) {
        r.body = buffer->substr(end + 4, len);
        buffer->erase(0, end + 4 + len);
        r.status = std::atoi(r.head.c_str() + 9);
        return r;
      }
    }
    char buf[8192];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return r;
    buffer->append(buf, static_cast<size_t>(n));
  }
}

Reply Fetch(int port, const std::string& request) {
  int fd = Connect(port);
  SendAll(fd, request);
  std::string buffer;
  Reply r = ReadReply(fd, &buffer);
  close(fd);
  return r;
}

using cpprof_test::WaitFor;

cpprof::Options LocalOptions() {
  cpprof::Options o;
  o.address = "127.0.0.1:0";
  return o;
}

}  // namespace

TEST_CASE("Server binds port 0, serves a request and stops without leaking fds or threads") {
  cpprof_test::RegisterFakes();
  int fds_before = CountEntries("/proc/self/fd");
  int threads_before = StableThreadCount();
  {
    cpprof::Server server(LocalOptions());
    REQUIRE(server.Start().ok());
    REQUIRE(server.port() > 0);
    Reply r = Fetch(server.port(), "GET /debug/pprof/cmdline HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    CHECK(r.status == 200);
    CHECK(r.head.find("Content-Type: text/plain; charset=utf-8\r\n") != std::string::npos);
    CHECK(r.head.find("X-Content-Type-Options: nosniff\r\n") != std::string::npos);
    CHECK(r.head.find("Connection: close\r\n") != std::string::npos);
    CHECK(r.body.find("cpprof_http_tests") != std::string::npos);
    // Keep an accepted connection open across Stop(): it must be closed too.
    int idle = Connect(server.port());
    std::string buffer;
    SendAll(idle, "GET /debug/pprof/symbol HTTP/1.1\r\n\r\n");
    CHECK(ReadReply(idle, &buffer).status == 200);
    server.Stop();
    CHECK(server.port() == 0);
    char c;
    CHECK(recv(idle, &c, 1, 0) == 0);
    close(idle);
  }
  CHECK(CountEntries("/proc/self/fd") == fds_before);
  CHECK(SettledThreadCount(threads_before) == threads_before);
}

TEST_CASE("Only one Server runs at a time, and a failed Start leaves nothing running") {
  cpprof::Server a(LocalOptions());
  REQUIRE(a.Start().ok());
  cpprof::Server b(LocalOptions());
  cpprof::Status s = b.Start();
  CHECK_FALSE(s.ok());
  CHECK(s.code() == cpprof::StatusCode::kFailedPrecondition);
  CHECK(a.Start().code() == cpprof::StatusCode::kFailedPrecondition);
  a.Stop();
  CHECK(b.Start().ok());
  b.Stop();
}

TEST_CASE("Server refuses a non-loopback address without a token, and a port in use") {
  int threads_before = StableThreadCount();
  cpprof::Options o = LocalOptions();
  o.address = "0.0.0.0:0";
  cpprof::Server server(o);
  cpprof::Status s = server.Start();
  CHECK(s.code() == cpprof::StatusCode::kPermissionDenied);
  CHECK(s.message().find("token") != std::string::npos);
  CHECK(server.port() == 0);
  CHECK(SettledThreadCount(threads_before) == threads_before);

  cpprof::Server first(LocalOptions());
  REQUIRE(first.Start().ok());
  cpprof::Options same = LocalOptions();
  same.address = "127.0.0.1:" + std::to_string(first.port());
  first.Stop();
  // Occupy the port with a plain socket, then try to bind it.
  int blocker = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(same.address.c_str() + 10)));
  if (bind(blocker, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && listen(blocker, 1) == 0) {
    cpprof::Server second(same);
    cpprof::Status busy = second.Start();
    CHECK(busy.code() == cpprof::StatusCode::kUnavailable);
  }
  close(blocker);
}

TEST_CASE("Keep-alive connections carry several requests, pipelined ones included") {
  cpprof::Server server(LocalOptions());
  REQUIRE(server.Start().ok());
  int fd = Connect(server.port());
  std::string buffer;
  SendAll(fd, "GET /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  Reply r1 = ReadReply(fd, &buffer);
  CHECK(r1.status == 200);
  CHECK(r1.body == "num_symbols: 1\n");
  CHECK(r1.head.find("Connection: close") == std::string::npos);
  SendAll(fd, "GET /debug/pprof/nosuch HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nHEAD /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  Reply r2 = ReadReply(fd, &buffer);
  CHECK(r2.status == 404);
  CHECK(r2.head.find("X-Go-Pprof: 1\r\n") != std::string::npos);
  CHECK(r2.body == "Unknown profile: nosuch\n");
  Reply r3 = ReadReply(fd, &buffer, /*head_only=*/true);
  CHECK(r3.status == 200);
  CHECK(r3.head.find("Content-Length: 15\r\n") != std::string::npos);
  CHECK(buffer.empty());
  close(fd);
  server.Stop();
}

TEST_CASE("POST /symbol with Expect: 100-continue gets the interim answer and the result") {
  cpprof::Server server(LocalOptions());
  REQUIRE(server.Start().ok());
  int fd = Connect(server.port());
  SendAll(fd, "POST /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  std::string buffer;
  Reply interim = ReadReply(fd, &buffer);
  CHECK(interim.status == 100);
  SendAll(fd, "0x1");
  Reply r = ReadReply(fd, &buffer);
  CHECK(r.status == 200);
  CHECK(r.body.rfind("num_symbols: 1\n", 0) == 0);
  close(fd);
  server.Stop();
}

TEST_CASE("Idle keep-alive connections do not hold workers") {
  cpprof::Options o = LocalOptions();
  o.max_workers = 2;
  o.keep_alive_timeout_ms = 60000;
  cpprof::Server server(o);
  REQUIRE(server.Start().ok());
  int idle[2];
  for (int& fd : idle) {
    fd = Connect(server.port());
    SendAll(fd, "GET /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    std::string buffer;
    CHECK(ReadReply(fd, &buffer).status == 200);
  }
  // With pinned workers this would wait out the 60 s keep-alive timeout and
  // fail on the client's 10 s receive timeout.
  Reply r = Fetch(server.port(), "GET /debug/pprof/symbol HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  CHECK(r.status == 200);
  for (int fd : idle) close(fd);
  server.Stop();
}

TEST_CASE("A client that disconnects cancels its running request") {
  auto& fakes = cpprof_test::RegisterFakes();
  cpprof::Server server(LocalOptions());
  REQUIRE(server.Start().ok());
  int started = fakes.slow->started.load();
  int cancelled = fakes.slow->cancelled.load();
  int fd = Connect(server.port());
  SendAll(fd, "GET /debug/pprof/fakeslow?seconds=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  REQUIRE(WaitFor([&] { return fakes.slow->started.load() > started; }));
  close(fd);
  CHECK(WaitFor([&] { return fakes.slow->cancelled.load() > cancelled; }));
  server.Stop();
}

TEST_CASE("Stop cancels running requests and returns") {
  auto& fakes = cpprof_test::RegisterFakes();
  cpprof::Server server(LocalOptions());
  REQUIRE(server.Start().ok());
  int started = fakes.slow->started.load();
  int cancelled = fakes.slow->cancelled.load();
  int fd = Connect(server.port());
  SendAll(fd, "GET /debug/pprof/fakeslow?seconds=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  REQUIRE(WaitFor([&] { return fakes.slow->started.load() > started; }));
  server.Stop();
  CHECK(fakes.slow->cancelled.load() > cancelled);
  close(fd);
}

TEST_CASE("Oversized heads get 431, oversized and chunked bodies 413 and 411; serving goes on") {
  cpprof::Options o = LocalOptions();
  o.max_header_bytes = 1024;
  o.max_body_bytes = 100;
  cpprof::Server server(o);
  REQUIRE(server.Start().ok());
  Reply r = Fetch(server.port(), "GET /debug/pprof/ HTTP/1.1\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
  CHECK(r.status == 431);
  CHECK(r.head.find("X-Go-Pprof: 1\r\n") != std::string::npos);
  r = Fetch(server.port(), "POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
  CHECK(r.status == 413);
  r = Fetch(server.port(), "POST /debug/pprof/symbol HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  CHECK(r.status == 411);
  r = Fetch(server.port(), "BAD\r\n\r\n");
  CHECK(r.status == 400);
  r = Fetch(server.port(), "GET /debug/pprof/symbol HTTP/1.0\r\n\r\n");
  CHECK(r.status == 200);
  CHECK(r.head.find("Connection: close\r\n") != std::string::npos);
  server.Stop();
}

TEST_CASE("Connections beyond max_connections are refused at once") {
  cpprof::Options o = LocalOptions();
  o.max_connections = 2;
  cpprof::Server server(o);
  REQUIRE(server.Start().ok());
  int a = Connect(server.port());
  int b = Connect(server.port());
  // Make sure the server has accepted both.
  std::string buffer;
  SendAll(a, "GET /debug/pprof/symbol HTTP/1.1\r\n\r\n");
  CHECK(ReadReply(a, &buffer).status == 200);
  SendAll(b, "GET /debug/pprof/symbol HTTP/1.1\r\n\r\n");
  CHECK(ReadReply(b, &buffer).status == 200);
  int c = Connect(server.port());
  std::string cbuf;
  Reply refused = ReadReply(c, &cbuf);
  CHECK(refused.status == 503);
  char byte;
  CHECK(recv(c, &byte, 1, 0) <= 0);
  close(c);
  close(a);
  // After one closes, a new client is served again.
  CHECK(WaitFor([&] {
    Reply r = Fetch(server.port(), "GET /debug/pprof/symbol HTTP/1.1\r\nConnection: close\r\n\r\n");
    return r.status == 200;
  }));
  close(b);
  server.Stop();
}

TEST_CASE("A request that stalls is answered 408 and closed after the read timeout") {
  cpprof::Options o = LocalOptions();
  o.read_timeout_ms = 200;
  cpprof::Server server(o);
  REQUIRE(server.Start().ok());
  int fd = Connect(server.port());
  SendAll(fd, "GET /debug/pprof/ HTTP/1.1\r\n");
  std::string buffer;
  Reply r = ReadReply(fd, &buffer);
  CHECK(r.status == 408);
  close(fd);
  server.Stop();
}

TEST_CASE("Server listens on IPv6 loopback, or says clearly that it cannot") {
  // Can this host bind [::1] at all (no IPv6 in some containers)?
  bool have_ipv6 = false;
  int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    have_ipv6 = bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(probe);
  }
  cpprof::Options o = LocalOptions();
  o.address = "[::1]:0";
  cpprof::Server server(o);
  cpprof::Status s = server.Start();
  if (!have_ipv6) {
    MESSAGE("SKIPPED serving over IPv6: this host cannot bind [::1]; checking the error instead");
    CHECK(!s.ok());
    CHECK(s.code() == cpprof::StatusCode::kUnavailable);
    CHECK(!s.message().empty());
    return;
  }
  REQUIRE(s.ok());
  int fd = Connect(server.port(), AF_INET6);
  SendAll(fd, "GET /debug/pprof/symbol HTTP/1.1\r\nHost: [::1]\r\n\r\n");
  std::string buffer;
  CHECK(ReadReply(fd, &buffer).status == 200);
  close(fd);
  server.Stop();
}

namespace {

// The SigBlk masks of every thread named `wanted`.
std::vector<unsigned long long> BlockedMasksOf(const std::string& wanted) {
  std::vector<unsigned long long> masks;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return masks;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string base = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm(base + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name != wanted) continue;
    std::ifstream status(base + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("SigBlk:", 0) == 0) masks.push_back(std::strtoull(line.c_str() + 7, nullptr, 16));
    }
  }
  closedir(d);
  return masks;
}

}  // namespace

TEST_CASE("Server threads block the host's signals but not the profiling signal") {
  cpprof::Server server(LocalOptions());
  REQUIRE(server.Start().ok());
  // A request makes a worker exist too.
  CHECK(Fetch(server.port(), "GET /debug/pprof/symbol HTTP/1.1\r\n\r\n").status == 200);
  auto bit = [](int sig) { return 1ull << (sig - 1); };
  for (const char* name : {"cpprof-http", "cpprof-http-w"}) {
    // A worker of an earlier test may still be exiting under the same name,
    // with every signal blocked by glibc's thread exit: look at them all and
    // check the one that lets the profiling signal through.
    unsigned long long blocked = 0;
    CHECK(WaitFor([&] {
      for (unsigned long long m : BlockedMasksOf(name)) {
        if ((m & bit(SIGPROF)) == 0) {
          blocked = m;
          return true;
        }
      }
      return false;
    }));
    CHECK((blocked & bit(SIGPROF)) == 0);
    CHECK((blocked & bit(SIGSEGV)) == 0);
    CHECK((blocked & bit(SIGUSR1)) != 0);
    CHECK((blocked & bit(SIGTERM)) != 0);
    CHECK((blocked & bit(SIGPIPE)) != 0);
  }
  server.Stop();
}

TEST_CASE("The server requires its token") {
  cpprof::Options o = LocalOptions();
  o.token = "tok";
  cpprof::Server server(o);
  REQUIRE(server.Start().ok());
  Reply r = Fetch(server.port(), "GET /debug/pprof/symbol HTTP/1.1\r\n\r\n");
  CHECK(r.status == 401);
  CHECK(r.head.find("WWW-Authenticate: Basic realm=\"cpprof\"\r\n") != std::string::npos);
  r = Fetch(server.port(), "GET /debug/pprof/symbol HTTP/1.1\r\nAuthorization: Bearer tok\r\n\r\n");
  CHECK(r.status == 200);
  server.Stop();
  REQUIRE(cpprof::Configure(cpprof::Options()).ok());
}

TEST_CASE("Clients that do not read their answers hold no worker and are closed after write_timeout_ms") {
  auto& fakes = cpprof_test::RegisterFakes();
  (void)fakes;
  cpprof::Options o = LocalOptions();
  o.max_workers = 2;
  o.write_timeout_ms = 1500;
  cpprof::Server server(o);
  REQUIRE(server.Start().ok());
  auto& counters = cpprof::internal::GetSelfCounters();
  const int64_t sending_before = counters.http_sending.load();
  const uint64_t timeouts_before = counters.http_write_timeouts.load();
  std::vector<int> readers;
  for (int i = 0; i < 4; ++i) {  // twice the workers
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(server.port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    SendAll(fd, "GET /debug/pprof/fakebig HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    readers.push_back(fd);
  }
  // All four answers are made and wait in the event loop, not in workers.
  REQUIRE(WaitFor([&] { return counters.http_sending.load() - sending_before >= 4; }));
  Reply index = Fetch(server.port(), "GET /debug/pprof/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  CHECK(index.status == 200);
  CHECK(counters.http_sending.load() - sending_before >= 4);  // still unsent: the index did not wait for them
  // Past the deadline each is closed and counted.
  CHECK(WaitFor([&] { return counters.http_write_timeouts.load() - timeouts_before >= 4; }, 15000));
  CHECK(WaitFor([&] { return counters.http_sending.load() == sending_before; }));
  for (int fd : readers) {
    // The client sees the end of the stream after what was sent.
    char buf[65536];
    ssize_t n;
    size_t got = 0;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) got += static_cast<size_t>(n);
    CHECK(got < (size_t{32} << 20));
    close(fd);
  }
  server.Stop();
}

TEST_CASE("Requests that wait are capped at max_long_requests (429); quick ones still answer") {
  auto& fakes = cpprof_test::RegisterFakes();
  cpprof::Options o = LocalOptions();
  o.max_workers = 3;
  o.max_long_requests = 2;
  cpprof::Server server(o);
  REQUIRE(server.Start().ok());
  const int started = fakes.slow->started.load();
  std::vector<int> longs;
  for (int i = 0; i < 2; ++i) {
    int fd = Connect(server.port());
    SendAll(fd, "GET /debug/pprof/fakeslow?seconds=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    longs.push_back(fd);
  }
  REQUIRE(WaitFor([&] { return fakes.slow->started.load() - started == 2; }));
  const uint64_t refused = cpprof::internal::GetSelfCounters().http_long_refused.load();
  Reply third = Fetch(server.port(), "GET /debug/pprof/fakeslow?seconds=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  CHECK(third.status == 429);
  CHECK(third.head.find("Retry-After: 1") != std::string::npos);
  CHECK(third.body.find("max_long_requests") != std::string::npos);
  CHECK(cpprof::internal::GetSelfCounters().http_long_refused.load() == refused + 1);
  CHECK(fakes.slow->started.load() - started == 2);
  // A request without seconds is quick: it runs.
  Reply quick = Fetch(server.port(), "GET /debug/pprof/fakeproto HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  CHECK(quick.status == 200);
  Reply index = Fetch(server.port(), "GET /debug/pprof/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  CHECK(index.status == 200);
  for (int fd : longs) close(fd);
  // Their cancellation frees the slots.
  REQUIRE(WaitFor([&] { return cpprof::internal::GetSelfCounters().http_long_running.load() == 0; }));
  int fd = Connect(server.port());
  SendAll(fd, "GET /debug/pprof/fakeslow?seconds=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  std::string buffer;
  CHECK(ReadReply(fd, &buffer).status == 200);
  close(fd);
  server.Stop();
}
