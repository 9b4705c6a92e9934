// SPDX-License-Identifier: Apache-2.0
//
// Interned strings for symbol indexes. While an index is built, Intern()
// deduplicates; Finalize() then packs every string into one buffer and drops
// the hash map, so a built index holds each distinct name once, compactly.
// Not thread-safe while building; a finalized table is immutable.

#ifndef CPPROF_SRC_SYMBOLIZE_STRING_TABLE_H_
#define CPPROF_SRC_SYMBOLIZE_STRING_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cpprof {
namespace internal {

class StringTable {
 public:
  // Id 0 is always the empty string.
  static constexpr uint32_t kEmpty = 0;

  StringTable() { Intern(std::string_view()); }

  uint32_t Intern(std::string_view s) {
    auto it = ids_.find(s);
    if (it != ids_.end()) return it->second;
    const uint32_t id = static_cast<uint32_t>(pending_.size());
    pending_.emplace_back(s);
    ids_.emplace(std::string_view(pending_.back()), id);
    return id;
  }

  // Packs the strings; Intern() must not be called afterwards.
  void Finalize() {
    size_t total = 0;
    for (const std::string& s : pending_) total += s.size() + 1;
    blob_.reserve(total);
    offsets_.reserve(pending_.size() + 1);
    for (const std::string& s : pending_) {
      offsets_.push_back(static_cast<uint32_t>(blob_.size()));
      blob_.append(s);
      blob_.push_back('\0');
    }
    offsets_.push_back(static_cast<uint32_t>(blob_.size()));
    std::unordered_map<std::string_view, uint32_t>().swap(ids_);
    std::deque<std::string>().swap(pending_);
  }

  // Valid after Finalize().
  std::string_view Get(uint32_t id) const {
    if (id + 1 >= offsets_.size()) return std::string_view();
    return std::string_view(blob_.data() + offsets_[id], offsets_[id + 1] - offsets_[id] - 1);
  }

  size_t MemoryBytes() const {
    size_t n = blob_.capacity() + offsets_.capacity() * sizeof(uint32_t);
    for (const std::string& s : pending_) n += sizeof(std::string) + s.capacity();
    n += ids_.size() * (sizeof(std::string_view) + sizeof(uint32_t) + 2 * sizeof(void*));
    return n;
  }

 private:
  std::deque<std::string> pending_;  // deque: elements never move, so views stay valid
  std::unordered_map<std::string_view, uint32_t> ids_;
  std::string blob_;
  std::vector<uint32_t> offsets_;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_SYMBOLIZE_STRING_TABLE_H_
