// SPDX-License-Identifier: Apache-2.0
//
// A host program for tests/integration/bindings: it throws and catches a C++
// exception and calls glibc's backtrace(), the two things that break when a
// library drags Debian's libunwind.so into a process and it takes over
// _Unwind_RaiseException / _Unwind_Backtrace. check_bindings.sh runs it with
// LD_DEBUG=bindings and checks where those symbols were bound.
//
// Built three ways: plain (cpprof arrives by LD_PRELOAD), and with
// CPPROF_BINDINGS_LINKED against the shared or the static library, in which
// case it also serves one request so the library's code is really used.

#include <execinfo.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#ifdef CPPROF_BINDINGS_LINKED
#include <cpprof/cpprof.h>
#endif

namespace {

[[gnu::noinline]] void Thrower(int depth) {
  if (depth == 0) throw std::runtime_error("thrown through frames");
  Thrower(depth - 1);
  asm volatile("");  // keep the recursion a real call chain
}

[[gnu::noinline]] int CountFrames(int depth) {
  if (depth > 0) {
    int n = CountFrames(depth - 1);
    asm volatile("");
    return n;
  }
  void* frames[64];
  return backtrace(frames, 64);
}

}  // namespace

int main() {
  std::string caught;
  try {
    Thrower(5);
  } catch (const std::exception& e) {
    caught = e.what();
  }
  if (caught != "thrown through frames") {
    std::fprintf(stderr, "host: FAIL: exception not caught (got '%s')\n", caught.c_str());
    return 1;
  }
  // main + 4 CountFrames + __libc_start_call_main at least.
  int frames = CountFrames(3);
  if (frames < 5) {
    std::fprintf(stderr, "host: FAIL: backtrace() returned %d frames, expected at least 5\n", frames);
    return 1;
  }
#ifdef CPPROF_BINDINGS_LINKED
  cpprof::Request request;
  request.target = "/debug/pprof/cmdline";
  cpprof::Response response = cpprof::Handle(request);
  if (response.status != 200) {
    std::fprintf(stderr, "host: FAIL: cpprof::Handle gave %d\n", response.status);
    return 1;
  }
#endif
  std::printf("host: ok (exception caught, backtrace() gave %d frames)\n", frames);
  return 0;
}
