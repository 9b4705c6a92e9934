// SPDX-License-Identifier: Apache-2.0
//
// A host whose threads sit in blocking calls while it is CPU-profiled at a
// high rate. Each waiting thread repeats: burn ~2 ms of CPU (so its CPU
// timer is armed and part-way to its next expiry), then block once in
//   epoll_wait(timeout) poll(timeout) select(timeout) nanosleep
//   sem_timedwait(timeout) futex(FUTEX_WAIT, timeout)
//   recv() with SO_RCVTIMEO
//   read() on a pipe that a helper writes after a delay
//   accept() on a socket a helper connects to after a delay
//   a condition-variable wait that a helper notifies after a delay
// and checks that the call returned exactly once, with the expected result,
// never with EINTR, and never early: timed calls not before their timeout,
// woken calls only after the helper acted. Two more threads burn CPU all
// the time, so the profiler is busy. The endpoint listens on port 0 and
// the port is printed ("listening on 127.0.0.1:PORT"); the test script
// requests the profile over HTTP.
//
//   host_safety --addr 127.0.0.1:0 --seconds 33 [--block-ms 700] [--stop-file PATH]
//               [--until-stop]
//
// The waiting threads loop for --seconds; the busy threads and the endpoint
// then stay up until PATH exists (the script creates it once it has the
// profile; at most 120 s more), so a slow build cannot cut a response short.
// With --until-stop the waiting threads also end as soon as PATH exists
// (for scripts that make as many requests as they need, then stop).
// Exits 0 when every call behaved; otherwise prints each violation and
// exits 1. `--inject-signals` is the harness's negative control: it sends
// SIGUSR2 (handler installed with SA_RESTART) to the waiting threads every
// 100 ms, which must produce violations (EINTR, early returns).

#include <cpprof/cpprof.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <linux/futex.h>
#include <semaphore.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "host_common.h"

