// SPDX-License-Identifier: Apache-2.0
//
// ListModules allocates nothing under the loader's lock, and reads the
// loader's names of objects another thread just loaded without a data race
// report (ThreadSanitizer does not see the loader's lock).

#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "loader_lock_probe.h"
#include "symbolize/symbolizer.h"

TEST_CASE("ListModules allocates nothing under the loader's lock") {
  if (!LoaderProbeAvailable()) return;  // sanitizer build: malloc is the sanitizer's
  const long before = AllocationsUnderLoaderLock();
  const std::vector<cpprof::internal::Module> modules = cpprof::internal::ListModules();
  CHECK(modules.size() > 2);
  CHECK(AllocationsUnderLoaderLock() == before);
}

TEST_CASE("ListModules names an object another thread has just loaded") {
  // Only relaxed atomics and sleeps between the two threads: nothing that
  // orders the loader's writes (the object's name, strdup'd by dlopen) before
  // our reads for ThreadSanitizer, exactly as between a host's dlopen and a
  // profile request. Under TSan this fails if the copy reads them checked.
  // ThreadSanitizer's dl_iterate_phdr interceptor clears the name's shadow
  // up to, not including, its terminating NUL; the race on that byte shows
  // when the NUL starts a new 8-byte shadow cell: a name whose length is a
  // multiple of 8. So libuuid (util-linux, an essential Debian package, not
  // linked here) is opened through a symbolic link of such a length.
  const char* target = access("/lib/x86_64-linux-gnu/libuuid.so.1", R_OK) == 0
                           ? "/lib/x86_64-linux-gnu/libuuid.so.1"
                           : "/usr/lib/x86_64-linux-gnu/libuuid.so.1";
  char dir_template[] = "/tmp/cpprof-loader-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  std::string link = std::string(dir_template) + "/libuuid-copy";
  while ((link.size() + 3) % 8 != 0) link += "x";
  link += ".so";
  REQUIRE(symlink(target, link.c_str()) == 0);
  std::atomic<int> stage{0};
  std::thread loader([&] {
    void* lib = dlopen(link.c_str(), RTLD_NOW | RTLD_LOCAL);
    stage.store(lib != nullptr ? 1 : -1, std::memory_order_relaxed);
    while (stage.load(std::memory_order_relaxed) != 2) {
      timespec ts{0, 1000000};
      nanosleep(&ts, nullptr);
    }
    if (lib != nullptr) dlclose(lib);
  });
  while (stage.load(std::memory_order_relaxed) == 0) {
    timespec ts{0, 1000000};
    nanosleep(&ts, nullptr);
  }
  const bool loaded = stage.load(std::memory_order_relaxed) == 1;
  bool found = false;
  if (loaded) {
    for (const auto& m : cpprof::internal::ListModules()) {
      if (m.path == link) found = true;
    }
  }
  stage.store(2, std::memory_order_relaxed);
  loader.join();
  unlink(link.c_str());
  rmdir(dir_template);
  REQUIRE(loaded);
  CHECK(found);
}
