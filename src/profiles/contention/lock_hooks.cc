// SPDX-License-Identifier: Apache-2.0
//
// Hook context: this file defines the process's pthread mutex, rwlock and
// condition-variable wait functions (exported from libcpprof.so and the
// preload module, or from the executable when the static library is linked
// in), so std::mutex, timed_mutex, recursive_mutex, shared_mutex,
// shared_timed_mutex and condition_variable(_any) are seen. They run on every
// thread, inside the host's critical sections, possibly before constructors
// and from signal handlers that (wrongly) lock. Everything here is
// async-signal-safe: no allocation, no locks other than the waiter table's
// bounded spin flags (a per-thread guard keeps a handler on the same thread
// out of them), initial-exec TLS only, errno untouched on the paths that
// return the real function's result.
//
// Fast paths: lock peeks the lock word and forwards when the mutex is free
// (or profiling is off); unlock forwards unless the lock word says waiters
// may be queued and the mutex profile is on. Only a held mutex is timed.
//
// Holder-side attribution (mutex profile, Go >= 1.22): a waiter adds itself
// (count, Σ start) to a small table keyed by the mutex's address; an
// unlocker that may have waiters charges count·now − Σ start to its own
// stack and restarts the waiters' clocks at now, so every nanosecond any
// waiter spent is charged once, to the critical sections it waited behind.
//
// ThreadSanitizer builds leave these functions to the sanitizer: the
// interposers are not compiled (the profiles stay empty).

#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "base/clock.h"
#include "cpprof/cpprof.h"
#include "base/self_stats.h"
#include "profiles/contention/contention.h"
#include "profiles/contention/lock_forwarding.h"
#include "stacks/stack_table.h"
#include "unwind/unwinder.h"

#define CPPROF_LOCK_HOOK_SECTION __attribute__((section("cpprof_lock_hooks"), noinline))

CPPROF_DECLARE_CODE_SECTION(cpprof_lock_hooks)

