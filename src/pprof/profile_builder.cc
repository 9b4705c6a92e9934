// SPDX-License-Identifier: Apache-2.0
//
// ProfileBuilder: interning and serialization of profile.proto (tcmalloc's
// ProfileBuilder shape).
//
// Strings, functions and locations are interned through hash maps keyed by
// their content. Functions, locations and samples never change once added,
// so they are encoded into per-field byte buffers right away; only mappings
// (whose has_* flags are known after symbolization) and the scalar fields
// are kept as structs. Finalize() concatenates the buffers in field order
// with the string table, so the profile is produced with one copy of each
// part and no intermediate object graph (the alternative, building the
// message as objects and serializing at the end, holds every sample twice).
// Samples are validated on entry (value count, location ids), which keeps
// every finalized profile valid for pprof.

#include "pprof/profile_builder.h"

#include <tuple>

#include "pprof/profile_fields.h"

namespace cpprof {
namespace internal {

namespace pf = profile_fields;

namespace {

inline size_t Mix(size_t h, uint64_t v) {
  // boost::hash_combine's mixing step, widened to 64 bits.
  return h ^ (static_cast<size_t>(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
}

}  // namespace

bool ProfileBuilder::FunctionKey::operator==(const FunctionKey& o) const {
  return std::tie(name, system_name, filename, start_line) ==
         std::tie(o.name, o.system_name, o.filename, o.start_line);
}

bool ProfileBuilder::LocationKey::operator==(const LocationKey& o) const {
  if (mapping_id != o.mapping_id || address != o.address || lines.size() != o.lines.size()) {
    return false;
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& a = lines[i];
    const Line& b = o.lines[i];
    if (a.function_id != b.function_id || a.line != b.line || a.column != b.column) return false;
  }
  return true;
}

size_t ProfileBuilder::KeyHash::operator()(const FunctionKey& k) const {
  size_t h = Mix(0, static_cast<uint64_t>(k.name));
  h = Mix(h, static_cast<uint64_t>(k.system_name));
  h = Mix(h, static_cast<uint64_t>(k.filename));
  return Mix(h, static_cast<uint64_t>(k.start_line));
}

size_t ProfileBuilder::KeyHash::operator()(const LocationKey& k) const {
  size_t h = Mix(Mix(0, k.mapping_id), k.address);
  for (const Line& line : k.lines) {
    h = Mix(Mix(Mix(h, line.function_id), static_cast<uint64_t>(line.line)),
            static_cast<uint64_t>(line.column));
  }
  return h;
}

ProfileBuilder::ProfileBuilder() { InternString(""); }

int64_t ProfileBuilder::InternString(std::string_view s) {
  auto it = string_index_.find(s);
  if (it != string_index_.end()) return it->second;
  const int64_t index = static_cast<int64_t>(strings_.size());
  strings_.emplace_back(s);
  string_index_.emplace(std::string_view(strings_.back()), index);
  return index;
}

uint64_t ProfileBuilder::InternFunction(std::string_view name, std::string_view system_name,
                                        std::string_view filename, int64_t start_line) {
  FunctionKey key{InternString(name), InternString(system_name), InternString(filename),
                  start_line};
  auto [it, inserted] = functions_.emplace(key, function_count_ + 1);
  if (!inserted) return it->second;
  const uint64_t id = ++function_count_;
  ProtoWriter& w = function_bytes_;
  const size_t mark = w.StartMessage();
  w.Uint64(pf::function::kId, id);
  w.Int64Opt(pf::function::kName, key.name);
  w.Int64Opt(pf::function::kSystemName, key.system_name);
  w.Int64Opt(pf::function::kFilename, key.filename);
  w.Int64Opt(pf::function::kStartLine, key.start_line);
  w.EndMessage(pf::profile::kFunction, mark);
  return id;
}

uint64_t ProfileBuilder::InternLocation(uint64_t mapping_id, uint64_t address,
                                        const std::vector<Line>& lines) {
  LocationKey key{mapping_id, address, lines};
  auto [it, inserted] = locations_.emplace(std::move(key), location_count_ + 1);
  if (!inserted) return it->second;
  const uint64_t id = ++location_count_;
  ProtoWriter& w = location_bytes_;
  const size_t mark = w.StartMessage();
  w.Uint64(pf::location::kId, id);
  w.Uint64Opt(pf::location::kMappingId, mapping_id);
  w.Uint64Opt(pf::location::kAddress, address);
  for (const Line& line : lines) {
    const size_t line_mark = w.StartMessage();
    w.Uint64Opt(pf::line::kFunctionId, line.function_id);
    w.Int64Opt(pf::line::kLine, line.line);
    w.Int64Opt(pf::line::kColumn, line.column);
    w.EndMessage(pf::location::kLine, line_mark);
  }
  w.EndMessage(pf::profile::kLocation, mark);
  return id;
}

uint64_t ProfileBuilder::AddMapping(const Mapping& mapping) {
  mappings_.push_back(mapping);
  // Intern now so string indices do not depend on when Finalize() runs.
  InternString(mapping.filename);
  InternString(mapping.build_id);
  return mappings_.size();
}

ProfileBuilder::Mapping* ProfileBuilder::mutable_mapping(uint64_t id) {
  if (id == 0 || id > mappings_.size()) return nullptr;
  return &mappings_[id - 1];
}

void ProfileBuilder::AddSampleType(std::string_view type, std::string_view unit) {
  sample_types_.push_back({InternString(type), InternString(unit)});
}

void ProfileBuilder::SetPeriodType(std::string_view type, std::string_view unit) {
  period_type_ = {InternString(type), InternString(unit)};
}

bool ProfileBuilder::AddSample(const std::vector<uint64_t>& location_ids,
                               const std::vector<int64_t>& values,
                               const std::vector<Label>& labels) {
  if (values.size() != sample_types_.size()) return false;
  for (uint64_t id : location_ids) {
    if (id == 0 || id > location_count_) return false;
  }
  ProtoWriter& w = sample_bytes_;
  const size_t mark = w.StartMessage();
  w.PackedUint64(pf::sample::kLocationId, location_ids);
  w.PackedInt64(pf::sample::kValue, values);
  for (const Label& label : labels) {
    const size_t label_mark = w.StartMessage();
    w.Int64Opt(pf::label::kKey, InternString(label.key));
    if (!label.str.empty()) {
      w.Int64Opt(pf::label::kStr, InternString(label.str));
    } else {
      // num is written even when 0: a numeric label with value 0 is still a
      // label, and readers tell the kinds apart by str == 0.
      w.Int64(pf::label::kNum, label.num);
      w.Int64Opt(pf::label::kNumUnit, InternString(label.num_unit));
    }
    w.EndMessage(pf::sample::kLabel, label_mark);
  }
  w.EndMessage(pf::profile::kSample, mark);
  ++sample_count_;
  return true;
}

std::string ProfileBuilder::Finalize() {
  ProtoWriter w;
  size_t string_bytes = 0;
  for (const std::string& s : strings_) string_bytes += s.size() + 6;
  w.Reserve(sample_bytes_.size() + location_bytes_.size() + function_bytes_.size() +
            string_bytes + 64 * (mappings_.size() + sample_types_.size() + comments_.size()) + 128);
  for (const ValueTypeIndex& vt : sample_types_) {
    const size_t mark = w.StartMessage();
    w.Int64Opt(pf::value_type::kType, vt.type);
    w.Int64Opt(pf::value_type::kUnit, vt.unit);
    w.EndMessage(pf::profile::kSampleType, mark);
  }
  w.AppendRaw(sample_bytes_.data());
  sample_bytes_.Clear();
  for (size_t i = 0; i < mappings_.size(); ++i) {
    const Mapping& m = mappings_[i];
    const size_t mark = w.StartMessage();
    w.Uint64(pf::mapping::kId, i + 1);
    w.Uint64Opt(pf::mapping::kMemoryStart, m.memory_start);
    w.Uint64Opt(pf::mapping::kMemoryLimit, m.memory_limit);
    w.Uint64Opt(pf::mapping::kFileOffset, m.file_offset);
    w.Int64Opt(pf::mapping::kFilename, InternString(m.filename));
    w.Int64Opt(pf::mapping::kBuildId, InternString(m.build_id));
    w.BoolOpt(pf::mapping::kHasFunctions, m.has_functions);
    w.BoolOpt(pf::mapping::kHasFilenames, m.has_filenames);
    w.BoolOpt(pf::mapping::kHasLineNumbers, m.has_line_numbers);
    w.BoolOpt(pf::mapping::kHasInlineFrames, m.has_inline_frames);
    w.EndMessage(pf::profile::kMapping, mark);
  }
  w.AppendRaw(location_bytes_.data());
  location_bytes_.Clear();
  w.AppendRaw(function_bytes_.data());
  function_bytes_.Clear();
  for (const std::string& s : strings_) w.String(pf::profile::kStringTable, s);
  w.Int64Opt(pf::profile::kDropFrames, drop_frames_);
  w.Int64Opt(pf::profile::kKeepFrames, keep_frames_);
  w.Int64Opt(pf::profile::kTimeNanos, time_nanos_);
  w.Int64Opt(pf::profile::kDurationNanos, duration_nanos_);
  if (period_type_.type != 0 || period_type_.unit != 0) {
    const size_t mark = w.StartMessage();
    w.Int64Opt(pf::value_type::kType, period_type_.type);
    w.Int64Opt(pf::value_type::kUnit, period_type_.unit);
    w.EndMessage(pf::profile::kPeriodType, mark);
  }
  w.Int64Opt(pf::profile::kPeriod, period_);
  w.PackedInt64(pf::profile::kComment, comments_);
  w.Int64Opt(pf::profile::kDefaultSampleType, default_sample_type_);
  w.Int64Opt(pf::profile::kDocUrl, doc_url_);
  return w.Release();
}

}  // namespace internal
}  // namespace cpprof
