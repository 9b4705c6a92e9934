// SPDX-License-Identifier: Apache-2.0
//
// ProtoWriter: the protobuf wire format, just enough for profile.proto.
// Varints, zigzag-free int64 (as proto3 `int64`), length-delimited strings,
// packed repeated integers and nested messages. No libprotobuf.
//
//   ProtoWriter w;
//   size_t m = w.StartMessage();
//   w.Uint64(/*field=*/1, 7);
//   w.EndMessage(/*field=*/4, m);   // field 4 now holds {1: 7}
//
// Not thread-safe; not async-signal-safe (allocates).

#ifndef CPPROF_SRC_PPROF_PROTO_WRITER_H_
#define CPPROF_SRC_PPROF_PROTO_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cpprof {
namespace internal {

class ProtoWriter {
 public:
  enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

  ProtoWriter() = default;

  // Raw pieces.
  void Varint(uint64_t value);
  void Key(int field, WireType type) { Varint((static_cast<uint64_t>(field) << 3) | type); }

  // Scalar fields. The plain forms always write the field (needed for
  // repeated fields and for values whose presence matters); the *Opt forms
  // skip the proto3 default (0 / false), as a proto3 encoder would.
  void Uint64(int field, uint64_t value);
  void Uint64Opt(int field, uint64_t value) {
    if (value != 0) Uint64(field, value);
  }
  // int64 is encoded as a two's-complement varint (negative values take 10
  // bytes), matching proto3 `int64`.
  void Int64(int field, int64_t value) { Uint64(field, static_cast<uint64_t>(value)); }
  void Int64Opt(int field, int64_t value) {
    if (value != 0) Int64(field, value);
  }
  void Bool(int field, bool value) { Uint64(field, value ? 1 : 0); }
  void BoolOpt(int field, bool value) {
    if (value) Bool(field, true);
  }

  // Length-delimited bytes/string, always written (string_table needs "").
  void String(int field, std::string_view value);

  // Packed repeated fields; nothing is written when count is 0.
  void PackedUint64(int field, const uint64_t* values, size_t count);
  void PackedInt64(int field, const int64_t* values, size_t count);
  void PackedUint64(int field, const std::vector<uint64_t>& values) {
    PackedUint64(field, values.data(), values.size());
  }
  void PackedInt64(int field, const std::vector<int64_t>& values) {
    PackedInt64(field, values.data(), values.size());
  }

  // Nested messages: StartMessage() returns a mark; fields written after it
  // become the body of the message that EndMessage(field, mark) closes.
  // Marks nest like parentheses. The body is moved once to make room for its
  // key and length (cost proportional to the body, not to the buffer).
  size_t StartMessage() const { return data_.size(); }
  void EndMessage(int field, size_t mark);

  // Appends bytes that are already wire format (e.g. another writer's output).
  void AppendRaw(std::string_view bytes) { data_.append(bytes.data(), bytes.size()); }

  const std::string& data() const { return data_; }
  size_t size() const { return data_.size(); }
  std::vector<uint8_t> bytes() const { return std::vector<uint8_t>(data_.begin(), data_.end()); }
  // Moves the buffer out; the writer is empty afterwards.
  std::string Release();
  void Clear() { data_.clear(); }
  void Reserve(size_t bytes) { data_.reserve(bytes); }

  // Number of bytes Varint(value) writes (1..10).
  static size_t VarintSize(uint64_t value);

 private:
  std::string data_;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PPROF_PROTO_WRITER_H_
