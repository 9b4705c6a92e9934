// SPDX-License-Identifier: Apache-2.0
//
// Sessions and windows (see cpu_profiler.h for the contract).
//
// Session start, in this order: install the signal handler (refusing a
// signal that has someone else's handler), build the unwind tables, publish
// a fresh StackTable and a new cookie, install the pthread_create hooks (so
// no thread created from now on is missed), then arm timers for every thread
// listed in /proc/self/task. A manager thread rescans threads every 200 ms
// (raw clone(), threads that exit), refreshes unwind tables when modules
// are loaded or unloaded, and rotates to a fresh table before the current
// one fills up (long overlapping sessions).
//
// Windows: a window records, per table alive during it, the slot weights at
// its start (zeros for tables created later); its samples are the
// differences at its end. Weights only grow, so writers never stop.
//
// Session end: clear the cookie and table pointer (late signals from timers
// not yet deleted are ignored by the handler), remove the hooks, join the
// manager, delete timers, wait until no handler is in flight, free the
// tables. The handler stays installed: a pending signal must never meet
// SIG_DFL, whose action for SIGPROF terminates the process.

#include "profiles/cpu/cpu_profiler.h"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <new>

#include "base/clock.h"
#include "base/raw_log.h"
#include "base/self_stats.h"
#include "base/signal_handler.h"
#include "interpose/thread_hooks.h"
#include "profiles/cpu/cpu_signal.h"
#include "profiles/cpu/cpu_timers.h"
#include "stacks/stack_table.h"
#include "base/safe_load.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {
namespace {

constexpr int kManagerTickMs = 200;
constexpr double kRotateAtOccupancy = 0.75;

pid_t CurrentTid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

void WaitForHandlersToLeave() {
  CpuSignalState& state = GetCpuSignalState();
  for (int i = 0; i < 200000 && state.in_flight.load(std::memory_order_seq_cst) != 0; ++i) {
    timespec ts{0, 50000};
    nanosleep(&ts, nullptr);
  }
}


std::atomic<size_t> g_table_bytes{0};
size_t TablesBytes() { return g_table_bytes.load(std::memory_order_relaxed); }

}  // namespace

struct CpuProfiler::Session {
  int hz = 0;
  int signo = 0;
  int64_t period_ns = 0;
  int cookie = 0;
  std::unique_ptr<ThreadTimers> timers;
  std::vector<StackTable*> tables;  // back() is the one the handler writes to
  std::thread manager;
  std::condition_variable wake;
  bool stopping = false;
};

struct CpuProfiler::Window {
  uint64_t id = 0;
  int64_t start_unix_ns = 0;
  int64_t start_mono_ns = 0;
  struct Part {
    StackTable* table;
    std::vector<uint64_t> start_weights;
    uint64_t start_dropped;
  };
  std::vector<Part> parts;
};

void CpuProfilerAtForkChild() {
  // The child has no sampling session (timers are not inherited) and no
  // manager thread: stop feeding a table nobody will read, and forget the
  // parent's session and requests.
  CpuSignalState& state = GetCpuSignalState();
  state.cookie.store(0);
  state.table.store(nullptr);
  ResetCachedThreadId();
  SetThreadHooks(nullptr, nullptr);
  CpuProfiler::Global().ForgetParentAfterFork();
}

void CpuProfiler::ForgetParentAfterFork() {
  // mu_ may have been held by one of the parent's threads: made anew.
  new (&mu_) std::mutex();
  (void)session_.release();
  for (auto& w : windows_) (void)w.release();
  windows_.clear();
}

CpuProfiler& CpuProfiler::Global() {
  static CpuProfiler* profiler = new CpuProfiler();  // never destroyed: signals may outlive exit
  return *profiler;
}

