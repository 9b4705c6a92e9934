// SPDX-License-Identifier: Apache-2.0
//
// What cpprof itself costs: time in its signal handlers, CPU of its own
// threads, samples taken/dropped/truncated, memory it holds. Shown on the
// index page and served machine-readable (/debug/pprof/stats).
//
// The counters are relaxed atomics and may be bumped from signal context
// (CPPROF_SIGNAL_SAFE); everything else here is not signal-safe.

#ifndef CPPROF_SRC_BASE_SELF_STATS_H_
#define CPPROF_SRC_BASE_SELF_STATS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/config.h"

namespace cpprof {
namespace internal {

struct SelfCounters {
  std::atomic<uint64_t> cpu_signals{0};          // profiling signals handled
  std::atomic<uint64_t> cpu_signals_ignored{0};  // stale or foreign signals dropped at entry
  // Wall time spent inside the CPU handler, runs of at most
  // kHandlerPreemptedNs. A longer run was taken off the CPU inside the
  // handler (measured against the thread's CPU clock on mariadbd under load:
  // 0.5 % of runs took 1.2 ms of wall time on average but 15 us of CPU, and
  // made up half of the wall-time total); those are counted in
  // cpu_handler_preempted instead, so the total is the handler's CPU cost, as
  // perf sees it.
  std::atomic<uint64_t> cpu_handler_ns{0};
  std::atomic<uint64_t> cpu_handler_preempted{0};
  // Handler durations by power of two: bucket b counts durations in
  // [2^b, 2^(b+1)) ns, every run (preempted ones too).
  static constexpr int kHandlerBuckets = 40;
  std::atomic<uint64_t> cpu_handler_ns_log2[kHandlerBuckets] = {};
  std::atomic<uint64_t> cpu_handler_frames{0};   // frames the CPU handler captured, all runs
  std::atomic<uint64_t> cpu_samples{0};          // samples stored (weighted by 1 + overrun)
  std::atomic<uint64_t> cpu_samples_dropped{0};  // samples lost because the stack table was full
  std::atomic<uint64_t> cpu_overruns{0};         // timer expirations folded into one signal
  std::atomic<uint64_t> cpu_profiles_served{0};
  std::atomic<uint64_t> http_requests{0};
  std::atomic<uint64_t> http_rejected{0};        // refused connections and 4xx/5xx answers
  std::atomic<uint64_t> http_forbidden_origin{0};  // 403s of the browser-origin checks
  std::atomic<uint64_t> http_long_refused{0};    // 429s: max_long_requests already running
  std::atomic<uint64_t> http_write_timeouts{0};  // responses not sent within write_timeout_ms
  std::atomic<int64_t> http_long_running{0};     // waiting requests (CPU profiles, deltas) now
  std::atomic<int64_t> http_sending{0};          // responses the event loop is sending now
};
// A handler run longer than this (wall time) was preempted: no walk of 128
// frames costs that much CPU (the slowest unpreempted run seen: 57 us).
constexpr uint64_t kHandlerPreemptedNs = 200 * 1000;

// A constant-initialised global (no guard variable), so the handler can
// reach it without locks.
inline SelfCounters g_self_counters;
CPPROF_SIGNAL_SAFE inline SelfCounters& GetSelfCounters() { return g_self_counters; }

// Signal-safe. Records one handler duration in the histogram.
CPPROF_SIGNAL_SAFE inline void RecordHandlerNanos(uint64_t ns) {
  int bucket = ns == 0 ? 0 : 63 - __builtin_clzll(ns);
  if (bucket >= SelfCounters::kHandlerBuckets) bucket = SelfCounters::kHandlerBuckets - 1;
  g_self_counters.cpu_handler_ns_log2[bucket].fetch_add(1, std::memory_order_relaxed);
}

// Returns the q-quantile (0..1) of handler durations in ns, from the
// histogram (geometric middle of the bucket), or 0 with no data.
double HandlerNanosQuantile(double q);

// Own threads (HTTP workers, the sampling session's manager) register so
// their CPU time is counted. Call from the thread itself.
// Registering also sets t_cpprof_own_thread, which the lock hooks read so
// cpprof's own waits never enter the block and mutex profiles.
void RegisterOwnThread();
void UnregisterOwnThread();
extern CPPROF_SIGNAL_TLS int t_cpprof_own_thread;
// CPU time of cpprof's own threads, live and exited, in nanoseconds.
uint64_t OwnThreadsCpuNanos();

// Memory accounting: a module registers a function returning the bytes it
// holds (tables, caches, arenas).
void RegisterMemoryUser(const char* name, size_t (*bytes)());

// Other modules' figures: a function returning the current value.
void RegisterStatProvider(const char* name, const char* help, double (*value)());

struct StatLine {
  std::string name;   // snake_case, e.g. "cpu_handler_seconds"
  double value;
  std::string help;   // one sentence
};
// Everything above as a list, for the index page, JSON and metrics.
std::vector<StatLine> CollectSelfStats();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_SELF_STATS_H_
