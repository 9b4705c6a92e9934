// SPDX-License-Identifier: Apache-2.0

#include "stacks/stack_table.h"

#include <doctest/doctest.h>

#include <map>
#include <thread>
#include <vector>

namespace cpprof {
namespace internal {
namespace {

std::map<std::vector<uintptr_t>, uint64_t> ReadAll(const StackTable& t) {
  std::map<std::vector<uintptr_t>, uint64_t> out;
  for (size_t i = 0; i < t.slot_count(); ++i) {
    const uintptr_t* pcs;
    int depth;
    int32_t tid;
    if (!t.Entry(i, &pcs, &depth, &tid)) continue;
    std::vector<uintptr_t> key(pcs, pcs + depth);
    key.push_back(static_cast<uintptr_t>(tid));
    out[key] += t.weight(i);
  }
  return out;
}

TEST_CASE("StackTable stores each distinct stack once and sums its weights") {
  StackTable* t = StackTable::Create(128, 1024);
  REQUIRE(t != nullptr);
  uintptr_t a[] = {1, 2, 3};
  uintptr_t b[] = {1, 2, 4};
  CHECK(t->Add(a, 3, 7, 1));
  CHECK(t->Add(a, 3, 7, 2));
  CHECK(t->Add(b, 3, 7, 5));
  CHECK(t->Add(a, 3, 8, 1));  // same stack, other thread: its own entry
  auto all = ReadAll(*t);
  CHECK(all.size() == 3);
  CHECK(all[{1, 2, 3, 7}] == 3);
  CHECK(all[{1, 2, 4, 7}] == 5);
  CHECK(all[{1, 2, 3, 8}] == 1);
  CHECK(t->dropped() == 0);
  StackTable::Destroy(t);
}

TEST_CASE("StackTable keeps stacks apart when leaf PC and thread id differ by the same bits") {
  StackTable* t = StackTable::Create(4096, 4096 * 4);
  REQUIRE(t != nullptr);
  // Consecutive tids spinning in the same loop: (tid, pc) and (tid ^ d, pc ^ d).
  for (uintptr_t d = 1; d < 64; ++d) {
    uintptr_t a[] = {0x401210, 0x401500, 0x401800};
    uintptr_t b[] = {0x401210 ^ d, 0x401500, 0x401800};
    REQUIRE(t->Add(a, 3, static_cast<int32_t>(14202), 1));
    REQUIRE(t->Add(b, 3, static_cast<int32_t>(14202 ^ d), 1));
  }
  auto all = ReadAll(*t);
  CHECK(all.size() == 64);
  CHECK(all[{0x401210, 0x401500, 0x401800, 14202}] == 63);
  for (uintptr_t d = 1; d < 64; ++d) {
    CHECK(all[{0x401210 ^ d, 0x401500, 0x401800, static_cast<uintptr_t>(14202 ^ d)}] == 1);
  }
  StackTable::Destroy(t);
}

TEST_CASE("StackTable counts what it cannot store as dropped") {
  StackTable* t = StackTable::Create(64, 64 * 4);
  REQUIRE(t != nullptr);
  uint64_t stored = 0;
  for (uintptr_t i = 0; i < 500; ++i) {
    uintptr_t pcs[] = {i + 1, i + 2};
    if (t->Add(pcs, 2, 1, 3)) stored += 3;
  }
  uint64_t total = 0;
  for (const auto& e : ReadAll(*t)) total += e.second;
  CHECK(total == stored);
  CHECK(t->dropped() == 500 * 3 - stored);
  CHECK(t->dropped() > 0);
  StackTable::Destroy(t);
}

TEST_CASE("StackTable loses no weight under concurrent writers") {
  StackTable* t = StackTable::Create(4096, 4096 * 8);
  REQUIRE(t != nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) {
        uintptr_t pcs[] = {0x1000u + static_cast<uintptr_t>(i % 300), 0x2000, 0x3000};
        t->Add(pcs, 3, 42, 1);
      }
    });
  }
  for (auto& th : threads) th.join();
  uint64_t total = 0;
  auto all = ReadAll(*t);
  for (const auto& e : all) total += e.second;
  CHECK(all.size() == 300);
  CHECK(total + t->dropped() == static_cast<uint64_t>(kThreads) * kPerThread);
  CHECK(t->dropped() == 0);
  std::vector<uint64_t> snap;
  t->SnapshotWeights(&snap);
  uint64_t snap_total = 0;
  for (uint64_t w : snap) snap_total += w;
  CHECK(snap_total == total);
  StackTable::Destroy(t);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
