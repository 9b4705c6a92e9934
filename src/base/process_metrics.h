// SPDX-License-Identifier: Apache-2.0
//
// The process-level figures Prometheus' process collector exports
// (process_cpu_seconds_total, process_open_fds, ...), read from /proc and
// getrlimit on each call, with that collector's names, help and types. Not
// signal-safe; thread-safe; no allocation beyond the result.

#ifndef CPPROF_SRC_BASE_PROCESS_METRICS_H_
#define CPPROF_SRC_BASE_PROCESS_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace cpprof {
namespace internal {

struct ProcessMetric {
  const char* name;  // e.g. "process_open_fds"
  const char* help;
  bool counter;
  double value;
};

// Open descriptors of the process now: stat("/proc/self/fd").st_size
// (Linux >= 6.2, no descriptor needed), else counting the directory's
// entries. -1 if neither works.
int64_t CountOpenFds();

// Each figure that could be read (a /proc file that cannot be read leaves
// its figures out rather than reporting 0).
std::vector<ProcessMetric> ReadProcessMetrics();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_PROCESS_METRICS_H_
