// SPDX-License-Identifier: Apache-2.0
//
// Parser for an HTTP/1.x request head, used by the own listener. It works
// on whatever bytes have arrived so far and says whether the head is
// complete, still incomplete, or wrong (with the status to answer).
// Not signal-safe.

#ifndef CPPROF_SRC_HTTP_REQUEST_PARSER_H_
#define CPPROF_SRC_HTTP_REQUEST_PARSER_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "http/http_util.h"

namespace cpprof {
namespace internal {

struct RequestHead {
  std::string method;
  std::string target;
  int minor_version = 1;       // HTTP/1.<minor_version>
  HeaderList headers;
  size_t head_bytes = 0;       // bytes of the head, final empty line included
  size_t content_length = 0;   // body bytes that follow the head
  bool keep_alive = true;      // the connection may carry another request
  bool expect_continue = false;
};

struct ParserLimits {
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 1024 * 1024;
  size_t max_headers = 100;
};

enum class ParseStatus { kIncomplete, kComplete, kError };

// Parses the head at the start of `buffer`. On kError, *error_status is the
// HTTP status to answer (400, 411, 413, 417, 431, 501, 505) and
// *error_message a short reason; the connection must then be closed.
ParseStatus ParseRequestHead(std::string_view buffer, const ParserLimits& limits, RequestHead* head,
                             int* error_status, std::string* error_message);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_HTTP_REQUEST_PARSER_H_
