// SPDX-License-Identifier: Apache-2.0
//
// DwarfIndex: request time only, never signal context.
//
// libdw's per-address API (dwarf_getscopes) walks a compilation unit's DIE
// tree from its root on every call, about 3 ms per address; symbolizing a
// profile would take seconds. Instead, one pass over all units collects:
//   - DW_TAG_subprogram DIEs with code, and the DW_TAG_inlined_subroutine DIEs
//     below them (with DW_AT_call_file/DW_AT_call_line), as "scopes" that
//     point at their enclosing scope, and their address ranges (dwarf_ranges);
//   - the line table rows of each unit (dwarf_getsrclines).
// Ranges nest, so a sweep over them sorted by (low, -high, depth) with a stack
// of open ranges turns them into non-overlapping segments, each naming the
// innermost scope covering it. A lookup is then a binary search in segments,
// a binary search in line rows, and a walk up parent scopes. Line rows at
// one address keep the last (the innermost inlined body's line); runs with
// the same file:line are merged.
//
// Names come from DW_AT_linkage_name/DW_AT_name following DW_AT_specification
// and DW_AT_abstract_origin (dwarf_attr_integrate). A subprogram without a
// linkage name takes the mangled ELF symbol at its entry if there is one
// (constructors, methods). A function known only by a bare DW_AT_name whose
// declaration sits in a namespace or class (inlined constructors,
// destructors, inline-only members) is shown qualified ("std::vector<int,
// std::allocator<int> >::~vector"), from the scopes seen during the walk.
// Demangling happens at lookup and is cached per function (demangle_cache.h).
//
// Compromises: ranges that overlap without nesting (broken DWARF) are clipped
// to the enclosing range; discarded code (low_pc 0 or tombstone values) is
// dropped; split DWARF (.dwo) and type units are skipped.

#include "symbolize/dwarf_index.h"

#include <dwarf.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace cpprof {
namespace internal {

class DwarfIndexBuilder {
 public:
  DwarfIndexBuilder(DwarfIndex* index, Dwarf* dwarf, const ElfSymbols& symbols)
      : index_(index), dwarf_(dwarf), symbols_(symbols) {}

  bool Run(size_t max_bytes) {
    Dwarf_CU* cu = nullptr;
    Dwarf_CU* next = nullptr;
    Dwarf_Half version;
    uint8_t unit_type;
    Dwarf_Die cudie;
    while (dwarf_get_units(dwarf_, cu, &next, &version, &unit_type, &cudie, nullptr) == 0) {
      cu = next;
      if (unit_type != DW_UT_compile && unit_type != DW_UT_partial) continue;
      AddUnit(&cudie);
      if (ApproxBytes() > max_bytes) return false;
    }
    Finish();
    return !index_->segments_.empty() || !index_->lines_.empty();
  }

 private:
  struct Interval {
    uint64_t low;
    uint64_t high;
    int32_t scope;
    uint32_t depth;
  };

  size_t ApproxBytes() const {
    return intervals_.capacity() * sizeof(Interval) + raw_lines_.capacity() * sizeof(RawLine) +
           index_->scopes_.capacity() * sizeof(DwarfIndex::Scope) +
           index_->functions_.capacity() * sizeof(DwarfIndex::Function) +
           index_->strings_.MemoryBytes() + function_ids_.size() * 32 + qualified_names_.size() * 96;
  }

  void AddUnit(Dwarf_Die* cudie) {
    files_ = nullptr;
    nfiles_ = 0;
    file_ids_.clear();
    if (dwarf_getsrcfiles(cudie, &files_, &nfiles_) != 0) {
      files_ = nullptr;
      nfiles_ = 0;
    }
    file_ids_.assign(nfiles_, UINT32_MAX);
    AddLines(cudie);
    Walk(cudie, -1, 0, std::string());
  }

