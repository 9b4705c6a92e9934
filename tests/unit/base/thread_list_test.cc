// SPDX-License-Identifier: Apache-2.0
//
// The /proc readers of thread_list.h on a thread blocked in read() on a
// pipe: its system call, first argument, stack and instruction pointers,
// schedstat, wait channel, last-ran stamp and CPU clock; "running" for the
// calling thread.

#include "base/thread_list.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include <doctest/doctest.h>

#include "wait_for.h"

namespace cpprof_test {
namespace {

using namespace cpprof::internal;

TEST_CASE("a thread blocked in read: syscall, args, sp/pc, schedstat, wchan, CPU time") {
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  std::atomic<pid_t> tid{0};
  std::thread reader([&] {
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    char c;
    (void)!read(p[0], &c, 1);
  });
  REQUIRE(WaitFor([&] { return tid.load() != 0; }));
  ThreadSyscall s;
  REQUIRE(WaitFor([&] {
    s = ReadThreadSyscall(tid);
    return s.blocked && s.number == SYS_read;
  }));
  CHECK(s.error == 0);
  CHECK(s.args[0] == static_cast<uintptr_t>(p[0]));
  CHECK(s.sp != 0);
  CHECK(s.pc != 0);
  std::vector<pid_t> tids = ListTasks();
  CHECK(std::find(tids.begin(), tids.end(), tid.load()) != tids.end());
  ThreadSchedstat st;
  CHECK(ReadThreadSchedstat(tid, &st));
  CHECK(st.slices > 0);
  CHECK(ReadThreadState(tid) == 'S');
  CHECK_FALSE(ReadThreadWchan(tid).empty());
  CHECK(ReadThreadCpuNanos(tid) >= 0);
  // A blocked thread does not run: when it last ran stays put. (Not compared
  // with the caller's value: each CPU's run-queue clock is its own, and the
  // caller may have been running since before the reader last ran.)
  const int64_t last_ran = ReadThreadLastRanNs(tid);
  if (last_ran >= 0) {
    CHECK(last_ran > 0);
    timespec ts{0, 5000000};
    nanosleep(&ts, nullptr);
    if (ReadThreadSyscall(tid).sp == s.sp) CHECK(ReadThreadLastRanNs(tid) == last_ran);
  }
  CHECK(write(p[1], "x", 1) == 1);
  reader.join();
  close(p[0]);
  close(p[1]);
}

TEST_CASE("the calling thread reads itself in read(); a gone thread gives an error") {
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  ThreadSyscall s = ReadThreadSyscall(self);
  CHECK(s.error == 0);
  CHECK(s.number == SYS_read);  // the read of the file itself
  ThreadSyscall gone = ReadThreadSyscall(0x3ffffff0);
  CHECK_FALSE(gone.blocked);
  CHECK(gone.error != 0);
  CHECK(ReadThreadCpuNanos(self) > 0);
}

}  // namespace
}  // namespace cpprof_test
