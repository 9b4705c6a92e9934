// SPDX-License-Identifier: Apache-2.0
//
// pthread_create wrapper. The real function is looked up once with
// dlsym(RTLD_NEXT); if that fails (static executables), with
// dlsym(RTLD_DEFAULT, "__pthread_create_2_1") as glibc's versioned name.
// When no hook is installed the call is forwarded untouched (no allocation,
// no trampoline), so an idle cpprof adds one atomic load per thread creation.
// Otherwise a small heap record carries (start, arg) to a trampoline that
// records the new thread's stack bounds (RegisterCurrentThreadStack), runs
// on_start, registers a TSD destructor that runs on_exit (it also fires
// on pthread_exit and cancellation), and calls the user's routine. The
// creation observer (threadcreate) rides on the same record: its token is
// made in pthread_create and handed to the trampoline.

#include "interpose/thread_hooks.h"

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>

#include "base/private_fd_table.h"
#include "base/raw_log.h"
#include "base/safe_load.h"

namespace cpprof {
namespace internal {
namespace {

using PthreadCreateFn = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);

std::atomic<ThreadHook> g_on_start{nullptr};
std::atomic<ThreadHook> g_on_exit{nullptr};
std::atomic<const ThreadCreationObserver*> g_observer{nullptr};
std::atomic<unsigned long> g_created{0};
pthread_key_t g_exit_key;
pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

PthreadCreateFn RealPthreadCreate() {
  static std::atomic<PthreadCreateFn> real{nullptr};
  PthreadCreateFn fn = real.load(std::memory_order_acquire);
  if (fn != nullptr) return fn;
  // A sanitizer runtime linked into the executable (clang's static ASan)
  // has its interceptor there: when this definition is the process's (it
  // shadows the interceptor, and RTLD_NEXT would skip it), the interceptor
  // is the next step, so the sanitizer still sees every thread start
  // (LeakSanitizer scans the stacks of the threads it knows). When the
  // interceptor comes first, it calls this function: RTLD_NEXT then.
  // (Asked of the object holding the process's definition: the address of
  // pthread_create taken here would itself be the process's definition.)
  Dl_info found{}, here{};
  void* process_fn = dlsym(RTLD_DEFAULT, "pthread_create");
  if (process_fn != nullptr && dladdr(process_fn, &found) != 0 &&
      dladdr(reinterpret_cast<const void*>(&RealPthreadCreate), &here) != 0 && found.dli_fbase == here.dli_fbase) {
    // Only an interceptor in this same object is one this definition shadows.
    void* interceptor = dlsym(RTLD_DEFAULT, "__interceptor_pthread_create");
    Dl_info where{};
    if (interceptor != nullptr && dladdr(interceptor, &where) != 0 && where.dli_fbase == here.dli_fbase) {
      fn = reinterpret_cast<PthreadCreateFn>(interceptor);
    }
  }
  if (fn == nullptr) fn = reinterpret_cast<PthreadCreateFn>(dlsym(RTLD_NEXT, "pthread_create"));
  if (fn == nullptr) {
    fn = reinterpret_cast<PthreadCreateFn>(dlvsym(RTLD_NEXT, "pthread_create", "GLIBC_2.34"));
  }
  if (fn == nullptr) {
    fn = reinterpret_cast<PthreadCreateFn>(dlvsym(RTLD_NEXT, "pthread_create", "GLIBC_2.2.5"));
  }
  real.store(fn, std::memory_order_release);
  return fn;
}

// ThreadSanitizer (and MemorySanitizer) start every thread through their own
// start routine, which sets up the thread's sanitizer state. Our wrapper is
// reached from their pthread_create interceptor and would run the hooks (and
// instrumented code) in the new thread before that state exists, which
// crashes. In such processes new threads are left to the periodic
// /proc/self/task rescan instead.
bool SanitizerOwnsThreadStart() {
  static const bool owns = dlsym(RTLD_DEFAULT, "__tsan_init") != nullptr ||
                           dlsym(RTLD_DEFAULT, "__msan_init") != nullptr;
  return owns;
}

void RunExitHook(void*) {
  ThreadHook hook = g_on_exit.load(std::memory_order_acquire);
  if (hook != nullptr) hook();
  const ThreadCreationObserver* observer = g_observer.load(std::memory_order_acquire);
  if (observer != nullptr) observer->on_exit();
}

void CreateKey() {
  if (pthread_key_create(&g_exit_key, RunExitHook) != 0) {
    RawLog(LogLevel::kWarning, "pthread_key_create failed; thread exits are found by rescans only");
  }
}

struct StartRecord {
  void* (*start)(void*);
  void* arg;
  const ThreadCreationObserver* observer;  // the one that made token, or null
  void* token;
  bool private_fds;  // the creator's descriptor table is private (shared with the new thread)
};

void* Trampoline(void* p) {
  StartRecord record = *static_cast<StartRecord*>(p);
  free(p);
  if (record.private_fds) MarkThreadFdTablePrivate();
  // Known stack bounds let every stack walk in this thread (CPU samples,
  // sampled allocations, lock and descriptor stacks) read its stack without
  // probing or consulting the memory-map snapshot, which predates the thread.
  RegisterCurrentThreadStack();
  pthread_once(&g_key_once, CreateKey);
  // A non-null value makes the destructor run when the thread ends.
  pthread_setspecific(g_exit_key, reinterpret_cast<void*>(1));
  ThreadHook hook = g_on_start.load(std::memory_order_acquire);
  if (hook != nullptr) hook();
  if (record.observer != nullptr) record.observer->on_start(record.token);
  return record.start(record.arg);
}

}  // namespace

void SetThreadHooks(ThreadHook on_start, ThreadHook on_exit) {
  pthread_once(&g_key_once, CreateKey);
  g_on_exit.store(on_exit, std::memory_order_release);
  g_on_start.store(on_start, std::memory_order_release);
}

unsigned long ThreadsCreatedThroughHook() { return g_created.load(std::memory_order_relaxed); }

void SetThreadCreationObserver(const ThreadCreationObserver* observer) {
  pthread_once(&g_key_once, CreateKey);
  g_observer.store(observer, std::memory_order_release);
}

}  // namespace internal
}  // namespace cpprof

extern "C" __attribute__((visibility("default"))) int pthread_create(
    pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  using namespace cpprof::internal;
  PthreadCreateFn real = RealPthreadCreate();
  if (real == nullptr) return EAGAIN;
  g_created.fetch_add(1, std::memory_order_relaxed);
  const ThreadCreationObserver* observer = g_observer.load(std::memory_order_acquire);
  const bool private_fds = ThreadFdTableIsPrivate();
  if ((g_on_start.load(std::memory_order_acquire) == nullptr && observer == nullptr && !private_fds) ||
      SanitizerOwnsThreadStart()) {
    return real(thread, attr, start, arg);
  }
  auto* record = static_cast<StartRecord*>(malloc(sizeof(StartRecord)));
  if (record == nullptr) return real(thread, attr, start, arg);
  record->start = start;
  record->arg = arg;
  record->observer = observer;
  record->token = observer != nullptr ? observer->on_create() : nullptr;
  record->private_fds = private_fds;
  int rc = real(thread, attr, Trampoline, record);
  if (rc != 0) {
    if (observer != nullptr) observer->on_failed(record->token);
    free(record);
  }
  return rc;
}
