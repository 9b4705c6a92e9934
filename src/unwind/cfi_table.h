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
// Recently used rows of one large module, so that a walk through a big binary
// touches one cache line in a few hot pages per frame instead of a line of
// the page index plus one or two lines of rows, each in a different page of
// a multi-megabyte table (after a signal's entry those are cold: on a 10 MB
// binary the lookups were most of the walk). Direct-mapped; each entry is one
// 64-bit word (high half: the looked-up offset, low half: the row packed by
// PackRow, bit 31 set), read and written with relaxed atomics by any signal
// handler, so no reader can see half of one entry and half of another. Rows
// that do not pack (offsets beyond the packed ranges) are looked up in the
// table each time. Only modules with at least kRowCacheMinRows rows get one.
constexpr size_t kRowCacheMinRows = 2048;
constexpr unsigned kRowCacheBitsSmall = 10;  // 8 KiB for modules up to 32 k rows
constexpr unsigned kRowCacheBitsLarge = 12;  // 32 KiB above

// Packs a row (or, with row == nullptr, "no row here") into the low half of
// a cache word; false if it does not fit.
CPPROF_SIGNAL_SAFE bool PackRow(const CfiRow* row, uint32_t* packed);
// The inverse; false for a "no row" entry.
CPPROF_SIGNAL_SAFE bool UnpackRow(uint32_t packed, CfiRow* row);

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
  std::unique_ptr<std::atomic<uint64_t>[]> row_cache;  // see kRowCacheMinRows
  unsigned row_cache_bits = 0;
  size_t fdes = 0;             // FDEs parsed
  size_t fdes_skipped = 0;     // FDEs with malformed or unsupported data
  bool unpinned = false;       // could not be pinned, so not parsed: parse again at the next build
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
  std::atomic<uint64_t>* row_cache;  // may be null
  unsigned row_cache_bits;
};

constexpr unsigned kPageShift = 8;
// Largest page index built (larger modules search all rows).
constexpr size_t kMaxPageIndex = size_t{1} << 22;

// Not signal-safe. Fills table->pages from table->rows.
void BuildPageIndex(ModuleTable* table);
// Gives a table with enough rows its row cache (after BuildPageIndex).
void BuildRowCache(ModuleTable* table);

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
// FindRow through the module's row cache: copies the row covering pc into
// *row and returns true, or returns false where no row covers pc (or the
// row covering it is a kCfaNone gap, which means the same to the walk).
CPPROF_SIGNAL_SAFE bool LookupRow(const ModuleEntry& module, uintptr_t pc, CfiRow* row);

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
