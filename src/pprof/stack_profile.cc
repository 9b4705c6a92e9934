// SPDX-License-Identifier: Apache-2.0
//
// EncodeStackProfile: StackProfile -> symbolized, gzipped profile.proto.
//
// One pass over the samples turns every PC into a lookup address (the leaf
// as is when it is an exact PC, callers at pc - 1, which lands inside the
// call instruction so the line and inline chain are the call's) and
// resolves each distinct lookup address once: module by binary search over
// the modules sorted by start, then the symbol source, then a Location
// interned in the builder. Samples then become lists of location ids.
//
// Mapping flags are computed per module while resolving: a flag stays true
// only while every location of the module has the information, so pprof's
// local symbolization skips only mappings that are really complete. The main
// executable is always mapping 1 (pprof substitutes the binary given on its
// command line for mapping 1), even with no PC in it; other modules appear
// only when a PC falls in them, to keep profiles of processes with hundreds
// of libraries small.
//
// Function.name and Function.system_name are both the demangled name:
// pprof's demangler leaves a function whose name differs from system_name
// untouched, while one whose two names are equal and look like demangled C++
// gets the same simplification it applies to mangled names. So the default
// view is short and -symbolize=none shows the whole name. Writing the mangled
// name into system_name instead would make pprof keep `name` as is (already
// demangled), i.e. full names by default: C++ profiles would then look unlike
// those pprof makes itself from binaries.

#include "pprof/stack_profile.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "pprof/gzip.h"
#include "pprof/profile_builder.h"

namespace cpprof {
namespace internal {
namespace {

// The process's own modules and symbols.
class ProcessSymbolSource : public SymbolSource {
 public:
  std::vector<Module> ListModules() override { return internal::ListModules(); }
  SymbolizedAddress Symbolize(const Module& module, uintptr_t lookup_address) override {
    return Symbolizer::Global().Symbolize(module, lookup_address);
  }
};

// What the locations of one module had; the has_* flags of its mapping.
struct MappingState {
  uint64_t mapping_id = 0;  // 0 until the module is added
  bool all_functions = true;
  bool all_filenames = true;
  bool all_line_numbers = true;
  bool all_inline_frames = true;
};

class Encoder {
 public:
  Encoder(const StackProfile& profile, SymbolSource& symbols, const EncodeOptions& options)
      : profile_(profile), symbols_(symbols), options_(options) {}

  std::string Run() {
    WriteHeader();
    bool has_pcs = false;
    for (const StackSample& s : profile_.samples) has_pcs |= !s.pcs.empty();
    if (has_pcs) LoadModules();

    std::vector<uint64_t> location_ids;
    std::vector<ProfileBuilder::Label> labels;
    size_t rejected = 0;
    for (const StackSample& sample : profile_.samples) {
      location_ids.clear();
      for (size_t i = 0; i < sample.pcs.size(); ++i) {
        const uintptr_t pc = sample.pcs[i];
        const bool exact = i == 0 && profile_.leaf_is_exact_pc;
        location_ids.push_back(LocationFor(exact || pc == 0 ? pc : pc - 1));
      }
      if (!sample.synthetic.empty()) location_ids.push_back(SyntheticLocation(sample.synthetic));
      labels.clear();
      for (const SampleLabel& l : sample.labels) {
        labels.push_back({l.key, l.str, l.num, l.num_unit});
      }
      if (!builder_.AddSample(location_ids, sample.values, labels)) ++rejected;
    }
    if (rejected != 0) {
      builder_.AddComment("cpprof: " + std::to_string(rejected) +
                          " samples dropped: value count differs from sample type count");
    }
    SetMappingFlags();

    std::string gz;
    if (!GzipCompress(builder_.Finalize(), &gz)) return std::string();
    return gz;
  }

 private:
  void WriteHeader() {
    for (const ValueType& vt : profile_.sample_types) builder_.AddSampleType(vt.type, vt.unit);
    if (!profile_.period_type.type.empty() || !profile_.period_type.unit.empty()) {
      builder_.SetPeriodType(profile_.period_type.type, profile_.period_type.unit);
    }
    builder_.SetPeriod(profile_.period);
    builder_.SetTimeNanos(profile_.time_nanos);
    builder_.SetDurationNanos(profile_.duration_nanos);
    builder_.SetDefaultSampleType(profile_.default_sample_type);
    for (const std::string& c : profile_.comments) builder_.AddComment(c);
  }

  void LoadModules() {
    modules_ = symbols_.ListModules();
    states_.resize(modules_.size());
    by_start_.resize(modules_.size());
    for (size_t i = 0; i < modules_.size(); ++i) by_start_[i] = i;
    std::sort(by_start_.begin(), by_start_.end(),
              [this](size_t a, size_t b) { return modules_[a].start < modules_[b].start; });
    if (!modules_.empty()) MappingIdFor(0);  // main executable first
  }

