// SPDX-License-Identifier: Apache-2.0
//
// HTTP/1.1 response serialization and blocking-with-timeout socket writes,
// for the own listener. Not signal-safe.

#ifndef CPPROF_SRC_HTTP_RESPONSE_WRITER_H_
#define CPPROF_SRC_HTTP_RESPONSE_WRITER_H_

#include <atomic>
#include <string>
#include <string_view>

#include "cpprof/handler.h"

namespace cpprof {
namespace internal {

// Returns the reason phrase for `status` ("Not Found"), or "Unknown".
const char* ReasonPhrase(int status);

// Serializes the status line and headers. Adds Content-Length (except for
// 1xx, 204 and 304) and "Connection: close" unless keep_alive; drops any
// Content-Length, Connection or Transfer-Encoding the handler set.
std::string SerializeResponseHead(const Response& response, bool keep_alive, bool http10);

// Writes head then body to a non-blocking socket, waiting for it to drain
// in slices of at most 100 ms. Gives up when no byte could be written for
// idle_timeout_ms, or once *abort is set. Returns true if all was written.
// Never raises SIGPIPE.
bool WriteAll(int fd, std::string_view head, std::string_view body, int idle_timeout_ms,
              const std::atomic<bool>* abort);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_HTTP_RESPONSE_WRITER_H_
