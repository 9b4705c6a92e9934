// SPDX-License-Identifier: Apache-2.0
//
// Signal context: StackTable::Add(), AddValues() and AddToSlot() run inside
// profiling signal handlers (and allocation hooks) on any thread. They use only atomics and plain loads/stores into memory
// mapped by Create(); it never allocates, locks, or calls into libc. The
// rest of StackTable (creation, reading) is in stack_table_reader.cc.
//
// Open addressing with linear probing over a power-of-two slot array. A
// writer claims an empty slot with a CAS on its key (hash | 1), bump-allocates
// the stack's PCs from the arena, copies them with a plain loop (memcpy's
// implementation is not ours to vouch for), then publishes the arena offset
// with release; readers acquire the offset before reading the PCs. A writer
// that finds its key already claimed but unpublished still adds its weight:
// the slot's stack is the same by construction (equal 64-bit hash). Values
// live in a separate array (slot-major); CPU weights only grow while a table
// lives, so a reader can take per-request deltas of SnapshotWeights()
// without stopping writers, and kinds whose values also shrink (heap, fds)
// take deltas of SnapshotValues() the same way.

#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
namespace {

constexpr int kMaxProbes = 64;

CPPROF_SIGNAL_SAFE inline uint64_t Mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

CPPROF_SIGNAL_SAFE uint64_t HashStack(const uintptr_t* pcs, int depth, int32_t tag) {
  // The tag (thread id, size class) is mixed on its own first: XORed into the same word as the
  // leaf PC, (tag, pc) and (tag ^ d, pc ^ d) would collide.
  uint64_t h = Mix(0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(static_cast<uint32_t>(tag)));
  for (int i = 0; i < depth; ++i) h = Mix(h ^ pcs[i]) + static_cast<uint64_t>(i);
  return Mix(h ^ static_cast<uint64_t>(depth)) | 1;
}

}  // namespace

CPPROF_SIGNAL_SAFE long StackTable::FindOrClaim(const uintptr_t* pcs, int depth, int32_t tag) {
  if (depth < 0) depth = 0;
  if (depth > 0xffff) depth = 0xffff;
  const uint64_t key = HashStack(pcs, depth, tag);
  size_t i = static_cast<size_t>(key) & mask_;
  for (int probe = 0; probe < kMaxProbes; ++probe, i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    uint64_t k = s.key.load(std::memory_order_acquire);
    if (k == 0) {
      uint64_t expected = 0;
      if (s.key.compare_exchange_strong(expected, key, std::memory_order_acq_rel)) {
        used_.fetch_add(1, std::memory_order_relaxed);
        s.depth = static_cast<uint16_t>(depth);
        s.tag = tag;
        size_t off = arena_used_.fetch_add(static_cast<size_t>(depth), std::memory_order_relaxed);
        if (off + static_cast<size_t>(depth) <= arena_capacity_) {
          for (int j = 0; j < depth; ++j) arena_[off + j] = pcs[j];
          s.offset.store(static_cast<uint32_t>(off), std::memory_order_release);
        } else {
          s.offset.store(kNoStack, std::memory_order_release);
        }
        k = key;
      } else {
        k = expected;
      }
    }
    if (k == key) {
      if (s.offset.load(std::memory_order_acquire) == kNoStack) return -1;  // arena was full
      return static_cast<long>(i);
    }
  }
  return -1;
}

CPPROF_SIGNAL_SAFE bool StackTable::Add(const uintptr_t* pcs, int depth, int32_t tag, uint64_t weight) {
  long slot = FindOrClaim(pcs, depth, tag);
  if (slot < 0) {
    dropped_.fetch_add(weight, std::memory_order_relaxed);
    return false;
  }
  values_[static_cast<size_t>(slot) * static_cast<size_t>(num_values_)].fetch_add(
      static_cast<int64_t>(weight), std::memory_order_relaxed);
  return true;
}

CPPROF_SIGNAL_SAFE long StackTable::AddValues(const uintptr_t* pcs, int depth, int32_t tag,
                                              const int64_t* deltas) {
  long slot = FindOrClaim(pcs, depth, tag);
  if (slot < 0) {
    dropped_.fetch_add(static_cast<uint64_t>(deltas[0]), std::memory_order_relaxed);
    return -1;
  }
  AddToSlot(static_cast<size_t>(slot), deltas);
  return slot;
}

CPPROF_SIGNAL_SAFE void StackTable::AddToSlot(size_t slot, const int64_t* deltas) {
  std::atomic<int64_t>* v = values_ + slot * static_cast<size_t>(num_values_);
  for (int j = 0; j < num_values_; ++j) {
    if (deltas[j] != 0) v[j].fetch_add(deltas[j], std::memory_order_relaxed);
  }
}

}  // namespace internal
}  // namespace cpprof
