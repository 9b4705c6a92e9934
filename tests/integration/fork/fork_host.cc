// SPDX-License-Identifier: Apache-2.0
//
// A pre-forking server: the parent runs an endpoint and a busy thread
// (ParentBurn), then, when FILE_GO exists, forks two children as a
// pre-forking server would. Each child starts its own endpoint on another
// port (prints "CHILD PORT <port> PID <pid>"), burns CPU in ChildBurn until
// FILE_STOP exists, then returns from main: its own Server and the copy of
// the parent's are destroyed there. The parent waits for both children
// (10 s at most each) and prints "CHILDREN OK" when both exited with 0.
//
// With --env the parent's endpoint is the one CPPROF_ADDR started, and each
// child starts its own with StartFromEnvironment() after setting
// CPPROF_ADDR=127.0.0.1:0 (its port is in the library's "endpoint on" log
// line, with the child's pid); the child prints "CHILD PID <pid>".
//
//   fork_host --addr 127.0.0.1:0 FILE_GO FILE_STOP
//   CPPROF_ADDR=127.0.0.1:PORT fork_host --env FILE_GO FILE_STOP

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "cpprof/server.h"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<uint64_t> g_sink{0};

bool Exists(const char* path) { return access(path, F_OK) == 0; }

void SleepMs(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

__attribute__((noinline)) void ParentBurn() {
  uint64_t h = 1;
  while (!g_stop.load(std::memory_order_relaxed)) {
    for (int i = 0; i < 100000; ++i) h = h * 6364136223846793005ull + 1442695040888963407ull;
    g_sink.store(h, std::memory_order_relaxed);
  }
}

__attribute__((noinline)) void ChildBurn(const char* stop_file) {
  uint64_t h = 7;
  for (int n = 0;; ++n) {
    for (int i = 0; i < 100000; ++i) h = h * 2862933555777941757ull + 3037000493ull;
    g_sink.store(h, std::memory_order_relaxed);
    if (n % 64 == 0 && Exists(stop_file)) return;
  }
}

int RunEnvChild(const char* stop_file) {
  setenv("CPPROF_ADDR", "127.0.0.1:0", 1);
  cpprof::Status s = cpprof::StartFromEnvironment();
  if (!s.ok()) {
    fprintf(stderr, "CHILD %d cannot start its endpoint: %s\n", static_cast<int>(getpid()), s.message().c_str());
    return 3;
  }
  printf("CHILD PID %d\n", static_cast<int>(getpid()));
  fflush(stdout);
  ChildBurn(stop_file);
  return 0;
}

int RunChild(const char* stop_file) {
  cpprof::Options options;
  options.address = "127.0.0.1:0";
  cpprof::Server own(options);
  cpprof::Status s = own.Start();
  if (!s.ok()) {
    fprintf(stderr, "CHILD %d cannot start its endpoint: %s\n", static_cast<int>(getpid()), s.message().c_str());
    return 3;
  }
  printf("CHILD PORT %d PID %d\n", own.port(), static_cast<int>(getpid()));
  fflush(stdout);
  ChildBurn(stop_file);
  return 0;  // `own` and, in main, the parent's Server are destroyed
}

}  // namespace

int main(int argc, char** argv) {
  const bool env = argc == 4 && strcmp(argv[1], "--env") == 0;
  if (!env && (argc != 5 || strcmp(argv[1], "--addr") != 0)) {
    fprintf(stderr, "usage: %s --addr HOST:PORT FILE_GO FILE_STOP | --env FILE_GO FILE_STOP\n", argv[0]);
    return 2;
  }
  const char* go_file = argv[env ? 2 : 3];
  const char* stop_file = argv[env ? 3 : 4];
  cpprof::Options options;
  options.address = env ? "127.0.0.1:1" : argv[2];
  cpprof::Server server(options);  // not started with --env
  if (!env) {
    cpprof::Status s = server.Start();
    if (!s.ok()) {
      fprintf(stderr, "cannot start: %s\n", s.message().c_str());
      return 1;
    }
    printf("parent endpoint http://127.0.0.1:%d/debug/pprof/ PID %d\n", server.port(), static_cast<int>(getpid()));
    fflush(stdout);
  }
  std::thread burner(ParentBurn);
  while (!Exists(go_file)) SleepMs(20);
  pid_t children[2];
  for (pid_t& child : children) {
    child = fork();
    if (child == 0) {
      // A child never outlives a parent the test killed (it would burn CPU).
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int rc = env ? RunEnvChild(stop_file) : RunChild(stop_file);
      fflush(stdout);
      // Not exit(): the parent's `server` and `burner` are this frame's, and
      // returning runs `server`'s destructor in the child. The std::thread
      // names the parent's thread: detach would be wrong too, so end here
      // after the Server went through its destructor.
      server.~Server();
      _exit(rc);
    }
  }
  while (!Exists(stop_file)) SleepMs(20);
  bool ok = true;
  for (pid_t child : children) {
    int status = 0;
    bool done = false;
    for (int i = 0; i < 1000 && !done; ++i) {
      done = waitpid(child, &status, WNOHANG) == child;
      if (!done) SleepMs(10);
    }
    if (!done) {
      fprintf(stderr, "child %d did not exit (hung in a destructor?)\n", static_cast<int>(child));
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      ok = false;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "child %d ended with status %d\n", static_cast<int>(child), status);
      ok = false;
    }
  }
  g_stop = true;
  burner.join();
  if (ok) printf("CHILDREN OK\n");
  fflush(stdout);
  return ok ? 0 : 1;
}
