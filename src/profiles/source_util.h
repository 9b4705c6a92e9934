// SPDX-License-Identifier: Apache-2.0
//
// Small pieces every profile kind's routes share: the gzipped-proto and
// text answers, the wait of a `seconds=N` delta, and the check that a
// request names only parameters the route knows. Not signal context.

#ifndef CPPROF_SRC_PROFILES_SOURCE_UTIL_H_
#define CPPROF_SRC_PROFILES_SOURCE_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "pprof/stack_profile.h"
#include "registry/profile_source.h"

namespace cpprof {
namespace internal {

// A gzipped profile.proto answer named `filename`, or 500 if it cannot be
// encoded.
ProfileResponse ProtoResponse(const StackProfile& profile, const std::string& filename);

// A text/plain answer.
ProfileResponse TextResponse(std::string body);

// Waits `seconds` in short slices; false as soon as request.cancelled().
bool WaitSeconds(const ProfileRequest& request, int64_t seconds);

// False, with *error naming the first parameter of `request` that is not in
// `known`, if there is one.
bool OnlyKnownParams(const ProfileRequest& request, const std::vector<std::string>& known, std::string* error);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_SOURCE_UTIL_H_
