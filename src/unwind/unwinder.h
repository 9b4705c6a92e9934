// SPDX-License-Identifier: Apache-2.0
//
// Stack capture for profilers.
//
//   RefreshUnwindTables()  NOT signal context: (re)builds compact CFI tables
//                          from every loaded module's .eh_frame (and a map of
//                          readable memory), publishes them, retires old ones.
//   CaptureStack()         Signal context: walks the interrupted stack with the
//                          published tables, frame pointers as fallback, with
//                          bounded fault-free reads. No allocation, no locks,
//                          no dl_iterate_phdr, no libunwind/libgcc.
//
// pcs[0] is the interrupted PC; pcs[1..] are return addresses (callers).

#ifndef CPPROF_SRC_UNWIND_UNWINDER_H_
#define CPPROF_SRC_UNWIND_UNWINDER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/config.h"

namespace cpprof {
namespace internal {

// Counters the unwinder keeps (all relaxed atomics; read by the stats page).
struct UnwindCounters {
  std::atomic<uint64_t> stacks{0};          // CaptureStack calls
  std::atomic<uint64_t> cfi_frames{0};      // frames stepped with CFI rows
  std::atomic<uint64_t> fp_frames{0};       // frames stepped with frame pointers
  std::atomic<uint64_t> truncated{0};       // stacks that ended before a thread entry
  std::atomic<uint64_t> bad_reads{0};       // reads refused as outside readable memory
};
UnwindCounters& GetUnwindCounters();

// Not signal-safe. Builds or refreshes the tables for all loaded modules.
// Cheap when nothing changed (compares dl_iterate_phdr's adds/subs counters).
// Returns false if no table could be built (CaptureStack then uses frame
// pointers only). Thread-safe (serialised internally).
bool RefreshUnwindTables();

// Not signal-safe. Frees tables retired by earlier refreshes once no
// CaptureStack can still be using them. Call when profiling stops.
void ReleaseRetiredUnwindTables();

// Bytes held by unwind tables and memory maps (for cpprof's own cost).
size_t UnwindTablesBytes();

// Cap on the unwind tables (Options::unwind_table_max_bytes). A module whose
// table would go past it, in load order, gets none: its frames are walked
// with frame pointers only, and it is counted. Applies to tables built from
// then on. Thread-safe.
constexpr size_t kDefaultUnwindTablesMaxBytes = size_t{256} << 20;
void SetUnwindTablesMaxBytes(size_t bytes);
uint64_t UnwindModulesOverCap();

// Signal context. `ucontext` is the handler's third argument. Returns the
// number of PCs written (>= 1 unless ucontext is null), at most max_depth.
CPPROF_SIGNAL_SAFE int CaptureStack(const void* ucontext, uintptr_t* pcs, int max_depth);

// How a walk ended, for callers that retry with other registers.
struct UnwindEnd {
  bool complete = false;  // reached a thread entry (RA undefined), RA 0 or fp 0
  bool at_entry = false;  // reached a thread entry: CFI marks the RA undefined (_start, clone3)
  uintptr_t stop_sp = 0;  // sp of the last frame reached
};

// Signal-safe. Same walk from explicit registers (for threads blocked in a
// syscall: pc and sp from /proc/self/task/TID/syscall, fp unknown = 0).
// `end`, when not null, tells how the walk ended.
CPPROF_SIGNAL_SAFE int CaptureStackFrom(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t* pcs,
                                        int max_depth, UnwindEnd* end = nullptr);

// Signal-safe. Whether `ra` follows a call instruction, as a return address
// does (x86_64: call rel32, call *reg, call *disp8(reg), call *disp32(reg|rip));
// elsewhere every address passes. Reads the code bytes with SafeLoad.
struct SafeLoadCache;
CPPROF_SIGNAL_SAFE bool FollowsCallInstruction(uintptr_t ra, SafeLoadCache* cache);

// Signal-safe, and meant for hooks (malloc, locks, open) on the calling
// thread. Walks the calling thread's own stack from the caller of
// CaptureCurrentStack: pcs[0] is the return address into that caller, every
// entry is a return address (symbolize as a caller frame). Uses the
// published tables like CaptureStack; never allocates, locks or calls
// dl_iterate_phdr, so it is safe inside malloc. Returns the number of PCs.
CPPROF_SIGNAL_SAFE int CaptureCurrentStack(uintptr_t* pcs, int max_depth);

// A hook's own code: the ELF section its functions are placed in, so that a
// stack captured inside the hook can drop the hook's frames by address,
// whatever the compiler inlined, and start at the hook's caller. The linker
// defines __start_NAME / __stop_NAME for a section whose name is a C
// identifier; each copy of cpprof (static library, libcpprof.so, preload
// module) has its own. Declare them once per file with
// CPPROF_DECLARE_CODE_SECTION(NAME) and name the range with
// CPPROF_CODE_SECTION(NAME).
struct CodeSection {
  uintptr_t lo;
  uintptr_t hi;
  CPPROF_SIGNAL_SAFE bool Contains(uintptr_t pc) const { return pc >= lo && pc < hi; }
};
#define CPPROF_DECLARE_CODE_SECTION(name)                                          \
  extern "C" {                                                                     \
  extern const char __start_##name[] __attribute__((weak, visibility("hidden"))); \
  extern const char __stop_##name[] __attribute__((weak, visibility("hidden")));  \
  }
#define CPPROF_CODE_SECTION(name)                                    \
  (::cpprof::internal::CodeSection{reinterpret_cast<uintptr_t>(__start_##name), \
                                   reinterpret_cast<uintptr_t>(__stop_##name)})

// Signal-safe. How many of the first frames of pcs[0..depth) lie in
// `hooks`; at least one frame is always left.
CPPROF_SIGNAL_SAFE inline int LeadingFramesIn(CodeSection hooks, const uintptr_t* pcs, int depth) {
  int skip = 0;
  while (skip < depth - 1 && hooks.Contains(pcs[skip])) ++skip;
  return skip;
}

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_UNWIND_UNWINDER_H_
