// SPDX-License-Identifier: Apache-2.0
//
// Leak detection, tier 1: allocation sites whose live estimate keeps
// growing. A background thread ("cpprof-heapmon") records, every interval
// (10 s by default), the in-use estimate of every allocation stack that has
// live samples; Suspects() tests each stack's series over a window with a
// robust trend test and returns the ones that grow:
//   - Mann-Kendall: S = sum over pairs i < j of sign(y_j - y_i), z from its
//     no-ties variance n(n-1)(2n+5)/18 (ties make it conservative); growing
//     when z > 2.33 (one-sided p < 0.01);
//   - Theil-Sen slope (median of pairwise slopes) > 0, as the growth rate;
//   - the growth is above sampling noise: at least kMinSampleGrowth more
//     live samples at the end of the window than at its start.
// A cache that fills and plateaus stops being reported once the plateau
// dominates the window; a one-off step is not a trend. Each suspect carries
// the age of its oldest live sampled object (from the sample region).
//
// Not signal-safe; thread-safe.

#ifndef CPPROF_SRC_PROFILES_HEAP_HEAP_GROWTH_H_
#define CPPROF_SRC_PROFILES_HEAP_HEAP_GROWTH_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

namespace cpprof {
namespace internal {
namespace heap {

constexpr int kDefaultGrowthIntervalMs = 10000;
constexpr size_t kGrowthHistory = 90;      // points kept (15 min at 10 s)
constexpr int kMinGrowthPoints = 6;
constexpr int64_t kMinSampleGrowth = 8;

struct GrowthSuspect {
  size_t slot = 0;
  std::vector<uintptr_t> pcs;
  int points = 0;
  double window_seconds = 0;
  int64_t first_space = 0, last_space = 0;   // in-use estimate at the window's ends (bytes)
  int64_t first_objects = 0, last_objects = 0;
  int64_t samples_gained = 0;                 // live samples, last - first
  double slope_bytes_per_hour = 0;            // Theil-Sen
  double mk_z = 0;                            // Mann-Kendall z
  int64_t oldest_age_seconds = -1;            // oldest live sampled object, -1 if none
  int64_t live_samples = 0;
};

struct GrowthReport {
  int interval_ms = 0;
  int points = 0;                 // points inside the window
  double window_seconds = 0;      // span from the first to the last point used
  std::vector<GrowthSuspect> suspects;  // largest growth first
};

class GrowthTracker {
 public:
  static GrowthTracker& Global();

  // Starts (or re-times) the background recording. Idempotent.
  void Start(int interval_ms);
  bool running() const;
  int interval_ms() const;
  // Records one point now (the thread's task; also for tests).
  void RecordPoint();
  // The suspects over the last `window_seconds` (0 = all history).
  GrowthReport Suspects(double window_seconds) const;
  size_t memory_bytes() const;

 private:
  struct Entry {
    uint32_t slot;
    int64_t space;
    int64_t objects_fx;
    int64_t raw;
  };
  struct Point {
    double t;  // CLOCK_MONOTONIC seconds
    std::vector<Entry> entries;  // by slot
  };
  GrowthTracker() = default;

  mutable std::mutex mu_;
  std::deque<Point> history_;
  int interval_ms_ = kDefaultGrowthIntervalMs;
};

}  // namespace heap
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_HEAP_GROWTH_H_
