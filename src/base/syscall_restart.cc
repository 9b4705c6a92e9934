// SPDX-License-Identifier: Apache-2.0
//
// Signal context: RestartInterruptedSyscall (see the header). Reads the
// interrupted code with SafeLoad, edits the ucontext; nothing else.

#include "base/syscall_restart.h"

#include <ucontext.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "base/safe_load.h"

namespace cpprof {
namespace internal {

#if defined(__x86_64__)
CPPROF_SIGNAL_SAFE SyscallRestart RestartInterruptedSyscall(void* ucontext) {
  auto* uc = static_cast<ucontext_t*>(ucontext);
  greg_t* g = uc->uc_mcontext.gregs;
  if (g[REG_RAX] != -EINTR) return SyscallRestart::kNotInterrupted;
  const uintptr_t rip = static_cast<uintptr_t>(g[REG_RIP]);
  SafeLoadCache cache;
  uintptr_t before = 0;  // the 8 bytes ending at rip
  if (rip < 8 || !SafeLoad(rip - 8, &before, &cache)) return SyscallRestart::kNotInterrupted;
  const uint8_t* b = reinterpret_cast<const uint8_t*>(&before);  // b[7] = byte at rip-1
  if (b[6] != 0x0f || b[7] != 0x05) return SyscallRestart::kNotInterrupted;  // not right after `syscall`
  if (b[1] != 0xb8) return SyscallRestart::kEintrCaused;                     // no `mov $imm32, %eax` before it
  int32_t nr;
  memcpy(&nr, b + 2, sizeof(nr));
  g[REG_RAX] = nr;
  g[REG_RIP] = static_cast<greg_t>(rip - 2);
  return SyscallRestart::kRestarted;
}
#else
CPPROF_SIGNAL_SAFE SyscallRestart RestartInterruptedSyscall(void*) { return SyscallRestart::kNotInterrupted; }
#endif

}  // namespace internal
}  // namespace cpprof
