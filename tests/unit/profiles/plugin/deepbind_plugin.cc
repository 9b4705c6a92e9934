// SPDX-License-Identifier: Apache-2.0
//
// A module the heap tests open with RTLD_DEEPBIND: its own dependencies come
// first in its symbol lookups, so free, realloc and malloc_usable_size here
// are glibc's, not the process's (cpprof's). This is how such libraries
// reach glibc with memory cpprof gave out.

#include <malloc.h>
#include <stdlib.h>

extern "C" __attribute__((visibility("default"))) void DeepFree(void* p) { free(p); }

extern "C" __attribute__((visibility("default"))) void* DeepRealloc(void* p, size_t n) { return realloc(p, n); }

extern "C" __attribute__((visibility("default"))) size_t DeepUsableSize(void* p) { return malloc_usable_size(p); }

// Which free this module calls (to check that the test exercises glibc's).
extern "C" __attribute__((visibility("default"))) void* DeepFreeAddress() {
  return reinterpret_cast<void*>(&free);
}
