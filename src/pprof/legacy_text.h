// SPDX-License-Identifier: Apache-2.0
//
// The text forms of stacks used by the `debug=1` outputs (Go's
// printStackRecord shape, which `go tool pprof` also parses for heap,
// contention and count profiles):
//
//   <values> @ 0x4011a6 0x4012f0 0x7f3c0a029d90
//   #	0x4011a5	Cache::Insert(int)	/src/cache.cc:42
//   #	0x4012ef	main	/src/main.cc:10
//
// The `@` line carries the PCs as recorded (return addresses for callers);
// each `#` line names one frame, inlined frames on lines of their own,
// innermost first, at the lookup address (return address - 1 for callers).
// Not signal-safe; symbolizes with the process symbolizer.

#ifndef CPPROF_SRC_PPROF_LEGACY_TEXT_H_
#define CPPROF_SRC_PPROF_LEGACY_TEXT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "symbolize/symbolizer.h"

namespace cpprof {
namespace internal {

class LegacyStackPrinter {
 public:
  // Snapshots the loaded modules.
  LegacyStackPrinter();
  // " @ 0x... 0x..." (with the leading space), no newline.
  static std::string AddressList(const std::vector<uintptr_t>& pcs);
  // One "#\t0xADDR\tFUNCTION\tFILE:LINE\n" line per frame; an address
  // nothing names prints as "#\t0xADDR\t??". Results are cached per address.
  std::string FrameLines(const std::vector<uintptr_t>& pcs, bool leaf_is_exact_pc);
  // The inline chain at `lookup` (already pc - 1 for callers), cached.
  const SymbolizedAddress& Resolve(uintptr_t lookup);
  // The loaded module holding `pc`, or null.
  const Module* ModuleOf(uintptr_t pc) const;

 private:
  const std::string& Lines(uintptr_t lookup);
  std::vector<Module> modules_;
  std::map<uintptr_t, std::string> cache_;
  std::map<uintptr_t, SymbolizedAddress> symbols_;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PPROF_LEGACY_TEXT_H_
