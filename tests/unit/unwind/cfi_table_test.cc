// SPDX-License-Identifier: Apache-2.0
//
// The compact CFI tables: shape, the rules GCC/glibc produce at known
// places, refresh behaviour and robustness against corrupt .eh_frame data.

#include <dlfcn.h>
#include <stdlib.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "unwind/cfi_table.h"
#include "unwind/unwinder.h"

namespace {

using cpprof::internal::CfiRow;
using cpprof::internal::CfiTableSet;
using cpprof::internal::CurrentCfiTables;
using cpprof::internal::FindModule;
using cpprof::internal::FindRow;
using cpprof::internal::ModuleEntry;
using cpprof::internal::RefreshUnwindTables;

const ModuleEntry* ModuleOf(const void* fn) {
  return FindModule(CurrentCfiTables(), reinterpret_cast<uintptr_t>(fn));
}

// libc's own definition: in sanitizer builds &qsort (and dlsym(RTLD_DEFAULT))
// is the sanitizer runtime's interceptor, not libc's function.
const void* LibcFunction(const char* name) {
  void* libc = dlopen("libc.so.6", RTLD_NOLOAD | RTLD_NOW);
  REQUIRE(libc != nullptr);
  void* fn = dlsym(libc, name);
  REQUIRE(fn != nullptr);
  return fn;
}

int CountRule(const ModuleEntry& m, uint8_t rule) {
  int n = 0;
  for (size_t i = 0; i < m.count; ++i) n += m.rows[i].rule == rule;
  return n;
}

TEST_CASE("Tables cover every loaded module, sorted, with strictly increasing rows") {
  REQUIRE(RefreshUnwindTables());
  const CfiTableSet* set = CurrentCfiTables();
  REQUIRE(set != nullptr);
  CHECK(set->entries.size() >= 4);  // executable, libc, libstdc++, ld.so at least
  for (size_t i = 0; i < set->entries.size(); ++i) {
    const ModuleEntry& m = set->entries[i];
    CHECK(m.lo < m.hi);
    if (i > 0) CHECK(set->entries[i - 1].hi <= m.lo);
    for (size_t r = 1; r < m.count; ++r) CHECK(m.rows[r - 1].pc < m.rows[r].pc);
  }
  const ModuleEntry* libc = ModuleOf(LibcFunction("qsort"));
  REQUIRE(libc != nullptr);
  CHECK(libc->count > 1000);
  CHECK(cpprof::internal::UnwindTablesBytes() > libc->count * sizeof(CfiRow));
}

TEST_CASE("At a function's first instruction CFA is rsp + 8 and the return address at CFA - 8") {
  REQUIRE(RefreshUnwindTables());
  for (const void* fn : {reinterpret_cast<const void*>(&qsort), reinterpret_cast<const void*>(&strtol),
                         reinterpret_cast<const void*>(&RefreshUnwindTables)}) {
    const ModuleEntry* m = ModuleOf(fn);
    REQUIRE(m != nullptr);
    const CfiRow* row = FindRow(*m, reinterpret_cast<uintptr_t>(fn));
    REQUIRE(row != nullptr);
    CHECK(row->rule == cpprof::internal::kCfaSp);
    CHECK(row->cfa_offset == 8);
    CHECK(row->ra_offset == -8);
    CHECK(row->fp_offset == cpprof::internal::kFpSame);
  }
}

TEST_CASE("glibc's thread entry, signal trampoline and PLT get their special rules") {
  REQUIRE(RefreshUnwindTables());
  const ModuleEntry* libc = ModuleOf(LibcFunction("qsort"));
  REQUIRE(libc != nullptr);
  CHECK(CountRule(*libc, cpprof::internal::kCfaEnd) >= 1);     // clone/clone3: RA undefined
  CHECK(CountRule(*libc, cpprof::internal::kCfaSignal) >= 1);  // __restore_rt ("zRS" CIE)
  int plt = 0;
  for (const ModuleEntry& m : CurrentCfiTables()->entries) plt += CountRule(m, cpprof::internal::kCfaPlt);
  CHECK(plt >= 1);  // lazy-binding .plt of some module
}

TEST_CASE("RefreshUnwindTables keeps the published set when no module changed") {
  REQUIRE(RefreshUnwindTables());
  const CfiTableSet* before = CurrentCfiTables();
  REQUIRE(RefreshUnwindTables());
  CHECK(CurrentCfiTables() == before);
  cpprof::internal::ReleaseRetiredUnwindTables();
}

bool SameRow(const CfiRow& a, const CfiRow& b) {
  return a.rule == b.rule && a.cfa_offset == b.cfa_offset && a.fp_offset == b.fp_offset &&
         a.ra_offset == b.ra_offset;
}

TEST_CASE("The row cache answers exactly what the table answers, cold and warm") {
  REQUIRE(RefreshUnwindTables());
  int cached_modules = 0;
  for (const ModuleEntry& m : CurrentCfiTables()->entries) {
    if (m.row_cache == nullptr) {
      CHECK(m.count < cpprof::internal::kRowCacheMinRows);
      continue;
    }
    ++cached_modules;
    std::mt19937_64 rng(m.count);
    std::vector<uintptr_t> pcs;
    for (size_t i = 0; i < m.count; i += 7) {  // row starts, the byte before, and random PCs
      uintptr_t at = m.bias + m.rows[i].pc;
      pcs.push_back(at);
      pcs.push_back(at - 1);
      pcs.push_back(m.lo + rng() % (m.hi - m.lo));
    }
    pcs.push_back(m.lo);
    pcs.push_back(m.hi - 1);
    for (int pass = 0; pass < 3; ++pass) {  // fill, hit, hit after collisions
      for (uintptr_t pc : pcs) {
        const CfiRow* want = FindRow(m, pc);
        CfiRow got;
        bool found = cpprof::internal::LookupRow(m, pc, &got);
        // A kCfaNone row (the gap after an FDE) means the same as no row.
        INFO("pc offset " << (pc - m.bias) << " pass " << pass << " want rule "
                          << (want ? int(want->rule) : -1) << " got rule " << int(got.rule));
        REQUIRE(found == (want != nullptr && want->rule != cpprof::internal::kCfaNone));
        if (found) REQUIRE(SameRow(got, *want));
      }
    }
    size_t filled = 0;
    for (size_t i = 0; i < (size_t{1} << m.row_cache_bits); ++i) filled += m.row_cache[i].load() != 0;
    CHECK(filled > 0);
  }
  CHECK(cached_modules >= 1);  // libc at least
}

TEST_CASE("Rows pack into a cache word exactly, or not at all") {
  using cpprof::internal::PackRow;
  using cpprof::internal::UnpackRow;
  uint32_t packed = 0;
  CfiRow out;
  REQUIRE(PackRow(nullptr, &packed));  // "no row here" is cached too
  CHECK(packed != 0);
  CHECK_FALSE(UnpackRow(packed, &out));
  const CfiRow fits[] = {
      {0, 8, cpprof::internal::kFpSame, -8, cpprof::internal::kCfaSp},
      {0, 16, -16, -8, cpprof::internal::kCfaFp},
      {0, 32767, -1016, -64, cpprof::internal::kCfaSp},
      {0, -32768, 1016, 56, cpprof::internal::kCfaSp},
      {0, 11, cpprof::internal::kFpSame, -8, cpprof::internal::kCfaPlt},
      {0, 0, cpprof::internal::kFpSame, 0, cpprof::internal::kCfaSignal},
      {0, 0, 0, 0, cpprof::internal::kCfaEnd},
  };
  for (const CfiRow& row : fits) {
    REQUIRE(PackRow(&row, &packed));
    CHECK(packed != 0);
    REQUIRE(UnpackRow(packed, &out));
    CHECK(SameRow(out, row));
  }
  const CfiRow too_wide[] = {
      {0, 40000, cpprof::internal::kFpSame, -8, cpprof::internal::kCfaSp},  // a 40 KB frame
      {0, 16, -12, -8, cpprof::internal::kCfaSp},                             // fp not a multiple of 8
      {0, 16, -2048, -8, cpprof::internal::kCfaSp},
      {0, 16, cpprof::internal::kFpSame, -4, cpprof::internal::kCfaSp},
      {0, 16, cpprof::internal::kFpSame, -72, cpprof::internal::kCfaSp},
  };
  for (const CfiRow& row : too_wide) CHECK_FALSE(PackRow(&row, &packed));
}

TEST_CASE("ParseEhFrame survives corrupt section data") {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(8192);
  for (int round = 0; round < 2000; ++round) {
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    buf[0] = 1;                                          // version
    buf[1] = round % 2 ? 0x1b : static_cast<uint8_t>(rng());  // eh_frame_ptr encoding
    buf[2] = 0x03;                                       // fde_count: udata4
    buf[3] = round % 3 ? 0x3b : 0xff;                    // table: datarel sdata4 / none
    uint32_t count = rng() % 64;
    std::memcpy(&buf[8], &count, 4);
    cpprof::internal::ModuleTable table;
    uintptr_t lo = reinterpret_cast<uintptr_t>(buf.data());
    table.bias = lo - (rng() % 4096);
    cpprof::internal::ParseEhFrame(lo, lo, lo + buf.size(), &table);
    for (size_t r = 1; r < table.rows.size(); ++r) CHECK(table.rows[r - 1].pc < table.rows[r].pc);
  }
}

}  // namespace

