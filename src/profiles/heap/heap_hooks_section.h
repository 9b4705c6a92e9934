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
#include "unwind/unwinder.h"

#define CPPROF_HOOK_SECTION __attribute__((section("cpprof_alloc_hooks"), noinline))

CPPROF_DECLARE_CODE_SECTION(cpprof_alloc_hooks)

namespace cpprof {
namespace internal {
namespace heap {

CPPROF_SIGNAL_SAFE inline CodeSection HookSection() { return CPPROF_CODE_SECTION(cpprof_alloc_hooks); }
CPPROF_SIGNAL_SAFE inline bool InHookSection(uintptr_t pc) { return HookSection().Contains(pc); }

}  // namespace heap
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_HEAP_HEAP_HOOKS_SECTION_H_