namespace {

// Cost of one CLOCK_MONOTONIC read here, in ns (the median of 9 rounds of
// 64 reads).
int64_t MeasureClockReadNanos() {
  int64_t rounds[9];
  for (int64_t& r : rounds) {
    const int64_t t0 = MonotonicNanos();
    for (int i = 0; i < 64; ++i) (void)MonotonicNanos();
    r = (MonotonicNanos() - t0) / 65;
  }
  std::sort(rounds, rounds + 9);
  return rounds[4];
}

std::atomic<int64_t> g_clock_read_ns{0};

}  // namespace

CpuProfiler::CpuProfiler() {
  pthread_atfork(nullptr, nullptr, CpuProfilerAtForkChild);
  g_clock_read_ns.store(MeasureClockReadNanos());
  GetCpuSignalState().time_runs.store(g_clock_read_ns.load() <= kMaxHandlerClockNs);
  RegisterStatProvider("cpu_handler_clock_read_seconds",
                       "Cost of one clock read, measured at start; above 0.5 us the CPU handler does not time its "
                       "runs (its time figures stay 0) so as not to spend its time reading the clock.",
                       [] { return static_cast<double>(g_clock_read_ns.load()) / 1e9; });
  RegisterMemoryUser("cpu_stack_tables", TablesBytes);
  RegisterStatProvider("cpu_profile_windows_open", "CPU profile requests in progress.",
                       [] { return static_cast<double>(Global().open_windows()); });
  RegisterStatProvider("cpu_sampling_hz", "Rate of the running CPU sampling session, 0 when idle.",
                       [] { return static_cast<double>(Global().active_hz()); });
  RegisterStatProvider("cpu_table_rotations_refused_total",
                       "Full CPU stack tables not replaced because of cpu_table_max_bytes (new stacks were "
                       "dropped and counted instead).",
                       [] { return static_cast<double>(Global().rotations_refused()); });
  RegisterStatProvider("unwind_modules_over_cap_total",
                       "Modules given no unwind table because of unwind_table_max_bytes (walked with frame "
                       "pointers only).",
                       [] { return static_cast<double>(UnwindModulesOverCap()); });
  RegisterStatProvider("cpu_threads_sampled", "Threads with an armed CPU timer right now.",
                       [] { return static_cast<double>(Global().armed_threads()); });
  RegisterStatProvider("unwind_stacks_truncated_total",
                       "Stacks whose walk stopped before reaching a thread entry (depth cap or "
                       "no unwind rule).",
                       [] { return static_cast<double>(GetUnwindCounters().truncated.load()); });
  RegisterStatProvider("unwind_bad_reads_total",
                       "Stack reads refused as outside readable memory (walk ended there).",
                       [] { return static_cast<double>(GetUnwindCounters().bad_reads.load()); });
  RegisterStatProvider("unwind_frames_cfi_total", "Frames stepped with .eh_frame rules.",
                       [] { return static_cast<double>(GetUnwindCounters().cfi_frames.load()); });
  RegisterStatProvider("unwind_frames_fp_total", "Frames stepped with frame pointers.",
                       [] { return static_cast<double>(GetUnwindCounters().fp_frames.load()); });
}

void CpuProfiler::set_table_capacity(size_t slots, size_t arena_pcs) {
  std::lock_guard<std::mutex> lock(mu_);
  table_slots_ = slots;
  table_arena_pcs_ = arena_pcs;
}

void CpuProfiler::set_rotation_enabled(bool enabled) {
  std::lock_guard<std::mutex> lock(mu_);
  rotation_enabled_ = enabled;
}

void CpuProfiler::set_max_table_bytes(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  max_table_bytes_ = bytes;
}

size_t CpuProfiler::table_bytes() { return TablesBytes(); }

uint64_t CpuProfiler::rotations_refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rotations_refused_;
}

int CpuProfiler::active_hz() const {
  std::lock_guard<std::mutex> lock(mu_);
  return session_ ? session_->hz : 0;
}

int CpuProfiler::open_windows() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(windows_.size());
}

size_t CpuProfiler::armed_threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return session_ ? session_->timers->armed() : 0;
}

