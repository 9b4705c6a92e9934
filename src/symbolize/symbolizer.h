// SPDX-License-Identifier: Apache-2.0
//
// In-process symbolization (request time only, never signal context).
//
// ListModules() snapshots the executable mappings of every loaded module
// (dl_iterate_phdr, GNU build IDs from PT_NOTE, /proc/self/exe for the main
// program). Symbolizer turns addresses into inline chains: function
// (demangled), mangled name, file and line, innermost inlined frame first.
// Per-module indexes (libdw, one pass; ELF .symtab/.dynsym as fallback for
// stripped modules) are built on first use and cached by build ID.
// Implementation: module_map.cc (ListModules), elf_symbols.cc (ELF, debug
// files), dwarf_index.cc (the DWARF index), symbolizer.cc (cache, chains),
// demangle.cc.

#ifndef CPPROF_SRC_SYMBOLIZE_SYMBOLIZER_H_
#define CPPROF_SRC_SYMBOLIZE_SYMBOLIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cpprof {
namespace internal {

// One executable PT_LOAD segment of a loaded module.
struct Module {
  uintptr_t start = 0;        // runtime address of the segment start
  uintptr_t limit = 0;        // one past its end
  uint64_t file_offset = 0;   // p_offset of the segment
  uintptr_t bias = 0;         // load bias (dlpi_addr): file vaddr = pc - bias
  std::string path;           // absolute path ("/proc/self/exe" resolved), "[vdso]" for the vDSO
  std::string build_id;       // lowercase hex of NT_GNU_BUILD_ID, or ""
};

// Not signal-safe. The main executable comes first.
std::vector<Module> ListModules();

// Returns the index in `modules` of the module containing pc, or -1.
int FindModule(const std::vector<Module>& modules, uintptr_t pc);

struct SymbolFrame {
  std::string function;     // demangled, full ("ns::Foo<int>::bar(long) const"), "" if unknown
  std::string system_name;  // mangled linkage name ("_ZN2ns3FooIiE3barEl"), or as function for C
  std::string file;         // source file, "" if unknown
  int line = 0;             // 0 if unknown
  int start_line = 0;       // line of the function's declaration, 0 if unknown
};

// What an address resolves to. frames is innermost first: frames[0] is the
// deepest inlined function at the address, frames.back() the real function
// that contains it. Empty when nothing is known.
struct SymbolizedAddress {
  std::vector<SymbolFrame> frames;
  bool has_line_info = false;   // file:line came from DWARF
};

class Symbolizer {
 public:
  // The process-wide instance; its caches live for the process.
  static Symbolizer& Global();

  // Cache limits: at most this many module indexes, and about this many
  // bytes in total (least recently used indexes are dropped first). A DWARF
  // index that alone would exceed max_bytes is abandoned; that module then
  // resolves by ELF symbols only.
  static constexpr size_t kDefaultMaxModules = 64;
  static constexpr size_t kDefaultMaxBytes = size_t{512} << 20;

  Symbolizer();
  Symbolizer(size_t max_modules, size_t max_bytes);
  // Changes max_bytes (Options::symbol_cache_max_bytes), evicting at once
  // what no longer fits.
  void set_max_bytes(size_t bytes);
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // Resolves `lookup_address` (already adjusted: return address minus one for
  // caller frames) inside `module`. Thread-safe; builds the module's index on
  // first use (cost: tens to hundreds of ms for a large binary), then ~µs.
  // Without DWARF, frames has one entry with the ELF symbol's name and no
  // file:line. An address no symbol covers gives an empty result.
  SymbolizedAddress Symbolize(const Module& module, uintptr_t lookup_address);

  // Builds `module`'s index now (if it is not cached), so that a later
  // Symbolize of its addresses does not wait for it. Thread-safe; a
  // Symbolize of the same module meanwhile waits for this build rather than
  // starting its own. Returns the bytes the module's index holds.
  size_t Prepare(const Module& module);
  // Returns the symbol name (demangled) containing lookup_address using ELF
  // symbol tables only, "" if none. Used by /debug/pprof/symbol.
  std::string SymbolName(const Module& module, uintptr_t lookup_address);

  // Bytes held by caches (for cpprof's own cost). Thread-safe.
  size_t MemoryBytes() const;
  // Number of module indexes currently cached (built or being built).
  size_t CachedModules() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Demangles an Itanium C++ name; returns the input unchanged if it is not one.
std::string Demangle(const std::string& mangled);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_SYMBOLIZE_SYMBOLIZER_H_
