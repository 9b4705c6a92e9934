// SPDX-License-Identifier: Apache-2.0
//
// What a leak scan costs the host, by heap size: the pause (running threads
// parked, from the first signal to the release right after the clone) and
// the child's scan time, next to a plain fork() of the same process (the
// floor any fork-snapshot design pays). The heap is live objects of 64 B to
// 4 KiB (log-uniform, mean ~730 B) sampled at the default 512 KiB, plus two
// busy threads that must be parked. One scan per size (confirm_ms = 0).
// Also the sweep every heap profile, leak scan and growth tick starts with
// (SweepLostSamples: it reads every live sample's header), per size.
//
// Not a pass/fail test. Usage: leak_scan_bench [max_gib]   (default 2)

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "cpprof/options.h"
#include "profiles/heap/heap_sampler.h"
#include "profiles/heap/leak_scan.h"

namespace {

double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double ForkMs() {
  const double t0 = NowMs();
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  const double t1 = NowMs();  // the parent's pause: fork() returning
  int status;
  waitpid(pid, &status, 0);
  return t1 - t0;
}

std::atomic<uint64_t> g_sink{0};

}  // namespace

int main(int argc, char** argv) {
  const double max_gib = argc > 1 ? atof(argv[1]) : 2.0;
  using cpprof::internal::heap::CurrentMode;
  using cpprof::internal::heap::Mode;
  void* probe = malloc(1);
  free(probe);
  if (CurrentMode() != Mode::kGlibc) {
    fprintf(stderr, "heap sampling is not cpprof's here (sanitizer build?)\n");
    return 1;
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int i = 0; i < 2; ++i) {
    busy.emplace_back([&stop] {
      uint64_t x = 1;
      while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005ull + 1;
      g_sink += x;
    });
  }
  std::vector<void*> live;
  std::mt19937_64 rng(11);
  double bytes = 0;
  printf("%-8s %10s %10s %12s %12s %10s %12s %10s\n", "heap", "objects", "samples", "pause ms", "scan ms", "fork ms",
         "pause/fork", "sweep ms");
  for (double target = 0.25; target <= max_gib + 1e-9; target *= 2) {
    while (bytes < target * (1 << 30)) {
      size_t n = static_cast<size_t>(std::exp2(6.0 + 6.0 * static_cast<double>(rng() % 10000) / 10000.0));
      char* p = static_cast<char*>(malloc(n));
      p[0] = 1;
      live.push_back(p);
      bytes += static_cast<double>(n);
    }
    cpprof::internal::heap::LeakScanOptions options;
    options.confirm_ms = 0;
    options.min_age_seconds = 0;
    cpprof::internal::heap::LeakScanResult r;
    cpprof::Status s = cpprof::internal::heap::ScanForLeaks(options, &r);
    if (!s.ok()) {
      fprintf(stderr, "scan failed: %s\n", s.message().c_str());
      return 1;
    }
    const double fork_ms = ForkMs();
    const double sweep_start = NowMs();
    cpprof::internal::heap::SweepLostSamples();
    const double sweep_ms = NowMs() - sweep_start;
    printf("%5.2f GiB %10zu %10lld %12.1f %12.1f %10.1f %12.2f %10.2f\n", target, live.size(),
           static_cast<long long>(r.live_samples), r.pause_ms, r.scan_ms, fork_ms, r.pause_ms / fork_ms, sweep_ms);
    printf("RESULT leak_scan heap_gib=%.2f pause_ms=%.2f scan_ms=%.1f fork_ms=%.2f roots_mib=%.0f sweep_ms=%.2f\n",
           target, r.pause_ms, r.scan_ms, fork_ms, static_cast<double>(r.roots_bytes) / (1 << 20), sweep_ms);
    fflush(stdout);
  }
  stop.store(true);
  for (auto& t : busy) t.join();
  for (void* p : live) free(p);
  return 0;
}
