// SPDX-License-Identifier: Apache-2.0
//
// The descriptor watchdog: a cpprof thread ("cpprof-fdwatch") that, four
// times a second, reads the open count (stat("/proc/self/fd").st_size: a few
// microseconds, no descriptor needed) and the RLIMIT_NOFILE soft limit
// (hosts change it at run time), and raises an alert
//   - "warn" when the count reaches warn_percent of the limit (80 %) and
//     "critical" at critical_percent (95 %), once per crossing (re-armed when
//     the count falls 5 points of the limit below the level),
//   - "growth" when the count keeps rising (a Mann-Kendall trend over the
//     points recorded every 10 s, at least max(8, 2 % of the limit) more),
//   - "emfile" when a creating call failed with EMFILE or ENFILE since the
//     last check (at most once a minute),
//   - "select" the first time a descriptor number >= 1024 exists (FD_SET on
//     it is memory corruption),
// naming the top creation stacks (live descriptors per stack; for growth,
// the stacks that grew most over the window). An alert goes to stderr and
// to the callback set with cpprof::SetFdAlertCallback. It never changes
// the limit.
//
// Not signal-safe; thread-safe.

#ifndef CPPROF_SRC_PROFILES_FD_FD_WATCHDOG_H_
#define CPPROF_SRC_PROFILES_FD_FD_WATCHDOG_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cpprof/cpprof.h"

namespace cpprof {
namespace internal {
namespace fd {

constexpr int kWatchIntervalMs = 250;
constexpr int kGrowthPointMs = 10000;
constexpr size_t kGrowthHistory = 90;  // 15 minutes of points
constexpr int kMinGrowthPoints = 6;

class FdWatchdog {
 public:
  static FdWatchdog& Global();
  // Starts (or re-configures) the background checks. Idempotent.
  void Start(int warn_percent, int critical_percent);
  bool running() const;
  // One check now (the thread's task; tests call it too).
  void Check();
  // Records a growth point now (every kGrowthPointMs from Check; tests).
  void RecordGrowthPoint(double t_seconds, int64_t open);

  uint64_t alerts() const;
  std::vector<FdAlert> recent_alerts() const;  // the last 16
  int64_t last_open() const;
  int64_t last_limit() const;
  size_t memory_bytes() const;

 private:
  FdWatchdog() = default;
  void Raise(FdAlert alert);
  std::string TopStacks(const std::map<long, int64_t>* baseline, int max_stacks) const;

  struct Point {
    double t;
    int64_t open;
    std::map<long, int64_t> live;  // stack slot -> live descriptors
  };
  mutable std::mutex mu_;
  int warn_percent_ = 80;
  int critical_percent_ = 95;
  int armed_level_ = 0;          // highest level alerted and not yet re-armed
  bool select_alerted_ = false;
  uint64_t emfile_seen_ = 0;
  double emfile_alert_t_ = -1e9;
  double growth_alert_t_ = -1e9;
  double last_point_t_ = -1e9;
  int64_t last_open_ = -1;
  int64_t last_limit_ = -1;
  uint64_t alerts_ = 0;
  std::deque<Point> history_;
  std::deque<FdAlert> recent_;
};

// Live descriptors per creation-stack slot now (slots with any).
std::map<long, int64_t> LivePerStack();

}  // namespace fd
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_FD_FD_WATCHDOG_H_
