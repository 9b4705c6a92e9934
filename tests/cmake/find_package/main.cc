// SPDX-License-Identifier: Apache-2.0
//
// A consumer of the cpprof package. Built by tests/cmake/ in four ways
// (installed package, build-tree package, add_subdirectory, pkg-config) and
// linked against the shared or the static library. It starts the own
// listener on an ephemeral loopback port, serves /debug/pprof/cmdline both
// through cpprof::Handle() and over TCP, and stops.
//
// With CPPROF_EXPECT_LIBRARY_DIR defined (shared builds) it checks that
// cpprof::Handle was loaded from a file in that directory, so the test cannot
// pass with a copy of the library from somewhere else; with
// CPPROF_EXPECT_STATIC, that cpprof::Handle is inside the executable.

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <cpprof/cpprof.h>

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "consumer: FAIL: %s\n", what.c_str());
  return 1;
}

// Sends one HTTP/1.0 GET to 127.0.0.1:port and returns the whole reply, or "".
std::string HttpGet(int port, const char* path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string request = std::string("GET ") + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) reply.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return reply;
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("consumer: cpprof %s\n", cpprof::Version());

  // Where does cpprof's code live: the expected shared library, or (static
  // builds) this executable?
  Dl_info info{};
  char resolved[PATH_MAX];
  if (dladdr(reinterpret_cast<void*>(&cpprof::Handle), &info) == 0 || info.dli_fname == nullptr ||
      realpath(info.dli_fname, resolved) == nullptr) {
    return Fail("dladdr/realpath found no module for cpprof::Handle");
  }
  std::printf("consumer: cpprof::Handle is in %s\n", resolved);
#if defined(CPPROF_EXPECT_LIBRARY_DIR)
  char expected[PATH_MAX];
  if (realpath(CPPROF_EXPECT_LIBRARY_DIR, expected) == nullptr) {
    return Fail(std::string("no directory ") + CPPROF_EXPECT_LIBRARY_DIR);
  }
  std::string dir(resolved);
  dir.erase(dir.rfind('/'));
  if (dir != expected) return Fail(std::string("expected a library in ") + expected);
#elif defined(CPPROF_EXPECT_STATIC)
  char self[PATH_MAX];
  if (realpath("/proc/self/exe", self) == nullptr || std::strcmp(self, resolved) != 0) {
    return Fail("linked statically, but cpprof::Handle is not in the executable");
  }
#endif

  cpprof::Options options;
  options.address = "127.0.0.1:0";
  cpprof::Server server(options);
  if (cpprof::Status s = server.Start(); !s.ok()) return Fail("Server::Start: " + s.message());
  if (server.port() <= 0) return Fail("Server::port() is not positive after Start()");

  cpprof::Request request;
  request.target = "/debug/pprof/cmdline";
  cpprof::Response response = cpprof::Handle(request);
  if (response.status != 200) {
    return Fail("Handle(/debug/pprof/cmdline) gave status " + std::to_string(response.status));
  }
  // The body is argv, NUL-separated: it starts with argv[0].
  if (argc < 1 || response.body.compare(0, std::strlen(argv[0]), argv[0]) != 0) {
    return Fail("cmdline body does not start with argv[0]: '" + response.body + "'");
  }

  std::string reply = HttpGet(server.port(), "/debug/pprof/cmdline");
  if (reply.compare(0, 9, "HTTP/1.0 ") != 0 && reply.compare(0, 9, "HTTP/1.1 ") != 0) {
    return Fail("no HTTP reply from the listener on port " + std::to_string(server.port()));
  }
  if (reply.compare(9, 3, "200") != 0) return Fail("listener replied: " + reply.substr(0, 40));

  int port = server.port();
  server.Stop();
  if (server.port() != 0) return Fail("Server::port() is not 0 after Stop()");
  std::printf("consumer: OK (served on port %d)\n", port);
  return 0;
}