namespace {

using host_common::MonoNanos;

std::atomic<int> g_failures{0};
// Waiting threads' tids, for --inject-signals.
std::mutex g_waiters_mu;
std::vector<pid_t> g_waiters;

void RegisterWaiter() {
  std::lock_guard<std::mutex> lock(g_waiters_mu);
  g_waiters.push_back(static_cast<pid_t>(syscall(SYS_gettid)));
}

void OnInjectedSignal(int) {}
std::mutex g_print_mu;
std::atomic<uint64_t> g_sink{0};  // keeps the work; atomic so TSan sees no race

int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void Failure(const char* what, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void Failure(const char* what, const char* fmt, ...) {
  g_failures.fetch_add(1);
  std::lock_guard<std::mutex> lock(g_print_mu);
  fprintf(stdout, "VIOLATION %s: ", what);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

__attribute__((noinline)) void BurnCpu(int64_t nanos) {
  const int64_t end = ThreadCpuNanos() + nanos;
  uint64_t h = 1469598103934665603ull;
  while (ThreadCpuNanos() < end) {
    for (int i = 0; i < 2000; ++i) h = (h ^ static_cast<uint64_t>(i)) * 1099511628211ull;
    g_sink.store(h, std::memory_order_relaxed);
  }
}

void SleepMs(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

struct Counters {
  std::atomic<int> calls{0};
};

// Checks a timed call: `rc` and `err` as returned, `want_rc` expected,
// `elapsed_ns` must be at least the timeout.
void CheckTimed(const char* what, long rc, int err, long want_rc, int64_t elapsed_ns, int timeout_ms) {
  if (rc != want_rc) {
    Failure(what, "returned %ld (errno %d %s), want %ld after %.1f ms", rc, err, strerror(err), want_rc,
            elapsed_ns / 1e6);
  } else if (elapsed_ns < static_cast<int64_t>(timeout_ms) * 1000000) {
    Failure(what, "returned after %.3f ms, before its %d ms timeout", elapsed_ns / 1e6, timeout_ms);
  }
}

// When the waiting threads stop (CLOCK_MONOTONIC ns); --until-stop may
// bring it forward.
std::atomic<int64_t> g_until{0};
bool Waiting() { return MonoNanos() < g_until.load(std::memory_order_relaxed); }

void RunTimedLoop(const char* name, const char* what, int block_ms, Counters* c,
                  long (*call)(int timeout_ms, int* err), long want_rc) {
  pthread_setname_np(pthread_self(), name);
  RegisterWaiter();
  while (Waiting()) {
    BurnCpu(2000000);
    int err = 0;
    const int64_t t0 = MonoNanos();
    errno = 0;
    long rc = call(block_ms, &err);
    const int64_t elapsed = MonoNanos() - t0;
    c->calls.fetch_add(1);
    CheckTimed(what, rc, err, want_rc, elapsed, block_ms);
  }
}

// A helper that acts after a delay, and the one-shot event it performs.
// The waiter checks that it was woken only after `acted` was set.
struct DelayedEvent {
  std::atomic<bool> acted{false};
};

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:0";
  int seconds = 33;
  int block_ms = 700;
  bool inject = false;
  bool until_stop = false;
  std::string stop_file;
  for (int i = 1; i < argc; i += 2) {
    if (strcmp(argv[i], "--inject-signals") == 0) {
      inject = true;
      --i;
    } else if (strcmp(argv[i], "--until-stop") == 0) {
      until_stop = true;
      --i;
    } else if (i + 1 >= argc) {
      fprintf(stderr, "missing value for %s\n", argv[i]);
      return 2;
    } else if (strcmp(argv[i], "--addr") == 0) {
      addr = argv[i + 1];
    } else if (strcmp(argv[i], "--seconds") == 0) {
      seconds = atoi(argv[i + 1]);
    } else if (strcmp(argv[i], "--stop-file") == 0) {
      stop_file = argv[i + 1];
    } else if (strcmp(argv[i], "--block-ms") == 0) {
      block_ms = atoi(argv[i + 1]);
    } else {
      fprintf(stderr, "usage: %s --addr HOST:PORT --seconds N [--block-ms MS] [--stop-file PATH] [--until-stop] "
              "[--inject-signals]\n",
              argv[0]);
      return 2;
    }
  }
  std::unique_ptr<cpprof::Server> server = host_common::StartEndpoint(addr);
  if (server == nullptr) return 1;

  const int64_t until = MonoNanos() + static_cast<int64_t>(seconds) * 1000000000;
  g_until.store(until);
  std::atomic<bool> stop_busy{false};
  std::vector<std::thread> threads;
  Counters epoll_c, poll_c, select_c, sleep_c, sem_c, futex_c, recv_c, read_c, accept_c, cv_c;

  // Busy threads keep the profiler's signal flowing.
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([i, &stop_busy] {
      char name[16];
      snprintf(name, sizeof(name), "busy-%d", i);
      pthread_setname_np(pthread_self(), name);
      while (!stop_busy.load(std::memory_order_relaxed)) BurnCpu(5000000);
    });
  }

  // Timed waits.
  threads.emplace_back([&] {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    static int s_ep;
    s_ep = ep;
    RunTimedLoop("wait-epoll", "epoll_wait", block_ms, &epoll_c,
                 [](int ms, int* err) -> long {
                   epoll_event ev;
                   long rc = epoll_wait(s_ep, &ev, 1, ms);
                   *err = errno;
                   return rc;
                 },
                 0);
    close(ep);
  });
  threads.emplace_back([&] {
    RunTimedLoop("wait-poll", "poll", block_ms, &poll_c,
                 [](int ms, int* err) -> long {
                   int p[2];
                   if (pipe2(p, O_CLOEXEC) != 0) return -2;
                   pollfd pfd{p[0], POLLIN, 0};
                   long rc = poll(&pfd, 1, ms);
                   *err = errno;
                   close(p[0]);
                   close(p[1]);
                   return rc;
                 },
                 0);
  });
  threads.emplace_back([&] {
    RunTimedLoop("wait-select", "select", block_ms, &select_c,
                 [](int ms, int* err) -> long {
                   int p[2];
                   if (pipe2(p, O_CLOEXEC) != 0) return -2;
                   fd_set rd;
                   FD_ZERO(&rd);
                   FD_SET(p[0], &rd);
                   timeval tv{ms / 1000, (ms % 1000) * 1000};
                   long rc = select(p[0] + 1, &rd, nullptr, nullptr, &tv);
                   *err = errno;
                   close(p[0]);
                   close(p[1]);
                   return rc;
                 },
                 0);
  });
  threads.emplace_back([&] {
    RunTimedLoop("wait-nanosleep", "nanosleep", block_ms, &sleep_c,
                 [](int ms, int* err) -> long {
                   timespec ts{ms / 1000, (ms % 1000) * 1000000L};
                   long rc = nanosleep(&ts, nullptr);  // no retry: EINTR must not happen
                   *err = errno;
                   return rc;
                 },
                 0);
  });
  threads.emplace_back([&] {
    RunTimedLoop("wait-recv", "recv(SO_RCVTIMEO)", block_ms, &recv_c,
                 [](int ms, int* err) -> long {
                   int sv[2];
                   if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -2;
                   timeval tv{ms / 1000, (ms % 1000) * 1000};
                   setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
                   char b;
                   long rc = recv(sv[0], &b, 1, 0);
                   *err = errno;
                   close(sv[0]);
                   close(sv[1]);
                   // A timeout is -1/EAGAIN; anything else (EINTR) is a violation.
                   return rc == -1 && (*err == EAGAIN || *err == EWOULDBLOCK) ? 0 : (rc == 0 ? -3 : rc);
                 },
                 0);
  });

  threads.emplace_back([&] {
    RunTimedLoop("wait-sem", "sem_timedwait", block_ms, &sem_c,
                 [](int ms, int* err) -> long {
                   sem_t sem;
                   sem_init(&sem, 0, 0);
                   timespec ts;
                   clock_gettime(CLOCK_REALTIME, &ts);
                   ts.tv_sec += ms / 1000;
                   ts.tv_nsec += (ms % 1000) * 1000000L;
                   if (ts.tv_nsec >= 1000000000L) {
                     ts.tv_sec += 1;
                     ts.tv_nsec -= 1000000000L;
                   }
                   long rc = sem_timedwait(&sem, &ts);
                   *err = errno;
                   sem_destroy(&sem);
                   // A timeout is -1/ETIMEDOUT; EINTR is a violation.
                   return rc == -1 && *err == ETIMEDOUT ? 0 : (rc == 0 ? -3 : rc);
                 },
                 0);
  });
  threads.emplace_back([&] {
    RunTimedLoop("wait-futex", "futex(FUTEX_WAIT, timeout)", block_ms, &futex_c,
                 [](int ms, int* err) -> long {
                   static thread_local int word = 0;
                   timespec ts{ms / 1000, (ms % 1000) * 1000000L};
                   long rc = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, nullptr, 0);
                   *err = errno;
                   return rc == -1 && *err == ETIMEDOUT ? 0 : (rc == 0 ? -3 : rc);
                 },
                 0);
  });

  // Waits woken by another thread after a delay.
  threads.emplace_back([&] {
    pthread_setname_np(pthread_self(), "wait-read");
    RegisterWaiter();
    while (Waiting()) {
      int p[2];
      if (pipe2(p, O_CLOEXEC) != 0) {
        Failure("read", "pipe2: %s", strerror(errno));
        break;
      }
      DelayedEvent ev;
      std::thread writer([&] {
        SleepMs(block_ms);
        ev.acted.store(true);
        char c = 'x';
        if (write(p[1], &c, 1) != 1) Failure("read", "helper write failed: %s", strerror(errno));
      });
      BurnCpu(2000000);
      char c = 0;
      ssize_t n = read(p[0], &c, 1);
      int err = errno;
      read_c.calls.fetch_add(1);
      if (n != 1 || c != 'x') {
        Failure("read", "returned %zd (errno %d %s), want 1 byte", n, err, strerror(err));
      } else if (!ev.acted.load()) {
        Failure("read", "returned before the helper wrote");
      }
      writer.join();
      close(p[0]);
      close(p[1]);
    }
  });
  threads.emplace_back([&] {
    pthread_setname_np(pthread_self(), "wait-accept");
    RegisterWaiter();
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (ls < 0 || bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(ls, 4) != 0 ||
        getsockname(ls, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      Failure("accept", "listen socket: %s", strerror(errno));
      return;
    }
    while (Waiting()) {
      DelayedEvent ev;
      std::thread connector([&] {
        SleepMs(block_ms);
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ev.acted.store(true);
        if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
          Failure("accept", "helper connect failed: %s", strerror(errno));
        }
        if (c >= 0) close(c);
      });
      BurnCpu(2000000);
      int fd = accept(ls, nullptr, nullptr);
      int err = errno;
      accept_c.calls.fetch_add(1);
      if (fd < 0) {
        Failure("accept", "returned %d (errno %d %s)", fd, err, strerror(err));
      } else {
        if (!ev.acted.load()) Failure("accept", "returned before the helper connected");
        close(fd);
      }
      connector.join();
    }
    close(ls);
  });
  threads.emplace_back([&] {
    pthread_setname_np(pthread_self(), "wait-condvar");
    RegisterWaiter();
    while (Waiting()) {
      std::mutex mu;
      std::condition_variable cv;
      bool notified = false;
      std::thread notifier([&] {
        SleepMs(block_ms);
        std::lock_guard<std::mutex> lock(mu);
        notified = true;
        cv.notify_one();
      });
      BurnCpu(2000000);
      {
        std::unique_lock<std::mutex> lock(mu);
        if (!notified) {
          cv.wait(lock);  // one wait, no predicate loop: a spurious wake-up is a violation
          if (!notified) Failure("condition variable", "woke up without a notification");
        }
        cv_c.calls.fetch_add(1);
      }
      notifier.join();
    }
  });

  std::thread injector;
  if (inject) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = OnInjectedSignal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, nullptr);
    injector = std::thread([] {
      while (Waiting()) {
        SleepMs(100);
        std::lock_guard<std::mutex> lock(g_waiters_mu);
        for (pid_t tid : g_waiters) syscall(SYS_tgkill, getpid(), tid, SIGUSR2);
      }
    });
  }

  if (until_stop && !stop_file.empty()) {
    struct stat st;
    while (Waiting() && stat(stop_file.c_str(), &st) != 0) SleepMs(50);
    g_until.store(std::min(g_until.load(), MonoNanos()));
  }
  // Wait for the waiters (they end after g_until), then the busy threads.
  for (size_t i = 2; i < threads.size(); ++i) threads[i].join();
  if (!stop_file.empty()) {
    struct stat st;
    const int64_t limit = MonoNanos() + 120 * 1000000000LL;
    while (stat(stop_file.c_str(), &st) != 0 && MonoNanos() < limit) SleepMs(50);
  }
  stop_busy.store(true);
  threads[0].join();
  threads[1].join();
  if (injector.joinable()) injector.join();
  server->Stop();

  struct {
    const char* name;
    Counters* c;
  } table[] = {{"epoll_wait", &epoll_c}, {"poll", &poll_c},   {"select", &select_c},
               {"nanosleep", &sleep_c},  {"sem_timedwait", &sem_c}, {"futex", &futex_c},
               {"recv", &recv_c},        {"read", &read_c},
               {"accept", &accept_c},    {"condvar", &cv_c}};
  for (const auto& row : table) {
    printf("%-10s %d calls\n", row.name, row.c->calls.load());
    if (row.c->calls.load() < 2) Failure(row.name, "only %d calls completed", row.c->calls.load());
  }
  printf("%d violations\n", g_failures.load());
  return g_failures.load() == 0 ? 0 : 1;
}
