// SPDX-License-Identifier: Apache-2.0
//
// Symbolizer: request time only, never signal context.
//
// A module's index is built on its first lookup and cached under its build ID
// (or path + size + mtime when it has none, so a rebuilt file is not confused
// with the mapped one). Building: open the module's file (the vDSO is read
// from memory), refuse it if its build ID differs from the mapped module's
// (the file was replaced since it was loaded), collect ELF function symbols
// from .symtab/.dynsym, then find DWARF in the file itself or in a separate
// debug file (build-ID path, .gnu_debuglink) and index it in one pass
// (dwarf_index.cc). Modules that cannot be read are cached as empty indexes
// so they are not reopened for every address.
//
// Concurrency: the cache map is guarded by one mutex held only to find or
// insert an entry; each entry has its own mutex so two threads needing the
// same module build it once while other modules proceed. Built indexes are
// immutable and shared by shared_ptr, so lookups run without locks and an
// eviction never pulls an index from under a reader.
//
// Memory: the cache keeps at most max_modules indexes and max_bytes in total,
// evicting the least recently used; a single DWARF index larger than the
// budget is abandoned and the module falls back to ELF symbols.

#include "symbolize/symbolizer.h"

#include <elf.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include "base/raw_log.h"
#include "base/self_stats.h"
#include "symbolize/dwarf_index.h"
#include "symbolize/elf_symbols.h"

namespace cpprof {
namespace internal {

struct ModuleIndex {
  ElfSymbols symbols;
  std::unique_ptr<DwarfIndex> dwarf;  // null without usable DWARF

