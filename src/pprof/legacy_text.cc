// SPDX-License-Identifier: Apache-2.0

#include "pprof/legacy_text.h"

#include <cinttypes>
#include <cstdio>

namespace cpprof {
namespace internal {
namespace {

std::string Hex(uintptr_t v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%#" PRIxPTR, v);
  return buf;
}

}  // namespace

LegacyStackPrinter::LegacyStackPrinter() : modules_(ListModules()) {}

std::string LegacyStackPrinter::AddressList(const std::vector<uintptr_t>& pcs) {
  std::string out = " @";
  for (uintptr_t pc : pcs) out += " " + Hex(pc);
  return out;
}

const SymbolizedAddress& LegacyStackPrinter::Resolve(uintptr_t lookup) {
  auto it = symbols_.find(lookup);
  if (it != symbols_.end()) return it->second;
  SymbolizedAddress sym;
  if (const Module* m = ModuleOf(lookup)) sym = Symbolizer::Global().Symbolize(*m, lookup);
  return symbols_.emplace(lookup, std::move(sym)).first->second;
}

const Module* LegacyStackPrinter::ModuleOf(uintptr_t pc) const {
  int m = FindModule(modules_, pc);
  return m >= 0 ? &modules_[static_cast<size_t>(m)] : nullptr;
}

const std::string& LegacyStackPrinter::Lines(uintptr_t lookup) {
  auto it = cache_.find(lookup);
  if (it != cache_.end()) return it->second;
  std::string out;
  const SymbolizedAddress& sym = Resolve(lookup);
  if (sym.frames.empty()) {
    out = "#\t" + Hex(lookup) + "\t??\n";
  } else {
    for (const SymbolFrame& f : sym.frames) {
      out += "#\t" + Hex(lookup) + "\t" + (f.function.empty() ? "??" : f.function);
      if (!f.file.empty()) out += "\t" + f.file + ":" + std::to_string(f.line);
      out += "\n";
    }
  }
  return cache_.emplace(lookup, std::move(out)).first->second;
}

std::string LegacyStackPrinter::FrameLines(const std::vector<uintptr_t>& pcs, bool leaf_is_exact_pc) {
  std::string out;
  for (size_t i = 0; i < pcs.size(); ++i) {
    const bool exact = i == 0 && leaf_is_exact_pc;
    out += Lines(exact ? pcs[i] : pcs[i] - 1);
  }
  return out;
}

}  // namespace internal
}  // namespace cpprof
