// SPDX-License-Identifier: Apache-2.0
//
// StackProfile: the neutral record every profile kind produces (stacks of raw
// PCs with values and labels), and EncodeStackProfile(), which symbolizes it
// in-process and encodes gzipped profile.proto. Profile kinds fill a
// StackProfile and call EncodeStackProfile(); they never touch the builder or
// the symbolizer directly.
//
//   StackProfile p;
//   p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
//   p.period_type = {"cpu", "nanoseconds"};
//   p.period = 10'000'000;
//   p.samples.push_back({pcs, "", {n, n * p.period}, {}});
//   std::string gz = EncodeStackProfile(p);   // serve as application/octet-stream
//
// Not async-signal-safe. Thread-safe: concurrent calls share only the
// symbolizer, which is thread-safe.

#ifndef CPPROF_SRC_PPROF_STACK_PROFILE_H_
#define CPPROF_SRC_PPROF_STACK_PROFILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "symbolize/symbolizer.h"

namespace cpprof {
namespace internal {

struct ValueType {
  std::string type;  // "samples", "cpu", "inuse_space"
  std::string unit;  // "count", "nanoseconds", "bytes"
};

struct SampleLabel {
  std::string key;
  std::string str;       // string label when not empty
  int64_t num = 0;       // numeric label when str is empty
  std::string num_unit;  // optional unit of num
};

struct StackSample {
  // pcs[0] is the leaf: the exact PC when leaf_is_exact_pc, else a return
  // address; pcs[1..] are return addresses. Caller frames are symbolized and
  // recorded at (address - 1).
  std::vector<uintptr_t> pcs;
  // A synthetic frame, shown as the outermost caller of pcs (the only frame
  // when pcs is empty): e.g. a sample that stands for dropped samples has pcs
  // empty and synthetic = "[cpprof: 12 samples dropped: stack table full]".
  // It becomes a Location with no mapping, address 0, and a Function of that
  // name.
  std::string synthetic;
  std::vector<int64_t> values;  // one per sample type
  std::vector<SampleLabel> labels;
};

struct StackProfile {
  std::vector<ValueType> sample_types;
  ValueType period_type;
  int64_t period = 0;
  int64_t time_nanos = 0;      // wall-clock start (Unix ns)
  int64_t duration_nanos = 0;
  std::string default_sample_type;  // "" = unset
  std::vector<std::string> comments;
  bool leaf_is_exact_pc = true;     // CPU: yes; allocation stacks: also yes (call site captured)
  std::vector<StackSample> samples;
};

struct EncodeOptions {
  bool symbolize = true;  // false: mappings and addresses only (pprof symbolizes remotely/locally)
};

// Where EncodeStackProfile() gets modules and symbols. The default overload
// uses the process's loaded modules and Symbolizer::Global(); tests pass a
// fake.
class SymbolSource {
 public:
  virtual ~SymbolSource() = default;
  // Executable segments of the loaded modules, main executable first.
  virtual std::vector<Module> ListModules() = 0;
  // The inline chain at lookup_address (innermost first), as
  // Symbolizer::Symbolize() defines it.
  virtual SymbolizedAddress Symbolize(const Module& module, uintptr_t lookup_address) = 0;
};

// Symbolizes `profile` and encodes it as gzipped profile.proto. Returns ""
// only if compression fails (out of memory).
//
// Locations: one per distinct lookup address, where the leaf PC (when
// leaf_is_exact_pc) is looked up as is and every other PC at pc - 1;
// Location.address is that lookup address. Each distinct address is
// symbolized once per call. Lines come from the inline chain, innermost
// first, the containing function last. An address that no module contains,
// or that the symbolizer cannot name, keeps its address (and mapping) and
// gets no lines, so pprof can still symbolize it locally or through
// /debug/pprof/symbol.
//
// Functions: name and system_name are both the full demangled name
// ("ns::Foo<int>::bar(long) const"). `go tool pprof` (1.19) then shows C++
// names shortened by default ("ns::Foo::bar const") and whole with
// -symbolize=none. -symbolize=demangle=full also shows them whole, but
// implies :force, so pprof first re-symbolizes with binutils any mapping
// whose binary it finds locally.
//
// Mappings: the main executable first (always present when modules are
// known), then every other module that holds a PC of the profile, with
// addresses, file offset, path and build ID. has_functions, has_filenames,
// has_line_numbers and has_inline_frames are true only when every location
// of that mapping got that information (all false when !options.symbolize).
//
// Samples whose value count differs from sample_types.size() are dropped and
// counted in a profile comment.
std::string EncodeStackProfile(const StackProfile& profile, const EncodeOptions& options = {});
std::string EncodeStackProfile(const StackProfile& profile, SymbolSource& symbols,
                               const EncodeOptions& options = {});

// p -= base, for a delta between two profiles of the same kind that were
// not taken from one StackTable (Go's serveDeltaProfile: p1 - p0). Samples
// match by stack, synthetic frame and labels; one only in `base` enters
// negated; samples that end at all zeros are dropped, as pprof's merge does.
void SubtractStackProfile(const StackProfile& base, StackProfile* p);

// Builds, ahead of time, the symbol index of every loaded module that holds
// one of `pcs` (sorted), so that encoding a profile with those PCs later is
// not held up building them. Meant for a request that waits anyway (a CPU
// profile's window). Returns the number of modules prepared; cheap for
// modules already cached.
size_t PrepareSymbolsFor(const std::vector<uintptr_t>& pcs);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PPROF_STACK_PROFILE_H_
