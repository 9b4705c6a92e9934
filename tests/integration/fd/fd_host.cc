// SPDX-License-Identifier: Apache-2.0
//
// Known answers for the descriptor route. One mode per run:
//   --mode leak     leaks descriptors at one site per kind, each in its own
//                   function: LeakOpen (open x5), LeakSocket (socket x4),
//                   LeakPipe (pipe x3: 6 descriptors), LeakFopen (fopen x3),
//                   LeakOpendir (opendir x2), LeakMkstemp (mkstemp x2),
//                   LeakPopen (popen x1: one pipe end); OpenAndClose opens
//                   and closes 50 files (none may remain). Prints
//                   "leaked" when done, then "closed" after it closes the
//                   descriptors of LeakFopen on SIGUSR1, and "late" after
//                   LeakLate made two eventfds on SIGUSR2.
//   --mode exhaust  lowers its RLIMIT_NOFILE soft limit to 256 and opens
//                   /dev/null from ExhaustOpen until open() fails with
//                   EMFILE. Past 85 % of the limit it waits (up to 60 s)
//                   for cpprof's "warn" alert before opening more, then
//                   prints "alert warn before emfile: yes|no" and, at the
//                   limit, "at limit N open errno=EMFILE". Keeps running.
//   --mode churn    (for the request test) sleeps.
// Prints "listening on 127.0.0.1:PORT" first.
//
//   fd_host --addr 127.0.0.1:0 --mode leak|exhaust|churn

#include <cpprof/cpprof.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<int> g_warn_alerts{0};
std::atomic<int> g_alerts{0};
volatile sig_atomic_t g_close_requested = 0;
std::vector<FILE*> g_files;
std::atomic<int> g_sink{0};

void OnAlert(const cpprof::FdAlert& alert) {
  g_alerts.fetch_add(1);
  if (alert.kind == "warn" || alert.kind == "critical") g_warn_alerts.fetch_add(1);
}

// Each leak site keeps its frame (the counter after the call: no tail call).
__attribute__((noinline)) void LeakOpen() {
  for (int i = 0; i < 5; ++i) g_sink += open("/dev/null", O_RDONLY) >= 0;
}
__attribute__((noinline)) void LeakSocket() {
  for (int i = 0; i < 4; ++i) g_sink += socket(AF_INET, SOCK_STREAM, 0) >= 0;
}
__attribute__((noinline)) void LeakPipe() {
  for (int i = 0; i < 3; ++i) {
    int p[2];
    g_sink += pipe(p) == 0;
  }
}
__attribute__((noinline)) void LeakFopen() {
  for (int i = 0; i < 3; ++i) {
    FILE* f = fopen("/dev/null", "r");
    if (f != nullptr) g_files.push_back(f);
  }
  g_sink += 1;
}
__attribute__((noinline)) void LeakOpendir() {
  for (int i = 0; i < 2; ++i) g_sink += opendir("/") != nullptr;
}
__attribute__((noinline)) void LeakMkstemp(const std::string& dir) {
  for (int i = 0; i < 2; ++i) {
    std::string t = dir + "/fdhost.XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back('\0');
    const int f = mkstemp(buf.data());
    if (f >= 0) unlink(buf.data());
    g_sink += f >= 0;
  }
}
__attribute__((noinline)) void LeakPopen() {
  g_sink += popen("exec cat >/dev/null", "w") != nullptr;
}
__attribute__((noinline)) void OpenAndClose() {
  for (int i = 0; i < 50; ++i) {
    const int f = open("/dev/null", O_RDONLY);
    if (f >= 0) close(f);
  }
  g_sink += 1;
}

__attribute__((noinline)) int ExhaustOpen() {
  const int f = open("/dev/null", O_RDONLY);
  g_sink += 1;
  return f;
}

// Open descriptors without needing one (Linux >= 6.2), else by listing.
int CountFds() {
  struct stat st;
  if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0) return static_cast<int>(st.st_size);
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n - 1;
}

__attribute__((noinline)) void LeakLate() {
  for (int i = 0; i < 2; ++i) g_sink += eventfd(0, 0) >= 0;
}

void OnUsr1(int) { g_close_requested = 1; }
volatile sig_atomic_t g_late_requested = 0;
void OnUsr2(int) { g_late_requested = 1; }

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:0", mode;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--addr") == 0) addr = argv[i + 1];
    else if (strcmp(argv[i], "--mode") == 0) mode = argv[i + 1];
  }
  cpprof::SetFdAlertCallback(OnAlert);
  cpprof::Options options;
  options.address = addr;
  cpprof::Server server(options);
  if (cpprof::Status s = server.Start(); !s.ok()) {
    fprintf(stderr, "cpprof: %s\n", s.message().c_str());
    return 1;
  }
  printf("listening on 127.0.0.1:%d\n", server.port());
  fflush(stdout);
  if (mode == "leak") {
    signal(SIGUSR1, OnUsr1);
    signal(SIGUSR2, OnUsr2);
    const char* tmp = getenv("TMPDIR");
    LeakOpen();
    LeakSocket();
    LeakPipe();
    LeakFopen();
    LeakOpendir();
    LeakMkstemp(tmp != nullptr ? tmp : "/tmp");
    LeakPopen();
    OpenAndClose();
    printf("leaked\n");
    fflush(stdout);
    while (!g_close_requested) usleep(10000);
    for (FILE* f : g_files) fclose(f);
    printf("closed\n");
    fflush(stdout);
    while (!g_late_requested) usleep(10000);
    LeakLate();
    printf("late\n");
    fflush(stdout);
    for (;;) pause();
  }
  if (mode == "exhaust") {
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = 256;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      perror("setrlimit");
      return 1;
    }
    bool warned_first = false;
    for (;;) {
      if (!warned_first && CountFds() * 100 >= 256 * 85) {
        // Wait for the watchdog's warning (it checks four times a second).
        for (int i = 0; i < 6000 && g_warn_alerts.load() == 0; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        warned_first = true;
        printf("alert warn before emfile: %s\n", g_warn_alerts.load() > 0 ? "yes" : "no");
        fflush(stdout);
      }
      if (ExhaustOpen() < 0) {
        const int err = errno;
        printf("at limit %d open errno=%s\n", CountFds(), err == EMFILE ? "EMFILE" : strerror(err));
        fflush(stdout);
        break;
      }
    }
    for (;;) pause();
  }
  if (mode == "churn") {
    for (;;) pause();
  }
  fprintf(stderr, "usage: %s --addr HOST:PORT --mode leak|exhaust|churn\n", argv[0]);
  return 2;
}
