// SPDX-License-Identifier: Apache-2.0
//
// Load-time start. A constructor runs StartFromEnvironment(), which does
// nothing unless CPPROF_ADDR is set. It runs before main() (and, under
// LD_PRELOAD, before the host's own constructors); it only creates cpprof's
// listener thread and touches no host state. Failures are logged once to
// stderr and never stop the host.
//
// Two copies of cpprof in one process (linked in and preloaded) each export
// cpprof_instance_marker; dlsym(RTLD_DEFAULT) finds the first in lookup
// order, and only that copy starts the endpoint.

#include "core/lifecycle.h"

#include <dlfcn.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include <unistd.h>

#include "base/raw_log.h"
#include "cpprof/server.h"
#include "http/origin_policy.h"
#include "profiles/cpu/cpu_profiler.h"
#include "profiles/contention/contention_source.h"
#include "profiles/cpu/cpu_source.h"
#include "profiles/fd/fd_source.h"
#include "profiles/heap/heap_profile.h"
#include "profiles/heap/heap_sampler.h"
#include "profiles/heap/heap_source.h"
#include "profiles/heap/leak_scan.h"
#include "profiles/threads/thread_sources.h"
#include "registry/registry.h"

extern "C" __attribute__((visibility("default"))) const char cpprof_instance_marker = 1;

