// SPDX-License-Identifier: Apache-2.0

#include "base/clock.h"
#include "base/read_file.h"
#include "profiles/heap/heap_profile.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>

#include "pprof/legacy_text.h"
#include "profiles/heap/heap_sampler.h"
#include "profiles/heap/sample_region.h"
#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
namespace heap {
namespace {

// TableSnapshot::extra: unstacked[0..3], lost_alloc[0..1].
constexpr size_t kExtraValues = 6;

int64_t Objects(int64_t fx) { return static_cast<int64_t>(std::llround(static_cast<double>(fx) / kObjectScale)); }

std::string Bytes(int64_t n) {
  char buf[48];
  if (n >= (int64_t{1} << 20)) {
    snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(n) / (1 << 20));
  } else if (n >= 1024) {
    snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(n) / 1024);
  } else {
    snprintf(buf, sizeof(buf), "%" PRId64 " B", n);
  }
  return buf;
}

}  // namespace

std::string ModeComment() {
  Mode mode = CurrentMode();
  std::string c = "cpprof heap: ";
  c += ModeName(mode);
  if (mode == Mode::kGlibc || mode == Mode::kUninitialised) {
    int64_t rate = Rate();
    c += rate > 0 ? "; one sample per " + std::to_string(rate) + " bytes allocated on average"
                  : "; sampling is off (rate 0: CPPROF_HEAP_RATE / Options::heap_sample_rate)";
  }
  return c;
}

namespace {

std::string ReadProcMaps() {
  std::string data;
  ReadFileToString("/proc/self/maps", size_t{4} << 20, &data);
  return data;
}

}  // namespace

TableSnapshot TakeHeapSnapshot() {
  SweepLostSamples();  // samples glibc freed outside cpprof are no longer in use
  TableSnapshot s = TakeTableSnapshot(Table());
  Counters& c = GetCounters();
  s.extra.resize(kExtraValues);
  for (int i = 0; i < 4; ++i) s.extra[static_cast<size_t>(i)] = c.unstacked[i].load(std::memory_order_relaxed);
  for (int i = 0; i < 2; ++i) s.extra[4 + static_cast<size_t>(i)] = c.lost_alloc[i].load(std::memory_order_relaxed);
  return s;
}