namespace cpprof {
namespace internal {
namespace contention {

std::atomic<uint32_t> g_enabled{0};
std::atomic<int64_t> g_mutex_fraction{0};
std::atomic<int64_t> g_block_rate{0};
std::atomic<StackTable*> g_tables[2] = {};

namespace {

Counters g_counters;

CPPROF_SIGNAL_TLS int t_in_hook;
CPPROF_SIGNAL_TLS pid_t t_tid;
CPPROF_SIGNAL_TLS uint64_t t_rng;

CPPROF_SIGNAL_SAFE pid_t MyTid() {
  if (t_tid == 0) t_tid = static_cast<pid_t>(syscall(SYS_gettid));
  return t_tid;
}

CPPROF_SIGNAL_SAFE uint64_t NextRandom() {
  if (t_rng == 0) {
    t_rng = (static_cast<uint64_t>(MonotonicNanos()) * 0x9e3779b97f4a7c15ull) ^
            (static_cast<uint64_t>(MyTid()) << 32) ^ 0x5851f42d4c957f2dull;
    if (t_rng == 0) t_rng = 1;
  }
  t_rng ^= t_rng >> 12;
  t_rng ^= t_rng << 25;
  t_rng ^= t_rng >> 27;
  return t_rng * 0x2545f4914f6cdd1dull;
}

// ---------------------------------------------------------------------------
// glibc's mutex layout (sysdeps/nptl/bits/struct_mutex.h): __lock is 0 when
// free; 1 held, >1 held with possible waiters for the normal kinds; owner
// TID | FUTEX_WAITERS for robust and priority-inheritance mutexes; ceiling
// << 19 | state for priority-protect ones.
constexpr int kKindRobust = 16;
constexpr int kKindPrioInherit = 32;
constexpr int kKindPrioProtect = 64;
constexpr unsigned kFutexWaiters = 0x80000000u;
constexpr unsigned kPrioProtectStateMask = (1u << 19) - 1;

inline unsigned LockWord(const pthread_mutex_t* m) {
  return static_cast<unsigned>(__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED));
}

inline bool MutexFree(const pthread_mutex_t* m) {
  const unsigned lock = LockWord(m);
  if (__builtin_expect(lock == 0, 1)) return true;
  const int kind = __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED);
  return (kind & kKindPrioProtect) != 0 && (lock & kPrioProtectStateMask) == 0;
}

inline bool MutexMayHaveWaiters(const pthread_mutex_t* m) {
  const unsigned lock = LockWord(m);
  if (__builtin_expect(lock <= 1, 1)) return false;
  const int kind = __atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED);
  if ((kind & (kKindRobust | kKindPrioInherit)) != 0) return (lock & kFutexWaiters) != 0;
  if ((kind & kKindPrioProtect) != 0) return (lock & kPrioProtectStateMask) > 1;
  return true;
}

// glibc's rwlock (nptl/pthread_rwlock_common.c): __readers holds the phase
// and write-locked bits and the reader count above them.
constexpr unsigned kRwWrPhase = 1;
constexpr unsigned kRwWrLocked = 2;
constexpr unsigned kRwReaderShift = 3;

inline unsigned RwReaders(const pthread_rwlock_t* rw) {
  return __atomic_load_n(&rw->__data.__readers, __ATOMIC_RELAXED);
}
inline bool RwFreeForReader(const pthread_rwlock_t* rw) {
  return (RwReaders(rw) & (kRwWrPhase | kRwWrLocked)) == 0;
}
inline bool RwFreeForWriter(const pthread_rwlock_t* rw) {
  const unsigned r = RwReaders(rw);
  return (r >> kRwReaderShift) == 0 && (r & kRwWrLocked) == 0;
}

// ---------------------------------------------------------------------------
// Waiters per mutex: an open-addressed table of spin-guarded slots. A slot
// whose waiter count is 0 may be taken over by another mutex. A waiter that
// finds no slot in its probe window is counted and only misses the mutex
// profile (its own wait still reaches the block profile).
struct alignas(32) WaitSlot {
  std::atomic<uintptr_t> key;  // mutex address; 0 = never used
  std::atomic<int> busy;
  int32_t waiters;
  int64_t sum_start;  // Σ start of the waiters present, each at least reset_at
  int64_t reset_at;   // when the last unlock charged them
};
constexpr size_t kWaitSlots = 4096;
constexpr int kProbe = 8;
WaitSlot g_wait[kWaitSlots];

inline size_t SlotIndex(const void* m, int i) {
  uint64_t h = reinterpret_cast<uintptr_t>(m) * 0x9e3779b97f4a7c15ull;
  return (static_cast<size_t>(h >> 40) + static_cast<size_t>(i)) & (kWaitSlots - 1);
}

inline void SlotLock(WaitSlot& s) {
  while (s.busy.exchange(1, std::memory_order_acquire) != 0) {
    while (s.busy.load(std::memory_order_relaxed) != 0) __builtin_ia32_pause();
  }
}
inline void SlotUnlock(WaitSlot& s) { s.busy.store(0, std::memory_order_release); }

CPPROF_LOCK_HOOK_SECTION WaitSlot* AddWaiter(const pthread_mutex_t* m, int64_t start) {
  const uintptr_t key = reinterpret_cast<uintptr_t>(m);
  for (int i = 0; i < kProbe; ++i) {
    WaitSlot& s = g_wait[SlotIndex(m, i)];
    SlotLock(s);
    if (s.key.load(std::memory_order_relaxed) == key || s.waiters == 0) {
      if (s.key.load(std::memory_order_relaxed) != key || s.waiters == 0) {
        s.key.store(key, std::memory_order_relaxed);
        s.waiters = 0;
        s.sum_start = 0;
        s.reset_at = 0;
      }
      s.waiters += 1;
      s.sum_start += start;
      SlotUnlock(s);
      return &s;
    }
    SlotUnlock(s);
  }
  g_counters.untracked_waits.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

CPPROF_LOCK_HOOK_SECTION void RemoveWaiter(WaitSlot* s, int64_t start) {
  SlotLock(*s);
  s->waiters -= 1;
  s->sum_start -= start > s->reset_at ? start : s->reset_at;
  SlotUnlock(*s);
}

// The delay the mutex's waiters accumulated since they started or since the
// previous charge; restarts their clocks.
CPPROF_LOCK_HOOK_SECTION int64_t ChargeWaiters(const pthread_mutex_t* m, int64_t now) {
  const uintptr_t key = reinterpret_cast<uintptr_t>(m);
  int64_t delay = 0;
  for (int i = 0; i < kProbe; ++i) {
    WaitSlot& s = g_wait[SlotIndex(m, i)];
    if (s.key.load(std::memory_order_relaxed) != key) continue;
    SlotLock(s);
    if (s.key.load(std::memory_order_relaxed) == key && s.waiters > 0) {
      const int64_t all = static_cast<int64_t>(s.waiters) * now;
      if (all > s.sum_start) delay += all - s.sum_start;
      s.sum_start = all;
      s.reset_at = now;
    }
    SlotUnlock(s);
  }
  return delay;
}

// ---------------------------------------------------------------------------
// Sampling (contention.h).

CPPROF_LOCK_HOOK_SECTION void OnMutexDelay(int64_t delay) {
  g_counters.mutex_events.fetch_add(1, std::memory_order_relaxed);
  const int64_t n = g_mutex_fraction.load(std::memory_order_relaxed);
  if (n <= 0 || delay <= 0) return;
  if (n > 1 && NextRandom() % static_cast<uint64_t>(n) != 0) return;
  RecordEvent(Which::kMutex, 0, n, delay * n);
}

CPPROF_LOCK_HOOK_SECTION void OnBlocked(WaitKind kind, int64_t waited) {
  g_counters.block_events.fetch_add(1, std::memory_order_relaxed);
  const int64_t rate = g_block_rate.load(std::memory_order_relaxed);
  if (rate <= 0 || waited <= 0) return;
  const int32_t tag = static_cast<int32_t>(kind);
  if (waited >= rate) {
    RecordEvent(Which::kBlock, tag, 1, waited);
    return;
  }
  // Kept with p = waited/rate, weighted 1/p: rate/waited contentions (an
  // unbiased integer: rounded up with the probability of the fraction) and
  // rate nanoseconds.
  const uint64_t r = static_cast<uint64_t>(rate), d = static_cast<uint64_t>(waited);
  if (NextRandom() % r >= d) return;
  const int64_t count = static_cast<int64_t>(r / d + (NextRandom() % d < r % d ? 1 : 0));
  RecordEvent(Which::kBlock, tag, count, rate);
}

// ---------------------------------------------------------------------------
// The slow paths: the lock is held (or a condition wait), profiling is on.

enum class Op {
  kMutexLock, kMutexTimed, kMutexClock,
  kRdLock, kWrLock, kTimedRd, kTimedWr, kClockRd, kClockWr,
  kCondWait, kCondTimed, kCondClock,
};

struct Call {
  Op op;
  void* lock;
  pthread_mutex_t* cond_mutex;
  clockid_t clock;
  const timespec* abstime;
};

}  // namespace
}  // namespace contention
}  // namespace internal
}  // namespace cpprof

