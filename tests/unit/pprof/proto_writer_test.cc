// SPDX-License-Identifier: Apache-2.0

#include "pprof/proto_writer.h"

#include <doctest/doctest.h>

#include <string>

#include "profile.pb.h"

namespace cpprof {
namespace internal {
namespace {

using Bytes = std::vector<uint8_t>;

TEST_CASE("ProtoWriter writes a varint field as tag byte then value") {
  ProtoWriter w;
  w.Uint64(/*field=*/3, 150);
  CHECK(w.bytes() == Bytes{0x18, 0x96, 0x01});
}

TEST_CASE("ProtoWriter writes varints of every length in minimal form") {
  CHECK(ProtoWriter::VarintSize(0) == 1);
  CHECK(ProtoWriter::VarintSize(127) == 1);
  CHECK(ProtoWriter::VarintSize(128) == 2);
  CHECK(ProtoWriter::VarintSize(~uint64_t{0}) == 10);
  ProtoWriter w;
  w.Varint(0);
  w.Varint(127);
  w.Varint(128);
  w.Varint(16384);
  CHECK(w.bytes() == Bytes{0x00, 0x7f, 0x80, 0x01, 0x80, 0x80, 0x01});
  ProtoWriter max;
  max.Varint(~uint64_t{0});
  CHECK(max.bytes() ==
        Bytes{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
}

TEST_CASE("ProtoWriter encodes a negative int64 as a ten-byte two's-complement varint") {
  ProtoWriter w;
  w.Int64(/*field=*/1, -1);
  CHECK(w.bytes() ==
        Bytes{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01});
}

TEST_CASE("ProtoWriter uses multi-byte keys for field numbers above 15") {
  ProtoWriter w;
  w.Uint64(/*field=*/16, 1);
  CHECK(w.bytes() == Bytes{0x80, 0x01, 0x01});
}

TEST_CASE("ProtoWriter writes a string as key, length and bytes, even when empty") {
  ProtoWriter w;
  w.String(/*field=*/2, "testing");
  CHECK(w.bytes() == Bytes{0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'});
  ProtoWriter e;
  e.String(/*field=*/6, "");
  CHECK(e.bytes() == Bytes{0x32, 0x00});
}

TEST_CASE("ProtoWriter writes packed repeated integers with one length prefix") {
  ProtoWriter w;
  w.PackedUint64(/*field=*/4, std::vector<uint64_t>{3, 270, 86942});
  CHECK(w.bytes() == Bytes{0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05});
  ProtoWriter n;
  n.PackedInt64(/*field=*/2, std::vector<int64_t>{-1, 1});
  CHECK(n.bytes() == Bytes{0x12, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0x01, 0x01});
}

TEST_CASE("ProtoWriter writes nothing for an empty packed field or a default optional") {
  ProtoWriter w;
  w.PackedUint64(1, std::vector<uint64_t>{});
  w.PackedInt64(2, std::vector<int64_t>{});
  w.Uint64Opt(3, 0);
  w.Int64Opt(4, 0);
  w.BoolOpt(5, false);
  CHECK(w.size() == 0);
  w.BoolOpt(5, true);
  w.Int64Opt(4, -2);
  CHECK(w.bytes() == Bytes{0x28, 0x01, 0x20, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0x01});
}

TEST_CASE("ProtoWriter prefixes a nested message with its key and length") {
  ProtoWriter w;
  w.Uint64(1, 1);
  const size_t mark = w.StartMessage();
  w.Uint64(/*field=*/1, 150);
  w.EndMessage(/*field=*/3, mark);
  CHECK(w.bytes() == Bytes{0x08, 0x01, 0x1a, 0x03, 0x08, 0x96, 0x01});
}

TEST_CASE("ProtoWriter nests messages and writes an empty message as a zero length") {
  ProtoWriter w;
  const size_t outer = w.StartMessage();
  const size_t inner = w.StartMessage();
  w.EndMessage(/*field=*/4, inner);
  const size_t inner2 = w.StartMessage();
  w.Uint64(1, 5);
  w.EndMessage(/*field=*/4, inner2);
  w.EndMessage(/*field=*/2, outer);
  CHECK(w.bytes() == Bytes{0x12, 0x06, 0x22, 0x00, 0x22, 0x02, 0x08, 0x05});
}

TEST_CASE("ProtoWriter uses a two-byte length for a message body of 200 bytes") {
  ProtoWriter w;
  const size_t mark = w.StartMessage();
  w.String(1, std::string(197, 'x'));  // 1 key + 2 length + 197 = 200 bytes
  w.EndMessage(/*field=*/5, mark);
  const Bytes b = w.bytes();
  REQUIRE(b.size() == 203);
  CHECK(b[0] == 0x2a);
  CHECK(b[1] == 0xc8);  // 200 = 0b1_1001000
  CHECK(b[2] == 0x01);
  CHECK(b[3] == 0x0a);
}

TEST_CASE("ProtoWriter output parses with libprotobuf, field for field") {
  ProtoWriter w;
  for (int i = 0; i < 3; ++i) {
    const size_t m = w.StartMessage();
    w.Uint64(1, 100 + i);                          // Location.id
    w.Uint64Opt(3, 0xffffffffffff0000ull + i);     // Location.address
    const size_t line = w.StartMessage();
    w.Uint64(1, 7);                                // Line.function_id
    w.Int64(2, -5 + i);                            // Line.line
    w.EndMessage(4, line);
    w.EndMessage(/*Profile.location=*/4, m);
  }
  w.String(6, "");
  w.String(6, "name");
  w.PackedInt64(13, std::vector<int64_t>{1, 1});
  perftools::profiles::Profile p;
  REQUIRE(p.ParseFromString(w.data()));
  REQUIRE(p.location_size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(p.location(i).id() == uint64_t(100 + i));
    CHECK(p.location(i).address() == 0xffffffffffff0000ull + i);
    REQUIRE(p.location(i).line_size() == 1);
    CHECK(p.location(i).line(0).function_id() == 7);
    CHECK(p.location(i).line(0).line() == -5 + i);
  }
  REQUIRE(p.string_table_size() == 2);
  CHECK(p.string_table(1) == "name");
  CHECK(p.comment_size() == 2);
}

TEST_CASE("ProtoWriter Release moves the buffer out and leaves the writer empty") {
  ProtoWriter w;
  w.Uint64(1, 2);
  std::string out = w.Release();
  CHECK(out == std::string("\x08\x02", 2));
  CHECK(w.size() == 0);
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
