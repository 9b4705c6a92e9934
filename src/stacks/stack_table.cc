// SPDX-License-Identifier: Apache-2.0
//
// Signal context: StackTable::Add() runs inside profiling signal handlers on
// any thread. It may use only atomics and plain loads/stores into memory
// mapped by Create(); it never allocates, locks, or calls into libc. The
// rest of StackTable (creation, reading) is in stack_table_reader.cc.
//
// Open addressing with linear probing over a power-of-two slot array. A
// writer claims an empty slot with a CAS on its key (hash | 1), bump-allocates
// the stack's PCs from the arena, copies them with a plain loop (memcpy's
// implementation is not ours to vouch for), then publishes the arena offset
// with release; readers acquire the offset before reading the PCs. A writer
// that finds its key already claimed but unpublished still adds its weight:
// the slot's stack is the same by construction (equal 64-bit hash). Weights
// only grow while a table lives, so a reader can take per-request deltas of
// SnapshotWeights() without stopping writers.

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

CPPROF_SIGNAL_SAFE uint64_t HashStack(const uintptr_t* pcs, int depth, int32_t tid) {
  // The tid is mixed on its own first: XORed into the same word as the
  // leaf PC, (tid, pc) and (tid ^ d, pc ^ d) would collide.
  uint64_t h = Mix(0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(static_cast<uint32_t>(tid)));
  for (int i = 0; i < depth; ++i) h = Mix(h ^ pcs[i]) + static_cast<uint64_t>(i);
  return Mix(h ^ static_cast<uint64_t>(depth)) | 1;
}

}  // namespace

CPPROF_SIGNAL_SAFE bool StackTable::Add(const uintptr_t* pcs, int depth, int32_t tid,
                                        uint64_t weight) {
  if (depth < 0) depth = 0;
  if (depth > 0xffff) depth = 0xffff;
  const uint64_t key = HashStack(pcs, depth, tid);
  size_t i = static_cast<size_t>(key) & mask_;
  for (int probe = 0; probe < kMaxProbes; ++probe, i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    uint64_t k = s.key.load(std::memory_order_acquire);
    if (k == 0) {
      uint64_t expected = 0;
      if (s.key.compare_exchange_strong(expected, key, std::memory_order_acq_rel)) {
        used_.fetch_add(1, std::memory_order_relaxed);
        s.depth = static_cast<uint16_t>(depth);
        s.tid = tid;
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
      if (s.offset.load(std::memory_order_acquire) == kNoStack) break;  // arena was full
      s.weight.fetch_add(weight, std::memory_order_relaxed);
      return true;
    }
  }
  dropped_.fetch_add(weight, std::memory_order_relaxed);
  return false;
}

}  // namespace internal
}  // namespace cpprof
