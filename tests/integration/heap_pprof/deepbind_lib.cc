// SPDX-License-Identifier: Apache-2.0
//
// A plugin deepbind_host opens with RTLD_DEEPBIND: its free and realloc are
// glibc's (its own dependencies come first in its lookups), so the host's
// sampled objects reach glibc without passing cpprof.

#include <stdlib.h>

extern "C" __attribute__((visibility("default"))) void PluginFree(void* p) { free(p); }

extern "C" __attribute__((visibility("default"))) void* PluginRealloc(void* p, size_t n) { return realloc(p, n); }
