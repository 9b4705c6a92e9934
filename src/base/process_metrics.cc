// SPDX-License-Identifier: Apache-2.0

#include "base/process_metrics.h"

#include "base/private_fd_table.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace cpprof {
namespace internal {
namespace {

// Reads a small /proc file into buf (NUL-terminated); the length, or -1.
ssize_t ReadSmallFile(const char* path, char* buf, size_t cap) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (len + 1 < cap) {
    const ssize_t r = read(fd, buf + len, cap - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += static_cast<size_t>(r);
  }
  close(fd);
  buf[len] = '\0';
  return static_cast<ssize_t>(len);
}

// Boot time in unix seconds (/proc/stat "btime"), or -1.
double ReadBootTimeSeconds() {
  char buf[16384];
  if (ReadSmallFile("/proc/stat", buf, sizeof(buf)) <= 0) return -1;
  const char* p = strstr(buf, "\nbtime ");
  return p == nullptr ? -1 : strtod(p + 7, nullptr);
}

double BootTimeSeconds() {
  static const double boot = ReadBootTimeSeconds();  // constant for the life of the system
  return boot;
}

}  // namespace

int64_t CountOpenFds() {
  // Linux >= 6.2 reports the number of open descriptors as the directory's
  // size: no descriptor needed, a few microseconds at any count.
  struct stat st;
  if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0) return static_cast<int64_t>(st.st_size);
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int64_t n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  // The listing holds the directory's own descriptor, unless this thread's
  // table is private (then /proc/self/fd is the host's table, without it).
  return ThreadFdTableIsPrivate() ? n : n - 1;
}

std::vector<ProcessMetric> ReadProcessMetrics() {
  std::vector<ProcessMetric> out;
  out.reserve(8);
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  char buf[1024];
  if (ReadSmallFile("/proc/self/stat", buf, sizeof(buf)) > 0 && ticks > 0) {
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    const char* p = strrchr(buf, ')');
    if (p != nullptr) {
      // Fields 3.. (state is 3): split on spaces.
      const char* fields[64] = {};
      int n = 0;
      for (const char* q = p + 2; *q != '\0' && n < 64;) {
        fields[n++] = q;
        while (*q != ' ' && *q != '\0') ++q;
        while (*q == ' ') ++q;
      }
      // Index i here is field i + 3 of proc(5): utime 14, stime 15,
      // num_threads 20, starttime 22, vsize 23, rss 24.
      if (n > 21) {
        const double utime = strtod(fields[11], nullptr), stime = strtod(fields[12], nullptr);
        out.push_back({"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", true,
                       (utime + stime) / ticks});
        out.push_back({"process_threads", "Number of OS threads in the process.", false, strtod(fields[17], nullptr)});
        out.push_back({"process_virtual_memory_bytes", "Virtual memory size in bytes.", false,
                       strtod(fields[20], nullptr)});
        out.push_back({"process_resident_memory_bytes", "Resident memory size in bytes.", false,
                       strtod(fields[21], nullptr) * page});
        const double boot = BootTimeSeconds();
        if (boot >= 0) {
          out.push_back({"process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                         false, boot + strtod(fields[19], nullptr) / ticks});
        }
      }
    }
  }
  const int fds = CountOpenFds();
  if (fds >= 0) out.push_back({"process_open_fds", "Number of open file descriptors.", false, static_cast<double>(fds)});
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    out.push_back({"process_max_fds", "Maximum number of open file descriptors.", false,
                   lim.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(lim.rlim_cur)});
  }
  if (getrlimit(RLIMIT_AS, &lim) == 0) {
    out.push_back({"process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", false,
                   lim.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(lim.rlim_cur)});
  }
  return out;
}

}  // namespace internal
}  // namespace cpprof
