// SPDX-License-Identifier: Apache-2.0
//
// Hook context: this file defines the process's malloc family and every
// replaceable operator new/delete (exported from libcpprof.so and the
// preload module, or from the executable when the static library is linked
// in). They run on every thread, before main() and after exit() starts, and
// may be re-entered from cpprof itself. They:
//   - forward to the real allocator (glibc's __libc_* entry points, or the
//     next definition when another allocator follows; heap_sampler.h),
//   - on the allocation side, subtract the size from a thread-local counter
//     and branch (ShouldSample); only a sampled allocation goes further,
//   - on the free side, compare the pointer with the sample region; any
//     other pointer goes to the real free untouched, with no lock or lookup
//     (in the region, a pointer glibc took over goes to glibc too).
// No locks, no allocation, initial-exec TLS only; errno is preserved by the
// sampled paths (glibc's own functions set it as they always do).
//
// Sanitizer builds leave malloc to the sanitizer: nothing here is compiled.
//
// Coverage: malloc, free, calloc, realloc, reallocarray, memalign,
// posix_memalign, aligned_alloc, valloc, pvalloc, malloc_usable_size, and
// the 20 operator new/delete forms (plain, array, nothrow, aligned, sized).

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstddef>
#include <new>

#include "profiles/heap/heap_hooks_section.h"
#include "profiles/heap/heap_sampler.h"
#include "profiles/heap/sample_region.h"

#define CPPROF_ALLOC_HOOK extern "C" __attribute__((visibility("default"), section("cpprof_alloc_hooks")))
#define CPPROF_NEW_HOOK __attribute__((visibility("default"), section("cpprof_alloc_hooks")))

namespace heap = cpprof::internal::heap;
using cpprof::internal::SampleRegion;

// Another copy of cpprof in the process looks for this to know that the
// malloc following its own is cpprof's.
extern "C" __attribute__((visibility("default"))) const char cpprof_heap_hooks_marker = 1;

namespace {

__attribute__((always_inline)) inline void* Allocate(size_t size) {
  if (heap::ShouldSample(size)) {
    if (void* p = heap::SampledAllocate(size, 0, false)) return p;
  }
  return heap::g_real.malloc(size);
}

__attribute__((always_inline)) inline void* AllocateAligned(size_t align, size_t size) {
  if (heap::ShouldSample(size)) {
    if (void* p = heap::SampledAllocate(size, align, false)) return p;
  }
  return heap::g_real.memalign(align, size);
}

__attribute__((always_inline)) inline void Free(void* p) {
  if (__builtin_expect(SampleRegion::Contains(p), 0)) {
    heap::SampledFree(p);
    return;
  }
  heap::g_real.free(p);
}

size_t RealUsableSize(void* p) {
  if (heap::g_real.usable_size != nullptr) return heap::g_real.usable_size(p);
  return 0;  // only before the first allocation through cpprof; nothing to measure then
}

__attribute__((section("cpprof_alloc_hooks"), noinline)) void* ReallocInRegion(void* p, size_t size) {
  cpprof::internal::SampleMeta* meta = nullptr;
  const cpprof::internal::RegionOwner owner = heap::ClassifyRegionPointer(p, &meta);
  if (owner == cpprof::internal::RegionOwner::kGlibc) {
    return heap::g_real.realloc(p, size);  // glibc's chunk now (see sample_region.h)
  }
  if (size == 0) {
    heap::FreeClassified(p, owner, meta);
    return nullptr;
  }
  // p is a sampled object: move it out of the region (the new block may be
  // sampled again, with a new weight and the caller's stack).
  void* q = heap::ShouldSample(size) ? heap::SampledAllocate(size, 0, false) : nullptr;
  if (q == nullptr) q = heap::g_real.malloc(size);
  if (q == nullptr) return nullptr;  // p stays valid, as realloc requires
  // (A stale pointer, kNobody, copies nothing and is only counted.)
  const size_t old = owner == cpprof::internal::RegionOwner::kSample ? SampleRegion::UsableSize(*meta) : 0;
  memcpy(q, p, old < size ? old : size);
  heap::FreeClassified(p, owner, meta);
  return q;
}

__attribute__((section("cpprof_alloc_hooks"), noinline)) void* ReallocIntoSample(void* p, size_t size) {
  // p is the real allocator's and the new size was drawn for a sample.
  void* q = heap::SampledAllocate(size, 0, false);
  if (q == nullptr) return heap::g_real.realloc(p, size);
  size_t old = RealUsableSize(p);
  if (old == 0) {
    // Without the real usable size, let the real realloc resize it and copy from there.
    void* r = heap::g_real.realloc(p, size);
    if (r == nullptr) {
      heap::SampledFree(q);
      return nullptr;
    }
    memcpy(q, r, size);
    heap::g_real.free(r);
    return q;
  }
  memcpy(q, p, old < size ? old : size);
  heap::g_real.free(p);
  return q;
}

[[noreturn]] void ThrowBadAlloc() { throw std::bad_alloc(); }

__attribute__((section("cpprof_alloc_hooks"), noinline)) void* NewFailed(size_t size, size_t align) {
  for (;;) {
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) ThrowBadAlloc();
    handler();
    void* p = align == 0 ? Allocate(size) : AllocateAligned(align, size);
    if (p != nullptr) return p;
  }
}

