// SPDX-License-Identifier: Apache-2.0
//
// Parsing the allocators' own heap dumps: jemalloc's prof.dump with and
// without cumulative counts (prof_accum), gperftools' heap_v2 text.

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "profiles/heap/native_heap.h"

namespace cpprof {
namespace internal {
namespace {

// pprof's unsampling of `n` samples totalling `bytes` at `period`.
double Unsampled(double n, double bytes, double period) {
  return n / (1 - std::exp(-(bytes / n) / period));
}

TEST_CASE("jemalloc dump: in-use counts, and cumulative ones when prof_accum keeps them") {
  const std::string dump =
      "heap_v2/2048\n"
      "  t*: 12: 3072 [40: 10240]\n"
      "  t0: 12: 3072 [40: 10240]\n"
      "@ 0x1000 0x2000 0x3000\n"
      "  t*: 8: 512 [20: 1280]\n"
      "  t0: 8: 512 [20: 1280]\n"
      "@ 0x1100 0x2100\n"
      "  t*: 0: 0 [30: 3840]\n"  // freed since: only cumulative
      "  t1: 0: 0 [30: 3840]\n"
      "@ 0x1200\n"
      "  t*: 0: 0 [0: 0]\n"
      "\n"
      "MAPPED_LIBRARIES:\n";
  StackProfile p;
  REQUIRE(heap::ParseJemallocDump(dump, &p));
  CHECK(p.period == 2048);
  REQUIRE(p.sample_types.size() == 4);
  CHECK(p.sample_types[0].type == "alloc_objects");
  CHECK(p.sample_types[3].type == "inuse_space");
  REQUIRE(p.samples.size() == 2);  // the stack with nothing at all is dropped
  const auto& a = p.samples[0];
  CHECK(a.pcs.size() == 3);
  CHECK(a.values[2] == std::llround(Unsampled(8, 512, 2048)));
  CHECK(a.values[3] == std::llround(Unsampled(8, 512, 2048) * 64));
  CHECK(a.values[0] == std::llround(Unsampled(20, 1280, 2048)));
  CHECK(a.values[1] == std::llround(Unsampled(20, 1280, 2048) * 64));
  const auto& b = p.samples[1];
  CHECK(b.values[2] == 0);
  CHECK(b.values[3] == 0);
  CHECK(b.values[0] == std::llround(Unsampled(30, 3840, 2048)));
  REQUIRE(b.labels.size() == 1);
  CHECK(b.labels[0].num == 128);  // the average size, from the cumulative pair

  // Without prof_accum the bracket is zero: alloc_* stay 0.
  StackProfile q;
  REQUIRE(heap::ParseJemallocDump("heap_v2/524288\n@ 0x1000\n  t*: 4: 4096 [0: 0]\n", &q));
  REQUIRE(q.samples.size() == 1);
  CHECK(q.samples[0].values[0] == 0);
  CHECK(q.samples[0].values[1] == 0);
  CHECK(q.samples[0].values[2] > 4);
  CHECK_FALSE(heap::ParseJemallocDump("heap profile: not jemalloc\n", &q));
}

TEST_CASE("gperftools heap_v2 text: in-use counts only") {
  StackProfile p;
  REQUIRE(heap::ParseHeapV2("heap profile:    3:   300 [     3:   300] @ heap_v2/524288\n"
                            "     3:   300 [     3:   300] @ 0x1000 0x2000\n",
                            &p));
  REQUIRE(p.samples.size() == 1);
  CHECK(p.samples[0].values[0] == 0);
  CHECK(p.samples[0].values[2] == std::llround(Unsampled(3, 300, 524288)));
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
