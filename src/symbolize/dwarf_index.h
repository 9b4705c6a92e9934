// SPDX-License-Identifier: Apache-2.0
//
// A one-pass index over a module's DWARF (request time only, never signal
// context): function and inlined-subroutine address ranges flattened into
// non-overlapping segments, plus the line table, all in sorted vectors, so a
// lookup is two binary searches and a walk up the inline chain.

#ifndef CPPROF_SRC_SYMBOLIZE_DWARF_INDEX_H_
#define CPPROF_SRC_SYMBOLIZE_DWARF_INDEX_H_

#include <elfutils/libdw.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "symbolize/demangle_cache.h"
#include "symbolize/elf_symbols.h"
#include "symbolize/string_table.h"
#include "symbolize/symbolizer.h"

namespace cpprof {
namespace internal {

class DwarfIndex {
 public:
  // Reads every compilation unit of `dwarf`. `symbols` (finalized, may be
  // empty) supplies mangled names for functions whose DWARF lacks a linkage
  // name. Stops and returns false if the index would exceed `max_bytes`;
  // returns false too when the DWARF holds no code ranges or lines.
  bool Build(Dwarf* dwarf, const ElfSymbols& symbols, size_t max_bytes);

  // Appends the inline chain at file address `vaddr` to `out->frames`,
  // innermost first, and sets out->has_line_info when the line table covers
  // it. A frame's function may be empty when only the line table knows the
  // address. Returns false when the DWARF knows nothing about `vaddr`.
  // Thread-safe on a built index (read-only).
  bool Lookup(uint64_t vaddr, SymbolizedAddress* out) const;

  size_t MemoryBytes() const;
  // Empties the index.
  void Clear();
  size_t function_count() const { return functions_.size(); }
  size_t segment_count() const { return segments_.size(); }
  size_t line_count() const { return lines_.size(); }

 private:
  friend class DwarfIndexBuilder;

  struct Function {
    uint32_t system_name;  // linkage name (mangled, or a C asm label), else the plain name
    uint32_t name;         // source name when not demangling; kEmpty: demangle system_name
    uint32_t decl_line;
  };
  struct Scope {           // one subprogram or inlined-subroutine DIE
    uint32_t function;
    uint32_t call_file;    // inlined subroutines: where the call is
    uint32_t call_line;
    int32_t parent;        // enclosing scope, -1 for a subprogram
  };
  struct Segment {         // [start, next segment's start) belongs to scope
    uint64_t start;
    int32_t scope;         // -1: no function here
  };
  struct LineRow {         // [addr, next row's addr) is file:line
    uint64_t addr;
    uint32_t file;         // kNoFile for the end of a sequence
    uint32_t line;
  };
  static constexpr uint32_t kNoFile = UINT32_MAX;

  std::vector<Function> functions_;
  std::vector<Scope> scopes_;
  std::vector<Segment> segments_;
  std::vector<LineRow> lines_;
  StringTable strings_;
  DemangleCache demangled_;  // one slot per function
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_SYMBOLIZE_DWARF_INDEX_H_
