// SPDX-License-Identifier: Apache-2.0
//
// Serves heap, allocs and delta_heap (see heap_source.h). Parameters are
// checked as strictly as the CPU route's: `debug` 0..2, `gc` any whole
// number (accepted for Go compatibility: cpprof's heap profile is always
// current, there is nothing to collect first), `seconds` 1..max (a delta
// over that window, Go's filename "<name>-delta"), and `seconds` with a
// non-zero `debug` is refused as Go refuses it.

#include "profiles/heap/heap_source.h"

#include <atomic>
#include <mutex>

#include "base/self_stats.h"
#include "profiles/heap/heap_growth.h"
#include "profiles/heap/heap_profile.h"
#include "profiles/heap/heap_sampler.h"
#include "profiles/heap/leak_scan.h"
#include "profiles/heap/native_heap.h"
#include "profiles/heap/sample_region.h"
#include "profiles/heap/thread_park.h"
#include "profiles/source_util.h"
#include "registry/params.h"
#include "stacks/stack_table.h"
#include "unwind/unwind_service.h"

namespace cpprof {
namespace internal {
namespace {

enum class Route { kHeap, kAllocs, kDeltaHeap };

class HeapProfileSource : public ProfileSource {
 public:
  explicit HeapProfileSource(Route route) : route_(route) {}

  std::string name() const override {
    switch (route_) {
      case Route::kHeap: return "heap";
      case Route::kAllocs: return "allocs";
      case Route::kDeltaHeap: return "delta_heap";
    }
    return "";
  }

  std::string description() const override {
    std::string mode = heap::ModeName(heap::CurrentMode());
    switch (route_) {
      case Route::kHeap:
        return "A sampling of memory allocations of live objects. You can specify the gc GET parameter "
               "(accepted; the profile is always current) and seconds for a delta. Heap: " + mode + ".";
      case Route::kAllocs:
        return "A sampling of all past memory allocations (the heap profile with alloc_space shown "
               "first). Heap: " + mode + ".";
      case Route::kDeltaHeap:
        return "The heap profile for scrapers: allocations since the previous request of this path, "
               "live objects as they are now (Grafana Alloy's godeltaprof_memory).";
    }
    return "";
  }

  std::vector<std::string> parameters() const override {
    if (route_ == Route::kDeltaHeap) return {};
    return {"debug", "gc", "seconds"};
  }

  bool seconds_is_delta() const override { return route_ != Route::kDeltaHeap; }

  int64_t count() const override { return route_ == Route::kDeltaHeap ? -1 : heap::LiveBuckets(); }

  void Configure(const Options& options) override {
    if (route_ != Route::kHeap) return;
    if (options.heap_sample_rate >= 0) heap::SetRate(options.heap_sample_rate);
    // Allocation stacks are walked with the CFI tables outside any CPU
    // session: keep them built and current.
    if (heap::Rate() > 0) {
      StartUnwindRefresher();
      heap::GrowthTracker::Global().Start(options.heap_growth_interval_ms);
    }
  }

  ProfileResponse Collect(const ProfileRequest& request) override {
    const heap::Mode mode = heap::CurrentMode();
    if ((mode == heap::Mode::kNotInterposed || mode == heap::Mode::kForeign) &&
        !heap::NativeAllocatorName().empty()) {
      return CollectNative(request);
    }
    if (route_ == Route::kDeltaHeap) {
      TableSnapshot now = heap::TakeHeapSnapshot();
      TableSnapshot base = baseline_.Exchange(now);
      heap::HeapProfileOptions options;
      options.delta = heap::DeltaKind::kAllocOnly;
      return ProtoResponse(heap::BuildHeapProfile(now, base, options), "delta_heap");
    }
    int64_t debug = 0, gc = 0, seconds = 0;
    std::string error;
    if (!ParseIntParam(request, "debug", 0, 0, 2, "", &debug, &error) ||
        !ParseIntParam(request, "gc", 0, INT64_MIN / 2, INT64_MAX / 2, "", &gc, &error) ||
        !ParseIntParam(request, "seconds", 0, 1, request.limits.max_profile_seconds, "seconds", &seconds,
                       &error)) {
      return ProfileResponse::Error(400, error);
    }
    if (seconds > 0 && debug != 0) return ProfileResponse::Error(400, "seconds and debug params are incompatible");
    heap::HeapProfileOptions options;
    options.allocs_default = route_ == Route::kAllocs;
    if (seconds == 0) {
      TableSnapshot now = heap::TakeHeapSnapshot();
      if (debug != 0) return TextResponse(heap::HeapProfileText(now));
      return ProtoResponse(heap::BuildHeapProfile(now, TableSnapshot(), options), name());
    }
    TableSnapshot base = heap::TakeHeapSnapshot();
    if (!WaitSeconds(request, seconds)) return ProfileResponse::Error(499, "client closed the connection");
    TableSnapshot now = heap::TakeHeapSnapshot();
    options.delta = heap::DeltaKind::kAll;
    return ProtoResponse(heap::BuildHeapProfile(now, base, options), name() + "-delta");
  }

