// SPDX-License-Identifier: Apache-2.0
//
// Protobuf wire format for profile.proto.
//
// Nested messages are written in place and get their key and length when
// they end: the body, already in the buffer, is shifted right by the size of
// the header. Go's runtime/pprof writer does the same. Precomputing sizes
// (as libprotobuf does) would need a second pass over every message; the
// profile's messages are small (a sample, a location with a few lines), so
// the shift costs less than that pass. Packed fields compute their payload
// size first and are written without a shift.

#include "pprof/proto_writer.h"

namespace cpprof {
namespace internal {

size_t ProtoWriter::VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

void ProtoWriter::Varint(uint64_t value) {
  char buf[10];
  size_t n = 0;
  while (value >= 0x80) {
    buf[n++] = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  buf[n++] = static_cast<char>(value);
  data_.append(buf, n);
}

void ProtoWriter::Uint64(int field, uint64_t value) {
  Key(field, kVarint);
  Varint(value);
}

void ProtoWriter::String(int field, std::string_view value) {
  Key(field, kLengthDelimited);
  Varint(value.size());
  data_.append(value.data(), value.size());
}

void ProtoWriter::PackedUint64(int field, const uint64_t* values, size_t count) {
  if (count == 0) return;
  size_t payload = 0;
  for (size_t i = 0; i < count; ++i) payload += VarintSize(values[i]);
  Key(field, kLengthDelimited);
  Varint(payload);
  data_.reserve(data_.size() + payload);
  for (size_t i = 0; i < count; ++i) Varint(values[i]);
}

void ProtoWriter::PackedInt64(int field, const int64_t* values, size_t count) {
  if (count == 0) return;
  size_t payload = 0;
  for (size_t i = 0; i < count; ++i) payload += VarintSize(static_cast<uint64_t>(values[i]));
  Key(field, kLengthDelimited);
  Varint(payload);
  data_.reserve(data_.size() + payload);
  for (size_t i = 0; i < count; ++i) Varint(static_cast<uint64_t>(values[i]));
}

void ProtoWriter::EndMessage(int field, size_t mark) {
  const size_t body = data_.size() - mark;
  const uint64_t key = (static_cast<uint64_t>(field) << 3) | kLengthDelimited;
  char header[20];
  size_t n = 0;
  for (uint64_t v : {key, static_cast<uint64_t>(body)}) {
    while (v >= 0x80) {
      header[n++] = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    header[n++] = static_cast<char>(v);
  }
  data_.insert(mark, header, n);
}

std::string ProtoWriter::Release() {
  std::string out;
  out.swap(data_);
  return out;
}

}  // namespace internal
}  // namespace cpprof
