// SPDX-License-Identifier: Apache-2.0
//
// Parameters are checked as the heap routes check them: `debug` 0..2,
// `seconds` 1..max (a delta between two dumps, Go's "<name>-delta"),
// `seconds` with a non-zero `debug` refused as Go refuses it, and, unlike
// Go, any parameter a route does not know is a 400 naming it.

#include "profiles/threads/thread_sources.h"

#include <algorithm>
#include <atomic>
#include <string>

#include "base/self_stats.h"
#include "base/thread_list.h"
#include "profiles/threads/thread_creation.h"
#include "profiles/threads/thread_dump.h"
#include "profiles/source_util.h"
#include "registry/params.h"
#include "unwind/unwind_service.h"

namespace cpprof {
namespace internal {
namespace {

// debug and seconds as the heap routes take them; false with *error set.
bool ParseDebugSeconds(const ProfileRequest& request, const std::vector<std::string>& allowed, int64_t* debug,
                       int64_t* seconds, std::string* error) {
  if (!OnlyKnownParams(request, allowed, error) || !ParseIntParam(request, "debug", 0, 0, 2, "", debug, error) ||
      !ParseIntParam(request, "seconds", 0, 1, request.limits.max_profile_seconds, "seconds", seconds, error)) {
    return false;
  }
  if (*seconds > 0 && *debug != 0) {
    *error = "seconds and debug params are incompatible";
    return false;
  }
  return true;
}

StackProfile WithoutTids(StackProfile p) {
  for (StackSample& s : p.samples) {
    s.labels.erase(std::remove_if(s.labels.begin(), s.labels.end(), [](const SampleLabel& l) { return l.key == "tid"; }),
                   s.labels.end());
  }
  return p;
}

class ThreadDumpSource : public ProfileSource {
 public:
  explicit ThreadDumpSource(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  std::string description() const override {
    return "Stack traces of all current threads, read without signalling any of them (blocked threads from "
           "their saved registers; running threads shown as running, or asked with a signal when signal=1). "
           "Set debug=2 for one block per thread with its state, wait reason, CPU time, time blocked, mutex "
           "owner and deadlocks." +
           LeakNote();
  }
  std::vector<std::string> parameters() const override { return {"debug", "seconds", "signal"}; }
  bool seconds_is_delta() const override { return true; }
  int64_t count() const override { return static_cast<int64_t>(ListTasks().size()); }

  void Configure(const Options& options) override {
    signo_.store(options.thread_dump_signal);
    if (name_ != "goroutine") return;
    // Creator stacks are walked with the CFI tables: keep them current.
    StartUnwindRefresher();
    threads::StartCreationTracking();
    threads::ThreadLeakMonitor::Global().Start(options.thread_leak_interval_ms);
  }

  ProfileResponse Collect(const ProfileRequest& request) override {
    int64_t debug = 0, seconds = 0, signal = 0;
    std::string error;
    if (!ParseDebugSeconds(request, parameters(), &debug, &seconds, &error) ||
        !ParseIntParam(request, "signal", 0, 0, 1, "", &signal, &error)) {
      return ProfileResponse::Error(400, error);
    }
    threads::DumpOptions options;
    options.signal_running = signal != 0;
    options.signo = signo_.load();
    if (debug != 0) {
      return TextResponse(threads::ThreadDumpText(threads::TakeThreadDump(options), static_cast<int>(debug)));
    }
    if (seconds == 0) return ProtoResponse(threads::ThreadDumpProfile(threads::TakeThreadDump(options)), name_);
    // Thread ids would make every group with a new or departed thread a
    // different sample: a delta compares stacks, names and states only.
    StackProfile base = WithoutTids(threads::ThreadDumpProfile(threads::TakeThreadDump(options)));
    if (!WaitSeconds(request, seconds)) return ProfileResponse::Error(499, "client closed the connection");
    StackProfile p = WithoutTids(threads::ThreadDumpProfile(threads::TakeThreadDump(options)));
    SubtractStackProfile(base, &p);
    p.duration_nanos = seconds * 1000000000;
    return ProtoResponse(p, name_ + "-delta");
  }

  static std::string LeakNote() {
    const threads::LeakReport report = threads::ThreadLeakMonitor::Global().Suspects();
    if (report.suspects.empty()) return "";
    std::string out = " THREAD LEAK suspected (see thread_leaks):";
    for (const threads::LeakSuspect& s : report.suspects) out += " " + threads::DescribeSuspect(s, 3) + ";";
    return out;
  }

 private:
  std::string name_;
  std::atomic<int> signo_{0};
};

class ThreadCreateSource : public ProfileSource {
 public:
  std::string name() const override { return "threadcreate"; }
  std::string description() const override {
    return "Stack traces that led to the creation of the live threads (pthread_create); threads made before "
           "cpprof started, by a raw clone or inside glibc are listed under an unknown creator." +
           ThreadDumpSource::LeakNote();
  }
  std::vector<std::string> parameters() const override { return {"debug", "seconds"}; }
  bool seconds_is_delta() const override { return true; }
  int64_t count() const override { return static_cast<int64_t>(ListTasks().size()); }

