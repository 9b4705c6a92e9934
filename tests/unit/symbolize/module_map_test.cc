// SPDX-License-Identifier: Apache-2.0

#include <dlfcn.h>
#include <elf.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "symbolize/symbolizer.h"

namespace {

using cpprof::internal::FindModule;
using cpprof::internal::ListModules;
using cpprof::internal::Module;

// The address of libc's own `name`. dlsym(RTLD_DEFAULT) would return a
// sanitizer runtime's interceptor in sanitized builds.
void* LibcSymbol(const char* name) {
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(libc != nullptr);
  void* address = dlsym(libc, name);
  dlclose(libc);
  return address;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads the GNU build ID from the file's program headers, independently of
// the library's in-memory parser (what `readelf -n` prints).
std::string BuildIdFromFile(const std::string& path) {
  const std::string bytes = ReadFile(path);
  if (bytes.size() < sizeof(Elf64_Ehdr)) return "";
  Elf64_Ehdr ehdr;
  memcpy(&ehdr, bytes.data(), sizeof(ehdr));
  for (int i = 0; i < ehdr.e_phnum; ++i) {
    Elf64_Phdr ph;
    memcpy(&ph, bytes.data() + ehdr.e_phoff + i * sizeof(Elf64_Phdr), sizeof(ph));
    if (ph.p_type != PT_NOTE) continue;
    const size_t align = ph.p_align == 8 ? 8 : 4;
    size_t pos = ph.p_offset;
    const size_t end = ph.p_offset + ph.p_filesz;
    while (pos + sizeof(Elf64_Nhdr) <= end) {
      Elf64_Nhdr nh;
      memcpy(&nh, bytes.data() + pos, sizeof(nh));
      const size_t name = pos + sizeof(nh);
      const size_t desc = name + ((nh.n_namesz + align - 1) & ~(align - 1));
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
          memcmp(bytes.data() + name, "GNU", 4) == 0) {
        std::string hex;
        char buf[3];
        for (size_t k = 0; k < nh.n_descsz; ++k) {
          snprintf(buf, sizeof(buf), "%02x", static_cast<unsigned char>(bytes[desc + k]));
          hex += buf;
        }
        return hex;
      }
      pos = desc + ((nh.n_descsz + align - 1) & ~(align - 1));
    }
  }
  return "";
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  REQUIRE(n > 0);
  return std::string(buf, n);
}

bool IsLowerHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return !s.empty();
}

}  // namespace

TEST_CASE("ListModules puts the main executable first with its real path and build ID") {
  std::vector<Module> modules = ListModules();
  REQUIRE(!modules.empty());
  const Module& main_module = modules[0];
  CHECK(main_module.path == SelfExe());
  CHECK(main_module.build_id.size() == 40);
  CHECK(IsLowerHex(main_module.build_id));
  CHECK(main_module.build_id == BuildIdFromFile(SelfExe()));
  CHECK(main_module.start < main_module.limit);
  CHECK(main_module.start >= main_module.bias);
  // This very function lives in the main executable's text.
  const auto here = reinterpret_cast<uintptr_t>(&BuildIdFromFile);
  const int index = FindModule(modules, here);
  REQUIRE(index >= 0);
  CHECK(modules[index].path == SelfExe());
}

TEST_CASE("ListModules matches the executable mappings in /proc/self/maps") {
  std::vector<Module> modules = ListModules();
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int matched = 0;
  const Module& m = modules[0];
  while (std::getline(maps, line)) {
    unsigned long lo, hi, offset;
    char perms[8];
    int path_pos = 0;
    if (sscanf(line.c_str(), "%lx-%lx %7s %lx %*s %*s%n", &lo, &hi, perms, &offset, &path_pos) < 4) continue;
    if (perms[2] != 'x') continue;
    std::string path = line.substr(path_pos);
    path.erase(0, path.find_first_not_of(' '));
    if (m.start >= lo && m.start < hi) {
      CHECK(path == m.path);
      CHECK(m.limit <= hi + 4096);
      CHECK(offset == (m.file_offset & ~uint64_t{4095}));
      ++matched;
    }
  }
  CHECK(matched == 1);
}

TEST_CASE("libc's module has a build ID matching its file") {
  std::vector<Module> modules = ListModules();
  void* qsort_address = LibcSymbol("qsort");
  REQUIRE(qsort_address != nullptr);
  const int index = FindModule(modules, reinterpret_cast<uintptr_t>(qsort_address));
  REQUIRE(index > 0);
  const Module& libc = modules[index];
  CHECK(libc.path.find("libc.so") != std::string::npos);
  CHECK(libc.build_id.size() == 40);
  CHECK(libc.build_id == BuildIdFromFile(libc.path));
}

TEST_CASE("The vDSO is listed as [vdso]") {
  if (getauxval(AT_SYSINFO_EHDR) == 0) {
    MESSAGE("SKIPPED: this kernel maps no vDSO");
    return;
  }
  std::vector<Module> modules = ListModules();
  int vdso = 0;
  for (const Module& m : modules) {
    if (m.path == "[vdso]") {
      ++vdso;
      CHECK(m.start >= getauxval(AT_SYSINFO_EHDR));
    }
  }
  CHECK(vdso >= 1);
}

TEST_CASE("FindModule returns -1 for an address in no module") {
  std::vector<Module> modules = ListModules();
  int on_stack = 0;
  CHECK(FindModule(modules, 0x10) == -1);
  CHECK(FindModule(modules, reinterpret_cast<uintptr_t>(&on_stack)) == -1);
  CHECK(FindModule(modules, UINTPTR_MAX) == -1);
  CHECK(FindModule({}, reinterpret_cast<uintptr_t>(&FindModule)) == -1);
}
