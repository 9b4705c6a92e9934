# SPDX-License-Identifier: Apache-2.0
#
# Installs the build in BUILD_DIR into a fresh PREFIX (tests/cmake/).
#   cmake -DBUILD_DIR=... -DPREFIX=... -P install_prefix.cmake
foreach(v BUILD_DIR PREFIX)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "install_prefix.cmake: ${v} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc}):\n${out}")
endif()
# What a consumer relies on must be there.
file(GLOB config "${PREFIX}/*/cmake/cpprof/cpprofConfig.cmake" "${PREFIX}/*/*/cmake/cpprof/cpprofConfig.cmake")
file(GLOB pc "${PREFIX}/*/pkgconfig/cpprof.pc" "${PREFIX}/*/*/pkgconfig/cpprof.pc")
foreach(f config pc)
  if(NOT ${f})
    message(FATAL_ERROR "installed prefix has no ${f} file:\n${out}")
  endif()
endforeach()
if(NOT EXISTS "${PREFIX}/include/cpprof/cpprof.h")
  message(FATAL_ERROR "installed prefix has no include/cpprof/cpprof.h")
endif()
message(STATUS "installed into ${PREFIX}")