 private:
  // Another allocator samples: read its profile (native_heap.h).
  ProfileResponse CollectNative(const ProfileRequest& request) {
    int64_t debug = 0, gc = 0, seconds = 0;
    std::string error;
    if (route_ != Route::kDeltaHeap &&
        (!ParseIntParam(request, "debug", 0, 0, 2, "", &debug, &error) ||
         !ParseIntParam(request, "gc", 0, INT64_MIN / 2, INT64_MAX / 2, "", &gc, &error) ||
         !ParseIntParam(request, "seconds", 0, 1, request.limits.max_profile_seconds, "seconds", &seconds,
                        &error))) {
      return ProfileResponse::Error(400, error);
    }
    if (seconds > 0 && debug != 0) return ProfileResponse::Error(400, "seconds and debug params are incompatible");
    if (debug != 0) return TextResponse(heap::NativeHeapText());
    StackProfile base;
    if (seconds > 0) {
      heap::NativeHeapProfile(&base);
      if (!WaitSeconds(request, seconds)) return ProfileResponse::Error(499, "client closed the connection");
    }
    StackProfile p;
    if (!heap::NativeHeapProfile(&p)) return ProfileResponse::Error(500, "the allocator gave no heap sample");
    if (route_ == Route::kAllocs) p.default_sample_type = "alloc_space";
    if (seconds > 0) {
      SubtractStackProfile(base, &p);
      p.duration_nanos = seconds * 1000000000;
      return ProtoResponse(p, name() + "-delta");
    }
    return ProtoResponse(p, name());
  }

  Route route_;
  DeltaBaseline baseline_;
};

// Leak detection, tier 1 (heap_growth.h): sites whose live estimate keeps
// growing over a window.
class HeapGrowthSource : public ProfileSource {
 public:
  std::string name() const override { return "heap_growth"; }
  std::string description() const override {
    return "Leak suspects: allocation sites whose live (in-use) estimate keeps growing over the last "
           "window seconds (all recorded history by default), by a Mann-Kendall trend test, with the "
           "age of their oldest live object. Set debug=1 for a readable report.";
  }
  std::vector<std::string> parameters() const override { return {"debug", "window"}; }
  int64_t count() const override { return -1; }

  ProfileResponse Collect(const ProfileRequest& request) override {
    int64_t debug = 0, window = 0;
    std::string error;
    if (!ParseIntParam(request, "debug", 0, 0, 2, "", &debug, &error) ||
        !ParseIntParam(request, "window", 0, 1, 7 * 86400, "seconds", &window, &error)) {
      return ProfileResponse::Error(400, error);
    }
    heap::GrowthTracker& tracker = heap::GrowthTracker::Global();
    if (!tracker.running()) {
      return ProfileResponse::Error(503, "heap growth tracking is not running: heap sampling is off or no "
                                         "endpoint was started (" + heap::ModeComment() + ")");
    }
    heap::GrowthReport report = tracker.Suspects(static_cast<double>(window));
    if (debug != 0) return TextResponse(heap::GrowthText(report));
    return ProtoResponse(heap::GrowthProfile(report), "heap_growth");
  }
};

// Leak detection, tier 2 (leak_scan.h): sampled objects nothing points to.
class LeakSource : public ProfileSource {
 public:
  std::string name() const override { return "leaks"; }
  std::string description() const override {
    return "Sampled objects that no live memory points to, older than min_age seconds, by allocation "
           "stack: a reachability scan of a snapshot (two scans confirm_ms apart, 500 by default). Set "
           "debug=1 for a readable report.";
  }
  std::vector<std::string> parameters() const override { return {"debug", "min_age", "confirm_ms"}; }

  void Configure(const Options& options) override {
    min_age_.store(options.leak_min_age_seconds);
    signo_.store(options.leak_signal);
    std::lock_guard<std::mutex> lock(mu_);
    suppressions_ = heap::ParseSuppressions(options.leak_suppressions);
  }

