// SPDX-License-Identifier: Apache-2.0

#include "profiles/fd/fd_watchdog.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "base/clock.h"
#include "base/periodic_thread.h"
#include "base/process_metrics.h"
#include "base/trend.h"
#include "pprof/legacy_text.h"
#include "profiles/fd/fd_records.h"
#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
namespace fd {
namespace {

std::atomic<void (*)(const FdAlert&)> g_callback{nullptr};
constexpr size_t kRecentAlerts = 16;
constexpr double kEmfileAlertEverySeconds = 60;
constexpr double kGrowthAlertEverySeconds = 300;
constexpr int kTopStacks = 5;
constexpr int kFramesPerStack = 4;

PeriodicThread& Thread() {
  static PeriodicThread* t = new PeriodicThread("cpprof-fdwatch", [] { FdWatchdog::Global().Check(); });
  return *t;  // never destroyed: runs until exit
}

double NowSeconds() { return static_cast<double>(MonotonicNanos()) / 1e9; }

// An alert of `kind` with its one-line message.
__attribute__((format(printf, 4, 5))) FdAlert MakeAlert(const char* kind, int64_t open, int64_t limit,
                                                        const char* format, ...) {
  FdAlert a;
  a.kind = kind;
  a.open_fds = open;
  a.soft_limit = limit;
  char msg[256];
  va_list ap;
  va_start(ap, format);
  vsnprintf(msg, sizeof(msg), format, ap);
  va_end(ap);
  a.message = msg;
  return a;
}

void WriteStderr(const std::string& text) {
  for (size_t off = 0; off < text.size();) {
    const ssize_t n = write(2, text.data() + off, text.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

std::map<long, int64_t> LivePerStack() {
  std::map<long, int64_t> out;
  const StackTable* table = FdStackTable();
  if (table == nullptr) return out;
  std::vector<int64_t> values;
  table->SnapshotValues(&values);
  const size_t n = table->slot_count();
  for (size_t i = 0; i < n; ++i) {
    const int64_t live = values[i * 2];
    if (live > 0) out[static_cast<long>(i)] = live;
  }
  return out;
}

FdWatchdog& FdWatchdog::Global() {
  static FdWatchdog* w = new FdWatchdog();  // never destroyed: its thread runs until exit
  return *w;
}

void FdWatchdog::Start(int warn_percent, int critical_percent) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    warn_percent_ = std::clamp(warn_percent, 1, 100);
    critical_percent_ = std::clamp(critical_percent, warn_percent_, 100);
  }
  Thread().Start(kWatchIntervalMs);
}

bool FdWatchdog::running() const { return Thread().running(); }

std::string FdWatchdog::TopStacks(const std::map<long, int64_t>* baseline, int max_stacks) const {
  const std::map<long, int64_t> now = LivePerStack();
  std::vector<std::pair<int64_t, long>> ranked;
  for (const auto& e : now) {
    int64_t v = e.second;
    if (baseline != nullptr) {
      auto it = baseline->find(e.first);
      v -= it == baseline->end() ? 0 : it->second;
    }
    if (v > 0) ranked.push_back({v, e.first});
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const StackTable* table = FdStackTable();
  std::string out;
  LegacyStackPrinter printer;
  for (int i = 0; i < static_cast<int>(ranked.size()) && i < max_stacks; ++i) {
    const uintptr_t* pcs = nullptr;
    int depth = 0;
    int32_t tag = 0;
    char head[64];
    snprintf(head, sizeof(head), "  %s%" PRId64 " open, created at ", baseline != nullptr ? "+" : "",
             ranked[i].first);
    out += head;
    if (table == nullptr || !table->Entry(static_cast<size_t>(ranked[i].second), &pcs, &depth, &tag)) {
      out += "(no stack)\n";
      continue;
    }
    for (int f = 0; f < depth && f < kFramesPerStack; ++f) {
      const SymbolizedAddress& sym = printer.Resolve(pcs[f] - 1);
      const std::string name =
          sym.frames.empty() || sym.frames.back().function.empty() ? "??" : sym.frames.back().function;
      out += (f ? " <- " : "") + name;
    }
    if (depth > kFramesPerStack) out += " <- ...";
    out += "\n";
  }
  return out;
}

void FdWatchdog::Raise(FdAlert alert) {
  std::string text = "cpprof: " + alert.message + "\n";
  if (!alert.top_stacks.empty()) text += "cpprof: top creation sites (see /debug/pprof/fd):\n" + alert.top_stacks;
  WriteStderr(text);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++alerts_;
    recent_.push_back(alert);
    while (recent_.size() > kRecentAlerts) recent_.pop_front();
  }
  if (auto cb = g_callback.load(std::memory_order_acquire)) cb(alert);
}

void FdWatchdog::Check() {
  const int64_t open = CountOpenFds();
  rlimit lim{};
  int64_t limit = -1;
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) limit = static_cast<int64_t>(lim.rlim_cur);
  const double now = NowSeconds();
  const FdCounters& counters = GetFdCounters();
  const uint64_t failures = counters.emfile.load() + counters.enfile.load();
  const int highest = counters.highest_fd.load();

  std::vector<FdAlert> alerts;
  bool growth_point = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_open_ = open;
    last_limit_ = limit;
    if (open >= 0 && limit > 0) {
      const int64_t percent = open * 100 / limit;
      const int level = percent >= critical_percent_ ? 2 : percent >= warn_percent_ ? 1 : 0;
      if (level > armed_level_) {
        alerts.push_back(MakeAlert(level == 2 ? "critical" : "warn", open, limit,
                                   "open descriptors at %" PRId64 "%% of the limit (%" PRId64
                                   " of RLIMIT_NOFILE %" PRId64 "); \"too many open files\" follows at 100%%",
                                   percent, open, limit));
        armed_level_ = level;
      }
      // Re-arm a level once the count is 5 points of the limit below it.
      while (armed_level_ > 0) {
        const int threshold = armed_level_ == 2 ? critical_percent_ : warn_percent_;
        if (percent + 5 > threshold) break;
        --armed_level_;
      }
    }
    if (failures > emfile_seen_) {
      if (now - emfile_alert_t_ >= kEmfileAlertEverySeconds) {
        alerts.push_back(MakeAlert("emfile", open, limit,
                                   "%" PRIu64 " descriptor-creating calls failed with EMFILE/ENFILE (too many "
                                   "open files) so far; %" PRId64 " open, limit %" PRId64,
                                   failures, open, limit));
        emfile_alert_t_ = now;
      }
      emfile_seen_ = failures;
    }
    if (!select_alerted_ && highest >= 1024) {
      alerts.push_back(MakeAlert("select", open, limit,
                                 "a descriptor number >= 1024 was created (highest %d): select() and FD_SET "
                                 "cannot take it (memory corruption if they do); use poll or epoll",
                                 highest));
      select_alerted_ = true;
    }
    growth_point = now - last_point_t_ >= kGrowthPointMs / 1000.0;
  }
  if (growth_point && open >= 0) RecordGrowthPoint(now, open);
  for (FdAlert& a : alerts) {
    if (a.kind != "select") a.top_stacks = TopStacks(nullptr, kTopStacks);
    Raise(std::move(a));
  }
}

void FdWatchdog::RecordGrowthPoint(double t, int64_t open) {
  std::map<long, int64_t> live = LivePerStack();
  FdAlert alert;
  bool raise = false;
  std::map<long, int64_t> baseline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_point_t_ = t;
    history_.push_back(Point{t, open, std::move(live)});
    while (history_.size() > kGrowthHistory) history_.pop_front();
    if (static_cast<int>(history_.size()) < kMinGrowthPoints) return;
    std::vector<double> ts, ys;
    for (const Point& p : history_) {
      ts.push_back(p.t);
      ys.push_back(static_cast<double>(p.open));
    }
    const Trend trend = RobustTrend(ts, ys);
    const int64_t grown = history_.back().open - history_.front().open;
    const int64_t min_growth = std::max<int64_t>(8, last_limit_ > 0 ? last_limit_ / 50 : 8);
    if (IsRising(trend) && grown >= min_growth && t - growth_alert_t_ >= kGrowthAlertEverySeconds) {
      growth_alert_t_ = t;
      raise = true;
      baseline = history_.front().live;
      const double window = history_.back().t - history_.front().t;
      alert = MakeAlert("growth", open, last_limit_,
                        "open descriptors keep growing: %" PRId64 " -> %" PRId64
                        " in %.0f s (%.1f/min, trend z=%.1f), limit %" PRId64,
                        history_.front().open, history_.back().open, window, trend.slope * 60, trend.mk_z,
                        last_limit_);
    }
  }
  if (!raise) return;
  alert.top_stacks = TopStacks(&baseline, kTopStacks);
  Raise(std::move(alert));
}

uint64_t FdWatchdog::alerts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return alerts_;
}

std::vector<FdAlert> FdWatchdog::recent_alerts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<FdAlert>(recent_.begin(), recent_.end());
}

int64_t FdWatchdog::last_open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_open_;
}

int64_t FdWatchdog::last_limit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_limit_;
}

size_t FdWatchdog::memory_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t bytes = sizeof(*this);
  for (const Point& p : history_) bytes += sizeof(Point) + p.live.size() * 48;
  for (const FdAlert& a : recent_) bytes += sizeof(FdAlert) + a.message.size() + a.top_stacks.size();
  return bytes;
}

}  // namespace fd
}  // namespace internal

void SetFdAlertCallback(void (*callback)(const FdAlert& alert)) {
  internal::fd::g_callback.store(callback, std::memory_order_release);
}

}  // namespace cpprof
