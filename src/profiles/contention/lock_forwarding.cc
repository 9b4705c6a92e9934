// SPDX-License-Identifier: Apache-2.0
//
// Resolves the lock functions the hooks forward to (lock_forwarding.h).
// Not hook context, except the First* functions: they run inside the
// host's first lock calls (before the constructor below, if any) and only
// call the lookup, guarded against re-entry.

#include "profiles/contention/lock_forwarding.h"

#include <dlfcn.h>

#include <atomic>
#include <cerrno>

#include "base/config.h"

// glibc's compat aliases, bound at link time: the fallback used while the
// lookup itself runs.
extern "C" {
__attribute__((visibility("default"))) int cpprof_direct_mutex_lock(pthread_mutex_t*);
__attribute__((visibility("default"))) int cpprof_direct_mutex_unlock(pthread_mutex_t*);
__attribute__((visibility("default"))) int cpprof_direct_rwlock_rdlock(pthread_rwlock_t*);
__attribute__((visibility("default"))) int cpprof_direct_rwlock_wrlock(pthread_rwlock_t*);
}
__asm__(".symver cpprof_direct_mutex_lock,__pthread_mutex_lock@GLIBC_2.2.5");
__asm__(".symver cpprof_direct_mutex_unlock,__pthread_mutex_unlock@GLIBC_2.2.5");
__asm__(".symver cpprof_direct_rwlock_rdlock,__pthread_rwlock_rdlock@GLIBC_2.2.5");
__asm__(".symver cpprof_direct_rwlock_wrlock,__pthread_rwlock_wrlock@GLIBC_2.2.5");

