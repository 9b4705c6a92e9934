// SPDX-License-Identifier: Apache-2.0
//
// Process-wide wiring: which profile kinds exist (registered once), options
// from the environment, and the endpoint started at load time when
// CPPROF_ADDR is set (linked in or LD_PRELOADed alike).

#ifndef CPPROF_SRC_CORE_LIFECYCLE_H_
#define CPPROF_SRC_CORE_LIFECYCLE_H_

#include "cpprof/options.h"

namespace cpprof {
namespace internal {

// Returns `base` with the CPPROF_* environment variables applied:
// CPPROF_ADDR, CPPROF_TOKEN, CPPROF_ALLOW_REMOTE=1, CPPROF_ALLOWED_HOSTS, CPPROF_CPU_HZ,
// CPPROF_CPU_MAX_HZ, CPPROF_MAX_SECONDS, CPPROF_SIGNAL, CPPROF_HEAP_RATE,
// CPPROF_HEAP_GROWTH_INTERVAL_MS, CPPROF_LEAK_MIN_AGE, CPPROF_LEAK_SIGNAL,
// CPPROF_LEAK_SUPPRESS, CPPROF_THREAD_LEAK_INTERVAL_MS,
// CPPROF_THREAD_SIGNAL.
Options ApplyEnvironment(Options base);

// Set by the LD_PRELOAD build's constructor.
void SetLoadedByPreload();
bool LoadedByPreload();

// True when this copy of cpprof is the first one loaded in the process (a
// binary linked with cpprof and also preloaded has two copies; only the
// first starts the endpoint from the environment).
bool IsPrimaryInstance();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_CORE_LIFECYCLE_H_
