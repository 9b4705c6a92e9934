// SPDX-License-Identifier: Apache-2.0
//
// Implementation notes (NOT signal context).
//
// RefreshUnwindTables reads the loader's dlpi_adds / dlpi_subs counters,
// which tell whether any module was loaded or unloaded since the published
// set was built; if not, nothing is rebuilt. Otherwise a new CfiTableSet is
// assembled from a copy of the loader's list (CopyLoadedObjects: nothing is
// allocated under the loader's lock): modules already parsed (same name, load
// bias, .eh_frame_hdr and executable span) are shared through shared_ptr, new
// ones are parsed after the walk, each pinned with dlopen(RTLD_NOLOAD) while
// its .eh_frame is read (ObjectPin).
//
// Lock order: g_mu, then the loader's lock (dlopen). No caller holds a lock
// that a thread started by a module constructor may need (the CPU profiler
// refreshes before taking its own); a constructor that refreshes runs the
// build on its own thread, where the loader's lock is recursive.
//
// The set is published with one atomic exchange; the old set
// goes to a retired list and is deleted after SignalReaderGate().Synchronize()
// (dropping the last reference to tables of unloaded modules). The retired
// list is bounded: past kMaxRetired, a refresh waits for readers.

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <mutex>

#include "base/config.h"
#include "base/loaded_objects.h"
#include "base/safe_load.h"
#include "base/self_stats.h"
#include "unwind/cfi_table.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {

std::atomic<const CfiTableSet*> g_published_cfi_tables{nullptr};

namespace {

constexpr size_t kMaxRetired = 8;

std::mutex g_mu;
std::vector<const CfiTableSet*>* g_retired = nullptr;  // guarded by g_mu
std::atomic<size_t> g_bytes{0};
std::atomic<size_t> g_max_bytes{kDefaultUnwindTablesMaxBytes};
std::atomic<uint64_t> g_modules_over_cap{0};

size_t ModuleBytes(const ModuleTable& t) {
  size_t cache = t.row_cache ? (sizeof(uint64_t) << t.row_cache_bits) : 0;
  return sizeof(ModuleTable) + t.rows.capacity() * sizeof(CfiRow) + t.pages.capacity() * sizeof(uint32_t) +
         cache + t.name.capacity() + sizeof(ModuleEntry) + 2 * sizeof(void*);
}

// The executable span and unwind header of one copied object.
struct ObjectSpan {
  uintptr_t exec_lo = UINTPTR_MAX, exec_hi = 0, hdr = 0;
  uintptr_t hdr_seg_lo = 0, hdr_seg_hi = 0;  // readable PT_LOAD holding hdr
};

ObjectSpan SpanOf(const LoadedObject& o) {
  ObjectSpan s;
  for (int i = 0; i < o.phnum; ++i) {
    const ElfW(Phdr)& ph = o.phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      s.exec_lo = std::min<uintptr_t>(s.exec_lo, o.bias + ph.p_vaddr);
      s.exec_hi = std::max<uintptr_t>(s.exec_hi, o.bias + ph.p_vaddr + ph.p_memsz);
    } else if (ph.p_type == PT_GNU_EH_FRAME) {
      s.hdr = o.bias + ph.p_vaddr;
    }
  }
  if (s.hdr == 0) return s;
  for (int i = 0; i < o.phnum; ++i) {  // the segment that maps the header
    const ElfW(Phdr)& ph = o.phdr[i];
    uintptr_t lo = o.bias + ph.p_vaddr, hi = lo + ph.p_filesz;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_R) && s.hdr >= lo && s.hdr < hi) {
      s.hdr_seg_lo = lo;
      s.hdr_seg_hi = hi;
      break;
    }
  }
  return s;
}

// ThreadSanitizer's dynamic annotations (defined by its runtime; null
// elsewhere). A pin's dlopen and dlclose touch memory of the loader's that
// other threads' dlopen/dlclose wrote (the link_map; on the last reference,
// everything the loader frees), ordered by the loader's lock, which the
// sanitizer does not see: its accesses there are not checked.
extern "C" void AnnotateIgnoreReadsBegin(const char* file, int line) __attribute__((weak));
extern "C" void AnnotateIgnoreReadsEnd(const char* file, int line) __attribute__((weak));
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line) __attribute__((weak));
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line) __attribute__((weak));

