// SPDX-License-Identifier: Apache-2.0
//
// Compact unwind tables built from each loaded module's .eh_frame.
//
// Built and refreshed in normal context (RefreshUnwindTables in
// unwinder.h); read in signal context through CurrentCfiTables(), which is
// a single atomic load. Readers must hold a ReaderSection (base/safe_load.h)
// for as long as they use the returned set.
//
// x86_64 only: the rows describe CFA = rsp/rbp + offset, where rbp was saved
// and where the return address lives. On other architectures no tables are
// built and the unwinder walks frame pointers (aarch64 CFI is not done).

#ifndef CPPROF_SRC_UNWIND_CFI_TABLE_H_
#define CPPROF_SRC_UNWIND_CFI_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/config.h"

namespace cpprof {
namespace internal {

// How to find the caller's frame at a given PC.
enum CfaRule : uint8_t {
  kCfaSp = 0,       // CFA = rsp + cfa_offset
  kCfaFp = 1,       // CFA = rbp + cfa_offset
  kCfaPlt = 2,      // PLT entry: CFA = rsp + 8, +8 more when (pc & 15) >= cfa_offset
  kCfaSignal = 3,   // signal trampoline: a ucontext_t sits at rsp
  kCfaEnd = 4,      // return address undefined: outermost frame (_start, clone)
  kCfaUnknown = 5,  // a rule we do not model (expressions, other registers)
  kCfaNone = 6,     // no FDE covers this PC
};

// The saved rbp was not stored (rbp still holds the caller's value).
constexpr int16_t kFpSame = INT16_MIN;

// One row: the rules hold from `pc` (offset from the module's load bias) up
// to the next row's pc.
struct CfiRow {
  uint32_t pc;
  int32_t cfa_offset;
  int16_t fp_offset;  // saved rbp at CFA + fp_offset, or kFpSame
  int8_t ra_offset;   // return address at CFA + ra_offset (x86_64: -8)
  uint8_t rule;       // CfaRule
};
static_assert(sizeof(CfiRow) == 12, "CfiRow must stay compact");

// One module's table (immutable once published).
struct ModuleTable {
  std::string name;
  uintptr_t bias = 0;          // dlpi_addr
  uintptr_t eh_frame_hdr = 0;  // runtime address, 0 if none
  uintptr_t exec_lo = 0;       // executable PT_LOAD span [exec_lo, exec_hi)
  uintptr_t exec_hi = 0;
  std::vector<CfiRow> rows;    // sorted by pc, consecutive rows differ
  // pages[p] = index of the row covering offset p << kPageShift, so a lookup
  // only searches the few rows of one page (see BuildPageIndex).
  std::vector<uint32_t> pages;
  size_t fdes = 0;             // FDEs parsed
  size_t fdes_skipped = 0;     // FDEs with malformed or unsupported data
};

// What the signal handler searches: modules sorted by exec_lo.
struct ModuleEntry {
  uintptr_t lo;
  uintptr_t hi;
  uintptr_t bias;
  const CfiRow* rows;
  size_t count;
  const uint32_t* pages;  // may be null (then the whole table is searched)
  size_t page_count;
};

constexpr unsigned kPageShift = 8;
// Largest page index built (larger modules search all rows).
constexpr size_t kMaxPageIndex = size_t{1} << 22;

// Not signal-safe. Fills table->pages from table->rows.
void BuildPageIndex(ModuleTable* table);

struct CfiTableSet {
  std::vector<ModuleEntry> entries;
  std::vector<std::shared_ptr<const ModuleTable>> owners;
  unsigned long long adds = 0;  // dl_iterate_phdr counters at build time
  unsigned long long subs = 0;
  size_t bytes = 0;
};

// The published set; written only by RefreshUnwindTables.
extern std::atomic<const CfiTableSet*> g_published_cfi_tables;

// Signal-safe (one atomic load). Null until the first refresh.
CPPROF_SIGNAL_SAFE inline const CfiTableSet* CurrentCfiTables() {
  return g_published_cfi_tables.load(std::memory_order_acquire);
}

// Signal-safe. The module whose executable span holds pc, or null.
CPPROF_SIGNAL_SAFE const ModuleEntry* FindModule(const CfiTableSet* set, uintptr_t pc);
// Signal-safe. The row covering pc in `module`, or null.
CPPROF_SIGNAL_SAFE const CfiRow* FindRow(const ModuleEntry& module, uintptr_t pc);

// Not signal-safe. Parses the .eh_frame that `eh_frame_hdr` (runtime
// address of a mapped PT_GNU_EH_FRAME) describes into table->rows (relative
// to table->bias). Every read stays inside [seg_lo, seg_hi), the readable
// PT_LOAD segment holding the section. Malformed entries are skipped.
void ParseEhFrame(uintptr_t eh_frame_hdr, uintptr_t seg_lo, uintptr_t seg_hi, ModuleTable* table);

// Bounds on table size (rows per module), so memory stays bounded even for
// huge or corrupt modules.
constexpr size_t kMaxRowsPerModule = size_t{4} << 20;

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_UNWIND_CFI_TABLE_H_
