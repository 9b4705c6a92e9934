// SPDX-License-Identifier: Apache-2.0
//
// Stacks of threads that are blocked in the kernel, read without any signal
// from the stack and instruction pointers /proc/self/task/TID/syscall shows
// (the thread does not run while it is read; a caller re-checks that).
//
// The walk starts with the frame pointer unknown. Code without frame
// pointers needs none (its CFA rules are rsp-based), but in a
// -fno-omit-frame-pointer build the first caller of the libc wrapper
// computes its CFA from rbp, which was still live in the register when the
// thread entered the kernel and is not saved anywhere /proc shows. Then the
// frame pointer is guessed: from the stack pointer where the walk stopped,
// every slot X of the next 8 KiB with [X + 8] a return address (executable,
// right after a call instruction) is tried as rbp, in address order; the
// first guess that walks to a thread entry wins, otherwise the deepest
// walk. [X] (the caller's rbp) is not checked: a caller built without frame
// pointers may hold anything in rbp. A wrong guess cannot fault (every read
// is fault-free) and is only kept when nothing better was found.
//
// Not signal context (uses a stack buffer of max_depth words); thread-safe.

#ifndef CPPROF_SRC_UNWIND_BLOCKED_STACK_H_
#define CPPROF_SRC_UNWIND_BLOCKED_STACK_H_

#include <cstdint>

namespace cpprof {
namespace internal {

struct BlockedStack {
  int depth = 0;           // PCs written
  bool complete = false;   // the walk ended at a thread entry (or outermost frame)
  bool fp_guessed = false; // a frame-pointer guess was needed
};

// pc and sp as /proc/self/task/TID/syscall gives them. pcs[0] = pc, then
// return addresses. At most max_depth (<= 256) PCs.
BlockedStack UnwindBlockedThread(uintptr_t pc, uintptr_t sp, uintptr_t* pcs, int max_depth);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_UNWIND_BLOCKED_STACK_H_
