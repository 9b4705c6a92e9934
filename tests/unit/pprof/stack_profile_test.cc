// SPDX-License-Identifier: Apache-2.0
//
// EncodeStackProfile with a fake symbol source: what reaches the profile
// (locations, lines, inline order, mappings and their flags, labels,
// synthetic frames), checked on the decoded bytes.

#include "pprof/stack_profile.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>

#include "profile_check.h"

namespace cpprof {
namespace internal {
namespace {

using pprof_test::FindLocation;
using pprof_test::FindMapping;
using pprof_test::LineNames;
using pprof_test::pb::Profile;
using pprof_test::Str;

constexpr uintptr_t kMainStart = 0x400000;
constexpr uintptr_t kLibcStart = 0x7f0000000000;
constexpr uintptr_t kUnusedStart = 0x7f1000000000;

class FakeSymbols : public SymbolSource {
 public:
  FakeSymbols() {
    // Listed out of address order on purpose: lookup must not rely on it.
    modules_ = {
        {kMainStart, kMainStart + 0x100000, 0x1000, kMainStart - 0x1000, "/usr/bin/app", "a1b2"},
        {kUnusedStart, kUnusedStart + 0x1000, 0, kUnusedStart, "/lib/libunused.so", "0000"},
        {kLibcStart, kLibcStart + 0x100000, 0x2000, kLibcStart, "/lib/libc.so.6", "c0ffee"},
    };
    // Leaf in main: an inlined accessor inside a method, with DWARF lines.
    symbols_[0x401000] = {{{"ns::Foo<int>::get() const", "_ZNK2ns3FooIiE3getEv", "foo.h", 10, 8},
                           {"ns::Bar::run(long)", "_ZN2ns3Bar3runEl", "bar.cc", 20, 15}},
                          true};
    // A caller in main.
    symbols_[0x402000] = {{{"main", "main", "main.cc", 30, 25}}, true};
    // libc: symbol table only.
    symbols_[kLibcStart + 0x1234] = {{{"qsort", "qsort", "", 0, 0}}, false};
    // kLibcStart + 0x2000: nothing known (not in symbols_).
  }

  std::vector<Module> ListModules() override { return modules_; }
  SymbolizedAddress Symbolize(const Module& module, uintptr_t address) override {
    ++calls_[address];
    last_module_path_[address] = module.path;
    auto it = symbols_.find(address);
    return it == symbols_.end() ? SymbolizedAddress{} : it->second;
  }

