// SPDX-License-Identifier: Apache-2.0
//
// Hook context: this file defines the process's descriptor-creating and
// closing functions (exported from libcpprof.so and the preload module, or
// from the executable when the static library is linked in). They run on
// every thread, before constructors, maybe inside signal handlers (close()
// is async-signal-safe and handlers use it). Each forwards to the next
// definition (dlsym(RTLD_NEXT), looked up once) and tells fd_records.h what
// happened: after a successful creation OnFdCreated, before a close
// OnFdClosing, after a failure with EMFILE/ENFILE OnFdCreateFailed. No
// locks, no allocation of their own, errno as the real call left it.
//
// Coverage. glibc calls its own internal open/pipe/close without the PLT,
// so stdio, dirent, popen, tmpfile, mkstemp, shm_open and posix_openpt are
// hooked at their own level, not only open/socket. Not seen: descriptors
// made by raw syscall(2), io_uring, other glibc internals (NSS, syslog) and
// those inherited at exec; reports list those as "unknown origin" from
// /proc/self/fd. dup2/dup3 onto an open number replace its record.
//
// Sanitizer builds: the next definition is the sanitizer's interceptor,
// which then reaches glibc, so both keep working.

#undef _FORTIFY_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "base/errno_saver.h"
#include "profiles/fd/fd_records.h"

#define CPPROF_FD_HOOK extern "C" __attribute__((visibility("default"), section("cpprof_fd_hooks")))

// Declared here: glibc declares some only under _FORTIFY_SOURCE or
// _GNU_SOURCE variants, and some have no header at all.
extern "C" {
int __open_2(const char*, int);
int __open64_2(const char*, int);
int __openat_2(int, const char*, int);
int __openat64_2(int, const char*, int);
int getpt(void);
int pidfd_open(pid_t, unsigned int);
int fanotify_init(unsigned int, unsigned int);
int close_range(unsigned int, unsigned int, int) noexcept;
void closefrom(int) noexcept;
FILE* tmpfile64(void);
}

namespace fd = cpprof::internal::fd;
using fd::FdApi;

