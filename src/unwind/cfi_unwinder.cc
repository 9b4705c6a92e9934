// SPDX-License-Identifier: Apache-2.0
//
// Signal context: everything in this file (CaptureStack, CaptureStackFrom,
// FindModule, FindRow, LookupRow and its row cache). No allocation, locks,
// libc calls beyond raw syscalls inside SafeLoad, no TLS except initial-exec.
//
// Walk (x86_64): for each frame, find the module holding pc (binary search
// over the published CfiTableSet), then the CFI row (binary search). Callers'
// frames look up pc - 1, because a return address may already belong to the
// next function after a noreturn call. Rules:
//   kCfaSp/kCfaFp  CFA = rsp/rbp + off; RA at CFA + ra_off; rbp restored from
//                  CFA + fp_off unless unchanged; caller's rsp = CFA.
//   kCfaPlt        GNU PLT: CFA = rsp + 8 (+8 once the PLT0 push happened).
//   kCfaSignal     glibc's __restore_rt: the interrupted registers are in the
//                  ucontext_t at rsp; the next pc is exact (no -1).
//   kCfaEnd        RA undefined (_start, clone3): the stack is complete.
//   otherwise      no CFI (JIT, gaps, unsupported rules): frame-pointer rule.
// Stops on a read outside readable memory, rsp not increasing, RA outside
// executable code or max_depth; only kCfaEnd, RA == 0 or fp == 0 count as a
// complete stack, anything else bumps `truncated`.
//
// Other architectures: no CFI tables are built, so every step takes the
// frame-pointer rule (aarch64 CFI unwinding is not done).

#include <stddef.h>
#include <ucontext.h>

#include "base/safe_load.h"
#include "unwind/cfi_table.h"
#include "unwind/frame_pointer_unwinder.h"
#include "unwind/machine_context.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {

UnwindCounters& GetUnwindCounters() {
  static UnwindCounters counters;  // constant-initialised atomics
  return counters;
}

CPPROF_SIGNAL_SAFE const ModuleEntry* FindModule(const CfiTableSet* set, uintptr_t pc) {
  if (set == nullptr) return nullptr;
  const ModuleEntry* lo = set->entries.data();
  size_t n = set->entries.size();
  while (n > 0) {  // last entry with entry.lo <= pc
    size_t half = n / 2;
    if (lo[half].lo <= pc) {
      lo += half + 1;
      n -= half + 1;
    } else {
      n = half;
    }
  }
  if (lo == set->entries.data()) return nullptr;
  --lo;
  return pc < lo->hi ? lo : nullptr;
}

CPPROF_SIGNAL_SAFE const CfiRow* FindRow(const ModuleEntry& module, uintptr_t pc) {
  if (pc < module.bias || pc - module.bias > UINT32_MAX || module.count == 0) return nullptr;
  uint32_t off = static_cast<uint32_t>(pc - module.bias);
  const CfiRow* lo = module.rows;
  size_t n = module.count;
  size_t page = off >> kPageShift;
  if (module.pages != nullptr && page < module.page_count) {
    // Only the rows between this page's first row and the next page's.
    size_t first = module.pages[page];
    size_t last = page + 1 < module.page_count ? module.pages[page + 1] + 1 : module.count;
    lo = module.rows + first;
    n = last - first;
  }
  while (n > 0) {  // last row with row.pc <= off
    size_t half = n / 2;
    if (lo[half].pc <= off) {
      lo += half + 1;
      n -= half + 1;
    } else {
      n = half;
    }
  }
  if (lo == module.rows || lo[-1].pc > off) return nullptr;
  return lo - 1;
}

// Packed row, low half of a row-cache word:
//   bit 31 set (an empty entry is all zero)   bits 28-30 rule
//   bits 24-27 ra_offset / 8 (signed)          bits 16-23 fp_offset / 8 (signed; 0x80 = kFpSame)
//   bits 0-15  cfa_offset (signed)
// A rule of kCfaNone records that no row covers the offset.
namespace {
constexpr uint32_t kPackedValid = 1u << 31;
constexpr uint32_t kPackedFpSame = 0x80;
}  // namespace

