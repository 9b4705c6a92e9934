// SPDX-License-Identifier: Apache-2.0
//
// Building unwind tables allocates nothing under the loader's lock, and a
// module loaded after the first build still gets its table (parsed after the
// loader walk, with the module pinned).

#include <dlfcn.h>

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "loader_lock_probe.h"
#include "unwind/cfi_table.h"
#include "unwind/unwinder.h"

namespace {

int AllocatingCallback(dl_phdr_info*, size_t, void* arg) {
  static_cast<std::vector<std::string>*>(arg)->emplace_back(100, 'x');
  return 0;
}

}  // namespace

TEST_CASE("The loader probe sees an allocation inside a dl_iterate_phdr callback") {
  if (!LoaderProbeAvailable()) return;  // sanitizer build: malloc is the sanitizer's
  std::vector<std::string> sink;
  const long before = AllocationsUnderLoaderLock();
  dl_iterate_phdr(&AllocatingCallback, &sink);
  CHECK(AllocationsUnderLoaderLock() > before);
}

TEST_CASE("RefreshUnwindTables allocates nothing under the loader's lock and parses a new module") {
  if (!LoaderProbeAvailable()) return;
  using cpprof::internal::CurrentCfiTables;
  using cpprof::internal::FindModule;
  using cpprof::internal::RefreshUnwindTables;
  const long before = AllocationsUnderLoaderLock();
  REQUIRE(RefreshUnwindTables());
  // libuuid (util-linux, an essential Debian package) is not linked here.
  void* lib = dlopen("libuuid.so.1", RTLD_NOW | RTLD_LOCAL);
  REQUIRE(lib != nullptr);
  REQUIRE(RefreshUnwindTables());  // counters changed: a build with one new module
  CHECK(AllocationsUnderLoaderLock() == before);
  void* fn = dlsym(lib, "uuid_generate");
  REQUIRE(fn != nullptr);
  const auto* m = FindModule(CurrentCfiTables(), reinterpret_cast<uintptr_t>(fn));
  REQUIRE(m != nullptr);
  CHECK(m->count > 0);  // parsed after the walk, pinned with dlopen(RTLD_NOLOAD)
  dlclose(lib);
  REQUIRE(RefreshUnwindTables());
  CHECK(AllocationsUnderLoaderLock() == before);
  CHECK(FindModule(CurrentCfiTables(), reinterpret_cast<uintptr_t>(fn)) == nullptr);
}
