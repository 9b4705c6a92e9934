// SPDX-License-Identifier: Apache-2.0
//
// The interposed allocation functions and the sampler's slow path are
// placed in one ELF section, so a captured allocation stack can drop
// cpprof's own frames by address (whatever the compiler inlined) and keep
// the caller of malloc/new as its first frame. The linker defines
// __start_/__stop_ symbols for a section whose name is a C identifier; each
// copy of cpprof (static library in an executable, libcpprof.so, the preload
// module) has its own.
//
// Hook/signal context: InHookSection is two compares.

#ifndef CPPROF_SRC_PROFILES_HEAP_HEAP_HOOKS_SECTION_H_
#define CPPROF_SRC_PROFILES_HEAP_HEAP_HOOKS_SECTION_H_

#include <cstdint>

#include "base/config.h"

#define CPPROF_HOOK_SECTION __attribute__((section("cpprof_alloc_hooks"), noinline))

extern "C" {
extern const char __start_cpprof_alloc_hooks[] __attribute__((weak, visibility("hidden")));
extern const char __stop_cpprof_alloc_hooks[] __attribute__((weak, visibility("hidden")));
}

namespace cpprof {
namespace internal {
namespace heap {

CPPROF_SIGNAL_SAFE inline bool InHookSection(uintptr_t pc) {
  return pc >= reinterpret_cast<uintptr_t>(__start_cpprof_alloc_hooks) &&
         pc < reinterpret_cast<uintptr_t>(__stop_cpprof_alloc_hooks);
}

}  // namespace heap
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_HEAP_HOOKS_SECTION_H_
