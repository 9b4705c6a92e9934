// SPDX-License-Identifier: Apache-2.0
//
// cpprof demo: a process that burns CPU in known functions, allocates with a
// known shape (a churning cache, a growing log, a leak), contends for a lock
// (a slow config refresh and its readers) and serves its
// profiles on 127.0.0.1:6060 (or --addr HOST:PORT / CPPROF_ADDR).
//
//   cpprof_demo [--addr 127.0.0.1:6060] [--threads 2] [--seconds N]

#include <cpprof/cpprof.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "workload.h"

int main(int argc, char** argv) {
  cpprof::Options options;
  // With CPPROF_ADDR set, the library already started the endpoint when it
  // was loaded (as it would in any program); the demo then only reports it.
  const char* env_addr = getenv("CPPROF_ADDR");
  const bool started_by_environment = env_addr != nullptr && *env_addr != '\0';
  if (started_by_environment) options.address = env_addr;
  int threads = 2;
  int seconds = 0;  // 0 = run until killed
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) {
      options.address = argv[++i];
    } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: %s [--addr HOST:PORT] [--threads N] [--seconds N]\n", argv[0]);
      return 2;
    }
  }
  // Heap samples every 64 KiB on average (Go's default is 512 KiB) so the
  // demo's memory views fill within a minute.
  if (getenv("CPPROF_HEAP_RATE") == nullptr) options.heap_sample_rate = 64 * 1024;
  // Contention profiles on (they are off by default): every contended
  // unlock, one block sample per 10 us waited.
  if (getenv("CPPROF_MUTEX_FRACTION") == nullptr) options.mutex_profile_fraction = 1;
  if (getenv("CPPROF_BLOCK_RATE") == nullptr) options.block_profile_rate = 10000;
  cpprof::Server server(options);
  int port = 0;
  if (started_by_environment) {
    // The endpoint is up already; the same settings through the API.
    if (getenv("CPPROF_MUTEX_FRACTION") == nullptr) cpprof::SetMutexProfileFraction(1);
    if (getenv("CPPROF_BLOCK_RATE") == nullptr) cpprof::SetBlockProfileRate(10000);
    port = atoi(options.address.substr(options.address.rfind(':') + 1).c_str());
  } else {
    cpprof::Status status = server.Start();
    if (!status.ok()) {
      fprintf(stderr, "cpprof: %s\n", status.message().c_str());
      return 1;
    }
    port = server.port();
  }
  std::string host = options.address.substr(0, options.address.rfind(':'));
  std::string base = "http://" + host + ":" + std::to_string(port);
  printf("cpprof demo: endpoint on %s/debug/pprof/ (%d worker threads)\n", base.c_str(), threads);
  printf("hottest function: demo::SpinHot\n");
  printf("try:\n");
  printf("  go tool pprof -top '%s/debug/pprof/profile?seconds=5'\n", base.c_str());
  printf("  go tool pprof -traces '%s/debug/pprof/profile?seconds=5'\n", base.c_str());
  printf("  go tool pprof -http=127.0.0.1:8081 '%s/debug/pprof/profile?seconds=10'\n", base.c_str());
  printf("  go tool pprof -top '%s/debug/pprof/heap'\n", base.c_str());
  printf("  curl '%s/debug/pprof/heap_growth?debug=1'   (after a minute: demo::AppendRequestLog)\n", base.c_str());
  printf("  curl '%s/debug/pprof/leaks?debug=1'         (after a minute: demo::ParseRequest)\n", base.c_str());
  printf("  go tool pprof -top '%s/debug/pprof/mutex'      (demo::ConfigStore::Refresh)\n", base.c_str());
  printf("  go tool pprof -top '%s/debug/pprof/block'      (demo::ConfigStore::Lookup)\n", base.c_str());
  printf("  curl '%s/debug/pprof/fd?debug=1'             (open descriptors by creation stack)\n", base.c_str());
  printf("  open %s/debug/pprof/ui/ in a browser\n", base.c_str());
  fflush(stdout);

  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) workers.emplace_back([i, &stop] { demo::RunWorker(i, stop); });
  workers.emplace_back([&stop] { demo::RunMemoryWorker(stop); });
  workers.emplace_back([&stop] { demo::RunLockWorkers(2, stop); });
  if (seconds > 0) {
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
  } else {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  stop.store(true);
  for (auto& t : workers) t.join();
  server.Stop();
  return 0;
}
