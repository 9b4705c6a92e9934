// SPDX-License-Identifier: Apache-2.0
//
// ListModules() and FindModule(). Not signal-safe: dl_iterate_phdr takes the
// loader lock, and this allocates (never inside the loader's callback).
//
// One Module per executable PT_LOAD of every object the loader knows about:
// start = dlpi_addr + p_vaddr, limit = start + p_memsz, file_offset =
// p_offset, bias = dlpi_addr. The build ID comes from the PT_NOTE segments as
// mapped in memory (NT_GNU_BUILD_ID, owner "GNU"), so no file is opened. The
// main program reports an empty dlpi_name and is named by readlink of
// /proc/self/exe; the vDSO is recognised by its ELF header address
// (AT_SYSINFO_EHDR) and named "[vdso]".

#include <elf.h>
#include <link.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "symbolize/symbolizer.h"

namespace cpprof {
namespace internal {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

std::string HexString(const unsigned char* bytes, size_t n) {
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHexDigits[bytes[i] >> 4]);
    out.push_back(kHexDigits[bytes[i] & 0xf]);
  }
  return out;
}

size_t AlignUp(size_t v, size_t align) { return (v + align - 1) & ~(align - 1); }

// Scans one note segment (as mapped) for a GNU build ID; copies at most
// `cap` of its bytes to out and returns their number (0: none).
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

std::string MainExecutablePath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(buf, static_cast<size_t>(n));
}

// What the dl_iterate_phdr callback copies out of one object. The callback
// runs under the loader's lock and must not allocate: an allocator that
// samples (gperftools' tcmalloc) may walk the stack with libunwind, which
// takes its own lock and then the loader's; a host thread doing that while
// the callback allocates would deadlock with it.
constexpr size_t kMaxSegments = 8;
struct RawObject {
  uintptr_t bias;
  bool vdso;
  char name[4096];  // dlpi_name, truncated; "" for the main program
  unsigned char build_id[64];
  size_t build_id_len;
  uintptr_t seg_start[kMaxSegments], seg_limit[kMaxSegments], seg_offset[kMaxSegments];
  int nsegs;
};

struct IterateState {
  RawObject* objects;  // capacity entries, allocated before the walk
  size_t capacity;
  size_t n;            // objects seen (may exceed capacity: then walk again)
  uintptr_t vdso_ehdr;
};

int CountObjects(struct dl_phdr_info*, size_t, void* arg) {
  ++*static_cast<size_t*>(arg);
  return 0;
}

int OnObject(struct dl_phdr_info* info, size_t, void* arg) {
  auto* state = static_cast<IterateState*>(arg);
  const size_t index = state->n++;
  if (index >= state->capacity) return 0;
  RawObject& o = state->objects[index];
  o.bias = info->dlpi_addr;
  o.vdso = state->vdso_ehdr != 0 &&
           reinterpret_cast<uintptr_t>(info->dlpi_phdr) ==
               state->vdso_ehdr + reinterpret_cast<const ElfW(Ehdr)*>(state->vdso_ehdr)->e_phoff;
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  size_t len = strnlen(name, sizeof(o.name) - 1);
  memcpy(o.name, name, len);
  o.name[len] = '\0';
  o.build_id_len = 0;
  o.nsegs = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_NOTE && o.build_id_len == 0) {
      o.build_id_len = BuildIdFromNotes(reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr),
                                        ph.p_memsz, ph.p_align, o.build_id, sizeof(o.build_id));
    }
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0 || ph.p_memsz == 0) continue;
    if (o.nsegs == static_cast<int>(kMaxSegments)) continue;
    o.seg_start[o.nsegs] = info->dlpi_addr + ph.p_vaddr;
    o.seg_limit[o.nsegs] = o.seg_start[o.nsegs] + ph.p_memsz;
    o.seg_offset[o.nsegs] = ph.p_offset;
    ++o.nsegs;
  }
  return 0;
}

}  // namespace

std::vector<Module> ListModules() {
  const uintptr_t vdso_ehdr = static_cast<uintptr_t>(getauxval(AT_SYSINFO_EHDR));
  std::vector<RawObject> raw;
  IterateState state{nullptr, 0, 0, vdso_ehdr};
  // Sized before the walk (nothing is allocated inside it); objects loaded
  // between the count and the walk make it walk again.
  for (int attempt = 0; attempt < 4; ++attempt) {
    size_t count = 0;
    dl_iterate_phdr(CountObjects, &count);
    raw.resize(count + 8);
    state = IterateState{raw.data(), raw.size(), 0, vdso_ehdr};
    dl_iterate_phdr(OnObject, &state);
    if (state.n <= state.capacity) break;
  }
  std::vector<Module> modules;
  bool seen_main = false;
  for (size_t k = 0; k < state.n && k < state.capacity; ++k) {
    const RawObject& o = raw[k];
    std::string path;
    bool is_main = false;
    if (o.vdso) {
      path = "[vdso]";
    } else if (o.name[0] == '\0') {
      if (seen_main) continue;  // nameless object other than the program: nothing to name
      seen_main = true;
      is_main = true;
      path = MainExecutablePath();
    } else if (o.name[0] != '/') {
      char* resolved = realpath(o.name, nullptr);
      path = resolved != nullptr ? resolved : o.name;
      free(resolved);
    } else {
      path = o.name;
    }
    const std::string build_id = HexString(o.build_id, o.build_id_len);
    std::vector<Module> mine;
    for (int i = 0; i < o.nsegs; ++i) {
      Module m;
      m.start = o.seg_start[i];
      m.limit = o.seg_limit[i];
      m.file_offset = o.seg_offset[i];
      m.bias = o.bias;
      m.path = path;
      m.build_id = build_id;
      mine.push_back(std::move(m));
    }
    // The main program first, whatever order the loader reports.
    modules.insert(is_main ? modules.begin() : modules.end(), std::make_move_iterator(mine.begin()),
                   std::make_move_iterator(mine.end()));
  }
  return modules;
}

int FindModule(const std::vector<Module>& modules, uintptr_t pc) {
  // Linear: a process has tens of modules, and the list is in loader order
  // (main program first), not address order.
  for (size_t i = 0; i < modules.size(); ++i) {
    if (pc >= modules[i].start && pc < modules[i].limit) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace internal
}  // namespace cpprof
