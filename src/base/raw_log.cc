// SPDX-License-Identifier: Apache-2.0

#include "base/raw_log.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cpprof {
namespace internal {
namespace {

int ThresholdFromEnvironment() {
  const char* v = getenv("CPPROF_LOG");
  if (v == nullptr) return static_cast<int>(LogLevel::kNotice);
  if (strcmp(v, "error") == 0) return static_cast<int>(LogLevel::kError);
  if (strcmp(v, "warning") == 0) return static_cast<int>(LogLevel::kWarning);
  if (strcmp(v, "info") == 0) return static_cast<int>(LogLevel::kInfo);
  if (strcmp(v, "debug") == 0) return static_cast<int>(LogLevel::kDebug);
  return static_cast<int>(LogLevel::kNotice);
}

}  // namespace

void RawLog(LogLevel level, const char* format, ...) {
  static const int threshold = ThresholdFromEnvironment();
  if (static_cast<int>(level) > threshold) return;
  static const char* const kNames[] = {"error", "warning", "notice", "info", "debug"};
  char buf[1024];
  int n = snprintf(buf, sizeof(buf), "cpprof %s: ", kNames[static_cast<int>(level)]);
  va_list ap;
  va_start(ap, format);
  int m = vsnprintf(buf + n, sizeof(buf) - n - 1, format, ap);
  va_end(ap);
  if (m < 0) m = 0;
  size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
  if (len > sizeof(buf) - 2) len = sizeof(buf) - 2;
  buf[len++] = '\n';
  ssize_t unused = write(2, buf, len);
  (void)unused;
}

}  // namespace internal
}  // namespace cpprof
