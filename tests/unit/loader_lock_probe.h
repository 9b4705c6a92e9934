// SPDX-License-Identifier: Apache-2.0
//
// Counts the allocations a thread makes inside dl_iterate_phdr callbacks.
// Included by exactly one source of a unit-test binary whose malloc is
// glibc's (not one that links cpprof's malloc): it defines malloc (counting,
// then glibc's __libc_malloc) and dl_iterate_phdr (marking the walk, then
// glibc's). Code under test must allocate nothing under the loader's lock
// (base/loaded_objects.h says why). Sanitizer builds own malloc and
// dl_iterate_phdr: there the probe is off and LoaderProbeAvailable() false.

#ifndef CPPROF_TESTS_UNIT_LOADER_LOCK_PROBE_H_
#define CPPROF_TESTS_UNIT_LOADER_LOCK_PROBE_H_

#include <dlfcn.h>
#include <link.h>

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CPPROF_LOADER_PROBE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define CPPROF_LOADER_PROBE 0
#endif
#endif
#ifndef CPPROF_LOADER_PROBE
#define CPPROF_LOADER_PROBE 1
#endif

namespace loader_probe {
inline thread_local int t_walk_depth = 0;
inline thread_local long t_allocs_in_walk = 0;
}  // namespace loader_probe

inline bool LoaderProbeAvailable() { return CPPROF_LOADER_PROBE != 0; }
// Allocations this thread made inside dl_iterate_phdr callbacks so far.
inline long AllocationsUnderLoaderLock() { return loader_probe::t_allocs_in_walk; }

#if CPPROF_LOADER_PROBE
extern "C" void* __libc_malloc(size_t size);

extern "C" void* malloc(size_t size) {
  if (loader_probe::t_walk_depth > 0) ++loader_probe::t_allocs_in_walk;
  return __libc_malloc(size);
}

extern "C" int dl_iterate_phdr(int (*callback)(dl_phdr_info*, size_t, void*), void* data) {
  using Fn = int (*)(int (*)(dl_phdr_info*, size_t, void*), void*);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "dl_iterate_phdr"));
  ++loader_probe::t_walk_depth;
  const int result = real(callback, data);
  --loader_probe::t_walk_depth;
  return result;
}
#endif

#endif  // CPPROF_TESTS_UNIT_LOADER_LOCK_PROBE_H_
