// SPDX-License-Identifier: Apache-2.0
//
// Implements the parts of include/cpprof/*.h that wire modules together.

#include "cpprof/cpprof.h"

#include <cstdlib>
#include <mutex>

#include "core/lifecycle.h"

namespace cpprof {

const char* Version() { return "0.1.0"; }

Status StartFromEnvironment() {
  const char* addr = getenv("CPPROF_ADDR");
  if (addr == nullptr || *addr == '\0') return Status();
  static std::mutex mu;
  static Server* server = nullptr;  // process lifetime: serves until exit
  std::lock_guard<std::mutex> lock(mu);
  if (server != nullptr) return Status();
  Options options = internal::ApplyEnvironment(Options());
  auto* s = new Server(options);
  Status status = s->Start();
  if (!status.ok()) {
    delete s;
    return status;
  }
  server = s;
  return status;
}

}  // namespace cpprof
