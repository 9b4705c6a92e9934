// SPDX-License-Identifier: Apache-2.0

#include <dlfcn.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "symbolize/symbolizer.h"

// Test subjects. Their shapes are pinned by attributes, not by the
// optimiser: noinline where a real frame is needed, always_inline for the
// inlined frame, and a store after each call so no call becomes a tail call.
namespace symtest {

volatile uintptr_t g_sink;
int g_target_line;
int g_helper_line;
int g_caller_line;
int g_template_line;
int g_c_line;

__attribute__((noinline)) uintptr_t CaptureReturnAddress() {
  uintptr_t ra = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  asm volatile("" : : "r"(ra) : "memory");
  return ra;
}

constexpr int kTargetDeclLine = __LINE__ + 1;
__attribute__((noinline)) uintptr_t TargetFunction(int x) {
  g_target_line = __LINE__; uintptr_t pc = CaptureReturnAddress();
  g_sink = pc + x;
  return pc;
}

constexpr int kHelperDeclLine = __LINE__ + 1;
__attribute__((always_inline)) inline uintptr_t InlinedHelper() {
  g_helper_line = __LINE__; uintptr_t pc = CaptureReturnAddress();
  g_sink = pc;
  return pc;
}

__attribute__((noinline)) uintptr_t InlineCaller() {
  g_caller_line = __LINE__; uintptr_t pc = InlinedHelper();
  g_sink = pc;
  return pc;
}

template <typename T>
struct Box {
  __attribute__((noinline)) uintptr_t Get(T v) const {
    g_template_line = __LINE__; uintptr_t pc = CaptureReturnAddress();
    g_sink = pc + static_cast<uintptr_t>(v);
    return pc;
  }
};
template struct Box<int>;

}  // namespace symtest

extern "C" __attribute__((noinline)) uintptr_t symtest_c_function() {
  symtest::g_c_line = __LINE__; uintptr_t pc = symtest::CaptureReturnAddress();
  symtest::g_sink = pc;
  return pc;
}

