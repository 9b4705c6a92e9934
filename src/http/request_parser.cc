// SPDX-License-Identifier: Apache-2.0
//
// HTTP/1.x request-head parsing (RFC 9112), strict where leniency enables
// request smuggling and lenient where clients commonly differ:
//   - lines may end in CRLF or a bare LF; empty lines before the request
//     line are skipped;
//   - obsolete line folding, whitespace before a header colon, conflicting
//     Content-Length values and any Transfer-Encoding (no chunked request
//     bodies: nothing cpprof serves takes a large body) are refused;
//   - the head is bounded by max_header_bytes (431 even before it is
//     complete), the header count by max_headers, the body by
//     max_body_bytes (413, decided from Content-Length before reading it).

#include "http/request_parser.h"

namespace cpprof {
namespace internal {
namespace {

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

ParseStatus Fail(int status, const char* message, int* error_status, std::string* error_message) {
  *error_status = status;
  *error_message = message;
  return ParseStatus::kError;
}

}  // namespace

ParseStatus ParseRequestHead(std::string_view buffer, const ParserLimits& limits, RequestHead* head,
                             int* error_status, std::string* error_message) {
  *head = RequestHead();
  size_t start = 0;
  while (start < buffer.size() && (buffer[start] == '\r' || buffer[start] == '\n')) ++start;
  if (start > 64) return Fail(400, "Bad Request", error_status, error_message);

  // Find the end of the head: an empty line.
  size_t end = std::string_view::npos;
  size_t body_start = 0;
  for (size_t i = start; i < buffer.size(); ++i) {
    if (buffer[i] != '\n') continue;
    size_t next = i + 1;
    if (next < buffer.size() && buffer[next] == '\n') {
      end = i + 1;
      body_start = next + 1;
      break;
    }
    if (next + 1 < buffer.size() && buffer[next] == '\r' && buffer[next + 1] == '\n') {
      end = i + 1;
      body_start = next + 2;
      break;
    }
  }
  if (end == std::string_view::npos) {
    if (buffer.size() > limits.max_header_bytes) {
      return Fail(431, "Request Header Fields Too Large", error_status, error_message);
    }
    return ParseStatus::kIncomplete;
  }
  if (body_start > limits.max_header_bytes) {
    return Fail(431, "Request Header Fields Too Large", error_status, error_message);
  }
  head->head_bytes = body_start;

  std::string_view text = buffer.substr(start, end - start);
  auto next_line = [&text]() {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };

  // Request line: METHOD SP target SP HTTP/1.x
  std::string_view line = next_line();
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Fail(400, "Bad Request", error_status, error_message);
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  for (char c : method) {
    if (!IsTokenChar(c)) return Fail(400, "Bad Request", error_status, error_message);
  }
  if (target.empty()) return Fail(400, "Bad Request", error_status, error_message);
  for (char c : target) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return Fail(400, "Bad Request", error_status, error_message);
  }
  if (version.size() != 8 || version.compare(0, 5, "HTTP/") != 0 || version[6] != '.' || version[5] < '0' ||
      version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return Fail(400, "Bad Request", error_status, error_message);
  }
  if (version[5] != '1') return Fail(505, "HTTP Version Not Supported", error_status, error_message);
  head->method.assign(method);
  head->target.assign(target);
  head->minor_version = version[7] - '0';

  bool have_length = false;
  while (!text.empty()) {
    line = next_line();
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      return Fail(400, "Bad Request: obsolete line folding", error_status, error_message);
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return Fail(400, "Bad Request", error_status, error_message);
    std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!IsTokenChar(c)) return Fail(400, "Bad Request", error_status, error_message);
    }
    std::string_view value = TrimWhitespace(line.substr(colon + 1));
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && u != '\t') || u == 0x7F) return Fail(400, "Bad Request", error_status, error_message);
    }
    if (head->headers.size() >= limits.max_headers) {
      return Fail(431, "Request Header Fields Too Large", error_status, error_message);
    }
    if (EqualsIgnoreCase(name, "Content-Length")) {
      if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string_view::npos) {
        return Fail(400, "Bad Request: bad Content-Length", error_status, error_message);
      }
      size_t n = 0;
      for (char c : value) n = n * 10 + static_cast<size_t>(c - '0');
      if (have_length && n != head->content_length) {
        return Fail(400, "Bad Request: conflicting Content-Length", error_status, error_message);
      }
      have_length = true;
      head->content_length = n;
    } else if (EqualsIgnoreCase(name, "Transfer-Encoding")) {
      return Fail(411, "Length Required: chunked request bodies are not accepted", error_status, error_message);
    } else if (EqualsIgnoreCase(name, "Expect")) {
      if (!EqualsIgnoreCase(value, "100-continue")) {
        return Fail(417, "Expectation Failed", error_status, error_message);
      }
      head->expect_continue = true;
    }
    head->headers.emplace_back(std::string(name), std::string(value));
  }
  if (head->content_length > limits.max_body_bytes) {
    return Fail(413, "Request body too large", error_status, error_message);
  }
  const std::string* connection = FindHeader(head->headers, "Connection");
  if (head->minor_version == 0) {
    head->keep_alive = connection != nullptr && HeaderHasToken(*connection, "keep-alive");
  } else {
    head->keep_alive = connection == nullptr || !HeaderHasToken(*connection, "close");
  }
  return ParseStatus::kComplete;
}

}  // namespace internal
}  // namespace cpprof
