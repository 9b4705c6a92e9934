// SPDX-License-Identifier: Apache-2.0

#include "base/thread_list.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace cpprof {
namespace internal {
namespace {

// Reads a small /proc/self/task/TID/<file> into buf (NUL-terminated).
ssize_t ReadTaskFile(pid_t tid, const char* file, char* buf, size_t size) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%d/%s", static_cast<int>(tid), file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  do {
    n = read(fd, buf, size - 1);
  } while (n < 0 && errno == EINTR);
  const int saved = errno;
  close(fd);
  errno = saved;
  if (n < 0) return -1;
  buf[n] = '\0';
  return n;
}

}  // namespace

std::vector<pid_t> ListTasks() {
  std::vector<pid_t> tids;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return tids;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    tids.push_back(static_cast<pid_t>(atoi(e->d_name)));
  }
  closedir(dir);
  return tids;
}

std::string ReadThreadName(pid_t tid) {
  char buf[64];
  ssize_t n = ReadTaskFile(tid, "comm", buf, sizeof(buf));
  if (n <= 0) return "";
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0')) --n;
  return std::string(buf, static_cast<size_t>(n));
}

char ReadThreadState(pid_t tid) {
  char buf[512];
  if (ReadTaskFile(tid, "stat", buf, sizeof(buf)) <= 0) return 0;
  // "TID (comm) S ...": the comm may hold spaces and parentheses; the state
  // follows the last ')'.
  const char* close_paren = strrchr(buf, ')');
  if (close_paren == nullptr || close_paren[1] != ' ') return 0;
  return close_paren[2];
}

uint64_t ReadThreadBlockedSignals(pid_t tid) {
  char buf[2048];
  if (ReadTaskFile(tid, "status", buf, sizeof(buf)) <= 0) return 0;
  const char* p = strstr(buf, "\nSigBlk:");
  return p == nullptr ? 0 : strtoull(p + 8, nullptr, 16);
}

ThreadSyscall ReadThreadSyscall(pid_t tid) {
  ThreadSyscall s;
  char buf[256];
  errno = 0;
  if (ReadTaskFile(tid, "syscall", buf, sizeof(buf)) <= 0) {
    s.error = errno != 0 ? errno : ESRCH;
    return s;
  }
  if (strncmp(buf, "running", 7) == 0) return s;
  char* p = buf;
  char* end = nullptr;
  long nr = strtol(p, &end, 10);
  if (end == p) return s;
  p = end;
  // "NR a1 .. a6 SP PC", or "-1 SP PC" outside a system call.
  const int fields = nr == -1 ? 2 : 8;
  unsigned long long field[8];
  for (int i = 0; i < fields; ++i) {
    field[i] = strtoull(p, &end, 16);
    if (end == p) return s;
    p = end;
  }
  s.blocked = true;
  s.number = nr;
  for (int i = 0; i + 2 < fields; ++i) s.args[i] = static_cast<uintptr_t>(field[i]);
  s.sp = static_cast<uintptr_t>(field[fields - 2]);
  s.pc = static_cast<uintptr_t>(field[fields - 1]);
  return s;
}

bool ReadThreadSchedstat(pid_t tid, ThreadSchedstat* out) {
  char buf[128];
  if (ReadTaskFile(tid, "schedstat", buf, sizeof(buf)) <= 0) return false;
  unsigned long long run = 0, wait = 0, slices = 0;
  if (sscanf(buf, "%llu %llu %llu", &run, &wait, &slices) != 3) return false;
  out->run_ns = run;
  out->wait_ns = wait;
  out->slices = slices;
  return true;
}

std::string ReadThreadWchan(pid_t tid) {
  char buf[128];
  ssize_t n = ReadTaskFile(tid, "wchan", buf, sizeof(buf));
  if (n <= 0 || strcmp(buf, "0") == 0) return "";
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0')) --n;
  return std::string(buf, static_cast<size_t>(n));
}

int64_t ReadThreadLastRanNs(pid_t tid) {
  char buf[4096];
  if (ReadTaskFile(tid, "sched", buf, sizeof(buf)) <= 0) return -1;
  // "se.exec_start                                :      12345678.901234" (ms)
  const char* p = strstr(buf, "se.exec_start");
  if (p == nullptr || (p = strchr(p, ':')) == nullptr) return -1;
  char* end = nullptr;
  const long long ms = strtoll(p + 1, &end, 10);
  if (end == p + 1) return -1;
  long long frac_ns = 0;
  if (*end == '.') {
    const char* f = end + 1;
    long long scale = 100000;  // six decimals of a millisecond are nanoseconds
    for (; *f >= '0' && *f <= '9' && scale > 0; ++f, scale /= 10) frac_ns += (*f - '0') * scale;
  }
  return ms * 1000000 + frac_ns;
}

int64_t ReadThreadCpuNanos(pid_t tid) {
  // MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED), as pthread_getcpuclockid
  // makes it, for any thread of this process.
  const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
  timespec ts;
  if (clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace internal
}  // namespace cpprof