namespace cpprof {
namespace internal {
namespace contention {
namespace {

CPPROF_LOCK_HOOK_SECTION int CallReal(const Call& c) {
  RealLockFunctions& r = g_real_locks;
  auto* m = static_cast<pthread_mutex_t*>(c.lock);
  auto* rw = static_cast<pthread_rwlock_t*>(c.lock);
  auto* cv = static_cast<pthread_cond_t*>(c.lock);
  switch (c.op) {
    case Op::kMutexLock: return r.mutex_lock(m);
    case Op::kRdLock: return r.rwlock_rdlock(rw);
    case Op::kWrLock: return r.rwlock_wrlock(rw);
    case Op::kMutexTimed: return r.mutex_timedlock(m, c.abstime);
    case Op::kMutexClock: return r.mutex_clocklock(m, c.clock, c.abstime);
    case Op::kTimedRd: return r.rwlock_timedrdlock(rw, c.abstime);
    case Op::kTimedWr: return r.rwlock_timedwrlock(rw, c.abstime);
    case Op::kClockRd: return r.rwlock_clockrdlock(rw, c.clock, c.abstime);
    case Op::kClockWr: return r.rwlock_clockwrlock(rw, c.clock, c.abstime);
    case Op::kCondWait: return r.cond_wait(cv, c.cond_mutex);
    case Op::kCondTimed: return r.cond_timedwait(cv, c.cond_mutex, c.abstime);
    case Op::kCondClock: return r.cond_clockwait(cv, c.cond_mutex, c.clock, c.abstime);
  }
  return EINVAL;
}

[[maybe_unused]] CPPROF_LOCK_HOOK_SECTION int ContendedMutexLock(const Call& c) {
  auto* m = static_cast<pthread_mutex_t*>(c.lock);
  if (__atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == MyTid()) {
    // A recursive mutex taken again by its owner (or an error-checking one
    // refusing to): not contention.
    g_counters.recursive.fetch_add(1, std::memory_order_relaxed);
    return CallReal(c);
  }
  const uint32_t on = g_enabled.load(std::memory_order_relaxed);
  const int64_t start = MonotonicNanos();
  WaitSlot* slot = nullptr;
  if ((on & kMutexOn) != 0) {
    t_in_hook = 1;
    slot = AddWaiter(m, start);
    t_in_hook = 0;
  }
  const int rc = CallReal(c);
  const int64_t end = MonotonicNanos();
  if (slot != nullptr) {
    t_in_hook = 1;
    RemoveWaiter(slot, start);
    t_in_hook = 0;
  }
  if ((on & kBlockOn) != 0) {
    const int saved = errno;
    OnBlocked(WaitKind::kMutex, end - start);
    errno = saved;
  }
  return rc;
}

[[maybe_unused]] CPPROF_LOCK_HOOK_SECTION int TimedWait(const Call& c, WaitKind kind) {
  const int64_t start = MonotonicNanos();
  const int rc = CallReal(c);
  const int saved = errno;
  OnBlocked(kind, MonotonicNanos() - start);
  errno = saved;
  return rc;
}

[[maybe_unused]] CPPROF_LOCK_HOOK_SECTION int ContendedUnlock(pthread_mutex_t* m) {
  t_in_hook = 1;
  const int64_t delay = ChargeWaiters(m, MonotonicNanos());
  t_in_hook = 0;
  const int rc = g_real_locks.mutex_unlock(m);
  if (delay > 0) {
    const int saved = errno;
    OnMutexDelay(delay);
    errno = saved;
  }
  return rc;
}

// Waits of cpprof's own threads (its HTTP workers idling on a condition
// variable, say) are not the host's and stay out of both profiles; their
// unlocks still charge host threads that waited for them.
inline bool ProfilingLocks() {
  return (g_enabled.load(std::memory_order_relaxed) != 0) && t_in_hook == 0 && t_cpprof_own_thread == 0;
}
inline bool ProfilingBlocks() {
  return (g_enabled.load(std::memory_order_relaxed) & kBlockOn) != 0 && t_in_hook == 0 &&
         t_cpprof_own_thread == 0;
}

}  // namespace

CPPROF_SIGNAL_SAFE CPPROF_LOCK_HOOK_SECTION void RecordEvent(Which which, int32_t tag, int64_t count,
                                                             int64_t delay_ns) {
  const int64_t t0 = MonotonicNanos();
  const int w = static_cast<int>(which);
  StackTable* table = g_tables[w].load(std::memory_order_acquire);
  uintptr_t pcs[kMaxStackDepth + 8];
  int depth = CaptureCurrentStack(pcs, kMaxStackDepth + 8);
  const int skip = LeadingFramesIn(CPPROF_CODE_SECTION(cpprof_lock_hooks), pcs, depth);
  if (depth - skip > kMaxStackDepth) depth = skip + kMaxStackDepth;
  const int64_t deltas[kValues] = {count, delay_ns};
  if (table != nullptr && table->AddValues(pcs + skip, depth - skip, tag, deltas) >= 0) {
    g_counters.samples.fetch_add(1, std::memory_order_relaxed);
  } else {
    g_counters.dropped.fetch_add(1, std::memory_order_relaxed);
    g_counters.lost[w][0].fetch_add(count, std::memory_order_relaxed);
    g_counters.lost[w][1].fetch_add(delay_ns, std::memory_order_relaxed);
  }
  g_counters.hook_ns.fetch_add(static_cast<uint64_t>(MonotonicNanos() - t0), std::memory_order_relaxed);
}

Counters& GetCounters() { return g_counters; }

void ResetLockHooksAfterFork() {
  // The child's only thread is the one that forked; it was in no hook (fork
  // is not called from one). Waiters of the parent do not exist here.
  t_tid = 0;
  t_in_hook = 0;
  for (WaitSlot& s : g_wait) {
    s.key.store(0, std::memory_order_relaxed);
    s.busy.store(0, std::memory_order_relaxed);
    s.waiters = 0;
    s.sum_start = 0;
    s.reset_at = 0;
  }
}

}  // namespace contention
}  // namespace internal

// The annotations of cpprof.h, in the hooks' section so they are not frames
// of the stacks they record.
CPPROF_LOCK_HOOK_SECTION void RecordLockWait(int64_t wait_ns) {
  namespace ct = internal::contention;
  if ((ct::g_enabled.load(std::memory_order_relaxed) & ct::kBlockOn) == 0 || internal::t_cpprof_own_thread != 0) {
    return;
  }
  ct::OnBlocked(ct::WaitKind::kUser, wait_ns);
}

CPPROF_LOCK_HOOK_SECTION void RecordContendedUnlock(int64_t delay_ns) {
  namespace ct = internal::contention;
  if ((ct::g_enabled.load(std::memory_order_relaxed) & ct::kMutexOn) == 0) return;
  ct::OnMutexDelay(delay_ns);
}

namespace internal {
namespace contention {

#if !defined(__SANITIZE_THREAD__)
bool HooksActive() { return true; }
#else
bool HooksActive() { return false; }
#endif

}  // namespace contention
}  // namespace internal
}  // namespace cpprof

