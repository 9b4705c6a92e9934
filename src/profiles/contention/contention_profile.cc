// SPDX-License-Identifier: Apache-2.0

#include "profiles/contention/contention_profile.h"

#include <inttypes.h>
#include <stdio.h>

#include <algorithm>
#include <vector>

#include "pprof/legacy_text.h"
#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
namespace contention {

namespace {

struct Record {
  int64_t count;
  int64_t delay;
  int32_t tag;
  std::vector<uintptr_t> pcs;
};

// Per-slot differences now - base, non-zero only.
std::vector<Record> Records(const TableSnapshot& now, const TableSnapshot& base) {
  std::vector<Record> out;
  const StackTable* table = now.table;
  if (table == nullptr) return out;
  const bool use_base = base.table == table;
  for (size_t i = 0; i < table->slot_count(); ++i) {
    int64_t count = now.value(i, 0, kValues), delay = now.value(i, 1, kValues);
    if (use_base) {
      count -= base.value(i, 0, kValues);
      delay -= base.value(i, 1, kValues);
    }
    if (count == 0 && delay == 0) continue;
    const uintptr_t* pcs = nullptr;
    int depth = 0;
    int32_t tag = 0;
    if (!table->Entry(i, &pcs, &depth, &tag)) continue;
    out.push_back({count, delay, tag, std::vector<uintptr_t>(pcs, pcs + depth)});
  }
  std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
    return a.delay != b.delay ? a.delay > b.delay : a.count > b.count;
  });
  return out;
}

}  // namespace

std::string SamplingDescription(Which which) {
  if (which == Which::kMutex) {
    const int64_t n = MutexFraction();
    if (n <= 0) return "off (turn on with CPPROF_MUTEX_FRACTION=N, Options::mutex_profile_fraction or "
                       "cpprof::SetMutexProfileFraction(N): 1 of N contended unlocks, 1 = all)";
    if (n == 1) return "every contended unlock recorded";
    return "1 of every " + std::to_string(n) + " contended unlocks recorded, weighted x" + std::to_string(n);
  }
  const int64_t r = BlockRate();
  if (r <= 0) return "off (turn on with CPPROF_BLOCK_RATE=NS, Options::block_profile_rate or "
                     "cpprof::SetBlockProfileRate(NS): about one sample per NS blocked, 1 = all)";
  if (r == 1) return "every wait recorded";
  return "waits of " + std::to_string(r) + " ns or more all recorded, shorter ones with probability "
         "wait/" + std::to_string(r) + " and weighted back";
}

StackProfile BuildContentionProfile(Which which, const TableSnapshot& now, const TableSnapshot& base) {
  StackProfile p;
  p.sample_types = {{"contentions", "count"}, {"delay", "nanoseconds"}};
  p.period_type = {"contentions", "count"};
  p.period = 1;
  p.leaf_is_exact_pc = false;  // every frame is a return address
  p.time_nanos = now.unix_ns;
  if (base.unix_ns != 0) p.duration_nanos = now.mono_ns - base.mono_ns;
  p.comments.push_back(which == Which::kMutex
                           ? "cpprof mutex profile: delay of pthread mutex waiters, charged to the unlocking stack"
                           : "cpprof block profile: time waiting for pthread mutexes, rwlocks and condition "
                             "variables, at the waiting stack (label kind)");
  p.comments.push_back("sampling: " + SamplingDescription(which) + "; values are unsampled");
  for (Record& r : Records(now, base)) {
    StackSample s;
    s.pcs = std::move(r.pcs);
    s.values = {r.count, r.delay};
    if (which == Which::kBlock) s.labels.push_back({"kind", WaitKindName(r.tag), 0, ""});
    p.samples.push_back(std::move(s));
  }
  const bool use_base = base.table == now.table;
  const int64_t lost_count = now.extra_at(0) - (use_base ? base.extra_at(0) : 0);
  const int64_t lost_delay = now.extra_at(1) - (use_base ? base.extra_at(1) : 0);
  if (lost_count != 0 || lost_delay != 0) {
    StackSample s;
    s.synthetic = "[cpprof: contention samples without a stack: stack table full]";
    s.values = {lost_count, lost_delay};
    p.samples.push_back(std::move(s));
  }
  return p;
}

std::string ContentionText(Which which, const TableSnapshot& now) {
  // Values are already unsampled, so the text says period 1 (pprof
  // multiplies by it); the real rate is on the comment line, which pprof
  // skips.
  std::string out = which == Which::kMutex ? "--- mutex:\n" : "--- contention:\n";
  out += "cycles/second=1000000000\n";
  if (which == Which::kMutex) out += "sampling period=1\n";
  out += "# cpprof: " + SamplingDescription(which) + "; values are unsampled, delays in nanoseconds\n";
  LegacyStackPrinter printer;
  char line[64];
  for (const Record& r : Records(now, TableSnapshot())) {
    snprintf(line, sizeof(line), "%" PRId64 " %" PRId64, r.delay, r.count);
    out += line;
    out += LegacyStackPrinter::AddressList(r.pcs);
    out += "\n";
    out += printer.FrameLines(r.pcs, /*leaf_is_exact_pc=*/false);
  }
  const int64_t lost_count = now.extra_at(0), lost_delay = now.extra_at(1);
  if (lost_count != 0) {
    snprintf(line, sizeof(line), "%" PRId64 " %" PRId64, lost_delay, lost_count);
    out += std::string("# cpprof: ") + line + " (delay, contentions) dropped: stack table full\n";
  }
  return out;
}

}  // namespace contention
}  // namespace internal
}  // namespace cpprof
