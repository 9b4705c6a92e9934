// SPDX-License-Identifier: Apache-2.0
//
// Demangle(): abi::__cxa_demangle, which allocates; request time only.

#include <cxxabi.h>

#include <cstdlib>
#include <string>

#include "symbolize/symbolizer.h"

namespace cpprof {
namespace internal {

std::string Demangle(const std::string& mangled) {
  // Only Itanium names ("_Z..."): __cxa_demangle also accepts bare type
  // encodings, which would turn a C symbol such as "i" into "int".
  if (mangled.size() < 3 || mangled[0] != '_' || mangled[1] != 'Z') return mangled;
  int status = 0;
  char* out = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
  if (status != 0 || out == nullptr) {
    free(out);
    return mangled;
  }
  std::string result(out);
  free(out);
  return result;
}

}  // namespace internal
}  // namespace cpprof
