// SPDX-License-Identifier: Apache-2.0
//
// A host that hands its allocations to a plugin opened with RTLD_DEEPBIND,
// which frees and resizes them with glibc's functions, not the process's.
// Run with CPPROF_HEAP_RATE=1024 (every object below is sampled, nearly
// surely) and its endpoint from CPPROF_ADDR. Sites (each a function of its
// own, with a size no other site uses):
//   DeepFreedSite  200 x 40000 B, freed by the plugin      (in use: none)
//   MovedSite       50 x 20000 B, grown by the plugin to 300000 B (glibc
//                  moves them out of cpprof's region), kept; each holds the
//                  only pointer to a HeldByMovedSite object (12000 B)
//   ShrunkSite      20 x 50000 B, shrunk by the plugin to 100 B in place,
//                  kept; each holds the only pointer to a HeldByShrunkSite
//                  object (10000 B)
//   KeptSite       100 x 30000 B, kept by the host
//   LeakSite        30 x 9000 B, pointers dropped (a real leak)
// Prints "READY", then keeps serving until killed.

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstdint>

namespace {

void* volatile g_moved[50];  // volatile: stores to write-only globals would be dropped
void* volatile g_shrunk[20];
void* volatile g_kept[100];
void* volatile g_sink;

__attribute__((noinline)) void* Touch(void* p, size_t n) {
  memset(p, 0x11, n);
  g_sink = p;
  return p;
}

__attribute__((noinline)) void* DeepFreedSite() { return Touch(malloc(40000), 40000); }
__attribute__((noinline)) void* MovedSite() { return Touch(malloc(20000), 20000); }
__attribute__((noinline)) void* HeldByMovedSite() { return Touch(malloc(12000), 12000); }
__attribute__((noinline)) void* ShrunkSite() { return Touch(malloc(50000), 50000); }
__attribute__((noinline)) void* HeldByShrunkSite() { return Touch(malloc(10000), 10000); }
__attribute__((noinline)) void* KeptSite() { return Touch(malloc(30000), 30000); }
__attribute__((noinline)) void LeakSite() { Touch(malloc(9000), 9000); }

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PLUGIN.so\n", argv[0]);
    return 2;
  }
  void* plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (plugin == nullptr) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  auto plugin_free = reinterpret_cast<void (*)(void*)>(dlsym(plugin, "PluginFree"));
  auto plugin_realloc = reinterpret_cast<void* (*)(void*, size_t)>(dlsym(plugin, "PluginRealloc"));
  if (plugin_free == nullptr || plugin_realloc == nullptr) return 1;
  for (int i = 0; i < 200; ++i) plugin_free(DeepFreedSite());
  for (int i = 0; i < 50; ++i) {
    void* p = MovedSite();
    *static_cast<void**>(p) = HeldByMovedSite();
    g_moved[i] = plugin_realloc(p, 300000);
    if (g_moved[i] == nullptr) return 1;
  }
  for (int i = 0; i < 20; ++i) {
    void* p = ShrunkSite();
    *static_cast<void**>(p) = HeldByShrunkSite();
    g_shrunk[i] = plugin_realloc(p, 100);
    if (g_shrunk[i] == nullptr) return 1;
  }
  for (int i = 0; i < 100; ++i) g_kept[i] = KeptSite();
  for (int i = 0; i < 30; ++i) LeakSite();
  printf("READY\n");
  fflush(stdout);
  for (;;) pause();
}