CPPROF_SIGNAL_SAFE bool PackRow(const CfiRow* row, uint32_t* packed) {
  if (row == nullptr) {
    *packed = kPackedValid | (uint32_t{kCfaNone} << 28);
    return true;
  }
  if (row->rule > kCfaNone || row->ra_offset % 8 != 0 || row->ra_offset < -64 || row->ra_offset > 56 ||
      row->cfa_offset < INT16_MIN || row->cfa_offset > INT16_MAX) {
    return false;
  }
  uint32_t fp;
  if (row->fp_offset == kFpSame) {
    fp = kPackedFpSame;
  } else {
    if (row->fp_offset % 8 != 0 || row->fp_offset < -127 * 8 || row->fp_offset > 127 * 8) return false;
    fp = static_cast<uint8_t>(static_cast<int8_t>(row->fp_offset / 8));
  }
  *packed = kPackedValid | (uint32_t{row->rule} << 28) |
            ((static_cast<uint32_t>(row->ra_offset / 8) & 0xf) << 24) | (fp << 16) |
            static_cast<uint16_t>(static_cast<int16_t>(row->cfa_offset));
  return true;
}

CPPROF_SIGNAL_SAFE bool UnpackRow(uint32_t packed, CfiRow* row) {
  uint8_t rule = static_cast<uint8_t>((packed >> 28) & 7);
  if (rule == kCfaNone) return false;
  row->pc = 0;  // not kept: callers want the rule
  row->rule = rule;
  row->ra_offset = static_cast<int8_t>(static_cast<int8_t>(((packed >> 24) & 0xf) << 4) >> 4) * 8;
  uint32_t fp = (packed >> 16) & 0xff;
  row->fp_offset = fp == kPackedFpSame ? kFpSame : static_cast<int16_t>(static_cast<int8_t>(fp) * 8);
  row->cfa_offset = static_cast<int16_t>(packed & 0xffff);
  return true;
}

CPPROF_SIGNAL_SAFE bool LookupRow(const ModuleEntry& module, uintptr_t pc, CfiRow* row) {
  std::atomic<uint64_t>* entry = nullptr;
  uint32_t off = 0;
  if (module.row_cache != nullptr && pc >= module.bias && pc - module.bias <= UINT32_MAX) {
    off = static_cast<uint32_t>(pc - module.bias);
    entry = &module.row_cache[(off * 0x9E3779B1u) >> (32 - module.row_cache_bits)];
    const uint64_t word = entry->load(std::memory_order_relaxed);
    if ((word >> 32) == off && (word & kPackedValid) != 0) return UnpackRow(static_cast<uint32_t>(word), row);
  }
  const CfiRow* found = FindRow(module, pc);
  if (found != nullptr && found->rule == kCfaNone) found = nullptr;  // a gap: same as no row
  uint32_t packed;
  if (entry != nullptr && PackRow(found, &packed)) {
    entry->store((uint64_t{off} << 32) | packed, std::memory_order_relaxed);
  }
  if (found == nullptr) return false;
  *row = *found;
  return true;
}

