// SPDX-License-Identifier: Apache-2.0
//
// Browser-origin safety: what keeps a web page the operator happens to visit
// from reading profiles, symbols or the command line from a loopback
// endpoint, or from starting a long CPU profile with a plain GET.
//
//   - DNS rebinding: a page at http://attacker.example:6060/ whose name is
//     re-pointed at 127.0.0.1 is, to the browser, same-origin with itself; the
//     only trace is the Host header. Without a token, Host must be an IP
//     literal, `localhost` (or a `.localhost` name, which browsers resolve
//     themselves) or a name the operator allowed (Options::allowed_hosts).
//   - Cross-site requests (fetch, <img>, <script>, forms) from any page: a
//     browser marks them with Origin and Sec-Fetch-Site. A request whose
//     Origin is not the endpoint's own, or whose Sec-Fetch-Site is
//     cross-site or same-site, is refused, with or without a token (a
//     browser replays cached Basic credentials on cross-site requests).
//
// Non-browser clients (go tool pprof, curl, Prometheus, Parca, Alloy) send
// none of these headers but Host, which they set to what they were given.
// Not signal-safe.

#ifndef CPPROF_SRC_HTTP_ORIGIN_POLICY_H_
#define CPPROF_SRC_HTTP_ORIGIN_POLICY_H_

#include <string>
#include <string_view>
#include <vector>

#include "http/http_util.h"

namespace cpprof {
namespace internal {

struct OriginPolicy {
  // Extra Host names (without port), case-insensitive; ".example.com" also
  // allows every name under it; "*" allows any Host.
  std::vector<std::string> allowed_hosts;
};

// True if the request may be served; otherwise *why is the sentence the
// 403 answer carries. The Host check runs only if `check_host` (no token).
bool OriginAllowed(const HeaderList& headers, const OriginPolicy& policy, bool check_host, std::string* why);

// The host part of a Host header value ("[::1]:6060" -> "::1",
// "Example.com:80" -> "example.com"); false if it is malformed.
bool HostOfHostHeader(std::string_view value, std::string* host);

// Splits a comma- or space-separated list (CPPROF_ALLOWED_HOSTS).
std::vector<std::string> SplitHostList(std::string_view text);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_HTTP_ORIGIN_POLICY_H_
