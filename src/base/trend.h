// SPDX-License-Identifier: Apache-2.0
//
// A robust test for "this series keeps growing", shared by the leak
// detectors (heap growth by allocation site, live threads by creation
// site):
//   - Mann-Kendall: S = sum over pairs i < j of sign(y_j - y_i), z from its
//     no-ties variance n(n-1)(2n+5)/18 with the continuity correction
//     (S - 1); ties make it conservative. Rising when z > kRisingTrendZ
//     (one-sided p < 0.01);
//   - Theil-Sen slope (median of the pairwise slopes) as the growth rate.
// Both ignore the size of single jumps: a one-off step or an outlier is not
// a trend, and a series that fills and then plateaus stops being one once
// the plateau dominates the window.
//
// Not signal-safe (allocates); thread-safe (no state).

#ifndef CPPROF_SRC_BASE_TREND_H_
#define CPPROF_SRC_BASE_TREND_H_

#include <cstddef>
#include <vector>

namespace cpprof {
namespace internal {

constexpr double kRisingTrendZ = 2.33;

struct Trend {
  double mk_z = 0;   // Mann-Kendall z; 0 unless S > 0
  double slope = 0;  // Theil-Sen: median of (y_j - y_i) / (t_j - t_i), y units per t unit
};

// y[i] observed at t[i] (t increasing); both of size n. Cost O(n^2).
Trend RobustTrend(const std::vector<double>& t, const std::vector<double>& y);

// True when `trend` says the series rises: z above kRisingTrendZ and a
// positive slope.
inline bool IsRising(const Trend& trend) { return trend.mk_z > kRisingTrendZ && trend.slope > 0; }

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_TREND_H_
