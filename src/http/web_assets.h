// SPDX-License-Identifier: Apache-2.0
//
// Files of web/ embedded into the library at build time
// (cmake/CpprofEmbedAssets.cmake generates the definitions).

#ifndef CPPROF_SRC_HTTP_WEB_ASSETS_H_
#define CPPROF_SRC_HTTP_WEB_ASSETS_H_

#include <cstddef>
#include <string_view>

namespace cpprof {
namespace internal {

struct WebAsset {
  std::string_view path;          // relative to web/, e.g. "index.html"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view data;
};

// Returns the asset at `path` (relative to web/), or nullptr.
const WebAsset* FindWebAsset(std::string_view path);
// Returns all assets; *count receives their number.
const WebAsset* WebAssets(size_t* count);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_HTTP_WEB_ASSETS_H_