  ProfileResponse Collect(const ProfileRequest& request) override {
    int64_t debug = 0, min_age = 0, confirm_ms = 0;
    std::string error;
    if (!ParseIntParam(request, "debug", 0, 0, 2, "", &debug, &error) ||
        !ParseIntParam(request, "min_age", min_age_.load(), 0, 30 * 86400, "seconds", &min_age, &error) ||
        !ParseIntParam(request, "confirm_ms", 500, 0, 10000, "milliseconds", &confirm_ms, &error)) {
      return ProfileResponse::Error(400, error);
    }
    heap::LeakScanOptions options;
    options.min_age_seconds = min_age;
    options.confirm_ms = static_cast<int>(confirm_ms);
    options.signo = signo_.load();
    heap::LeakScanResult result;
    Status s = heap::ScanForLeaks(options, &result);
    if (!s.ok()) {
      return ProfileResponse::Error(s.code() == StatusCode::kFailedPrecondition ? 409 : 503,
                                    "leak scan: " + s.message());
    }
    StackProfile p = heap::LeakProfile(result, min_age);
    std::vector<std::string> suppressions;
    {
      std::lock_guard<std::mutex> lock(mu_);
      suppressions = suppressions_;
    }
    const int64_t suppressed = heap::SuppressLeaks(suppressions, &p);
    if (debug != 0) return TextResponse(heap::LeakText(result, p, min_age, suppressed));
    return ProtoResponse(p, "leaks");
  }

 private:
  std::atomic<int64_t> min_age_{30};
  std::atomic<int> signo_{0};
  std::mutex mu_;
  std::vector<std::string> suppressions_;  // guarded by mu_
};

size_t HeapMemoryBytes() {
  const StackTable* t = heap::Table();
  return SampleRegion::committed_bytes() + (t != nullptr ? t->memory_bytes() : 0) +
         heap::GrowthTracker::Global().memory_bytes();
}

void RegisterHeapStats() {
  RegisterMemoryUser("heap_sampler", HeapMemoryBytes);
  RegisterStatProvider("heap_sample_rate_bytes", "Mean bytes allocated between two heap samples (0: off).",
                       [] { return static_cast<double>(heap::Rate()); });
  RegisterStatProvider("heap_mode", "How allocations reach cpprof: 0 none yet, 1 glibc sampled, 2 another "
                       "allocator follows (unsampled), 3 another allocator first, 4 unavailable.",
                       [] { return static_cast<double>(static_cast<int>(heap::CurrentMode())); });
  RegisterStatProvider("heap_samples_total", "Allocations sampled.",
                       [] { return static_cast<double>(heap::GetCounters().samples.load()); });
  RegisterStatProvider("heap_samples_live", "Sampled objects not yet freed.",
                       [] { return static_cast<double>(SampleRegion::live_spans()); });
  RegisterStatProvider("heap_sample_region_bytes", "Bytes of sample-region pages holding live sampled objects.",
                       [] { return static_cast<double>(SampleRegion::live_bytes()); });
  RegisterStatProvider("heap_samples_dropped_total",
                       "Sampled allocations kept without a stack (table full) or not tracked (region full, "
                       "alignment above 4 KiB); shown as synthetic frames in heap profiles.",
                       [] {
                         heap::Counters& c = heap::GetCounters();
                         return static_cast<double>(c.dropped_table.load() + c.dropped_region.load() +
                                                    c.dropped_align.load());
                       });
  RegisterStatProvider("heap_sampling_seconds_total",
                       "Time spent recording sampled allocations (stack walk, table, region) on host threads.",
                       [] { return static_cast<double>(heap::GetCounters().slow_path_ns.load()) / 1e9; });
  RegisterStatProvider("leak_scan_parks_total", "Times a running thread was parked for a leak scan snapshot.",
                       [] { return static_cast<double>(GetParkCounters().parks.load()); });
  RegisterStatProvider("leak_scan_syscalls_restarted_total",
                       "Blocking calls a park signal interrupted right after they began, made again instead "
                       "of failing with EINTR.",
                       [] { return static_cast<double>(GetParkCounters().syscalls_restarted.load()); });
  RegisterStatProvider("leak_scan_eintr_caused_total",
                       "Blocking calls a park signal interrupted that could not be restarted (they saw EINTR).",
                       [] { return static_cast<double>(GetParkCounters().eintr_caused.load()); });
  RegisterStatProvider("heap_invalid_frees_total",
                       "Frees of sample-region addresses that were not a live sampled object (a double free).",
                       [] { return static_cast<double>(heap::GetCounters().invalid_frees.load()); });
  RegisterStatProvider("heap_samples_freed_outside_total",
                       "Sampled objects freed or resized by glibc directly, bypassing cpprof's free (a library "
                       "opened with RTLD_DEEPBIND, a call to __libc_free); taken out of the in-use values.",
                       [] { return static_cast<double>(heap::GetCounters().freed_outside.load()); });
}

}  // namespace

std::vector<std::unique_ptr<ProfileSource>> NewHeapProfileSources() {
  RegisterHeapStats();
  std::vector<std::unique_ptr<ProfileSource>> out;
  out.push_back(std::make_unique<HeapProfileSource>(Route::kHeap));
  out.push_back(std::make_unique<HeapProfileSource>(Route::kAllocs));
  out.push_back(std::make_unique<HeapProfileSource>(Route::kDeltaHeap));
  out.push_back(std::make_unique<HeapGrowthSource>());
  out.push_back(std::make_unique<LeakSource>());
  return out;
}

}  // namespace internal
}  // namespace cpprof
