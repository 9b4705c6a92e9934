// SPDX-License-Identifier: Apache-2.0
//
// ListModules() and FindModule(). Not signal-safe: dl_iterate_phdr takes the
// loader lock, and this allocates (never inside the loader's callback: see
// base/loaded_objects.h).
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
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/loaded_objects.h"
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

std::string MainExecutablePath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

std::vector<Module> ListModules() {
  const LoadedObjects loaded = CopyLoadedObjects(/*build_ids=*/true);
  std::vector<Module> modules;
  for (const LoadedObject& o : loaded.objects) {
    std::string path;
    bool is_main = false;
    if (o.vdso) {
      path = "[vdso]";
    } else if (o.main) {
      is_main = true;
      path = MainExecutablePath();
    } else if (o.name[0] == '\0') {
      continue;  // nameless object other than the program: nothing to name
    } else if (o.name[0] != '/') {
      char* resolved = realpath(o.name, nullptr);
      path = resolved != nullptr ? resolved : o.name;
      free(resolved);
    } else {
      path = o.name;
    }
    const std::string build_id = HexString(o.build_id, o.build_id_len);
    std::vector<Module> mine;
    for (int i = 0; i < o.phnum; ++i) {
      const ElfW(Phdr)& ph = o.phdr[i];
      if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0 || ph.p_memsz == 0) continue;
      Module m;
      m.start = o.bias + ph.p_vaddr;
      m.limit = m.start + ph.p_memsz;
      m.file_offset = ph.p_offset;
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
