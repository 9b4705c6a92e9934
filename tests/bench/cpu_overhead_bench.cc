// SPDX-License-Identifier: Apache-2.0
//
// CPU profiler overhead and sample accuracy, one mode per run:
//
//   cpu_overhead_bench --mode none|cpprof|gperftools [--hz 100] [--threads 2] [--seconds 5]
//
// Every mode runs the same multi-threaded workload (hashing plus qsort with a
// comparator, so stacks cross Debian's frame-pointer-less libc) for the same
// wall time and prints one line:
//   mode=cpprof hz=100 ops_per_sec=... cpu_seconds=... sampled_cpu_seconds=... sample_ratio=...
//     handler_ns_mean=...
// sample_ratio = sampled CPU / CPU the kernel charged to the process over the
// run. gperftools is loaded with dlopen (libprofiler.so.0) so both profilers
// never share a process; its CPU profile file is parsed to count samples.
// scripts/bench.sh runs the modes side by side and prints ratios.

#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "base/self_stats.h"
#include "profiles/cpu/cpu_profiler.h"

namespace {

volatile uint64_t g_sink;

int CompareU64(const void* a, const void* b) {
  uint64_t x = *static_cast<const uint64_t*>(a), y = *static_cast<const uint64_t*>(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

__attribute__((noinline)) uint64_t HashBlock(uint64_t seed) {
  uint64_t h = seed;
  for (int i = 0; i < 20000; ++i) h = (h ^ static_cast<uint64_t>(i)) * 1099511628211ull;
  return h;
}

__attribute__((noinline)) uint64_t SortBlock(uint64_t seed) {
  uint64_t v[256];
  for (auto& e : v) e = seed = seed * 6364136223846793005ull + 1;
  qsort(v, 256, sizeof(uint64_t), CompareU64);
  return v[0];
}

double Seconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// gperftools' legacy CPU profile: header [0, 3, 0, period_us, 0], then
// records [count, depth, pcs...], then the trailer [0, 1, 0] and text maps.
bool CountGperftoolsSamples(const std::string& path, double* sampled_seconds) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  std::vector<uintptr_t> words;
  uintptr_t w;
  while (fread(&w, sizeof(w), 1, f) == 1) words.push_back(w);
  fclose(f);
  if (words.size() < 5 || words[0] != 0 || words[1] != 3) return false;
  const double period = static_cast<double>(words[3]) * 1e-6;
  uint64_t samples = 0;
  size_t i = 5;
  while (i + 2 <= words.size()) {
    uintptr_t count = words[i], depth = words[i + 1];
    if (count == 0 && depth == 1) break;  // trailer
    samples += count;
    i += 2 + depth;
  }
  *sampled_seconds = static_cast<double>(samples) * period;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "none";
  int hz = 100, threads = 2;
  double seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--mode")) mode = argv[i + 1];
    else if (!strcmp(argv[i], "--hz")) hz = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
  }

  using StartFn = int (*)(const char*);
  using StopFn = void (*)();
  StopFn gperf_stop = nullptr;
  std::string gperf_file = "/tmp/cpprof_bench_gperftools." + std::to_string(getpid()) + ".prof";
  uint64_t window = 0;
  if (mode == "gperftools") {
    setenv("CPUPROFILE_FREQUENCY", std::to_string(hz).c_str(), 1);
    void* lib = dlopen("libprofiler.so.0", RTLD_NOW | RTLD_GLOBAL);
    if (lib == nullptr) {
      fprintf(stderr, "cannot load libprofiler.so.0: %s\n", dlerror());
      return 1;
    }
    auto start = reinterpret_cast<StartFn>(dlsym(lib, "ProfilerStart"));
    gperf_stop = reinterpret_cast<StopFn>(dlsym(lib, "ProfilerStop"));
    if (start == nullptr || gperf_stop == nullptr || !start(gperf_file.c_str())) {
      fprintf(stderr, "ProfilerStart failed\n");
      return 1;
    }
  }

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  std::vector<std::thread> workers;
  // Threads first, then the profiler, as in a server that is already running.
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      uint64_t local = 0, seed = static_cast<uint64_t>(t) + 1;
      while (!stop.load(std::memory_order_relaxed)) {
        seed = HashBlock(seed) + SortBlock(seed);
        ++local;
      }
      g_sink = seed;
      ops.fetch_add(local);
    });
  }
  if (mode == "cpprof") {
    cpprof::Status s = cpprof::internal::CpuProfiler::Global().BeginWindow(hz, SIGPROF, &window);
    if (!s.ok()) {
      fprintf(stderr, "cpprof: %s\n", s.message().c_str());
      return 1;
    }
  }
  const double cpu0 = Seconds(CLOCK_PROCESS_CPUTIME_ID);
  const double wall0 = Seconds(CLOCK_MONOTONIC);
  timespec ts{static_cast<time_t>(seconds), static_cast<long>((seconds - static_cast<long>(seconds)) * 1e9)};
  nanosleep(&ts, nullptr);
  double sampled = -1;
  if (mode == "cpprof") {
    auto profile = cpprof::internal::CpuProfiler::Global().EndWindow(window);
    int64_t ns = 0;
    for (const auto& s : profile.samples) ns += s.values[1];
    sampled = static_cast<double>(ns) * 1e-9;
  }
  const double cpu1 = Seconds(CLOCK_PROCESS_CPUTIME_ID);
  const double wall1 = Seconds(CLOCK_MONOTONIC);
  stop = true;
  for (auto& w : workers) w.join();
  if (gperf_stop != nullptr) {
    gperf_stop();
    if (!CountGperftoolsSamples(gperf_file, &sampled)) fprintf(stderr, "cannot read %s\n", gperf_file.c_str());
    unlink(gperf_file.c_str());
  }
  const double cpu = cpu1 - cpu0;
  auto& c = cpprof::internal::GetSelfCounters();
  const uint64_t counted = c.cpu_signals.load() - c.cpu_handler_preempted.load();
  double handler_mean = counted ? static_cast<double>(c.cpu_handler_ns.load()) / counted : 0;
  printf("mode=%s hz=%d threads=%d ops_per_sec=%.1f cpu_seconds=%.3f sampled_cpu_seconds=%.3f "
         "sample_ratio=%.4f handler_ns_mean=%.0f handler_ns_median=%.0f\n",
         mode.c_str(), hz, threads, static_cast<double>(ops.load()) / (wall1 - wall0), cpu, sampled,
         sampled >= 0 ? sampled / cpu : 0.0, handler_mean, cpprof::internal::HandlerNanosQuantile(0.5));
  return 0;
}
