// SPDX-License-Identifier: Apache-2.0
//
// Sampled objects reaching glibc without passing cpprof's free: a library
// opened with RTLD_DEEPBIND (it binds glibc's free, realloc and
// malloc_usable_size), or __libc_free called directly. glibc must take them
// for its own mmapped chunks (not abort), and cpprof must notice: the
// object leaves the in-use values, its span is mapped again and reused, and
// a chunk glibc maps into the hole is freed through to glibc.
//
// Sanitizer builds leave malloc to the sanitizer (and ASan refuses
// RTLD_DEEPBIND): nothing is checked there.

#include <dlfcn.h>
#include <doctest/doctest.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cstdint>
#include <vector>

#include "profiles/heap/heap_sampler.h"
#include "profiles/heap/sample_region.h"
#include "stacks/stack_table.h"
#include "profiles/heap_test_util.h"

extern "C" void __libc_free(void*);

namespace cpprof {
namespace internal {
namespace {


bool Mapped(const void* p, size_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{4095};
  return msync(reinterpret_cast<void*>(a), bytes, MS_ASYNC) == 0;
}

// In-use objects (fixed point) of the stack of the live sample at p.
int64_t InuseOfSlot(int32_t slot) {
  return slot >= 0 ? heap::Table()->value(static_cast<size_t>(slot), heap::kInuseObjects) : 0;
}

__attribute__((noinline)) void* BypassSite(size_t n) {
  void* p = malloc(n);
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

struct DeepPlugin {
  DeepPlugin() {
    handle = dlopen(CPPROF_TEST_DEEPBIND_PLUGIN, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    REQUIRE(handle != nullptr);
    free_fn = reinterpret_cast<void (*)(void*)>(dlsym(handle, "DeepFree"));
    realloc_fn = reinterpret_cast<void* (*)(void*, size_t)>(dlsym(handle, "DeepRealloc"));
    usable_fn = reinterpret_cast<size_t (*)(void*)>(dlsym(handle, "DeepUsableSize"));
    auto which = reinterpret_cast<void* (*)()>(dlsym(handle, "DeepFreeAddress"));
    REQUIRE((free_fn != nullptr && realloc_fn != nullptr && usable_fn != nullptr && which != nullptr));
    // The module's free is glibc's: otherwise this test would prove nothing.
    void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(libc != nullptr);
    REQUIRE(which() == dlsym(libc, "free"));
    REQUIRE(which() != reinterpret_cast<void*>(&free));
    dlclose(libc);
  }
  ~DeepPlugin() { dlclose(handle); }
  void* handle;
  void (*free_fn)(void*);
  void* (*realloc_fn)(void*, size_t);
  size_t (*usable_fn)(void*);
};

TEST_CASE("a sampled object carries the header of a glibc mmapped chunk") {
  if (!Interposed()) return;
  RateScope rate(1);
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(libc != nullptr);
  auto glibc_usable = reinterpret_cast<size_t (*)(void*)>(dlsym(libc, "malloc_usable_size"));
  REQUIRE((glibc_usable != nullptr));
  for (size_t align : {size_t{0}, size_t{16}, size_t{32}, size_t{64}, size_t{1024}, size_t{4096}}) {
    for (size_t size : {size_t{1}, size_t{100}, size_t{4000}, size_t{4096}, size_t{20000}}) {
      CAPTURE(align);
      CAPTURE(size);
      // At rate 1 a one-byte object escapes a sample now and then.
      void* p = nullptr;
      for (int tries = 0; tries < 50 && !SampleRegion::Contains(p); ++tries) {
        free(p);
        p = align == 0 ? malloc(size) : memalign(align, size);
      }
      REQUIRE(SampleRegion::Contains(p));
      const uintptr_t a = reinterpret_cast<uintptr_t>(p);
      if (align != 0) CHECK(a % align == 0);
      // What glibc's munmap_chunk checks before it unmaps a chunk.
      const uint64_t* h = reinterpret_cast<const uint64_t*>(a - 16);
      const uint64_t prev = h[0], chunk = h[1] & ~uint64_t{7};
      CHECK((h[1] & 2) != 0);
      CHECK((a - 16 - prev) % 4096 == 0);
      CHECK((prev + chunk) % 4096 == 0);
      const uint64_t in_page = a % 4096;
      CHECK((in_page & (in_page - 1)) == 0);
      // The span is the chunk: glibc's usable size is cpprof's.
      CHECK(glibc_usable(p) == malloc_usable_size(p));
      CHECK(malloc_usable_size(p) >= size);
      free(p);
    }
  }
  dlclose(libc);
}

TEST_CASE("samples freed by glibc directly leave the in-use values and their spans are reused") {
  if (!Interposed()) return;
  RateScope rate(1);
  DeepPlugin deep;
  heap::SweepLostSamples();  // whatever earlier tests left
  const uint64_t outside_before = heap::GetCounters().freed_outside.load();
  std::vector<void*> objs;
  for (int i = 0; i < 20; ++i) {
    void* p = BypassSite(64 << 10);
    REQUIRE(SampleRegion::Contains(p));
    memset(p, 0x5a, 64 << 10);
    objs.push_back(p);
  }
  const int32_t slot = SampleRegion::Meta(objs[0])->slot;
  REQUIRE(slot >= 0);
  const int64_t inuse_before = InuseOfSlot(slot);
  // The module frees ten: glibc unmaps their spans.
  for (int i = 0; i < 10; ++i) {
    CHECK(deep.usable_fn(objs[i]) >= (64u << 10));
    deep.free_fn(objs[i]);
    CHECK(!Mapped(objs[i], 4096));
  }
  CHECK(heap::SweepLostSamples() == 10);
  CHECK(heap::GetCounters().freed_outside.load() == outside_before + 10);
  const int64_t per_object = (inuse_before) / 20;
  CHECK(InuseOfSlot(slot) == doctest::Approx(static_cast<double>(inuse_before - 10 * per_object)).epsilon(0.01));
  // The holes are ours again (mapped), and a second sweep finds nothing.
  for (int i = 0; i < 10; ++i) CHECK(Mapped(objs[i], 4096));
  CHECK(heap::SweepLostSamples() == 0);
  // __libc_free directly: the same.
  __libc_free(objs[10]);
  CHECK(heap::SweepLostSamples() == 1);
  // The rest are intact and freed normally.
  for (int i = 11; i < 20; ++i) {
    CHECK(static_cast<unsigned char*>(objs[i])[(64 << 10) - 1] == 0x5a);
    free(objs[i]);
  }
  CHECK(InuseOfSlot(slot) == doctest::Approx(0.0).epsilon(0.01));
  // New samples land in the reclaimed spans without overlapping anything.
  std::vector<unsigned char*> again;
  for (int i = 0; i < 40; ++i) {
    auto* p = static_cast<unsigned char*>(malloc(64 << 10));
    REQUIRE(SampleRegion::Contains(p));
    memset(p, i, 64 << 10);
    again.push_back(p);
  }
  for (int i = 0; i < 40; ++i) {
    CHECK(again[i][0] == i);
    CHECK(again[i][(64 << 10) - 1] == i);
    free(again[i]);
  }
}

TEST_CASE("samples glibc resizes directly stay valid and are freed through to glibc") {
  if (!Interposed()) return;
  RateScope rate(1);
  DeepPlugin deep;
  heap::SweepLostSamples();
  const uint64_t outside_before = heap::GetCounters().freed_outside.load();
  // Growing: glibc moves the chunk (mremap) out of the region.
  auto* g = static_cast<unsigned char*>(malloc(10000));
  REQUIRE(SampleRegion::Contains(g));
  for (int i = 0; i < 10000; ++i) g[i] = static_cast<unsigned char>(i * 7);
  auto* g2 = static_cast<unsigned char*>(deep.realloc_fn(g, 300000));
  REQUIRE(g2 != nullptr);
  for (int i = 0; i < 10000; ++i) REQUIRE(g2[i] == static_cast<unsigned char>(i * 7));
  memset(g2 + 10000, 1, 300000 - 10000);
  CHECK(malloc_usable_size(g2) >= 300000);
  free(g2);  // glibc's chunk, wherever it now is
  // Shrinking by pages: glibc shrinks it in place and rewrites the header;
  // cpprof's free then hands it to glibc.
  auto* s = static_cast<unsigned char*>(malloc(20000));
  REQUIRE(SampleRegion::Contains(s));
  for (int i = 0; i < 100; ++i) s[i] = static_cast<unsigned char>(i);
  auto* s2 = static_cast<unsigned char*>(deep.realloc_fn(s, 100));
  REQUIRE(s2 == s);
  for (int i = 0; i < 100; ++i) REQUIRE(s2[i] == static_cast<unsigned char>(i));
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  auto glibc_usable = reinterpret_cast<size_t (*)(void*)>(dlsym(libc, "malloc_usable_size"));
  dlclose(libc);
  CHECK(malloc_usable_size(s2) == glibc_usable(s2));  // glibc's answer now
  CHECK(realloc(s2, 50) == s2);                        // through to glibc: same pages, in place
  free(s2);
  CHECK(!Mapped(s2, 4096));  // glibc unmapped it
  heap::SweepLostSamples();
  CHECK(heap::GetCounters().freed_outside.load() == outside_before + 2);
  CHECK(Mapped(s2, 4096));  // plugged again
}

TEST_CASE("a chunk glibc maps into a sample's hole is freed through to glibc; stale pointers are not") {
  if (!Interposed()) return;
  RateScope rate(1);
  heap::SweepLostSamples();
  // Something of glibc's lands in the hole: a one-page mmapped chunk at the
  // very address of the sample. (A sweep on another thread, the growth
  // monitor's tick, may plug the hole first: then try with another sample.)
  char* span = nullptr;
  for (int attempt = 0; attempt < 20 && span == nullptr; ++attempt) {
    void* p = malloc(6000);  // a two-page span
    REQUIRE(SampleRegion::Contains(p));
    char* s = static_cast<char*>(p) - 16;
    REQUIRE(reinterpret_cast<uintptr_t>(s) % 4096 == 0);
    __libc_free(p);
    void* got = mmap(s, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (got == s) span = s;
    else if (got != MAP_FAILED) munmap(got, 4096);  // a kernel that took the address as a hint
  }
  REQUIRE(span != nullptr);
  uint64_t header[2] = {0, 4096 | 2};
  memcpy(span, header, sizeof(header));
  const uint64_t invalid = heap::GetCounters().invalid_frees.load();
  free(span + 16);  // cpprof's free: the header is not its own, so glibc's munmap
  CHECK(!Mapped(span, 4096));
  CHECK(heap::GetCounters().invalid_frees.load() == invalid);
  heap::SweepLostSamples();
  CHECK(Mapped(span, 8192));
  // A sampled object freed twice through cpprof is still only counted.
  void* q = malloc(100);
  REQUIRE(SampleRegion::Contains(q));
  free(q);
  free(q);
  CHECK(heap::GetCounters().invalid_frees.load() == invalid + 1);
  CHECK(malloc_usable_size(q) == 0);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
