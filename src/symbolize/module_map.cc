// SPDX-License-Identifier: Apache-2.0
//
// ListModules() and FindModule(). Not signal-safe: dl_iterate_phdr takes the
// loader lock, and this allocates.
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

// Scans one note segment (as mapped) for a GNU build ID.
std::string BuildIdFromNotes(const unsigned char* notes, size_t size, size_t align) {
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
      return HexString(notes + desc_pos, header.n_descsz);
    }
    pos = next;
  }
  return std::string();
}

std::string MainExecutablePath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(buf, static_cast<size_t>(n));
}

struct IterateState {
  std::vector<Module>* out;
  uintptr_t vdso_ehdr;
  bool seen_main;
};

int OnObject(struct dl_phdr_info* info, size_t, void* arg) {
  auto* state = static_cast<IterateState*>(arg);
  std::string build_id;
  for (int i = 0; i < info->dlpi_phnum && build_id.empty(); ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    build_id = BuildIdFromNotes(
        reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr), ph.p_memsz,
        ph.p_align);
  }
  std::string path;
  bool is_main = false;
  if (state->vdso_ehdr != 0 &&
      reinterpret_cast<uintptr_t>(info->dlpi_phdr) ==
          state->vdso_ehdr + reinterpret_cast<const ElfW(Ehdr)*>(state->vdso_ehdr)->e_phoff) {
    path = "[vdso]";
  } else if (info->dlpi_name == nullptr || info->dlpi_name[0] == '\0') {
    if (state->seen_main) return 0;  // nameless object other than the program: nothing to name
    state->seen_main = true;
    is_main = true;
    path = MainExecutablePath();
  } else if (info->dlpi_name[0] != '/') {
    char* resolved = realpath(info->dlpi_name, nullptr);
    path = resolved != nullptr ? resolved : info->dlpi_name;
    free(resolved);
  } else {
    path = info->dlpi_name;
  }
  std::vector<Module> mine;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0 || ph.p_memsz == 0) continue;
    Module m;
    m.start = info->dlpi_addr + ph.p_vaddr;
    m.limit = m.start + ph.p_memsz;
    m.file_offset = ph.p_offset;
    m.bias = info->dlpi_addr;
    m.path = path;
    m.build_id = build_id;
    mine.push_back(std::move(m));
  }
  // The main program first, whatever order the loader reports.
  state->out->insert(is_main ? state->out->begin() : state->out->end(),
                     std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
  return 0;
}

}  // namespace

std::vector<Module> ListModules() {
  std::vector<Module> modules;
  IterateState state{&modules, static_cast<uintptr_t>(getauxval(AT_SYSINFO_EHDR)), false};
  dl_iterate_phdr(OnObject, &state);
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
