// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: the symbolizer's ELF reading (symbolize/elf_symbols.cc)
// on a mutated image, as for the vDSO or a module read from disk: open it
// from memory, read its build ID and .gnu_debuglink, load, sort and search
// its function symbols and demangle their names. Malformed images must be
// refused or read partially, never crash or hang.

#include <cstddef>
#include <cstdint>
#include <string>

#include "symbolize/elf_symbols.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto object = cpprof::internal::ElfObject::OpenMemory(data, size);
  if (object == nullptr) return 0;
  const std::string id = object->BuildId();
  if (id.size() % 2 != 0) abort();  // hex digits, two per byte
  std::string link;
  uint32_t crc = 0;
  object->DebugLink(&link, &crc);
  object->HasSectionData(".debug_info");
  cpprof::internal::ElfSymbols symbols;
  symbols.AddFrom(object->elf());
  symbols.Finalize();
  uint64_t probe = 0;
  for (size_t i = 0; i < 8 && i < size; ++i) probe = (probe << 8) | data[i];
  for (uint64_t addr : {uint64_t{0}, probe, probe & 0xffff, uint64_t{0x1000}}) {
    if (const auto* s = symbols.Find(addr)) {
      if (addr < s->start) abort();
      (void)symbols.DemangledName(*s);
    }
  }
  return 0;
}
