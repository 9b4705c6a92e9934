// SPDX-License-Identifier: Apache-2.0
//
// Test helpers for the pprof module: decode a gzipped profile with the
// libprotobuf classes generated from tests/proto/profile.proto, and check
// the validity rules pprof applies when it reads a profile (the
// profile.Profile.CheckValid rules plus the ones its decoder enforces).

#ifndef CPPROF_TESTS_UNIT_PPROF_PROFILE_CHECK_H_
#define CPPROF_TESTS_UNIT_PPROF_PROFILE_CHECK_H_

#include <zlib.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "profile.pb.h"

namespace pprof_test {

namespace pb = perftools::profiles;

// Gunzips with zlib directly (not the library's GzipDecompress, so a bug
// there cannot hide one in the encoder). Returns false on any error.
inline bool Gunzip(const std::string& in, std::string* out) {
  out->clear();
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return false;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char buf[16384];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    out->append(buf, sizeof(buf) - zs.avail_out);
  } while (rc == Z_OK);
  inflateEnd(&zs);
  return rc == Z_STREAM_END && zs.avail_in == 0;
}

inline bool DecodeGzipped(const std::string& gz, pb::Profile* profile) {
  std::string raw;
  return Gunzip(gz, &raw) && profile->ParseFromString(raw);
}

inline std::string Str(const pb::Profile& p, int64_t index) {
  if (index < 0 || index >= p.string_table_size()) return "<bad string index>";
  return p.string_table(static_cast<int>(index));
}

inline const pb::Location* FindLocation(const pb::Profile& p, uint64_t id) {
  for (const pb::Location& l : p.location()) {
    if (l.id() == id) return &l;
  }
  return nullptr;
}

inline const pb::Function* FindFunction(const pb::Profile& p, uint64_t id) {
  for (const pb::Function& f : p.function()) {
    if (f.id() == id) return &f;
  }
  return nullptr;
}

inline const pb::Mapping* FindMapping(const pb::Profile& p, uint64_t id) {
  for (const pb::Mapping& m : p.mapping()) {
    if (m.id() == id) return &m;
  }
  return nullptr;
}

// Function names of a location's lines, innermost first.
inline std::vector<std::string> LineNames(const pb::Profile& p, const pb::Location& loc) {
  std::vector<std::string> names;
  for (const pb::Line& line : loc.line()) {
    const pb::Function* f = FindFunction(p, line.function_id());
    names.push_back(f != nullptr ? Str(p, f->name()) : "<missing function>");
  }
  return names;
}

// Returns every violation of pprof's rules found in p; empty when valid.
inline std::vector<std::string> ValidityErrors(const pb::Profile& p) {
  std::vector<std::string> errors;
  auto check_string = [&](int64_t index, const std::string& what) {
    if (index < 0 || index >= p.string_table_size()) {
      errors.push_back(what + ": string index " + std::to_string(index) + " out of range");
    }
  };
  if (p.string_table_size() == 0 || !p.string_table(0).empty()) {
    errors.push_back("string_table[0] must be \"\"");
  }
  if (p.sample_type_size() == 0 && p.sample_size() != 0) {
    errors.push_back("missing sample type information");
  }
  for (const pb::ValueType& vt : p.sample_type()) {
    check_string(vt.type(), "sample_type.type");
    check_string(vt.unit(), "sample_type.unit");
  }
  check_string(p.period_type().type(), "period_type.type");
  check_string(p.period_type().unit(), "period_type.unit");
  check_string(p.drop_frames(), "drop_frames");
  check_string(p.keep_frames(), "keep_frames");
  check_string(p.default_sample_type(), "default_sample_type");
  check_string(p.doc_url(), "doc_url");
  for (int64_t c : p.comment()) check_string(c, "comment");

  std::set<uint64_t> mapping_ids, function_ids, location_ids;
  for (const pb::Mapping& m : p.mapping()) {
    if (m.id() == 0) errors.push_back("mapping with reserved id 0");
    if (!mapping_ids.insert(m.id()).second) errors.push_back("duplicate mapping id");
    check_string(m.filename(), "mapping.filename");
    check_string(m.build_id(), "mapping.build_id");
  }
  for (const pb::Function& f : p.function()) {
    if (f.id() == 0) errors.push_back("function with reserved id 0");
    if (!function_ids.insert(f.id()).second) errors.push_back("duplicate function id");
    check_string(f.name(), "function.name");
    check_string(f.system_name(), "function.system_name");
    check_string(f.filename(), "function.filename");
  }
  for (const pb::Location& l : p.location()) {
    if (l.id() == 0) errors.push_back("location with reserved id 0");
    if (!location_ids.insert(l.id()).second) errors.push_back("duplicate location id");
    if (l.mapping_id() != 0 && mapping_ids.count(l.mapping_id()) == 0) {
      errors.push_back("location " + std::to_string(l.id()) + " has unknown mapping id");
    }
    for (const pb::Line& line : l.line()) {
      if (line.function_id() == 0 || function_ids.count(line.function_id()) == 0) {
        errors.push_back("location " + std::to_string(l.id()) + " has a line with unknown function");
      }
    }
  }
  for (const pb::Sample& s : p.sample()) {
    if (s.value_size() != p.sample_type_size()) {
      errors.push_back("sample has " + std::to_string(s.value_size()) + " values vs. " +
                       std::to_string(p.sample_type_size()) + " types");
    }
    for (uint64_t id : s.location_id()) {
      if (id == 0 || location_ids.count(id) == 0) {
        errors.push_back("sample references unknown location id " + std::to_string(id));
      }
    }
    for (const pb::Label& label : s.label()) {
      check_string(label.key(), "label.key");
      check_string(label.str(), "label.str");
      check_string(label.num_unit(), "label.num_unit");
      if (label.key() == 0) errors.push_back("label without key");
    }
  }
  return errors;
}

}  // namespace pprof_test

#endif  // CPPROF_TESTS_UNIT_PPROF_PROFILE_CHECK_H_