namespace {

enum class Step { kOk, kEnd, kStop, kBadRead };

struct WalkStats {
  uint64_t cfi = 0;
  uint64_t fp = 0;
  uint64_t bad_reads = 0;
};

#if defined(__x86_64__)
constexpr uintptr_t kUcGregs = offsetof(ucontext_t, uc_mcontext.gregs);
#endif

// One CFI step; regs becomes the caller's frame. *exact says whether the new
// pc is an exact PC (after a signal frame) rather than a return address.
CPPROF_SIGNAL_SAFE Step CfiStep(const CfiRow& row, UnwindRegs* regs, bool* exact,
                                SafeLoadCache* cache) {
  uintptr_t cfa;
  switch (row.rule) {
    case kCfaSp: cfa = regs->sp + static_cast<uintptr_t>(row.cfa_offset); break;
    case kCfaFp: cfa = regs->fp + static_cast<uintptr_t>(row.cfa_offset); break;
    case kCfaPlt:
      cfa = regs->sp + 8 + ((regs->pc & 15) >= static_cast<uintptr_t>(row.cfa_offset) ? 8 : 0);
      break;
#if defined(__x86_64__)
    case kCfaSignal: {
      uintptr_t g = regs->sp + kUcGregs, pc, sp, fp;
      if (!SafeLoad(g + REG_RIP * 8, &pc, cache) || !SafeLoad(g + REG_RSP * 8, &sp, cache) ||
          !SafeLoad(g + REG_RBP * 8, &fp, cache)) {
        return Step::kBadRead;
      }
      if (sp == regs->sp) return Step::kStop;
      regs->pc = pc;
      regs->sp = sp;
      regs->fp = fp;
      *exact = true;
      return Step::kOk;
    }
#endif
    default: return Step::kStop;
  }
  if (cfa <= regs->sp) return Step::kStop;  // must move up the stack
  uintptr_t ra, fp = regs->fp;
  if (!SafeLoad(cfa + static_cast<intptr_t>(row.ra_offset), &ra, cache)) return Step::kBadRead;
  if (row.fp_offset != kFpSame && !SafeLoad(cfa + static_cast<intptr_t>(row.fp_offset), &fp, cache)) {
    return Step::kBadRead;
  }
  regs->pc = ra;
  regs->sp = cfa;
  regs->fp = fp;
  *exact = false;
  return Step::kOk;
}

CPPROF_SIGNAL_SAFE int Walk(UnwindRegs regs, SafeLoadCache* cache, uintptr_t* pcs, int max_depth,
                            bool first_is_return_address = false, UnwindEnd* end = nullptr) {
  UnwindCounters& counters = GetUnwindCounters();
  counters.stacks.fetch_add(1, std::memory_order_relaxed);
  if (max_depth <= 0) return 0;
  ReaderSection section;  // keeps the table set (and memory snapshot) alive
  const CfiTableSet* set = CurrentCfiTables();
  WalkStats stats;
  int n = 0;
  pcs[n++] = regs.pc;
  bool exact = !first_is_return_address;
  bool complete = false;
  bool at_entry = false;
  const ModuleEntry* module = FindModule(set, regs.pc);
  while (n < max_depth) {
    uintptr_t lookup = exact ? regs.pc : regs.pc - 1;
    CfiRow row;
    uint8_t rule = module != nullptr && LookupRow(*module, lookup, &row) ? row.rule
                                                                          : static_cast<uint8_t>(kCfaNone);
    UnwindRegs prev = regs;
    Step step;
    if (rule == kCfaEnd) {
      complete = true;
      at_entry = true;
      break;
    } else if (rule == kCfaSp || rule == kCfaFp || rule == kCfaPlt || rule == kCfaSignal) {
      step = CfiStep(row, &regs, &exact, cache);
      ++stats.cfi;
    } else {
      FpStep fs = FramePointerStep(&regs, cache);
      step = fs == FpStep::kOk ? Step::kOk
             : fs == FpStep::kEnd ? Step::kEnd
             : fs == FpStep::kBadRead ? Step::kBadRead
                                      : Step::kStop;
      exact = false;
      ++stats.fp;
    }
    if (step == Step::kEnd) {
      complete = true;
      break;
    }
    if (step == Step::kBadRead) ++stats.bad_reads;
    if (step != Step::kOk) break;
    if (regs.pc == 0) {  // outermost frame by convention
      complete = true;
      break;
    }
    if (!exact && regs.sp <= prev.sp) break;  // no progress
    uintptr_t next = exact ? regs.pc : regs.pc - 1;
    if (module == nullptr || next < module->lo || next >= module->hi) {
      module = FindModule(set, next);  // also the next iteration's module
    }
    // RA outside code. (Where the readable-ranges snapshot remembers data,
    // IsExecutableAddress marks it stale, so code mapped there since, a
    // module dlopened over old memory, is known after the next refresh.)
    if (module == nullptr && !IsExecutableAddress(next)) break;
    pcs[n++] = regs.pc;
  }
  if (stats.cfi) counters.cfi_frames.fetch_add(stats.cfi, std::memory_order_relaxed);
  if (stats.fp) counters.fp_frames.fetch_add(stats.fp, std::memory_order_relaxed);
  if (stats.bad_reads) counters.bad_reads.fetch_add(stats.bad_reads, std::memory_order_relaxed);
  if (!complete) counters.truncated.fetch_add(1, std::memory_order_relaxed);
  if (end != nullptr) {
    end->complete = complete;
    end->at_entry = at_entry;
    end->stop_sp = regs.sp;
  }
  return n;
}

}  // namespace