void CpuProfiler::OnThreadStart() {
  // (The trampoline that runs this hook has registered the thread's stack.)
  CpuProfiler& p = Global();
  std::lock_guard<std::mutex> lock(p.mu_);
  if (p.session_ && !p.session_->stopping) p.session_->timers->AddThread(CurrentTid());
}

void CpuProfiler::OnThreadExit() {
  char name[17] = {};
  prctl(PR_GET_NAME, name, 0, 0, 0);  // the name it ends with labels its samples
  CpuProfiler& p = Global();
  std::lock_guard<std::mutex> lock(p.mu_);
  if (p.session_) p.session_->timers->RemoveThread(CurrentTid(), name);
}

Status CpuProfiler::StartSessionLocked(int hz, int signo) {
  std::string error;
  switch (InstallSignalHandler(signo, HandleCpuSignal, "Options::cpu_signal", &error)) {
    case SignalInstall::kOk: break;
    case SignalInstall::kInvalid: return Status(StatusCode::kInvalidArgument, "CPU profiling: " + error);
    case SignalInstall::kTaken:
    case SignalInstall::kFailed: return Status(StatusCode::kUnavailable, error);
  }
  auto session = std::make_unique<Session>();
  session->hz = hz;
  session->signo = signo;
  session->period_ns = 1000000000LL / hz;
  next_cookie_ = (next_cookie_ % 0x3fffff) + 1;
  session->cookie = (next_cookie_ << 8) | 0x5a;
  StackTable* table = StackTable::Create(table_slots_, table_arena_pcs_);
  if (table == nullptr) {
    return Status(StatusCode::kUnavailable, "cannot map memory for the CPU stack table");
  }
  g_table_bytes.fetch_add(table->memory_bytes());
  session->tables.push_back(table);
  session->timers = std::make_unique<ThreadTimers>(signo, session->period_ns, session->cookie);

  CpuSignalState& state = GetCpuSignalState();
  state.table.store(table, std::memory_order_seq_cst);
  state.cookie.store(session->cookie, std::memory_order_seq_cst);
  // Hooks before the scan, so a thread created in between is not missed.
  SetThreadHooks(&CpuProfiler::OnThreadStart, &CpuProfiler::OnThreadExit);
  session_ = std::move(session);
  if (session_->timers->Rescan() == 0 || session_->timers->armed() == 0) {
    RawLog(LogLevel::kWarning, "no CPU timer could be armed: %s", session_->timers->last_error().c_str());
  }
  Session* raw = session_.get();
  session_->manager = std::thread([this, raw] { ManagerLoop(raw); });
  return Status();
}

Status CpuProfiler::BeginWindow(int hz, int signo, uint64_t* window_id) {
  if (hz <= 0) return Status(StatusCode::kInvalidArgument, "hz must be positive");
  // Tables current before the first samples; built without mu_, because a
  // build may wait for the loader's lock (pinning a new module), and a host
  // thread holding that lock (in dlopen, its constructor waiting for a
  // thread it started) may have that thread wait for mu_ in OnThreadStart.
  RefreshUnwindTables();
  std::unique_lock<std::mutex> lock(mu_);
  if (session_ && session_->hz != hz) {
    return Status(StatusCode::kFailedPrecondition,
                  "a CPU profile at " + std::to_string(session_->hz) +
                      " Hz is running; overlapping requests must use the same rate (hz=" +
                      std::to_string(session_->hz) + ") or wait until it ends");
  }
  if (!session_) {
    Status s = StartSessionLocked(hz, signo);
    if (!s.ok()) return s;
  }
  auto w = std::make_unique<Window>();
  w->id = next_window_id_++;
  w->start_unix_ns = RealtimeNanos();
  w->start_mono_ns = MonotonicNanos();
  // Older tables get no new samples, so only the current one matters.
  Window::Part part;
  part.table = session_->tables.back();
  part.table->SnapshotWeights(&part.start_weights);
  part.start_dropped = part.table->dropped();
  w->parts.push_back(std::move(part));
  *window_id = w->id;
  windows_.push_back(std::move(w));
  return Status();
}

