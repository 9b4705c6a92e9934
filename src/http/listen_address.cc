// SPDX-License-Identifier: Apache-2.0

#include "http/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdlib>
#include <cstring>

namespace cpprof {
namespace internal {

Status ParseListenAddress(const std::string& text, ListenAddress* out) {
  *out = ListenAddress();
  std::string host;
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status(StatusCode::kInvalidArgument, "bad listen address \"" + text + "\": want [ipv6]:port");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
      return Status(StatusCode::kInvalidArgument, "bad listen address \"" + text + "\": want host:port");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return Status(StatusCode::kInvalidArgument,
                    "bad listen address \"" + text + "\": write IPv6 hosts in brackets, [::1]:port");
    }
  }
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos || std::atoi(port_text.c_str()) > 65535) {
    return Status(StatusCode::kInvalidArgument, "bad port in listen address \"" + text + "\"");
  }
  out->port = std::atoi(port_text.c_str());
  if (host == "localhost") host = "127.0.0.1";
  if (host.empty()) host = "0.0.0.0";

  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out->storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(out->port));
    sin->sin_addr = v4;
    out->length = sizeof(sockaddr_in);
    out->family = AF_INET;
    out->loopback = (ntohl(v4.s_addr) >> 24) == 127;
    return Status();
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(out->port));
    sin6->sin6_addr = v6;
    out->length = sizeof(sockaddr_in6);
    out->family = AF_INET6;
    out->loopback = IN6_IS_ADDR_LOOPBACK(&v6) ||
                    (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
    return Status();
  }
  return Status(StatusCode::kInvalidArgument,
                "bad host in listen address \"" + text + "\": want an IP address or localhost");
}

}  // namespace internal
}  // namespace cpprof
