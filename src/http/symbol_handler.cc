// SPDX-License-Identifier: Apache-2.0
//
// /symbol, as `go tool pprof` uses it for remote symbolization:
//   GET  /symbol            → "num_symbols: 1\n" (pprof only checks that it is not 0)
//   POST /symbol  body "0x4005d4+0x400620"
//   GET  /symbol?0x4005d4+0x400620
//        → "num_symbols: 1\n" then "0x<addr> <name>\n" for each address that
//          resolves; unresolvable ones are left out, as in Go.
// pprof sends the addresses its profile holds (already adjusted for
// callers), so they are looked up as given. The lookup uses ELF symbol
// tables only (no DWARF): pprof asks for function names, not lines, and
// the request may list tens of thousands of addresses. The module list is
// read once per request. Input is bounded by max_body_bytes.

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "http/routes.h"
#include "symbolize/symbolizer.h"

namespace cpprof {
namespace internal {
namespace {

std::vector<std::string> DefaultLookup(const std::vector<uint64_t>& addresses) {
  std::vector<std::string> names(addresses.size());
  if (addresses.empty()) return names;
  std::vector<Module> modules = ListModules();
  for (size_t i = 0; i < addresses.size(); ++i) {
    int m = FindModule(modules, static_cast<uintptr_t>(addresses[i]));
    if (m < 0) continue;
    names[i] = Symbolizer::Global().SymbolName(modules[static_cast<size_t>(m)],
                                               static_cast<uintptr_t>(addresses[i]));
  }
  return names;
}

std::mutex& LookupMutex() {
  static std::mutex* mu = new std::mutex();  // used until exit
  return *mu;
}

SymbolLookup& LookupOverride() {
  static SymbolLookup* lookup = new SymbolLookup();
  return *lookup;
}

SymbolLookup CurrentLookup() {
  std::lock_guard<std::mutex> lock(LookupMutex());
  if (LookupOverride()) return LookupOverride();
  return DefaultLookup;
}

// Parses one word the way Go's strconv.ParseUint(word, 0, 64) does for
// what pprof sends: 0x-prefixed hex, or decimal.
bool ParseAddress(std::string_view word, uint64_t* out) {
  word = TrimWhitespace(word);
  while (!word.empty() && (word.back() == '\n' || word.back() == '\r')) word.remove_suffix(1);
  while (!word.empty() && (word.front() == '\n' || word.front() == '\r')) word.remove_prefix(1);
  if (word.empty() || word.size() > 20) return false;
  std::string s(word);
  int base = 10;
  size_t start = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    start = 2;
  }
  const char* digits = base == 16 ? "0123456789abcdefABCDEF" : "0123456789";
  if (s.find_first_not_of(digits, start) != std::string::npos) return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = strtoull(s.c_str() + start, &end, base);
  if (errno != 0 || end == s.c_str() + start) return false;
  *out = v;
  return true;
}

}  // namespace

void SetSymbolLookupForTesting(SymbolLookup lookup) {
  std::lock_guard<std::mutex> lock(LookupMutex());
  LookupOverride() = std::move(lookup);
}

void ServeSymbol(const RouteContext& ctx, Response* response) {
  std::string_view input;
  if (ctx.method == "POST") {
    if (ctx.request->body.size() > ctx.config->max_body_bytes) {
      ServeError(response, 413, "Request body too large");
      return;
    }
    input = ctx.request->body;
  } else {
    input = ctx.raw_query;
  }
  std::vector<uint64_t> addresses;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t plus = input.find('+', pos);
    if (plus == std::string_view::npos) plus = input.size();
    uint64_t a;
    if (ParseAddress(input.substr(pos, plus - pos), &a)) addresses.push_back(a);
    pos = plus + 1;
  }
  std::vector<std::string> names = CurrentLookup()(addresses);

  std::string out = "num_symbols: 1\n";
  char buf[32];
  for (size_t i = 0; i < addresses.size() && i < names.size(); ++i) {
    if (names[i].empty()) continue;
    snprintf(buf, sizeof(buf), "0x%" PRIx64 " ", addresses[i]);
    out += buf;
    // One line per address: a name can never break the format.
    for (char c : names[i]) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
    out.push_back('\n');
  }
  response->status = 200;
  SetHeader(response, "Content-Type", "text/plain; charset=utf-8");
  response->body = std::move(out);
}

}  // namespace internal
}  // namespace cpprof