namespace cpprof {
namespace internal {
namespace contention {
namespace {

CPPROF_SIGNAL_TLS int t_resolving;

// The functions to use now: the looked-up ones, or, from inside the lookup,
// the link-time aliases and ENOSYS stubs.
int NoMutexTimed(pthread_mutex_t*, const timespec*) { return ENOSYS; }
int NoMutexClock(pthread_mutex_t*, clockid_t, const timespec*) { return ENOSYS; }
int NoRwTimed(pthread_rwlock_t*, const timespec*) { return ENOSYS; }
int NoRwClock(pthread_rwlock_t*, clockid_t, const timespec*) { return ENOSYS; }
int NoCondWait(pthread_cond_t*, pthread_mutex_t*) { return ENOSYS; }
int NoCondTimed(pthread_cond_t*, pthread_mutex_t*, const timespec*) { return ENOSYS; }
int NoCondClock(pthread_cond_t*, pthread_mutex_t*, clockid_t, const timespec*) { return ENOSYS; }

constexpr RealLockFunctions kFallback = {
    cpprof_direct_mutex_lock, cpprof_direct_mutex_unlock, cpprof_direct_rwlock_rdlock, cpprof_direct_rwlock_wrlock,
    NoMutexTimed, NoMutexClock, NoRwTimed, NoRwTimed, NoRwClock, NoRwClock, NoCondWait, NoCondTimed, NoCondClock,
};

const RealLockFunctions& Current() {
  if (t_resolving != 0) return kFallback;
  ResolveRealLockFunctions();
  return g_real_locks;
}

int FirstMutexLock(pthread_mutex_t* m) { return Current().mutex_lock(m); }
int FirstMutexUnlock(pthread_mutex_t* m) { return Current().mutex_unlock(m); }
int FirstRdlock(pthread_rwlock_t* rw) { return Current().rwlock_rdlock(rw); }
int FirstWrlock(pthread_rwlock_t* rw) { return Current().rwlock_wrlock(rw); }
int FirstMutexTimed(pthread_mutex_t* m, const timespec* t) { return Current().mutex_timedlock(m, t); }
int FirstMutexClock(pthread_mutex_t* m, clockid_t c, const timespec* t) { return Current().mutex_clocklock(m, c, t); }
int FirstTimedRd(pthread_rwlock_t* rw, const timespec* t) { return Current().rwlock_timedrdlock(rw, t); }
int FirstTimedWr(pthread_rwlock_t* rw, const timespec* t) { return Current().rwlock_timedwrlock(rw, t); }
int FirstClockRd(pthread_rwlock_t* rw, clockid_t c, const timespec* t) {
  return Current().rwlock_clockrdlock(rw, c, t);
}
int FirstClockWr(pthread_rwlock_t* rw, clockid_t c, const timespec* t) {
  return Current().rwlock_clockwrlock(rw, c, t);
}
int FirstCondWait(pthread_cond_t* cv, pthread_mutex_t* m) { return Current().cond_wait(cv, m); }
int FirstCondTimed(pthread_cond_t* cv, pthread_mutex_t* m, const timespec* t) {
  return Current().cond_timedwait(cv, m, t);
}
int FirstCondClock(pthread_cond_t* cv, pthread_mutex_t* m, clockid_t c, const timespec* t) {
  return Current().cond_clockwait(cv, m, c, t);
}

// The next definition of `name` after this object, else `fallback`.
template <typename Fn>
bool Resolve(Fn* out, const char* name, const char* version, Fn fallback) {
  void* p = dlvsym(RTLD_NEXT, name, version);
  // An interposer between cpprof and glibc that exports the name without a
  // version is still honoured.
  if (p == nullptr) p = dlsym(RTLD_NEXT, name);
  __atomic_store_n(out, p != nullptr ? reinterpret_cast<Fn>(p) : fallback, __ATOMIC_RELEASE);
  return p != nullptr;
}

std::atomic<int> g_state{0};  // 0 not yet, 1 all found, 2 some missing

}  // namespace

RealLockFunctions g_real_locks = {
    FirstMutexLock, FirstMutexUnlock, FirstRdlock,    FirstWrlock,   FirstMutexTimed, FirstMutexClock, FirstTimedRd,
    FirstTimedWr,   FirstClockRd,     FirstClockWr,   FirstCondWait, FirstCondTimed,  FirstCondClock,
};

bool ResolveRealLockFunctions() {
  const int state = g_state.load(std::memory_order_acquire);
  if (state != 0) return state == 1;
  t_resolving = 1;
  RealLockFunctions& r = g_real_locks;
  const RealLockFunctions& f = kFallback;
  bool ok = true;
  ok &= Resolve(&r.mutex_lock, "pthread_mutex_lock", "GLIBC_2.2.5", f.mutex_lock);
  ok &= Resolve(&r.mutex_unlock, "pthread_mutex_unlock", "GLIBC_2.2.5", f.mutex_unlock);
  ok &= Resolve(&r.rwlock_rdlock, "pthread_rwlock_rdlock", "GLIBC_2.2.5", f.rwlock_rdlock);
  ok &= Resolve(&r.rwlock_wrlock, "pthread_rwlock_wrlock", "GLIBC_2.2.5", f.rwlock_wrlock);
  ok &= Resolve(&r.mutex_timedlock, "pthread_mutex_timedlock", "GLIBC_2.2.5", f.mutex_timedlock);
  ok &= Resolve(&r.mutex_clocklock, "pthread_mutex_clocklock", "GLIBC_2.30", f.mutex_clocklock);
  ok &= Resolve(&r.rwlock_timedrdlock, "pthread_rwlock_timedrdlock", "GLIBC_2.2.5", f.rwlock_timedrdlock);
  ok &= Resolve(&r.rwlock_timedwrlock, "pthread_rwlock_timedwrlock", "GLIBC_2.2.5", f.rwlock_timedwrlock);
  ok &= Resolve(&r.rwlock_clockrdlock, "pthread_rwlock_clockrdlock", "GLIBC_2.30", f.rwlock_clockrdlock);
  ok &= Resolve(&r.rwlock_clockwrlock, "pthread_rwlock_clockwrlock", "GLIBC_2.30", f.rwlock_clockwrlock);
  ok &= Resolve(&r.cond_wait, "pthread_cond_wait", "GLIBC_2.3.2", f.cond_wait);
  ok &= Resolve(&r.cond_timedwait, "pthread_cond_timedwait", "GLIBC_2.3.2", f.cond_timedwait);
  ok &= Resolve(&r.cond_clockwait, "pthread_cond_clockwait", "GLIBC_2.30", f.cond_clockwait);
  t_resolving = 0;
  g_state.store(ok ? 1 : 2, std::memory_order_release);
  return ok;
}

namespace {

void ChildAfterFork() { ResetLockHooksAfterFork(); }

// Before other constructors of this object (and of most libraries) run, so
// that no lock call has to resolve on its own.
__attribute__((constructor(101))) void ResolveEarly() {
  ResolveRealLockFunctions();
  pthread_atfork(nullptr, nullptr, ChildAfterFork);
}

}  // namespace

}  // namespace contention
}  // namespace internal
}  // namespace cpprof
