// SPDX-License-Identifier: Apache-2.0
//
// The LD_PRELOAD build (libcpprof_preload.so) is the whole library plus this
// file. The endpoint itself is started by the load-time constructor in
// core/lifecycle.cc when CPPROF_ADDR is set, exactly as when the library is
// linked in; this file only lets that code tell the two builds apart (for the
// one-instance-per-process check and the index page).

#include "core/lifecycle.h"

namespace cpprof {
namespace internal {

__attribute__((constructor(101))) static void MarkPreloadBuild() { SetLoadedByPreload(); }

}  // namespace internal
}  // namespace cpprof
