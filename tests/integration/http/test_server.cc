// SPDX-License-Identifier: Apache-2.0
//
// A small program serving cpprof's routes on its own listener, for the
// curl-driven tests in http_test.sh. It registers two fake sources:
//   slow       sleeps `ms` milliseconds (default 60000) in 10 ms steps,
//              returning early when the request's cancelled() turns true
//   slowstats  "started N\ncancelled N\ncompleted N\n" for the source above
// Usage: cpprof_http_test_server --addr HOST:PORT [--token T]
//          [--max-connections N] [--max-workers N] [--keep-alive-ms N]
//          [--port-file FILE]
// Prints "port N" once serving, stops on SIGTERM/SIGINT. Exits 2 when the
// server refuses to start, printing the reason.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "cpprof/server.h"
#include "registry/registry.h"

namespace {

using cpprof::internal::ProfileRequest;
using cpprof::internal::ProfileResponse;

std::atomic<int> g_started{0};
std::atomic<int> g_cancelled{0};
std::atomic<int> g_completed{0};

class SlowSource : public cpprof::internal::ProfileSource {
 public:
  std::string name() const override { return "slow"; }
  std::string description() const override { return "Sleeps for ms milliseconds unless cancelled"; }
  std::vector<std::string> parameters() const override { return {"ms"}; }
  ProfileResponse Collect(const ProfileRequest& request) override {
    g_started.fetch_add(1);
    long ms = 60000;
    auto it = request.params.find("ms");
    if (it != request.params.end()) ms = std::atol(it->second.c_str());
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
      if (request.cancelled()) {
        g_cancelled.fetch_add(1);
        return ProfileResponse::Error(503, "cancelled");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    g_completed.fetch_add(1);
    ProfileResponse r;
    r.is_proto = false;
    r.body = "slept\n";
    return r;
  }
};

class SlowStatsSource : public cpprof::internal::ProfileSource {
 public:
  std::string name() const override { return "slowstats"; }
  std::string description() const override { return "Counters of the slow source"; }
  std::vector<std::string> parameters() const override { return {}; }
  ProfileResponse Collect(const ProfileRequest&) override {
    ProfileResponse r;
    r.is_proto = false;
    r.body = "started " + std::to_string(g_started.load()) + "\ncancelled " + std::to_string(g_cancelled.load()) +
             "\ncompleted " + std::to_string(g_completed.load()) + "\n";
    return r;
  }
};

}  // namespace

int main(int argc, char** argv) {
  cpprof::Options options;
  const char* port_file = nullptr;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--addr") {
      options.address = value;
    } else if (flag == "--token") {
      options.token = value;
    } else if (flag == "--max-connections") {
      options.max_connections = std::atoi(value);
    } else if (flag == "--max-workers") {
      options.max_workers = std::atoi(value);
    } else if (flag == "--keep-alive-ms") {
      options.keep_alive_timeout_ms = std::atoi(value);
    } else if (flag == "--port-file") {
      port_file = value;
    } else {
      fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 1;
    }
  }
  // Block the stop signals before any thread exists; sigwait takes them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto& registry = cpprof::internal::Registry::Global();
  registry.Register(std::make_unique<SlowSource>());
  registry.Register(std::make_unique<SlowStatsSource>());

  cpprof::Server server(options);
  cpprof::Status s = server.Start();
  if (!s.ok()) {
    fprintf(stderr, "cpprof_http_test_server: %s\n", s.message().c_str());
    return 2;
  }
  printf("port %d\n", server.port());
  fflush(stdout);
  if (port_file != nullptr) {
    std::string tmp = std::string(port_file) + ".tmp";
    FILE* f = fopen(tmp.c_str(), "w");
    if (f == nullptr) return 1;
    fprintf(f, "%d\n", server.port());
    fclose(f);
    rename(tmp.c_str(), port_file);
  }
  int sig = 0;
  sigwait(&stop, &sig);
  server.Stop();
  return 0;
}
