// SPDX-License-Identifier: Apache-2.0
//
// Serves /debug/pprof/profile. Validates `seconds` and `hz` strictly (400
// naming the problem), opens a window on the shared CPU session (409 when a
// session at another rate runs), waits in short slices so a client that goes
// away ends its share of the session within ~50 ms, then encodes the
// window's samples. A window of kPrepareMinSeconds or more spends part of its
// wait, a third of the way in, building the symbol indexes of the modules its
// samples have reached so far (once per module and process), so the first
// profile is answered when its window ends instead of after those builds. A
// shorter window is left alone: a build could stretch it.

#include "base/clock.h"
#include "profiles/cpu/cpu_source.h"

#include <time.h>

#include "pprof/stack_profile.h"
#include "profiles/cpu/cpu_profiler.h"
#include "registry/params.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {
namespace {

constexpr int64_t kDefaultSeconds = 30;  // as Go's net/http/pprof
constexpr long kPollNanos = 50 * 1000 * 1000;
constexpr int64_t kPrepareMinSeconds = 5;
constexpr size_t kPrepareMaxPcs = size_t{1} << 20;

class CpuProfileSource : public ProfileSource {
 public:
  std::string name() const override { return "profile"; }
  std::string description() const override {
    return "CPU profile. You can specify the duration in the seconds GET parameter (and the "
           "sampling rate in hz). After you get the profile file, use the go tool pprof command "
           "to investigate the profile.";
  }
  std::vector<std::string> parameters() const override { return {"seconds", "hz"}; }

  void Configure(const Options& options) override {
    CpuProfiler::Global().set_max_table_bytes(options.cpu_table_max_bytes);
    Symbolizer::Global().set_max_bytes(options.symbol_cache_max_bytes);
    SetUnwindTablesMaxBytes(options.unwind_table_max_bytes);
  }

  ProfileResponse Collect(const ProfileRequest& request) override {
    int64_t seconds = 0;
    int64_t hz = 0;
    std::string error;
    if (!ParseIntParam(request, "seconds", kDefaultSeconds, 1, request.limits.max_profile_seconds,
                       "seconds", &seconds, &error) ||
        !ParseIntParam(request, "hz", request.limits.cpu_default_hz, 1, request.limits.cpu_max_hz,
                       "samples per second", &hz, &error)) {
      return ProfileResponse::Error(400, error);
    }
    uint64_t window = 0;
    Status s = CpuProfiler::Global().BeginWindow(static_cast<int>(hz), request.limits.cpu_signal, &window);
    if (!s.ok()) {
      int status = s.code() == StatusCode::kFailedPrecondition ? 409 : 500;
      return ProfileResponse::Error(status, "Could not enable CPU profiling: " + s.message());
    }
    const int64_t deadline = MonotonicNanos() + seconds * 1000000000;
    const int64_t prepare_at = seconds >= kPrepareMinSeconds ? deadline - seconds * 1000000000 * 2 / 3 : 0;
    bool prepared = false;
    bool cancelled = false;
    for (;;) {
      int64_t left = deadline - MonotonicNanos();
      if (left <= 0) break;
      if (!prepared && prepare_at != 0 && MonotonicNanos() >= prepare_at) {
        prepared = true;
        PrepareSymbolsFor(CpuProfiler::Global().PcsSoFar(window, kPrepareMaxPcs));
        continue;
      }
      if (request.cancelled()) {
        cancelled = true;
        break;
      }
      timespec ts{0, left < kPollNanos ? static_cast<long>(left) : kPollNanos};
      nanosleep(&ts, nullptr);
    }
    StackProfile profile = CpuProfiler::Global().EndWindow(window);
    if (cancelled) return ProfileResponse::Error(499, "client closed the connection");
    ProfileResponse r;
    r.filename = "profile";
    r.body = EncodeStackProfile(profile);
    return r;
  }
};

}  // namespace

std::unique_ptr<ProfileSource> NewCpuProfileSource() {
  return std::make_unique<CpuProfileSource>();
}

}  // namespace internal
}  // namespace cpprof
