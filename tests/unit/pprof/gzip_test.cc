// SPDX-License-Identifier: Apache-2.0

#include "pprof/gzip.h"

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "profile_check.h"

namespace cpprof {
namespace internal {
namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST_CASE("GzipCompress writes a gzip member that zlib inflates back") {
  for (const std::string& input :
       {std::string(), std::string("a"), std::string(100000, 'z'), RandomBytes(300000, 1)}) {
    std::string gz;
    REQUIRE(GzipCompress(input, &gz));
    REQUIRE(gz.size() >= 18);
    CHECK(static_cast<uint8_t>(gz[0]) == 0x1f);  // gzip magic
    CHECK(static_cast<uint8_t>(gz[1]) == 0x8b);
    CHECK(gz[2] == 8);  // deflate
    std::string back;
    REQUIRE(pprof_test::Gunzip(gz, &back));
    CHECK(back == input);
  }
}

TEST_CASE("GzipCompress shrinks repetitive data") {
  std::string gz;
  REQUIRE(GzipCompress(std::string(1 << 20, 'x'), &gz));
  CHECK(gz.size() < 10000);
}

TEST_CASE("GzipDecompress reads a member written by another gzip implementation") {
  // Python's gzip.compress(b'hello, profile\n' * 3, mtime=0).
  const unsigned char kPython[] = {
      0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd,
      0xc9, 0xc9, 0xd7, 0x51, 0x28, 0x28, 0xca, 0x4f, 0xcb, 0xcc, 0x49, 0xe5, 0xca,
      0xc0, 0xcb, 0x05, 0x00, 0xf9, 0x36, 0xf4, 0x8c, 0x2d, 0x00, 0x00, 0x00};
  std::string out;
  REQUIRE(GzipDecompress(std::string(reinterpret_cast<const char*>(kPython), sizeof(kPython)),
                         &out));
  CHECK(out == "hello, profile\nhello, profile\nhello, profile\n");
}

TEST_CASE("GzipDecompress accepts concatenated members and rejects damaged input") {
  std::string a, b;
  REQUIRE(GzipCompress("first ", &a));
  REQUIRE(GzipCompress("second", &b));
  std::string out;
  REQUIRE(GzipDecompress(a + b, &out));
  CHECK(out == "first second");

  CHECK_FALSE(GzipDecompress(a.substr(0, a.size() - 3), &out));  // truncated trailer
  CHECK(out.empty());
  std::string corrupt = a;
  corrupt[corrupt.size() - 6] ^= 0x55;  // CRC-32 mismatch
  CHECK_FALSE(GzipDecompress(corrupt, &out));
  CHECK_FALSE(GzipDecompress("not gzip at all", &out));
  CHECK_FALSE(GzipDecompress(a + "junk", &out));
}

TEST_CASE("GzipDecompress refuses output beyond its limit") {
  std::string gz;
  REQUIRE(GzipCompress(std::string(1 << 20, 'x'), &gz));
  std::string out;
  CHECK_FALSE(GzipDecompress(gz, &out, /*max_output_bytes=*/1000));
  CHECK(out.empty());
  CHECK(GzipDecompress(gz, &out, /*max_output_bytes=*/1 << 20));
  CHECK(out.size() == (1u << 20));
}

}  // namespace
}  // namespace internal
}  // namespace cpprof
