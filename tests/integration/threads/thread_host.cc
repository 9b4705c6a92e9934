// SPDX-License-Identifier: Apache-2.0
//
// Known answers for the thread routes. One mode per run:
//   --mode deadlock  two threads take two mutexes in opposite orders and
//                    deadlock; prints "deadlock tids T1 T2" once both wait.
//   --mode leak      starts a thread every --every-ms (100) from one site,
//                    LeakyStarter(), and never joins them (they sleep),
//                    beside a fixed pool of four made by PoolStarter() and
//                    threads that come and go from ChurnStarter().
// Prints "listening on 127.0.0.1:PORT" and runs until killed.
//
//   --mode idle      threads that sleep; with --not-dumpable the process
//                    makes itself non-dumpable first (prctl), which hides
//                    /proc/self/task/TID/syscall from a non-root owner.
//
//   thread_host --addr 127.0.0.1:0 --mode leak [--leak-interval-ms 200] [--every-ms 100]

#include <cpprof/cpprof.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

pid_t Tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::mutex g_a, g_b;
std::atomic<int> g_holding{0};
std::atomic<pid_t> g_tid1{0}, g_tid2{0};

__attribute__((noinline)) void LockAThenB() {
  g_tid1 = Tid();
  std::lock_guard<std::mutex> a(g_a);
  g_holding.fetch_add(1);
  while (g_holding.load() < 2) SleepMs(1);
  std::lock_guard<std::mutex> b(g_b);  // never returns
}

__attribute__((noinline)) void LockBThenA() {
  g_tid2 = Tid();
  std::lock_guard<std::mutex> b(g_b);
  g_holding.fetch_add(1);
  while (g_holding.load() < 2) SleepMs(1);
  std::lock_guard<std::mutex> a(g_a);  // never returns
}

void* Sleeper(void*) {
  for (;;) pause();
  return nullptr;
}

std::atomic<long> g_started{0};

__attribute__((noinline)) void StartDetached(const char* name) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  if (pthread_create(&t, &attr, Sleeper, nullptr) == 0) pthread_setname_np(t, name);
  pthread_attr_destroy(&attr);
}

// The counter after the call keeps each starter's frame (no tail call).
__attribute__((noinline)) void LeakyStarter() {
  StartDetached("leaky");
  g_started.fetch_add(1);
}
__attribute__((noinline)) void PoolStarter() {
  StartDetached("pool");
  g_started.fetch_add(1);
}
__attribute__((noinline)) void ChurnStarter() {
  std::thread t([] { SleepMs(50); });
  pthread_setname_np(t.native_handle(), "churn");
  t.join();
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:0", mode;
  int leak_interval_ms = 200, every_ms = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--addr") == 0) addr = argv[i + 1];
    else if (strcmp(argv[i], "--mode") == 0) mode = argv[i + 1];
    else if (strcmp(argv[i], "--leak-interval-ms") == 0) leak_interval_ms = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--every-ms") == 0) every_ms = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--not-dumpable") == 0 && strcmp(argv[i + 1], "1") == 0) prctl(PR_SET_DUMPABLE, 0);
  }
  cpprof::Options options;
  options.address = addr;
  options.thread_leak_interval_ms = leak_interval_ms;
  cpprof::Server server(options);
  if (cpprof::Status s = server.Start(); !s.ok()) {
    fprintf(stderr, "cpprof: %s\n", s.message().c_str());
    return 1;
  }
  printf("listening on 127.0.0.1:%d\n", server.port());
  fflush(stdout);
  if (mode == "deadlock") {
    std::thread t1(LockAThenB), t2(LockBThenA);
    pthread_setname_np(t1.native_handle(), "lock-ab");
    pthread_setname_np(t2.native_handle(), "lock-ba");
    while (g_holding.load() < 2) SleepMs(1);
    printf("deadlock tids %d %d\n", static_cast<int>(g_tid1.load()), static_cast<int>(g_tid2.load()));
    fflush(stdout);
    t1.detach();
    t2.detach();
    for (;;) pause();
  }
  if (mode == "leak") {
    for (int i = 0; i < 4; ++i) PoolStarter();
    for (long n = 0;; ++n) {
      SleepMs(every_ms);
      LeakyStarter();
      if (n % 3 == 0) ChurnStarter();
    }
  }
  if (mode == "idle") {
    for (int i = 0; i < 3; ++i) PoolStarter();
    for (;;) pause();
  }
  fprintf(stderr, "usage: %s --addr HOST:PORT --mode deadlock|leak|idle [--not-dumpable 1]\n", argv[0]);
  return 2;
}