#if !defined(__SANITIZE_THREAD__)

#define CPPROF_LOCK_HOOK extern "C" __attribute__((visibility("default"), section("cpprof_lock_hooks")))

namespace ct = cpprof::internal::contention;

CPPROF_LOCK_HOOK int pthread_mutex_lock(pthread_mutex_t* m) {
  if (__builtin_expect(ct::MutexFree(m), 1) || !ct::ProfilingLocks()) return ct::g_real_locks.mutex_lock(m);
  return ct::ContendedMutexLock({ct::Op::kMutexLock, m, nullptr, 0, nullptr});
}

CPPROF_LOCK_HOOK int pthread_mutex_timedlock(pthread_mutex_t* m, const timespec* abstime) {
  const ct::Call c{ct::Op::kMutexTimed, m, nullptr, 0, abstime};
  if (__builtin_expect(ct::MutexFree(m), 1) || !ct::ProfilingLocks()) return ct::CallReal(c);
  return ct::ContendedMutexLock(c);
}

CPPROF_LOCK_HOOK int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock, const timespec* abstime) {
  const ct::Call c{ct::Op::kMutexClock, m, nullptr, clock, abstime};
  if (__builtin_expect(ct::MutexFree(m), 1) || !ct::ProfilingLocks()) return ct::CallReal(c);
  return ct::ContendedMutexLock(c);
}

