// SPDX-License-Identifier: Apache-2.0
//
// ReadProcessMetrics against the process itself: every figure of
// Prometheus' process collector is there, and each follows a change the
// test makes (descriptors, threads, CPU time, the descriptor limit).

#include "base/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <thread>

#include <doctest/doctest.h>

namespace cpprof_test {
namespace {

using cpprof::internal::ProcessMetric;
using cpprof::internal::ReadProcessMetrics;

double Tasks() {
  DIR* d = opendir("/proc/self/task");
  REQUIRE(d != nullptr);
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

std::map<std::string, ProcessMetric> Metrics() {
  std::map<std::string, ProcessMetric> m;
  for (const ProcessMetric& p : ReadProcessMetrics()) m.emplace(p.name, p);
  return m;
}

TEST_CASE("every process-collector figure is there with its type") {
  auto m = Metrics();
  for (const char* name : {"process_cpu_seconds_total", "process_open_fds", "process_max_fds",
                           "process_virtual_memory_bytes", "process_virtual_memory_max_bytes",
                           "process_resident_memory_bytes", "process_start_time_seconds", "process_threads"}) {
    INFO(name);
    REQUIRE(m.count(name) == 1);
    CHECK(m.at(name).counter == (strcmp(name, "process_cpu_seconds_total") == 0));
    CHECK(strlen(m.at(name).help) > 10);
  }
  CHECK(m.at("process_resident_memory_bytes").value > 1 << 20);
  CHECK(m.at("process_virtual_memory_bytes").value >= m.at("process_resident_memory_bytes").value);
  const double now = static_cast<double>(time(nullptr));
  CHECK(m.at("process_start_time_seconds").value <= now + 1);
  CHECK(m.at("process_start_time_seconds").value > now - 3600);  // this test process just started
}

TEST_CASE("descriptors, threads, CPU time and the limit are read afresh") {
  const double fds = Metrics().at("process_open_fds").value;
  int p[4][2];
  for (auto& fd : p) REQUIRE(pipe(fd) == 0);
  CHECK(Metrics().at("process_open_fds").value == fds + 8);
  for (auto& fd : p) {
    close(fd[0]);
    close(fd[1]);
  }
  CHECK(Metrics().at("process_open_fds").value == fds);

  // Compared with /proc/self/task, not with a count before: a sanitizer's
  // runtime may start a thread of its own with the first pthread_create.
  const double threads = Metrics().at("process_threads").value;
  CHECK(threads == Tasks());
  std::atomic<bool> stop{false};
  std::atomic<bool> started{false};
  std::thread t([&] {
    started = true;
    while (!stop) usleep(1000);
  });
  while (!started) usleep(1000);
  const double with_thread = Metrics().at("process_threads").value;
  CHECK(with_thread == Tasks());
  CHECK(with_thread > threads);
  stop = true;
  t.join();

  const double cpu = Metrics().at("process_cpu_seconds_total").value;
  timespec start;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
  volatile uint64_t h = 1;
  for (;;) {
    for (int i = 0; i < 100000; ++i) h = h * 31 + 7;
    timespec now;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    if ((now.tv_sec - start.tv_sec) * 1000000000LL + (now.tv_nsec - start.tv_nsec) > 100000000) break;
  }
  CHECK(Metrics().at("process_cpu_seconds_total").value >= cpu + 0.05);

  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0);
  rlimit lower = old;
  lower.rlim_cur = 200;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lower) == 0);
  CHECK(Metrics().at("process_max_fds").value == 200);
  REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0);
  CHECK(Metrics().at("process_max_fds").value ==
        (old.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(old.rlim_cur)));
}

}  // namespace
}  // namespace cpprof_test