inline void* New(size_t size) {
  void* p = Allocate(size == 0 ? 1 : size);
  return p != nullptr ? p : NewFailed(size == 0 ? 1 : size, 0);
}

inline void* NewAligned(size_t size, std::align_val_t al) {
  size_t align = static_cast<size_t>(al);
  if (align < sizeof(void*)) align = sizeof(void*);
  void* p = AllocateAligned(align, size == 0 ? 1 : size);
  return p != nullptr ? p : NewFailed(size == 0 ? 1 : size, align);
}

inline void* NewNothrow(size_t size) noexcept {
  try {
    return New(size);
  } catch (...) {
    return nullptr;
  }
}

inline void* NewAlignedNothrow(size_t size, std::align_val_t al) noexcept {
  try {
    return NewAligned(size, al);
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

CPPROF_ALLOC_HOOK void* malloc(size_t size) { return Allocate(size); }

CPPROF_ALLOC_HOOK void free(void* p) { Free(p); }

CPPROF_ALLOC_HOOK void* calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (heap::ShouldSample(total)) {
    if (void* p = heap::SampledAllocate(total, 0, true)) return p;
  }
  return heap::g_real.calloc(n, size);
}

CPPROF_ALLOC_HOOK void* realloc(void* p, size_t size) {
  if (p == nullptr) return Allocate(size);
  if (__builtin_expect(SampleRegion::Contains(p), 0)) return ReallocInRegion(p, size);
  if (size != 0 && heap::ShouldSample(size)) return ReallocIntoSample(p, size);
  return heap::g_real.realloc(p, size);
}

CPPROF_ALLOC_HOOK void* reallocarray(void* p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, total);
}

CPPROF_ALLOC_HOOK void* memalign(size_t align, size_t size) { return AllocateAligned(align, size); }

CPPROF_ALLOC_HOOK int posix_memalign(void** out, size_t align, size_t size) {
  if (align % sizeof(void*) != 0 || (align & (align - 1)) != 0 || align == 0) return EINVAL;
  int saved = errno;
  void* p = AllocateAligned(align, size);
  if (p == nullptr) {
    errno = saved;
    return ENOMEM;
  }
  *out = p;
  return 0;
}

CPPROF_ALLOC_HOOK void* aligned_alloc(size_t align, size_t size) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  return AllocateAligned(align, size);
}

CPPROF_ALLOC_HOOK void* valloc(size_t size) {
  return AllocateAligned(static_cast<size_t>(getpagesize()), size);
}

CPPROF_ALLOC_HOOK void* pvalloc(size_t size) {
  const size_t page = static_cast<size_t>(getpagesize());
  size_t rounded;
  if (__builtin_add_overflow(size, page - 1, &rounded)) {
    errno = ENOMEM;
    return nullptr;
  }
  rounded &= ~(page - 1);
  return AllocateAligned(page, rounded == 0 ? page : rounded);
}

CPPROF_ALLOC_HOOK size_t malloc_usable_size(void* p) {
  if (p == nullptr) return 0;
  if (SampleRegion::Contains(p)) {
    cpprof::internal::SampleMeta* meta = nullptr;
    switch (heap::ClassifyRegionPointer(p, &meta)) {
      case cpprof::internal::RegionOwner::kSample:
        return SampleRegion::UsableSize(*meta);
      case cpprof::internal::RegionOwner::kGlibc:
        return RealUsableSize(p);
      case cpprof::internal::RegionOwner::kNobody:
        return 0;
    }
  }
  return RealUsableSize(p);
}

CPPROF_NEW_HOOK void* operator new(size_t size) { return New(size); }
CPPROF_NEW_HOOK void* operator new[](size_t size) { return New(size); }
CPPROF_NEW_HOOK void* operator new(size_t size, const std::nothrow_t&) noexcept { return NewNothrow(size); }
CPPROF_NEW_HOOK void* operator new[](size_t size, const std::nothrow_t&) noexcept { return NewNothrow(size); }
CPPROF_NEW_HOOK void* operator new(size_t size, std::align_val_t al) { return NewAligned(size, al); }
CPPROF_NEW_HOOK void* operator new[](size_t size, std::align_val_t al) { return NewAligned(size, al); }
CPPROF_NEW_HOOK void* operator new(size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return NewAlignedNothrow(size, al);
}
CPPROF_NEW_HOOK void* operator new[](size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return NewAlignedNothrow(size, al);
}

CPPROF_NEW_HOOK void operator delete(void* p) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete[](void* p) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete(void* p, size_t) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete[](void* p, size_t) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete(void* p, const std::nothrow_t&) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete[](void* p, const std::nothrow_t&) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete(void* p, std::align_val_t) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete[](void* p, std::align_val_t) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete(void* p, size_t, std::align_val_t) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete[](void* p, size_t, std::align_val_t) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { Free(p); }
CPPROF_NEW_HOOK void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { Free(p); }

#endif  // !sanitizers
