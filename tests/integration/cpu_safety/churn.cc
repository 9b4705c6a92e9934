// SPDX-License-Identifier: Apache-2.0
//
// A host that changes under the profiler: while CPU profiles run back to
// back (requested by the test script over HTTP), threads of this process
//   - dlopen() a small library, call into it, dlclose() it, in a loop;
//   - create short-lived threads that burn a little CPU, and join them;
//   - fork() children that burn a little CPU and _exit(0), and children
//     that exec /bin/true, and wait for them;
//   - burn CPU continuously (so samples keep coming).
// Every child must exit normally with status 0 (a child killed by the
// profiling signal would show up as signalled). The endpoint listens on
// port 0 and the port is printed ("listening on 127.0.0.1:PORT").
//
//   churn --addr 127.0.0.1:0 --seconds 60 --plugin /path/libchurn_plugin.so
//         [--stop-file PATH]
//
// The loops run until PATH exists (the test script creates it when its
// profiles are done) or --seconds pass, whichever is first.
// Exits 0 when everything behaved, 1 otherwise (each problem printed).

#include <cpprof/cpprof.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "host_common.h"

namespace {

using host_common::MonoNanos;

std::atomic<int> g_failures{0};
std::atomic<uint64_t> g_sink{0};  // keeps the work; atomic so TSan sees no race

void Problem(const std::string& what) {
  g_failures.fetch_add(1);
  printf("PROBLEM: %s\n", what.c_str());
  fflush(stdout);
}

__attribute__((noinline)) uint64_t Burn(uint64_t iterations) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t i = 0; i < iterations; ++i) {
    h = (h ^ i) * 1099511628211ull;
    asm volatile("" : "+r"(h));
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:0";
  std::string plugin;
  std::string stop_file;
  std::string go_file;
  int seconds = 60;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--addr") == 0) {
      addr = argv[i + 1];
    } else if (strcmp(argv[i], "--seconds") == 0) {
      seconds = atoi(argv[i + 1]);
    } else if (strcmp(argv[i], "--plugin") == 0) {
      plugin = argv[i + 1];
    } else if (strcmp(argv[i], "--stop-file") == 0) {
      stop_file = argv[i + 1];
    } else if (strcmp(argv[i], "--go-file") == 0) {
      go_file = argv[i + 1];
    } else {
      fprintf(stderr, "usage: %s --addr HOST:PORT --seconds N --plugin LIB [--stop-file PATH] [--go-file PATH]\n",
              argv[0]);
      return 2;
    }
  }
  if (plugin.empty()) {
    fprintf(stderr, "--plugin is required\n");
    return 2;
  }
  std::unique_ptr<cpprof::Server> server = host_common::StartEndpoint(addr);
  if (server == nullptr) return 1;

  const int64_t until = MonoNanos() + static_cast<int64_t>(seconds) * 1000000000;
  std::atomic<bool> stop{false};
  // Stops the loops at the deadline or when the stop file appears.
  std::thread watcher([&] {
    struct stat st;
    while (MonoNanos() < until && (stop_file.empty() || stat(stop_file.c_str(), &st) != 0)) usleep(50000);
    stop.store(true);
  });
  std::atomic<long> dl_rounds{0}, thread_rounds{0}, fork_rounds{0}, exec_rounds{0};
  std::vector<std::thread> loops;
  // With --go-file, the churn loops wait for that file (the busy loop runs
  // from the start): the test warms the symbolizer first, which in a
  // sanitizer build can take longer than the whole run when it has to share
  // two cores with four churning threads.
  auto wait_for_go = [&] {
    struct stat st;
    while (!go_file.empty() && !stop.load() && stat(go_file.c_str(), &st) != 0) usleep(20000);
  };

  loops.emplace_back([&] {
    pthread_setname_np(pthread_self(), "churn-dlopen");
    wait_for_go();
    while (!stop.load()) {
      void* h = dlopen(plugin.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (h == nullptr) {
        Problem(std::string("dlopen: ") + dlerror());
        return;
      }
      auto work = reinterpret_cast<uint64_t (*)(uint64_t)>(dlsym(h, "churn_plugin_work"));
      if (work == nullptr) {
        Problem("dlsym(churn_plugin_work) failed");
      } else {
        g_sink.store(work(200000), std::memory_order_relaxed);
      }
      if (dlclose(h) != 0) Problem(std::string("dlclose: ") + dlerror());
      dl_rounds.fetch_add(1);
    }
  });
  loops.emplace_back([&] {
    pthread_setname_np(pthread_self(), "churn-threads");
    wait_for_go();
    while (!stop.load()) {
      std::vector<std::thread> batch;
      for (int i = 0; i < 4; ++i) batch.emplace_back([] { g_sink.store(Burn(100000), std::memory_order_relaxed); });
      for (auto& t : batch) t.join();
      thread_rounds.fetch_add(1);
    }
  });
  loops.emplace_back([&] {
    pthread_setname_np(pthread_self(), "churn-fork");
    wait_for_go();
    int round = 0;
    while (!stop.load()) {
      const bool exec = (round++ % 2) == 1;
      pid_t pid = fork();
      if (pid < 0) {
        Problem(std::string("fork: ") + strerror(errno));
        usleep(100000);
        continue;
      }
      if (pid == 0) {
        if (exec) {
          execl("/bin/true", "true", static_cast<char*>(nullptr));
          _exit(127);
        }
        g_sink.store(Burn(3000000), std::memory_order_relaxed);  // a few ms of CPU in the child
        _exit(0);
      }
      int status = 0;
      pid_t r;
      do {
        r = waitpid(pid, &status, 0);
      } while (r < 0 && errno == EINTR);
      if (r != pid) {
        Problem(std::string("waitpid: ") + strerror(errno));
        usleep(100000);
        continue;
      }
      if (WIFSIGNALED(status)) {
        Problem(std::string(exec ? "exec" : "fork") + " child killed by signal " +
                std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")");
      } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        Problem(std::string(exec ? "exec" : "fork") + " child exited with status " +
                std::to_string(WEXITSTATUS(status)));
      }
      (exec ? exec_rounds : fork_rounds).fetch_add(1);
    }
  });
  loops.emplace_back([&] {
    pthread_setname_np(pthread_self(), "churn-busy");
    while (!stop.load()) g_sink.store(Burn(1000000), std::memory_order_relaxed);
  });
  for (auto& t : loops) t.join();
  watcher.join();
  server->Stop();

  printf("dlopen/dlclose rounds: %ld\nthread batches: %ld\nforked children: %ld\nexec children: %ld\n",
         dl_rounds.load(), thread_rounds.load(), fork_rounds.load(), exec_rounds.load());
  if (dl_rounds.load() == 0 || thread_rounds.load() == 0 || fork_rounds.load() == 0 || exec_rounds.load() == 0) {
    Problem("a churn loop made no progress");
  }
  printf("%d problems\n", g_failures.load());
  return g_failures.load() == 0 ? 0 : 1;
}
