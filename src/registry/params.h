// SPDX-License-Identifier: Apache-2.0
//
// Strict parsing of integer query parameters for profile sources. Unlike
// Go's net/http/pprof, which silently substitutes a default for a bad value,
// cpprof answers 400 and says what is wrong.

#ifndef CPPROF_SRC_REGISTRY_PARAMS_H_
#define CPPROF_SRC_REGISTRY_PARAMS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "registry/profile_source.h"

namespace cpprof {
namespace internal {

// Reads parameter `name` as a decimal integer in [min, max]. Absent or empty:
// *out = default_value and returns true. Invalid: returns false and sets
// *error to a sentence naming the parameter, the value and the allowed range.
bool ParseIntParam(const ProfileRequest& request, const std::string& name, int64_t default_value,
                   int64_t min, int64_t max, const std::string& unit, int64_t* out,
                   std::string* error);

// Returns false, with *error naming the first parameter of `request` that
// is not in `allowed` and listing the accepted ones, when there is one.
bool CheckKnownParams(const ProfileRequest& request, const std::vector<std::string>& allowed,
                      std::string* error);

// Waits `seconds` in short slices (for delta profiles); returns false as
// soon as request.cancelled() turns true.
bool WaitSecondsOrCancel(const ProfileRequest& request, int64_t seconds);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_REGISTRY_PARAMS_H_
