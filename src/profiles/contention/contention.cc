// SPDX-License-Identifier: Apache-2.0
//
// Settings and tables of the contention profiles (contention.h). Not hook
// context: the hooks only read what is published here.

#include "profiles/contention/contention.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "base/raw_log.h"

#include "stacks/stack_table.h"
#include "unwind/unwind_service.h"

namespace cpprof {
namespace internal {
namespace contention {

namespace {

constexpr size_t kTableSlots = 8192;
constexpr size_t kTableArenaPcs = kTableSlots * 24;

std::mutex g_setting_mu;

// A ThreadSanitizer runtime in the host owns the pthread functions; cpprof's
// would hide its lock tracking.
bool HostRunsTsan() {
  static const bool tsan = dlsym(RTLD_DEFAULT, "__tsan_init") != nullptr;
  return tsan;
}

// Creates the profile's table once (its memory is mapped lazily, bounded).
bool EnsureTable(Which which) {
  std::atomic<StackTable*>& slot = g_tables[static_cast<int>(which)];
  if (slot.load(std::memory_order_acquire) != nullptr) return true;
  StackTable* t = StackTable::Create(kTableSlots, kTableArenaPcs, kValues, /*prefault=*/false);
  if (t == nullptr) return false;
  slot.store(t, std::memory_order_release);
  return true;
}

void PublishEnabled() {
  uint32_t on = 0;
  if (g_mutex_fraction.load() > 0) on |= kMutexOn;
  if (g_block_rate.load() > 0) on |= kBlockOn;
  g_enabled.store(on, std::memory_order_release);
}

int64_t Set(Which which, std::atomic<int64_t>& setting, int64_t value) {
  std::lock_guard<std::mutex> lock(g_setting_mu);
  const int64_t previous = setting.load();
  if (value < 0) return previous;
  if (value > 0) {
    if (!HooksActive() || HostRunsTsan() || !EnsureTable(which)) return previous;
    // Stacks are walked with the CFI tables: keep them built and current.
    StartUnwindRefresher();
  }
  setting.store(value);
  PublishEnabled();
  return previous;
}

}  // namespace

const char* WaitKindName(int32_t tag) {
  switch (static_cast<WaitKind>(tag)) {
    case WaitKind::kMutex: return "mutex";
    case WaitKind::kRwlock: return "rwlock";
    case WaitKind::kCond: return "cond";
    case WaitKind::kUser: return "user";
  }
  return "other";
}

void ApplyEnvironmentOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto apply = [](const char* name, int64_t max, int64_t (*set)(int64_t)) {
      const char* v = getenv(name);
      if (v == nullptr || *v == '\0') return;
      char* end = nullptr;
      const long long n = strtoll(v, &end, 10);
      if (*end != '\0' || n < 0 || n > max) {
        RawLog(LogLevel::kWarning, "ignoring %s=%s: expected a number from 0 to %lld", name, v,
               static_cast<long long>(max));
        return;
      }
      set(n);
    };
    apply("CPPROF_MUTEX_FRACTION", int64_t{1} << 31, SetMutexFraction);
    apply("CPPROF_BLOCK_RATE", int64_t{1} << 50, SetBlockRate);
  });
}

int64_t SetMutexFraction(int64_t fraction) { return Set(Which::kMutex, g_mutex_fraction, fraction); }
int64_t SetBlockRate(int64_t rate_ns) { return Set(Which::kBlock, g_block_rate, rate_ns); }
int64_t MutexFraction() { return g_mutex_fraction.load(std::memory_order_relaxed); }
int64_t BlockRate() { return g_block_rate.load(std::memory_order_relaxed); }

StackTable* Table(Which which) { return g_tables[static_cast<int>(which)].load(std::memory_order_acquire); }

TableSnapshot TakeSnapshot(Which which) {
  TableSnapshot s = TakeTableSnapshot(Table(which));
  const Counters& c = GetCounters();
  const int w = static_cast<int>(which);
  s.extra = {c.lost[w][0].load(std::memory_order_relaxed), c.lost[w][1].load(std::memory_order_relaxed)};
  return s;
}

}  // namespace contention
}  // namespace internal
}  // namespace cpprof
