// SPDX-License-Identifier: Apache-2.0

#include "base/clock.h"
#include "profiles/heap/heap_growth.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "base/periodic_thread.h"
#include "base/trend.h"
#include "profiles/heap/heap_sampler.h"
#include "profiles/heap/sample_region.h"
#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
namespace heap {
namespace {

constexpr size_t kMaxEntriesPerPoint = 8192;  // the largest stacks, if more have live samples

PeriodicThread& Monitor() {
  static PeriodicThread* t = new PeriodicThread("cpprof-heapmon", [] { GrowthTracker::Global().RecordPoint(); });
  return *t;  // never destroyed: runs until exit
}

// Oldest live sample per slot, from the region's metadata (a racy but
// harmless read: hooks may be changing entries meanwhile).
std::map<int32_t, int64_t> OldestAllocSecondsBySlot() {
  std::map<int32_t, int64_t> out;
  const size_t frontier = SampleRegion::frontier_pages();
  for (size_t i = 0; i < frontier;) {
    const SampleMeta& m = SampleRegion::MetaAt(i);
    const uint32_t pages = m.pages == 0 ? 1 : m.pages;
    if (m.IsLive() && m.slot >= 0 && m.alloc_sec > 0) {
      auto it = out.find(m.slot);
      if (it == out.end() || m.alloc_sec < it->second) out[m.slot] = m.alloc_sec;
    }
    i += pages;
  }
  return out;
}

}  // namespace

GrowthTracker& GrowthTracker::Global() {
  static GrowthTracker* t = new GrowthTracker();  // never destroyed: its thread runs until exit
  return *t;
}

void GrowthTracker::Start(int interval_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    interval_ms_ = interval_ms;
  }
  Monitor().Start(interval_ms);
}

bool GrowthTracker::running() const { return Monitor().running(); }

int GrowthTracker::interval_ms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return interval_ms_;
}

void GrowthTracker::RecordPoint() {
  // Holes only (cheap): a sample glibc freed whose address was reused at
  // once stays until the next profile request; it does not grow meanwhile.
  SweepLostSamples(/*headers=*/false);
  Point p;
  p.t = static_cast<double>(MonotonicNanos()) * 1e-9;
  if (const StackTable* table = Table()) {
    for (size_t i = 0; i < table->slot_count(); ++i) {
      const int64_t raw = table->value(i, kRawInuseCount);
      if (raw <= 0) continue;
      p.entries.push_back({static_cast<uint32_t>(i), table->value(i, kInuseSpace), table->value(i, kInuseObjects), raw});
    }
  }
  if (p.entries.size() > kMaxEntriesPerPoint) {
    std::nth_element(p.entries.begin(), p.entries.begin() + kMaxEntriesPerPoint, p.entries.end(),
                     [](const Entry& a, const Entry& b) { return a.space > b.space; });
    p.entries.resize(kMaxEntriesPerPoint);
    std::sort(p.entries.begin(), p.entries.end(), [](const Entry& a, const Entry& b) { return a.slot < b.slot; });
  }
  std::lock_guard<std::mutex> lock(mu_);
  history_.push_back(std::move(p));
  while (history_.size() > kGrowthHistory) history_.pop_front();
}

GrowthReport GrowthTracker::Suspects(double window_seconds) const {
  GrowthReport report;
  std::vector<const Point*> points;
  std::lock_guard<std::mutex> lock(mu_);
  report.interval_ms = interval_ms_;
  if (history_.empty()) return report;
  const double end = history_.back().t;
  for (const Point& p : history_) {
    if (window_seconds <= 0 || p.t >= end - window_seconds - 1e-6) points.push_back(&p);
  }
  report.points = static_cast<int>(points.size());
  if (points.size() < static_cast<size_t>(kMinGrowthPoints)) return report;
  report.window_seconds = end - points.front()->t;
  // Series per slot (0 where a point has no entry: nothing live then).
  std::map<uint32_t, std::vector<const Entry*>> series;
  for (size_t k = 0; k < points.size(); ++k) {
    for (const Entry& e : points[k]->entries) {
      auto& s = series[e.slot];
      if (s.empty()) s.assign(points.size(), nullptr);
      s[k] = &e;
    }
  }
  const StackTable* table = Table();
  std::map<int32_t, int64_t> oldest;
  bool oldest_read = false;
  const size_t n = points.size();
  std::vector<double> t(n), y(n);
  for (size_t k = 0; k < n; ++k) t[k] = points[k]->t;
  for (const auto& item : series) {
    const auto slot = item.first;
    const auto& s = item.second;  // a plain reference: lambdas may capture it (C++17)
    auto space = [&](size_t k) { return s[k] != nullptr ? s[k]->space : 0; };
    auto raw = [&](size_t k) { return s[k] != nullptr ? s[k]->raw : 0; };
    if (raw(n - 1) - raw(0) < kMinSampleGrowth || space(n - 1) <= space(0)) continue;
    for (size_t k = 0; k < n; ++k) y[k] = static_cast<double>(space(k));
    const Trend trend = RobustTrend(t, y);
    if (!IsRising(trend)) continue;
    const double z = trend.mk_z;
    const double slope = trend.slope;
    GrowthSuspect g;
    g.slot = slot;
    g.points = static_cast<int>(n);
    g.window_seconds = report.window_seconds;
    g.first_space = space(0);
    g.last_space = space(n - 1);
    g.first_objects = s[0] != nullptr ? s[0]->objects_fx / kObjectScale : 0;
    g.last_objects = s[n - 1] != nullptr ? s[n - 1]->objects_fx / kObjectScale : 0;
    g.samples_gained = raw(n - 1) - raw(0);
    g.slope_bytes_per_hour = slope * 3600;
    g.mk_z = z;
    g.live_samples = raw(n - 1);
    const uintptr_t* pcs = nullptr;
    int depth = 0;
    int32_t tag = 0;
    if (table != nullptr && table->Entry(slot, &pcs, &depth, &tag)) g.pcs.assign(pcs, pcs + depth);
    if (!oldest_read) {
      oldest = OldestAllocSecondsBySlot();
      oldest_read = true;
    }
    auto it = oldest.find(static_cast<int32_t>(slot));
    if (it != oldest.end()) g.oldest_age_seconds = CoarseMonotonicSeconds() - it->second;
    report.suspects.push_back(std::move(g));
  }
  std::sort(report.suspects.begin(), report.suspects.end(), [](const GrowthSuspect& a, const GrowthSuspect& b) {
    return a.last_space - a.first_space > b.last_space - b.first_space;
  });
  return report;
}

size_t GrowthTracker::memory_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t bytes = 0;
  for (const Point& p : history_) bytes += sizeof(Point) + p.entries.capacity() * sizeof(Entry);
  return bytes;
}

}  // namespace heap
}  // namespace internal
}  // namespace cpprof