StackProfile BuildHeapProfile(const TableSnapshot& now, const TableSnapshot& base,
                              const HeapProfileOptions& options) {
  StackProfile p;
  p.sample_types = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                    {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
  p.period_type = {"space", "bytes"};
  p.period = Rate();
  p.leaf_is_exact_pc = false;  // every frame is a return address
  if (options.allocs_default) p.default_sample_type = "alloc_space";
  p.comments.push_back(ModeComment());
  if (options.delta != DeltaKind::kNone && base.unix_ns != 0) {
    p.time_nanos = now.unix_ns;
    p.duration_nanos = now.mono_ns - base.mono_ns;
  } else {
    p.time_nanos = now.unix_ns;
  }
  const bool use_base = options.delta != DeltaKind::kNone;
  auto diff = [&](int v, int64_t cur, int64_t before) -> int64_t {
    if (!use_base) return cur;
    if (options.delta == DeltaKind::kAllocOnly && v >= kInuseObjects) return cur;
    return cur - before;
  };
  const StackTable* table = now.table;
  if (table != nullptr) {
    const size_t slots = table->slot_count();
    for (size_t i = 0; i < slots; ++i) {
      int64_t v[4];
      bool any = false;
      for (int k = 0; k < 4; ++k) {
        v[k] = diff(k, now.value(i, k, kValues), base.value(i, k, kValues));
        any = any || v[k] != 0;
      }
      if (!any) continue;
      const uintptr_t* pcs = nullptr;
      int depth = 0;
      int32_t tag = 0;
      if (!table->Entry(i, &pcs, &depth, &tag)) continue;
      StackSample s;
      s.pcs.assign(pcs, pcs + depth);
      s.values = {Objects(v[0]), v[1], Objects(v[2]), v[3]};
      if (s.values[0] == 0 && s.values[1] == 0 && s.values[2] == 0 && s.values[3] == 0) continue;
      // The bucket's average object size (its objects share a size class).
      const int64_t raw_count = now.value(i, kRawAllocCount, kValues);
      const int64_t raw_bytes = now.value(i, kRawAllocBytes, kValues);
      s.labels.push_back({"bytes", "", raw_count > 0 ? raw_bytes / raw_count : tag, "bytes"});
      p.samples.push_back(std::move(s));
    }
  }
  int64_t unstacked[4];
  for (int k = 0; k < 4; ++k) {
    unstacked[k] = diff(k, now.extra_at(static_cast<size_t>(k)), base.extra_at(static_cast<size_t>(k)));
  }
  if (unstacked[0] != 0 || unstacked[2] != 0 || unstacked[3] != 0) {
    StackSample s;
    s.synthetic = "[cpprof: heap samples without a stack: stack table full]";
    s.values = {Objects(unstacked[0]), unstacked[1], Objects(unstacked[2]), unstacked[3]};
    p.samples.push_back(std::move(s));
  }
  const int64_t lost_objects = diff(0, now.extra_at(4), base.extra_at(4));
  const int64_t lost_space = diff(1, now.extra_at(5), base.extra_at(5));
  if (lost_objects != 0 || lost_space != 0) {
    StackSample s;
    s.synthetic = "[cpprof: sampled allocations not tracked: sample region full or alignment above 4 KiB]";
    s.values = {Objects(lost_objects), lost_space, 0, 0};
    p.samples.push_back(std::move(s));
  }
  return p;
}

std::string HeapProfileText(const TableSnapshot& now) {
  struct Record {
    int64_t inuse_count, inuse_bytes, alloc_count, alloc_bytes;
    std::vector<uintptr_t> pcs;
  };
  std::vector<Record> records;
  Record total{0, 0, 0, 0, {}};
  if (const StackTable* table = now.table) {
    for (size_t i = 0; i < table->slot_count(); ++i) {
      Record r{now.value(i, kRawInuseCount, kValues), now.value(i, kRawInuseBytes, kValues),
               now.value(i, kRawAllocCount, kValues), now.value(i, kRawAllocBytes, kValues), {}};
      if (r.alloc_count == 0 && r.inuse_count == 0) continue;
      const uintptr_t* pcs = nullptr;
      int depth = 0;
      int32_t tag = 0;
      if (!table->Entry(i, &pcs, &depth, &tag)) continue;
      r.pcs.assign(pcs, pcs + depth);
      total.inuse_count += r.inuse_count;
      total.inuse_bytes += r.inuse_bytes;
      total.alloc_count += r.alloc_count;
      total.alloc_bytes += r.alloc_bytes;
      records.push_back(std::move(r));
    }
  }
  // Largest in-use first, as Go sorts.
  std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    return a.inuse_bytes != b.inuse_bytes ? a.inuse_bytes > b.inuse_bytes : a.alloc_bytes > b.alloc_bytes;
  });
  const int64_t rate = Rate();
  char line[256];
  snprintf(line, sizeof(line), "heap profile: %" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @ heap/%" PRId64 "\n",
           total.inuse_count, total.inuse_bytes, total.alloc_count, total.alloc_bytes, 2 * rate);
  std::string out = line;
  LegacyStackPrinter printer;
  for (const Record& r : records) {
    snprintf(line, sizeof(line), "%" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "]", r.inuse_count,
             r.inuse_bytes, r.alloc_count, r.alloc_bytes);
    out += line;
    out += LegacyStackPrinter::AddressList(r.pcs);
    out += "\n";
    out += printer.FrameLines(r.pcs, /*leaf_is_exact_pc=*/false);
    out += "\n";
  }
  Counters& c = GetCounters();
  out += "\n# " + ModeComment() + "\n";
  out += "# counts above are raw samples; go tool pprof unsamples them (period " + std::to_string(rate) + ")\n";
  snprintf(line, sizeof(line),
           "# samples = %" PRIu64 "\n# sampled frees = %" PRIu64 "\n# live samples = %zu\n# sample region in use = %s\n",
           c.samples.load(), c.sampled_frees.load(), SampleRegion::live_spans(),
           Bytes(static_cast<int64_t>(SampleRegion::live_bytes())).c_str());
  out += line;
  snprintf(line, sizeof(line),
           "# dropped: table full = %" PRIu64 ", region full = %" PRIu64 ", alignment > 4 KiB = %" PRIu64 "\n",
           c.dropped_table.load(), c.dropped_region.load(), c.dropped_align.load());
  out += line;
  if (const uint64_t outside = c.freed_outside.load()) {
    snprintf(line, sizeof(line), "# samples freed or resized outside cpprof (by glibc directly) = %" PRIu64 "\n",
             outside);
    out += line;
  }
  // The memory map, as gperftools' heap profiles carry it: go tool pprof
  // then maps the addresses to their binaries and can symbolize a saved
  // text profile locally (Go's own debug=1 relies on the live endpoint).
  out += "\nMAPPED_LIBRARIES:\n" + ReadProcMaps();
  return out;
}

