// SPDX-License-Identifier: Apache-2.0
//
// Small, allocation-bounded text helpers shared by the routes and the own
// listener: percent-decoding, query parsing, HTML/JSON escaping, base64,
// constant-time comparison, header lookup. Not signal-safe.

#ifndef CPPROF_SRC_HTTP_HTTP_UTIL_H_
#define CPPROF_SRC_HTTP_HTTP_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cpprof {
namespace internal {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Decodes %XX escapes; with plus_is_space, '+' becomes ' ' (form encoding).
// Returns false on a malformed escape ("%4", "%zz"); *out is then unspecified.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

// One query parameter, decoded.
struct QueryParam {
  std::string key;
  std::string value;
};

// Splits "a=1&b=%20x" into decoded pairs, in order. Returns false on a
// malformed escape or when there are more than max_params pairs.
bool ParseQuery(std::string_view query, size_t max_params, std::vector<QueryParam>* out);

// Removes every "token=..." pair from a raw (still encoded) query and
// returns what remains, pairs joined by '&' as they were.
std::string StripQueryParam(std::string_view query, std::string_view key);

// Splits a request target into path and raw query (without '?'). An
// absolute-form target ("http://host/p?q") is reduced to its path.
void SplitTarget(std::string_view target, std::string* path, std::string* query);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string HtmlEscape(std::string_view in);
// Returns `in` as a JSON string literal, quotes included. Bytes that are
// not valid UTF-8 are replaced by U+FFFD so the output is always valid JSON.
std::string JsonString(std::string_view in);
// Formats a double for JSON/Prometheus: integers without a fraction, NaN/Inf as 0.
std::string FormatNumber(double v);

// Standard base64 (RFC 4648) decoding; whitespace is not allowed. Returns
// false on bad input.
bool Base64Decode(std::string_view in, std::string* out);

// Compares in time that depends only on the lengths, not on where the
// strings first differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// ASCII case-insensitive equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Returns the first header named `name` (case-insensitive), or nullptr.
const std::string* FindHeader(const HeaderList& headers, std::string_view name);

// Returns true if a comma-separated header value (e.g. Connection) contains
// `token`, case-insensitively.
bool HeaderHasToken(std::string_view value, std::string_view token);

// 64-bit FNV-1a, for ETags.
uint64_t Fnv1a64(std::string_view data);

// Trims spaces and tabs at both ends.
std::string_view TrimWhitespace(std::string_view s);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_HTTP_HTTP_UTIL_H_
