// SPDX-License-Identifier: Apache-2.0
//
// RobustTrend: a steady rise is a trend; a flat series, a single step early
// in the window, a fill-then-plateau over a long window and alternating
// noise are not. (A step in the middle of the window is a trend until the
// time after it dominates the window.)

#include "base/trend.h"

#include <doctest/doctest.h>

#include <vector>

namespace cpprof_test {
namespace {

using cpprof::internal::IsRising;
using cpprof::internal::RobustTrend;
using cpprof::internal::Trend;

std::vector<double> Times(size_t n) {
  std::vector<double> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = 10.0 * static_cast<double>(i);
  return t;
}

TEST_CASE("a steady rise is a trend with its slope") {
  std::vector<double> y;
  for (int i = 0; i < 12; ++i) y.push_back(5 + 2.0 * i);
  Trend t = RobustTrend(Times(y.size()), y);
  CHECK(IsRising(t));
  CHECK(t.slope == doctest::Approx(0.2));  // 2 per 10 s
}

TEST_CASE("flat, one step, a plateau after filling, and noise are not") {
  std::vector<double> flat(20, 7.0);
  CHECK_FALSE(IsRising(RobustTrend(Times(flat.size()), flat)));
  // One jump early in the window: most pairwise slopes are 0, so is the median.
  std::vector<double> step(20, 4.0);
  for (size_t i = 3; i < step.size(); ++i) step[i] = 40;
  CHECK_FALSE(IsRising(RobustTrend(Times(step.size()), step)));
  std::vector<double> plateau;
  for (int i = 0; i < 60; ++i) plateau.push_back(i < 5 ? i * 10.0 : 50.0);
  CHECK_FALSE(IsRising(RobustTrend(Times(plateau.size()), plateau)));
  std::vector<double> noise;
  for (int i = 0; i < 30; ++i) noise.push_back(i % 2 == 0 ? 10 : 12);
  CHECK_FALSE(IsRising(RobustTrend(Times(noise.size()), noise)));
}

TEST_CASE("too few points or a falling series are not") {
  CHECK_FALSE(IsRising(RobustTrend({0, 1}, {1, 2})));
  std::vector<double> down;
  for (int i = 0; i < 12; ++i) down.push_back(100 - i);
  Trend t = RobustTrend(Times(down.size()), down);
  CHECK(t.mk_z == 0);
  CHECK(t.slope < 0);
}

}  // namespace
}  // namespace cpprof_test
