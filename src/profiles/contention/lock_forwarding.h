// SPDX-License-Identifier: Apache-2.0
//
// Where the interposed pthread lock functions (lock_hooks.cc) forward to:
// the next definition of each name, normally glibc's, looked up once with
// dlvsym(RTLD_NEXT, name, version). The version is explicit: glibc also
// exports an old-ABI pthread_cond_wait that must never see a new-ABI
// condition variable. A sanitizer runtime ahead of glibc is honoured (its
// interceptors then see the calls).
//
// Every pointer is callable from the start: until the lookup ran (the
// earliest constructor does it) it points to a function that does the
// lookup first. A lock taken inside that lookup (by dlvsym itself, or by
// an allocator it calls) goes straight to glibc's compat aliases
// (__pthread_mutex_lock@GLIBC_2.2.5, ...), bound at link time, or gets
// ENOSYS for the few functions that have none.
//
// Not hook context: the lookup calls dlvsym. The hooks only load pointers.

#ifndef CPPROF_SRC_PROFILES_CONTENTION_LOCK_FORWARDING_H_
#define CPPROF_SRC_PROFILES_CONTENTION_LOCK_FORWARDING_H_

#include <pthread.h>
#include <time.h>

namespace cpprof {
namespace internal {
namespace contention {

struct RealLockFunctions {
  int (*mutex_lock)(pthread_mutex_t*);
  int (*mutex_unlock)(pthread_mutex_t*);
  int (*rwlock_rdlock)(pthread_rwlock_t*);
  int (*rwlock_wrlock)(pthread_rwlock_t*);
  int (*mutex_timedlock)(pthread_mutex_t*, const timespec*);
  int (*mutex_clocklock)(pthread_mutex_t*, clockid_t, const timespec*);
  int (*rwlock_timedrdlock)(pthread_rwlock_t*, const timespec*);
  int (*rwlock_timedwrlock)(pthread_rwlock_t*, const timespec*);
  int (*rwlock_clockrdlock)(pthread_rwlock_t*, clockid_t, const timespec*);
  int (*rwlock_clockwrlock)(pthread_rwlock_t*, clockid_t, const timespec*);
  int (*cond_wait)(pthread_cond_t*, pthread_mutex_t*);
  int (*cond_timedwait)(pthread_cond_t*, pthread_mutex_t*, const timespec*);
  int (*cond_clockwait)(pthread_cond_t*, pthread_mutex_t*, clockid_t, const timespec*);
};

// Never null (see above).
extern RealLockFunctions g_real_locks;

// Looks the functions up (idempotent, thread-safe). False if one is missing
// (its pointer then returns ENOSYS; glibc >= 2.34 has all of them).
bool ResolveRealLockFunctions();

// Called in the child after fork() (registered by the constructor).
void ResetLockHooksAfterFork();

}  // namespace contention
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_CONTENTION_LOCK_FORWARDING_H_
