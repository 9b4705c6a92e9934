// SPDX-License-Identifier: Apache-2.0
//
// Serves mutex, block, delta_mutex and delta_block (contention_source.h).
// Parameters are checked strictly: `debug` 0..2, `seconds` 1..max, the two
// together refused as Go refuses them, anything else named in a 400.

#include "profiles/contention/contention_source.h"

#include "base/self_stats.h"
#include "profiles/contention/contention.h"
#include "profiles/contention/contention_profile.h"
#include "profiles/source_util.h"
#include "registry/params.h"
#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
namespace {

using contention::Which;

class ContentionSource : public ProfileSource {
 public:
  ContentionSource(Which which, bool delta_route) : which_(which), delta_route_(delta_route) {}

  std::string name() const override {
    std::string base = which_ == Which::kMutex ? "mutex" : "block";
    return delta_route_ ? "delta_" + base : base;
  }

  std::string description() const override {
    std::string d;
    if (delta_route_) {
      d = which_ == Which::kMutex ? "The mutex profile for scrapers: contention since the previous request of "
                                    "this path (Grafana Alloy's godeltaprof_mutex)."
                                  : "The block profile for scrapers: waiting since the previous request of "
                                    "this path (Grafana Alloy's godeltaprof_block).";
    } else {
      d = which_ == Which::kMutex
              ? "Stack traces of holders of contended mutexes: the delay every waiter experienced, charged "
                "to the code that unlocked."
              : "Stack traces that led to blocking on pthread mutexes, rwlocks and condition variables "
                "(label kind).";
    }
    return d + " Sampling: " + contention::SamplingDescription(which_) + ".";
  }

  std::vector<std::string> parameters() const override {
    if (delta_route_) return {};
    return {"debug", "seconds"};
  }

  bool seconds_is_delta() const override { return !delta_route_; }

  int64_t count() const override {
    if (delta_route_) return -1;
    const StackTable* t = contention::Table(which_);
    return t != nullptr ? static_cast<int64_t>(t->used_slots()) : 0;
  }

  void Configure(const Options& options) override {
    if (delta_route_) return;
    // -1 keeps what is in effect, which starts as the environment's.
    contention::ApplyEnvironmentOnce();
    if (which_ == Which::kMutex && options.mutex_profile_fraction >= 0) {
      contention::SetMutexFraction(options.mutex_profile_fraction);
    }
    if (which_ == Which::kBlock && options.block_profile_rate >= 0) {
      contention::SetBlockRate(options.block_profile_rate);
    }
  }

  ProfileResponse Collect(const ProfileRequest& request) override {
    std::string error;
    if (!OnlyKnownParams(request, parameters(), &error)) return ProfileResponse::Error(400, error);
    if (delta_route_) {
      TableSnapshot now = contention::TakeSnapshot(which_);
      TableSnapshot base = baseline_.Exchange(now);
      return ProtoResponse(contention::BuildContentionProfile(which_, now, base), name());
    }
    int64_t debug = 0, seconds = 0;
    if (!ParseIntParam(request, "debug", 0, 0, 2, "", &debug, &error) ||
        !ParseIntParam(request, "seconds", 0, 1, request.limits.max_profile_seconds, "seconds", &seconds,
                       &error)) {
      return ProfileResponse::Error(400, error);
    }
    if (seconds > 0 && debug != 0) return ProfileResponse::Error(400, "seconds and debug params are incompatible");
    if (seconds == 0) {
      TableSnapshot now = contention::TakeSnapshot(which_);
      if (debug != 0) return TextResponse(contention::ContentionText(which_, now));
      return ProtoResponse(contention::BuildContentionProfile(which_, now, TableSnapshot()), name());
    }
    TableSnapshot base = contention::TakeSnapshot(which_);
    if (!WaitSeconds(request, seconds)) return ProfileResponse::Error(499, "client closed the connection");
    TableSnapshot now = contention::TakeSnapshot(which_);
    return ProtoResponse(contention::BuildContentionProfile(which_, now, base), name() + "-delta");
  }

 private:
  Which which_;
  bool delta_route_;
  DeltaBaseline baseline_;
};

size_t ContentionMemoryBytes() {
  size_t bytes = 0;
  for (Which w : {Which::kMutex, Which::kBlock}) {
    if (const StackTable* t = contention::Table(w)) bytes += t->memory_bytes();
  }
  return bytes;
}

void RegisterContentionStats() {
  using contention::GetCounters;
  RegisterMemoryUser("contention", ContentionMemoryBytes);
  RegisterStatProvider("mutex_profile_fraction", "1 of N contended mutex unlocks recorded (0: off).",
                       [] { return static_cast<double>(contention::MutexFraction()); });
  RegisterStatProvider("block_profile_rate_seconds",
                       "About one block sample per this much time waited (CPPROF_BLOCK_RATE, in seconds; 0: off).",
                       [] { return static_cast<double>(contention::BlockRate()) / 1e9; });
  RegisterStatProvider("mutex_contended_unlocks_total", "Unlocks that released waiters (while profiling).",
                       [] { return static_cast<double>(GetCounters().mutex_events.load()); });
  RegisterStatProvider("block_waits_total", "Waits timed for the block profile (while profiling).",
                       [] { return static_cast<double>(GetCounters().block_events.load()); });
  RegisterStatProvider("contention_samples_total", "Mutex and block events recorded with a stack.",
                       [] { return static_cast<double>(GetCounters().samples.load()); });
  RegisterStatProvider("contention_samples_dropped_total",
                       "Sampled mutex and block events whose stack did not fit (shown as a synthetic frame).",
                       [] { return static_cast<double>(GetCounters().dropped.load()); });
  RegisterStatProvider("mutex_waiters_untracked_total",
                       "Waiters the holder-attribution table had no room for (missing from the mutex profile).",
                       [] { return static_cast<double>(GetCounters().untracked_waits.load()); });
  RegisterStatProvider("contention_recording_seconds_total",
                       "Time spent recording sampled contention (stack walk, table) on host threads.",
                       [] { return static_cast<double>(GetCounters().hook_ns.load()) / 1e9; });
}

}  // namespace

std::vector<std::unique_ptr<ProfileSource>> NewContentionProfileSources() {
  RegisterContentionStats();
  std::vector<std::unique_ptr<ProfileSource>> out;
  out.push_back(std::make_unique<ContentionSource>(Which::kMutex, false));
  out.push_back(std::make_unique<ContentionSource>(Which::kBlock, false));
  out.push_back(std::make_unique<ContentionSource>(Which::kMutex, true));
  out.push_back(std::make_unique<ContentionSource>(Which::kBlock, true));
  return out;
}

}  // namespace internal
}  // namespace cpprof
