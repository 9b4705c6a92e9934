// SPDX-License-Identifier: Apache-2.0
//
// Integration-style checks with the real consumer: `go tool pprof` reads
// profiles that EncodeStackProfile() wrote to a file. Skipped (with a
// message) when `go` is not installed.

#include <doctest/doctest.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "pprof/stack_profile.h"

namespace cpprof {
namespace internal {
namespace {

bool HaveGo() { return system("command -v go >/dev/null 2>&1") == 0; }

// Runs `command` with a shell; returns its exit status and stdout+stderr.
int Run(const std::string& command, std::string* output) {
  output->clear();
  FILE* f = popen((command + " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) output->append(buf, n);
  const int status = pclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char name[] = "/tmp/cpprof_pprof_test_XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    path_ = name;
    REQUIRE(write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()));
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class NamedSymbols : public SymbolSource {
 public:
  std::vector<Module> ListModules() override {
    // A path that does not exist, so pprof cannot re-symbolize it locally.
    return {{0x400000, 0x500000, 0, 0x400000, "/nonexistent/cpprof-test-app", "feedface"}};
  }
  SymbolizedAddress Symbolize(const Module&, uintptr_t address) override {
    if (address == 0x401000) {
      return {{{"ns::Foo<int>::bar(long) const", "_ZNK2ns3FooIiE3barEl", "foo.h", 12, 10},
               {"ns::Outer::run(std::vector<int, std::allocator<int> > const&)", "", "outer.cc", 40,
                30}},
              true};
    }
    if (address == 0x402000) return {{{"main", "main", "main.cc", 5, 3}}, true};
    return {};
  }
};

std::string EncodeNamedProfile() {
  StackProfile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10000000;
  p.default_sample_type = "cpu";
  p.samples.push_back({{0x401000, 0x402001}, "", {7, 70000000}, {{"thread", "main", 0, ""}}});
  p.samples.push_back({{}, "[cpprof: 3 samples dropped: stack table full]", {3, 30000000}, {}});
  NamedSymbols symbols;
  return EncodeStackProfile(p, symbols);
}

TEST_CASE("go tool pprof -raw accepts a profile from EncodeStackProfile") {
  if (!HaveGo()) {
    MESSAGE("skipped: `go` is not installed");
    return;
  }
  TempFile file(EncodeNamedProfile());
  std::string out;
  const int rc = Run("go tool pprof -raw " + file.path(), &out);
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(out.find("PeriodType: cpu nanoseconds") != std::string::npos);
  CHECK(out.find("Period: 10000000") != std::string::npos);
  CHECK(out.find("samples/count cpu/nanoseconds[dflt]") != std::string::npos);
  CHECK(out.find("thread:[main]") != std::string::npos);
  CHECK(out.find("[cpprof: 3 samples dropped: stack table full]") != std::string::npos);
  CHECK(out.find("/nonexistent/cpprof-test-app") != std::string::npos);
  CHECK(out.find("feedface") != std::string::npos);
}

TEST_CASE("go tool pprof shortens C++ names by default and shows them whole on request") {
  if (!HaveGo()) {
    MESSAGE("skipped: `go` is not installed");
    return;
  }
  TempFile file(EncodeNamedProfile());
  std::string none, dflt, full;
  REQUIRE(Run("go tool pprof -top -symbolize=none " + file.path(), &none) == 0);
  REQUIRE(Run("go tool pprof -top " + file.path(), &dflt) == 0);
  REQUIRE(Run("go tool pprof -top -symbolize=demangle=full " + file.path(), &full) == 0);
  INFO("-symbolize=none:\n" << none << "\ndefault:\n" << dflt << "\ndemangle=full:\n" << full);
  const std::string kFullInner = "ns::Foo<int>::bar(long) const";
  const std::string kFullOuter = "ns::Outer::run(std::vector<int, std::allocator<int> > const&)";
  // No symbolization at all: the names exactly as encoded.
  CHECK(none.find(kFullInner) != std::string::npos);
  CHECK(none.find(kFullOuter) != std::string::npos);
  // Default: pprof drops parameters and template arguments of names that
  // look like demangled C++ (name == system_name).
  CHECK(dflt.find("ns::Foo::bar const (inline)") != std::string::npos);
  CHECK(dflt.find("ns::Outer::run\n") != std::string::npos);
  CHECK(dflt.find("(long)") == std::string::npos);
  // demangle=full: whole names again (pprof also forces local
  // symbolization, which fails harmlessly for the nonexistent binary).
  CHECK(full.find(kFullInner) != std::string::npos);
  CHECK(full.find(kFullOuter) != std::string::npos);
  // Inline chains survive as inline frames; the synthetic frame is a leaf.
  CHECK(dflt.find("[cpprof: 3 samples dropped: stack table full]") != std::string::npos);
  CHECK(dflt.find(" main\n") != std::string::npos);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
