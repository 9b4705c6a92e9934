// SPDX-License-Identifier: Apache-2.0
//
// Implementation notes. The observer's three callbacks run in host threads:
//   OnCreate   in pthread_create, before the thread exists: one stack walk
//              (CaptureCurrentStack) and one StackTable::AddValues (lock-free);
//              the slot travels to the new thread as the observer's token.
//   OnStart    in the new thread before its start routine: tid -> slot in a
//              map under a mutex (one insertion per thread creation).
//   OnExit     at thread end (TSD destructor): takes the entry off and
//              decrements the slot's live count.
// The map holds live threads only, so its size follows the thread count; the
// table's capacity bounds the distinct creation stacks (further stacks are
// counted as dropped and their threads listed as "unknown creator"). The
// mutex is taken around fork (pthread_atfork) so a child never inherits it
// locked; the child keeps only its own thread.

#include "profiles/threads/thread_creation.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <new>
#include <unordered_map>

#include "base/clock.h"
#include "base/periodic_thread.h"
#include "base/trend.h"
#include "interpose/thread_hooks.h"
#include "pprof/legacy_text.h"
#include "stacks/stack_table.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {
namespace threads {
namespace {

constexpr int kCreatorDepth = 64;
constexpr size_t kTableSlots = 4096;
constexpr size_t kTableArenaPcs = kTableSlots * 24;
constexpr int kLiveValue = 0;     // live threads created at the slot's stack
constexpr int kCreatedValue = 1;  // threads ever created there
// The frames of the interposer itself: OnCreate and pthread_create.
constexpr int kOwnFrames = 2;

struct Entry {
  long slot;
  pid_t creator;
  int64_t created_unix_ns;
};

struct State {
  std::atomic<StackTable*> table{nullptr};
  std::atomic<uint64_t> creations{0};
  std::mutex mu;
  std::unordered_map<pid_t, Entry> live;  // guarded by mu
};

State& GetState() {
  static State* s = new State();  // never destroyed: threads exit after static destructors
  return *s;
}

pid_t CurrentTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// Tokens carry the slot (+1, so that 0 means "no stack") and the creator.
struct Token {
  long slot;
  pid_t creator;
  int64_t created_unix_ns;
};

void* OnCreate() {
  State& s = GetState();
  s.creations.fetch_add(1, std::memory_order_relaxed);
  StackTable* table = s.table.load(std::memory_order_acquire);
  auto* token = new (std::nothrow) Token{-1, CurrentTid(), RealtimeNanos()};
  if (token == nullptr || table == nullptr) return token;
  uintptr_t pcs[kCreatorDepth + kOwnFrames];
  int depth = CaptureCurrentStack(pcs, kCreatorDepth + kOwnFrames);
  const int skip = depth > kOwnFrames ? kOwnFrames : 0;
  const int64_t deltas[2] = {1, 1};
  token->slot = table->AddValues(pcs + skip, depth - skip, 0, deltas);
  return token;
}

void OnFailed(void* p) {
  auto* token = static_cast<Token*>(p);
  if (token == nullptr) return;
  StackTable* table = GetState().table.load(std::memory_order_acquire);
  if (token->slot >= 0 && table != nullptr) {
    const int64_t deltas[2] = {-1, -1};
    table->AddToSlot(static_cast<size_t>(token->slot), deltas);
  }
  delete token;
}

void OnStart(void* p) {
  auto* token = static_cast<Token*>(p);
  if (token == nullptr) return;
  State& s = GetState();
  if (token->slot >= 0) {
    std::lock_guard<std::mutex> lock(s.mu);
    s.live[CurrentTid()] = Entry{token->slot, token->creator, token->created_unix_ns};
  }
  delete token;
}

void DecrementLive(long slot) {
  StackTable* table = GetState().table.load(std::memory_order_acquire);
  if (table == nullptr || slot < 0) return;
  const int64_t deltas[2] = {-1, 0};
  table->AddToSlot(static_cast<size_t>(slot), deltas);
}

void OnExit() {
  State& s = GetState();
  long slot = -1;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.live.find(CurrentTid());
    if (it == s.live.end()) return;
    slot = it->second.slot;
    s.live.erase(it);
  }
  DecrementLive(slot);
}

void PrepareFork() { GetState().mu.lock(); }
void ParentAfterFork() { GetState().mu.unlock(); }
void ChildAfterFork() {
  State& s = GetState();
  // Only the forking thread exists in the child, under a new tid: none of
  // the parent's records is live. Nothing is freed here: a child handler
  // must not call the allocator (a sanitizer's allocator lock held by
  // another thread at the fork stays held in the child). The old map's
  // nodes are left behind; a fresh, empty map allocates nothing.
  for (const auto& entry : s.live) DecrementLive(entry.second.slot);
  new (&s.live) std::unordered_map<pid_t, Entry>();
  s.mu.unlock();
}

const ThreadCreationObserver kObserver = {OnCreate, OnStart, OnFailed, OnExit};

PeriodicThread& Monitor() {
  static PeriodicThread* t = new PeriodicThread("cpprof-threadmon", [] { ThreadLeakMonitor::Global().RecordPoint(); });
  return *t;  // never destroyed: runs until exit
}

}  // namespace

