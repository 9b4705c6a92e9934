// SPDX-License-Identifier: Apache-2.0

#include "base/trend.h"

#include <algorithm>
#include <cmath>

namespace cpprof {
namespace internal {
namespace {

double Median(std::vector<double>* v) {
  if (v->empty()) return 0;
  size_t mid = v->size() / 2;
  std::nth_element(v->begin(), v->begin() + static_cast<long>(mid), v->end());
  double m = (*v)[mid];
  if (v->size() % 2 == 0) {
    m = (m + *std::max_element(v->begin(), v->begin() + static_cast<long>(mid))) / 2;
  }
  return m;
}

}  // namespace

Trend RobustTrend(const std::vector<double>& t, const std::vector<double>& y) {
  Trend out;
  const size_t n = std::min(t.size(), y.size());
  if (n < 2) return out;
  long sum = 0;
  std::vector<double> slopes;
  slopes.reserve(n * (n - 1) / 2);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double d = y[j] - y[i];
      sum += d > 0 ? 1 : d < 0 ? -1 : 0;
      const double dt = t[j] - t[i];
      if (dt > 0) slopes.push_back(d / dt);
    }
  }
  const double nd = static_cast<double>(n);
  const double var = nd * (nd - 1) * (2 * nd + 5) / 18.0;
  out.mk_z = sum > 0 ? (static_cast<double>(sum) - 1) / std::sqrt(var) : 0;
  out.slope = Median(&slopes);
  return out;
}

}  // namespace internal
}  // namespace cpprof
