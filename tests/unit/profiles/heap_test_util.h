// SPDX-License-Identifier: Apache-2.0
//
// Helpers of the heap tests, which run against the malloc hooks of the test
// process itself.

#ifndef CPPROF_TESTS_UNIT_PROFILES_HEAP_TEST_UTIL_H_
#define CPPROF_TESTS_UNIT_PROFILES_HEAP_TEST_UTIL_H_

#include <cstdint>

#include "profiles/heap/heap_sampler.h"

namespace cpprof {
namespace internal {

// False in sanitizer builds: malloc is the sanitizer's there.
inline bool Interposed() { return heap::CurrentMode() != heap::Mode::kUnavailable; }

// Sets a rate for one test and restores the previous one.
struct RateScope {
  explicit RateScope(int64_t rate) : saved(heap::Rate()) { heap::SetRate(rate); }
  ~RateScope() { heap::SetRate(saved); }
  int64_t saved;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_TESTS_UNIT_PROFILES_HEAP_TEST_UTIL_H_
