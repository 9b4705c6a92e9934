// SPDX-License-Identifier: Apache-2.0
//
// Collection side of the thread dump (see thread_dump.h); the profile and
// text forms are in thread_text.cc.

#include "profiles/threads/thread_dump.h"

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "base/clock.h"
#include "base/safe_load.h"
#include "base/signal_handler.h"
#include "pprof/legacy_text.h"
#include "profiles/threads/thread_signal.h"
#include "unwind/blocked_stack.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {
namespace threads {
namespace {

constexpr int kMaxDepth = 128;
constexpr int kTries = 3;
constexpr int kWaitFrames = 6;  // innermost frames searched for the library call that waits
constexpr int64_t kSignalWaitNanos = 200 * 1000 * 1000;

bool SameSyscall(const ThreadSyscall& a, const ThreadSyscall& b) {
  return a.blocked == b.blocked && a.number == b.number && a.sp == b.sp && a.pc == b.pc &&
         memcmp(a.args, b.args, sizeof(a.args)) == 0;
}

bool SameSchedstat(const ThreadSchedstat& a, const ThreadSchedstat& b) {
  return a.run_ns == b.run_ns && a.slices == b.slices;
}

// Reads one thread's stack (see the header for the rules).
void ReadStack(ThreadInfo* t) {
  bool changed = false;
  for (int attempt = 0; attempt < kTries; ++attempt) {
    ThreadSyscall before = ReadThreadSyscall(t->tid);
    if (before.error != 0) {
      t->syscall = before;
      t->origin = before.error == ENOENT || before.error == ESRCH ? StackOrigin::kGone : StackOrigin::kUnreadable;
      return;
    }
    if (!before.blocked) {
      t->syscall = before;
      sched_yield();
      continue;
    }
    ThreadSchedstat s1, s2;
    const bool have_s1 = ReadThreadSchedstat(t->tid, &s1);
    uintptr_t pcs[kMaxDepth];
    BlockedStack stack = UnwindBlockedThread(before.pc, before.sp, pcs, kMaxDepth);
    ThreadSyscall after = ReadThreadSyscall(t->tid);
    const bool have_s2 = ReadThreadSchedstat(t->tid, &s2);
    t->syscall = before;
    if (SameSyscall(before, after) && have_s1 == have_s2 && (!have_s1 || SameSchedstat(s1, s2))) {
      t->origin = StackOrigin::kBlocked;
      t->pcs.assign(pcs, pcs + stack.depth);
      t->complete = stack.complete;
      t->fp_guessed = stack.fp_guessed;
      return;
    }
    changed = true;
  }
  t->origin = changed ? StackOrigin::kChanged : StackOrigin::kRunning;
}

const char* SyscallWait(long nr) {
  switch (nr) {
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
#ifdef SYS_poll
    case SYS_poll:
#endif
    case SYS_ppoll:
#ifdef SYS_select
    case SYS_select:
#endif
    case SYS_pselect6:
      return "IO wait";
    case SYS_read: case SYS_readv: case SYS_pread64: case SYS_recvfrom: case SYS_recvmsg:
#ifdef SYS_accept
    case SYS_accept:
#endif
    case SYS_accept4: case SYS_connect: case SYS_write: case SYS_writev: case SYS_sendto: case SYS_sendmsg:
      return "IO wait";
    case SYS_nanosleep: case SYS_clock_nanosleep:
      return "sleep";
    case SYS_futex:
      return "futex wait";
    case SYS_wait4: case SYS_waitid:
      return "child wait";
    case SYS_rt_sigtimedwait: case SYS_rt_sigsuspend:
#ifdef SYS_pause
    case SYS_pause:
#endif
      return "signal wait";
    case -1:
      return "blocked";
    default:
      return "syscall";
  }
}

const char* SyscallName(long nr) {
  switch (nr) {
#ifdef SYS_epoll_wait
    case SYS_epoll_wait: return "epoll_wait";
#endif
    case SYS_epoll_pwait: return "epoll_pwait";
#ifdef SYS_poll
    case SYS_poll: return "poll";
#endif
    case SYS_ppoll: return "ppoll";
#ifdef SYS_select
    case SYS_select: return "select";
#endif
    case SYS_pselect6: return "pselect6";
    case SYS_read: return "read";
    case SYS_readv: return "readv";
    case SYS_pread64: return "pread64";
    case SYS_write: return "write";
    case SYS_writev: return "writev";
    case SYS_recvfrom: return "recvfrom";
    case SYS_recvmsg: return "recvmsg";
    case SYS_sendto: return "sendto";
    case SYS_sendmsg: return "sendmsg";
#ifdef SYS_accept
    case SYS_accept: return "accept";
#endif
    case SYS_accept4: return "accept4";
    case SYS_connect: return "connect";
    case SYS_nanosleep: return "nanosleep";
    case SYS_clock_nanosleep: return "clock_nanosleep";
    case SYS_futex: return "futex";
    case SYS_wait4: return "wait4";
    case SYS_waitid: return "waitid";
    case SYS_rt_sigtimedwait: return "rt_sigtimedwait";
    case SYS_rt_sigsuspend: return "rt_sigsuspend";
#ifdef SYS_pause
    case SYS_pause: return "pause";
#endif
    default: return nullptr;
  }
}

// The library call a futex waiter is in, from the innermost frames' names.
enum class FutexUse { kOther, kMutex, kCond, kSemaphore, kRwlock, kJoin };

FutexUse ClassifyFutex(const ThreadInfo& t, LegacyStackPrinter* symbols) {
  const size_t n = std::min<size_t>(t.pcs.size(), kWaitFrames);
  for (size_t i = 0; i < n; ++i) {
    const SymbolizedAddress& sym = symbols->Resolve(t.pcs[i] - 1);
    for (const SymbolFrame& f : sym.frames) {
      const std::string& name = f.function;
      if (name.find("pthread_cond_") != std::string::npos) return FutexUse::kCond;
      if (name.find("pthread_mutex_lock") != std::string::npos ||
          name.find("pthread_mutex_timedlock") != std::string::npos ||
          name.find("pthread_mutex_clocklock") != std::string::npos ||
          name.find("pthread_mutex_cond_lock") != std::string::npos) {
        return FutexUse::kMutex;
      }
      if (name.find("sem_wait") != std::string::npos || name.find("sem_timedwait") != std::string::npos ||
          name.find("sem_clockwait") != std::string::npos) {
        return FutexUse::kSemaphore;
      }
      if (name.find("pthread_rwlock_") != std::string::npos) return FutexUse::kRwlock;
      if (name.find("pthread_join") != std::string::npos || name.find("pthread_clockjoin") != std::string::npos ||
          name.find("pthread_timedjoin") != std::string::npos) {
        return FutexUse::kJoin;
      }
    }
  }
  return FutexUse::kOther;
}

void Annotate(ThreadInfo* t, LegacyStackPrinter* symbols, const std::vector<pid_t>& tids) {
  switch (t->origin) {
    case StackOrigin::kSelf: t->wait = "running (this dump)"; return;
    case StackOrigin::kRunning: t->wait = "running"; return;
    case StackOrigin::kSignalled: t->wait = "running"; return;
    case StackOrigin::kChanged: t->wait = "running (ran while read)"; return;
    case StackOrigin::kGone: t->wait = "exited"; return;
    case StackOrigin::kUnreadable: t->wait = "unknown"; return;
    case StackOrigin::kBlocked: break;
  }
  t->wait = SyscallWait(t->syscall.number);
  if (t->syscall.number != SYS_futex) return;
  switch (ClassifyFutex(*t, symbols)) {
    case FutexUse::kCond: t->wait = "cond wait"; return;
    case FutexUse::kSemaphore: t->wait = "semaphore wait"; return;
    case FutexUse::kRwlock: t->wait = "rwlock wait"; return;
    case FutexUse::kJoin: t->wait = "join wait"; return;
    case FutexUse::kOther: return;
    case FutexUse::kMutex: break;
  }
  t->wait = "mutex wait";
  // glibc waits on the mutex's lock word (__data.__lock, offset 0); its
  // owner's tid is __data.__owner at offset 8.
  const uintptr_t lock = t->syscall.args[0];
  uintptr_t word = 0;
  if (lock == 0 || (lock & 3) != 0 || !SafeLoad(lock + 8, &word)) return;
  t->mutex = lock;
  const pid_t owner = static_cast<pid_t>(static_cast<uint32_t>(word) & 0x3fffffff);
  if (owner != 0 && owner != t->tid && std::binary_search(tids.begin(), tids.end(), owner)) {
    t->mutex_owner = owner;
  }
}

// Cycles in the "waits for a mutex held by" graph (every node has at most
// one outgoing edge).
std::vector<std::vector<pid_t>> FindDeadlocks(const std::vector<ThreadInfo>& threads) {
  std::map<pid_t, pid_t> next;
  for (const ThreadInfo& t : threads) {
    if (t.mutex_owner != 0) next[t.tid] = t.mutex_owner;
  }
  std::vector<std::vector<pid_t>> cycles;
  std::map<pid_t, int> color;  // 0 new, 1 on the current path, 2 done
  for (const auto& kv : next) {
    if (color[kv.first] != 0) continue;
    std::vector<pid_t> path;
    pid_t at = kv.first;
    while (true) {
      auto it = next.find(at);
      if (color[at] == 1) {  // closed a cycle: from `at` to the end of the path
        auto start = std::find(path.begin(), path.end(), at);
        std::vector<pid_t> cycle(start, path.end());
        std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
        cycles.push_back(cycle);
        break;
      }
      if (color[at] == 2 || it == next.end()) break;
      color[at] = 1;
      path.push_back(at);
      at = it->second;
    }
    for (pid_t p : path) color[p] = 2;
  }
  return cycles;
}

// --- The opt-in signal (thread_signal.h) ---------------------------------

std::mutex g_signal_mu;  // one request at a time
int g_installed_signo = 0;  // guarded by g_signal_mu

bool InstallStackHandler(int signo, std::string* error) {
  if (g_installed_signo == signo) return true;
  if (InstallSignalHandler(signo, HandleStackSignal, "CPPROF_THREAD_SIGNAL", error) != SignalInstall::kOk) {
    return false;
  }
  g_installed_signo = signo;
  return true;
}

// Asks running thread t for its stack; g_signal_mu is held.
void SignalStack(ThreadInfo* t, int signo) {
  if (ReadThreadBlockedSignals(t->tid) & (uint64_t{1} << (signo - 1))) {
    t->note = "it blocks signal " + std::to_string(signo);
    return;
  }
  // Blocked meanwhile: read it passively instead, never signal it.
  ReadStack(t);
  if (t->origin != StackOrigin::kRunning) return;
  static int next_cookie = 0;
  StackRequest& r = GetStackRequest();
  const int cookie = ++next_cookie == 0 ? ++next_cookie : next_cookie;
  r.depth = 0;
  r.target.store(t->tid, std::memory_order_relaxed);
  r.state.store(kPending, std::memory_order_release);
  r.cookie.store(cookie, std::memory_order_release);
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  si.si_signo = signo;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_int = cookie;
  if (syscall(SYS_rt_tgsigqueueinfo, getpid(), t->tid, signo, &si) != 0) {
    t->note = std::string("the signal could not be sent: ") + strerror(errno);
    r.cookie.store(0, std::memory_order_release);
    r.state.store(kIdle, std::memory_order_release);
    return;
  }
  const int64_t deadline = MonotonicNanos() + kSignalWaitNanos;
  while (r.state.load(std::memory_order_acquire) != kDone && MonotonicNanos() < deadline) {
    timespec ts{0, 200 * 1000};
    nanosleep(&ts, nullptr);
  }
  int expected = kPending;
  if (!r.state.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) {
    // The handler took the request: it finishes its bounded walk.
    while (r.state.load(std::memory_order_acquire) != kDone) sched_yield();
    t->pcs.assign(r.pcs, r.pcs + r.depth);
    t->origin = StackOrigin::kSignalled;
    t->complete = true;
  } else {
    t->note = "it did not answer the signal within 200 ms";
  }
  // A late delivery finds no cookie and returns at once.
  r.cookie.store(0, std::memory_order_release);
  r.state.store(kIdle, std::memory_order_release);
}

__attribute__((noinline)) void ReadOwnStack(ThreadInfo* t) {
  uintptr_t pcs[kMaxDepth];
  const int depth = CaptureCurrentStack(pcs, kMaxDepth);
  t->pcs.assign(pcs, pcs + depth);
  t->origin = StackOrigin::kSelf;
  t->complete = true;
}

}  // namespace

ThreadDump TakeThreadDump(const DumpOptions& options) {
  ThreadDump dump;
  const int64_t start_ns = MonotonicNanos();
  dump.unix_ns = RealtimeNanos();
  std::vector<pid_t> tids = ListTasks();
  std::sort(tids.begin(), tids.end());
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  if (tids.empty()) {
    dump.proc_problem = std::string("/proc/self/task cannot be listed: ") + strerror(errno);
    tids.push_back(self);
  }
  // The dumping thread is running: its last-ran stamp is about now.
  const int64_t now_sched_ns = ReadThreadLastRanNs(self);
  dump.threads.resize(tids.size());
  int unreadable_errno = 0;
  for (size_t i = 0; i < tids.size(); ++i) {
    ThreadInfo& t = dump.threads[i];
    t.tid = tids[i];
    if (t.tid == self) {
      ReadOwnStack(&t);
    } else {
      ReadStack(&t);
      if (t.origin == StackOrigin::kUnreadable) unreadable_errno = t.syscall.error;
    }
    t.name = ReadThreadName(t.tid);
    t.state = ReadThreadState(t.tid);
    if (t.origin == StackOrigin::kGone && t.state != 0) t.origin = StackOrigin::kUnreadable;
    t.wchan = t.origin == StackOrigin::kBlocked ? ReadThreadWchan(t.tid) : "";
    t.cpu_ns = ReadThreadCpuNanos(t.tid);
    if (t.origin == StackOrigin::kBlocked && now_sched_ns >= 0) {
      const int64_t last = ReadThreadLastRanNs(t.tid);
      if (last >= 0 && now_sched_ns >= last) t.blocked_ns = now_sched_ns - last;
    }
  }
  if (options.signal_running) {
    const int signo = options.signo != 0 ? options.signo : SIGRTMIN + 5;
    std::lock_guard<std::mutex> lock(g_signal_mu);
    std::string error;
    if (!InstallStackHandler(signo, &error)) {
      dump.signal_problem = "running threads were not signalled: " + error;
    } else {
      for (ThreadInfo& t : dump.threads) {
        if (t.origin == StackOrigin::kRunning || t.origin == StackOrigin::kChanged) SignalStack(&t, signo);
      }
    }
  }
  if (unreadable_errno != 0) {
    dump.proc_problem = std::string("/proc/self/task/TID/syscall cannot be read (") + strerror(unreadable_errno) +
                        (unreadable_errno == EACCES ? ": the process is not dumpable" : "") +
                        "): stacks of blocked threads are not shown";
  }
  LegacyStackPrinter symbols;
  for (ThreadInfo& t : dump.threads) Annotate(&t, &symbols, tids);
  dump.deadlocks = FindDeadlocks(dump.threads);
  std::vector<CreationRecord> creators = LookupCreators(tids);
  for (size_t i = 0; i < tids.size(); ++i) dump.threads[i].creator = std::move(creators[i]);
  // Drop the threads that exited during the dump.
  dump.threads.erase(std::remove_if(dump.threads.begin(), dump.threads.end(),
                                    [](const ThreadInfo& t) { return t.origin == StackOrigin::kGone; }),
                     dump.threads.end());
  dump.leaks = ThreadLeakMonitor::Global().Suspects();
  dump.took_ns = MonotonicNanos() - start_ns;
  return dump;
}

const char* SyscallNameOrNull(long nr) { return SyscallName(nr); }

uint64_t SignalSyscallsRestarted() { return GetStackRequest().restarted.load(std::memory_order_relaxed); }
uint64_t SignalEintrCaused() { return GetStackRequest().eintr_caused.load(std::memory_order_relaxed); }

}  // namespace threads
}  // namespace internal
}  // namespace cpprof
