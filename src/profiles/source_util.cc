// SPDX-License-Identifier: Apache-2.0

#include "profiles/source_util.h"

#include <time.h>

#include <algorithm>

#include "base/clock.h"

namespace cpprof {
namespace internal {

namespace {
constexpr long kPollNanos = 50 * 1000 * 1000;
}  // namespace

ProfileResponse ProtoResponse(const StackProfile& profile, const std::string& filename) {
  ProfileResponse r;
  r.filename = filename;
  r.body = EncodeStackProfile(profile);
  if (r.body.empty()) return ProfileResponse::Error(500, "could not encode the profile (out of memory?)");
  return r;
}

ProfileResponse TextResponse(std::string body) {
  ProfileResponse r;
  r.is_proto = false;
  r.body = std::move(body);
  return r;
}

bool WaitSeconds(const ProfileRequest& request, int64_t seconds) {
  const int64_t deadline = MonotonicNanos() + seconds * 1000000000;
  for (;;) {
    int64_t left = deadline - MonotonicNanos();
    if (left <= 0) return true;
    if (request.cancelled()) return false;
    timespec ts{0, left < kPollNanos ? static_cast<long>(left) : kPollNanos};
    nanosleep(&ts, nullptr);
  }
}

bool OnlyKnownParams(const ProfileRequest& request, const std::vector<std::string>& known, std::string* error) {
  for (const auto& [key, value] : request.params) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      *error = "unknown parameter \"" + key + "\"" +
               (list.empty() ? std::string(": this profile takes none") : "; this profile takes: " + list);
      return false;
    }
  }
  return true;
}

}  // namespace internal
}  // namespace cpprof