void StartCreationTracking() {
  static std::once_flag once;
  std::call_once(once, [] {
    State& s = GetState();
    // Written outside signal handlers: pages are touched as slots fill.
    s.table.store(StackTable::Create(kTableSlots, kTableArenaPcs, 2, /*prefault=*/false),
                  std::memory_order_release);
    pthread_atfork(PrepareFork, ParentAfterFork, ChildAfterFork);
    SetThreadCreationObserver(&kObserver);
  });
}

bool CreationTrackingActive() { return GetState().table.load(std::memory_order_acquire) != nullptr; }

uint64_t TrackedCreations() { return GetState().creations.load(std::memory_order_relaxed); }

std::vector<CreationRecord> LookupCreators(const std::vector<pid_t>& tids) {
  State& s = GetState();
  std::vector<CreationRecord> out(tids.size());
  std::vector<Entry> entries(tids.size(), Entry{-1, 0, 0});
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (size_t i = 0; i < tids.size(); ++i) {
      auto it = s.live.find(tids[i]);
      if (it != s.live.end()) entries[i] = it->second;
    }
  }
  const StackTable* table = s.table.load(std::memory_order_acquire);
  for (size_t i = 0; i < tids.size(); ++i) {
    const uintptr_t* pcs = nullptr;
    int depth = 0;
    int32_t tag = 0;
    if (entries[i].slot < 0 || table == nullptr ||
        !table->Entry(static_cast<size_t>(entries[i].slot), &pcs, &depth, &tag)) {
      continue;
    }
    CreationRecord& r = out[i];
    r.known = true;
    r.pcs.assign(pcs, pcs + depth);
    r.creator_tid = entries[i].creator;
    r.created_unix_ns = entries[i].created_unix_ns;
    r.slot = entries[i].slot;
  }
  return out;
}

size_t ForgetThreadsNotIn(const std::vector<pid_t>& live_tids) {
  std::vector<pid_t> sorted(live_tids);
  std::sort(sorted.begin(), sorted.end());
  std::vector<long> gone;
  State& s = GetState();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto it = s.live.begin(); it != s.live.end();) {
      if (!std::binary_search(sorted.begin(), sorted.end(), it->first)) {
        gone.push_back(it->second.slot);
        it = s.live.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (long slot : gone) DecrementLive(slot);
  return gone.size();
}

ThreadLeakMonitor& ThreadLeakMonitor::Global() {
  static ThreadLeakMonitor* m = new ThreadLeakMonitor();  // never destroyed: its thread runs until exit
  return *m;
}

void ThreadLeakMonitor::Start(int interval_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    interval_ms_ = interval_ms;
  }
  Monitor().Start(interval_ms);
}

