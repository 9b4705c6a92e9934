// SPDX-License-Identifier: Apache-2.0
//
// StackTable outside signal context: creation (mmap, pre-faulted so the
// handler never takes a page fault on first touch), destruction and the
// reader side. See stack_table.cc for the writer.

#include <sys/mman.h>

#include "stacks/stack_table.h"

namespace cpprof {
namespace internal {
namespace {

size_t RoundUpPowerOfTwo(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

StackTable* StackTable::Create(size_t slots, size_t arena_pcs, int num_values, bool prefault) {
  if (num_values < 1 || num_values > kMaxValues) return nullptr;
  slots = RoundUpPowerOfTwo(slots < 64 ? 64 : slots);
  if (arena_pcs > kNoStack - 1) arena_pcs = kNoStack - 1;
  size_t slot_bytes = slots * sizeof(Slot);
  size_t value_bytes = slots * static_cast<size_t>(num_values) * sizeof(std::atomic<int64_t>);
  size_t arena_bytes = arena_pcs * sizeof(uintptr_t);
  size_t total = slot_bytes + value_bytes + arena_bytes;
  // MAP_POPULATE: no page faults inside handlers on first touch.
  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | (prefault ? MAP_POPULATE : 0), -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  StackTable* t = new StackTable();
  t->slots_ = static_cast<Slot*>(mem);  // zero-filled: key 0 = empty, values 0
  for (size_t i = 0; i < slots; ++i) t->slots_[i].offset.store(kUnpublished, std::memory_order_relaxed);
  t->values_ = reinterpret_cast<std::atomic<int64_t>*>(static_cast<char*>(mem) + slot_bytes);
  t->arena_ = reinterpret_cast<uintptr_t*>(static_cast<char*>(mem) + slot_bytes + value_bytes);
  t->mask_ = slots - 1;
  t->num_values_ = num_values;
  t->arena_capacity_ = arena_pcs;
  t->mapped_bytes_ = total;
  return t;
}

void StackTable::Destroy(StackTable* table) {
  if (table == nullptr) return;
  munmap(table->slots_, table->mapped_bytes_);
  delete table;
}

int64_t StackTable::value(size_t i, int v) const {
  const Slot& s = slots_[i];
  uint32_t off = s.offset.load(std::memory_order_acquire);
  if (off == kUnpublished || off == kNoStack) return 0;
  return values_[i * static_cast<size_t>(num_values_) + static_cast<size_t>(v)].load(std::memory_order_relaxed);
}

bool StackTable::Entry(size_t i, const uintptr_t** pcs, int* depth, int32_t* tag) const {
  const Slot& s = slots_[i];
  uint32_t off = s.offset.load(std::memory_order_acquire);
  if (off == kUnpublished || off == kNoStack) return false;
  *pcs = arena_ + off;
  *depth = s.depth;
  *tag = s.tag;
  return true;
}

void StackTable::SnapshotWeights(std::vector<uint64_t>* out) const {
  out->resize(slot_count());
  for (size_t i = 0; i < slot_count(); ++i) (*out)[i] = weight(i);
}

void StackTable::SnapshotValues(std::vector<int64_t>* out) const {
  const size_t n = static_cast<size_t>(num_values_);
  out->assign(slot_count() * n, 0);
  for (size_t i = 0; i < slot_count(); ++i) {
    const uint32_t off = slots_[i].offset.load(std::memory_order_acquire);
    if (off == kUnpublished || off == kNoStack) continue;
    for (size_t v = 0; v < n; ++v) (*out)[i * n + v] = values_[i * n + v].load(std::memory_order_relaxed);
  }
}

}  // namespace internal
}  // namespace cpprof
