// SPDX-License-Identifier: Apache-2.0
//
// Not part of cpprof: a deliberately unsafe "signal handler" that the
// signal-safety check must reject (tests/signal_safety/expect_rejected.sh).
// It allocates with malloc, calls printf and uses a thread_local with the
// general-dynamic TLS model (compiled with -ftls-model=global-dynamic, -fPIC).

#include <cstdio>
#include <cstdlib>

extern __thread int g_unsafe_counter;  // extern: the model cannot be relaxed
__thread int g_unsafe_counter;

extern "C" void CpprofUnsafeHandlerForTest(int signo) {
  void* p = malloc(static_cast<size_t>(signo) + 16);
  ++g_unsafe_counter;
  printf("%p %d\n", p, g_unsafe_counter);
  free(p);
}
