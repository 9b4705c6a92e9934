// SPDX-License-Identifier: Apache-2.0
//
// A copy of the loader's object list (dl_iterate_phdr), taken without
// allocating inside the loader's callback. Not signal-safe.
//
// The callback runs under the loader's lock. An allocation there can
// deadlock the host: an allocator that samples (gperftools' tcmalloc) walks
// the stack with libunwind, which takes its own lock and then the loader's;
// a host thread doing that while our callback allocates waits for us while
// we wait for it. So the walk only copies into storage sized before it
// (walking again if objects were added in between), and everything that
// allocates happens after the walk, on the copy.
//
// What the copy cannot give is the objects' memory: an object may be
// unloaded as soon as the walk returns. Callers that read an object's
// mapped contents after the walk pin it first (dlopen with RTLD_NOLOAD).

#ifndef CPPROF_SRC_BASE_LOADED_OBJECTS_H_
#define CPPROF_SRC_BASE_LOADED_OBJECTS_H_

#include <link.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cpprof {
namespace internal {

constexpr size_t kMaxCopiedPhdrs = 24;  // more program headers are dropped

struct LoadedObject {
  uintptr_t bias;   // dlpi_addr
  bool vdso;        // the kernel's vDSO (never unloaded)
  bool main;        // the main program (the first nameless object; never unloaded)
  char name[4096];  // dlpi_name, truncated; "" for the main program
  ElfW(Phdr) phdr[kMaxCopiedPhdrs];
  int phnum;
  unsigned char build_id[64];  // NT_GNU_BUILD_ID as mapped (only if asked)
  size_t build_id_len;
};

struct LoadedObjects {
  std::vector<LoadedObject> objects;  // loader order
  unsigned long long adds = 0;        // dlpi_adds / dlpi_subs at the walk
  unsigned long long subs = 0;
  bool complete = true;               // false: objects kept being added; list truncated
};

// The loader's objects; build IDs are read from their mapped notes when
// `build_ids` is set.
LoadedObjects CopyLoadedObjects(bool build_ids);

// The loader's dlpi_adds / dlpi_subs counters (cheap: stops at the first
// object). They change whenever an object is loaded or unloaded.
void LoaderCounters(unsigned long long* adds, unsigned long long* subs);

// Scans one note segment (as mapped) for a GNU build ID; copies at most
// `cap` of its bytes to out and returns their number (0: none).
size_t BuildIdFromNotes(const unsigned char* notes, size_t size, size_t align, unsigned char* out, size_t cap);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_LOADED_OBJECTS_H_