bool ThreadLeakMonitor::running() const { return Monitor().running(); }

void ThreadLeakMonitor::RecordPoint() {
  Point p;
  p.t = static_cast<double>(MonotonicNanos()) * 1e-9;
  State& s = GetState();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (const auto& kv : s.live) ++p.live[kv.second.slot];
  }
  std::lock_guard<std::mutex> lock(mu_);
  history_.push_back(std::move(p));
  while (history_.size() > kLeakHistory) history_.pop_front();
}

LeakReport ThreadLeakMonitor::Suspects() const {
  LeakReport report;
  std::lock_guard<std::mutex> lock(mu_);
  report.interval_ms = interval_ms_;
  report.points = static_cast<int>(history_.size());
  if (history_.empty()) return report;
  report.window_seconds = history_.back().t - history_.front().t;
  if (history_.size() < static_cast<size_t>(kMinLeakPoints)) return report;
  std::map<long, std::vector<double>> series;
  std::vector<double> t;
  const size_t n = history_.size();
  for (size_t k = 0; k < n; ++k) {
    t.push_back(history_[k].t);
    for (const auto& kv : history_[k].live) {
      auto& y = series[kv.first];
      if (y.empty()) y.assign(n, 0.0);
      y[k] = static_cast<double>(kv.second);
    }
  }
  const StackTable* table = GetState().table.load(std::memory_order_acquire);
  for (const auto& [slot, y] : series) {
    if (y.back() - y.front() < static_cast<double>(kMinThreadGrowth)) continue;
    const Trend trend = RobustTrend(t, y);
    if (!IsRising(trend)) continue;
    LeakSuspect g;
    g.slot = slot;
    g.points = static_cast<int>(n);
    g.window_seconds = report.window_seconds;
    g.first_live = static_cast<int64_t>(y.front());
    g.last_live = static_cast<int64_t>(y.back());
    g.threads_per_minute = trend.slope * 60;
    g.mk_z = trend.mk_z;
    const uintptr_t* pcs = nullptr;
    int depth = 0;
    int32_t tag = 0;
    if (table != nullptr && table->Entry(static_cast<size_t>(slot), &pcs, &depth, &tag)) g.pcs.assign(pcs, pcs + depth);
    report.suspects.push_back(std::move(g));
  }
  std::sort(report.suspects.begin(), report.suspects.end(), [](const LeakSuspect& a, const LeakSuspect& b) {
    return a.last_live - a.first_live > b.last_live - b.first_live;
  });
  return report;
}

size_t ThreadLeakMonitor::memory_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t bytes = 0;
  for (const Point& p : history_) bytes += sizeof(Point) + p.live.size() * 48;
  const StackTable* table = GetState().table.load(std::memory_order_acquire);
  return bytes + (table != nullptr ? table->memory_bytes() : 0);
}

std::string DescribeSuspect(const LeakSuspect& g, int max_frames) {
  char head[256];
  snprintf(head, sizeof(head), "%" PRId64 " -> %" PRId64 " live threads in %.0f s (%.1f/min, trend z=%.1f), created at ",
           g.first_live, g.last_live, g.window_seconds, g.threads_per_minute, g.mk_z);
  std::string out = head;
  LegacyStackPrinter printer;
  int shown = 0;
  for (uintptr_t pc : g.pcs) {
    if (shown == max_frames) {
      out += " <- ...";
      break;
    }
    const SymbolizedAddress& sym = printer.Resolve(pc - 1);
    std::string name = sym.frames.empty() || sym.frames.back().function.empty()
                           ? "??" : sym.frames.back().function;
    out += (shown ? " <- " : "") + name;
    ++shown;
  }
  if (g.pcs.empty()) out += "(no stack)";
  return out;
}

}  // namespace threads
}  // namespace internal
}  // namespace cpprof