namespace {

using cpprof::internal::Demangle;
using cpprof::internal::FindModule;
using cpprof::internal::ListModules;
using cpprof::internal::Module;
using cpprof::internal::SymbolFrame;
using cpprof::internal::SymbolizedAddress;
using cpprof::internal::Symbolizer;

// The address of libc's own `name`. dlsym(RTLD_DEFAULT) would return a
// sanitizer runtime's interceptor in sanitized builds.
void* LibcSymbol(const char* name) {
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(libc != nullptr);
  void* address = dlsym(libc, name);
  dlclose(libc);
  return address;
}

const Module& ModuleOf(const std::vector<Module>& modules, uintptr_t pc) {
  const int index = FindModule(modules, pc);
  REQUIRE(index >= 0);
  return modules[index];
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool SameFrames(const SymbolizedAddress& a, const SymbolizedAddress& b) {
  if (a.frames.size() != b.frames.size() || a.has_line_info != b.has_line_info) return false;
  for (size_t i = 0; i < a.frames.size(); ++i) {
    const SymbolFrame& x = a.frames[i];
    const SymbolFrame& y = b.frames[i];
    if (x.function != y.function || x.system_name != y.system_name || x.file != y.file ||
        x.line != y.line || x.start_line != y.start_line) {
      return false;
    }
  }
  return true;
}

// Runs `command`, returns its exit status (-1 if it could not run).
int Run(const std::string& command) {
  int status = system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("Demangle turns Itanium names into C++ and leaves other names alone") {
  CHECK(Demangle("_ZN2ns3fooEv") == "ns::foo()");
  CHECK(Demangle("_ZNK7symtest3BoxIiE3GetEi") == "symtest::Box<int>::Get(int) const");
  CHECK(Demangle("_Z3barv.cold") == "bar() [clone .cold]");
  CHECK(Demangle("main") == "main");
  CHECK(Demangle("i") == "i");  // a type encoding, not a function name
  CHECK(Demangle("_Zinvalid!") == "_Zinvalid!");
  CHECK(Demangle("") == "");
}

TEST_CASE("A function's address resolves to its name, this file and the line of the call") {
  const uintptr_t ra = symtest::TargetFunction(1);
  std::vector<Module> modules = ListModules();
  Symbolizer symbolizer;
  SymbolizedAddress r = symbolizer.Symbolize(ModuleOf(modules, ra), ra - 1);
  REQUIRE(r.frames.size() == 1);
  CHECK(r.has_line_info);
  CHECK(r.frames[0].function == "symtest::TargetFunction(int)");
  CHECK(r.frames[0].system_name == "_ZN7symtest14TargetFunctionEi");
  CHECK(EndsWith(r.frames[0].file, "tests/unit/symbolize/symbolizer_test.cc"));
  CHECK(r.frames[0].line == symtest::g_target_line);
  CHECK(r.frames[0].start_line == symtest::kTargetDeclLine);

  // The entry address too (a symbol's start, as /debug/pprof/symbol sees it).
  const auto entry = reinterpret_cast<uintptr_t>(&symtest::TargetFunction);
  SymbolizedAddress at_entry = symbolizer.Symbolize(ModuleOf(modules, entry), entry);
  REQUIRE(!at_entry.frames.empty());
  CHECK(at_entry.frames.back().function == "symtest::TargetFunction(int)");
  CHECK(symbolizer.SymbolName(ModuleOf(modules, entry), entry) == "symtest::TargetFunction(int)");
  CHECK(symbolizer.SymbolName(ModuleOf(modules, ra), ra - 1) == "symtest::TargetFunction(int)");
}

TEST_CASE("An always_inline helper yields a two-frame chain, innermost first") {
  const uintptr_t ra = symtest::InlineCaller();
  std::vector<Module> modules = ListModules();
  Symbolizer symbolizer;
  SymbolizedAddress r = symbolizer.Symbolize(ModuleOf(modules, ra), ra - 1);
  REQUIRE(r.frames.size() == 2);
  CHECK(r.frames[0].function == "symtest::InlinedHelper()");
  CHECK(r.frames[0].system_name == "_ZN7symtest13InlinedHelperEv");
  CHECK(r.frames[0].line == symtest::g_helper_line);
  CHECK(r.frames[0].start_line == symtest::kHelperDeclLine);
  CHECK(EndsWith(r.frames[0].file, "symbolizer_test.cc"));
  CHECK(r.frames[1].function == "symtest::InlineCaller()");
  CHECK(r.frames[1].line == symtest::g_caller_line);
  CHECK(EndsWith(r.frames[1].file, "symbolizer_test.cc"));
}

TEST_CASE("A template member function gives the demangled name and the mangled system name") {
  symtest::Box<int> box;
  const uintptr_t ra = box.Get(3);
  std::vector<Module> modules = ListModules();
  Symbolizer symbolizer;
  SymbolizedAddress r = symbolizer.Symbolize(ModuleOf(modules, ra), ra - 1);
  REQUIRE(r.frames.size() == 1);
  CHECK(r.frames[0].function == "symtest::Box<int>::Get(int) const");
  CHECK(r.frames[0].system_name == "_ZNK7symtest3BoxIiE3GetEi");
  CHECK(r.frames[0].line == symtest::g_template_line);
}

TEST_CASE("A C function's system name equals its name") {
  const uintptr_t ra = symtest_c_function();
  std::vector<Module> modules = ListModules();
  Symbolizer symbolizer;
  SymbolizedAddress r = symbolizer.Symbolize(ModuleOf(modules, ra), ra - 1);
  REQUIRE(r.frames.size() == 1);
  CHECK(r.frames[0].function == "symtest_c_function");
  CHECK(r.frames[0].system_name == "symtest_c_function");
  CHECK(r.frames[0].line == symtest::g_c_line);
}

TEST_CASE("libc functions resolve through DWARF or the ELF symbol tables") {
  std::vector<Module> modules = ListModules();
  Symbolizer symbolizer;
  const auto qsort_address = reinterpret_cast<uintptr_t>(LibcSymbol("qsort"));
  REQUIRE(qsort_address != 0);
  const Module& libc = ModuleOf(modules, qsort_address);
  SymbolizedAddress r = symbolizer.Symbolize(libc, qsort_address);
  REQUIRE(!r.frames.empty());
  CHECK(r.frames.back().function == "qsort");
  CHECK(symbolizer.SymbolName(libc, qsort_address) == "qsort");

  // strlen is an IFUNC: dlsym returns the selected implementation, which
  // only the full .symtab (debug file) names; .dynsym alone may not cover it.
  const auto strlen_address = reinterpret_cast<uintptr_t>(LibcSymbol("strlen"));
  REQUIRE(strlen_address != 0);
  SymbolizedAddress s = symbolizer.Symbolize(ModuleOf(modules, strlen_address), strlen_address);
  if (!s.frames.empty()) CHECK(s.frames.back().function.find("strlen") != std::string::npos);

  // With the distribution's debug file installed, libc has file:line too.
  const std::string debug_file = "/usr/lib/debug/.build-id/" + libc.build_id.substr(0, 2) + "/" +
                                 libc.build_id.substr(2) + ".debug";
  if (access(debug_file.c_str(), R_OK) == 0) {
    CHECK(r.has_line_info);
    CHECK(!r.frames.back().file.empty());
    CHECK(r.frames.back().line > 0);
    CHECK(r.frames.back().system_name.find("qsort") != std::string::npos);
  }
}

TEST_CASE("A stripped module falls back to .symtab, and to .dynsym without it") {
  std::vector<Module> modules = ListModules();
  const uintptr_t ra = symtest::TargetFunction(2);
  const Module& self = ModuleOf(modules, ra);
  char dir_template[] = "/tmp/cpprof_symbolize_XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string no_debug = dir + "/no_debug";
  REQUIRE(Run("objcopy --strip-debug '" + self.path + "' '" + no_debug + "'") == 0);

  Symbolizer symbolizer;
  Module copy = self;
  copy.path = no_debug;
  SymbolizedAddress r = symbolizer.Symbolize(copy, ra - 1);
  REQUIRE(r.frames.size() == 1);
  CHECK(!r.has_line_info);
  CHECK(r.frames[0].function == "symtest::TargetFunction(int)");
  CHECK(r.frames[0].system_name == "_ZN7symtest14TargetFunctionEi");
  CHECK(r.frames[0].file.empty());
  CHECK(r.frames[0].line == 0);

  // libc with everything but .dynsym removed, and no build ID to find its
  // debug file by: only exported names remain.
  const auto qsort_address = reinterpret_cast<uintptr_t>(LibcSymbol("qsort"));
  const Module& libc = ModuleOf(modules, qsort_address);
  const std::string libc_copy = dir + "/libc_stripped.so";
  REQUIRE(Run("strip --strip-all --remove-section=.gnu_debuglink -o '" + libc_copy + "' '" +
              libc.path + "'") == 0);
  Module libc_module = libc;
  libc_module.path = libc_copy;
  libc_module.build_id.clear();
  SymbolizedAddress q = symbolizer.Symbolize(libc_module, qsort_address);
  REQUIRE(q.frames.size() == 1);
  CHECK(q.frames[0].function == "qsort");
  CHECK(!q.has_line_info);
  CHECK(symbolizer.SymbolName(libc_module, qsort_address) == "qsort");

  unlink(no_debug.c_str());
  unlink(libc_copy.c_str());
  rmdir(dir.c_str());
}

TEST_CASE("Separate debug info is found through .gnu_debuglink") {
  std::vector<Module> modules = ListModules();
  const uintptr_t ra = symtest::TargetFunction(6);
  const Module& self = ModuleOf(modules, ra);
  char dir_template[] = "/tmp/cpprof_symbolize_XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string debug = dir + "/tests.debug";
  const std::string stripped = dir + "/tests";
  REQUIRE(Run("objcopy --only-keep-debug '" + self.path + "' '" + debug + "'") == 0);
  REQUIRE(Run("cd '" + dir + "' && objcopy --strip-debug --add-gnu-debuglink=tests.debug '" +
              self.path + "' tests") == 0);

  Module copy = self;
  copy.path = stripped;
  SUBCASE("matched by build ID") {}
  SUBCASE("matched by CRC when the module has no build ID") { copy.build_id.clear(); }
  Symbolizer symbolizer;
  SymbolizedAddress r = symbolizer.Symbolize(copy, ra - 1);
  REQUIRE(r.frames.size() == 1);
  CHECK(r.has_line_info);
  CHECK(r.frames[0].function == "symtest::TargetFunction(int)");
  CHECK(r.frames[0].line == symtest::g_target_line);

  // A debug file that does not match (another CRC, no build ID to compare)
  // is ignored.
  REQUIRE(Run("objcopy --remove-section=.note.gnu.build-id --only-keep-debug '" + self.path +
              "' '" + debug + "' && printf x >> '" + debug + "'") == 0);
  Module unmatched = self;
  unmatched.path = stripped;
  unmatched.build_id.clear();
  Symbolizer fresh;
  SymbolizedAddress u = fresh.Symbolize(unmatched, ra - 1);
  REQUIRE(u.frames.size() == 1);
  CHECK(!u.has_line_info);
  CHECK(u.frames[0].function == "symtest::TargetFunction(int)");

  unlink(debug.c_str());
  unlink(stripped.c_str());
  rmdir(dir.c_str());
}

TEST_CASE("A module whose file changed since loading is not trusted") {
  std::vector<Module> modules = ListModules();
  const uintptr_t ra = symtest::TargetFunction(3);
  Module wrong = ModuleOf(modules, ra);
  wrong.build_id = std::string(40, '0');  // the file on disk has another build ID
  Symbolizer symbolizer;
  CHECK(symbolizer.Symbolize(wrong, ra - 1).frames.empty());
}

TEST_CASE("Addresses outside any known code resolve to nothing without crashing") {
  std::vector<Module> modules = ListModules();
  Symbolizer symbolizer;
  const Module& self = modules[0];
  CHECK(symbolizer.Symbolize(self, self.bias - 1).frames.empty());   // below the module
  CHECK(symbolizer.Symbolize(self, 0).frames.empty());
  CHECK(symbolizer.Symbolize(self, self.bias + (uintptr_t{1} << 40)).frames.empty());
  CHECK(symbolizer.SymbolName(self, self.bias + (uintptr_t{1} << 40)).empty());

  Module missing;
  missing.path = "/nonexistent/cpprof-no-such-module.so";
  missing.start = 0x1000;
  missing.limit = 0x2000;
  CHECK(symbolizer.Symbolize(missing, 0x1800).frames.empty());
  Module not_elf = missing;
  not_elf.path = "/proc/self/status";
  CHECK(symbolizer.Symbolize(not_elf, 0x1800).frames.empty());
}

TEST_CASE("The vDSO resolves from its in-memory image") {
  if (getauxval(AT_SYSINFO_EHDR) == 0) {
    MESSAGE("SKIPPED: this kernel maps no vDSO");
    return;
  }
  std::vector<Module> modules = ListModules();
  Symbolizer symbolizer;
  int vdso_modules = 0;
  for (const Module& m : modules) {
    if (m.path != "[vdso]") continue;
    ++vdso_modules;
    // Some exported function covers part of the vDSO's text.
    int named = 0;
    for (uintptr_t pc = m.start; pc < m.limit; pc += 16) {
      const std::string name = symbolizer.SymbolName(m, pc);
      if (!name.empty()) ++named;
    }
    CHECK(named > 0);
  }
  CHECK(vdso_modules >= 1);
}

TEST_CASE("Symbolize from four threads gives the same answers as one thread") {
  std::vector<Module> modules = ListModules();
  std::vector<std::pair<int, uintptr_t>> addresses;  // module index, address
  for (size_t i = 0; i < modules.size(); ++i) {
    const Module& m = modules[i];
    if (m.path == "[vdso]") continue;
    const uintptr_t step = std::max<uintptr_t>((m.limit - m.start) / 400, 1);
    for (uintptr_t pc = m.start; pc < m.limit; pc += step) addresses.emplace_back(i, pc);
  }
  Symbolizer reference_symbolizer;
  std::vector<SymbolizedAddress> reference;
  for (const auto& a : addresses) {
    reference.push_back(reference_symbolizer.Symbolize(modules[a.first], a.second));
  }
  int resolved = 0;
  for (const SymbolizedAddress& r : reference) resolved += !r.frames.empty();
  CHECK(resolved > static_cast<int>(addresses.size()) / 2);

  Symbolizer shared;  // cold: the threads race to build the same indexes
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the list from a different start.
      const size_t n = addresses.size();
      for (size_t k = 0; k < n; ++k) {
        const size_t i = (k + t * n / 4) % n;
        SymbolizedAddress r = shared.Symbolize(modules[addresses[i].first], addresses[i].second);
        if (!SameFrames(r, reference[i])) mismatches.fetch_add(1);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  CHECK(mismatches.load() == 0);
  CHECK(shared.MemoryBytes() > 0);
}

TEST_CASE("The cache keeps at most max_modules indexes and rebuilds evicted ones") {
  std::vector<Module> modules = ListModules();
  const uintptr_t ra = symtest::TargetFunction(4);
  const auto qsort_address = reinterpret_cast<uintptr_t>(LibcSymbol("qsort"));
  Symbolizer symbolizer(/*max_modules=*/1, Symbolizer::kDefaultMaxBytes);
  SymbolizedAddress first = symbolizer.Symbolize(ModuleOf(modules, ra), ra - 1);
  const size_t one_module_bytes = symbolizer.MemoryBytes();
  CHECK(one_module_bytes > 0);
  CHECK(symbolizer.Symbolize(ModuleOf(modules, qsort_address), qsort_address).frames.size() >= 1);
  CHECK(symbolizer.CachedModules() == 1);
  SymbolizedAddress again = symbolizer.Symbolize(ModuleOf(modules, ra), ra - 1);
  CHECK(symbolizer.CachedModules() == 1);
  CHECK(SameFrames(first, again));
}

TEST_CASE("A byte budget smaller than a DWARF index leaves ELF symbols only") {
  std::vector<Module> modules = ListModules();
  const uintptr_t ra = symtest::TargetFunction(5);
  Symbolizer symbolizer(Symbolizer::kDefaultMaxModules, /*max_bytes=*/1024);
  SymbolizedAddress r = symbolizer.Symbolize(ModuleOf(modules, ra), ra - 1);
  REQUIRE(r.frames.size() == 1);
  CHECK(!r.has_line_info);
  CHECK(r.frames[0].function == "symtest::TargetFunction(int)");
}

TEST_CASE("Prepare builds a module's index once; Symbolize then uses it") {
  std::vector<Module> modules = ListModules();
  const uintptr_t ra = symtest::TargetFunction(6);
  const Module& module = ModuleOf(modules, ra);
  Symbolizer symbolizer;
  CHECK(symbolizer.CachedModules() == 0);
  const size_t bytes = symbolizer.Prepare(module);
  CHECK(bytes > 0);
  CHECK(symbolizer.CachedModules() == 1);
  const size_t held = symbolizer.MemoryBytes();
  CHECK(held >= bytes);
  CHECK(symbolizer.Prepare(module) == bytes);  // cached: nothing rebuilt
  SymbolizedAddress r = symbolizer.Symbolize(module, ra - 1);
  REQUIRE(!r.frames.empty());
  CHECK(r.frames.back().function == "symtest::TargetFunction(int)");
  CHECK(symbolizer.CachedModules() == 1);
  CHECK(symbolizer.MemoryBytes() < held + bytes / 2);  // lookups cache a little; no second index
}
