// SPDX-License-Identifier: Apache-2.0
//
// The HTTP layer's tests link the HTTP module without core/, so they supply
// the (normally core-defined) registration of built-in profile kinds: none.
// They register their own fake sources instead.

#include "registry/registry.h"

namespace cpprof {
namespace internal {
void RegisterBuiltinSources() {}
}  // namespace internal
}  // namespace cpprof
