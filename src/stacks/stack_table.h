// SPDX-License-Identifier: Apache-2.0
//
// StackTable: a preallocated, lock-free table of (stack, thread) -> weight,
// written from signal context by any number of threads and read by one
// reader at a time. Memory is mmap'ed when the table is created (never in a
// handler) and never grows; when a stack cannot be stored the sample is
// counted as dropped, and profiles show the count as a synthetic frame.
//
// Signal context: Add() only (async-signal-safe: atomics, no allocation).
// Everything else runs outside signal context.

#ifndef CPPROF_SRC_STACKS_STACK_TABLE_H_
#define CPPROF_SRC_STACKS_STACK_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/config.h"

namespace cpprof {
namespace internal {

class StackTable {
 public:
  // Capacity: `slots` distinct (stack, thread) keys (rounded up to a power of
  // two) and `arena_pcs` PCs of stack storage in total. Returns nullptr if the
  // memory cannot be mapped. Not signal-safe.
  static StackTable* Create(size_t slots, size_t arena_pcs);
  // Not signal-safe; the caller guarantees no Add() is running or will run.
  static void Destroy(StackTable* table);

  // Signal context. Adds `weight` to the entry for (pcs[0..depth), tid),
  // creating it if needed. Returns false (and counts a drop of `weight`)
  // when the table or its arena is full.
  CPPROF_SIGNAL_SAFE bool Add(const uintptr_t* pcs, int depth, int32_t tid, uint64_t weight);

  // Reader side ---------------------------------------------------------
  size_t slot_count() const { return mask_ + 1; }
  // Weight accumulated in slot i so far (0 for empty or unpublished slots).
  uint64_t weight(size_t i) const;
  // Stack and thread of a published slot. Returns false for empty slots.
  bool Entry(size_t i, const uintptr_t** pcs, int* depth, int32_t* tid) const;
  // Total weight of samples that could not be stored.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Copies every slot's weight into *out (resized to slot_count()).
  void SnapshotWeights(std::vector<uint64_t>* out) const;
  // Slots in use (for occupancy reporting).
  size_t used_slots() const { return used_.load(std::memory_order_relaxed); }
  size_t memory_bytes() const { return mapped_bytes_; }

 private:
  struct Slot {
    std::atomic<uint64_t> key;     // hash of (stack, tid) | 1; 0 = empty
    std::atomic<uint32_t> offset;  // arena offset; kUnpublished until the stack is copied
    uint16_t depth;
    int32_t tid;
    std::atomic<uint64_t> weight;
  };
  static constexpr uint32_t kUnpublished = 0xffffffffu;
  static constexpr uint32_t kNoStack = 0xfffffffeu;  // claimed, but the arena was full

  StackTable() = default;

  Slot* slots_ = nullptr;
  uintptr_t* arena_ = nullptr;
  size_t mask_ = 0;
  size_t arena_capacity_ = 0;
  size_t mapped_bytes_ = 0;
  std::atomic<size_t> arena_used_{0};
  std::atomic<size_t> used_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_STACKS_STACK_TABLE_H_