TEST_CASE("Past unwind_table_max_bytes a newly loaded module gets no table and is counted") {
  using cpprof::internal::SetUnwindTablesMaxBytes;
  using cpprof::internal::UnwindModulesOverCap;
  REQUIRE(RefreshUnwindTables());
  const size_t bytes_before = cpprof::internal::UnwindTablesBytes();
  const uint64_t over_before = UnwindModulesOverCap();
  SetUnwindTablesMaxBytes(1);  // every module built from now on is over it
  // libuuid (util-linux, an essential Debian package) is not linked here.
  void* lib = dlopen("libuuid.so.1", RTLD_NOW | RTLD_LOCAL);
  const char* why = lib == nullptr ? dlerror() : nullptr;
  INFO("dlopen(libuuid.so.1): ", std::string(why != nullptr ? why : ""));
  REQUIRE(lib != nullptr);
  RefreshUnwindTables();
  SetUnwindTablesMaxBytes(cpprof::internal::kDefaultUnwindTablesMaxBytes);
  void* fn = dlsym(lib, "uuid_generate");
  REQUIRE(fn != nullptr);
  const ModuleEntry* m = FindModule(CurrentCfiTables(), reinterpret_cast<uintptr_t>(fn));
  REQUIRE(m != nullptr);
  CHECK(m->count == 0);  // walked with frame pointers only
  CHECK(UnwindModulesOverCap() > over_before);
  CHECK(cpprof::internal::UnwindTablesBytes() < bytes_before + 4096);  // no rows were kept
  // Modules built before the cap keep their tables.
  const ModuleEntry* self = FindModule(CurrentCfiTables(), reinterpret_cast<uintptr_t>(&RefreshUnwindTables));
  REQUIRE(self != nullptr);
  CHECK(self->count > 0);
  dlclose(lib);
  RefreshUnwindTables();
}
