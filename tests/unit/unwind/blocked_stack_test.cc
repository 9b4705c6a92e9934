// SPDX-License-Identifier: Apache-2.0
//
// UnwindBlockedThread on another thread blocked in read(), seeded only with
// the sp/pc /proc/self/task/TID/syscall shows: through code without frame
// pointers (no guess needed) and with a frame-pointer caller of read()
// whose rbp the kernel does not show (the guess finds it). Both reach the
// thread's entry (clone3: RA undefined) through every recursion level.

#include "unwind/blocked_stack.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <doctest/doctest.h>

#include "base/thread_list.h"
#include "no_frame_pointer_code.h"
#include "unwind/unwinder.h"
#include "wait_for.h"

// Whether the guess is needed depends on the read() the thread calls:
// ASan's interceptor keeps a frame pointer (and a frame of more than 2 KiB),
// so there even the walk through code without frame pointers needs it;
// TSan's interceptor saves rbp where CFI shows it, so neither walk needs it.
enum class Guess { kAsExpected, kAlways, kUnchecked };
#if defined(__SANITIZE_ADDRESS__)
constexpr Guess kGuess = Guess::kAlways;
#elif defined(__SANITIZE_THREAD__)
constexpr Guess kGuess = Guess::kUnchecked;
#else
constexpr Guess kGuess = Guess::kAsExpected;
#endif

namespace cpprof_test {
namespace {

using namespace cpprof::internal;

int g_pipe[2];

// Blocks in read(); built with a frame pointer like the rest of this file.
__attribute__((noinline)) void ReadWithFramePointer(void*) {
  char c;
  (void)!read(g_pipe[0], &c, 1);
  asm volatile("" ::: "memory");
}

// The same without one.
__attribute__((noinline, optimize("omit-frame-pointer"))) void ReadWithoutFramePointer(void*) {
  char c;
  (void)!read(g_pipe[0], &c, 1);
  asm volatile("" ::: "memory");
}

void CheckBlockedWalk(Hook hook, bool expect_guess) {
  RefreshUnwindTables();
  REQUIRE(pipe2(g_pipe, O_CLOEXEC) == 0);
  std::atomic<pid_t> tid{0};
  std::thread t([&] {
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    RecurseWithoutFramePointers(6, hook, nullptr);
  });
  REQUIRE(WaitFor([&] { return tid.load() != 0; }));
  ThreadSyscall s;
  REQUIRE(WaitFor([&] {
    s = ReadThreadSyscall(tid);
    return s.blocked && s.number == SYS_read;
  }));
  uintptr_t pcs[128];
  BlockedStack b = UnwindBlockedThread(s.pc, s.sp, pcs, 128);
  CHECK(ReadThreadSyscall(tid).sp == s.sp);  // still blocked: a consistent snapshot
  CHECK(b.complete);
  if (kGuess != Guess::kUnchecked) CHECK(b.fp_guessed == (expect_guess || kGuess == Guess::kAlways));
  // read, the hook, 7 recursion levels, the lambda and std::thread, start_thread, clone3.
  CHECK(b.depth >= 12);
  CHECK(write(g_pipe[1], "x", 1) == 1);
  t.join();
  close(g_pipe[0]);
  close(g_pipe[1]);
}

TEST_CASE("blocked thread without frame pointers: complete from sp/pc alone") {
  CheckBlockedWalk(ReadWithoutFramePointer, false);
}

TEST_CASE("blocked thread whose caller of read() needs rbp: the guess completes it") {
  CheckBlockedWalk(ReadWithFramePointer, true);
}

TEST_CASE("garbage registers never fault") {
  uintptr_t pcs[64];
  for (uintptr_t sp : {uintptr_t{0}, uintptr_t{8}, ~uintptr_t{0} - 4096, uintptr_t{0x12345678}}) {
    BlockedStack b = UnwindBlockedThread(0x1000, sp, pcs, 64);
    CHECK(b.depth >= 1);
    CHECK(pcs[0] == 0x1000);
  }
}

}  // namespace
}  // namespace cpprof_test
