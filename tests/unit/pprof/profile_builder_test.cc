// SPDX-License-Identifier: Apache-2.0

#include "pprof/profile_builder.h"

#include <doctest/doctest.h>

#include <string>

#include "profile_check.h"

namespace cpprof {
namespace internal {
namespace {

using pprof_test::pb::Profile;
using pprof_test::Str;

Profile Parse(const std::string& bytes) {
  Profile p;
  REQUIRE(p.ParseFromString(bytes));
  return p;
}

TEST_CASE("ProfileBuilder string 0 is the empty string and interning dedups") {
  ProfileBuilder b;
  CHECK(b.InternString("") == 0);
  const int64_t a = b.InternString("alpha");
  const int64_t c = b.InternString("beta");
  CHECK(a == 1);
  CHECK(c == 2);
  CHECK(b.InternString("alpha") == a);
  CHECK(b.InternString(std::string("be") + "ta") == c);
  // Many strings: indices stay stable while storage grows (short strings
  // live inside std::string, so this catches views into moved objects).
  for (int i = 0; i < 1000; ++i) b.InternString("s" + std::to_string(i));
  CHECK(b.InternString("alpha") == a);
  CHECK(b.InternString("s7") == 10);
  CHECK(b.string_count() == 1003);
  Profile p = Parse(b.Finalize());
  REQUIRE(p.string_table_size() == 1003);
  CHECK(p.string_table(0).empty());
  CHECK(p.string_table(1) == "alpha");
  CHECK(p.string_table(1002) == "s999");
}

TEST_CASE("ProfileBuilder interns functions and locations by content, ids from 1") {
  ProfileBuilder b;
  const uint64_t f1 = b.InternFunction("f", "f", "a.cc", 3);
  const uint64_t f2 = b.InternFunction("f", "f", "a.cc", 4);
  const uint64_t g = b.InternFunction("g", "_Z1gv", "a.cc", 3);
  CHECK(f1 == 1);
  CHECK(f2 == 2);
  CHECK(g == 3);
  CHECK(b.InternFunction("f", "f", "a.cc", 3) == f1);
  CHECK(b.function_count() == 3);

  const uint64_t m = b.AddMapping({0x1000, 0x2000, 0, "/bin/x", "abc"});
  CHECK(m == 1);
  const uint64_t l1 = b.InternLocation(m, 0x1100, {{f1, 10, 0}});
  const uint64_t l2 = b.InternLocation(m, 0x1200, {{g, 11, 0}, {f1, 12, 0}});
  const uint64_t l3 = b.InternLocation(0, 0x1100, {});
  CHECK(l1 == 1);
  CHECK(l2 == 2);
  CHECK(l3 == 3);
  CHECK(b.InternLocation(m, 0x1100, {{f1, 10, 0}}) == l1);
  CHECK(b.InternLocation(m, 0x1200, {{g, 11, 0}, {f1, 12, 0}}) == l2);
  // Same address, other lines: a distinct location (synthetic frames share address 0).
  CHECK(b.InternLocation(m, 0x1100, {{f2, 10, 0}}) == 4);
  CHECK(b.location_count() == 4);

  Profile p = Parse(b.Finalize());
  CHECK(pprof_test::ValidityErrors(p).empty());
  REQUIRE(p.function_size() == 3);
  CHECK(Str(p, p.function(2).name()) == "g");
  CHECK(Str(p, p.function(2).system_name()) == "_Z1gv");
  CHECK(Str(p, p.function(2).filename()) == "a.cc");
  CHECK(p.function(2).start_line() == 3);
  REQUIRE(p.location_size() == 4);
  const auto& loc2 = p.location(1);
  CHECK(loc2.id() == 2);
  CHECK(loc2.mapping_id() == 1);
  CHECK(loc2.address() == 0x1200);
  REQUIRE(loc2.line_size() == 2);
  CHECK(loc2.line(0).function_id() == g);
  CHECK(loc2.line(0).line() == 11);
  CHECK(loc2.line(1).function_id() == f1);
  CHECK(p.location(2).mapping_id() == 0);
  CHECK(p.location(2).line_size() == 0);
}

TEST_CASE("ProfileBuilder writes every profile field") {
  ProfileBuilder b;
  b.AddSampleType("alloc_objects", "count");
  b.AddSampleType("alloc_space", "bytes");
  b.SetPeriodType("space", "bytes");
  b.SetPeriod(524288);
  b.SetTimeNanos(1700000000123456789);
  b.SetDurationNanos(30000000000);
  b.AddComment("first comment");
  b.AddComment("second comment");
  b.SetDefaultSampleType("alloc_space");
  b.SetDropFrames("^malloc$");
  b.SetKeepFrames("^main$");
  b.SetDocUrl("https://example.com/doc");
  const uint64_t main_map = b.AddMapping({0x400000, 0x500000, 0x1000, "/usr/bin/app", "0011"});
  const uint64_t lib_map = b.AddMapping({0x7f00000000, 0x7f00100000, 0, "/lib/libc.so.6", ""});
  b.mutable_mapping(main_map)->has_functions = true;
  b.mutable_mapping(main_map)->has_inline_frames = true;
  CHECK(b.mutable_mapping(0) == nullptr);
  CHECK(b.mutable_mapping(3) == nullptr);
  const uint64_t f = b.InternFunction("main", "main", "main.cc", 1);
  const uint64_t loc = b.InternLocation(main_map, 0x401000, {{f, 5, 7}});
  const uint64_t loc2 = b.InternLocation(lib_map, 0x7f00000100, {});
  CHECK(b.AddSample({loc2, loc}, {3, 3000},
                    {{"thread", "worker", 0, ""}, {"bytes", "", 1024, "bytes"}, {"zero", "", 0, ""}}));
  CHECK(b.AddSample({loc}, {-1, -100}, {}));
  CHECK(b.sample_count() == 2);

  Profile p = Parse(b.Finalize());
  CHECK(pprof_test::ValidityErrors(p).empty());
  REQUIRE(p.sample_type_size() == 2);
  CHECK(Str(p, p.sample_type(0).type()) == "alloc_objects");
  CHECK(Str(p, p.sample_type(1).unit()) == "bytes");
  CHECK(Str(p, p.period_type().type()) == "space");
  CHECK(p.period() == 524288);
  CHECK(p.time_nanos() == 1700000000123456789);
  CHECK(p.duration_nanos() == 30000000000);
  REQUIRE(p.comment_size() == 2);
  CHECK(Str(p, p.comment(1)) == "second comment");
  CHECK(Str(p, p.default_sample_type()) == "alloc_space");
  CHECK(Str(p, p.drop_frames()) == "^malloc$");
  CHECK(Str(p, p.keep_frames()) == "^main$");
  CHECK(Str(p, p.doc_url()) == "https://example.com/doc");

  REQUIRE(p.mapping_size() == 2);
  const auto& m0 = p.mapping(0);
  CHECK(m0.id() == 1);
  CHECK(m0.memory_start() == 0x400000);
  CHECK(m0.memory_limit() == 0x500000);
  CHECK(m0.file_offset() == 0x1000);
  CHECK(Str(p, m0.filename()) == "/usr/bin/app");
  CHECK(Str(p, m0.build_id()) == "0011");
  CHECK(m0.has_functions());
  CHECK_FALSE(m0.has_filenames());
  CHECK_FALSE(m0.has_line_numbers());
  CHECK(m0.has_inline_frames());
  CHECK(p.mapping(1).id() == 2);
  CHECK(p.mapping(1).build_id() == 0);

  REQUIRE(p.location_size() == 2);
  CHECK(p.location(0).line(0).column() == 7);

  REQUIRE(p.sample_size() == 2);
  const auto& s = p.sample(0);
  REQUIRE(s.location_id_size() == 2);
  CHECK(s.location_id(0) == loc2);
  CHECK(s.location_id(1) == loc);
  REQUIRE(s.value_size() == 2);
  CHECK(s.value(1) == 3000);
  REQUIRE(s.label_size() == 3);
  CHECK(Str(p, s.label(0).key()) == "thread");
  CHECK(Str(p, s.label(0).str()) == "worker");
  CHECK(Str(p, s.label(1).key()) == "bytes");
  CHECK(s.label(1).str() == 0);
  CHECK(s.label(1).num() == 1024);
  CHECK(Str(p, s.label(1).num_unit()) == "bytes");
  CHECK(Str(p, s.label(2).key()) == "zero");
  CHECK(s.label(2).num() == 0);
  CHECK(p.sample(1).value(0) == -1);
  CHECK(p.sample(1).value(1) == -100);
}

TEST_CASE("ProfileBuilder rejects samples that would make the profile invalid") {
  ProfileBuilder b;
  b.AddSampleType("samples", "count");
  const uint64_t loc = b.InternLocation(0, 0x10, {});
  CHECK_FALSE(b.AddSample({loc}, {1, 2}, {}));  // two values, one type
  CHECK_FALSE(b.AddSample({loc}, {}, {}));
  CHECK_FALSE(b.AddSample({0}, {1}, {}));       // reserved id
  CHECK_FALSE(b.AddSample({loc + 1}, {1}, {}));  // unknown id
  CHECK(b.AddSample({}, {1}, {}));               // no frames is allowed
  CHECK(b.AddSample({loc, loc}, {1}, {}));       // recursion repeats ids
  CHECK(b.sample_count() == 2);
  Profile p = Parse(b.Finalize());
  CHECK(pprof_test::ValidityErrors(p).empty());
  CHECK(p.sample_size() == 2);
}

TEST_CASE("ProfileBuilder with nothing added is a valid profile with only the empty string") {
  ProfileBuilder b;
  Profile p = Parse(b.Finalize());
  CHECK(pprof_test::ValidityErrors(p).empty());
  CHECK(p.string_table_size() == 1);
  CHECK(p.sample_size() == 0);
  CHECK(p.period_type().type() == 0);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof

namespace cpprof {
namespace internal {
namespace {

TEST_CASE("The test validity checker reports each kind of broken reference") {
  Profile p;
  p.add_string_table("");
  p.add_string_table("x");
  p.add_sample_type()->set_type(1);
  auto* m = p.add_mapping();  // id 0 is reserved
  m->set_filename(9);         // out of range
  auto* f = p.add_function();
  f->set_id(1);
  auto* l = p.add_location();
  l->set_id(1);
  l->set_mapping_id(5);                   // no such mapping
  l->add_line()->set_function_id(2);      // no such function
  auto* s = p.add_sample();
  s->add_location_id(7);                  // no such location
  s->add_value(1);
  s->add_value(2);                        // two values, one type
  s->add_label()->set_str(1);             // label without key
  const std::vector<std::string> errors = pprof_test::ValidityErrors(p);
  auto has = [&](const std::string& part) {
    for (const std::string& e : errors) {
      if (e.find(part) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(has("mapping with reserved id 0"));
  CHECK(has("mapping.filename: string index 9"));
  CHECK(has("unknown mapping id"));
  CHECK(has("line with unknown function"));
  CHECK(has("unknown location id 7"));
  CHECK(has("sample has 2 values vs. 1 types"));
  CHECK(has("label without key"));
  CHECK(errors.size() == 7);
  p.set_string_table(0, "nonempty");
  CHECK(pprof_test::ValidityErrors(p).size() == 8);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