  uint32_t FileId(Dwarf_Word index) {
    if (files_ == nullptr || index >= nfiles_) return StringTable::kEmpty;
    uint32_t& id = file_ids_[index];
    if (id == UINT32_MAX) {
      const char* name = dwarf_filesrc(files_, index, nullptr, nullptr);
      // libdw names a DWARF 4 unit's (unused) file 0 "???".
      id = (name == nullptr || strcmp(name, "???") == 0) ? StringTable::kEmpty
                                                         : index_->strings_.Intern(name);
    }
    return id;
  }

  void AddLines(Dwarf_Die* cudie) {
    Dwarf_Lines* lines;
    size_t count;
    if (dwarf_getsrclines(cudie, &lines, &count) != 0) return;
    std::unordered_map<const char*, uint32_t> ids;  // libdw returns stable name pointers
    for (size_t i = 0; i < count; ++i) {
      Dwarf_Line* line = dwarf_onesrcline(lines, i);
      Dwarf_Addr addr;
      if (line == nullptr || dwarf_lineaddr(line, &addr) != 0) continue;
      bool end = false;
      dwarf_lineendsequence(line, &end);
      RawLine row{addr, DwarfIndex::kNoFile, 0, !end, static_cast<uint32_t>(raw_lines_.size())};
      if (!end) {
        int lineno = 0;
        dwarf_lineno(line, &lineno);
        row.line = lineno > 0 ? static_cast<uint32_t>(lineno) : 0;
        const char* name = dwarf_linesrc(line, nullptr, nullptr);
        auto it = ids.find(name);
        if (it == ids.end()) {
          uint32_t id = name == nullptr ? StringTable::kEmpty : index_->strings_.Intern(name);
          it = ids.emplace(name, id).first;
        }
        row.file = it->second;
      }
      raw_lines_.push_back(row);
    }
  }

  static bool HasCode(Dwarf_Die* die) {
    return dwarf_hasattr(die, DW_AT_low_pc) || dwarf_hasattr(die, DW_AT_ranges);
  }

  // Collects the ranges of `die` for `scope`; returns whether any was kept.
  bool AddRanges(Dwarf_Die* die, int32_t scope, uint32_t depth) {
    Dwarf_Addr base, start, end;
    ptrdiff_t offset = 0;
    bool any = false;
    while ((offset = dwarf_ranges(die, offset, &base, &start, &end)) > 0) {
      // Code dropped by the linker keeps DWARF with low_pc 0 or a tombstone.
      if (start == 0 || start >= end || end >= UINT64_MAX - 1) continue;
      intervals_.push_back({start, end, scope, depth});
      any = true;
    }
    return any;
  }

  uint32_t FunctionFor(Dwarf_Die* die, bool root) {
    // Inlined copies share their abstract origin; concrete subprograms are
    // keyed by themselves (constructor variants differ only there).
    Dwarf_Die origin_die;
    Dwarf_Die* key_die = die;
    Dwarf_Attribute attr;
    if (!root && dwarf_attr(die, DW_AT_abstract_origin, &attr) != nullptr &&
        dwarf_formref_die(&attr, &origin_die) != nullptr) {
      key_die = &origin_die;
    }
    const uint64_t key = DieKey(key_die);
    auto it = function_ids_.find(key);
    if (it != function_ids_.end()) return it->second;

    DwarfIndex::Function f{StringTable::kEmpty, StringTable::kEmpty, 0};
    const char* linkage = nullptr;
    if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != nullptr ||
        dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != nullptr) {
      linkage = dwarf_formstring(&attr);
    }
    const char* name = nullptr;
    if (dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr) name = dwarf_formstring(&attr);
    bool mangled = false;
    if (linkage == nullptr && root) {
      // The entry: DW_AT_entry_pc/DW_AT_low_pc, else the first range listed
      // (GCC lists a hot/cold split function's hot part first).
      Dwarf_Addr entry, base, end;
      if (dwarf_entrypc(die, &entry) == 0 || dwarf_ranges(die, 0, &base, &entry, &end) > 0) {
        const ElfSymbols::Symbol* sym = symbols_.Find(entry);
        if (sym != nullptr && sym->start == entry && symbols_.Name(*sym).substr(0, 2) == "_Z") {
          f.system_name = index_->strings_.Intern(symbols_.Name(*sym));
          mangled = true;
        }
      }
    }
    if (linkage != nullptr) {
      f.system_name = index_->strings_.Intern(linkage);
      mangled = strncmp(linkage, "_Z", 2) == 0;
    }
    if (!mangled && name != nullptr) {
      // C, or a C function with an asm label (glibc's "__GI_qsort" for qsort):
      // show the source name, keep the linkage name as the system name.
      f.name = index_->strings_.Intern(name);
      if (f.system_name == StringTable::kEmpty) f.system_name = f.name;
    }
    if (linkage == nullptr && !mangled && name != nullptr) {
      // A member or namespaced function known by its bare name: qualify it
      // once the declaration it refers to has been seen.
      const uint64_t decl = DeclarationKey(die);
      if (decl != 0) pending_names_.push_back({static_cast<uint32_t>(index_->functions_.size()), decl});
    }
    int decl_line = 0;
    if (dwarf_decl_line(die, &decl_line) == 0 && decl_line > 0) {
      f.decl_line = static_cast<uint32_t>(decl_line);
    }
    const uint32_t id = static_cast<uint32_t>(index_->functions_.size());
    index_->functions_.push_back(f);
    function_ids_.emplace(key, id);
    return id;
  }

