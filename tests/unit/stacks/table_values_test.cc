// SPDX-License-Identifier: Apache-2.0
//
// StackTable with several signed values per slot (heap, contention, fds),
// and the snapshots and delta baseline built on it.

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "stacks/stack_table.h"
#include "stacks/table_snapshot.h"

namespace cpprof {
namespace internal {
namespace {

TEST_CASE("AddValues returns a stable slot that AddToSlot can add to and take back from") {
  StackTable* t = StackTable::Create(256, 4096, 4, /*prefault=*/false);
  REQUIRE(t != nullptr);
  CHECK(t->num_values() == 4);
  uintptr_t a[] = {10, 20, 30};
  uintptr_t b[] = {10, 20, 31};
  const int64_t add[4] = {1, 100, 1, 100};
  long sa = t->AddValues(a, 3, 64, add);
  long sb = t->AddValues(b, 3, 64, add);
  long sa2 = t->AddValues(a, 3, 64, add);
  long sa_other_tag = t->AddValues(a, 3, 128, add);
  REQUIRE(sa >= 0);
  CHECK(sa2 == sa);
  CHECK(sb != sa);
  CHECK(sa_other_tag != sa);
  CHECK(t->value(static_cast<size_t>(sa), 1) == 200);
  const int64_t take_back[4] = {0, 0, -1, -100};
  t->AddToSlot(static_cast<size_t>(sa), take_back);
  t->AddToSlot(static_cast<size_t>(sa), take_back);
  CHECK(t->value(static_cast<size_t>(sa), 0) == 2);
  CHECK(t->value(static_cast<size_t>(sa), 1) == 200);
  CHECK(t->value(static_cast<size_t>(sa), 2) == 0);
  CHECK(t->value(static_cast<size_t>(sa), 3) == 0);
  const uintptr_t* pcs;
  int depth;
  int32_t tag;
  REQUIRE(t->Entry(static_cast<size_t>(sa), &pcs, &depth, &tag));
  CHECK(depth == 3);
  CHECK(pcs[2] == 30);
  CHECK(tag == 64);

  std::vector<int64_t> all;
  t->SnapshotValues(&all);
  REQUIRE(all.size() == t->slot_count() * 4);
  CHECK(all[static_cast<size_t>(sb) * 4 + 3] == 100);
  StackTable::Destroy(t);
}

TEST_CASE("A full table drops, counting the first value, and returns -1") {
  StackTable* t = StackTable::Create(64, 64, 2, false);
  REQUIRE(t != nullptr);
  const int64_t add[2] = {5, 1};
  int stored = 0;
  for (uintptr_t i = 1; i <= 200; ++i) {
    uintptr_t pc[] = {i, i + 1000};
    if (t->AddValues(pc, 2, 0, add) >= 0) ++stored;
  }
  CHECK(stored < 200);
  CHECK(t->dropped() == static_cast<uint64_t>((200 - stored) * 5));
  StackTable::Destroy(t);
}

TEST_CASE("Concurrent adds and take-backs balance exactly") {
  StackTable* t = StackTable::Create(1024, 1 << 14, 2, false);
  REQUIRE(t != nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 20000; ++i) {
        uintptr_t pc[] = {static_cast<uintptr_t>(i % 50 + 1), 7};
        const int64_t add[2] = {1, 3};
        const int64_t sub[2] = {-1, -3};
        long s = t->AddValues(pc, 2, 0, add);
        if (s < 0) {
          failures.fetch_add(1);
          continue;
        }
        t->AddToSlot(static_cast<size_t>(s), sub);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  std::vector<int64_t> all;
  t->SnapshotValues(&all);
  for (int64_t v : all) CHECK(v == 0);
  CHECK(t->used_slots() == 50);
  StackTable::Destroy(t);
}

TEST_CASE("DeltaBaseline returns the previous snapshot and forgets one of another table") {
  StackTable* t = StackTable::Create(64, 256, 1, false);
  REQUIRE(t != nullptr);
  uintptr_t pc[] = {1, 2};
  t->Add(pc, 2, 0, 3);
  DeltaBaseline baseline;
  TableSnapshot first = baseline.Exchange(TakeTableSnapshot(t));
  CHECK(first.values.empty());
  t->Add(pc, 2, 0, 4);
  TableSnapshot now = TakeTableSnapshot(t);
  TableSnapshot before = baseline.Exchange(now);
  REQUIRE(!before.values.empty());
  size_t slot = 0;
  for (size_t i = 0; i < t->slot_count(); ++i) {
    if (t->value(i, 0) != 0) slot = i;
  }
  CHECK(now.value(slot, 0, 1) - before.value(slot, 0, 1) == 4);
  CHECK(now.mono_ns >= before.mono_ns);
  TableSnapshot other = baseline.Exchange(TakeTableSnapshot(nullptr));
  CHECK(other.values.empty());
  StackTable::Destroy(t);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