int64_t LiveBuckets() {
  const StackTable* table = Table();
  if (table == nullptr) return 0;
  int64_t n = 0;
  for (size_t i = 0; i < table->slot_count(); ++i) {
    if (table->value(i, kRawInuseCount) > 0) ++n;
  }
  return n;
}

StackProfile GrowthProfile(const GrowthReport& report) {
  StackProfile p;
  p.sample_types = {{"inuse_objects", "count"}, {"inuse_space", "bytes"},
                    {"growth_objects", "count"}, {"growth_space", "bytes"}};
  p.period_type = {"space", "bytes"};
  p.period = Rate();
  p.leaf_is_exact_pc = false;
  p.default_sample_type = "growth_space";
  p.duration_nanos = static_cast<int64_t>(report.window_seconds * 1e9);
  p.time_nanos = RealtimeNanos() - p.duration_nanos;
  p.comments.push_back(ModeComment());
  p.comments.push_back("cpprof heap growth: " + std::to_string(report.points) + " points every " +
                       std::to_string(report.interval_ms) + " ms over " +
                       std::to_string(static_cast<int64_t>(report.window_seconds)) + " s; " +
                       std::to_string(report.suspects.size()) + " growing sites");
  for (const GrowthSuspect& g : report.suspects) {
    StackSample s;
    s.pcs = g.pcs;
    s.values = {g.last_objects, g.last_space, g.last_objects - g.first_objects, g.last_space - g.first_space};
    s.labels.push_back({"oldest_age", "", g.oldest_age_seconds, "seconds"});
    s.labels.push_back({"slope", "", static_cast<int64_t>(g.slope_bytes_per_hour), "bytes"});
    s.labels.push_back({"samples", "", g.live_samples, ""});
    p.samples.push_back(std::move(s));
  }
  return p;
}