  // Follows DW_AT_abstract_origin/DW_AT_specification to the declaring DIE;
  // 0 when `die` declares itself.
  uint64_t DeclarationKey(Dwarf_Die* die) {
    Dwarf_Die current = *die;
    bool moved = false;
    for (int hop = 0; hop < 8; ++hop) {
      Dwarf_Attribute attr;
      Dwarf_Die next;
      if ((dwarf_attr(&current, DW_AT_abstract_origin, &attr) == nullptr &&
           dwarf_attr(&current, DW_AT_specification, &attr) == nullptr) ||
          dwarf_formref_die(&attr, &next) == nullptr) {
        break;
      }
      current = next;
      moved = true;
    }
    return moved ? DieKey(&current) : 0;
  }

  int32_t AddScope(Dwarf_Die* die, int32_t parent, bool root) {
    DwarfIndex::Scope s{FunctionFor(die, root), StringTable::kEmpty, 0, parent};
    if (!root) {
      Dwarf_Attribute attr;
      Dwarf_Word value;
      if (dwarf_attr(die, DW_AT_call_file, &attr) != nullptr && dwarf_formudata(&attr, &value) == 0) {
        s.call_file = FileId(value);
      }
      if (dwarf_attr(die, DW_AT_call_line, &attr) != nullptr && dwarf_formudata(&attr, &value) == 0) {
        s.call_line = static_cast<uint32_t>(value);
      }
    }
    index_->scopes_.push_back(s);
    return static_cast<int32_t>(index_->scopes_.size() - 1);
  }

  // `prefix` is the qualified name of the enclosing namespaces and classes
  // ("" at unit level and inside functions).
  void Walk(Dwarf_Die* parent_die, int32_t parent_scope, uint32_t depth, const std::string& prefix) {
    Dwarf_Die child;
    if (dwarf_child(parent_die, &child) != 0) return;
    do {
      const int tag = dwarf_tag(&child);
      switch (tag) {
        case DW_TAG_subprogram:
        case DW_TAG_inlined_subroutine: {
          if (!HasCode(&child)) {
            // A member declaration without a linkage name (constructors,
            // destructors): remember its qualified name for the inlined and
            // out-of-line copies that refer to it.
            if (tag == DW_TAG_subprogram && !prefix.empty() &&
                !dwarf_hasattr(&child, DW_AT_linkage_name)) {
              const char* name = dwarf_diename(&child);
              if (name != nullptr) qualified_names_.emplace(DieKey(&child), prefix + "::" + name);
            }
            break;
          }
          // A subprogram nested in another (a GNU C nested function) is a
          // function of its own, not an inlined frame.
          const bool root = tag == DW_TAG_subprogram;
          const int32_t scope = AddScope(&child, root ? -1 : parent_scope, root);
          if (AddRanges(&child, scope, depth)) Walk(&child, scope, depth + 1, std::string());
          break;
        }
        case DW_TAG_lexical_block:
        case DW_TAG_try_block:
        case DW_TAG_catch_block:
          if (parent_scope >= 0) Walk(&child, parent_scope, depth, prefix);
          break;
        case DW_TAG_namespace:
        case DW_TAG_module:
        case DW_TAG_class_type:
        case DW_TAG_structure_type:
        case DW_TAG_union_type: {
          // Some producers place member function definitions here.
          if (!dwarf_haschildren(&child)) break;
          if (parent_scope >= 0) {
            Walk(&child, -1, depth, std::string());  // a local class's member functions
            break;
          }
          const char* name = dwarf_diename(&child);
          std::string inner = prefix.empty() ? std::string() : prefix + "::";
          inner += name != nullptr ? name
                                   : tag == DW_TAG_namespace ? "(anonymous namespace)" : "{unnamed type}";
          Walk(&child, -1, depth, inner);
          break;
        }
        default:
          break;
      }
    } while (dwarf_siblingof(&child, &child) == 0);
  }