CPPROF_LOCK_HOOK int pthread_mutex_unlock(pthread_mutex_t* m) {
  if (__builtin_expect(!ct::MutexMayHaveWaiters(m), 1) ||
      (ct::g_enabled.load(std::memory_order_relaxed) & ct::kMutexOn) == 0 || ct::t_in_hook != 0) {
    return ct::g_real_locks.mutex_unlock(m);
  }
  return ct::ContendedUnlock(m);
}

CPPROF_LOCK_HOOK int pthread_rwlock_rdlock(pthread_rwlock_t* rw) {
  if (__builtin_expect(ct::RwFreeForReader(rw), 1) || !ct::ProfilingBlocks()) return ct::g_real_locks.rwlock_rdlock(rw);
  return ct::TimedWait({ct::Op::kRdLock, rw, nullptr, 0, nullptr}, ct::WaitKind::kRwlock);
}

CPPROF_LOCK_HOOK int pthread_rwlock_wrlock(pthread_rwlock_t* rw) {
  if (__builtin_expect(ct::RwFreeForWriter(rw), 1) || !ct::ProfilingBlocks()) return ct::g_real_locks.rwlock_wrlock(rw);
  return ct::TimedWait({ct::Op::kWrLock, rw, nullptr, 0, nullptr}, ct::WaitKind::kRwlock);
}

