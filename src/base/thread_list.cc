// SPDX-License-Identifier: Apache-2.0

#include "base/thread_list.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
  close(fd);
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
  if (ReadTaskFile(tid, "syscall", buf, sizeof(buf)) <= 0) return s;
  if (strncmp(buf, "running", 7) == 0) return s;
  char* p = buf;
  char* end = nullptr;
  long nr = strtol(p, &end, 10);
  if (end == p) return s;
  p = end;
  unsigned long long field[8];
  for (int i = 0; i < 8; ++i) {
    field[i] = strtoull(p, &end, 16);
    if (end == p) return s;
    p = end;
  }
  s.blocked = true;
  s.number = nr;
  s.sp = static_cast<uintptr_t>(field[6]);
  s.pc = static_cast<uintptr_t>(field[7]);
  return s;
}

}  // namespace internal
}  // namespace cpprof
