// SPDX-License-Identifier: Apache-2.0

#include "http/origin_policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace cpprof {
namespace internal {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 5) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool HostAllowed(const std::string& host, const OriginPolicy& policy) {
  if (IsIpLiteral(host)) return true;  // a literal cannot be re-pointed by DNS
  if (host == "localhost") return true;
  constexpr std::string_view kLocal = ".localhost";
  if (host.size() > kLocal.size() && host.compare(host.size() - kLocal.size(), kLocal.size(), kLocal) == 0) {
    return true;  // browsers resolve *.localhost to loopback without DNS
  }
  for (const std::string& allowed : policy.allowed_hosts) {
    std::string a = Lower(allowed);
    if (a == "*" || a == host) return true;
    if (a.size() > 1 && a[0] == '.' && host.size() > a.size() &&
        host.compare(host.size() - a.size(), a.size(), a) == 0) {
      return true;
    }
  }
  return false;
}

// "host:port" as a browser writes it for `scheme`, without a default port.
std::string Authority(std::string_view value, std::string_view scheme) {
  std::string a = Lower(TrimWhitespace(value));
  const std::string default_port = scheme == "https" ? ":443" : ":80";
  if (a.size() > default_port.size() &&
      a.compare(a.size() - default_port.size(), default_port.size(), default_port) == 0) {
    a.resize(a.size() - default_port.size());
  }
  return a;
}

std::string Shown(std::string_view v) {
  std::string s(v.substr(0, 100));
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '"') c = '?';
  }
  return s;
}

}  // namespace

bool HostOfHostHeader(std::string_view value, std::string* host) {
  value = TrimWhitespace(value);
  std::string_view h;
  std::string_view port;
  if (!value.empty() && value[0] == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos) return false;
    h = value.substr(1, close - 1);
    std::string_view rest = value.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port = rest.substr(1);
      if (!AllDigits(port)) return false;
    }
    *host = Lower(h);
    unsigned char buf[16];
    return inet_pton(AF_INET6, host->c_str(), buf) == 1;
  }
  size_t colon = value.find(':');
  h = value.substr(0, colon);
  if (colon != std::string_view::npos) {
    port = value.substr(colon + 1);
    if (!AllDigits(port)) return false;
  }
  if (h.empty() || h.size() > 253) return false;
  for (char c : h) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) return false;
  }
  *host = Lower(h);
  if (host->size() > 1 && host->back() == '.') host->pop_back();  // "localhost." is "localhost"
  return true;
}

std::vector<std::string> SplitHostList(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find_first_of(", \t", i);
    if (j == std::string_view::npos) j = text.size();
    if (j > i) out.emplace_back(text.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool OriginAllowed(const HeaderList& headers, const OriginPolicy& policy, bool check_host, std::string* why) {
  const std::string* host_value = nullptr;
  for (const auto& h : headers) {
    if (!EqualsIgnoreCase(h.first, "Host")) continue;
    if (host_value != nullptr) {
      *why = "Forbidden: more than one Host header";
      return false;
    }
    host_value = &h.second;
  }

  if (const std::string* site = FindHeader(headers, "Sec-Fetch-Site"); site != nullptr) {
    std::string s = Lower(TrimWhitespace(*site));
    if (s == "cross-site" || s == "same-site") {
      *why = "Forbidden: a " + s + " request from another web page (Sec-Fetch-Site: " + s +
             "); cpprof answers its own page, direct navigation and non-browser clients only";
      return false;
    }
  }

  if (const std::string* origin = FindHeader(headers, "Origin"); origin != nullptr) {
    std::string_view o = TrimWhitespace(*origin);
    std::string_view scheme;
    if (o.substr(0, 7) == "http://") {
      scheme = "http";
    } else if (o.substr(0, 8) == "https://") {
      scheme = "https";
    }
    bool same = !scheme.empty() && host_value != nullptr &&
                Authority(o.substr(scheme.size() + 3), scheme) == Authority(*host_value, scheme);
    if (!same) {
      *why = "Forbidden: cross-origin request (Origin \"" + Shown(o) +
             "\" is not this endpoint); cpprof answers its own page, direct navigation and non-browser "
             "clients only";
      return false;
    }
  }

  if (check_host && host_value != nullptr) {
    std::string host;
    if (!HostOfHostHeader(*host_value, &host)) {
      *why = "Forbidden: malformed Host header \"" + Shown(*host_value) + "\"";
      return false;
    }
    if (!HostAllowed(host, policy)) {
      *why = "Forbidden: Host \"" + Shown(host) +
             "\" is not an address of this endpoint (a guard against DNS rebinding): use an IP address "
             "or localhost, allow the name with Options::allowed_hosts (CPPROF_ALLOWED_HOSTS), or set a token";
      return false;
    }
  }
  return true;
}

}  // namespace internal
}  // namespace cpprof