  uint64_t DieKey(Dwarf_Die* die) const {
    uint64_t key = dwarf_dieoffset(die);
    if (dwarf_cu_getdwarf(die->cu) != dwarf_) key |= uint64_t{1} << 63;  // supplementary file
    return key;
  }

  void Finish() {
    for (const PendingName& p : pending_names_) {
      auto it = qualified_names_.find(p.declaration);
      if (it != qualified_names_.end()) {
        index_->functions_[p.function].name = index_->strings_.Intern(it->second);
      }
    }
    std::vector<PendingName>().swap(pending_names_);
    std::unordered_map<uint64_t, std::string>().swap(qualified_names_);

    // Segments: sweep nested intervals, outer before inner at equal starts.
    std::sort(intervals_.begin(), intervals_.end(), [](const Interval& a, const Interval& b) {
      if (a.low != b.low) return a.low < b.low;
      if (a.high != b.high) return a.high > b.high;
      return a.depth < b.depth;
    });
    std::vector<DwarfIndex::Segment>& segments = index_->segments_;
    auto emit = [&segments](uint64_t at, int32_t scope) {
      if (!segments.empty() && segments.back().start == at) {
        segments.back().scope = scope;
      } else if (segments.empty() || segments.back().scope != scope) {
        segments.push_back({at, scope});
      }
    };
    std::vector<Interval> open;
    auto close_until = [&](uint64_t at) {
      while (!open.empty() && open.back().high <= at) {
        const uint64_t end = open.back().high;
        open.pop_back();
        emit(end, open.empty() ? -1 : open.back().scope);
      }
    };
    for (Interval iv : intervals_) {
      close_until(iv.low);
      if (!open.empty() && iv.high > open.back().high) iv.high = open.back().high;
      if (iv.high <= iv.low) continue;
      open.push_back(iv);
      emit(iv.low, iv.scope);
    }
    close_until(UINT64_MAX);
    std::vector<Interval>().swap(intervals_);
    segments.shrink_to_fit();

    // Lines: by address, ends of sequences before rows starting at the same
    // address, then unit order; the last row at an address wins.
    std::sort(raw_lines_.begin(), raw_lines_.end(), [](const RawLine& a, const RawLine& b) {
      if (a.addr != b.addr) return a.addr < b.addr;
      if (a.real != b.real) return !a.real;
      return a.order < b.order;
    });
    std::vector<DwarfIndex::LineRow>& lines = index_->lines_;
    lines.reserve(raw_lines_.size());
    for (const RawLine& r : raw_lines_) {
      if (!lines.empty() && lines.back().addr == r.addr) {
        lines.back().file = r.file;
        lines.back().line = r.line;
      } else {
        lines.push_back({r.addr, r.file, r.line});
      }
      // Merge a row that repeats its predecessor's file:line.
      const size_t n = lines.size();
      if (n >= 2 && lines[n - 2].file == lines[n - 1].file && lines[n - 2].line == lines[n - 1].line) {
        lines.pop_back();
      }
    }
    std::vector<RawLine>().swap(raw_lines_);
    lines.shrink_to_fit();
    index_->scopes_.shrink_to_fit();
    index_->functions_.shrink_to_fit();
    index_->strings_.Finalize();
  }

