// SPDX-License-Identifier: Apache-2.0
//
// The heap sampler inside this test process: the malloc family and operator
// new/delete are cpprof's here (the profiles objects are linked into the
// test), so every allocation below goes through the real hooks. Sanitizer
// builds leave malloc to the sanitizer: there only the mode is checked.
//
// Estimates are checked against the truth for one allocation site at a time
// (samples whose first frame lies in that site's function), with a low rate
// so thousands of samples keep the statistical error small.

#include <doctest/doctest.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "profiles/heap/heap_profile.h"
#include "base/safe_load.h"
#include "profiles/heap/heap_sampler.h"
#include "profiles/heap/sample_region.h"
#include "stacks/stack_table.h"
#include "profiles/heap_test_util.h"

namespace cpprof {
namespace internal {
namespace {


// Allocation sites: each keeps its own stack, so its buckets can be found by
// the address of its first frame.
__attribute__((noinline)) void* SiteFixed(size_t n) {
  void* p = malloc(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* SiteMixed(size_t n) {
  void* p = malloc(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}
__attribute__((noinline)) void* SiteNew(size_t n) {
  char* p = new char[n];
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

struct SiteTotals {
  double alloc_objects = 0, alloc_space = 0, inuse_objects = 0, inuse_space = 0;
  int64_t samples = 0;
};

// Sums the buckets whose first frame returns into `site` (within 256 bytes
// of its entry).
SiteTotals Totals(const void* site) {
  SiteTotals t;
  const StackTable* table = heap::Table();
  if (table == nullptr) return t;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(site);
  for (size_t i = 0; i < table->slot_count(); ++i) {
    const uintptr_t* pcs;
    int depth;
    int32_t tag;
    if (!table->Entry(i, &pcs, &depth, &tag) || depth == 0) continue;
    if (pcs[0] <= lo || pcs[0] >= lo + 256) continue;
    t.alloc_objects += static_cast<double>(table->value(i, heap::kAllocObjects)) / heap::kObjectScale;
    t.alloc_space += static_cast<double>(table->value(i, heap::kAllocSpace));
    t.inuse_objects += static_cast<double>(table->value(i, heap::kInuseObjects)) / heap::kObjectScale;
    t.inuse_space += static_cast<double>(table->value(i, heap::kInuseSpace));
    t.samples += table->value(i, heap::kRawAllocCount);
  }
  return t;
}

TEST_CASE("the hooks are cpprof's and forward to glibc") {
  void* p = malloc(10);
  free(p);
  if (!Interposed()) {
    MESSAGE("sanitizer build: malloc is the sanitizer's, heap sampling unavailable");
    CHECK(heap::CurrentMode() == heap::Mode::kUnavailable);
    return;
  }
  CHECK(heap::CurrentMode() == heap::Mode::kGlibc);
}

TEST_CASE("size classes are exact to 16 bytes up to 256, then within 1/8") {
  CHECK(heap::SizeClass(0) == 0);
  CHECK(heap::SizeClass(1) == 16);
  CHECK(heap::SizeClass(16) == 16);
  CHECK(heap::SizeClass(17) == 32);
  CHECK(heap::SizeClass(256) == 256);
  for (uint64_t s : {257ull, 1000ull, 4097ull, 123456ull, 1ull << 29}) {
    int32_t c = heap::SizeClass(s);
    CHECK(static_cast<uint64_t>(c) >= s);
    CHECK(static_cast<double>(c) <= static_cast<double>(s) * 1.125 + 16);
  }
}

TEST_CASE("in-use and allocated estimates of one size are within 10% and return to zero when freed") {
  if (!Interposed()) return;
  RateScope rate(4096);
  constexpr size_t kCount = 200000, kSize = 64;
  std::vector<void*> live(kCount);
  const SiteTotals before = Totals(reinterpret_cast<void*>(&SiteFixed));
  for (size_t i = 0; i < kCount; ++i) live[i] = SiteFixed(kSize);
  const SiteTotals mid = Totals(reinterpret_cast<void*>(&SiteFixed));
  const double truth_objects = kCount, truth_space = kCount * kSize;
  INFO("samples " << mid.samples - before.samples);
  CHECK(mid.samples - before.samples > 1000);
  CHECK(std::fabs(mid.inuse_objects - before.inuse_objects - truth_objects) < 0.1 * truth_objects);
  CHECK(std::fabs(mid.inuse_space - before.inuse_space - truth_space) < 0.1 * truth_space);
  CHECK(std::fabs(mid.alloc_space - before.alloc_space - truth_space) < 0.1 * truth_space);
  for (void* p : live) free(p);
  const SiteTotals after = Totals(reinterpret_cast<void*>(&SiteFixed));
  // The same weights come off on free: exactly back to where it was.
  CHECK(after.inuse_space == doctest::Approx(before.inuse_space));
  CHECK(after.inuse_objects == doctest::Approx(before.inuse_objects));
  CHECK(after.alloc_space == doctest::Approx(mid.alloc_space));
}

TEST_CASE("mixed sizes 16 B - 4 KiB and rare 1 MiB blocks are estimated per object, not per bucket") {
  if (!Interposed()) return;
  RateScope rate(8192);
  std::mt19937_64 rng(42);
  std::vector<void*> live;
  double truth_space = 0, truth_objects = 0;
  const SiteTotals before = Totals(reinterpret_cast<void*>(&SiteMixed));
  for (int i = 0; i < 60000; ++i) {
    size_t n = static_cast<size_t>(std::exp2(4.0 + 8.0 * static_cast<double>(rng() % 10000) / 10000.0));
    if (i % 2000 == 0) n = size_t{1} << 20;
    live.push_back(SiteMixed(n));
    truth_space += static_cast<double>(n);
    truth_objects += 1;
  }
  const SiteTotals mid = Totals(reinterpret_cast<void*>(&SiteMixed));
  INFO("samples " << mid.samples - before.samples);
  CHECK(std::fabs(mid.inuse_space - before.inuse_space - truth_space) < 0.1 * truth_space);
  CHECK(std::fabs(mid.inuse_objects - before.inuse_objects - truth_objects) < 0.1 * truth_objects);
  for (void* p : live) free(p);
  const SiteTotals after = Totals(reinterpret_cast<void*>(&SiteMixed));
  CHECK(after.inuse_space == doctest::Approx(before.inuse_space));
}

TEST_CASE("the first frame of a sampled stack is the allocating function, for malloc and new[]") {
  if (!Interposed()) return;
  RateScope rate(1);  // every allocation
  const SiteTotals before = Totals(reinterpret_cast<void*>(&SiteNew));
  void* p = SiteNew(100);
  CHECK(SampleRegion::Contains(p));
  const SiteTotals mid = Totals(reinterpret_cast<void*>(&SiteNew));
  CHECK(mid.samples == before.samples + 1);
  delete[] static_cast<char*>(p);
  CHECK(Totals(reinterpret_cast<void*>(&SiteNew)).inuse_objects == doctest::Approx(before.inuse_objects));
}

TEST_CASE("sampled objects behave as the allocator's: usable size, realloc, calloc, alignment") {
  if (!Interposed()) return;
  RateScope rate(1);
  char* p = static_cast<char*>(malloc(100));
  REQUIRE(SampleRegion::Contains(p));
  CHECK(malloc_usable_size(p) >= 100);
  memset(p, 0xab, 100);
  free(p);
  // A reused span is cleared for calloc.
  char* z = static_cast<char*>(calloc(10, 10));
  REQUIRE(z != nullptr);
  for (int i = 0; i < 100; ++i) CHECK(z[i] == 0);
  // realloc keeps the contents, growing and shrinking, in and out of the region.
  for (int i = 0; i < 100; ++i) z[i] = static_cast<char>(i);
  z = static_cast<char*>(realloc(z, 10000));
  REQUIRE(z != nullptr);
  for (int i = 0; i < 100; ++i) CHECK(z[i] == static_cast<char>(i));
  z = static_cast<char*>(realloc(z, 50));
  for (int i = 0; i < 50; ++i) CHECK(z[i] == static_cast<char>(i));
  CHECK(realloc(z, 0) == nullptr);
  void* a = nullptr;
  REQUIRE(posix_memalign(&a, 4096, 300) == 0);
  CHECK(reinterpret_cast<uintptr_t>(a) % 4096 == 0);
  free(a);
  void* big = nullptr;  // above a page: kept out of the region, still correct
  REQUIRE(posix_memalign(&big, 1 << 16, 300) == 0);
  CHECK(reinterpret_cast<uintptr_t>(big) % (1 << 16) == 0);
  CHECK(!SampleRegion::Contains(big));
  free(big);
  CHECK(posix_memalign(&a, 3, 8) == EINVAL);
  void* v = valloc(10);
  CHECK(reinterpret_cast<uintptr_t>(v) % 4096 == 0);
  free(v);
  void* al = aligned_alloc(64, 128);
  CHECK(reinterpret_cast<uintptr_t>(al) % 64 == 0);
  free(al);
  errno = 0;
  CHECK(calloc(SIZE_MAX / 2, 4) == nullptr);
  CHECK(errno == ENOMEM);
  auto* aligned = new (std::align_val_t(128)) double[3];
  CHECK(reinterpret_cast<uintptr_t>(aligned) % 128 == 0);
  operator delete[](aligned, std::align_val_t(128));
  int* nothrow = new (std::nothrow) int(5);
  CHECK(*nothrow == 5);
  delete nothrow;
}

TEST_CASE("free keeps errno; a region pointer freed twice is counted, not crashed on") {
  if (!Interposed()) return;
  RateScope rate(1);
  void* p = malloc(10);
  REQUIRE(SampleRegion::Contains(p));
  errno = 1234;
  free(p);
  CHECK(errno == 1234);
  const uint64_t invalid = heap::GetCounters().invalid_frees.load();
  free(p);  // double free: glibc would abort; the region only counts it
  CHECK(heap::GetCounters().invalid_frees.load() == invalid + 1);
}

TEST_CASE("threads allocate and free concurrently; a forked child keeps allocating") {
  if (!Interposed()) return;
  RateScope rate(2048);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int k = 0; k < 3; ++k) {
    threads.emplace_back([&stop, k] {
      std::vector<void*> ring(256, nullptr);
      std::mt19937 rng(static_cast<unsigned>(k));
      while (!stop.load(std::memory_order_relaxed)) {
        size_t i = rng() % ring.size();
        free(ring[i]);
        ring[i] = malloc(16 + rng() % 4000);
      }
      for (void* p : ring) free(p);
    });
  }
  for (int round = 0; round < 5; ++round) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Child: one thread; every allocation path must still work (no lock
      // left held by a parent's thread).
      heap::SetRate(1);
      for (int i = 0; i < 2000; ++i) free(malloc(static_cast<size_t>(i)));
      _exit(0);
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  stop.store(true);
  for (auto& t : threads) t.join();
}

TEST_CASE("heap profiles: Go's sample types, unbiased values, deltas and the text form") {
  if (!Interposed()) return;
  RateScope rate(1024);
  TableSnapshot base = heap::TakeHeapSnapshot();
  std::vector<void*> live;
  for (int i = 0; i < 100000; ++i) live.push_back(SiteFixed(48));
  TableSnapshot now = heap::TakeHeapSnapshot();
  StackProfile p = heap::BuildHeapProfile(now, base, {});
  REQUIRE(p.sample_types.size() == 4);
  CHECK(p.sample_types[0].type == "alloc_objects");
  CHECK(p.sample_types[3].type == "inuse_space");
  CHECK(p.period_type.type == "space");
  CHECK(p.period == 1024);
  CHECK(p.default_sample_type.empty());
  heap::HeapProfileOptions allocs;
  allocs.allocs_default = true;
  CHECK(heap::BuildHeapProfile(now, base, allocs).default_sample_type == "alloc_space");

  heap::HeapProfileOptions delta;
  delta.delta = heap::DeltaKind::kAll;
  StackProfile d = heap::BuildHeapProfile(now, base, delta);
  int64_t site_space = 0;
  bool labelled = false;
  for (const StackSample& s : d.samples) {
    if (s.pcs.empty()) continue;
    if (s.pcs[0] > reinterpret_cast<uintptr_t>(&SiteFixed) && s.pcs[0] < reinterpret_cast<uintptr_t>(&SiteFixed) + 256) {
      site_space += s.values[3];
      for (const SampleLabel& l : s.labels) labelled = labelled || (l.key == "bytes" && l.num == 48);
    }
  }
  CHECK(std::fabs(static_cast<double>(site_space) - 100000 * 48) < 0.1 * 100000 * 48);
  CHECK(labelled);
  for (void* q : live) free(q);
  // delta_heap semantics: alloc since base, in-use as now.
  TableSnapshot later = heap::TakeHeapSnapshot();
  heap::HeapProfileOptions alloc_only;
  alloc_only.delta = heap::DeltaKind::kAllocOnly;
  StackProfile g = heap::BuildHeapProfile(later, now, alloc_only);
  for (const StackSample& s : g.samples) {
    if (!s.pcs.empty() && s.pcs[0] > reinterpret_cast<uintptr_t>(&SiteFixed) &&
        s.pcs[0] < reinterpret_cast<uintptr_t>(&SiteFixed) + 256) {
      CHECK(s.values[1] == 0);  // nothing allocated there since `now`
    }
  }
  std::string text = heap::HeapProfileText(later);
  CHECK(text.rfind("heap profile: ", 0) == 0);
  CHECK(text.find("@ heap/2048\n") != std::string::npos);
  CHECK(text.find("SiteFixed") != std::string::npos);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof

namespace cpprof {
namespace internal {
namespace {

TEST_CASE("sampled objects of one and several pages never overlap, through frees and reuse") {
  if (!Interposed()) return;
  RateScope rate(1);
  std::mt19937 rng(3);
  struct Obj {
    unsigned char* p;
    size_t n;
    unsigned char tag;
  };
  std::vector<Obj> live;
  for (int round = 0; round < 3000; ++round) {
    if (!live.empty() && rng() % 3 == 0) {
      size_t i = rng() % live.size();
      for (size_t k = 0; k < live[i].n; k += 512) REQUIRE(live[i].p[k] == live[i].tag);
      free(live[i].p);
      live.erase(live.begin() + static_cast<long>(i));
      continue;
    }
    size_t n = 16 + rng() % (3 * 4096 + 2000);
    auto* p = static_cast<unsigned char*>(malloc(n));
    REQUIRE(SampleRegion::Contains(p));
    unsigned char tag = static_cast<unsigned char>(rng());
    memset(p, tag, n);
    live.push_back({p, n, tag});
  }
  for (const Obj& o : live) {
    for (size_t k = 0; k < o.n; k += 256) CHECK(o.p[k] == o.tag);
    free(o.p);
  }
}

}  // namespace
}  // namespace internal
}  // namespace cpprof

#include <dlfcn.h>

namespace cpprof {
namespace internal {
namespace {

TEST_CASE("allocations of a dlopen'ed module are sampled at its functions, and freed after dlclose") {
  if (!Interposed()) return;
  RateScope rate(1);
  void* handle = dlopen(CPPROF_TEST_ALLOC_PLUGIN, RTLD_NOW | RTLD_LOCAL);
  REQUIRE(handle != nullptr);
  // The map of readable memory is a cached snapshot: the module may be
  // mapped where an earlier test's memory was (the background refresher
  // would catch up within a second). The unwind tables stay as they were:
  // the module's frames are still walked without them.
  RefreshReadableRanges();
  using AllocFn = void* (*)(size_t);
  void* sym = dlsym(handle, "PluginAllocate");
  REQUIRE(sym != nullptr);
  auto alloc = reinterpret_cast<AllocFn>(sym);
  void* p = alloc(777);
  REQUIRE(SampleRegion::Contains(p));
  SampleMeta* meta = SampleRegion::Meta(p);
  REQUIRE(meta != nullptr);
  REQUIRE(meta->slot >= 0);
  const size_t slot = static_cast<size_t>(meta->slot);
  const uintptr_t* pcs;
  int depth;
  int32_t tag;
  REQUIRE(heap::Table()->Entry(slot, &pcs, &depth, &tag));
  REQUIRE(depth > 0);
  Dl_info info;
  REQUIRE(dladdr(reinterpret_cast<void*>(pcs[0] - 1), &info) != 0);
  CHECK(std::string(info.dli_fname).find("alloc_plugin") != std::string::npos);
  CHECK(info.dli_sname != nullptr);
  if (info.dli_sname != nullptr) CHECK(std::string(info.dli_sname) == "PluginAllocate");
  const int64_t inuse_before = heap::Table()->value(slot, heap::kInuseObjects);
  CHECK(dlclose(handle) == 0);
  free(p);  // the module is gone; its object still goes back through the region
  CHECK(heap::Table()->value(slot, heap::kInuseObjects) < inuse_before);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
