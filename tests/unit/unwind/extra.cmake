# Unwinder tests: libunwind is the oracle (test binary only, never the library),
# and no_frame_pointer_code.cc is built without frame pointers so the walk has
# to use CFI through it, as through Debian's libc/libstdc++.
target_link_libraries(cpprof_unwind_tests PRIVATE PkgConfig::CPPROF_LIBUNWIND)
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/unit/unwind/no_frame_pointer_code.cc
  PROPERTIES COMPILE_OPTIONS "-fomit-frame-pointer;-O2")
