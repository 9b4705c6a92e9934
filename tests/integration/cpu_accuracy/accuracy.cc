// SPDX-License-Identifier: Apache-2.0
//
// Accuracy probe for the CPU profile. Takes one profile in-process through
// cpprof::Handle() (so the window is known exactly: the profile's time_nanos
// and duration_nanos) while worker threads burn CPU, and writes
//   OUT/profile.pb.gz   the profile as served
//   OUT/measure.json    what the kernel says the CPU time was
// for accuracy_check.py to compare.
//
//   accuracy --mode split   --threads 2 --seconds 5 --hz 100  --out DIR
//   accuracy --mode threads --threads 6 --seconds 5 --hz 1000 --out DIR
//
// split:   each worker alternates acc::Heavy(3 * n) and acc::Light(n): the
//          same loop body with iteration counts 3:1, so CPU splits 75:25 by
//          construction.
// threads: every worker runs acc::Spin (use more threads than cores).
//
// measure.json holds a time series taken every 2 ms by a monitor thread
// for the whole Handle() call: wall clock (CLOCK_REALTIME, the clock of
// time_nanos), process CPU (CLOCK_PROCESS_CPUTIME_ID) and each worker's CPU
// (pthread_getcpuclockid). The checker interpolates it at the window's edges,
// so the time Handle() spends before opening and after closing the window
// (parsing, symbolizing, encoding) does not count.

#include <cpprof/cpprof.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace acc {

volatile uint64_t g_sink;

// The one loop body both split functions share, forced into each of them.
__attribute__((always_inline)) inline uint64_t Body(uint64_t iterations) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t i = 0; i < iterations; ++i) {
    h = (h ^ i) * 1099511628211ull;
    asm volatile("" : "+r"(h));  // keep the loop serial and unvectorized
  }
  return h;
}

// noipa: no inlining, cloning, constant propagation or identical-code
// folding, so each keeps its own symbol and sees its count at run time.
__attribute__((noipa)) uint64_t Heavy(uint64_t iterations) { return Body(iterations); }
__attribute__((noipa)) uint64_t Light(uint64_t iterations) { return Body(iterations); }
__attribute__((noipa)) uint64_t Spin(uint64_t iterations) { return Body(iterations); }

}  // namespace acc

