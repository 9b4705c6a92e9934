// SPDX-License-Identifier: Apache-2.0

#include "http/response_writer.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

#include "http/http_util.h"

namespace cpprof {
namespace internal {

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string SerializeResponseHead(const Response& response, bool keep_alive, bool http10) {
  int status = response.status < 100 || response.status > 999 ? 500 : response.status;
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) + "\r\n";
  for (const auto& h : response.headers) {
    if (EqualsIgnoreCase(h.first, "Content-Length") || EqualsIgnoreCase(h.first, "Connection") ||
        EqualsIgnoreCase(h.first, "Transfer-Encoding")) {
      continue;
    }
    // Header injection guard: a CR or LF from a handler would start a new header.
    bool clean = true;
    for (char c : h.first + h.second) {
      if (c == '\r' || c == '\n' || c == '\0') clean = false;
    }
    if (!clean || h.first.empty()) continue;
    out += h.first + ": " + h.second + "\r\n";
  }
  if (!(status < 200 || status == 204 || status == 304)) {
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  return out;
}

bool WriteAll(int fd, std::string_view head, std::string_view body, int idle_timeout_ms,
              const std::atomic<bool>* abort) {
  size_t head_done = 0;
  size_t body_done = 0;
  int idle_ms = 0;
  while (head_done < head.size() || body_done < body.size()) {
    iovec iov[2];
    int n = 0;
    if (head_done < head.size()) {
      iov[n].iov_base = const_cast<char*>(head.data() + head_done);
      iov[n].iov_len = head.size() - head_done;
      ++n;
    }
    if (body_done < body.size()) {
      iov[n].iov_base = const_cast<char*>(body.data() + body_done);
      iov[n].iov_len = body.size() - body_done;
      ++n;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n);
    ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (w > 0) {
      size_t left = static_cast<size_t>(w);
      size_t h = std::min(left, head.size() - head_done);
      head_done += h;
      left -= h;
      body_done += left;
      idle_ms = 0;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    if (abort != nullptr && abort->load(std::memory_order_relaxed)) return false;
    if (idle_ms >= idle_timeout_ms) return false;
    pollfd p{fd, POLLOUT, 0};
    int slice = std::min(100, idle_timeout_ms - idle_ms);
    int r = poll(&p, 1, slice);
    if (r < 0 && errno != EINTR) return false;
    if (r == 0) idle_ms += slice;
    if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
  }
  return true;
}

}  // namespace internal
}  // namespace cpprof
