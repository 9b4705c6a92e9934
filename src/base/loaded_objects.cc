// SPDX-License-Identifier: Apache-2.0
//
// CopyLoadedObjects (NOT signal context). See loaded_objects.h for why
// nothing is allocated inside the dl_iterate_phdr callback.

#include "base/loaded_objects.h"

#include <elf.h>
#include <sys/auxv.h>

#include <cstring>

#include "base/config.h"

namespace cpprof {
namespace internal {
namespace {

size_t AlignUp(size_t v, size_t align) { return (v + align - 1) & ~(align - 1); }

struct WalkState {
  LoadedObject* objects;  // capacity entries, allocated before the walk
  size_t capacity;
  size_t n;               // objects seen (may exceed capacity: then walk again)
  uintptr_t vdso_ehdr;
  bool build_ids;
  bool seen_main;
  unsigned long long adds, subs;
};

void ReadCounters(const dl_phdr_info* info, size_t size, unsigned long long* adds, unsigned long long* subs) {
  if (size >= offsetof(dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
    *adds = info->dlpi_adds;
    *subs = info->dlpi_subs;
  }
}

int CountersOnly(dl_phdr_info* info, size_t size, void* arg) {
  auto* out = static_cast<unsigned long long*>(arg);
  ReadCounters(info, size, &out[0], &out[1]);
  return 1;  // the counters are the same in every entry
}

// Copies loader-owned memory (object names, program headers) into ours, at
// most `n` bytes, stopping after a NUL when `string` is set; returns the bytes
// copied before that NUL (or n). Without sanitizer checks: the loader's lock
// orders these reads after the loader's writes (dlopen), but ThreadSanitizer
// does not see that lock (its dl_iterate_phdr interceptor resets dlpi_name's
// shadow, leaving out the terminating NUL). Volatile reads, so the compiler
// cannot turn the loop into a call to strnlen or memcpy, which sanitizers
// intercept and check.
CPPROF_NO_SANITIZE_MEMORY_READS size_t CopyLoaderBytes(void* dst, const void* src, size_t n, bool string) {
  const volatile unsigned char* from = static_cast<const volatile unsigned char*>(src);
  unsigned char* to = static_cast<unsigned char*>(dst);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = from[i];
    if (string && c == 0) return i;
    to[i] = c;
  }
  return n;
}

int CountObjects(dl_phdr_info*, size_t, void* arg) {
  ++*static_cast<size_t*>(arg);
  return 0;
}

// Runs under the loader's lock: copies only, into preallocated storage.
int CopyObject(dl_phdr_info* info, size_t size, void* arg) {
  auto* state = static_cast<WalkState*>(arg);
  if (state->n == 0) ReadCounters(info, size, &state->adds, &state->subs);
  const size_t index = state->n++;
  if (index >= state->capacity) return 0;
  LoadedObject& o = state->objects[index];
  o.bias = info->dlpi_addr;
  o.vdso = state->vdso_ehdr != 0 &&
           reinterpret_cast<uintptr_t>(info->dlpi_phdr) ==
               state->vdso_ehdr + reinterpret_cast<const ElfW(Ehdr)*>(state->vdso_ehdr)->e_phoff;
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  o.name[CopyLoaderBytes(o.name, name, sizeof(o.name) - 1, /*string=*/true)] = '\0';
  o.main = !o.vdso && o.name[0] == '\0' && !state->seen_main;
  if (o.main) state->seen_main = true;
  o.phnum = info->dlpi_phnum < static_cast<int>(kMaxCopiedPhdrs) ? info->dlpi_phnum
                                                                  : static_cast<int>(kMaxCopiedPhdrs);
  CopyLoaderBytes(o.phdr, info->dlpi_phdr, sizeof(ElfW(Phdr)) * static_cast<size_t>(o.phnum), /*string=*/false);
  o.build_id_len = 0;
  if (state->build_ids) {
    for (int i = 0; i < o.phnum && o.build_id_len == 0; ++i) {
      const ElfW(Phdr)& ph = o.phdr[i];
      if (ph.p_type != PT_NOTE) continue;
      o.build_id_len = BuildIdFromNotes(reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr),
                                        ph.p_memsz, ph.p_align, o.build_id, sizeof(o.build_id));
    }
  }
  return 0;
}

}  // namespace

size_t BuildIdFromNotes(const unsigned char* notes, size_t size, size_t align, unsigned char* out, size_t cap) {
  if (align != 8) align = 4;  // notes are 4-aligned unless the segment says 8
  size_t pos = 0;
  while (pos + sizeof(ElfW(Nhdr)) <= size) {
    ElfW(Nhdr) header;
    memcpy(&header, notes + pos, sizeof(header));
    const size_t name_pos = pos + sizeof(header);
    const size_t desc_pos = name_pos + AlignUp(header.n_namesz, align);
    const size_t next = desc_pos + AlignUp(header.n_descsz, align);
    if (desc_pos > size || header.n_descsz > size - desc_pos || next <= pos) break;
    if (header.n_type == NT_GNU_BUILD_ID && header.n_namesz == 4 &&
        memcmp(notes + name_pos, "GNU", 4) == 0 && header.n_descsz > 0) {
      const size_t n = header.n_descsz < cap ? header.n_descsz : cap;
      memcpy(out, notes + desc_pos, n);
      return n;
    }
    pos = next;
  }
  return 0;
}

void LoaderCounters(unsigned long long* adds, unsigned long long* subs) {
  unsigned long long counters[2] = {0, 0};
  dl_iterate_phdr(&CountersOnly, counters);
  *adds = counters[0];
  *subs = counters[1];
}

LoadedObjects CopyLoadedObjects(bool build_ids) {
  const uintptr_t vdso_ehdr = static_cast<uintptr_t>(getauxval(AT_SYSINFO_EHDR));
  LoadedObjects out;
  WalkState state{};
  // Sized before the walk; objects loaded between the count and the walk
  // make it walk again (a few times at most, then the copy is truncated).
  for (int attempt = 0; attempt < 4; ++attempt) {
    size_t count = 0;
    dl_iterate_phdr(&CountObjects, &count);
    out.objects.resize(count + 8);
    state = WalkState{out.objects.data(), out.objects.size(), 0, vdso_ehdr, build_ids, false, 0, 0};
    dl_iterate_phdr(&CopyObject, &state);
    if (state.n <= state.capacity) break;
  }
  out.complete = state.n <= state.capacity;
  out.objects.resize(out.complete ? state.n : state.capacity);
  out.adds = state.adds;
  out.subs = state.subs;
  return out;
}

}  // namespace internal
}  // namespace cpprof
