// SPDX-License-Identifier: Apache-2.0
//
// The "profile" route: a CPU profile over `seconds` (default 30, as Go) at
// `hz` samples per CPU-second (default Options::cpu_default_hz).

#ifndef CPPROF_SRC_PROFILES_CPU_CPU_SOURCE_H_
#define CPPROF_SRC_PROFILES_CPU_CPU_SOURCE_H_

#include <memory>

#include "registry/profile_source.h"

namespace cpprof {
namespace internal {

// Creates the source. The profiling signal comes with each request
// (ProfileLimits::cpu_signal, from Options::cpu_signal).
std::unique_ptr<ProfileSource> NewCpuProfileSource();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_CPU_CPU_SOURCE_H_
