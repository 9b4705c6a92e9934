// SPDX-License-Identifier: Apache-2.0
//
// The "fd" route: the open descriptors by creation stack (proto
// fds/count with labels type, target, api, fd and age), debug=1 the
// readable inventory, seconds=N the descriptors created in the next N
// seconds and still open at their end. Configure() starts creation
// tracking and the watchdog (Options::fd_tracking).

#ifndef CPPROF_SRC_PROFILES_FD_FD_SOURCE_H_
#define CPPROF_SRC_PROFILES_FD_FD_SOURCE_H_

#include <memory>

#include "registry/profile_source.h"

namespace cpprof {
namespace internal {

// Creates the source and registers the descriptor figures on the stats page.
std::unique_ptr<ProfileSource> NewFdProfileSource();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_FD_FD_SOURCE_H_