  ProfileResponse Collect(const ProfileRequest& request) override {
    int64_t debug = 0, seconds = 0;
    std::string error;
    if (!ParseDebugSeconds(request, parameters(), &debug, &seconds, &error)) {
      return ProfileResponse::Error(400, error);
    }
    if (debug != 0) return TextResponse(threads::ThreadCreateText());
    if (seconds == 0) return ProtoResponse(threads::ThreadCreateProfile(), "threadcreate");
    StackProfile base = threads::ThreadCreateProfile();
    if (!WaitSeconds(request, seconds)) return ProfileResponse::Error(499, "client closed the connection");
    StackProfile p = threads::ThreadCreateProfile();
    SubtractStackProfile(base, &p);
    p.duration_nanos = seconds * 1000000000;
    return ProtoResponse(p, "threadcreate-delta");
  }
};

class ThreadLeakSource : public ProfileSource {
 public:
  std::string name() const override { return "thread_leaks"; }
  std::string description() const override {
    return "Thread-leak suspects: creation sites whose live thread count keeps growing over the recorded "
           "window (Mann-Kendall trend test), with their live threads. Set debug=1 for a readable report.";
  }
  std::vector<std::string> parameters() const override { return {"debug"}; }
  int64_t count() const override {
    return static_cast<int64_t>(threads::ThreadLeakMonitor::Global().Suspects().suspects.size());
  }

  ProfileResponse Collect(const ProfileRequest& request) override {
    int64_t debug = 0;
    std::string error;
    if (!OnlyKnownParams(request, parameters(), &error) ||
        !ParseIntParam(request, "debug", 0, 0, 2, "", &debug, &error)) {
      return ProfileResponse::Error(400, error);
    }
    threads::ThreadLeakMonitor& monitor = threads::ThreadLeakMonitor::Global();
    if (!monitor.running()) {
      return ProfileResponse::Error(503, "thread leak detection is not running: no endpoint was started");
    }
    const threads::LeakReport report = monitor.Suspects();
    if (debug != 0) return TextResponse(threads::ThreadLeakText(report));
    return ProtoResponse(threads::ThreadLeakProfile(report), "thread_leaks");
  }
};

void RegisterThreadStats() {
  RegisterMemoryUser("thread_creation", [] { return threads::ThreadLeakMonitor::Global().memory_bytes(); });
  RegisterStatProvider("threads_created_tracked_total", "Threads created through pthread_create since cpprof "
                       "started tracking creation stacks.",
                       [] { return static_cast<double>(threads::TrackedCreations()); });
  RegisterStatProvider("thread_leak_suspects", "Creation sites whose live thread count keeps growing.",
                       [] { return static_cast<double>(threads::ThreadLeakMonitor::Global().Suspects().suspects.size()); });
  RegisterStatProvider("thread_dump_syscalls_restarted_total",
                       "Blocking calls a thread-dump signal (signal=1) interrupted right after they began, made "
                       "again instead of failing with EINTR.",
                       [] { return static_cast<double>(threads::SignalSyscallsRestarted()); });
  RegisterStatProvider("thread_dump_eintr_caused_total",
                       "Blocking calls a thread-dump signal (signal=1) interrupted that could not be restarted.",
                       [] { return static_cast<double>(threads::SignalEintrCaused()); });
}

}  // namespace

std::vector<std::unique_ptr<ProfileSource>> NewThreadProfileSources() {
  RegisterThreadStats();
  std::vector<std::unique_ptr<ProfileSource>> out;
  out.push_back(std::make_unique<ThreadDumpSource>("goroutine"));
  out.push_back(std::make_unique<ThreadDumpSource>("threads"));
  out.push_back(std::make_unique<ThreadCreateSource>());
  out.push_back(std::make_unique<ThreadLeakSource>());
  return out;
}

}  // namespace internal
}  // namespace cpprof
