// SPDX-License-Identifier: Apache-2.0
//
// Frame-pointer stepping (signal context). Used by the CFI walker for code
// without CFI rows (JIT code, stripped .eh_frame) and on its own on
// architectures where CFI is not implemented (aarch64), and by benchmarks.

#ifndef CPPROF_SRC_UNWIND_FRAME_POINTER_UNWINDER_H_
#define CPPROF_SRC_UNWIND_FRAME_POINTER_UNWINDER_H_

#include <cstdint>

#include "base/config.h"
#include "base/safe_load.h"
#include "unwind/machine_context.h"

namespace cpprof {
namespace internal {

// Largest distance from sp to the frame pointer we accept for one frame.
constexpr uintptr_t kMaxFrameSize = uintptr_t{1} << 20;

enum class FpStep { kOk, kEnd, kBadChain, kBadRead };

// Signal-safe. Replaces *regs with the caller's (pc = return address) using
// the frame record at regs->fp: [fp] = caller's fp, [fp + 8] = return
// address. kEnd when fp is 0 (the conventional end of the chain).
CPPROF_SIGNAL_SAFE FpStep FramePointerStep(UnwindRegs* regs, SafeLoadCache* cache);

// Signal-safe. A pure frame-pointer walk (no CFI), same output convention as
// CaptureStack: pcs[0] = pc, then return addresses. Stops at the end of the
// chain, on a bad chain or at max_depth.
CPPROF_SIGNAL_SAFE int CaptureStackFramePointers(uintptr_t pc, uintptr_t sp, uintptr_t fp,
                                                 uintptr_t* pcs, int max_depth);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_UNWIND_FRAME_POINTER_UNWINDER_H_