namespace {

// The next definition of `name`, looked up once. (Under a sanitizer whose
// runtime precedes cpprof, that is its interceptor calling us, and RTLD_NEXT
// is glibc. A static runtime in the executable has its interceptors
// shadowed by cpprof's definitions there: descriptor calls then skip the
// sanitizer's bookkeeping, which costs it only diagnostics about them.)
void* Next(std::atomic<void*>* cache, const char* name) {
  void* p = cache->load(std::memory_order_acquire);
  if (__builtin_expect(p != nullptr, 1)) return p;
  p = dlsym(RTLD_NEXT, name);
  cache->store(p, std::memory_order_release);
  return p;
}

#define CPPROF_NEXT(type, name)                                      \
  static std::atomic<void*> cache_##name{nullptr};                   \
  auto real = reinterpret_cast<type>(Next(&cache_##name, #name));    \
  if (real == nullptr) {                                             \
    errno = ENOSYS;                                                  \
    return {};                                                       \
  }

// After a call that returns a new descriptor (or -1).
inline int Created(int r, FdApi api) {
  cpprof::internal::ErrnoSaver saved;
  if (r >= 0) {
    fd::OnFdCreated(r, api);
  } else {
    fd::OnFdCreateFailed(saved.saved());
  }
  return r;
}

inline void Closing(int f) {
  cpprof::internal::ErrnoSaver saved;
  fd::OnFdClosing(f);
}

inline FILE* CreatedFile(FILE* f, FdApi api) {
  cpprof::internal::ErrnoSaver saved;
  if (f != nullptr) {
    fd::OnFdCreated(fileno(f), api);
  } else {
    fd::OnFdCreateFailed(saved.saved());
  }
  return f;
}

inline void ClosingFile(FILE* f) {
  if (f == nullptr) return;
  cpprof::internal::ErrnoSaver saved;
  fd::OnFdClosing(fileno(f));
}

inline bool NeedsMode(int flags) { return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE; }

// Descriptors a received message carries (SCM_RIGHTS).
void RecordReceived(const msghdr* msg) {
  if (msg == nullptr || msg->msg_control == nullptr) return;
  cpprof::internal::ErrnoSaver saved;
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(msg), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(c);
    for (size_t i = 0; i < n; ++i) {
      int f;
      __builtin_memcpy(&f, data + i * sizeof(int), sizeof(int));
      fd::OnFdCreated(f, FdApi::kRecvmsg);
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// open family

// The mode argument open/openat take after `flags` when they create a file.
#define CPPROF_TAKE_MODE(flags, mode) \
  mode_t mode = 0;                    \
  if (NeedsMode(flags)) {             \
    va_list ap;                       \
    va_start(ap, flags);              \
    mode = va_arg(ap, mode_t);        \
    va_end(ap);                       \
  }

#define CPPROF_OPEN_HOOK(name)                                     \
  CPPROF_FD_HOOK int name(const char* path, int flags, ...) {      \
    CPPROF_TAKE_MODE(flags, mode)                                  \
    CPPROF_NEXT(int (*)(const char*, int, ...), name)              \
    return Created(real(path, flags, mode), FdApi::kOpen);         \
  }
CPPROF_OPEN_HOOK(open)
CPPROF_OPEN_HOOK(open64)

#define CPPROF_OPENAT_HOOK(name)                                      \
  CPPROF_FD_HOOK int name(int dirfd, const char* path, int flags, ...) { \
    CPPROF_TAKE_MODE(flags, mode)                                     \
    CPPROF_NEXT(int (*)(int, const char*, int, ...), name)            \
    return Created(real(dirfd, path, flags, mode), FdApi::kOpen);     \
  }
CPPROF_OPENAT_HOOK(openat)
CPPROF_OPENAT_HOOK(openat64)

CPPROF_FD_HOOK int __open_2(const char* path, int flags) {
  CPPROF_NEXT(int (*)(const char*, int), __open_2)
  return Created(real(path, flags), FdApi::kOpen);
}
CPPROF_FD_HOOK int __open64_2(const char* path, int flags) {
  CPPROF_NEXT(int (*)(const char*, int), __open64_2)
  return Created(real(path, flags), FdApi::kOpen);
}
CPPROF_FD_HOOK int __openat_2(int dirfd, const char* path, int flags) {
  CPPROF_NEXT(int (*)(int, const char*, int), __openat_2)
  return Created(real(dirfd, path, flags), FdApi::kOpen);
}
CPPROF_FD_HOOK int __openat64_2(int dirfd, const char* path, int flags) {
  CPPROF_NEXT(int (*)(int, const char*, int), __openat64_2)
  return Created(real(dirfd, path, flags), FdApi::kOpen);
}
CPPROF_FD_HOOK int creat(const char* path, mode_t mode) {
  CPPROF_NEXT(int (*)(const char*, mode_t), creat)
  return Created(real(path, mode), FdApi::kCreat);
}
CPPROF_FD_HOOK int creat64(const char* path, mode_t mode) {
  CPPROF_NEXT(int (*)(const char*, mode_t), creat64)
  return Created(real(path, mode), FdApi::kCreat);
}

// ---------------------------------------------------------------------------
// sockets, pipes, duplicates

CPPROF_FD_HOOK int socket(int domain, int type, int protocol) noexcept {
  CPPROF_NEXT(int (*)(int, int, int), socket)
  return Created(real(domain, type, protocol), FdApi::kSocket);
}
CPPROF_FD_HOOK int socketpair(int domain, int type, int protocol, int sv[2]) noexcept {
  CPPROF_NEXT(int (*)(int, int, int, int*), socketpair)
  const int r = real(domain, type, protocol, sv);
  if (r == 0) {
    Created(sv[0], FdApi::kSocketpair);
    Created(sv[1], FdApi::kSocketpair);
  } else {
    Created(-1, FdApi::kSocketpair);
  }
  return r;
}
CPPROF_FD_HOOK int accept(int s, sockaddr* addr, socklen_t* len) {
  CPPROF_NEXT(int (*)(int, sockaddr*, socklen_t*), accept)
  return Created(real(s, addr, len), FdApi::kAccept);
}
CPPROF_FD_HOOK int accept4(int s, sockaddr* addr, socklen_t* len, int flags) {
  CPPROF_NEXT(int (*)(int, sockaddr*, socklen_t*, int), accept4)
  return Created(real(s, addr, len, flags), FdApi::kAccept);
}
CPPROF_FD_HOOK ssize_t recvmsg(int s, msghdr* msg, int flags) {
  CPPROF_NEXT(ssize_t (*)(int, msghdr*, int), recvmsg)
  const ssize_t r = real(s, msg, flags);
  if (r >= 0) RecordReceived(msg);
  return r;
}
CPPROF_FD_HOOK int recvmmsg(int s, mmsghdr* vec, unsigned int n, int flags, timespec* timeout) {
  CPPROF_NEXT(int (*)(int, mmsghdr*, unsigned int, int, timespec*), recvmmsg)
  const int r = real(s, vec, n, flags, timeout);
  for (int i = 0; i < r; ++i) RecordReceived(&vec[i].msg_hdr);
  return r;
}

static int PipeResult(int r, int fds[2]) {
  if (r == 0) {
    Created(fds[0], FdApi::kPipe);
    Created(fds[1], FdApi::kPipe);
  } else {
    Created(-1, FdApi::kPipe);
  }
  return r;
}
CPPROF_FD_HOOK int pipe(int fds[2]) noexcept {
  CPPROF_NEXT(int (*)(int*), pipe)
  return PipeResult(real(fds), fds);
}
CPPROF_FD_HOOK int pipe2(int fds[2], int flags) noexcept {
  CPPROF_NEXT(int (*)(int*, int), pipe2)
  return PipeResult(real(fds, flags), fds);
}
CPPROF_FD_HOOK int dup(int old) noexcept {
  CPPROF_NEXT(int (*)(int), dup)
  return Created(real(old), FdApi::kDup);
}
// The target is closed implicitly: its record is replaced when the call
// succeeds (dup2(fd, fd) changes nothing).
CPPROF_FD_HOOK int dup2(int old, int target) noexcept {
  CPPROF_NEXT(int (*)(int, int), dup2)
  const int r = real(old, target);
  return old == target ? r : Created(r, FdApi::kDup);
}
CPPROF_FD_HOOK int dup3(int old, int target, int flags) noexcept {
  CPPROF_NEXT(int (*)(int, int, int), dup3)
  return Created(real(old, target, flags), FdApi::kDup);
}

#define CPPROF_FCNTL_HOOK(name)                                               \
  CPPROF_FD_HOOK int name(int f, int cmd, ...) {                              \
    va_list ap;                                                               \
    va_start(ap, cmd);                                                        \
    void* arg = va_arg(ap, void*);                                            \
    va_end(ap);                                                               \
    CPPROF_NEXT(int (*)(int, int, ...), name)                                 \
    const int r = real(f, cmd, arg);                                          \
    return (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) ? Created(r, FdApi::kFcntlDup) : r; \
  }
CPPROF_FCNTL_HOOK(fcntl)
CPPROF_FCNTL_HOOK(fcntl64)

// ---------------------------------------------------------------------------
// special descriptors

CPPROF_FD_HOOK int eventfd(unsigned int count, int flags) noexcept {
  CPPROF_NEXT(int (*)(unsigned int, int), eventfd)
  return Created(real(count, flags), FdApi::kEventfd);
}
CPPROF_FD_HOOK int timerfd_create(clockid_t clock, int flags) noexcept {
  CPPROF_NEXT(int (*)(clockid_t, int), timerfd_create)
  return Created(real(clock, flags), FdApi::kTimerfd);
}
CPPROF_FD_HOOK int signalfd(int f, const sigset_t* mask, int flags) noexcept {
  CPPROF_NEXT(int (*)(int, const sigset_t*, int), signalfd)
  const int r = real(f, mask, flags);
  return f == -1 ? Created(r, FdApi::kSignalfd) : r;  // else an existing one changed its mask
}
CPPROF_FD_HOOK int epoll_create(int size) noexcept {
  CPPROF_NEXT(int (*)(int), epoll_create)
  return Created(real(size), FdApi::kEpoll);
}
CPPROF_FD_HOOK int epoll_create1(int flags) noexcept {
  CPPROF_NEXT(int (*)(int), epoll_create1)
  return Created(real(flags), FdApi::kEpoll);
}
CPPROF_FD_HOOK int inotify_init(void) noexcept {
  CPPROF_NEXT(int (*)(), inotify_init)
  return Created(real(), FdApi::kInotify);
}
CPPROF_FD_HOOK int inotify_init1(int flags) noexcept {
  CPPROF_NEXT(int (*)(int), inotify_init1)
  return Created(real(flags), FdApi::kInotify);
}
CPPROF_FD_HOOK int memfd_create(const char* name, unsigned int flags) noexcept {
  CPPROF_NEXT(int (*)(const char*, unsigned int), memfd_create)
  return Created(real(name, flags), FdApi::kMemfd);
}
CPPROF_FD_HOOK int pidfd_open(pid_t pid, unsigned int flags) {
  CPPROF_NEXT(int (*)(pid_t, unsigned int), pidfd_open)
  return Created(real(pid, flags), FdApi::kPidfd);
}
CPPROF_FD_HOOK int fanotify_init(unsigned int flags, unsigned int event_flags) {
  CPPROF_NEXT(int (*)(unsigned int, unsigned int), fanotify_init)
  return Created(real(flags, event_flags), FdApi::kFanotify);
}
CPPROF_FD_HOOK int shm_open(const char* name, int flags, mode_t mode) {
  CPPROF_NEXT(int (*)(const char*, int, mode_t), shm_open)
  return Created(real(name, flags, mode), FdApi::kShmOpen);
}
CPPROF_FD_HOOK int posix_openpt(int flags) {
  CPPROF_NEXT(int (*)(int), posix_openpt)
  return Created(real(flags), FdApi::kPosixOpenpt);
}
CPPROF_FD_HOOK int getpt(void) {
  CPPROF_NEXT(int (*)(), getpt)
  return Created(real(), FdApi::kPosixOpenpt);
}

// ---------------------------------------------------------------------------
// temporary files

#define CPPROF_MKSTEMP_HOOK(name, params, args)            \
  CPPROF_FD_HOOK int name params {                         \
    CPPROF_NEXT(int(*) params, name)                       \
    return Created(real args, FdApi::kMkstemp);            \
  }
CPPROF_MKSTEMP_HOOK(mkstemp, (char* t), (t))
CPPROF_MKSTEMP_HOOK(mkstemp64, (char* t), (t))
CPPROF_MKSTEMP_HOOK(mkostemp, (char* t, int flags), (t, flags))
CPPROF_MKSTEMP_HOOK(mkostemp64, (char* t, int flags), (t, flags))
CPPROF_MKSTEMP_HOOK(mkstemps, (char* t, int suffix), (t, suffix))
CPPROF_MKSTEMP_HOOK(mkstemps64, (char* t, int suffix), (t, suffix))
CPPROF_MKSTEMP_HOOK(mkostemps, (char* t, int suffix, int flags), (t, suffix, flags))
CPPROF_MKSTEMP_HOOK(mkostemps64, (char* t, int suffix, int flags), (t, suffix, flags))

// ---------------------------------------------------------------------------
// stdio and directories

CPPROF_FD_HOOK FILE* fopen(const char* path, const char* mode) {
  CPPROF_NEXT(FILE* (*)(const char*, const char*), fopen)
  return CreatedFile(real(path, mode), FdApi::kFopen);
}
CPPROF_FD_HOOK FILE* fopen64(const char* path, const char* mode) {
  CPPROF_NEXT(FILE* (*)(const char*, const char*), fopen64)
  return CreatedFile(real(path, mode), FdApi::kFopen);
}
CPPROF_FD_HOOK FILE* freopen(const char* path, const char* mode, FILE* stream) {
  CPPROF_NEXT(FILE* (*)(const char*, const char*, FILE*), freopen)
  ClosingFile(stream);
  return CreatedFile(real(path, mode, stream), FdApi::kFreopen);
}
CPPROF_FD_HOOK FILE* freopen64(const char* path, const char* mode, FILE* stream) {
  CPPROF_NEXT(FILE* (*)(const char*, const char*, FILE*), freopen64)
  ClosingFile(stream);
  return CreatedFile(real(path, mode, stream), FdApi::kFreopen);
}
CPPROF_FD_HOOK FILE* tmpfile(void) {
  CPPROF_NEXT(FILE* (*)(), tmpfile)
  return CreatedFile(real(), FdApi::kTmpfile);
}
CPPROF_FD_HOOK FILE* tmpfile64(void) {
  CPPROF_NEXT(FILE* (*)(), tmpfile64)
  return CreatedFile(real(), FdApi::kTmpfile);
}
CPPROF_FD_HOOK FILE* popen(const char* command, const char* mode) {
  CPPROF_NEXT(FILE* (*)(const char*, const char*), popen)
  return CreatedFile(real(command, mode), FdApi::kPopen);
}
CPPROF_FD_HOOK int fclose(FILE* f) {
  CPPROF_NEXT(int (*)(FILE*), fclose)
  ClosingFile(f);
  return real(f);
}
CPPROF_FD_HOOK int pclose(FILE* f) {
  CPPROF_NEXT(int (*)(FILE*), pclose)
  ClosingFile(f);
  return real(f);
}
CPPROF_FD_HOOK DIR* opendir(const char* path) {
  CPPROF_NEXT(DIR* (*)(const char*), opendir)
  DIR* d = real(path);
  cpprof::internal::ErrnoSaver saved;
  if (d != nullptr) {
    fd::OnFdCreated(dirfd(d), FdApi::kOpendir);
  } else {
    fd::OnFdCreateFailed(saved.saved());
  }
  return d;
}
CPPROF_FD_HOOK int closedir(DIR* d) {
  CPPROF_NEXT(int (*)(DIR*), closedir)
  Closing(dirfd(d));
  return real(d);
}

// ---------------------------------------------------------------------------
// close

CPPROF_FD_HOOK int close(int f) {
  CPPROF_NEXT(int (*)(int), close)
  Closing(f);
  return real(f);
}
CPPROF_FD_HOOK int close_range(unsigned int first, unsigned int last, int flags) noexcept {
  CPPROF_NEXT(int (*)(unsigned int, unsigned int, int), close_range)
  if ((flags & CLOSE_RANGE_CLOEXEC) == 0 && first <= last) {
    cpprof::internal::ErrnoSaver saved;
    fd::OnFdRangeClosing(first, last);
  }
  return real(first, last, flags);
}
CPPROF_FD_HOOK void closefrom(int lowfd) noexcept {
  static std::atomic<void*> cache_closefrom{nullptr};
  auto real = reinterpret_cast<void (*)(int)>(Next(&cache_closefrom, "closefrom"));
  if (real == nullptr) return;
  if (lowfd >= 0) {
    cpprof::internal::ErrnoSaver saved;
    fd::OnFdRangeClosing(static_cast<unsigned>(lowfd), ~0u);
  }
  real(lowfd);
}
