// SPDX-License-Identifier: Apache-2.0
//
// Per-thread CPU-clock timers (see DESIGN.md "CPU sampling"). A timer for
// another thread of the process is created on that thread's CPU clock,
// ((~tid) << 3) | 6 (what pthread_getcpuclockid returns), with
// SIGEV_THREAD_ID so the kernel signals exactly that thread. Such timers fire
// at most once per kernel tick; the missed expirations arrive as si_overrun
// and are weighted in by the handler, so totals stay exact above CONFIG_HZ.
// A timer outlives its thread until timer_delete: rescans drop timers whose
// thread vanished from /proc/self/task, and timers that timer_gettime reports
// disarmed (a dead thread's CPU clock stops, so its interval timer reads 0).
// Thread names are kept for dead threads (bounded) so their samples stay
// labelled.

#include "profiles/cpu/cpu_timers.h"

#include "base/thread_list.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/raw_log.h"

namespace cpprof {
namespace internal {
namespace {

constexpr size_t kMaxRememberedNames = 65536;

clockid_t ThreadCpuClock(pid_t tid) {
  return static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6u);
}

}  // namespace

ThreadTimers::ThreadTimers(int signo, int64_t period_ns, int cookie)
    : signo_(signo), period_ns_(period_ns), cookie_(cookie) {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  rng_ = static_cast<uint64_t>(ts.tv_nsec) * 0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(getpid());
  if (rng_ == 0) rng_ = 1;
}

ThreadTimers::~ThreadTimers() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& t : timers_) timer_delete(t.second);
  timers_.clear();
}

void ThreadTimers::AddThread(pid_t tid) {
  std::lock_guard<std::mutex> lock(mu_);
  AddThreadLocked(tid);
}

void ThreadTimers::AddThreadLocked(pid_t tid) {
  if (timers_.count(tid) != 0) return;
  sigevent sev;
  memset(&sev, 0, sizeof(sev));
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = signo_;
  sev.sigev_value.sival_int = cookie_;
  sev._sigev_un._tid = tid;
  timer_t timer;
  if (timer_create(ThreadCpuClock(tid), &sev, &timer) != 0) {
    int err = errno;
    if (err != EINVAL && err != ESRCH) {  // EINVAL/ESRCH: the thread just exited
      ++create_errors_;
      last_error_ = std::string("timer_create(tid ") + std::to_string(tid) + "): " + strerror(err);
    }
    return;
  }
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  const int64_t first_ns = 1 + static_cast<int64_t>(rng_ % static_cast<uint64_t>(period_ns_));
  itimerspec its;
  its.it_interval.tv_sec = period_ns_ / 1000000000;
  its.it_interval.tv_nsec = period_ns_ % 1000000000;
  its.it_value.tv_sec = first_ns / 1000000000;
  its.it_value.tv_nsec = first_ns % 1000000000;
  if (timer_settime(timer, 0, &its, nullptr) != 0) {
    timer_delete(timer);
    return;
  }
  timers_.emplace(tid, timer);
  recent_.push_back(tid);
  if (names_.size() < kMaxRememberedNames || names_.count(tid) != 0) names_[tid] = ReadName(tid);
}

void ThreadTimers::RemoveThread(pid_t tid, const std::string& final_name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!final_name.empty() && (names_.size() < kMaxRememberedNames || names_.count(tid) != 0)) {
    names_[tid] = final_name;
  }
  auto it = timers_.find(tid);
  if (it == timers_.end()) return;
  timer_delete(it->second);
  timers_.erase(it);
}

int ThreadTimers::Rescan() {
  std::vector<pid_t> tids = ListTasks();
  std::lock_guard<std::mutex> lock(mu_);
  std::unordered_map<pid_t, bool> live;
  for (pid_t tid : tids) live[tid] = true;
  for (auto it = timers_.begin(); it != timers_.end();) {
    itimerspec cur;
    bool dead = live.count(it->first) == 0;
    if (!dead && timer_gettime(it->second, &cur) == 0 && cur.it_value.tv_sec == 0 &&
        cur.it_value.tv_nsec == 0) {
      dead = true;  // the thread died and its tid was reused; re-arm below
    }
    if (dead) {
      timer_delete(it->second);
      it = timers_.erase(it);
    } else {
      ++it;
    }
  }
  for (pid_t tid : previous_recent_) {
    if (live.count(tid) == 0) continue;
    std::string name = ReadName(tid);
    if (!name.empty()) names_[tid] = name;
  }
  previous_recent_ = std::move(recent_);
  recent_.clear();
  for (pid_t tid : tids) AddThreadLocked(tid);
  return static_cast<int>(tids.size());
}

std::string ThreadTimers::ReadName(pid_t tid) const { return ReadThreadName(tid); }

std::map<pid_t, std::string> ThreadTimers::ThreadNames(const std::vector<pid_t>& refresh) {
  std::lock_guard<std::mutex> lock(mu_);
  for (pid_t tid : refresh) {
    std::string name = ReadName(tid);  // threads often rename themselves after creation
    if (!name.empty()) names_[tid] = name;
  }
  return names_;
}

size_t ThreadTimers::armed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timers_.size();
}

std::string ThreadTimers::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

}  // namespace internal
}  // namespace cpprof