  // Grows a little after the build as demangled names are cached.
  size_t MemoryBytes() const {
    return sizeof(ModuleIndex) + symbols.MemoryBytes() + (dwarf != nullptr ? dwarf->MemoryBytes() : 0);
  }
};

namespace {

constexpr char kVdsoPath[] = "[vdso]";

// The vDSO is a complete ELF image in memory; its extent is the furthest of
// the section header table and the loaded segments.
std::unique_ptr<ElfObject> OpenVdso() {
  const uintptr_t base = static_cast<uintptr_t>(getauxval(AT_SYSINFO_EHDR));
  if (base == 0) return nullptr;
  const auto* ehdr = reinterpret_cast<const ElfW(Ehdr)*>(base);
  size_t size = ehdr->e_shoff + size_t{ehdr->e_shnum} * ehdr->e_shentsize;
  const auto* phdr = reinterpret_cast<const ElfW(Phdr)*>(base + ehdr->e_phoff);
  for (int i = 0; i < ehdr->e_phnum; ++i) {
    if (phdr[i].p_type == PT_LOAD) size = std::max<size_t>(size, phdr[i].p_offset + phdr[i].p_filesz);
  }
  if (size > (64 << 20)) return nullptr;  // not a plausible vDSO
  return ElfObject::OpenMemory(reinterpret_cast<const void*>(base), size);
}

std::shared_ptr<const ModuleIndex> BuildIndex(const Module& module, size_t max_dwarf_bytes) {
  auto index = std::make_shared<ModuleIndex>();
  std::unique_ptr<ElfObject> object =
      module.path == kVdsoPath ? OpenVdso() : ElfObject::OpenFile(module.path);
  if (object == nullptr) {
    RawLog(LogLevel::kInfo, "symbolize: cannot open %s", module.path.c_str());
    return index;
  }
  if (!module.build_id.empty()) {
    const std::string file_id = object->BuildId();
    if (!file_id.empty() && file_id != module.build_id) {
      RawLog(LogLevel::kWarning, "symbolize: %s changed on disk (build ID %s, loaded %s); not used",
             module.path.c_str(), file_id.c_str(), module.build_id.c_str());
      return index;
    }
  }
  index->symbols.AddFrom(object->elf());
  std::unique_ptr<ElfObject> debug;
  Elf* dwarf_elf = nullptr;
  if (object->HasSectionData(".debug_info")) {
    dwarf_elf = object->elf();
  } else if ((debug = FindDebugFile(*object, module.build_id)) != nullptr) {
    dwarf_elf = debug->elf();
    index->symbols.AddFrom(debug->elf());  // the full .symtab a stripped module lost
  }
  index->symbols.Finalize();
  if (dwarf_elf != nullptr) {
    Dwarf* dwarf = dwarf_begin_elf(dwarf_elf, DWARF_C_READ, nullptr);
    if (dwarf != nullptr) {
      auto dwarf_index = std::make_unique<DwarfIndex>();
      if (dwarf_index->Build(dwarf, index->symbols, max_dwarf_bytes)) {
        index->dwarf = std::move(dwarf_index);
      } else {
        RawLog(LogLevel::kInfo, "symbolize: no usable DWARF in %s (or over %zu bytes)",
               module.path.c_str(), max_dwarf_bytes);
      }
      dwarf_end(dwarf);
    }
  }
  return index;
}

std::string CacheKey(const Module& module) {
  if (!module.build_id.empty()) return "id:" + module.build_id;
  if (module.path == kVdsoPath) return kVdsoPath;
  struct stat st;
  if (stat(module.path.c_str(), &st) != 0) return "path:" + module.path;
  return "file:" + module.path + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace

struct Symbolizer::Impl {
  struct Entry {
    std::mutex build_mu;                        // held while building this module
    std::shared_ptr<const ModuleIndex> index;   // set once, under build_mu
    uint64_t last_use = 0;                      // under Impl::mu
    std::shared_ptr<const ModuleIndex> built;   // under Impl::mu: index once built and counted
  };

  Impl(size_t max_modules_in, size_t max_bytes_in)
      : max_modules(std::max<size_t>(max_modules_in, 1)), max_bytes(max_bytes_in) {}

  std::shared_ptr<const ModuleIndex> Get(const Module& module) {
    const std::string key = CacheKey(module);
    std::shared_ptr<Entry> entry;
    {
      std::lock_guard<std::mutex> lock(mu);
      std::shared_ptr<Entry>& slot = entries[key];
      if (slot == nullptr) slot = std::make_shared<Entry>();
      slot->last_use = ++clock;
      entry = slot;
    }
    std::shared_ptr<const ModuleIndex> index;
    bool built = false;
    {
      std::lock_guard<std::mutex> lock(entry->build_mu);
      if (entry->index == nullptr) {
        entry->index = BuildIndex(module, max_bytes.load());
        built = true;
      }
      index = entry->index;
    }
    if (built) {
      std::lock_guard<std::mutex> lock(mu);
      entry->built = index;
      Evict(entry.get());
    }
    return index;
  }

  // Caller holds mu.
  size_t TotalBytes() const {
    size_t total = 0;
    for (const auto& e : entries) {
      total += sizeof(Entry) + e.first.size() + 64;
      if (e.second->built != nullptr) total += e.second->built->MemoryBytes();
    }
    return total;
  }

  // Drops the least recently used built entries until within limits, never
  // `keep` (the index just built). Entries still being built are skipped.
  // Caller holds mu. Readers keep evicted indexes alive until they finish.
  void Evict(const Entry* keep) {
    while (entries.size() > max_modules || TotalBytes() > max_bytes.load()) {
      auto victim = entries.end();
      for (auto it = entries.begin(); it != entries.end(); ++it) {
        if (it->second.get() == keep || it->second->built == nullptr) continue;
        if (victim == entries.end() || it->second->last_use < victim->second->last_use) victim = it;
      }
      if (victim == entries.end()) return;
      entries.erase(victim);
    }
  }

  const size_t max_modules;
  std::atomic<size_t> max_bytes;
  mutable std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries;
  uint64_t clock = 0;
};

Symbolizer& Symbolizer::Global() {
  // Leaked on purpose: profiles may be served while static destructors run.
  static Symbolizer* const global = [] {
    auto* s = new Symbolizer();
    RegisterMemoryUser("symbolizer", [] { return Global().MemoryBytes(); });
    return s;
  }();
  return *global;
}

Symbolizer::Symbolizer() : Symbolizer(kDefaultMaxModules, kDefaultMaxBytes) {}

Symbolizer::Symbolizer(size_t max_modules, size_t max_bytes)
    : impl_(std::make_unique<Impl>(max_modules, max_bytes)) {}

Symbolizer::~Symbolizer() = default;

void Symbolizer::set_max_bytes(size_t bytes) {
  impl_->max_bytes.store(bytes);
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->Evict(nullptr);
}

SymbolizedAddress Symbolizer::Symbolize(const Module& module, uintptr_t lookup_address) {
  SymbolizedAddress out;
  if (lookup_address < module.bias) return out;
  std::shared_ptr<const ModuleIndex> index = impl_->Get(module);
  const uint64_t vaddr = lookup_address - module.bias;
  if (index->dwarf != nullptr) index->dwarf->Lookup(vaddr, &out);
  if (out.frames.empty() || out.frames.back().function.empty()) {
    const ElfSymbols::Symbol* sym = index->symbols.Find(vaddr);
    if (sym != nullptr) {
      if (out.frames.empty()) out.frames.emplace_back();
      SymbolFrame& frame = out.frames.back();
      frame.system_name = std::string(index->symbols.Name(*sym));
      frame.function = index->symbols.DemangledName(*sym);
    }
  }
  return out;
}

size_t Symbolizer::Prepare(const Module& module) {
  return impl_->Get(module)->MemoryBytes();
}

std::string Symbolizer::SymbolName(const Module& module, uintptr_t lookup_address) {
  if (lookup_address < module.bias) return std::string();
  std::shared_ptr<const ModuleIndex> index = impl_->Get(module);
  const ElfSymbols::Symbol* sym = index->symbols.Find(lookup_address - module.bias);
  return sym != nullptr ? index->symbols.DemangledName(*sym) : std::string();
}

size_t Symbolizer::MemoryBytes() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->TotalBytes();
}

size_t Symbolizer::CachedModules() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->entries.size();
}

}  // namespace internal
}  // namespace cpprof
