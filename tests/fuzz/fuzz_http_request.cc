// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: bytes as they arrive on a connection of the own
// listener. The head parser (request_parser.cc) takes them; a complete head
// is served by the routes as the listener would (query parsing, percent
// decoding, the token in Authorization Bearer/Basic or ?token=, the Host
// and Origin checks, the symbol route's address list, the page's files,
// every profile kind's parameter checks). The client counts as gone from
// the start, so a request that would wait (a CPU profile, seconds=N) ends
// at once. Invariants: a parse
// error names a 4xx/5xx status; every answer has a status in 100..599.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cpprof/handler.h"
#include "cpprof/options.h"
#include "http/request_parser.h"
#include "http/routes.h"

namespace {

const cpprof::internal::EndpointConfig& Config(bool with_token) {
  static const cpprof::internal::EndpointConfig with = [] {
    cpprof::Options o;
    o.token = "s3cret";
    o.allowed_hosts = {"debug.example", ".corp.example"};
    return cpprof::internal::EndpointConfigFromOptions(o);
  }();
  static const cpprof::internal::EndpointConfig without =
      cpprof::internal::EndpointConfigFromOptions(cpprof::Options());
  return with_token ? with : without;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the configuration; the rest is the stream.
  const bool with_token = (data[0] & 1) != 0;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  cpprof::internal::ParserLimits limits;
  limits.max_header_bytes = 4096;
  limits.max_body_bytes = 4096;
  cpprof::internal::RequestHead head;
  int status = 0;
  std::string message;
  const auto result = cpprof::internal::ParseRequestHead(stream, limits, &head, &status, &message);
  if (result == cpprof::internal::ParseStatus::kError) {
    if (status < 400 || status > 599 || message.empty()) abort();
    return 0;
  }
  if (result != cpprof::internal::ParseStatus::kComplete) return 0;
  if (head.head_bytes > stream.size()) abort();
  cpprof::Request request;
  request.method = head.method;
  request.target = head.target;
  for (const auto& h : head.headers) request.headers.emplace_back(h.first, h.second);
  const std::string_view rest = stream.substr(head.head_bytes);
  request.body = std::string(rest.substr(0, std::min(rest.size(), head.content_length)));
  request.cancelled = [] { return true; };
  cpprof::Response response = cpprof::internal::HandleWithConfig(request, Config(with_token));
  if (response.status < 100 || response.status > 599) abort();
  return 0;
}