namespace {

// Split-mode rounds: Heavy(3 * n) then Light(n), with n drawn afresh each
// round so that one Light call takes 5-15 ms of CPU. Rounds of random length
// keep the round from aliasing with the sampling period or the kernel tick
// (a fixed ~0.6 ms round against a 4 ms tick puts every sample at one of
// three phases of the round), and rounds longer than the period make the
// samples stratified, so the share converges faster than independent draws.
constexpr int64_t kLightTargetNs = 10 * 1000 * 1000;
// Threads mode: short calls; the work there is uniform.
constexpr uint64_t kUnit = 100000;

int64_t ClockNanos(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint64_t g_light_iterations = 0;  // set by the calibration in main()

struct Worker {
  std::thread thread;
  // split mode: this thread's CPU time inside Heavy and Light (the truth the
  // profile's shares are compared with; code placement can make the same
  // loop body run at slightly different speeds in two functions).
  std::atomic<int64_t> heavy_ns{0};
  std::atomic<int64_t> light_ns{0};
  std::atomic<pid_t> tid{0};
  clockid_t clock{};
  std::atomic<bool> ready{false};
};

struct Row {
  int64_t wall_ns;
  int64_t process_ns;
  std::vector<int64_t> thread_ns;
};

bool WriteFile(const std::string& path, const std::string& data) {
  FILE* f = fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  bool ok = fwrite(data.data(), 1, data.size(), f) == data.size();
  return fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "split";
  std::string out;
  int threads = 2;
  int seconds = 5;
  int hz = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--mode") {
      mode = value;
    } else if (flag == "--threads") {
      threads = atoi(value);
    } else if (flag == "--seconds") {
      seconds = atoi(value);
    } else if (flag == "--hz") {
      hz = atoi(value);
    } else if (flag == "--out") {
      out = value;
    } else {
      fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (out.empty() || threads < 1 || seconds < 1 || hz < 1 || (mode != "split" && mode != "threads")) {
    fprintf(stderr,
            "usage: %s --mode split|threads --threads N --seconds S --hz H --out DIR\n", argv[0]);
    return 2;
  }

  cpprof::Options options;
  options.cpu_max_hz = hz > options.cpu_max_hz ? hz : options.cpu_max_hz;
  if (cpprof::Status s = cpprof::Configure(options); !s.ok()) {
    fprintf(stderr, "Configure: %s\n", s.message().c_str());
    return 1;
  }

  if (mode == "split") {
    // Calibrate: iterations of the loop body per kLightTargetNs of CPU.
    const uint64_t probe = 2000000;
    const int64_t t0 = ClockNanos(CLOCK_THREAD_CPUTIME_ID);
    acc::g_sink = acc::Light(probe);
    const int64_t spent = ClockNanos(CLOCK_THREAD_CPUTIME_ID) - t0;
    g_light_iterations = spent > 0 ? probe * static_cast<uint64_t>(kLightTargetNs) / static_cast<uint64_t>(spent) : probe;
  }

  std::atomic<bool> stop{false};
  std::vector<Worker> workers(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    Worker& w = workers[static_cast<size_t>(i)];
    w.thread = std::thread([&w, &stop, i, &mode] {
      char name[16];
      snprintf(name, sizeof(name), "acc-worker-%d", i);
      pthread_setname_np(pthread_self(), name);
      pthread_getcpuclockid(pthread_self(), &w.clock);
      w.tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
      w.ready.store(true);
      const bool split = mode == "split";
      uint64_t rng = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(i + 1);
      while (!stop.load(std::memory_order_relaxed)) {
        if (split) {
          rng ^= rng << 13;
          rng ^= rng >> 7;
          rng ^= rng << 17;
          // n in [0.5, 1.5) x the calibrated 10 ms count.
          const uint64_t n = g_light_iterations / 2 + rng % (g_light_iterations + 1);
          const int64_t t0 = ClockNanos(CLOCK_THREAD_CPUTIME_ID);
          acc::g_sink = acc::Heavy(3 * n);
          const int64_t t1 = ClockNanos(CLOCK_THREAD_CPUTIME_ID);
          acc::g_sink = acc::Light(n);
          const int64_t t2 = ClockNanos(CLOCK_THREAD_CPUTIME_ID);
          w.heavy_ns.fetch_add(t1 - t0, std::memory_order_relaxed);
          w.light_ns.fetch_add(t2 - t1, std::memory_order_relaxed);
        } else {
          acc::g_sink = acc::Spin(kUnit);
        }
      }
    });
  }
  for (Worker& w : workers) {
    while (!w.ready.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  // Monitor: CPU clocks every 2 ms, bounded by the expected duration.
  std::atomic<bool> monitor_stop{false};
  std::vector<Row> rows;
  rows.reserve(static_cast<size_t>(seconds + 60) * 500);
  std::thread monitor([&] {
    pthread_setname_np(pthread_self(), "acc-monitor");
    while (rows.size() < rows.capacity()) {
      Row r;
      r.wall_ns = ClockNanos(CLOCK_REALTIME);
      r.process_ns = ClockNanos(CLOCK_PROCESS_CPUTIME_ID);
      for (Worker& w : workers) r.thread_ns.push_back(ClockNanos(w.clock));
      rows.push_back(std::move(r));
      if (monitor_stop.load()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });

  // Let every worker reach steady state before the window opens.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  cpprof::Request request;
  request.target = "/debug/pprof/profile?seconds=" + std::to_string(seconds) + "&hz=" + std::to_string(hz);
  cpprof::Response response = cpprof::Handle(request);
  monitor_stop.store(true);
  monitor.join();
  stop.store(true);
  for (Worker& w : workers) w.thread.join();

  if (response.status != 200) {
    fprintf(stderr, "profile request failed: %d %s\n", response.status, response.body.c_str());
    return 1;
  }
  if (!WriteFile(out + "/profile.pb.gz", response.body)) {
    fprintf(stderr, "cannot write %s/profile.pb.gz\n", out.c_str());
    return 1;
  }
  std::string json = "{\"mode\": \"" + mode + "\", \"hz\": " + std::to_string(hz) +
                     ", \"seconds\": " + std::to_string(seconds) +
                     ", \"cores\": " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + ", \"tids\": [";
  for (size_t i = 0; i < workers.size(); ++i) {
    json += (i ? ", " : "") + std::to_string(workers[i].tid.load());
  }
  int64_t heavy_ns = 0, light_ns = 0;
  for (Worker& w : workers) {
    heavy_ns += w.heavy_ns.load();
    light_ns += w.light_ns.load();
  }
  json += "], \"heavy_ns\": " + std::to_string(heavy_ns) + ", \"light_ns\": " + std::to_string(light_ns);
  json += ", \"rows\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    json += (i ? ",\n[" : "[") + std::to_string(rows[i].wall_ns) + ", " + std::to_string(rows[i].process_ns);
    for (int64_t t : rows[i].thread_ns) json += ", " + std::to_string(t);
    json += "]";
  }
  json += "]}\n";
  if (!WriteFile(out + "/measure.json", json)) {
    fprintf(stderr, "cannot write %s/measure.json\n", out.c_str());
    return 1;
  }
  return 0;
}
