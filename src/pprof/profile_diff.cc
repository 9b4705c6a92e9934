// SPDX-License-Identifier: Apache-2.0

#include <map>
#include <string>

#include "pprof/stack_profile.h"

namespace cpprof {
namespace internal {

// p -= base, matching samples by stack and labels; samples that end at zero
// are dropped (as pprof's merge does).
void SubtractStackProfile(const StackProfile& base, StackProfile* p) {
  auto key = [](const StackSample& s) {
    std::string k(reinterpret_cast<const char*>(s.pcs.data()), s.pcs.size() * sizeof(uintptr_t));
    k += '|' + s.synthetic;
    for (const SampleLabel& l : s.labels) k += '|' + l.key + '=' + l.str + std::to_string(l.num);
    return k;
  };
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < p->samples.size(); ++i) index.emplace(key(p->samples[i]), i);
  for (const StackSample& b : base.samples) {
    auto it = index.find(key(b));
    if (it == index.end()) {
      StackSample neg = b;
      for (int64_t& v : neg.values) v = -v;
      index.emplace(key(neg), p->samples.size());
      p->samples.push_back(std::move(neg));
      continue;
    }
    std::vector<int64_t>& v = p->samples[it->second].values;
    for (size_t k = 0; k < v.size() && k < b.values.size(); ++k) v[k] -= b.values[k];
  }
  std::vector<StackSample> kept;
  for (StackSample& s : p->samples) {
    bool zero = true;
    for (int64_t v : s.values) zero = zero && v == 0;
    if (!zero) kept.push_back(std::move(s));
  }
  p->samples = std::move(kept);
}

}  // namespace internal
}  // namespace cpprof
