// SPDX-License-Identifier: Apache-2.0
//
// Register state a stack walk needs, and how to get it from a signal
// handler's ucontext. Signal-safe (plain field reads).
//
// x86_64 is complete (CFI + frame pointers). aarch64 reads pc/sp/x29 so the
// frame-pointer walk works there; CFI unwinding for aarch64 is not done.

#ifndef CPPROF_SRC_UNWIND_MACHINE_CONTEXT_H_
#define CPPROF_SRC_UNWIND_MACHINE_CONTEXT_H_

#include <ucontext.h>

#include <cstdint>

#include "base/config.h"

namespace cpprof {
namespace internal {

struct UnwindRegs {
  uintptr_t pc = 0;
  uintptr_t sp = 0;
  uintptr_t fp = 0;
};

CPPROF_SIGNAL_SAFE inline bool RegsFromUcontext(const void* ucontext, UnwindRegs* regs) {
  if (ucontext == nullptr) return false;
  const auto* uc = static_cast<const ucontext_t*>(ucontext);
#if defined(__x86_64__)
  regs->pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  regs->sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  regs->fp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RBP]);
  return true;
#elif defined(__aarch64__)
  regs->pc = static_cast<uintptr_t>(uc->uc_mcontext.pc);
  regs->sp = static_cast<uintptr_t>(uc->uc_mcontext.sp);
  regs->fp = static_cast<uintptr_t>(uc->uc_mcontext.regs[29]);
  return true;
#else
  (void)uc;
  return false;
#endif
}

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_UNWIND_MACHINE_CONTEXT_H_
