// SPDX-License-Identifier: Apache-2.0

#include "profiles/fd/fd_source.h"

#include <string>
#include <vector>

#include "base/process_metrics.h"
#include "base/self_stats.h"
#include "profiles/fd/fd_inventory.h"
#include "profiles/fd/fd_records.h"
#include "profiles/fd/fd_watchdog.h"
#include "profiles/source_util.h"
#include "registry/params.h"
#include "unwind/unwind_service.h"

namespace cpprof {
namespace internal {
namespace {

class FdSource : public ProfileSource {
 public:
  std::string name() const override { return "fd"; }
  std::string description() const override {
    std::string d =
        "Open file descriptors by the stack that created them, with type, target (path or socket addresses) "
        "and age; descriptors inherited or made where no hook sees them are of unknown origin. Set debug=1 "
        "for a readable inventory, seconds=N for those opened in the next N seconds and still open.";
    const int64_t open = fd::FdWatchdog::Global().last_open();
    const int64_t limit = fd::FdWatchdog::Global().last_limit();
    if (open >= 0 && limit > 0 && open * 100 >= limit * 80) {
      d += " WARNING: " + std::to_string(open) + " of " + std::to_string(limit) + " descriptors in use.";
    }
    return d;
  }
  std::vector<std::string> parameters() const override { return {"debug", "seconds"}; }
  bool seconds_is_delta() const override { return true; }
  int64_t count() const override { return CountOpenFds(); }

  void Configure(const Options& options) override {
    if (!options.fd_tracking) {
      fd::SetFdRecording(false);
      return;
    }
    StartUnwindRefresher();  // creation stacks are walked with the CFI tables
    fd::StartFdTracking();
    fd::FdWatchdog::Global().Start(options.fd_warn_percent, options.fd_critical_percent);
  }

  ProfileResponse Collect(const ProfileRequest& request) override {
    int64_t debug = 0, seconds = 0;
    std::string error;
    if (!OnlyKnownParams(request, parameters(), &error) ||
        !ParseIntParam(request, "debug", 0, 0, 2, "", &debug, &error) ||
        !ParseIntParam(request, "seconds", 0, 1, request.limits.max_profile_seconds, "seconds", &seconds, &error)) {
      return ProfileResponse::Error(400, error);
    }
    if (seconds > 0 && debug != 0) return ProfileResponse::Error(400, "seconds and debug params are incompatible");
    fd::InventoryOptions options;
    options.flags = debug != 0;
    fd::Inventory inventory;
    int64_t start_ns = 0;
    if (seconds > 0) {
      // Sweep stale records now, so the delta holds only this window's.
      Status s = fd::TakeInventory(options, &inventory);
      if (!s.ok()) return ProfileResponse::Error(503, s.message());
      start_ns = inventory.taken_unix_ns;
      if (!WaitSeconds(request, seconds)) return ProfileResponse::Error(499, "client closed the connection");
    }
    Status s = fd::TakeInventory(options, &inventory);
    if (!s.ok()) return ProfileResponse::Error(503, s.message());
    if (debug != 0) return TextResponse(fd::FdText(inventory));
    StackProfile p = fd::FdProfile(inventory, start_ns);
    if (seconds > 0) {
      p.time_nanos = start_ns;
      p.duration_nanos = seconds * 1000000000;
      return ProtoResponse(p, "fd-delta");
    }
    return ProtoResponse(p, "fd");
  }
};

void RegisterFdStats() {
  RegisterMemoryUser("fd_tracking", [] { return fd::FdRecordsMemoryBytes() + fd::FdWatchdog::Global().memory_bytes(); });
  RegisterStatProvider("fd_open", "Open file descriptors at the watchdog's last check.",
                       [] { return static_cast<double>(fd::FdWatchdog::Global().last_open()); });
  RegisterStatProvider("fd_limit", "RLIMIT_NOFILE soft limit at the watchdog's last check (-1: unlimited).",
                       [] { return static_cast<double>(fd::FdWatchdog::Global().last_limit()); });
  RegisterStatProvider("fd_created_total", "Descriptors created through cpprof's hooks.",
                       [] { return static_cast<double>(fd::GetFdCounters().created.load()); });
  RegisterStatProvider("fd_emfile_total", "Descriptor-creating calls that failed with EMFILE (too many open files).",
                       [] { return static_cast<double>(fd::GetFdCounters().emfile.load()); });
  RegisterStatProvider("fd_enfile_total", "Descriptor-creating calls that failed with ENFILE (system table full).",
                       [] { return static_cast<double>(fd::GetFdCounters().enfile.load()); });
  RegisterStatProvider("fd_high_numbers_total", "Descriptors created with a number >= 1024 (select() hazard).",
                       [] { return static_cast<double>(fd::GetFdCounters().high_fds.load()); });
  RegisterStatProvider("fd_alerts_total", "Descriptor alerts raised (limit levels, growth, EMFILE, select hazard).",
                       [] { return static_cast<double>(fd::FdWatchdog::Global().alerts()); });
  RegisterStatProvider("fd_untracked_total", "Descriptors created that could not be recorded (number >= 2^20).",
                       [] { return static_cast<double>(fd::GetFdCounters().untracked.load()); });
}

}  // namespace

std::unique_ptr<ProfileSource> NewFdProfileSource() {
  RegisterFdStats();
  return std::make_unique<FdSource>();
}

}  // namespace internal
}  // namespace cpprof
