// SPDX-License-Identifier: Apache-2.0
//
// A program that does not link cpprof loads libcpprof.so with dlopen()
// after it started (a plugin host would), then starts the endpoint from
// CPPROF_ADDR through the looked-up cpprof::StartFromEnvironment. cpprof's
// initial-exec TLS then comes from glibc's static TLS surplus. Prints
// "listening on ADDR" (or the error) and burns CPU in BurnAfterDlopen until
// killed.
//
//   dlopen_host LIBCPPROF_SO local|global

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cpprof/status.h"

namespace {

volatile unsigned long g_sink;

__attribute__((noinline)) void BurnAfterDlopen() {
  for (;;) {
    for (unsigned long i = 0; i < 1000000; ++i) g_sink = g_sink * 31 + i;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s LIBCPPROF_SO local|global\n", argv[0]);
    return 2;
  }
  const int mode = strcmp(argv[2], "global") == 0 ? RTLD_GLOBAL : RTLD_LOCAL;
  void* lib = dlopen(argv[1], RTLD_NOW | mode);
  if (lib == nullptr) {
    printf("dlopen failed: %s\n", dlerror());
    return 1;
  }
  using StartFn = cpprof::Status (*)();
  auto start = reinterpret_cast<StartFn>(dlsym(lib, "_ZN6cpprof20StartFromEnvironmentEv"));
  using VersionFn = const char* (*)();
  auto version = reinterpret_cast<VersionFn>(dlsym(lib, "_ZN6cpprof7VersionEv"));
  if (start == nullptr || version == nullptr) {
    printf("dlsym failed\n");
    return 1;
  }
  cpprof::Status s = start();
  if (!s.ok()) {
    printf("start failed: %s\n", s.message().c_str());
    return 1;
  }
  printf("cpprof %s loaded with dlopen, listening on %s\n", version(), getenv("CPPROF_ADDR"));
  fflush(stdout);
  BurnAfterDlopen();
}
