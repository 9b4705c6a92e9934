# Warning flags and the sanitizer preset (CPPROF_SANITIZE) for every target
# the project compiles.
function(cpprof_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter
    -Wno-missing-field-initializers)
endfunction()

if(CPPROF_SANITIZE)
  add_compile_options(-fsanitize=${CPPROF_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${CPPROF_SANITIZE})
endif()

# Fuzzing builds: coverage instrumentation everywhere, libFuzzer's main
# linked into the fuzz targets only (tests/fuzz).
if(CPPROF_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CPPROF_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
