// SPDX-License-Identifier: Apache-2.0
//
// Implementation notes (NOT signal context).
//
// RefreshUnwindTables walks dl_iterate_phdr. The glibc counters dlpi_adds /
// dlpi_subs tell whether any module was loaded or unloaded since the
// published set was built; if not, nothing is rebuilt. Otherwise a new
// CfiTableSet is assembled: modules already parsed (same name, load bias,
// .eh_frame_hdr and executable span) are shared through shared_ptr, new ones
// are parsed inside the dl_iterate_phdr callback, where the loader keeps the
// module mapped. The set is published with one atomic exchange; the old set
// goes to a retired list and is deleted after SignalReaderGate().Synchronize()
// (dropping the last reference to tables of unloaded modules). The retired
// list is bounded: past kMaxRetired, a refresh waits for readers.

#include <link.h>

#include <algorithm>
#include <mutex>

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

struct BuildContext {
  const CfiTableSet* old = nullptr;
  CfiTableSet* fresh = nullptr;
  bool counters_seen = false;
  size_t bytes = 0;  // of the modules in `fresh` so far
};

void ReadCounters(dl_phdr_info* info, size_t size, unsigned long long* adds,
                  unsigned long long* subs) {
  if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
    *adds = info->dlpi_adds;
    *subs = info->dlpi_subs;
  }
}

int CountersCallback(dl_phdr_info* info, size_t size, void* data) {
  auto* out = static_cast<unsigned long long*>(data);
  ReadCounters(info, size, &out[0], &out[1]);
  return 1;  // the counters are the same in every entry
}

int BuildCallback(dl_phdr_info* info, size_t size, void* data) {
  auto* ctx = static_cast<BuildContext*>(data);
  if (!ctx->counters_seen) {
    ReadCounters(info, size, &ctx->fresh->adds, &ctx->fresh->subs);
    ctx->counters_seen = true;
  }
  uintptr_t bias = info->dlpi_addr;
  uintptr_t exec_lo = UINTPTR_MAX, exec_hi = 0, hdr = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      exec_lo = std::min<uintptr_t>(exec_lo, bias + ph.p_vaddr);
      exec_hi = std::max<uintptr_t>(exec_hi, bias + ph.p_vaddr + ph.p_memsz);
    } else if (ph.p_type == PT_GNU_EH_FRAME) {
      hdr = bias + ph.p_vaddr;
    }
  }
  if (exec_hi <= exec_lo) return 0;
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  if (ctx->old != nullptr) {
    for (const auto& t : ctx->old->owners) {
      if (t->bias == bias && t->eh_frame_hdr == hdr && t->exec_lo == exec_lo &&
          t->exec_hi == exec_hi && t->name == name) {
        ctx->fresh->owners.push_back(t);
        ctx->bytes += ModuleBytes(*t);
        return 0;
      }
    }
  }
  auto table = std::make_shared<ModuleTable>();
  table->name = name;
  table->bias = bias;
  table->eh_frame_hdr = hdr;
  table->exec_lo = exec_lo;
  table->exec_hi = exec_hi;
#if defined(__x86_64__)
  if (hdr != 0) {
    for (int i = 0; i < info->dlpi_phnum; ++i) {  // the segment that maps the header
      const ElfW(Phdr)& ph = info->dlpi_phdr[i];
      uintptr_t lo = bias + ph.p_vaddr, hi = lo + ph.p_filesz;
      if (ph.p_type == PT_LOAD && (ph.p_flags & PF_R) && hdr >= lo && hdr < hi) {
        ParseEhFrame(hdr, lo, hi, table.get());
        break;
      }
    }
  }
  BuildPageIndex(table.get());
  BuildRowCache(table.get());
#endif  // aarch64 and others: no CFI rows; the walk uses frame pointers.
  if (ctx->bytes + ModuleBytes(*table) > g_max_bytes.load(std::memory_order_relaxed) && !table->rows.empty()) {
    // Past the cap: this module is walked with frame pointers only.
    std::vector<CfiRow>().swap(table->rows);
    std::vector<uint32_t>().swap(table->pages);
    BuildRowCache(table.get());  // none for an empty table
    g_modules_over_cap.fetch_add(1, std::memory_order_relaxed);
  }
  ctx->bytes += ModuleBytes(*table);
  ctx->fresh->owners.push_back(std::move(table));
  return 0;
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
  unsigned long long counters[2] = {0, 0};
  dl_iterate_phdr(&CountersCallback, counters);
  if (old != nullptr && old->adds == counters[0] && old->subs == counters[1]) {
    if (ReadableRangesStale()) RefreshReadableRanges();
    return !old->entries.empty();
  }
  RefreshReadableRanges();
  auto* fresh = new CfiTableSet();
  BuildContext ctx;
  ctx.old = old;
  ctx.fresh = fresh;
  dl_iterate_phdr(&BuildCallback, &ctx);
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
