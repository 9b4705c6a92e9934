// SPDX-License-Identifier: Apache-2.0

#include "base/clock.h"
#include "stacks/table_snapshot.h"

#include <time.h>

#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
TableSnapshot TakeTableSnapshot(const StackTable* table) {
  TableSnapshot s;
  s.table = table;
  if (table != nullptr) table->SnapshotValues(&s.values);
  s.unix_ns = RealtimeNanos();
  s.mono_ns = MonotonicNanos();
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
