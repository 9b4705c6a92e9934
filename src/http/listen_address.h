// SPDX-License-Identifier: Apache-2.0
//
// Parsing of the listener's "host:port" address. Not signal-safe.

#ifndef CPPROF_SRC_HTTP_LISTEN_ADDRESS_H_
#define CPPROF_SRC_HTTP_LISTEN_ADDRESS_H_

#include <sys/socket.h>

#include <string>

#include "cpprof/status.h"

namespace cpprof {
namespace internal {

struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = 0;           // AF_INET or AF_INET6
  int port = 0;             // 0: any free port
  bool loopback = false;    // 127.0.0.0/8, ::1, ::ffff:127.x.x.x
};

// Accepts "127.0.0.1:6060", "[::1]:6060", "localhost:6060" (→ 127.0.0.1),
// ":6060" and "0.0.0.0:6060" (all IPv4 interfaces), "[::]:6060". Host names
// other than localhost are refused: binding must not depend on DNS.
Status ParseListenAddress(const std::string& text, ListenAddress* out);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_HTTP_LISTEN_ADDRESS_H_