  // Index in modules_ of the module containing address, or -1.
  int FindModuleIndex(uintptr_t address) const {
    auto it = std::upper_bound(
        by_start_.begin(), by_start_.end(), address,
        [this](uintptr_t a, size_t index) { return a < modules_[index].start; });
    if (it == by_start_.begin()) return -1;
    const size_t index = *(it - 1);
    return address < modules_[index].limit ? static_cast<int>(index) : -1;
  }

  uint64_t MappingIdFor(size_t module_index) {
    MappingState& state = states_[module_index];
    if (state.mapping_id == 0) {
      const Module& m = modules_[module_index];
      ProfileBuilder::Mapping mapping;
      // Page-aligned, exactly as the segment appears in /proc/self/maps (and
      // in Go's profiles): pprof's local re-symbolization derives the load
      // base from these three fields and expects page boundaries.
      const uintptr_t kPage = 4096;
      const uintptr_t shift = m.start & (kPage - 1);
      if (m.file_offset >= shift) {
        mapping.memory_start = m.start - shift;
        mapping.file_offset = m.file_offset - shift;
      } else {
        mapping.memory_start = m.start;
        mapping.file_offset = m.file_offset;
      }
      mapping.memory_limit = (m.limit + kPage - 1) & ~(kPage - 1);
      mapping.filename = m.path;
      mapping.build_id = m.build_id;
      state.mapping_id = builder_.AddMapping(mapping);
    }
    return state.mapping_id;
  }

  uint64_t LocationFor(uintptr_t address) {
    auto it = location_by_address_.find(address);
    if (it != location_by_address_.end()) return it->second;
    const uint64_t id = ResolveLocation(address);
    location_by_address_.emplace(address, id);
    return id;
  }

  uint64_t ResolveLocation(uintptr_t address) {
    const int module_index = FindModuleIndex(address);
    if (module_index < 0) return builder_.InternLocation(0, address, {});
    const uint64_t mapping_id = MappingIdFor(module_index);
    MappingState& state = states_[module_index];
    std::vector<ProfileBuilder::Line> lines;
    bool filenames = true, line_numbers = true, inline_frames = false;
    if (options_.symbolize) {
      const SymbolizedAddress sym = symbols_.Symbolize(modules_[module_index], address);
      inline_frames = sym.has_line_info;
      for (const SymbolFrame& f : sym.frames) {
        const std::string& name = f.function.empty() ? f.system_name : f.function;
        if (name.empty()) continue;  // a frame without a name is no use to pprof
        filenames &= !f.file.empty();
        line_numbers &= f.line > 0;
        lines.push_back({builder_.InternFunction(name, name, f.file, f.start_line), f.line, 0});
      }
    }
    if (lines.empty()) {
      state.all_functions = false;
      filenames = line_numbers = inline_frames = false;
    }
    state.all_filenames &= filenames;
    state.all_line_numbers &= line_numbers;
    state.all_inline_frames &= inline_frames;
    return builder_.InternLocation(mapping_id, address, lines);
  }

  uint64_t SyntheticLocation(const std::string& name) {
    const uint64_t function_id = builder_.InternFunction(name, name, "", 0);
    return builder_.InternLocation(0, 0, {{function_id, 0, 0}});
  }

  void SetMappingFlags() {
    for (const MappingState& state : states_) {
      ProfileBuilder::Mapping* m = builder_.mutable_mapping(state.mapping_id);
      if (m == nullptr || !options_.symbolize) continue;
      m->has_functions = state.all_functions;
      m->has_filenames = state.all_filenames;
      m->has_line_numbers = state.all_line_numbers;
      m->has_inline_frames = state.all_inline_frames;
    }
  }

  const StackProfile& profile_;
  SymbolSource& symbols_;
  const EncodeOptions& options_;
  ProfileBuilder builder_;
  std::vector<Module> modules_;
  std::vector<size_t> by_start_;      // indices into modules_, by start address
  std::vector<MappingState> states_;  // parallel to modules_
  std::unordered_map<uintptr_t, uint64_t> location_by_address_;
};

}  // namespace

std::string EncodeStackProfile(const StackProfile& profile, SymbolSource& symbols,
                               const EncodeOptions& options) {
  return Encoder(profile, symbols, options).Run();
}

std::string EncodeStackProfile(const StackProfile& profile, const EncodeOptions& options) {
  ProcessSymbolSource symbols;
  return EncodeStackProfile(profile, symbols, options);
}

size_t PrepareSymbolsFor(const std::vector<uintptr_t>& pcs) {
  if (pcs.empty()) return 0;
  size_t prepared = 0;
  for (const Module& module : internal::ListModules()) {
    auto first = std::lower_bound(pcs.begin(), pcs.end(), module.start);
    if (first == pcs.end() || *first >= module.limit) continue;
    Symbolizer::Global().Prepare(module);
    ++prepared;
  }
  return prepared;
}

}  // namespace internal
}  // namespace cpprof
