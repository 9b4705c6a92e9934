// SPDX-License-Identifier: Apache-2.0
//
// Reading a whole (usually /proc) file into a string. Not signal-safe.

#ifndef CPPROF_SRC_BASE_READ_FILE_H_
#define CPPROF_SRC_BASE_READ_FILE_H_

#include <cstddef>
#include <string>

namespace cpprof {
namespace internal {

// Reads `path` into *out, at most max_bytes of it (reads interrupted by a
// signal are retried). Returns false, with errno from open(), if the file
// cannot be opened; *out is then empty.
bool ReadFileToString(const char* path, size_t max_bytes, std::string* out);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_READ_FILE_H_