  std::vector<Module> modules_;
  std::map<uintptr_t, SymbolizedAddress> symbols_;
  std::map<uintptr_t, int> calls_;
  std::map<uintptr_t, std::string> last_module_path_;
};

StackProfile MakeProfile() {
  StackProfile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10000000;
  p.time_nanos = 1700000000000000000;
  p.duration_nanos = 5000000000;
  p.default_sample_type = "cpu";
  p.comments = {"cpprof test"};
  p.leaf_is_exact_pc = true;
  // Return addresses are one past the call: 0x402001 is looked up at 0x402000.
  p.samples.push_back({{0x401000, 0x402001},
                       "",
                       {1, 10},
                       {{"thread", "worker", 0, ""}, {"bytes", "", 4096, "bytes"}}});
  p.samples.push_back({{0x401000, kLibcStart + 0x1235, 0x402001}, "", {2, 20}, {}});
  p.samples.push_back({{kLibcStart + 0x2000, 0x1235}, "", {1, 1}, {}});
  p.samples.push_back({{}, "[cpprof: 12 samples dropped: stack table full]", {12, 120}, {}});
  p.samples.push_back({{0x401000}, "", {1}, {}});  // wrong value count
  return p;
}

Profile Encode(const StackProfile& sp, FakeSymbols& symbols, EncodeOptions options = {}) {
  const std::string gz = EncodeStackProfile(sp, symbols, options);
  REQUIRE_FALSE(gz.empty());
  Profile p;
  REQUIRE(pprof_test::DecodeGzipped(gz, &p));
  const std::vector<std::string> errors = pprof_test::ValidityErrors(p);
  std::string joined;
  for (const std::string& e : errors) joined += e + "\n";
  CHECK_MESSAGE(errors.empty(), joined);
  return p;
}

const pprof_test::pb::Location& SampleLocation(const Profile& p, int sample, int frame) {
  REQUIRE(sample < p.sample_size());
  REQUIRE(frame < p.sample(sample).location_id_size());
  const auto* loc = FindLocation(p, p.sample(sample).location_id(frame));
  REQUIRE(loc != nullptr);
  return *loc;
}

TEST_CASE("EncodeStackProfile writes the profile header fields") {
  FakeSymbols symbols;
  Profile p = Encode(MakeProfile(), symbols);
  REQUIRE(p.sample_type_size() == 2);
  CHECK(Str(p, p.sample_type(0).type()) == "samples");
  CHECK(Str(p, p.sample_type(0).unit()) == "count");
  CHECK(Str(p, p.sample_type(1).type()) == "cpu");
  CHECK(Str(p, p.sample_type(1).unit()) == "nanoseconds");
  CHECK(Str(p, p.period_type().type()) == "cpu");
  CHECK(p.period() == 10000000);
  CHECK(p.time_nanos() == 1700000000000000000);
  CHECK(p.duration_nanos() == 5000000000);
  CHECK(Str(p, p.default_sample_type()) == "cpu");
  REQUIRE(p.comment_size() == 2);
  CHECK(Str(p, p.comment(0)) == "cpprof test");
  CHECK(Str(p, p.comment(1)) ==
        "cpprof: 1 samples dropped: value count differs from sample type count");
  CHECK(p.sample_size() == 4);
}

TEST_CASE("EncodeStackProfile looks up the leaf as is and callers at pc - 1") {
  FakeSymbols symbols;
  Profile p = Encode(MakeProfile(), symbols);
  CHECK(SampleLocation(p, 0, 0).address() == 0x401000);
  CHECK(SampleLocation(p, 0, 1).address() == 0x402000);
  CHECK(SampleLocation(p, 1, 1).address() == kLibcStart + 0x1234);
  // Every distinct address was symbolized exactly once, in its own module.
  CHECK(symbols.calls_ == std::map<uintptr_t, int>{{0x401000, 1},
                                                   {0x402000, 1},
                                                   {kLibcStart + 0x1234, 1},
                                                   {kLibcStart + 0x2000, 1}});
  CHECK(symbols.last_module_path_[kLibcStart + 0x1234] == "/lib/libc.so.6");
  // The same address in several samples is one location.
  CHECK(p.sample(0).location_id(0) == p.sample(1).location_id(0));
  CHECK(p.sample(0).location_id(1) == p.sample(1).location_id(2));

  SUBCASE("unless the leaf is a return address too") {
    StackProfile sp = MakeProfile();
    sp.leaf_is_exact_pc = false;
    sp.samples[0].pcs = {0x401001, 0x402001};
    FakeSymbols s2;
    Profile p2 = Encode(sp, s2);
    CHECK(SampleLocation(p2, 0, 0).address() == 0x401000);
    CHECK(LineNames(p2, SampleLocation(p2, 0, 0)).size() == 2);
  }
}

TEST_CASE("EncodeStackProfile writes inline chains innermost first with full names") {
  FakeSymbols symbols;
  Profile p = Encode(MakeProfile(), symbols);
  const auto& leaf = SampleLocation(p, 0, 0);
  CHECK(LineNames(p, leaf) ==
        std::vector<std::string>{"ns::Foo<int>::get() const", "ns::Bar::run(long)"});
  REQUIRE(leaf.line_size() == 2);
  CHECK(leaf.line(0).line() == 10);
  CHECK(leaf.line(1).line() == 20);
  const auto* inner = pprof_test::FindFunction(p, leaf.line(0).function_id());
  REQUIRE(inner != nullptr);
  CHECK(Str(p, inner->system_name()) == "ns::Foo<int>::get() const");
  CHECK(Str(p, inner->filename()) == "foo.h");
  CHECK(inner->start_line() == 8);
  CHECK(LineNames(p, SampleLocation(p, 0, 1)) == std::vector<std::string>{"main"});
  CHECK(LineNames(p, SampleLocation(p, 1, 1)) == std::vector<std::string>{"qsort"});
  // Functions are interned: "main" appears once although two samples use it.
  int mains = 0;
  for (const auto& f : p.function()) mains += Str(p, f.name()) == "main";
  CHECK(mains == 1);
}

TEST_CASE("EncodeStackProfile writes only used mappings, main first, with truthful flags") {
  FakeSymbols symbols;
  Profile p = Encode(MakeProfile(), symbols);
  REQUIRE(p.mapping_size() == 2);  // libunused.so holds no PC
  const auto& main = p.mapping(0);
  CHECK(main.id() == 1);
  CHECK(Str(p, main.filename()) == "/usr/bin/app");
  CHECK(Str(p, main.build_id()) == "a1b2");
  CHECK(main.memory_start() == kMainStart);
  CHECK(main.memory_limit() == kMainStart + 0x100000);
  CHECK(main.file_offset() == 0x1000);
  CHECK(main.has_functions());
  CHECK(main.has_filenames());
  CHECK(main.has_line_numbers());
  CHECK(main.has_inline_frames());

  const auto& libc = p.mapping(1);
  CHECK(Str(p, libc.filename()) == "/lib/libc.so.6");
  CHECK(Str(p, libc.build_id()) == "c0ffee");
  CHECK(libc.file_offset() == 0x2000);
  // One libc location is unknown, the other has no file or line.
  CHECK_FALSE(libc.has_functions());
  CHECK_FALSE(libc.has_filenames());
  CHECK_FALSE(libc.has_line_numbers());
  CHECK_FALSE(libc.has_inline_frames());

  CHECK(SampleLocation(p, 0, 0).mapping_id() == main.id());
  CHECK(SampleLocation(p, 1, 1).mapping_id() == libc.id());
}

TEST_CASE("EncodeStackProfile sets has_functions when every location of a mapping is named") {
  FakeSymbols symbols;
  StackProfile sp = MakeProfile();
  sp.samples.erase(sp.samples.begin() + 2);  // drop the unknown libc PC
  Profile p = Encode(sp, symbols);
  REQUIRE(p.mapping_size() == 2);
  CHECK(p.mapping(1).has_functions());
  CHECK_FALSE(p.mapping(1).has_filenames());
  CHECK_FALSE(p.mapping(1).has_line_numbers());
  CHECK_FALSE(p.mapping(1).has_inline_frames());
}

TEST_CASE("EncodeStackProfile keeps unknown PCs as bare addresses") {
  FakeSymbols symbols;
  Profile p = Encode(MakeProfile(), symbols);
  const auto& unknown_in_libc = SampleLocation(p, 2, 0);
  CHECK(unknown_in_libc.address() == kLibcStart + 0x2000);
  CHECK(unknown_in_libc.mapping_id() == p.mapping(1).id());
  CHECK(unknown_in_libc.line_size() == 0);
  const auto& outside = SampleLocation(p, 2, 1);
  CHECK(outside.address() == 0x1234);
  CHECK(outside.mapping_id() == 0);
  CHECK(outside.line_size() == 0);
  CHECK(symbols.calls_.count(0x1234) == 0);  // no module, nothing to ask
}

TEST_CASE("EncodeStackProfile turns a synthetic sample into one named frame without mapping") {
  FakeSymbols symbols;
  Profile p = Encode(MakeProfile(), symbols);
  const auto& s = p.sample(3);
  REQUIRE(s.location_id_size() == 1);
  const auto& loc = SampleLocation(p, 3, 0);
  CHECK(loc.mapping_id() == 0);
  CHECK(loc.address() == 0);
  CHECK(LineNames(p, loc) ==
        std::vector<std::string>{"[cpprof: 12 samples dropped: stack table full]"});
  CHECK(s.value(0) == 12);
  CHECK(s.value(1) == 120);

  SUBCASE("as the outermost caller when the sample also has PCs") {
    StackProfile sp = MakeProfile();
    sp.samples[0].synthetic = "[thread pool]";
    FakeSymbols s2;
    Profile p2 = Encode(sp, s2);
    REQUIRE(p2.sample(0).location_id_size() == 3);
    CHECK(LineNames(p2, SampleLocation(p2, 0, 2)) == std::vector<std::string>{"[thread pool]"});
    CHECK(SampleLocation(p2, 0, 2).address() == 0);
  }
}

TEST_CASE("EncodeStackProfile writes string and numeric labels") {
  FakeSymbols symbols;
  Profile p = Encode(MakeProfile(), symbols);
  const auto& s = p.sample(0);
  REQUIRE(s.label_size() == 2);
  CHECK(Str(p, s.label(0).key()) == "thread");
  CHECK(Str(p, s.label(0).str()) == "worker");
  CHECK(Str(p, s.label(1).key()) == "bytes");
  CHECK(s.label(1).num() == 4096);
  CHECK(Str(p, s.label(1).num_unit()) == "bytes");
  CHECK(p.sample(1).label_size() == 0);
}

TEST_CASE("EncodeStackProfile without symbolization keeps mappings and addresses only") {
  FakeSymbols symbols;
  EncodeOptions options;
  options.symbolize = false;
  Profile p = Encode(MakeProfile(), symbols, options);
  CHECK(symbols.calls_.empty());
  REQUIRE(p.mapping_size() == 2);
  for (const auto& m : p.mapping()) {
    CHECK_FALSE(m.has_functions());
    CHECK_FALSE(m.has_filenames());
    CHECK_FALSE(m.has_line_numbers());
    CHECK_FALSE(m.has_inline_frames());
  }
  CHECK(SampleLocation(p, 0, 0).line_size() == 0);
  CHECK(SampleLocation(p, 0, 0).address() == 0x401000);
  // Only the synthetic frame has a function.
  REQUIRE(p.function_size() == 1);
}

TEST_CASE("EncodeStackProfile puts the main executable first even when no PC is in it") {
  FakeSymbols symbols;
  StackProfile sp;
  sp.sample_types = {{"samples", "count"}};
  sp.samples.push_back({{kLibcStart + 0x1234}, "", {1}, {}});
  Profile p = Encode(sp, symbols);
  REQUIRE(p.mapping_size() == 2);
  CHECK(Str(p, p.mapping(0).filename()) == "/usr/bin/app");
  CHECK(Str(p, p.mapping(1).filename()) == "/lib/libc.so.6");
  CHECK(SampleLocation(p, 0, 0).mapping_id() == 2);
}

TEST_CASE("EncodeStackProfile of an empty profile is valid and lists no modules") {
  FakeSymbols symbols;
  StackProfile sp;
  sp.sample_types = {{"samples", "count"}};
  Profile p = Encode(sp, symbols);
  CHECK(p.sample_size() == 0);
  CHECK(p.mapping_size() == 0);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof

namespace cpprof {
namespace internal {
namespace {

TEST_CASE("EncodeStackProfile keeps every random stack's frames and values") {
  FakeSymbols symbols;
  // Give every main-binary address a name so every location has lines.
  std::mt19937_64 rng(42);
  StackProfile sp;
  sp.sample_types = {{"alloc_objects", "count"}, {"alloc_space", "bytes"}};
  std::vector<std::vector<uintptr_t>> expected_addresses;
  for (int i = 0; i < 2000; ++i) {
    StackSample s;
    const int depth = 1 + static_cast<int>(rng() % 40);
    std::vector<uintptr_t> addresses;
    for (int d = 0; d < depth; ++d) {
      uintptr_t pc;
      switch (rng() % 3) {
        case 0: pc = kMainStart + 1 + rng() % 0x1000; break;
        case 1: pc = kLibcStart + 1 + rng() % 0x100; break;
        default: pc = 0x10000 + rng() % 0x100; break;  // in no module
      }
      s.pcs.push_back(pc);
      addresses.push_back(d == 0 ? pc : pc - 1);
    }
    s.values = {static_cast<int64_t>(i), -static_cast<int64_t>(i) * 1000};
    sp.samples.push_back(std::move(s));
    expected_addresses.push_back(std::move(addresses));
  }
  Profile p = Encode(sp, symbols);
  REQUIRE(p.sample_size() == 2000);
  bool all_match = true;
  int first_mismatch = -1;
  for (int i = 0; i < p.sample_size() && all_match; ++i) {
    const auto& s = p.sample(i);
    all_match = s.value(0) == i && s.value(1) == -int64_t{i} * 1000 &&
                static_cast<size_t>(s.location_id_size()) == expected_addresses[i].size();
    for (int d = 0; all_match && d < s.location_id_size(); ++d) {
      const auto* loc = FindLocation(p, s.location_id(d));
      all_match = loc != nullptr && loc->address() == expected_addresses[i][d];
    }
    if (!all_match) first_mismatch = i;
  }
  CHECK_MESSAGE(all_match, "first mismatch in sample " << first_mismatch);
  // One Symbolize call per distinct in-module address, never more.
  int max_calls = 0;
  for (const auto& entry : symbols.calls_) max_calls = std::max(max_calls, entry.second);
  CHECK(max_calls == 1);
  CHECK(symbols.calls_.size() > 100);
  // Each location id appears once: locations are deduplicated by address.
  std::set<uint64_t> addresses;
  for (const auto& loc : p.location()) addresses.insert(loc.address());
  CHECK(addresses.size() == static_cast<size_t>(p.location_size()));
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