std::vector<uintptr_t> CpuProfiler::PcsSoFar(uint64_t window_id, size_t max_pcs) const {
  std::vector<uintptr_t> pcs;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(windows_.begin(), windows_.end(),
                         [window_id](const std::unique_ptr<Window>& w) { return w->id == window_id; });
  if (it == windows_.end()) return pcs;
  std::vector<uint64_t> now;
  for (const Window::Part& part : (*it)->parts) {
    part.table->SnapshotWeights(&now);
    for (size_t i = 0; i < now.size() && pcs.size() < max_pcs; ++i) {
      const uint64_t before = part.start_weights.empty() ? 0 : part.start_weights[i];
      const uintptr_t* stack = nullptr;
      int depth = 0;
      int32_t tid = 0;
      if (now[i] <= before || !part.table->Entry(i, &stack, &depth, &tid)) continue;
      for (int d = 0; d < depth && pcs.size() < max_pcs; ++d) pcs.push_back(stack[d]);
    }
  }
  std::sort(pcs.begin(), pcs.end());
  pcs.erase(std::unique(pcs.begin(), pcs.end()), pcs.end());
  return pcs;
}

StackProfile CpuProfiler::EndWindow(uint64_t window_id) {
  StackProfile profile;
  profile.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  profile.period_type = {"cpu", "nanoseconds"};
  profile.leaf_is_exact_pc = true;

  std::unique_ptr<Session> dying;
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = std::find_if(windows_.begin(), windows_.end(),
                           [window_id](const std::unique_ptr<Window>& w) { return w->id == window_id; });
    if (it == windows_.end() || !session_) return profile;
    std::unique_ptr<Window> window = std::move(*it);
    windows_.erase(it);
    const int64_t period = session_->period_ns;
    profile.period = period;
    profile.time_nanos = window->start_unix_ns;
    profile.duration_nanos = MonotonicNanos() - window->start_mono_ns;

    uint64_t dropped = 0;
    std::vector<uint64_t> now;
    std::vector<pid_t> tids;
    struct Pending {
      const uintptr_t* pcs;
      int depth;
      int32_t tid;
      uint64_t weight;
    };
    std::vector<Pending> pending;
    for (Window::Part& part : window->parts) {
      part.table->SnapshotWeights(&now);
      dropped += part.table->dropped() - part.start_dropped;
      for (size_t i = 0; i < now.size(); ++i) {
        uint64_t before = part.start_weights.empty() ? 0 : part.start_weights[i];
        if (now[i] <= before) continue;
        Pending p;
        if (!part.table->Entry(i, &p.pcs, &p.depth, &p.tid)) continue;
        p.weight = now[i] - before;
        pending.push_back(p);
        tids.push_back(p.tid);
      }
    }
    std::sort(tids.begin(), tids.end());
    tids.erase(std::unique(tids.begin(), tids.end()), tids.end());
    std::map<pid_t, std::string> names = session_->timers->ThreadNames(tids);
    profile.samples.reserve(pending.size() + 1);
    for (const Pending& p : pending) {
      StackSample s;
      s.pcs.assign(p.pcs, p.pcs + p.depth);
      s.values = {static_cast<int64_t>(p.weight), static_cast<int64_t>(p.weight) * period};
      auto name = names.find(p.tid);
      s.labels.push_back({"thread", name != names.end() && !name->second.empty() ? name->second
                                                                                  : "tid " + std::to_string(p.tid),
                          0, ""});
      s.labels.push_back({"tid", "", p.tid, ""});
      profile.samples.push_back(std::move(s));
    }
    if (dropped > 0) {
      StackSample s;
      s.synthetic = "[cpprof: " + std::to_string(dropped) + " samples dropped: stack table full]";
      s.values = {static_cast<int64_t>(dropped), static_cast<int64_t>(dropped) * period};
      profile.samples.push_back(std::move(s));
    }
    profile.comments.push_back("cpprof " + std::to_string(session_->hz) + " Hz per-thread CPU timers");
    GetSelfCounters().cpu_profiles_served.fetch_add(1, std::memory_order_relaxed);

    if (!windows_.empty()) {
      ReleaseUnusedTablesLocked(session_.get());
      return profile;
    }
    // Last window: stop the session. Unpublish first so late signals are ignored.
    CpuSignalState& state = GetCpuSignalState();
    state.cookie.store(0, std::memory_order_seq_cst);
    state.table.store(nullptr, std::memory_order_seq_cst);
    SetThreadHooks(nullptr, nullptr);
    session_->stopping = true;
    session_->wake.notify_all();
    dying = std::move(session_);
  }
  // Outside the lock: the manager takes mu_ on every tick.
  if (dying->manager.joinable()) dying->manager.join();
  dying->timers.reset();
  WaitForHandlersToLeave();
  for (StackTable* t : dying->tables) {
    g_table_bytes.fetch_sub(t->memory_bytes());
    StackTable::Destroy(t);
  }
  ReleaseRetiredUnwindTables();
  return profile;
}

