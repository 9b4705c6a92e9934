// SPDX-License-Identifier: Apache-2.0
//
// gzip with zlib's deflate: windowBits 15 + 16 selects the gzip wrapper
// (header and CRC-32 trailer) instead of zlib's. The output buffer grows
// from deflateBound(), so one deflate call normally suffices.

#include "pprof/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

namespace cpprof {
namespace internal {
namespace {

constexpr int kGzipWindowBits = 15 + 16;  // 32 KiB window, gzip wrapper
constexpr int kGunzipWindowBits = 15 + 16;
constexpr int kMemLevel = 8;              // zlib's default

}  // namespace

bool GzipCompress(std::string_view input, std::string* output, int level) {
  output->clear();
  // zlib's avail_in is 32-bit; feed larger inputs in pieces.
  constexpr size_t kMaxChunk = std::numeric_limits<uInt>::max();
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, kGzipWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return false;
  }
  size_t capacity = input.size() <= kMaxChunk ? deflateBound(&zs, static_cast<uLong>(input.size()))
                                              : input.size() + input.size() / 8 + 64;
  output->resize(capacity);
  size_t consumed = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (zs.total_out >= output->size()) output->resize(output->size() * 2 + 64);
    const size_t in_chunk = std::min(input.size() - consumed, kMaxChunk);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data() + consumed));
    zs.avail_in = static_cast<uInt>(in_chunk);
    const size_t out_room = std::min(output->size() - zs.total_out, kMaxChunk);
    zs.next_out = reinterpret_cast<Bytef*>(&(*output)[zs.total_out]);
    zs.avail_out = static_cast<uInt>(out_room);
    const bool last = consumed + in_chunk == input.size();
    rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
    consumed += in_chunk - zs.avail_in;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      deflateEnd(&zs);
      output->clear();
      return false;
    }
  }
  output->resize(zs.total_out);
  deflateEnd(&zs);
  return true;
}

bool GzipDecompress(std::string_view input, std::string* output, size_t max_output_bytes) {
  output->clear();
  z_stream zs{};
  if (inflateInit2(&zs, kGunzipWindowBits) != Z_OK) return false;
  size_t consumed = 0;
  size_t produced = 0;
  char buf[64 * 1024];
  bool ok = false;
  while (true) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data() + consumed));
    zs.avail_in = static_cast<uInt>(std::min<size_t>(input.size() - consumed, 1u << 30));
    const uInt before_in = zs.avail_in;
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    consumed += before_in - zs.avail_in;
    const size_t n = sizeof(buf) - zs.avail_out;
    produced += n;
    if (produced > max_output_bytes) break;
    output->append(buf, n);
    if (rc == Z_STREAM_END) {
      if (consumed == input.size()) {
        ok = true;
        break;
      }
      // Another gzip member follows (gzip allows concatenation).
      if (inflateReset(&zs) != Z_OK) break;
      continue;
    }
    if (rc != Z_OK) break;                          // data error, or no progress possible
    if (n == 0 && consumed == input.size()) break;  // truncated
  }
  inflateEnd(&zs);
  if (!ok) output->clear();
  return ok;
}

}  // namespace internal
}  // namespace cpprof
