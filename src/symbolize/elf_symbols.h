// SPDX-License-Identifier: Apache-2.0
//
// ELF access for the symbolizer (request time only, never signal context):
// an opened object (file or in-memory image such as the vDSO), its build ID
// and .gnu_debuglink, the search for separate debug files, and a sorted table
// of function symbols from .symtab/.dynsym.

#ifndef CPPROF_SRC_SYMBOLIZE_ELF_SYMBOLS_H_
#define CPPROF_SRC_SYMBOLIZE_ELF_SYMBOLS_H_

#include <gelf.h>
#include <libelf.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "symbolize/demangle_cache.h"
#include "symbolize/string_table.h"

namespace cpprof {
namespace internal {

// An ELF object opened read-only. Not thread-safe; owned by one index build.
class ElfObject {
 public:
  // Returns nullptr if the file cannot be opened or is not ELF.
  static std::unique_ptr<ElfObject> OpenFile(const std::string& path);
  // Copies `size` bytes at `image` (an ELF image mapped in memory, e.g. the
  // vDSO) and opens the copy.
  static std::unique_ptr<ElfObject> OpenMemory(const void* image, size_t size);
  ~ElfObject();
  ElfObject(const ElfObject&) = delete;
  ElfObject& operator=(const ElfObject&) = delete;

  Elf* elf() const { return elf_; }
  int fd() const { return fd_; }  // -1 for in-memory images
  const std::string& path() const { return path_; }
  // True when a section of that name holds data (not SHT_NOBITS).
  bool HasSectionData(const char* name) const;
  // Lowercase hex of the NT_GNU_BUILD_ID note, "" if none.
  std::string BuildId() const;
  // Reads .gnu_debuglink; false if absent.
  bool DebugLink(std::string* name, uint32_t* crc) const;

 private:
  ElfObject() = default;
  int fd_ = -1;
  Elf* elf_ = nullptr;
  std::string path_;
  std::vector<char> image_;  // backing store of OpenMemory()
};

// Finds the separate debug file of `object` (whose module has `build_id`):
// /usr/lib/debug/.build-id/xx/yyyy.debug, then the .gnu_debuglink name in the
// object's directory, its .debug/ subdirectory and /usr/lib/debug/<dir>/.
// A candidate must match the build ID (or, without one, the link's CRC32).
// Returns nullptr when there is none.
std::unique_ptr<ElfObject> FindDebugFile(const ElfObject& object, const std::string& build_id);

// Function symbols (STT_FUNC, STT_GNU_IFUNC) sorted by address.
class ElfSymbols {
 public:
  struct Symbol {
    uint64_t start;
    uint64_t size;
    uint32_t name;  // id in names_
    uint8_t rank;   // lower is preferred among aliases at one address
  };

  // Adds the symbols of .symtab and .dynsym of `elf`.
  void AddFrom(Elf* elf);
  // Sorts, keeps one name per address, and gives sizeless symbols the room up
  // to the next symbol. Call once after the last AddFrom().
  void Finalize();

  // Returns the symbol covering file address `vaddr`, or nullptr.
  const Symbol* Find(uint64_t vaddr) const;
  std::string_view Name(const Symbol& s) const { return names_.Get(s.name); }
  // Demangle(Name(s)), computed once. Thread-safe.
  const std::string& DemangledName(const Symbol& s) const {
    return demangled_.Get(static_cast<size_t>(&s - symbols_.data()), Name(s));
  }
  size_t size() const { return symbols_.size(); }
  size_t MemoryBytes() const {
    return symbols_.capacity() * sizeof(Symbol) + names_.MemoryBytes() + demangled_.MemoryBytes();
  }

 private:
  std::vector<Symbol> symbols_;
  StringTable names_;
  DemangleCache demangled_;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_SYMBOLIZE_ELF_SYMBOLS_H_
