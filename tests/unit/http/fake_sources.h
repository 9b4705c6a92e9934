// SPDX-License-Identifier: Apache-2.0
//
// Fake profile sources shared by the http unit tests. They are registered
// once in the process-wide Registry (which never removes sources).

#ifndef CPPROF_TESTS_UNIT_HTTP_FAKE_SOURCES_H_
#define CPPROF_TESTS_UNIT_HTTP_FAKE_SOURCES_H_

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "registry/registry.h"

namespace cpprof_test {

using cpprof::internal::ProfileRequest;
using cpprof::internal::ProfileResponse;
using cpprof::internal::ProfileSource;

// Returns a fixed proto-like body and records the last request it saw.
class RecordingSource : public ProfileSource {
 public:
  std::string name() const override { return "fakeproto"; }
  std::string description() const override { return "A <fake> profile & more"; }
  std::vector<std::string> parameters() const override { return {"seconds", "debug"}; }
  int64_t count() const override { return 42; }
  ProfileResponse Collect(const ProfileRequest& request) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      last_params = request.params;
      last_limits_max_seconds = request.limits.max_profile_seconds;
      saw_cancelled_fn = static_cast<bool>(request.cancelled);
    }
    ProfileResponse r;
    auto it = request.params.find("debug");
    if (it != request.params.end() && it->second != "0") {
      r.is_proto = false;
      r.body = "text form\n";
      return r;
    }
    r.filename = "fakeproto";
    r.body = std::string("\x1f\x8b\x08\x00proto", 9);
    return r;
  }
  std::mutex mu;
  std::map<std::string, std::string> last_params;
  int last_limits_max_seconds = 0;
  bool saw_cancelled_fn = false;
};

// Always fails with 409 and a message.
class FailingSource : public ProfileSource {
 public:
  std::string name() const override { return "fakefail"; }
  std::string description() const override { return "Always busy"; }
  std::vector<std::string> parameters() const override { return {}; }
  ProfileResponse Collect(const ProfileRequest&) override {
    return ProfileResponse::Error(409, "profile already running at another rate");
  }
};

// Sleeps in 10 ms steps for `seconds` (default 30), returning early when
// cancelled() turns true; counts both outcomes.
class SlowSource : public ProfileSource {
 public:
  std::string name() const override { return "fakeslow"; }
  std::string description() const override { return "Sleeps, honouring cancellation"; }
  std::vector<std::string> parameters() const override { return {"seconds"}; }
  ProfileResponse Collect(const ProfileRequest& request) override {
    started.fetch_add(1);
    int seconds = 30;
    auto it = request.params.find("seconds");
    if (it != request.params.end()) seconds = std::atoi(it->second.c_str());
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
      if (request.cancelled()) {
        cancelled.fetch_add(1);
        return ProfileResponse::Error(500, "cancelled");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    completed.fetch_add(1);
    ProfileResponse r;
    r.is_proto = false;
    r.body = "done\n";
    return r;
  }
  std::atomic<int> started{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> completed{0};
};

// Answers at once with `mb` MiB of text (default 32): more than the kernel's
// socket buffers take, so a client that does not read leaves it unsent.
class BigSource : public ProfileSource {
 public:
  std::string name() const override { return "fakebig"; }
  std::string description() const override { return "A large answer"; }
  std::vector<std::string> parameters() const override { return {"mb"}; }
  ProfileResponse Collect(const ProfileRequest& request) override {
    size_t mb = 32;
    auto it = request.params.find("mb");
    if (it != request.params.end()) mb = static_cast<size_t>(std::atoi(it->second.c_str()));
    ProfileResponse r;
    r.is_proto = false;
    r.body.assign(mb << 20, 'x');
    return r;
  }
};

struct Fakes {
  RecordingSource* recording;
  FailingSource* failing;
  SlowSource* slow;
  BigSource* big;
};

inline Fakes& RegisterFakes() {
  static Fakes* fakes = [] {
    auto* f = new Fakes();
    auto rec = std::make_unique<RecordingSource>();
    auto fail = std::make_unique<FailingSource>();
    auto slow = std::make_unique<SlowSource>();
    auto big = std::make_unique<BigSource>();
    f->big = big.get();
    f->recording = rec.get();
    f->failing = fail.get();
    f->slow = slow.get();
    auto& reg = cpprof::internal::Registry::Global();
    reg.Register(std::move(rec));
    reg.Register(std::move(fail));
    reg.Register(std::move(slow));
    reg.Register(std::move(big));
    return f;
  }();
  return *fakes;
}

}  // namespace cpprof_test

#endif  // CPPROF_TESTS_UNIT_HTTP_FAKE_SOURCES_H_
