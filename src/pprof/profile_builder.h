// SPDX-License-Identifier: Apache-2.0
//
// ProfileBuilder assembles one profile.proto message: it interns strings,
// functions and locations, numbers mappings, encodes samples as they arrive
// and serializes everything in Finalize(). It knows no profile kind and does
// no symbolization; EncodeStackProfile() (stack_profile.h) drives it.
//
//   ProfileBuilder b;
//   b.AddSampleType("samples", "count");
//   uint64_t fn = b.InternFunction("main", "main", "main.cc", 10);
//   uint64_t loc = b.InternLocation(/*mapping_id=*/0, /*address=*/0, {{fn, 12}});
//   b.AddSample({loc}, {1}, {});
//   std::string bytes = b.Finalize();   // uncompressed; see gzip.h
//
// IDs of functions, locations and mappings start at 1 (0 means "none" in
// profile.proto). String index 0 is always "". Memory grows with the number
// of distinct strings, functions, locations and with the encoded samples;
// callers bound those by bounding their inputs.
//
// Not thread-safe; not async-signal-safe.

#ifndef CPPROF_SRC_PPROF_PROFILE_BUILDER_H_
#define CPPROF_SRC_PPROF_PROFILE_BUILDER_H_

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pprof/proto_writer.h"

namespace cpprof {
namespace internal {

class ProfileBuilder {
 public:
  struct Line {
    uint64_t function_id = 0;
    int64_t line = 0;    // 0 if unknown
    int64_t column = 0;  // 0 if unknown
  };

  struct Mapping {
    uint64_t memory_start = 0;
    uint64_t memory_limit = 0;
    uint64_t file_offset = 0;
    std::string filename;
    std::string build_id;
    bool has_functions = false;
    bool has_filenames = false;
    bool has_line_numbers = false;
    bool has_inline_frames = false;
  };

  // A sample label: a string label when `str` is not empty, else numeric
  // (`num`, with an optional `num_unit` such as "bytes").
  struct Label {
    std::string_view key;
    std::string_view str;
    int64_t num = 0;
    std::string_view num_unit;
  };

  ProfileBuilder();
  ProfileBuilder(const ProfileBuilder&) = delete;
  ProfileBuilder& operator=(const ProfileBuilder&) = delete;

  // Returns the index of `s` in the string table, adding it if new. "" is 0.
  int64_t InternString(std::string_view s);

  // Returns the id of the function with exactly these fields, adding it if
  // new.
  uint64_t InternFunction(std::string_view name, std::string_view system_name,
                          std::string_view filename, int64_t start_line);

  // Returns the id of the location with these fields, adding it if new.
  // mapping_id 0 means no mapping. `lines` is innermost first: the last entry
  // is the function into which the preceding ones were inlined. Locations
  // are deduplicated by (mapping_id, address, lines).
  uint64_t InternLocation(uint64_t mapping_id, uint64_t address, const std::vector<Line>& lines);

  // Adds a mapping and returns its id (1, 2, ... in call order). Add the
  // main binary first: pprof treats mapping 1 as the main binary.
  uint64_t AddMapping(const Mapping& mapping);
  // The mapping with this id (1-based), or nullptr; lets callers set the
  // has_* flags once they know what symbolization found.
  Mapping* mutable_mapping(uint64_t id);
  size_t mapping_count() const { return mappings_.size(); }

  // Sample types, in the order of every sample's values. Add them all before
  // the first AddSample().
  void AddSampleType(std::string_view type, std::string_view unit);
  size_t sample_type_count() const { return sample_types_.size(); }

  // Encodes one sample: location ids leaf first, one value per sample type.
  // Returns false and adds nothing if the number of values differs from the
  // number of sample types, or if a location id is 0 or unknown; so the
  // profile stays valid whatever the caller passes.
  bool AddSample(const std::vector<uint64_t>& location_ids, const std::vector<int64_t>& values,
                 const std::vector<Label>& labels);
  size_t sample_count() const { return sample_count_; }

  void SetPeriodType(std::string_view type, std::string_view unit);
  void SetPeriod(int64_t period) { period_ = period; }
  void SetTimeNanos(int64_t time_nanos) { time_nanos_ = time_nanos; }
  void SetDurationNanos(int64_t duration_nanos) { duration_nanos_ = duration_nanos; }
  void AddComment(std::string_view comment) { comments_.push_back(InternString(comment)); }
  // "" leaves it unset (pprof then defaults to the last sample type).
  void SetDefaultSampleType(std::string_view type) { default_sample_type_ = InternString(type); }
  // Regular expressions for pprof's frame pruning; "" leaves them unset.
  void SetDropFrames(std::string_view regex) { drop_frames_ = InternString(regex); }
  void SetKeepFrames(std::string_view regex) { keep_frames_ = InternString(regex); }
  void SetDocUrl(std::string_view url) { doc_url_ = InternString(url); }

  size_t string_count() const { return strings_.size(); }
  size_t function_count() const { return function_count_; }
  size_t location_count() const { return location_count_; }

  // Returns the serialized (uncompressed) Profile message. The builder must
  // not be used afterwards.
  std::string Finalize();

 private:
  struct FunctionKey {
    int64_t name, system_name, filename, start_line;
    bool operator==(const FunctionKey& o) const;
  };
  struct LocationKey {
    uint64_t mapping_id, address;
    std::vector<Line> lines;
    bool operator==(const LocationKey& o) const;
  };
  struct KeyHash {
    size_t operator()(const FunctionKey& k) const;
    size_t operator()(const LocationKey& k) const;
  };
  struct ValueTypeIndex {
    int64_t type = 0, unit = 0;
  };

  // Strings are stored once, in strings_ (a deque, so the views that key
  // string_index_ stay valid as it grows).
  std::deque<std::string> strings_;
  std::unordered_map<std::string_view, int64_t> string_index_;

  std::unordered_map<FunctionKey, uint64_t, KeyHash> functions_;
  uint64_t function_count_ = 0;
  std::unordered_map<LocationKey, uint64_t, KeyHash> locations_;
  uint64_t location_count_ = 0;
  std::vector<Mapping> mappings_;
  std::vector<ValueTypeIndex> sample_types_;
  ValueTypeIndex period_type_;
  int64_t period_ = 0;
  int64_t time_nanos_ = 0;
  int64_t duration_nanos_ = 0;
  std::vector<int64_t> comments_;
  int64_t default_sample_type_ = 0;
  int64_t drop_frames_ = 0;
  int64_t keep_frames_ = 0;
  int64_t doc_url_ = 0;

  // Functions, locations and samples are encoded when added; their
  // repeated-field bytes are concatenated by Finalize().
  ProtoWriter function_bytes_;
  ProtoWriter location_bytes_;
  ProtoWriter sample_bytes_;
  size_t sample_count_ = 0;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PPROF_PROFILE_BUILDER_H_
