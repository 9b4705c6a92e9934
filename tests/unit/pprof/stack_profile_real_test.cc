// SPDX-License-Identifier: Apache-2.0
//
// EncodeStackProfile with the real symbolizer: PCs taken from this test
// binary's own functions come back with their names, files and lines, in a
// mapping for the test binary itself; `go tool pprof` reads the result.

#include <doctest/doctest.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "pprof/stack_profile.h"
#include "profile_check.h"

namespace pprof_real_test {

// The return address of this call, i.e. a PC inside the caller just after
// its call instruction.
__attribute__((noinline)) uintptr_t ReturnAddressOfThisCall() {
  uintptr_t ra = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  asm volatile("" : "+r"(ra));
  return ra;
}

__attribute__((noinline)) uintptr_t CallerFunctionForPprofTest(int depth) {
  uintptr_t ra = ReturnAddressOfThisCall();
  asm volatile("" : "+r"(ra), "+r"(depth));  // keeps the call from being a tail call
  return ra + static_cast<uintptr_t>(depth);
}

__attribute__((noinline)) int LeafFunctionForPprofTest(int x) {
  asm volatile("" : "+r"(x));
  return x * 3 + 1;
}

}  // namespace pprof_real_test

namespace cpprof {
namespace internal {
namespace {

using pprof_test::FindLocation;
using pprof_test::LineNames;
using pprof_test::Str;

std::string SelfExe() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

bool Contains(const std::vector<std::string>& names, const std::string& part) {
  for (const std::string& n : names) {
    if (n.find(part) != std::string::npos) return true;
  }
  return false;
}

StackProfile RealProfile() {
  StackProfile sp;
  sp.sample_types = {{"samples", "count"}};
  sp.leaf_is_exact_pc = true;
  // Leaf: an exact PC, the first instruction of LeafFunctionForPprofTest.
  const uintptr_t leaf = reinterpret_cast<uintptr_t>(&pprof_real_test::LeafFunctionForPprofTest);
  // Caller: a return address inside CallerFunctionForPprofTest.
  const uintptr_t caller = pprof_real_test::CallerFunctionForPprofTest(0);
  sp.samples.push_back({{leaf, caller}, "", {5}, {}});
  return sp;
}

TEST_CASE("EncodeStackProfile with the real symbolizer names this test's functions") {
  CHECK(pprof_real_test::LeafFunctionForPprofTest(1) == 4);
  const std::string gz = EncodeStackProfile(RealProfile());
  pprof_test::pb::Profile p;
  REQUIRE(pprof_test::DecodeGzipped(gz, &p));
  const auto errors = pprof_test::ValidityErrors(p);
  std::string joined;
  for (const std::string& e : errors) joined += e + "\n";
  CHECK_MESSAGE(errors.empty(), joined);

  REQUIRE(p.mapping_size() >= 1);
  const auto& main = p.mapping(0);
  CHECK(Str(p, main.filename()) == SelfExe());
  CHECK_FALSE(Str(p, main.build_id()).empty());
  CHECK(main.has_functions());

  REQUIRE(p.sample_size() == 1);
  REQUIRE(p.sample(0).location_id_size() == 2);
  const auto* leaf = FindLocation(p, p.sample(0).location_id(0));
  const auto* caller = FindLocation(p, p.sample(0).location_id(1));
  REQUIRE(leaf != nullptr);
  REQUIRE(caller != nullptr);
  CHECK(leaf->mapping_id() == main.id());
  CHECK(caller->mapping_id() == main.id());
  CHECK(leaf->address() ==
        reinterpret_cast<uintptr_t>(&pprof_real_test::LeafFunctionForPprofTest));
  const auto leaf_names = LineNames(p, *leaf);
  const auto caller_names = LineNames(p, *caller);
  INFO("leaf: " << (leaf_names.empty() ? "" : leaf_names.back()));
  INFO("caller: " << (caller_names.empty() ? "" : caller_names.back()));
  REQUIRE_FALSE(leaf_names.empty());
  REQUIRE_FALSE(caller_names.empty());
  CHECK(leaf_names.back() == "pprof_real_test::LeafFunctionForPprofTest(int)");
  CHECK(Contains(caller_names, "pprof_real_test::CallerFunctionForPprofTest(int)"));

  // With DWARF (the tests are built with -g), file and line are known.
  const auto* fn = pprof_test::FindFunction(p, leaf->line(leaf->line_size() - 1).function_id());
  REQUIRE(fn != nullptr);
  CHECK(Str(p, fn->filename()).find("stack_profile_real_test.cc") != std::string::npos);
  CHECK(leaf->line(leaf->line_size() - 1).line() > 0);
  CHECK(main.has_filenames());
  CHECK(main.has_line_numbers());
}

TEST_CASE("go tool pprof reads a real profile and shows this test's function names") {
  if (system("command -v go >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: `go` is not installed");
    return;
  }
  char name[] = "/tmp/cpprof_pprof_real_XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  const std::string gz = EncodeStackProfile(RealProfile());
  REQUIRE(write(fd, gz.data(), gz.size()) == static_cast<ssize_t>(gz.size()));
  close(fd);
  std::string out;
  FILE* f = popen(("go tool pprof -top -symbolize=none " + std::string(name) + " 2>&1").c_str(),
                  "r");
  REQUIRE(f != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  const int status = pclose(f);
  unlink(name);
  INFO(out);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(out.find("pprof_real_test::LeafFunctionForPprofTest(int)") != std::string::npos);
  CHECK(out.find("pprof_real_test::CallerFunctionForPprofTest(int)") != std::string::npos);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof

TEST_CASE("PrepareSymbolsFor builds the indexes of the modules holding the PCs, once") {
  using cpprof::internal::PrepareSymbolsFor;
  using cpprof::internal::Symbolizer;
  CHECK(PrepareSymbolsFor({}) == 0);
  std::vector<uintptr_t> pcs = {reinterpret_cast<uintptr_t>(&PrepareSymbolsFor),
                                reinterpret_cast<uintptr_t>(&qsort)};
  std::sort(pcs.begin(), pcs.end());
  CHECK(PrepareSymbolsFor(pcs) == 2);  // this test binary and libc
  const size_t cached = Symbolizer::Global().CachedModules();
  CHECK(cached >= 2);
  CHECK(PrepareSymbolsFor(pcs) == 2);
  CHECK(Symbolizer::Global().CachedModules() == cached);
  CHECK(PrepareSymbolsFor({uintptr_t{16}}) == 0);  // in no module
}
