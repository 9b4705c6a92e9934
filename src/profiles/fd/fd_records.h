// SPDX-License-Identifier: Apache-2.0
//
// The descriptor table behind /debug/pprof/fd: for each open descriptor
// number the interposers (fd_hooks.cc) saw created, which call created it,
// when, and the creation stack (a slot of a StackTable whose values are the
// live descriptors and the descriptors ever created at that stack).
//
// Records are indexed by descriptor number in chunks of 4096 entries,
// mmap'ed the first time a number in the chunk is recorded (numbers are
// dense and bounded by RLIMIT_NOFILE; numbers from 2^20 on are counted, not
// recorded). A record is written after the creating call returned and
// cleared before the real close runs, so a number another thread receives
// in between is never lost; a record is replaced whole (an atomic exchange),
// and a replaced record gives its stack's live count back, so a close
// cpprof did not see (glibc closing internally, a raw syscall) corrects
// itself when the number is reused, and at report time (ForgetStale).
//
// Hook context: OnFdCreated(), OnFdClosing(), OnFdRangeClosing() and
// OnFdCreateFailed() run inside the host's open/close calls, possibly from
// signal handlers and before constructors: no allocation (chunks come from
// mmap), no locks, initial-exec TLS only, errno preserved. Everything else
// runs outside hook context.

#ifndef CPPROF_SRC_PROFILES_FD_FD_RECORDS_H_
#define CPPROF_SRC_PROFILES_FD_FD_RECORDS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/config.h"

namespace cpprof {
namespace internal {
class StackTable;
namespace fd {

// The call that created a descriptor (the `api` label).
enum class FdApi : uint8_t {
  kNone = 0,
  kOpen, kCreat, kSocket, kSocketpair, kAccept, kPipe, kDup, kFcntlDup, kEventfd, kTimerfd, kSignalfd,
  kEpoll, kInotify, kMemfd, kPidfd, kFanotify, kRecvmsg, kFopen, kFreopen, kTmpfile, kMkstemp, kOpendir,
  kPopen, kShmOpen, kPosixOpenpt, kCount
};
const char* FdApiName(FdApi api);

constexpr int kFdStackDepth = 48;
constexpr int kMaxTrackedFd = 1 << 20;

// Hook context -------------------------------------------------------------
// After a call created `fd` (>= 0). Records it when tracking is on.
CPPROF_SIGNAL_SAFE void OnFdCreated(int fd, FdApi api);
// Before the real close of `fd`.
CPPROF_SIGNAL_SAFE void OnFdClosing(int fd);
// Before closing every descriptor in [first, last] (close_range, closefrom).
CPPROF_SIGNAL_SAFE void OnFdRangeClosing(unsigned first, unsigned last);
// A creating call failed with `err` (EMFILE and ENFILE are counted).
CPPROF_SIGNAL_SAFE void OnFdCreateFailed(int err);

// True while this thread runs with a private descriptor table (cpprof's
// endpoint threads, base/private_fd_table.h): its numbers are not the
// host's, so the hooks forward without recording.
// (Declared here for the hooks; defined with the private table.)

// Control ------------------------------------------------------------------
// Creates the stack table and starts recording (idempotent). Needs the
// unwind tables (StartUnwindRefresher) for stacks without frame pointers.
void StartFdTracking();
bool FdTrackingActive();
// Turns recording off (hooks forward and count only) or back on; for the
// benchmarks' "hooked idle" case and tests.
void SetFdRecording(bool on);

struct FdCounters {
  std::atomic<uint64_t> created{0};       // descriptors created through a hook
  std::atomic<uint64_t> closed{0};        // closes through a hook of a recorded descriptor
  std::atomic<uint64_t> emfile{0};        // creating calls that failed with EMFILE
  std::atomic<uint64_t> enfile{0};        // ... with ENFILE
  std::atomic<uint64_t> high_fds{0};      // descriptors created with a number >= 1024
  std::atomic<uint64_t> untracked{0};     // numbers beyond kMaxTrackedFd, or no chunk memory
  std::atomic<int> highest_fd{-1};        // highest number a hook saw created
};
FdCounters& GetFdCounters();

// One recorded descriptor.
struct FdRecord {
  int fd = -1;
  FdApi api = FdApi::kNone;
  long slot = -1;                // creation stack in FdStackTable(), -1 if it could not be stored
  int64_t created_unix_ns = 0;
  uint64_t word = 0;             // the raw record, for ForgetStale
};

// Calls fn(record, context) for every recorded descriptor, by number
// (allocates nothing: this file's code is all hook-world code).
void ForEachFdRecord(void (*fn)(const FdRecord& record, void* context), void* context);
// Clears `record` if it is still in place (a descriptor closed without a
// hook), giving its stack's live count back. Returns true if it was cleared.
bool ForgetFdRecord(const FdRecord& record);
// The stack table (values: 0 live descriptors, 1 created), or null before
// StartFdTracking().
const StackTable* FdStackTable();
size_t FdRecordsMemoryBytes();

}  // namespace fd
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_FD_FD_RECORDS_H_
