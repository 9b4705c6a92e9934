// SPDX-License-Identifier: Apache-2.0
//
// Signal context: everything in this file. Reads go through SafeLoad; the
// chain must move strictly up the stack, so a loop in a corrupt chain ends.

#include "unwind/frame_pointer_unwinder.h"

namespace cpprof {
namespace internal {

CPPROF_SIGNAL_SAFE FpStep FramePointerStep(UnwindRegs* regs, SafeLoadCache* cache) {
  uintptr_t fp = regs->fp;
  if (fp == 0) return FpStep::kEnd;
  if ((fp & (sizeof(uintptr_t) - 1)) != 0 || fp < regs->sp || fp - regs->sp > kMaxFrameSize) {
    return FpStep::kBadChain;
  }
  uintptr_t caller_fp, ra;
  if (!SafeLoad(fp, &caller_fp, cache) || !SafeLoad(fp + sizeof(uintptr_t), &ra, cache)) {
    return FpStep::kBadRead;
  }
  regs->pc = ra;
  regs->sp = fp + 2 * sizeof(uintptr_t);
  regs->fp = caller_fp;
  return FpStep::kOk;
}

CPPROF_SIGNAL_SAFE int CaptureStackFramePointers(uintptr_t pc, uintptr_t sp, uintptr_t fp,
                                                 uintptr_t* pcs, int max_depth) {
  if (max_depth <= 0) return 0;
  SafeLoadCache cache;  // adopts the caller's own stack on first read, else probes
  UnwindRegs regs;
  regs.pc = pc;
  regs.sp = sp;
  regs.fp = fp;
  int n = 0;
  pcs[n++] = pc;
  while (n < max_depth) {
    if (FramePointerStep(&regs, &cache) != FpStep::kOk || regs.pc < 4096) break;
    pcs[n++] = regs.pc;
  }
  return n;
}

}  // namespace internal
}  // namespace cpprof
