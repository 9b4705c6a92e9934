// SPDX-License-Identifier: Apache-2.0

#include "stacks/table_snapshot.h"

#include <time.h>

#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
namespace {

int64_t Now(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

TableSnapshot TakeTableSnapshot(const StackTable* table) {
  TableSnapshot s;
  s.table = table;
  if (table != nullptr) table->SnapshotValues(&s.values);
  s.unix_ns = Now(CLOCK_REALTIME);
  s.mono_ns = Now(CLOCK_MONOTONIC);
  return s;
}

TableSnapshot DeltaBaseline::Exchange(TableSnapshot now) {
  std::lock_guard<std::mutex> lock(mu_);
  TableSnapshot previous = std::move(last_);
  if (previous.table != now.table) {
    previous.values.clear();
    previous.table = now.table;
  }
  last_ = std::move(now);
  return previous;
}

}  // namespace internal
}  // namespace cpprof