namespace cpprof {
namespace internal {
namespace {

std::atomic<bool> g_preload{false};

bool EnvInt(const char* name, int min, int max, int* out) {
  const char* v = getenv(name);
  if (v == nullptr || *v == '\0') return false;
  char* end = nullptr;
  long n = strtol(v, &end, 10);
  if (*end != '\0' || n < min || n > max) {
    RawLog(LogLevel::kWarning, "ignoring %s=%s: expected a number from %d to %d", name, v, min, max);
    return false;
  }
  *out = static_cast<int>(n);
  return true;
}

}  // namespace

void SetLoadedByPreload() { g_preload.store(true); }
bool LoadedByPreload() { return g_preload.load(); }

bool IsPrimaryInstance() {
  const void* first = dlsym(RTLD_DEFAULT, "cpprof_instance_marker");
  return first == nullptr || first == &cpprof_instance_marker;
}

void RegisterBuiltinSources() {
  static std::once_flag once;
  std::call_once(once, [] {
    CpuProfiler::Global();  // registers its figures on the stats page
    Registry::Global().Register(NewCpuProfileSource());
    for (auto& source : NewHeapProfileSources()) Registry::Global().Register(std::move(source));
    for (auto& source : NewContentionProfileSources()) Registry::Global().Register(std::move(source));
    for (auto& source : NewThreadProfileSources()) Registry::Global().Register(std::move(source));
    Registry::Global().Register(NewFdProfileSource());
  });
}

Options ApplyEnvironment(Options o) {
  if (const char* v = getenv("CPPROF_ADDR"); v != nullptr && *v != '\0') o.address = v;
  if (const char* v = getenv("CPPROF_TOKEN"); v != nullptr && *v != '\0') o.token = v;
  if (const char* v = getenv("CPPROF_TLS_CERT"); v != nullptr && *v != '\0') o.tls_cert_file = v;
  if (const char* v = getenv("CPPROF_TLS_KEY"); v != nullptr && *v != '\0') o.tls_key_file = v;
  if (const char* v = getenv("CPPROF_ALLOWED_HOSTS"); v != nullptr && *v != '\0') {
    o.allowed_hosts = internal::SplitHostList(v);
  }
  if (const char* v = getenv("CPPROF_ALLOW_REMOTE"); v != nullptr && strcmp(v, "1") == 0) {
    o.allow_remote_without_token = true;
  }
  EnvInt("CPPROF_CPU_HZ", 1, 100000, &o.cpu_default_hz);
  EnvInt("CPPROF_CPU_MAX_HZ", 1, 100000, &o.cpu_max_hz);
  EnvInt("CPPROF_MAX_SECONDS", 1, 86400, &o.max_profile_seconds);
  EnvInt("CPPROF_SIGNAL", 1, SIGRTMAX, &o.cpu_signal);
  EnvInt("CPPROF_HEAP_GROWTH_INTERVAL_MS", 10, 3600 * 1000, &o.heap_growth_interval_ms);
  EnvInt("CPPROF_LEAK_MIN_AGE", 0, 30 * 86400, &o.leak_min_age_seconds);
  EnvInt("CPPROF_THREAD_LEAK_INTERVAL_MS", 10, 3600 * 1000, &o.thread_leak_interval_ms);
  EnvInt("CPPROF_THREAD_SIGNAL", 1, SIGRTMAX, &o.thread_dump_signal);
  EnvInt("CPPROF_LEAK_SIGNAL", 1, SIGRTMAX, &o.leak_signal);
  EnvInt("CPPROF_FD_WARN_PERCENT", 1, 100, &o.fd_warn_percent);
  EnvInt("CPPROF_FD_CRITICAL_PERCENT", 1, 100, &o.fd_critical_percent);
  if (const char* v = getenv("CPPROF_FD_TRACKING"); v != nullptr && strcmp(v, "0") == 0) o.fd_tracking = false;
  if (const char* v = getenv("CPPROF_PRIVATE_FD_TABLE"); v != nullptr && strcmp(v, "0") == 0) {
    o.private_fd_table = false;
  }
  if (const char* v = getenv("CPPROF_LEAK_SUPPRESS"); v != nullptr && *v != '\0') o.leak_suppressions = v;
  for (const auto& cap : {std::make_pair("CPPROF_CPU_TABLE_MAX_BYTES", &o.cpu_table_max_bytes),
                          std::make_pair("CPPROF_SYMBOL_CACHE_MAX_BYTES", &o.symbol_cache_max_bytes),
                          std::make_pair("CPPROF_UNWIND_TABLE_MAX_BYTES", &o.unwind_table_max_bytes)}) {
    const char* v = getenv(cap.first);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    const unsigned long long n = strtoull(v, &end, 10);
    if (*end != '\0' || n == 0 || n > (1ULL << 40)) {
      RawLog(LogLevel::kWarning, "ignoring %s=%s: expected bytes from 1 to 2^40", cap.first, v);
    } else {
      *cap.second = static_cast<size_t>(n);
    }
  }
  if (const char* v = getenv("CPPROF_HEAP_RATE"); v != nullptr && *v != '\0') {
    char* end = nullptr;
    long long n = strtoll(v, &end, 10);
    if (*end != '\0' || n < 0 || n > (1LL << 40)) {
      RawLog(LogLevel::kWarning, "ignoring CPPROF_HEAP_RATE=%s: expected bytes from 0 to 2^40", v);
    } else {
      o.heap_sample_rate = n;
    }
  }
  return o;
}

namespace {

// CPPROF_LEAK_CHECK=exit: a leak scan when the process exits, printed to
// stderr (the exit status is left alone).
void ReportLeaksAtExit() {
  if (heap::CurrentMode() != heap::Mode::kGlibc) return;
  heap::LeakScanOptions options;
  options.min_age_seconds = 0;
  options.confirm_ms = 200;
  heap::LeakScanResult result;
  Status s = heap::ScanForLeaks(options, &result);
  std::string text;
  if (s.ok()) {
    StackProfile profile = heap::LeakProfile(result, 0);
    const char* patterns = getenv("CPPROF_LEAK_SUPPRESS");
    int64_t suppressed = heap::SuppressLeaks(heap::ParseSuppressions(patterns != nullptr ? patterns : ""), &profile);
    text = heap::LeakText(result, profile, 0, suppressed);
  } else {
    text = "cpprof: leak check at exit failed: " + s.message() + "\n";
  }
  if (s.ok()) text = "cpprof: leak check at exit\n" + text;
  for (size_t off = 0; off < text.size();) {
    ssize_t n = write(2, text.data() + off, text.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

__attribute__((constructor(201))) void ArmLeakCheckAtExit() {
  const char* v = getenv("CPPROF_LEAK_CHECK");
  if (v == nullptr || strcmp(v, "exit") != 0 || !IsPrimaryInstance()) return;
  atexit(ReportLeaksAtExit);
}

__attribute__((constructor(200))) void StartAtLoad() {
  const char* addr = getenv("CPPROF_ADDR");
  if (addr == nullptr || *addr == '\0') return;
  if (!IsPrimaryInstance()) return;
  Status s = StartFromEnvironment();
  if (!s.ok()) RawLog(LogLevel::kWarning, "endpoint not started: %s", s.message().c_str());
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
