# cpprof_embed_assets(OUT_VAR DIR): turns every file under DIR into a byte
# array in a generated .cc that defines
#   const cpprof::internal::WebAsset* cpprof::internal::FindWebAsset(std::string_view path);
#   const cpprof::internal::WebAsset* cpprof::internal::WebAssets(size_t* count);
# (declared in src/http/web_assets.h). The build regenerates it whenever a file
# under DIR changes.
set(CPPROF_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/CpprofEmbedAssetsRun.cmake)
function(cpprof_embed_assets out_var dir)
  file(GLOB_RECURSE files CONFIGURE_DEPENDS ${dir}/*)
  set(out ${PROJECT_BINARY_DIR}/generated/web_assets.cc)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DDIR=${dir} -DOUT=${out} -P ${CPPROF_EMBED_SCRIPT}
    DEPENDS ${files} ${CPPROF_EMBED_SCRIPT}
    COMMENT "Embedding web assets")
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