CPPROF_LOCK_HOOK int pthread_rwlock_timedrdlock(pthread_rwlock_t* rw, const timespec* abstime) {
  const ct::Call c{ct::Op::kTimedRd, rw, nullptr, 0, abstime};
  if (__builtin_expect(ct::RwFreeForReader(rw), 1) || !ct::ProfilingBlocks()) return ct::CallReal(c);
  return ct::TimedWait(c, ct::WaitKind::kRwlock);
}

CPPROF_LOCK_HOOK int pthread_rwlock_timedwrlock(pthread_rwlock_t* rw, const timespec* abstime) {
  const ct::Call c{ct::Op::kTimedWr, rw, nullptr, 0, abstime};
  if (__builtin_expect(ct::RwFreeForWriter(rw), 1) || !ct::ProfilingBlocks()) return ct::CallReal(c);
  return ct::TimedWait(c, ct::WaitKind::kRwlock);
}

CPPROF_LOCK_HOOK int pthread_rwlock_clockrdlock(pthread_rwlock_t* rw, clockid_t clock, const timespec* abstime) {
  const ct::Call c{ct::Op::kClockRd, rw, nullptr, clock, abstime};
  if (__builtin_expect(ct::RwFreeForReader(rw), 1) || !ct::ProfilingBlocks()) return ct::CallReal(c);
  return ct::TimedWait(c, ct::WaitKind::kRwlock);
}

CPPROF_LOCK_HOOK int pthread_rwlock_clockwrlock(pthread_rwlock_t* rw, clockid_t clock, const timespec* abstime) {
  const ct::Call c{ct::Op::kClockWr, rw, nullptr, clock, abstime};
  if (__builtin_expect(ct::RwFreeForWriter(rw), 1) || !ct::ProfilingBlocks()) return ct::CallReal(c);
  return ct::TimedWait(c, ct::WaitKind::kRwlock);
}

CPPROF_LOCK_HOOK int pthread_cond_wait(pthread_cond_t* cv, pthread_mutex_t* m) {
  const ct::Call c{ct::Op::kCondWait, cv, m, 0, nullptr};
  if (__builtin_expect(!ct::ProfilingBlocks(), 1)) return ct::CallReal(c);
  return ct::TimedWait(c, ct::WaitKind::kCond);
}

CPPROF_LOCK_HOOK int pthread_cond_timedwait(pthread_cond_t* cv, pthread_mutex_t* m, const timespec* abstime) {
  const ct::Call c{ct::Op::kCondTimed, cv, m, 0, abstime};
  if (__builtin_expect(!ct::ProfilingBlocks(), 1)) return ct::CallReal(c);
  return ct::TimedWait(c, ct::WaitKind::kCond);
}

CPPROF_LOCK_HOOK int pthread_cond_clockwait(pthread_cond_t* cv, pthread_mutex_t* m, clockid_t clock,
                                            const timespec* abstime) {
  const ct::Call c{ct::Op::kCondClock, cv, m, clock, abstime};
  if (__builtin_expect(!ct::ProfilingBlocks(), 1)) return ct::CallReal(c);
  return ct::TimedWait(c, ct::WaitKind::kCond);
}

#endif  // !__SANITIZE_THREAD__
