# Script mode: -DDIR=<web dir> -DOUT=<generated .cc>. See CpprofEmbedAssets.cmake.
file(GLOB_RECURSE files RELATIVE ${DIR} ${DIR}/*)
list(SORT files)
set(body "")
set(table "")
set(i 0)
foreach(f ${files})
  if(f MATCHES "(^|/)(node_modules|test|tests)/" OR f MATCHES "(^|/)\\.")
    continue()
  endif()
  get_filename_component(ext ${f} LAST_EXT)
  set(type "application/octet-stream")
  if(ext STREQUAL ".html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL ".js" OR ext STREQUAL ".mjs")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL ".css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL ".png")
    set(type "image/png")
  elseif(ext STREQUAL ".json" OR ext STREQUAL ".map")
    set(type "application/json")
  elseif(ext STREQUAL ".txt")
    set(type "text/plain; charset=utf-8")
  elseif(ext STREQUAL ".ico")
    set(type "image/x-icon")
  elseif(ext STREQUAL ".woff2")
    set(type "font/woff2")
  elseif(ext STREQUAL ".wasm")
    set(type "application/wasm")
  elseif(ext STREQUAL ".md")
    continue()
  endif()
  if(f MATCHES "[\"\\\\]")
    message(WARNING "cpprof: not embedding web file with a quote or backslash in its name: ${f}")
    continue()
  endif()
  file(READ ${DIR}/${f} hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR n "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "static const unsigned char kAsset${i}[] = {${bytes} 0};\n")
  string(APPEND table "  {\"${f}\", \"${type}\", {reinterpret_cast<const char*>(kAsset${i}), ${n}}},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from web/ by cmake/CpprofEmbedAssetsRun.cmake. Do not edit.
#include \"http/web_assets.h\"
namespace cpprof {
namespace internal {
namespace {
${body}
const WebAsset kAssets[] = {
${table}  {\"\", \"\", {}},
};
}  // namespace
const WebAsset* WebAssets(size_t* count) {
  *count = sizeof(kAssets) / sizeof(kAssets[0]) - 1;
  return kAssets;
}
const WebAsset* FindWebAsset(std::string_view path) {
  for (const WebAsset& a : kAssets) {
    if (!a.path.empty() && a.path == path) return &a;
  }
  return nullptr;
}
}  // namespace internal
}  // namespace cpprof
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
