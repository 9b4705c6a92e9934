// SPDX-License-Identifier: Apache-2.0
//
// Cost of cpprof's descriptor hooks (results in docs/benchmarks.md). One
// run interleaves, in alternating blocks, three ways to make and close a
// descriptor, 12 frames below main (so a recorded stack has a realistic
// depth):
//   no hook     glibc's open/socket/close called directly (the next
//               definitions after cpprof's, from dlsym(RTLD_NEXT))
//   hooked idle through cpprof's hooks with recording off (forward and
//               count only: what a process pays with CPPROF_FD_TRACKING=0)
//   recording   through the hooks with creation stacks recorded (the
//               default once the endpoint runs)
//   backtrace() the peer: glibc's open/socket plus glibc backtrace() of the
//               creating stack, what LD_PRELOAD descriptor-leak finders do
//               (no table: the stack walk alone)
// for open("/dev/null")+close and socket(AF_INET, SOCK_STREAM)+close, and
// reports min and median ns per pair (thread CPU time) and the ns added.
//
//   fd_bench [blocks]   (default 15)

#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "profiles/fd/fd_records.h"
#include "unwind/unwind_service.h"

namespace {

using OpenFn = int (*)(const char*, int, ...);
using SocketFn = int (*)(int, int, int);
using CloseFn = int (*)(int);

OpenFn g_real_open;
SocketFn g_real_socket;
CloseFn g_real_close;

int64_t CpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

constexpr int kPairs = 20000;
constexpr int kDepth = 12;

enum class Op { kOpen, kSocket };
enum class Mode { kDirect, kIdle, kRecording, kBacktrace };

void* g_frames[48];

__attribute__((noinline)) double Pairs(Op op, bool direct, bool walk) {
  const int64_t t0 = CpuNs();
  for (int i = 0; i < kPairs; ++i) {
    int f;
    if (op == Op::kOpen) {
      f = direct ? g_real_open("/dev/null", O_RDONLY | O_CLOEXEC) : open("/dev/null", O_RDONLY | O_CLOEXEC);
    } else {
      f = direct ? g_real_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)
                 : socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    }
    if (walk) backtrace(g_frames, 48);
    if (f < 0) {
      perror("fd_bench");
      exit(1);
    }
    if (direct) {
      g_real_close(f);
    } else {
      close(f);
    }
  }
  return static_cast<double>(CpuNs() - t0) / kPairs;
}

// Runs Pairs `depth` frames further down.
__attribute__((noinline)) double Deep(int depth, Op op, bool direct, bool walk) {
  if (depth == 0) return Pairs(op, direct, walk);
  const double r = Deep(depth - 1, op, direct, walk);
  asm volatile("" ::: "memory");  // no tail call: every frame stays
  return r;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int blocks = argc > 1 ? atoi(argv[1]) : 15;
  g_real_open = reinterpret_cast<OpenFn>(dlsym(RTLD_NEXT, "open"));
  g_real_socket = reinterpret_cast<SocketFn>(dlsym(RTLD_NEXT, "socket"));
  g_real_close = reinterpret_cast<CloseFn>(dlsym(RTLD_NEXT, "close"));
  if (g_real_open == nullptr || g_real_socket == nullptr || g_real_close == nullptr) {
    fprintf(stderr, "fd_bench: dlsym failed\n");
    return 1;
  }
  cpprof::internal::StartUnwindRefresher();
  cpprof::internal::fd::StartFdTracking();
  const char* op_names[] = {"open+close", "socket+close"};
  const char* mode_names[] = {"no hook", "hooked idle", "recording", "backtrace()"};
  backtrace(g_frames, 48);  // loads libgcc_s outside the timed blocks
  printf("fd_bench: %d blocks of %d pairs each, %d frames deep; ns per pair (thread CPU time)\n", blocks, kPairs,
         kDepth);
  for (Op op : {Op::kOpen, Op::kSocket}) {
    std::vector<double> results[4];
    for (int b = 0; b < blocks; ++b) {
      for (Mode m : {Mode::kDirect, Mode::kIdle, Mode::kRecording, Mode::kBacktrace}) {
        cpprof::internal::fd::SetFdRecording(m == Mode::kRecording);
        const bool direct = m == Mode::kDirect || m == Mode::kBacktrace;
        results[static_cast<int>(m)].push_back(Deep(kDepth, op, direct, m == Mode::kBacktrace));
      }
    }
    const double base_min = *std::min_element(results[0].begin(), results[0].end());
    const double base_med = Median(results[0]);
    printf("\n%s\n%-12s %10s %10s %12s %8s\n", op_names[static_cast<int>(op)], "variant", "min", "median",
           "added(med)", "ratio");
    for (int m = 0; m < 4; ++m) {
      const double mn = *std::min_element(results[m].begin(), results[m].end());
      const double med = Median(results[m]);
      printf("%-12s %10.0f %10.0f %12.0f %8.3f\n", mode_names[m], mn, med, med - base_med, med / base_med);
      (void)base_min;
    }
  }
  return 0;
}
