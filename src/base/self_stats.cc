// SPDX-License-Identifier: Apache-2.0

#include "base/self_stats.h"

#include <pthread.h>
#include <time.h>

#include <mutex>

namespace cpprof {
namespace internal {
namespace {

struct OwnThreads {
  std::mutex mu;
  std::vector<std::pair<pthread_t, clockid_t>> live;
  uint64_t exited_ns = 0;
  std::vector<std::pair<const char*, size_t (*)()>> memory_users;
  struct Provider {
    const char* name;
    const char* help;
    double (*value)();
  };
  std::vector<Provider> providers;
};

OwnThreads& Own() {
  static OwnThreads* own = new OwnThreads();  // used until exit
  return *own;
}

uint64_t ClockNanos(clockid_t clock) {
  timespec ts;
  if (clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

CPPROF_SIGNAL_TLS int t_cpprof_own_thread;

void RegisterOwnThread() {
  t_cpprof_own_thread = 1;
  clockid_t clock;
  if (pthread_getcpuclockid(pthread_self(), &clock) != 0) return;
  std::lock_guard<std::mutex> lock(Own().mu);
  Own().live.emplace_back(pthread_self(), clock);
}

void UnregisterOwnThread() {
  uint64_t ns = ClockNanos(CLOCK_THREAD_CPUTIME_ID);
  std::lock_guard<std::mutex> lock(Own().mu);
  auto& live = Own().live;
  for (size_t i = 0; i < live.size(); ++i) {
    if (pthread_equal(live[i].first, pthread_self())) {
      live.erase(live.begin() + static_cast<long>(i));
      Own().exited_ns += ns;
      return;
    }
  }
}

uint64_t OwnThreadsCpuNanos() {
  std::lock_guard<std::mutex> lock(Own().mu);
  uint64_t total = Own().exited_ns;
  for (const auto& t : Own().live) total += ClockNanos(t.second);
  return total;
}

void RegisterMemoryUser(const char* name, size_t (*bytes)()) {
  std::lock_guard<std::mutex> lock(Own().mu);
  for (const auto& m : Own().memory_users) {
    if (m.second == bytes) return;
  }
  Own().memory_users.emplace_back(name, bytes);
}

double HandlerNanosQuantile(double q) {
  SelfCounters& c = GetSelfCounters();
  uint64_t counts[SelfCounters::kHandlerBuckets];
  uint64_t total = 0;
  for (int b = 0; b < SelfCounters::kHandlerBuckets; ++b) {
    total += counts[b] = c.cpu_handler_ns_log2[b].load(std::memory_order_relaxed);
  }
  if (total == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total - 1));
  uint64_t seen = 0;
  for (int b = 0; b < SelfCounters::kHandlerBuckets; ++b) {
    seen += counts[b];
    if (seen > rank) return static_cast<double>(1ull << b) * 1.41421356;
  }
  return 0;
}

void RegisterStatProvider(const char* name, const char* help, double (*value)()) {
  std::lock_guard<std::mutex> lock(Own().mu);
  for (const auto& p : Own().providers) {
    if (p.value == value) return;
  }
  Own().providers.push_back({name, help, value});
}

std::vector<StatLine> CollectSelfStats() {
  SelfCounters& c = GetSelfCounters();
  std::vector<StatLine> out;
  auto add = [&out](const char* name, double v, const char* help) { out.push_back({name, v, help}); };
  add("cpu_signals_total", c.cpu_signals.load(), "Profiling signals handled.");
  add("cpu_signals_ignored_total", c.cpu_signals_ignored.load(),
      "Profiling signals dropped at entry (stale timer or not cpprof's).");
  add("cpu_handler_seconds_total", c.cpu_handler_ns.load() / 1e9,
      "Time spent inside cpprof's CPU signal handler, all threads (runs preempted inside it left out).");
  add("cpu_handler_preempted_total", c.cpu_handler_preempted.load(),
      "CPU handler runs longer than 200 us of wall time: the thread was preempted inside the handler.");
  add("cpu_handler_median_seconds", HandlerNanosQuantile(0.5) / 1e9,
      "Median time of one CPU signal handler run (power-of-two histogram).");
  add("cpu_handler_p99_seconds", HandlerNanosQuantile(0.99) / 1e9,
      "99th percentile time of one CPU signal handler run (power-of-two histogram).");
  add("cpu_handler_frames_total", c.cpu_handler_frames.load(),
      "Stack frames captured by the CPU signal handler, all runs (handler seconds / frames = cost per frame).");
  add("cpu_samples_total", c.cpu_samples.load(), "CPU samples stored, weighted by 1 + timer overrun.");
  add("cpu_samples_dropped_total", c.cpu_samples_dropped.load(),
      "CPU samples lost because the stack table was full (shown in profiles as a synthetic frame).");
  add("cpu_timer_overruns_total", c.cpu_overruns.load(),
      "Timer expirations the kernel folded into an earlier signal (counted in sample weights).");
  add("cpu_profiles_served_total", c.cpu_profiles_served.load(), "CPU profile requests completed.");
  add("http_requests_total", c.http_requests.load(), "HTTP requests handled.");
  add("http_rejected_total", c.http_rejected.load(), "Requests or connections refused or answered with an error.");
  add("http_forbidden_origin_total", c.http_forbidden_origin.load(),
      "Requests refused as coming from another web page or naming a Host that is not this endpoint.");
  add("http_long_refused_total", c.http_long_refused.load(),
      "Requests that wait (CPU profiles, seconds=N deltas) answered 429: max_long_requests were running.");
  add("http_write_timeouts_total", c.http_write_timeouts.load(),
      "Responses not sent within write_timeout_ms (the connection was closed).");
  add("http_long_running", c.http_long_running.load(), "Requests that wait (CPU profiles, deltas) running now.");
  add("http_sending", c.http_sending.load(), "Responses the event loop is sending now (slow readers included).");
  add("own_threads_cpu_seconds_total", OwnThreadsCpuNanos() / 1e9,
      "CPU time of cpprof's own threads (HTTP workers, sampling manager).");
  std::vector<std::pair<const char*, size_t (*)()>> users;
  std::vector<OwnThreads::Provider> providers;
  {
    std::lock_guard<std::mutex> lock(Own().mu);
    users = Own().memory_users;
    providers = Own().providers;
  }
  for (const auto& p : providers) out.push_back({p.name, p.value(), p.help});
  size_t total = 0;
  for (const auto& u : users) {
    size_t b = u.second();
    total += b;
    out.push_back({std::string("memory_") + u.first + "_bytes", static_cast<double>(b),
                   std::string("Bytes held by cpprof's ") + u.first + "."});
  }
  out.push_back({"memory_bytes", static_cast<double>(total), "Bytes held by cpprof in all its tables and caches."});
  return out;
}

}  // namespace internal
}  // namespace cpprof