class LoaderMemoryScope {
 public:
  LoaderMemoryScope() {
    if (AnnotateIgnoreReadsBegin != nullptr) AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    if (AnnotateIgnoreWritesBegin != nullptr) AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  }
  ~LoaderMemoryScope() {
    if (AnnotateIgnoreWritesEnd != nullptr) AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    if (AnnotateIgnoreReadsEnd != nullptr) AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  }
  LoaderMemoryScope(const LoaderMemoryScope&) = delete;
  LoaderMemoryScope& operator=(const LoaderMemoryScope&) = delete;
};

// The load bias in a link_map the loader allocated (unchecked, as above).
CPPROF_NO_SANITIZE_MEMORY_READS uintptr_t LoadBias(const struct link_map* map) {
  return static_cast<uintptr_t>(*reinterpret_cast<const volatile ElfW(Addr)*>(&map->l_addr));
}

// Keeps a copied object mapped while its .eh_frame is parsed (the walk that
// copied it has returned, so it could be unloaded meanwhile). The program and
// the vDSO are never unloaded; any other object is pinned with
// dlopen(RTLD_NOLOAD), which takes a reference to the loaded object of that
// name and loads nothing, checked to be the same object (same load bias:
// another namespace may hold an object of the same name). An object that
// cannot be pinned is not parsed (the walk uses frame pointers through it)
// until a later build, after the loader's list changes, parses it again.
class ObjectPin {
 public:
  explicit ObjectPin(const LoadedObject& o) {
    if (o.main || o.vdso) {
      pinned_ = true;
      return;
    }
    if (o.name[0] == '\0') return;
    LoaderMemoryScope scope;
    handle_ = dlopen(o.name, RTLD_LAZY | RTLD_NOLOAD);
    if (handle_ == nullptr) return;
    struct link_map* map = nullptr;
    pinned_ = dlinfo(handle_, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && LoadBias(map) == o.bias;
  }
  ~ObjectPin() {
    if (handle_ == nullptr) return;
    LoaderMemoryScope scope;
    dlclose(handle_);  // the last reference if the host closed it meanwhile: unloads it here
  }
  ObjectPin(const ObjectPin&) = delete;
  ObjectPin& operator=(const ObjectPin&) = delete;
  bool pinned() const { return pinned_; }

 private:
  void* handle_ = nullptr;
  bool pinned_ = false;
};

std::shared_ptr<const ModuleTable> ParseObject(const LoadedObject& o, const ObjectSpan& span, size_t bytes_so_far) {
  auto table = std::make_shared<ModuleTable>();
  table->name = o.name;
  table->bias = o.bias;
  table->eh_frame_hdr = span.hdr;
  table->exec_lo = span.exec_lo;
  table->exec_hi = span.exec_hi;
#if defined(__x86_64__)
  if (span.hdr_seg_hi > span.hdr_seg_lo) {
    ObjectPin pin(o);
    if (pin.pinned()) {
      ParseEhFrame(span.hdr, span.hdr_seg_lo, span.hdr_seg_hi, table.get());
    } else {
      table->unpinned = true;
    }
  }
  BuildPageIndex(table.get());
  BuildRowCache(table.get());
#endif  // aarch64 and others: no CFI rows; the walk uses frame pointers.
  if (bytes_so_far + ModuleBytes(*table) > g_max_bytes.load(std::memory_order_relaxed) && !table->rows.empty()) {
    // Past the cap: this module is walked with frame pointers only.
    std::vector<CfiRow>().swap(table->rows);
    std::vector<uint32_t>().swap(table->pages);
    BuildRowCache(table.get());  // none for an empty table
    g_modules_over_cap.fetch_add(1, std::memory_order_relaxed);
  }
  return table;
}

// The tables of every loaded object: the ones of `old` that still match
// (same name, bias, header and executable span) are shared, the others parsed.
void BuildTables(const LoadedObjects& loaded, const CfiTableSet* old, CfiTableSet* fresh) {
  size_t bytes = 0;
  for (const LoadedObject& o : loaded.objects) {
    const ObjectSpan span = SpanOf(o);
    if (span.exec_hi <= span.exec_lo) continue;
    std::shared_ptr<const ModuleTable> table;
    if (old != nullptr) {
      for (const auto& t : old->owners) {
        if (!t->unpinned && t->bias == o.bias && t->eh_frame_hdr == span.hdr && t->exec_lo == span.exec_lo &&
            t->exec_hi == span.exec_hi && t->name == o.name) {
          table = t;
          break;
        }
      }
    }
    if (table == nullptr) table = ParseObject(o, span, bytes);
    bytes += ModuleBytes(*table);
    fresh->owners.push_back(std::move(table));
  }
}

void FreeRetiredLocked(int timeout_ms) {
  if (g_retired == nullptr || g_retired->empty()) return;
  if (!SignalReaderGate().Synchronize(timeout_ms)) return;
  for (const CfiTableSet* s : *g_retired) delete s;
  g_retired->clear();
}

}  // namespace