std::string GrowthText(const GrowthReport& report) {
  char line[512];
  std::string out;
  snprintf(line, sizeof(line),
           "heap growth: %zu suspect sites over the last %.0f s (%d points, one every %d ms)\n",
           report.suspects.size(), report.window_seconds, report.points, report.interval_ms);
  out += line;
  if (report.points < kMinGrowthPoints) {
    snprintf(line, sizeof(line), "# not enough history yet: a trend needs %d points, %d recorded in the window\n",
             kMinGrowthPoints, report.points);
    out += line;
  }
  out += "# " + ModeComment() + "\n";
  out += "# a site is listed when its in-use estimate rises over the window (Mann-Kendall z > 2.33,\n"
         "# positive Theil-Sen slope) by at least " + std::to_string(kMinSampleGrowth) + " live samples\n\n";
  LegacyStackPrinter printer;
  for (const GrowthSuspect& g : report.suspects) {
    std::string age = g.oldest_age_seconds >= 0 ? std::to_string(g.oldest_age_seconds) + " s" : "unknown";
    snprintf(line, sizeof(line),
             "growth %s (%" PRId64 " objects) to %s in use (%" PRId64 " objects); %s/hour; trend z=%.1f; "
             "%" PRId64 " live samples (+%" PRId64 "); oldest live object %s old\n",
             Bytes(g.last_space - g.first_space).c_str(), g.last_objects - g.first_objects, Bytes(g.last_space).c_str(),
             g.last_objects, Bytes(static_cast<int64_t>(g.slope_bytes_per_hour)).c_str(), g.mk_z, g.live_samples,
             g.samples_gained, age.c_str());
    out += line;
    out += printer.FrameLines(g.pcs, /*leaf_is_exact_pc=*/false);
    out += "\n";
  }
  return out;
}

StackProfile LeakProfile(const LeakScanResult& result, int64_t min_age) {
  StackProfile p;
  p.sample_types = {{"leaked_objects", "count"}, {"leaked_space", "bytes"}};
  p.period_type = {"space", "bytes"};
  p.period = Rate();
  p.leaf_is_exact_pc = false;
  p.time_nanos = RealtimeNanos();
  p.comments.push_back(ModeComment());
  p.comments.push_back("cpprof leaks: sampled objects older than " + std::to_string(min_age) +
                       " s that no live memory pointed to in " + std::to_string(result.scans) + " scans; " +
                       (result.heaps_walked > 0 ? "glibc's heaps traced chunk by chunk (those that could be walked; the "
                                                  "others count as live memory)"
                                           : "the glibc heap counts as live memory (leaks that only leaked or "
                                             "freed unsampled memory points to are not found)"));
  struct Group {
    int64_t objects_fx = 0, space = 0, oldest = INT64_MAX;
  };
  std::map<int32_t, Group> groups;
  for (const LeakedObject& o : result.leaked) {
    Group& g = groups[o.slot];
    g.objects_fx += o.objects_fx;
    g.space += o.space;
    g.oldest = std::min(g.oldest, o.alloc_sec);
  }
  const int64_t now_sec = CoarseMonotonicSeconds();
  const StackTable* table = Table();
  for (const auto& [slot, g] : groups) {
    StackSample s;
    const uintptr_t* pcs = nullptr;
    int depth = 0;
    int32_t tag = 0;
    if (slot >= 0 && table != nullptr && table->Entry(static_cast<size_t>(slot), &pcs, &depth, &tag)) {
      s.pcs.assign(pcs, pcs + depth);
    } else {
      s.synthetic = "[cpprof: leaked samples without a stack]";
    }
    s.values = {Objects(g.objects_fx), g.space};
    s.labels.push_back({"oldest_age", "", now_sec - g.oldest, "seconds"});
    p.samples.push_back(std::move(s));
  }
  return p;
}

std::vector<std::string> ParseSuppressions(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    size_t b = cur.find_first_not_of(" \t\r");
    size_t e = cur.find_last_not_of(" \t\r");
    std::string p = b == std::string::npos ? "" : cur.substr(b, e - b + 1);
    if (p.rfind("leak:", 0) == 0) p = p.substr(5);
    if (!p.empty() && p[0] != '#') out.push_back(p);
    cur.clear();
  };
  for (char c : text) {
    if (c == ';' || c == '\n') {
      flush();
    } else {
      cur.push_back(c);
    }
  }
  flush();
  return out;
}

