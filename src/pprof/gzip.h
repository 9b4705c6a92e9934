// SPDX-License-Identifier: Apache-2.0
//
// gzip framing for encoded profiles ("On-disk, the serialized proto must be
// gzip-compressed", profile.proto). zlib, BestSpeed by default, as Go's
// runtime/pprof uses.
//
// Not async-signal-safe (allocates). Thread-safe (no shared state).

#ifndef CPPROF_SRC_PPROF_GZIP_H_
#define CPPROF_SRC_PPROF_GZIP_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace cpprof {
namespace internal {

constexpr int kGzipBestSpeed = 1;

// Compresses `input` into a gzip member (RFC 1952) and stores it in *output.
// Returns false (and leaves *output empty) if zlib fails, which only happens
// when it cannot allocate.
bool GzipCompress(std::string_view input, std::string* output, int level = kGzipBestSpeed);

// Decompresses one or more concatenated gzip members into *output. Returns
// false on malformed or truncated input, or when the result would exceed
// max_output_bytes (a guard against decompression bombs).
bool GzipDecompress(std::string_view input, std::string* output,
                    size_t max_output_bytes = size_t{1} << 30);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PPROF_GZIP_H_
