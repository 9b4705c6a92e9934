// SPDX-License-Identifier: Apache-2.0
//
// CaptureStack against libunwind, through code without frame pointers
// (no_frame_pointer_code.cc, Debian's libc and libstdc++), from getcontext()
// and from a real SIGPROF handler, on a worker thread, through a library
// dlopened after a refresh, and with garbage registers.

#include <dlfcn.h>
#include <expat.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <cerrno>
#include <thread>

#include <doctest/doctest.h>

#include "no_frame_pointer_code.h"
#include "unwind/cfi_table.h"
#include "unwind/frame_pointer_unwinder.h"
#include "unwind/unwinder.h"
#include "unwind_oracle.h"

namespace cpprof_test {
namespace {

using cpprof::internal::CaptureStack;
using cpprof::internal::CaptureStackFrom;
using cpprof::internal::GetUnwindCounters;
using cpprof::internal::RefreshUnwindTables;

struct Capture {
  uintptr_t ours[kMaxFrames];
  int n_ours = 0;
  uintptr_t step[kMaxFrames];  // libunwind unw_step
  int n_step = 0;
  uintptr_t bt[kMaxFrames];  // libunwind unw_backtrace
  int n_bt = 0;
  uint64_t truncated_delta = 0;
  bool with_oracle = true;  // false: capture with cpprof only
};

// Captures with all three methods at (almost) the same point: their leaf
// PCs differ (the calls sit at different places in this function), every
// caller frame must be identical.
__attribute__((noinline)) void CaptureHere(void* arg) {
  auto* c = static_cast<Capture*>(arg);
  uint64_t truncated = GetUnwindCounters().truncated.load();
  ucontext_t uc;
  getcontext(&uc);
  c->n_ours = CaptureStack(&uc, c->ours, kMaxFrames);
  c->truncated_delta = GetUnwindCounters().truncated.load() - truncated;
  if (!c->with_oracle) return;
  unw_context_t ctx;
  unw_cursor_t cursor;
  unw_getcontext(&ctx);
  unw_init_local(&cursor, &ctx);
  c->n_step = OracleWalk(&cursor, c->step, kMaxFrames);
  void* bt[kMaxFrames];
  c->n_bt = unw_backtrace(bt, kMaxFrames);
  for (int i = 0; i < c->n_bt; ++i) c->bt[i] = reinterpret_cast<uintptr_t>(bt[i]);
}

// Frame-for-frame equality from index `from` on.
void ExpectSameStack(const uintptr_t* ours, int n_ours, const uintptr_t* ref, int n_ref,
                     int from) {
  INFO("ours:\n" << DescribeStack(ours, n_ours) << "libunwind:\n" << DescribeStack(ref, n_ref));
  CHECK(n_ours == n_ref);
  int n = n_ours < n_ref ? n_ours : n_ref;
  int mismatches = 0;
  for (int i = from; i < n; ++i) mismatches += ours[i] != ref[i];
  CHECK(mismatches == 0);
}

// The stack passes through `module` (e.g. libc) and ends in libc's entry
// code; the walk reported it complete.
void ExpectCompleteThrough(const Capture& c, const char* module) {
  INFO("ours:\n" << DescribeStack(c.ours, c.n_ours));
  bool through = false;
  for (int i = 1; i < c.n_ours; ++i) through = through || InModule(c.ours[i], module);
  CHECK(through);
  REQUIRE(c.n_ours > 3);
  // Threads end in libc's clone3; the main thread in libc's
  // __libc_start_main, then the executable's _start.
  CHECK((InModule(c.ours[c.n_ours - 1], "libc.so") || InModule(c.ours[c.n_ours - 2], "libc.so")));
  CHECK(c.truncated_delta == 0);
}

TEST_CASE("CaptureStack inside a qsort comparator matches libunwind frame for frame") {
  REQUIRE(RefreshUnwindTables());
  Capture c;
  SortWithQsort(&CaptureHere, &c);
  ExpectSameStack(c.ours, c.n_ours, c.step, c.n_step, 1);
  ExpectSameStack(c.ours, c.n_ours, c.bt, c.n_bt, 1);
  ExpectCompleteThrough(c, "libc.so");
}

TEST_CASE("CaptureStack inside a std::sort predicate matches libunwind frame for frame") {
  REQUIRE(RefreshUnwindTables());
  Capture c;
  SortWithStdSort(&CaptureHere, &c);
  ExpectSameStack(c.ours, c.n_ours, c.step, c.n_step, 1);
  ExpectCompleteThrough(c, "libc.so");
}

TEST_CASE("A pure frame-pointer walk stops in frame-pointer-less code where CaptureStack does not") {
  REQUIRE(RefreshUnwindTables());
  struct Both {
    Capture full;
    uintptr_t fp[kMaxFrames];
    int n_fp = 0;
  } both;
  SortWithQsort(
      [](void* arg) {
        auto* b = static_cast<Both*>(arg);
        CaptureHere(&b->full);
        ucontext_t uc;
        getcontext(&uc);
        b->n_fp = cpprof::internal::CaptureStackFramePointers(
            static_cast<uintptr_t>(uc.uc_mcontext.gregs[REG_RIP]),
            static_cast<uintptr_t>(uc.uc_mcontext.gregs[REG_RSP]),
            static_cast<uintptr_t>(uc.uc_mcontext.gregs[REG_RBP]), b->fp, kMaxFrames);
      },
      &both);
  INFO("fp walk:\n" << DescribeStack(both.fp, both.n_fp));
  CHECK(both.n_fp < both.full.n_ours);
}

// --- From a real signal handler --------------------------------------------

struct SignalCapture {
  Capture c;
  std::atomic<bool> done{false};
};
SignalCapture* g_signal_capture;

void ProfHandler(int, siginfo_t*, void* ucontext) {
  SignalCapture* s = g_signal_capture;
  if (s == nullptr || s->done.load()) return;
  const int saved_errno = errno;  // libunwind may change it
  s->c.n_ours = CaptureStack(ucontext, s->c.ours, kMaxFrames);
  // Test only: libunwind from the handler, on the same ucontext.
  unw_cursor_t cursor;
  if (unw_init_local2(&cursor, static_cast<unw_context_t*>(ucontext), UNW_INIT_SIGNAL_FRAME) == 0) {
    s->c.n_step = OracleWalk(&cursor, s->c.step, kMaxFrames);
  }
  errno = saved_errno;
  s->done.store(true);
}

TEST_CASE("CaptureStack from a SIGPROF handler matches libunwind run in the handler") {
  REQUIRE(RefreshUnwindTables());
  SignalCapture capture;
  g_signal_capture = &capture;
  struct sigaction sa {}, old {};
  sa.sa_sigaction = &ProfHandler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  REQUIRE(sigaction(SIGPROF, &sa, &old) == 0);
  sigevent sev{};
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
  timer_t timer;
  REQUIRE(timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &timer) == 0);
  itimerspec its{};
  its.it_value.tv_nsec = 2000000;
  its.it_interval.tv_nsec = 2000000;
  REQUIRE(timer_settime(timer, 0, &its, nullptr) == 0);
  SortSpinningInComparator(&capture.done, 4000000000L);
  timer_delete(timer);
  sigaction(SIGPROF, &old, nullptr);
  g_signal_capture = nullptr;
  REQUIRE(capture.done.load());
  const Capture& c = capture.c;
  // Both start at the interrupted PC, so even the leaf must agree.
  ExpectSameStack(c.ours, c.n_ours, c.step, c.n_step, 0);
  CHECK(c.n_ours > 5);
}

// --- Worker thread ----------------------------------------------------------

TEST_CASE("CaptureStack on a std::thread worker reaches libc's thread entry (start_thread/clone3)") {
  REQUIRE(RefreshUnwindTables());
  Capture c;
#if defined(__SANITIZE_THREAD__)
  // libunwind's thread-exit destructor crashes inside TSan's mutex
  // interceptor, so under TSan the worker is unwound by cpprof only (the
  // frame-for-frame comparison runs in the other builds).
  c.with_oracle = false;
#endif
  std::thread worker([&c] { SortWithQsort(&CaptureHere, &c); });
  worker.join();
  if (c.with_oracle) ExpectSameStack(c.ours, c.n_ours, c.step, c.n_step, 1);
  ExpectCompleteThrough(c, "libstdc++");
}

// --- Depth limit and garbage -------------------------------------------------

TEST_CASE("CaptureStack stops at max_depth and counts the stack as truncated") {
  REQUIRE(RefreshUnwindTables());
  struct Limited {
    uintptr_t pcs[4];
    int n = 0;
    uint64_t truncated = 0;
  } l;
  RecurseWithoutFramePointers(
      20,
      [](void* arg) {
        auto* p = static_cast<Limited*>(arg);
        uint64_t before = GetUnwindCounters().truncated.load();
        ucontext_t uc;
        getcontext(&uc);
        p->n = CaptureStack(&uc, p->pcs, 4);
        p->truncated = GetUnwindCounters().truncated.load() - before;
      },
      &l);
  CHECK(l.n == 4);
  CHECK(l.truncated == 1);
  uintptr_t none[1];
  CHECK(CaptureStack(nullptr, none, 1) == 0);
}

TEST_CASE("The unwinder survives garbage registers without faulting") {
  REQUIRE(RefreshUnwindTables());
  void* none = mmap(nullptr, 1 << 16, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(none != MAP_FAILED);
  auto heap = std::make_unique<uintptr_t[]>(4096);
  std::mt19937_64 rng(42);
  uintptr_t here = reinterpret_cast<uintptr_t>(&rng);
  // Heap and stack filled with values that look like pointers into stack,
  // heap, code and PROT_NONE memory, so chains wander everywhere.
  uintptr_t targets[] = {here, reinterpret_cast<uintptr_t>(heap.get()),
                         reinterpret_cast<uintptr_t>(&CaptureHere), reinterpret_cast<uintptr_t>(none),
                         reinterpret_cast<uintptr_t>(&memcpy), 0, 8, ~uintptr_t{0}};
  for (int i = 0; i < 4096; ++i) heap[i] = targets[rng() % 8] + (rng() % 8192) - 4096;
  uintptr_t pcs[64];
  int calls = 0;
  for (int i = 0; i < 20000; ++i) {
    uintptr_t pc = targets[rng() % 8] + (rng() % 4096);
    uintptr_t sp = targets[rng() % 8] + (rng() % 65536) - 32768;
    uintptr_t fp = targets[rng() % 8] + (rng() % 65536) - 32768;
    if (i % 4 == 0) sp = rng(), fp = rng(), pc = rng();
    int n = CaptureStackFrom(pc, sp, fp, pcs, 64);
    CHECK_UNARY(n >= 1 && n <= 64);
    ucontext_t uc{};
    uc.uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(pc);
    uc.uc_mcontext.gregs[REG_RSP] = static_cast<greg_t>(i % 2 ? sp : here - (rng() % 4096));
    uc.uc_mcontext.gregs[REG_RBP] = static_cast<greg_t>(fp);
    n = CaptureStack(&uc, pcs, 64);
    CHECK_UNARY(n >= 1 && n <= 64);
    ++calls;
  }
  CHECK(calls == 20000);
  munmap(none, 1 << 16);
}

// --- dlopen after a refresh ---------------------------------------------------

struct ExpatCapture {
  Capture c;
  bool called = false;
};

void ExpatStartElement(void* user, const XML_Char*, const XML_Char**) {
  auto* e = static_cast<ExpatCapture*>(user);
  if (!e->called) {
    e->called = true;
    CaptureHere(&e->c);
  }
}

TEST_CASE("Frames through a library dlopened after a refresh unwind once tables are refreshed") {
  REQUIRE(RefreshUnwindTables());
  void* lib = dlopen("libexpat.so.1", RTLD_NOW | RTLD_LOCAL);
  // libexpat1 comes with python3, which the test suite needs anyway.
  const char* why = lib == nullptr ? dlerror() : nullptr;
  const std::string error = why != nullptr ? why : "";
  INFO("dlopen(libexpat.so.1): ", error);
  REQUIRE(lib != nullptr);
  using CreateFn = XML_Parser (*)(const XML_Char*);
  using SetUserFn = void (*)(XML_Parser, void*);
  using SetHandlersFn = void (*)(XML_Parser, XML_StartElementHandler, XML_EndElementHandler);
  using ParseFn = enum XML_Status (*)(XML_Parser, const char*, int, int);
  using FreeFn = void (*)(XML_Parser);
  auto create = reinterpret_cast<CreateFn>(dlsym(lib, "XML_ParserCreate"));
  auto set_user = reinterpret_cast<SetUserFn>(dlsym(lib, "XML_SetUserData"));
  auto set_handlers = reinterpret_cast<SetHandlersFn>(dlsym(lib, "XML_SetElementHandler"));
  auto parse = reinterpret_cast<ParseFn>(dlsym(lib, "XML_Parse"));
  auto free_parser = reinterpret_cast<FreeFn>(dlsym(lib, "XML_ParserFree"));
  REQUIRE((create && set_user && set_handlers && parse && free_parser));
  uintptr_t in_lib = reinterpret_cast<uintptr_t>(parse);
  using cpprof::internal::CurrentCfiTables;
  using cpprof::internal::FindModule;
  bool was_known = FindModule(CurrentCfiTables(), in_lib) != nullptr;
  REQUIRE(RefreshUnwindTables());
  const cpprof::internal::ModuleEntry* module = FindModule(CurrentCfiTables(), in_lib);
  REQUIRE(module != nullptr);
  CHECK(module->count > 0);
  CHECK_FALSE(was_known);

  ExpatCapture e;
  XML_Parser parser = create(nullptr);
  set_user(parser, &e);
  set_handlers(parser, &ExpatStartElement, nullptr);
  const char doc[] = "<a><b/></a>";
  parse(parser, doc, static_cast<int>(sizeof(doc) - 1), 1);
  free_parser(parser);
  REQUIRE(e.called);
  ExpectSameStack(e.c.ours, e.c.n_ours, e.c.step, e.c.n_step, 1);
  ExpectCompleteThrough(e.c, "libexpat");

  dlclose(lib);
  REQUIRE(RefreshUnwindTables());
  cpprof::internal::ReleaseRetiredUnwindTables();
  CHECK(cpprof::internal::UnwindTablesBytes() > 0);
}

}  // namespace
}  // namespace cpprof_test
