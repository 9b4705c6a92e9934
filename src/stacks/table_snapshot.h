// SPDX-License-Identifier: Apache-2.0
//
// Snapshots of a StackTable's values and the baseline the delta routes keep,
// shared by every kind whose profile is a state that can be differenced
// (heap, contention, descriptors):
//   - `?seconds=N` (Go's serveDeltaProfile): snapshot, wait N s, snapshot,
//     emit the per-slot difference;
//   - `/debug/pprof/delta_<kind>` (what Grafana Alloy's godeltaprof blocks
//     scrape): each call returns the change since the previous call of that
//     route; DeltaBaseline keeps the previous snapshot.
// Slots are stable for a table's life, so differences are taken slot by
// slot. Not signal-safe; DeltaBaseline is thread-safe.

#ifndef CPPROF_SRC_STACKS_TABLE_SNAPSHOT_H_
#define CPPROF_SRC_STACKS_TABLE_SNAPSHOT_H_

#include <cstdint>
#include <mutex>
#include <vector>

namespace cpprof {
namespace internal {

class StackTable;

struct TableSnapshot {
  const StackTable* table = nullptr;
  std::vector<int64_t> values;  // slot-major, table->num_values() per slot; empty = nothing yet
  std::vector<int64_t> extra;   // kind-specific totals kept beside the table (drops, ...)
  int64_t unix_ns = 0;          // CLOCK_REALTIME when taken
  int64_t mono_ns = 0;          // CLOCK_MONOTONIC when taken

  // Value v of slot i, 0 when the snapshot has none.
  int64_t value(size_t i, int v, int num_values) const {
    size_t k = i * static_cast<size_t>(num_values) + static_cast<size_t>(v);
    return k < values.size() ? values[k] : 0;
  }
  int64_t extra_at(size_t i) const { return i < extra.size() ? extra[i] : 0; }
};

// Copies every value of `table` (which may be null: then values is empty)
// and stamps the time.
TableSnapshot TakeTableSnapshot(const StackTable* table);

class DeltaBaseline {
 public:
  // Returns the snapshot the previous call stored (empty on the first call,
  // or when the table changed) and stores `now`.
  TableSnapshot Exchange(TableSnapshot now);

 private:
  std::mutex mu_;
  TableSnapshot last_;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_STACKS_TABLE_SNAPSHOT_H_
