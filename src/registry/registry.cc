// SPDX-License-Identifier: Apache-2.0

#include "registry/registry.h"

namespace cpprof {
namespace internal {

Registry& Registry::Global() {
  static Registry* registry = new Registry();  // never destroyed: used until exit
  return *registry;
}

void Registry::Register(std::unique_ptr<ProfileSource> source) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : sources_) {
    if (s->name() == source->name()) return;
  }
  sources_.push_back(std::move(source));
}

ProfileSource* Registry::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : sources_) {
    if (s->name() == name) return s.get();
  }
  return nullptr;
}

void Registry::ConfigureAll(const Options& options) const {
  for (ProfileSource* s : List()) s->Configure(options);
}

std::vector<ProfileSource*> Registry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ProfileSource*> out;
  for (const auto& s : sources_) out.push_back(s.get());
  return out;
}

}  // namespace internal
}  // namespace cpprof