int64_t SuppressLeaks(const std::vector<std::string>& patterns, StackProfile* profile) {
  if (patterns.empty()) return 0;
  LegacyStackPrinter printer;
  int64_t suppressed = 0;
  std::vector<StackSample> kept;
  for (StackSample& s : profile->samples) {
    const std::string frames = printer.FrameLines(s.pcs, /*leaf_is_exact_pc=*/false);
    bool hit = false;
    for (const std::string& p : patterns) hit = hit || frames.find(p) != std::string::npos;
    if (hit) {
      suppressed += s.values[0];
    } else {
      kept.push_back(std::move(s));
    }
  }
  profile->samples = std::move(kept);
  if (suppressed > 0) {
    profile->comments.push_back("cpprof leaks: " + std::to_string(suppressed) +
                                " leaked objects suppressed (leak_suppressions / CPPROF_LEAK_SUPPRESS)");
  }
  return suppressed;
}

std::string LeakText(const LeakScanResult& result, const StackProfile& profile, int64_t min_age,
                     int64_t suppressed) {
  char line[512];
  int64_t objects = 0, space = 0;
  for (const StackSample& s : profile.samples) {
    objects += s.values[0];
    space += s.values[1];
  }
  std::string out;
  snprintf(line, sizeof(line),
           "leaks: %zu sampled objects unreachable (estimated %" PRId64 " objects, %s) at %zu allocation sites\n",
           result.leaked.size(), objects, Bytes(space).c_str(), profile.samples.size());
  out += line;
  if (suppressed > 0) out += "# " + std::to_string(suppressed) + " more suppressed\n";
  if (result.heaps_walked > 0) {
    snprintf(line, sizeof(line),
             "# glibc heaps walked: %d (main heap %s): %" PRId64 " chunks in use; %" PRId64
             " unsampled chunks unreachable, %s (exact, in the last scan); %" PRId64 " mmapped chunks among them\n",
             result.heaps_walked, result.main_heap_walked ? "included" : "not included", result.heap_chunks,
             result.unsampled_leaked, Bytes(result.unsampled_leaked_bytes).c_str(), result.mmapped_chunks);
  } else {
    snprintf(line, sizeof(line), "# glibc heaps not walked: they counted as live memory\n");
  }
  out += line;
  snprintf(line, sizeof(line),
           "# %d scans; %" PRId64 " live sampled objects; %s of roots scanned; threads parked %d, left "
           "blocked %d, not parkable %d; longest pause %.1f ms; scan %.1f ms\n# objects younger than %" PRId64
           " s are not reported\n",
           result.scans, result.live_samples, Bytes(result.roots_bytes).c_str(), result.parked_threads,
           result.blocked_threads, result.unparkable_threads, result.pause_ms, result.scan_ms, min_age);
  out += line;
  if (result.lost_samples > 0) {
    snprintf(line, sizeof(line),
             "# %" PRId64 " sampled objects freed outside cpprof since the last check were skipped (their "
             "memory scanned as roots)\n",
             result.lost_samples);
    out += line;
  }
  for (const std::string& c : profile.comments) out += "# " + c + "\n";
  out += "\n";
  std::vector<const StackSample*> order;
  for (const StackSample& s : profile.samples) order.push_back(&s);
  std::sort(order.begin(), order.end(), [](const StackSample* a, const StackSample* b) { return a->values[1] > b->values[1]; });
  LegacyStackPrinter printer;
  for (const StackSample* s : order) {
    snprintf(line, sizeof(line), "leaked %s (%" PRId64 " objects); oldest %" PRId64 " s old\n",
             Bytes(s->values[1]).c_str(), s->values[0], s->labels.empty() ? 0 : s->labels[0].num);
    out += line;
    if (!s->synthetic.empty()) out += "#\t" + s->synthetic + "\n";
    out += printer.FrameLines(s->pcs, /*leaf_is_exact_pc=*/false);
    out += "\n";
  }
  return out;
}

}  // namespace heap
}  // namespace internal
}  // namespace cpprof