CPPROF_SIGNAL_SAFE int CaptureStack(const void* ucontext, uintptr_t* pcs, int max_depth) {
  UnwindRegs regs;
  if (!RegsFromUcontext(ucontext, &regs)) return 0;
  // The interrupted thread is the calling thread, so its stack stays mapped
  // for the whole walk: reads inside that mapping need no probing.
  SafeLoadCache cache;
  TrustStack(regs.sp, &cache);
  return Walk(regs, &cache, pcs, max_depth);
}

CPPROF_SIGNAL_SAFE int CaptureStackFrom(uintptr_t pc, uintptr_t sp, uintptr_t fp, uintptr_t* pcs,
                                        int max_depth, UnwindEnd* end) {
  UnwindRegs regs;
  regs.pc = pc;
  regs.sp = sp;
  regs.fp = fp;
  // Possibly another thread's stack: no trust; SafeLoad adopts the caller's
  // own stack when sp lies on it and probes page by page otherwise.
  SafeLoadCache cache;
  return Walk(regs, &cache, pcs, max_depth, false, end);
}

CPPROF_SIGNAL_SAFE __attribute__((noinline)) int CaptureCurrentStack(uintptr_t* pcs, int max_depth) {
#if defined(__x86_64__)
  // This function keeps a frame pointer (cpprof is built with
  // -fno-omit-frame-pointer): rbp points at the saved caller rbp, the return
  // address is above it, and the caller's rsp after the return is rbp + 16.
  const uintptr_t* frame = static_cast<const uintptr_t*>(__builtin_frame_address(0));
  UnwindRegs regs;
  regs.pc = frame[1];
  regs.sp = reinterpret_cast<uintptr_t>(frame) + 16;
  regs.fp = frame[0];
  SafeLoadCache cache;
  TrustStack(regs.sp, &cache);
  return Walk(regs, &cache, pcs, max_depth, /*first_is_return_address=*/true);
#else
  // aarch64: the frame record has the same shape ([fp] = caller fp, [fp + 8] = lr).
  const uintptr_t* frame = static_cast<const uintptr_t*>(__builtin_frame_address(0));
  return CaptureStackFramePointers(frame[1], reinterpret_cast<uintptr_t>(frame) + 16, frame[0], pcs,
                                   max_depth);
#endif
}

CPPROF_SIGNAL_SAFE bool FollowsCallInstruction(uintptr_t ra, SafeLoadCache* cache) {
#if defined(__x86_64__)
  uintptr_t word = 0;
  if (ra < 8 || !SafeLoad(ra - 8, &word, cache)) return false;
  const uint8_t* b = reinterpret_cast<const uint8_t*>(&word);  // b[7] is the byte at ra - 1
  auto indirect = [](uint8_t opcode, uint8_t modrm) { return opcode == 0xff && (modrm & 0x38) == 0x10; };
  return b[3] == 0xe8 || indirect(b[6], b[7]) || indirect(b[5], b[6]) || indirect(b[2], b[3]);
#else
  (void)ra;
  (void)cache;
  return true;
#endif
}

}  // namespace internal
}  // namespace cpprof
