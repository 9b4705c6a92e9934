// SPDX-License-Identifier: Apache-2.0
//
// ProfileSource: one kind of profile the endpoint serves (CPU, heap, ...).
// The HTTP layer knows only this interface and the Registry; a new profile
// kind is one class implementing it plus one Register() call in core/.

#ifndef CPPROF_SRC_REGISTRY_PROFILE_SOURCE_H_
#define CPPROF_SRC_REGISTRY_PROFILE_SOURCE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cpprof/options.h"

namespace cpprof {
namespace internal {

// Limits from cpprof::Options that sources must honour.
struct ProfileLimits {
  int cpu_default_hz = 100;
  int cpu_max_hz = 1000;
  int max_profile_seconds = 600;
  int cpu_signal = 27;  // SIGPROF
};

struct ProfileRequest {
  // Decoded query parameters (the last value wins for repeated keys).
  std::map<std::string, std::string> params;
  ProfileLimits limits;
  // Returns true once the client has gone away or the server is stopping.
  // Never null.
  std::function<bool()> cancelled;
};

struct ProfileResponse {
  int status = 200;             // HTTP status; != 200 means `body` is an error message
  bool is_proto = true;         // gzipped profile.proto (octet-stream) vs text/plain
  std::string filename;         // Content-Disposition filename for protos, e.g. "profile"
  std::string body;
  std::vector<std::pair<std::string, std::string>> extra_headers;

  static ProfileResponse Error(int status, std::string message) {
    ProfileResponse r;
    r.status = status;
    r.is_proto = false;
    r.body = std::move(message);
    return r;
  }
};

class ProfileSource {
 public:
  virtual ~ProfileSource() = default;
  // Route name under /debug/pprof/, e.g. "profile".
  virtual std::string name() const = 0;
  // One line for the index page, like Go's profileDescriptions.
  virtual std::string description() const = 0;
  // Parameters it accepts, for the machine-readable index: e.g. {"seconds", "hz"}.
  virtual std::vector<std::string> parameters() const = 0;
  // True when `seconds` is optional and asks for a delta between two
  // snapshots (heap, contention, descriptors); false when it is the length
  // of a recording window the profile needs (CPU). In index.json as
  // "seconds_delta".
  virtual bool seconds_is_delta() const { return false; }
  // Number shown in the index's count column, or -1 for none.
  virtual int64_t count() const { return -1; }
  // Applies the kind's own settings from `options`; called by Server::Start()
  // and cpprof::Configure(). May start the kind's background work.
  virtual void Configure(const Options& options) { (void)options; }
  // Serves one request. May block (CPU profiles run for `seconds`), must
  // return early when request.cancelled() turns true. Never throws.
  virtual ProfileResponse Collect(const ProfileRequest& request) = 0;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_REGISTRY_PROFILE_SOURCE_H_
