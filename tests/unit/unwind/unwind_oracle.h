// SPDX-License-Identifier: Apache-2.0
//
// libunwind as the reference unwinder (test binaries only; never linked into
// the library), plus helpers to compare stacks frame by frame.

#ifndef CPPROF_TESTS_UNIT_UNWIND_UNWIND_ORACLE_H_
#define CPPROF_TESTS_UNIT_UNWIND_UNWIND_ORACLE_H_

#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace cpprof_test {

constexpr int kMaxFrames = 128;

// Walks `cursor` with unw_step, recording each frame's IP.
inline int OracleWalk(unw_cursor_t* cursor, uintptr_t* out, int max) {
  int n = 0;
  do {
    unw_word_t ip = 0;
    if (unw_get_reg(cursor, UNW_REG_IP, &ip) < 0) break;
    out[n++] = static_cast<uintptr_t>(ip);
  } while (n < max && unw_step(cursor) > 0);
  return n;
}

// "addr module!symbol+off" for failure messages.
inline std::string Describe(uintptr_t pc) {
  Dl_info info{};
  char buf[256];
  if (dladdr(reinterpret_cast<void*>(pc), &info) != 0 && info.dli_fname != nullptr) {
    const char* base = info.dli_fname;
    for (const char* p = base; *p; ++p) {
      if (*p == '/') base = p + 1;
    }
    snprintf(buf, sizeof(buf), "%#lx %s!%s+%#lx", static_cast<unsigned long>(pc), base,
             info.dli_sname ? info.dli_sname : "?",
             static_cast<unsigned long>(pc - reinterpret_cast<uintptr_t>(
                                                 info.dli_saddr ? info.dli_saddr : info.dli_fbase)));
  } else {
    snprintf(buf, sizeof(buf), "%#lx ?", static_cast<unsigned long>(pc));
  }
  return buf;
}

inline std::string DescribeStack(const uintptr_t* pcs, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "  #" + std::to_string(i) + " " + Describe(pcs[i]) + "\n";
  return s;
}

inline bool InModule(uintptr_t pc, const char* name_part) {
  Dl_info info{};
  return dladdr(reinterpret_cast<void*>(pc), &info) != 0 && info.dli_fname != nullptr &&
         std::string(info.dli_fname).find(name_part) != std::string::npos;
}

}  // namespace cpprof_test

#endif  // CPPROF_TESTS_UNIT_UNWIND_UNWIND_ORACLE_H_
