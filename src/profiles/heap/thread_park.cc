// SPDX-License-Identifier: Apache-2.0
//
// Not signal context: installing the handler, signalling, waiting and
// releasing, on the scanning thread. The handler is in
// thread_park_signal.cc.

#include "profiles/heap/thread_park.h"

#include "profiles/heap/thread_park_signal.h"

#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/clock.h"
#include "base/errno_saver.h"
#include "base/signal_handler.h"
#include "base/safe_load.h"

namespace cpprof {
namespace internal {
namespace {

int g_installed_signo = 0;

}  // namespace

bool ThreadParker::Install(int signo, std::string* error) {
  if (g_installed_signo == signo) return true;
  if (InstallSignalHandler(signo, HandleParkSignal, "CPPROF_LEAK_SIGNAL", error) != SignalInstall::kOk) return false;
  g_installed_signo = signo;
  return true;
}

bool ThreadParker::ParkAll(const std::vector<pid_t>& tids, int timeout_ms, std::string* error) {
  static std::atomic<int> next_cookie{0};
  signo_ = g_installed_signo;
  cookie_ = (next_cookie.fetch_add(1) % 0x3fffff + 1) << 8 | 0x6b;
  // Wait for handlers of an earlier round to leave before reusing the slots.
  for (int i = 0; i < 2000 && GetParkState().in_handler.load() != 0; ++i) usleep(500);
  GetParkState().parked.store(0, std::memory_order_relaxed);
  GetParkState().slots.store(0, std::memory_order_relaxed);
  GetParkState().release.store(0, std::memory_order_release);
  GetParkState().cookie.store(cookie_, std::memory_order_release);
  parked_ = true;
  int sent = 0;
  std::string missing;
  for (pid_t tid : tids) {
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    info.si_signo = signo_;
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    info.si_value.sival_int = cookie_;
    if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, signo_, &info) == 0) ++sent;
  }
  const int64_t deadline = MonotonicNanos() + int64_t{timeout_ms} * 1000000;
  for (;;) {
    if (GetParkState().parked.load(std::memory_order_acquire) >= sent) return true;
    if (MonotonicNanos() >= deadline) break;
    usleep(200);
  }
  // Release before building the message: a parked thread may hold the lock
  // of the malloc arena this thread allocates from.
  const int parked = GetParkState().parked.load();
  Release();
  *error = std::to_string(sent - parked) + " of " + std::to_string(sent) +
           " running threads did not stop within " + std::to_string(timeout_ms) +
           " ms (signal " + std::to_string(signo_) + " blocked?)";
  return false;
}

size_t ThreadParker::ParkedStackPointers(uintptr_t* out, size_t capacity) const {
  int n = GetParkState().parked.load(std::memory_order_acquire);
  if (n > kMaxParkedThreads) n = kMaxParkedThreads;
  size_t k = 0;
  for (int i = 0; i < n && k < capacity; ++i) out[k++] = GetParkState().sps[i];
  return k;
}

void ThreadParker::Release() {
  if (!parked_) return;
  parked_ = false;
  GetParkState().cookie.store(0, std::memory_order_release);
  GetParkState().release.store(cookie_, std::memory_order_release);
  ParkFutex(&GetParkState().release, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
}

}  // namespace internal
}  // namespace cpprof
