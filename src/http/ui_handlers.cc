// SPDX-License-Identifier: Apache-2.0
//
// /ui/: the flame-graph page, served from the web/ files embedded at build
// time (cmake/CpprofEmbedAssets.cmake).
//   /ui        → 301 to /ui/ (relative URLs in the page need the slash)
//   /ui/       → index.html
//   /ui/<file> → that file with its content type
// Every asset is sent with Cache-Control: no-cache and an ETag of its
// content hash, so a browser revalidates (304 on If-None-Match) and never
// runs a stale script after the library is upgraded. The page talks only to
// its own origin, so a strict Content-Security-Policy (no inline script, no
// eval, no third-party fetch) limits what a hostile frame name in a profile
// could ever do.

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "http/routes.h"

namespace cpprof {
namespace internal {
namespace {

constexpr char kUiCsp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'";

struct AssetTable {
  const WebAsset* assets = nullptr;
  size_t count = 0;
};

std::mutex& TableMutex() {
  static std::mutex* mu = new std::mutex();  // used until exit
  return *mu;
}

AssetTable& TestTable() {
  static AssetTable table;
  return table;
}

const WebAsset* LookupAsset(std::string_view path) {
  {
    std::lock_guard<std::mutex> lock(TableMutex());
    const AssetTable& t = TestTable();
    if (t.assets != nullptr) {
      for (size_t i = 0; i < t.count; ++i) {
        if (t.assets[i].path == path) return &t.assets[i];
      }
      return nullptr;
    }
  }
  return FindWebAsset(path);
}

// ETags are computed once per asset (the data is immutable) and cached by
// the asset's address; the table holds at most one entry per asset.
std::string AssetEtag(const WebAsset& asset) {
  static std::mutex* mu = new std::mutex();
  static auto* cache = new std::unordered_map<const void*, std::string>();
  std::lock_guard<std::mutex> lock(*mu);
  auto it = cache->find(asset.data.data());
  if (it != cache->end() && it->second.size() > 0) return it->second;
  char buf[32];
  snprintf(buf, sizeof(buf), "\"%016" PRIx64 "\"", Fnv1a64(asset.data));
  if (cache->size() < 1024) (*cache)[asset.data.data()] = buf;
  return buf;
}

// True if an If-None-Match value ("a", W/"b", *) matches `etag`.
bool EtagMatches(std::string_view header, const std::string& etag) {
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string_view::npos) comma = header.size();
    std::string_view tag = TrimWhitespace(header.substr(pos, comma - pos));
    if (tag.size() > 2 && tag.compare(0, 2, "W/") == 0) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
    pos = comma + 1;
  }
  return false;
}

}  // namespace

void SetWebAssetsForTesting(const WebAsset* assets, size_t count) {
  std::lock_guard<std::mutex> lock(TableMutex());
  TestTable().assets = assets;
  TestTable().count = assets ? count : 0;
}

void ServeUi(const RouteContext& ctx, Response* response) {
  if (ctx.subpath == "ui") {
    std::string location = ctx.prefix + "/ui/";
    if (!ctx.raw_query.empty() || !ctx.link_query.empty()) {
      std::string q = ctx.raw_query;
      if (!ctx.link_query.empty()) q += (q.empty() ? "" : "&") + ctx.link_query;
      location += "?" + q;
    }
    response->status = 301;
    SetHeader(response, "Location", location);
    SetHeader(response, "Content-Type", "text/plain; charset=utf-8");
    response->body = "Moved Permanently\n";
    return;
  }
  std::string file = ctx.subpath.substr(3);  // after "ui/"
  if (file.empty()) file = "index.html";
  const WebAsset* asset = LookupAsset(file);
  if (asset == nullptr) {
    ServeError(response, 404, "Unknown file: " + file);
    return;
  }
  std::string etag = AssetEtag(*asset);
  SetHeader(response, "Cache-Control", "no-cache");
  SetHeader(response, "ETag", etag);
  SetHeader(response, "Content-Security-Policy", kUiCsp);
  SetHeader(response, "Referrer-Policy", "no-referrer");
  const std::string* inm = FindHeader(ctx.request->headers, "If-None-Match");
  if (inm != nullptr && EtagMatches(*inm, etag)) {
    response->status = 304;
    response->body.clear();
    return;
  }
  response->status = 200;
  SetHeader(response, "Content-Type", asset->content_type);
  response->body.assign(asset->data.data(), asset->data.size());
}

}  // namespace internal
}  // namespace cpprof