void CpuProfiler::ReleaseUnusedTablesLocked(Session* session) {
  // Frees tables that are neither current nor part of an open window. The
  // grace period for handlers was observed when they stopped being current.
  for (size_t i = 0; i + 1 < session->tables.size();) {
    StackTable* t = session->tables[i];
    bool used = false;
    for (const auto& w : windows_) {
      for (const auto& part : w->parts) used = used || part.table == t;
    }
    if (used) {
      ++i;
      continue;
    }
    g_table_bytes.fetch_sub(t->memory_bytes());
    StackTable::Destroy(t);
    session->tables.erase(session->tables.begin() + static_cast<long>(i));
  }
}

void CpuProfiler::MaybeRotateTableLocked(Session* session) {
  StackTable* current = session->tables.back();
  if (!rotation_enabled_) return;
  if (current->used_slots() < static_cast<size_t>(kRotateAtOccupancy * current->slot_count())) return;
  // Tables of a session share one capacity: a fresh one costs what the
  // current one does.
  if (TablesBytes() + current->memory_bytes() > max_table_bytes_) {
    if (refused_table_ != current) ++rotations_refused_;  // counted once per full table
    refused_table_ = current;  // it fills up; later new stacks are counted as dropped
    return;
  }
  StackTable* fresh = StackTable::Create(table_slots_, table_arena_pcs_);
  if (fresh == nullptr) return;  // keep the full table; drops are counted
  g_table_bytes.fetch_add(fresh->memory_bytes());
  session->tables.push_back(fresh);
  for (auto& w : windows_) {
    Window::Part part;
    part.table = fresh;
    part.start_dropped = 0;  // start_weights empty = all zeros
    w->parts.push_back(std::move(part));
  }
  GetCpuSignalState().table.store(fresh, std::memory_order_seq_cst);
  WaitForHandlersToLeave();  // no handler still writes to the old table after this
  ReleaseUnusedTablesLocked(session);
}

void CpuProfiler::ManagerLoop(Session* session) {
  RegisterOwnThread();
  sigset_t block;
  sigfillset(&block);
  sigdelset(&block, session->signo);  // cpprof's own cost shows in profiles
  pthread_sigmask(SIG_BLOCK, &block, nullptr);
  pthread_setname_np(pthread_self(), "cpprof-sampler");
  std::unique_lock<std::mutex> lock(mu_);
  while (!session->stopping) {
    session->wake.wait_for(lock, std::chrono::milliseconds(kManagerTickMs));
    if (session->stopping) break;
    // Without mu_: new threads' hooks and requests must not wait for a
    // rescan or for unwind tables of a freshly loaded library. The session
    // outlives this thread (EndWindow joins it before freeing anything).
    lock.unlock();
    session->timers->Rescan();
    RefreshUnwindTables();
    lock.lock();
    if (session->stopping) break;
    MaybeRotateTableLocked(session);
  }
  lock.unlock();
  UnregisterOwnThread();
}

}  // namespace internal
}  // namespace cpprof
