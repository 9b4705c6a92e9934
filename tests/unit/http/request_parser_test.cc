// SPDX-License-Identifier: Apache-2.0

#include "http/request_parser.h"

#include <doctest/doctest.h>

using namespace cpprof::internal;

namespace {

ParseStatus Parse(const std::string& text, RequestHead* head, int* status, ParserLimits limits = ParserLimits()) {
  std::string message;
  return ParseRequestHead(text, limits, head, status, &message);
}

}  // namespace

TEST_CASE("A complete HTTP/1.1 request head is parsed with its headers") {
  RequestHead head;
  int status = 0;
  std::string text = "GET /debug/pprof/heap?debug=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept:  */*  \r\n\r\nrest";
  REQUIRE(Parse(text, &head, &status) == ParseStatus::kComplete);
  CHECK(head.method == "GET");
  CHECK(head.target == "/debug/pprof/heap?debug=1");
  CHECK(head.minor_version == 1);
  CHECK(head.keep_alive);
  CHECK(head.headers.size() == 2);
  CHECK(head.headers[1].second == "*/*");
  CHECK(head.head_bytes == text.size() - 4);
}

TEST_CASE("An unfinished head is incomplete until the empty line arrives") {
  RequestHead head;
  int status = 0;
  CHECK(Parse("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n", &head, &status) == ParseStatus::kIncomplete);
  CHECK(Parse("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r", &head, &status) == ParseStatus::kIncomplete);
  CHECK(Parse("GET / HTTP/1.1\nHost: x\n\n", &head, &status) == ParseStatus::kComplete);
}

TEST_CASE("Keep-alive follows the version and the Connection header") {
  RequestHead head;
  int status = 0;
  REQUIRE(Parse("GET / HTTP/1.0\r\n\r\n", &head, &status) == ParseStatus::kComplete);
  CHECK_FALSE(head.keep_alive);
  REQUIRE(Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &head, &status) == ParseStatus::kComplete);
  CHECK(head.keep_alive);
  REQUIRE(Parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &head, &status) == ParseStatus::kComplete);
  CHECK_FALSE(head.keep_alive);
}

TEST_CASE("An oversized head gets 431 even before it is complete") {
  RequestHead head;
  int status = 0;
  ParserLimits limits;
  limits.max_header_bytes = 256;
  std::string big = "GET / HTTP/1.1\r\nX-Big: " + std::string(300, 'a');
  CHECK(Parse(big, &head, &status, limits) == ParseStatus::kError);
  CHECK(status == 431);
  CHECK(Parse(big + "\r\n\r\n", &head, &status, limits) == ParseStatus::kError);
  CHECK(status == 431);
}

TEST_CASE("Too many header lines get 431") {
  RequestHead head;
  int status = 0;
  ParserLimits limits;
  limits.max_headers = 3;
  std::string text = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 4; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
  CHECK(Parse(text + "\r\n", &head, &status, limits) == ParseStatus::kError);
  CHECK(status == 431);
}

TEST_CASE("Body limits are decided from Content-Length") {
  RequestHead head;
  int status = 0;
  ParserLimits limits;
  limits.max_body_bytes = 10;
  REQUIRE(Parse("POST /s HTTP/1.1\r\nContent-Length: 10\r\n\r\n", &head, &status, limits) == ParseStatus::kComplete);
  CHECK(head.content_length == 10);
  CHECK(Parse("POST /s HTTP/1.1\r\nContent-Length: 11\r\n\r\n", &head, &status, limits) == ParseStatus::kError);
  CHECK(status == 413);
}

TEST_CASE("Chunked bodies, bad or conflicting lengths and folding are refused") {
  RequestHead head;
  int status = 0;
  CHECK(Parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &head, &status) == ParseStatus::kError);
  CHECK(status == 411);
  CHECK(Parse("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", &head, &status) == ParseStatus::kError);
  CHECK(status == 400);
  CHECK(Parse("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &head, &status) ==
        ParseStatus::kError);
  CHECK(status == 400);
  CHECK(Parse("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", &head, &status) == ParseStatus::kError);
  CHECK(status == 400);
  CHECK(Parse("GET / HTTP/1.1\r\nA : b\r\n\r\n", &head, &status) == ParseStatus::kError);
  CHECK(status == 400);
}

TEST_CASE("Malformed request lines and versions are refused") {
  RequestHead head;
  int status = 0;
  CHECK(Parse("GET /\r\n\r\n", &head, &status) == ParseStatus::kError);
  CHECK(status == 400);
  CHECK(Parse("GET / HTTP/2.0\r\n\r\n", &head, &status) == ParseStatus::kError);
  CHECK(status == 505);
  CHECK(Parse("G(T / HTTP/1.1\r\n\r\n", &head, &status) == ParseStatus::kError);
  CHECK(Parse("GET /a b HTTP/1.1\r\n\r\n", &head, &status) == ParseStatus::kError);
}

TEST_CASE("Expect: 100-continue is recognised; other expectations get 417") {
  RequestHead head;
  int status = 0;
  REQUIRE(Parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n", &head, &status) ==
          ParseStatus::kComplete);
  CHECK(head.expect_continue);
  CHECK(Parse("POST / HTTP/1.1\r\nExpect: magic\r\n\r\n", &head, &status) == ParseStatus::kError);
  CHECK(status == 417);
}
