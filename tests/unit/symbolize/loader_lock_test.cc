// SPDX-License-Identifier: Apache-2.0
//
// ListModules allocates nothing under the loader's lock.

#include <string>
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