  struct RawLine {
    uint64_t addr;
    uint32_t file;
    uint32_t line;
    bool real;       // false for an end-of-sequence marker
    uint32_t order;  // position in unit order, for a stable tie-break
  };

  struct PendingName {
    uint32_t function;
    uint64_t declaration;  // DieKey of the declaring DIE
  };

  DwarfIndex* index_;
  Dwarf* dwarf_;
  std::vector<PendingName> pending_names_;
  std::unordered_map<uint64_t, std::string> qualified_names_;  // declaration -> "ns::Class::name"
  const ElfSymbols& symbols_;
  Dwarf_Files* files_ = nullptr;
  size_t nfiles_ = 0;
  std::vector<uint32_t> file_ids_;
  std::unordered_map<uint64_t, uint32_t> function_ids_;
  std::vector<Interval> intervals_;
  std::vector<RawLine> raw_lines_;
};

bool DwarfIndex::Build(Dwarf* dwarf, const ElfSymbols& symbols, size_t max_bytes) {
  DwarfIndexBuilder builder(this, dwarf, symbols);
  if (builder.Run(max_bytes)) {
    demangled_.Reset(functions_.size());
    return true;
  }
  Clear();
  return false;
}

void DwarfIndex::Clear() {
  std::vector<Function>().swap(functions_);
  std::vector<Scope>().swap(scopes_);
  std::vector<Segment>().swap(segments_);
  std::vector<LineRow>().swap(lines_);
  strings_ = StringTable();
  demangled_.Reset(0);
}

bool DwarfIndex::Lookup(uint64_t vaddr, SymbolizedAddress* out) const {
  int32_t scope = -1;
  auto seg = std::upper_bound(segments_.begin(), segments_.end(), vaddr,
                              [](uint64_t v, const Segment& s) { return v < s.start; });
  if (seg != segments_.begin()) scope = std::prev(seg)->scope;

  const LineRow* row = nullptr;
  auto line = std::upper_bound(lines_.begin(), lines_.end(), vaddr,
                               [](uint64_t v, const LineRow& r) { return v < r.addr; });
  if (line != lines_.begin() && std::prev(line)->file != kNoFile) row = &*std::prev(line);

  if (scope < 0 && row == nullptr) return false;
  const size_t first = out->frames.size();
  SymbolFrame leaf;
  if (row != nullptr) {
    leaf.file = std::string(strings_.Get(row->file));
    leaf.line = static_cast<int>(row->line);
    out->has_line_info = true;
  }
  out->frames.push_back(std::move(leaf));
  // Walk outwards: each frame's function is its scope's; the next frame's
  // file:line is where this (inlined) scope was called.
  for (int32_t s = scope; s >= 0; s = scopes_[s].parent) {
    const Scope& sc = scopes_[s];
    const Function& f = functions_[sc.function];
    SymbolFrame& frame = out->frames.back();
    frame.system_name = std::string(strings_.Get(f.system_name));
    frame.function = f.name == StringTable::kEmpty ? demangled_.Get(sc.function, strings_.Get(f.system_name))
                                                   : std::string(strings_.Get(f.name));
    frame.start_line = static_cast<int>(f.decl_line);
    if (sc.parent < 0) break;
    SymbolFrame caller;
    caller.file = std::string(strings_.Get(sc.call_file));
    caller.line = static_cast<int>(sc.call_line);
    out->frames.push_back(std::move(caller));
    if (out->frames.size() - first > 256) break;  // corrupt parent links
  }
  return true;
}

size_t DwarfIndex::MemoryBytes() const {
  return functions_.capacity() * sizeof(Function) + scopes_.capacity() * sizeof(Scope) +
         segments_.capacity() * sizeof(Segment) + lines_.capacity() * sizeof(LineRow) +
         strings_.MemoryBytes() + demangled_.MemoryBytes();
}

}  // namespace internal
}  // namespace cpprof