bool RefreshUnwindTables() {
  std::lock_guard<std::mutex> lock(g_mu);
  static bool registered = false;
  if (!registered) {
    RegisterMemoryUser("unwind_tables", &UnwindTablesBytes);
    g_retired = new std::vector<const CfiTableSet*>();
    registered = true;
  }
  const CfiTableSet* old = g_published_cfi_tables.load(std::memory_order_acquire);
  unsigned long long adds = 0, subs = 0;
  LoaderCounters(&adds, &subs);
  if (old != nullptr && old->adds == adds && old->subs == subs) {
    if (ReadableRangesStale()) RefreshReadableRanges();
    return !old->entries.empty();
  }
  RefreshReadableRanges();
  const LoadedObjects loaded = CopyLoadedObjects(/*build_ids=*/false);
  auto* fresh = new CfiTableSet();
  // A truncated copy (objects kept being added) is rebuilt at the next refresh.
  fresh->adds = loaded.complete ? loaded.adds : ~0ull;
  fresh->subs = loaded.subs;
  BuildTables(loaded, old, fresh);
  std::sort(fresh->owners.begin(), fresh->owners.end(),
            [](const auto& a, const auto& b) { return a->exec_lo < b->exec_lo; });
  size_t bytes = sizeof(CfiTableSet);
  for (const auto& t : fresh->owners) {
    fresh->entries.push_back(ModuleEntry{t->exec_lo, t->exec_hi, t->bias, t->rows.data(),
                                         t->rows.size(), t->pages.empty() ? nullptr : t->pages.data(),
                                         t->pages.size(), t->row_cache.get(), t->row_cache_bits});
    bytes += ModuleBytes(*t);
  }
  fresh->bytes = bytes;
  g_bytes.store(bytes, std::memory_order_relaxed);
  old = g_published_cfi_tables.exchange(fresh, std::memory_order_seq_cst);
  if (old != nullptr) g_retired->push_back(old);
  FreeRetiredLocked(g_retired->size() >= kMaxRetired ? 1000 : 0);
#if defined(__x86_64__)
  return !fresh->entries.empty();
#else
  return false;  // CFI not implemented for this architecture: frame pointers only
#endif
}

void ReleaseRetiredUnwindTables() {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    FreeRetiredLocked(100);
  }
  ReleaseRetiredReadableRanges();
}

void SetUnwindTablesMaxBytes(size_t bytes) { g_max_bytes.store(bytes, std::memory_order_relaxed); }

uint64_t UnwindModulesOverCap() { return g_modules_over_cap.load(std::memory_order_relaxed); }

size_t UnwindTablesBytes() {
  return g_bytes.load(std::memory_order_relaxed) + ReadableRangesBytes();
}

}  // namespace internal
}  // namespace cpprof
