// SPDX-License-Identifier: Apache-2.0
//
// StackTable: a preallocated, lock-free table of (stack, tag) -> values,
// shared by every profile kind. Each slot holds `num_values` signed 64-bit
// counters (CPU: one sample weight; heap: alloc/in-use objects and bytes;
// contention: count and delay; descriptors: open count). Writers add deltas,
// which may be negative, so a kind can take back what it recorded (a freed
// sampled object, a closed descriptor); a slot, once claimed, keeps its
// stack for the table's life, so its index is a stable id a kind may keep
// (in a sampled object's metadata, say) and add to later with AddToSlot().
// The tag is part of the key: CPU uses the thread id, heap a size class.
//
// Memory is mmap'ed when the table is created (never while adding) and never
// grows; when a stack cannot be stored the deltas are counted as dropped, and
// profiles show the count as a synthetic frame.
//
// Signal context: Add(), AddValues() and AddToSlot() (async-signal-safe:
// atomics, no allocation, no locks). Everything else runs outside signal
// context.

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
  static constexpr int kMaxValues = 8;

  // Capacity: `slots` distinct (stack, tag) keys (rounded up to a power of
  // two) and `arena_pcs` PCs of stack storage in total, `num_values`
  // counters per slot (1..kMaxValues). `prefault` maps the memory populated,
  // so a signal handler never takes a page fault on first touch; without it
  // pages are touched as slots fill (tables written outside handlers).
  // Returns nullptr if the memory cannot be mapped. Not signal-safe.
  static StackTable* Create(size_t slots, size_t arena_pcs, int num_values = 1, bool prefault = true);
  // Not signal-safe; the caller guarantees no writer is running or will run.
  static void Destroy(StackTable* table);

  // Signal context. Adds `weight` to value 0 of the entry for
  // (pcs[0..depth), tag), creating it if needed. Returns false (and counts a
  // drop of `weight`) when the table or its arena is full.
  CPPROF_SIGNAL_SAFE bool Add(const uintptr_t* pcs, int depth, int32_t tag, uint64_t weight);

  // Signal context. Adds deltas[0..num_values) to the entry for
  // (pcs[0..depth), tag), creating it if needed. Returns the slot index, or
  // -1 (counting a drop of deltas[0]) when the table or its arena is full.
  CPPROF_SIGNAL_SAFE long AddValues(const uintptr_t* pcs, int depth, int32_t tag, const int64_t* deltas);

  // Signal context. Adds deltas[0..num_values) to slot `slot`, an index an
  // earlier AddValues() returned.
  CPPROF_SIGNAL_SAFE void AddToSlot(size_t slot, const int64_t* deltas);

  // Reader side ---------------------------------------------------------
  size_t slot_count() const { return mask_ + 1; }
  int num_values() const { return num_values_; }
  // Value v of slot i so far (0 for empty or unpublished slots).
  int64_t value(size_t i, int v) const;
  // Value 0 of slot i, as an unsigned weight (CPU samples).
  uint64_t weight(size_t i) const { return static_cast<uint64_t>(value(i, 0)); }
  // Stack and tag of a published slot. Returns false for empty slots.
  bool Entry(size_t i, const uintptr_t** pcs, int* depth, int32_t* tag) const;
  // Sum of deltas[0] of everything that could not be stored.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Copies every slot's value 0 into *out (resized to slot_count()).
  void SnapshotWeights(std::vector<uint64_t>* out) const;
  // Copies every value of every slot into *out, slot-major: (*out)[i *
  // num_values() + v] (resized to slot_count() * num_values()).
  void SnapshotValues(std::vector<int64_t>* out) const;
  // Slots in use (for occupancy reporting).
  size_t used_slots() const { return used_.load(std::memory_order_relaxed); }
  size_t memory_bytes() const { return mapped_bytes_; }

 private:
  struct Slot {
    std::atomic<uint64_t> key;     // hash of (stack, tag) | 1; 0 = empty
    std::atomic<uint32_t> offset;  // arena offset; kUnpublished until the stack is copied
    uint16_t depth;
    int32_t tag;
  };
  static constexpr uint32_t kUnpublished = 0xffffffffu;
  static constexpr uint32_t kNoStack = 0xfffffffeu;  // claimed, but the arena was full

  StackTable() = default;
  CPPROF_SIGNAL_SAFE long FindOrClaim(const uintptr_t* pcs, int depth, int32_t tag);

  Slot* slots_ = nullptr;
  std::atomic<int64_t>* values_ = nullptr;  // slot_count() * num_values_
  uintptr_t* arena_ = nullptr;
  size_t mask_ = 0;
  int num_values_ = 1;
  size_t arena_capacity_ = 0;
  size_t mapped_bytes_ = 0;
  std::atomic<size_t> arena_used_{0};
  std::atomic<size_t> used_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_STACKS_STACK_TABLE_H_
