// SPDX-License-Identifier: Apache-2.0
//
// What the cpu_safety host programs (churn.cc, host_safety.cc) share: a
// monotonic clock, and starting cpprof's endpoint with the line the test
// scripts wait for ("listening on 127.0.0.1:PORT").

#ifndef CPPROF_TESTS_INTEGRATION_CPU_SAFETY_HOST_COMMON_H_
#define CPPROF_TESTS_INTEGRATION_CPU_SAFETY_HOST_COMMON_H_

#include <cpprof/cpprof.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace host_common {

inline int64_t MonoNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Starts the endpoint on `addr` and prints its port; null (after saying why
// on stderr) if it cannot start.
inline std::unique_ptr<cpprof::Server> StartEndpoint(const std::string& addr) {
  cpprof::Options options;
  options.address = addr;
  auto server = std::make_unique<cpprof::Server>(options);
  if (cpprof::Status s = server->Start(); !s.ok()) {
    fprintf(stderr, "cpprof: %s\n", s.message().c_str());
    return nullptr;
  }
  printf("listening on 127.0.0.1:%d\n", server->port());
  fflush(stdout);
  return server;
}

}  // namespace host_common

#endif  // CPPROF_TESTS_INTEGRATION_CPU_SAFETY_HOST_COMMON_H_
