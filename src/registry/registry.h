// SPDX-License-Identifier: Apache-2.0
//
// The process-wide table of profile sources. Sources are registered once at
// start-up (core/) and never removed, so lookups return stable pointers.

#ifndef CPPROF_SRC_REGISTRY_REGISTRY_H_
#define CPPROF_SRC_REGISTRY_REGISTRY_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "registry/profile_source.h"

namespace cpprof {
namespace internal {

// Registers cpprof's built-in profile kinds (CPU, ...) once; idempotent and
// thread-safe. Defined in core/ (which knows every kind); the HTTP layer
// calls it before serving, which also makes a static link pull the kinds in.
void RegisterBuiltinSources();

class Registry {
 public:
  static Registry& Global();

  // Adds a source; a second source with the same name replaces nothing and is dropped.
  void Register(std::unique_ptr<ProfileSource> source);
  // Returns the source named `name`, or nullptr.
  ProfileSource* Find(const std::string& name) const;
  // Calls Configure(options) on every source.
  void ConfigureAll(const Options& options) const;
  // All sources, in registration order.
  std::vector<ProfileSource*> List() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<ProfileSource>> sources_;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_REGISTRY_REGISTRY_H_
