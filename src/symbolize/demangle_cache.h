// SPDX-License-Identifier: Apache-2.0
//
// Demangled names computed on first use and kept, one slot per name of an
// immutable index. __cxa_demangle costs microseconds per long template name
// and a profile asks for the same functions over and over, while demangling
// every name when an index is built would charge that cost for names nobody
// asks for. Slots are filled with a compare-and-swap, so concurrent readers
// never wait on each other; a thread that loses the race frees its copy.

#ifndef CPPROF_SRC_SYMBOLIZE_DEMANGLE_CACHE_H_
#define CPPROF_SRC_SYMBOLIZE_DEMANGLE_CACHE_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "symbolize/symbolizer.h"

namespace cpprof {
namespace internal {

class DemangleCache {
 public:
  DemangleCache() = default;
  DemangleCache(const DemangleCache&) = delete;
  DemangleCache& operator=(const DemangleCache&) = delete;
  ~DemangleCache() { Reset(0); }

  // Sets the number of slots and empties them. Not thread-safe.
  void Reset(size_t size) {
    for (size_t i = 0; i < size_; ++i) delete slots_[i].load(std::memory_order_relaxed);
    slots_.reset(size > 0 ? new std::atomic<const std::string*>[size]() : nullptr);
    size_ = size;
    bytes_.store(0, std::memory_order_relaxed);
  }

  // Returns Demangle(mangled), computed once for slot i. Thread-safe.
  const std::string& Get(size_t i, std::string_view mangled) const {
    const std::string* cached = slots_[i].load(std::memory_order_acquire);
    if (cached != nullptr) return *cached;
    auto* fresh = new std::string(Demangle(std::string(mangled)));
    const std::string* expected = nullptr;
    if (slots_[i].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
      bytes_.fetch_add(sizeof(std::string) + fresh->capacity(), std::memory_order_relaxed);
      return *fresh;
    }
    delete fresh;
    return *expected;
  }

  size_t MemoryBytes() const {
    return size_ * sizeof(std::atomic<const std::string*>) + bytes_.load(std::memory_order_relaxed);
  }

 private:
  std::unique_ptr<std::atomic<const std::string*>[]> slots_;
  size_t size_ = 0;
  mutable std::atomic<size_t> bytes_{0};
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_SYMBOLIZE_DEMANGLE_CACHE_H_
