// SPDX-License-Identifier: Apache-2.0

#include "registry/params.h"

#include <time.h>

#include <algorithm>

#include "base/clock.h"

namespace cpprof {
namespace internal {

bool ParseIntParam(const ProfileRequest& request, const std::string& name, int64_t default_value,
                   int64_t min, int64_t max, const std::string& unit, int64_t* out,
                   std::string* error) {
  auto it = request.params.find(name);
  if (it == request.params.end() || it->second.empty()) {
    *out = default_value;
    return true;
  }
  const std::string& v = it->second;
  std::string shown = v.size() > 32 ? v.substr(0, 32) + "..." : v;
  auto range = [&] {
    return "must be a whole number" + (unit.empty() ? std::string() : " of " + unit) + " from " +
           std::to_string(min) + " to " + std::to_string(max);
  };
  size_t i = 0;
  bool negative = false;
  if (v[0] == '-' || v[0] == '+') {
    negative = v[0] == '-';
    i = 1;
  }
  if (i == v.size()) {
    *error = "invalid \"" + name + "\" parameter \"" + shown + "\": " + range();
    return false;
  }
  int64_t value = 0;
  for (; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') {
      *error = "invalid \"" + name + "\" parameter \"" + shown + "\": " + range();
      return false;
    }
    if (value > (INT64_MAX - 9) / 10) {
      *error = "\"" + name + "\" parameter " + shown + " is too large: " + range();
      return false;
    }
    value = value * 10 + (v[i] - '0');
  }
  if (negative) value = -value;
  if (value < min || value > max) {
    *error = "\"" + name + "\" parameter " + shown + " is out of range: " + range();
    return false;
  }
  *out = value;
  return true;
}

bool CheckKnownParams(const ProfileRequest& request, const std::vector<std::string>& allowed,
                      std::string* error) {
  for (const auto& kv : request.params) {
    if (std::find(allowed.begin(), allowed.end(), kv.first) != allowed.end()) continue;
    std::string shown = kv.first.size() > 32 ? kv.first.substr(0, 32) + "..." : kv.first;
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
    *error = "unknown parameter \"" + shown + "\": accepted " + (list.empty() ? "none" : "are " + list);
    return false;
  }
  return true;
}

bool WaitSecondsOrCancel(const ProfileRequest& request, int64_t seconds) {
  constexpr int64_t kSliceNanos = 50 * 1000 * 1000;
  const int64_t deadline = MonotonicNanos() + seconds * 1000000000;
  for (;;) {
    const int64_t left = deadline - MonotonicNanos();
    if (left <= 0) return true;
    if (request.cancelled()) return false;
    timespec ts{0, static_cast<long>(std::min(left, kSliceNanos))};
    nanosleep(&ts, nullptr);
  }
}

}  // namespace internal
}  // namespace cpprof
