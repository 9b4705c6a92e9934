// SPDX-License-Identifier: Apache-2.0
//
// RawLog formats into a stack buffer and write(2)s it to stderr: no
// allocation, no stdio locks. Usable anywhere except a signal handler's hot
// path (vsnprintf is not formally async-signal-safe). Off below the level set
// by CPPROF_LOG (error|warning|notice|info|debug; default notice).

#ifndef CPPROF_SRC_BASE_RAW_LOG_H_
#define CPPROF_SRC_BASE_RAW_LOG_H_

namespace cpprof {
namespace internal {

enum class LogLevel { kError = 0, kWarning = 1, kNotice = 2, kInfo = 3, kDebug = 4 };

void RawLog(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_RAW_LOG_H_
