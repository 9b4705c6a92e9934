// SPDX-License-Identifier: Apache-2.0
//
// A stand-in for a third-party server nobody can rebuild: it knows nothing
// of cpprof (no header, no link) and is profiled with
//   LD_PRELOAD=libcpprof_preload.so CPPROF_ADDR=127.0.0.1:PORT third_party
// Built with the distribution's default flags for -O2 (no forced frame
// pointers), so its frames must be unwound from CFI.
//
// Worker threads ("tp-worker-N") loop over
//   thirdparty::CrunchNumbers   3 units of arithmetic (the hottest function)
//   thirdparty::SortBatch       std::sort with a predicate function that is
//                               never inlined (thirdparty::ByDigest)
// and, before they start, thirdparty::OpenJournal opens two journal files
// (/dev/null) and a socket it keeps for its life (for the fd view).
//
//   third_party [--threads 2] [--seconds N]   (0 = until killed)

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace thirdparty {

volatile uint64_t g_sink;

struct Record {
  uint64_t key;
  uint64_t payload;
};

__attribute__((noinline)) uint64_t CrunchNumbers(uint64_t iterations) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t i = 0; i < iterations; ++i) {
    h = (h ^ i) * 1099511628211ull;
    g_sink = h;
  }
  return h;
}

// The sort predicate: a little arithmetic so it shows up in profiles.
__attribute__((noinline)) bool ByDigest(const Record& a, const Record& b) {
  uint64_t x = a.key, y = b.key;
  for (int i = 0; i < 8; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    y = y * 6364136223846793005ull + 1442695040888963407ull;
  }
  return x < y;
}

__attribute__((noinline)) uint64_t SortBatch(int count) {
  std::vector<Record> v(static_cast<size_t>(count));
  uint64_t seed = 42;
  for (auto& r : v) {
    seed = seed * 6364136223846793005ull + 1;
    r = {seed, seed >> 7};
  }
  std::sort(v.begin(), v.end(), ByDigest);
  return v[0].payload;
}

__attribute__((noinline)) void Worker(int index, const std::atomic<bool>& stop) {
  char name[16];
  snprintf(name, sizeof(name), "tp-worker-%d", index);
  pthread_setname_np(pthread_self(), name);
  while (!stop.load(std::memory_order_relaxed)) {
    g_sink = CrunchNumbers(6000000);
    g_sink = SortBatch(4000);
  }
}

// The count after the calls keeps this frame (no tail call).
__attribute__((noinline)) void OpenJournal(std::vector<FILE*>* files, int* sock) {
  for (int i = 0; i < 2; ++i) {
    if (FILE* f = fopen("/dev/null", "w")) files->push_back(f);
  }
  *sock = socket(AF_INET, SOCK_STREAM, 0);
  g_sink = g_sink + files->size();
}

}  // namespace thirdparty

int main(int argc, char** argv) {
  int threads = 2;
  int seconds = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--threads") == 0) {
      threads = atoi(argv[i + 1]);
    } else if (strcmp(argv[i], "--seconds") == 0) {
      seconds = atoi(argv[i + 1]);
    } else {
      fprintf(stderr, "usage: %s [--threads N] [--seconds N]\n", argv[0]);
      return 2;
    }
  }
  std::vector<FILE*> journal;
  int sock = -1;
  thirdparty::OpenJournal(&journal, &sock);
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) workers.emplace_back(thirdparty::Worker, i, std::cref(stop));
  if (seconds > 0) {
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
  } else {
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  stop.store(true);
  for (auto& t : workers) t.join();
  for (FILE* f : journal) fclose(f);
  if (sock >= 0) close(sock);
  return 0;
}
