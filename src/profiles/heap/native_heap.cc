// SPDX-License-Identifier: Apache-2.0

#include "profiles/heap/native_heap.h"

#include <dlfcn.h>
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "profiles/heap/heap_hooks_section.h"

#if __has_include(<gperftools/malloc_extension.h>)
#include <gperftools/malloc_extension.h>
#define CPPROF_HAVE_GPERFTOOLS_HEADER 1
#endif

namespace cpprof {
namespace internal {
namespace heap {
namespace {

constexpr char kGperftoolsInstance[] = "_ZN15MallocExtension8instanceEv";

// Whether pc lies in a module of a known allocator (by its file name).
bool InAllocatorModule(uintptr_t pc) {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(pc), &info) == 0 || info.dli_fname == nullptr) return false;
  const char* base = strrchr(info.dli_fname, '/');
  base = base != nullptr ? base + 1 : info.dli_fname;
  return strncmp(base, "libtcmalloc", 11) == 0 || strncmp(base, "libjemalloc", 11) == 0;
}

}  // namespace

std::string NativeAllocatorName() {
#ifdef CPPROF_HAVE_GPERFTOOLS_HEADER
  if (dlsym(RTLD_DEFAULT, kGperftoolsInstance) != nullptr) return "gperftools tcmalloc";
#endif
  return "";
}

bool ParseHeapV2(const std::string& text, StackProfile* out) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) return false;
  const size_t at = line.find("@ heap_v2/");
  if (line.rfind("heap profile:", 0) != 0 || at == std::string::npos) return false;
  const double period = strtod(line.c_str() + at + 10, nullptr);
  out->sample_types = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                       {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
  out->period_type = {"space", "bytes"};
  out->period = static_cast<int64_t>(period);
  out->leaf_is_exact_pc = false;
  while (std::getline(in, line)) {
    if (line.rfind("MAPPED_LIBRARIES:", 0) == 0 || line.rfind("--- Memory map:", 0) == 0) break;
    long long count = 0, bytes = 0, alloc_count = 0, alloc_bytes = 0;
    int consumed = 0;
    if (sscanf(line.c_str(), " %lld: %lld [ %lld: %lld] @%n", &count, &bytes, &alloc_count, &alloc_bytes,
               &consumed) < 4 || consumed == 0) {
      continue;
    }
    StackSample s;
    std::istringstream addrs(line.substr(static_cast<size_t>(consumed)));
    std::string a;
    while (addrs >> a) s.pcs.push_back(static_cast<uintptr_t>(strtoull(a.c_str(), nullptr, 16)));
    // The allocator's stacks start inside the allocator (and maybe inside
    // cpprof's forwarding malloc): the first frame shown is its caller.
    size_t skip = 0;
    while (skip < s.pcs.size() && (InHookSection(s.pcs[skip]) || InAllocatorModule(s.pcs[skip]))) ++skip;
    s.pcs.erase(s.pcs.begin(), s.pcs.begin() + static_cast<long>(skip));
    double scale = 1;
    if (period > 1 && count > 0) {
      const double avg = static_cast<double>(bytes) / static_cast<double>(count);
      scale = 1 / (1 - std::exp(-avg / period));
    }
    const int64_t objects = std::llround(static_cast<double>(count) * scale);
    const int64_t space = std::llround(static_cast<double>(bytes) * scale);
    s.values = {0, 0, objects, space};
    s.labels.push_back({"bytes", "", count > 0 ? bytes / count : 0, "bytes"});
    out->samples.push_back(std::move(s));
  }
  return true;
}

// The virtual call goes to tcmalloc's implementation, whose typeinfo cpprof
// does not link against: UBSan's vptr check would need it.
__attribute__((no_sanitize("vptr"))) std::string NativeHeapText() {
#ifdef CPPROF_HAVE_GPERFTOOLS_HEADER
  using InstanceFn = MallocExtension* (*)();
  auto instance = reinterpret_cast<InstanceFn>(dlsym(RTLD_DEFAULT, kGperftoolsInstance));
  MallocExtension* ext = instance != nullptr ? instance() : nullptr;
  if (ext == nullptr) return "";
  std::string text;
  ext->GetHeapSample(&text);
  return text;
#else
  return "";
#endif
}

bool NativeHeapProfile(StackProfile* out) {
#ifdef CPPROF_HAVE_GPERFTOOLS_HEADER
  std::string text = NativeHeapText();
  if (text.empty() && NativeAllocatorName().empty()) return false;
  StackProfile p;
  if (!ParseHeapV2(text, &p)) {
    p.sample_types = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                      {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    p.period_type = {"space", "bytes"};
  }
  std::string c = "cpprof heap: gperftools tcmalloc is the process's allocator; live objects from its own "
                   "sampling";
  if (p.period > 0) {
    c += " (one sample per " + std::to_string(p.period) + " bytes, TCMALLOC_SAMPLE_PARAMETER)";
  } else {
    c += ", which is off: set TCMALLOC_SAMPLE_PARAMETER (e.g. 524288) in the environment";
  }
  c += "; alloc_* are not available from it";
  p.comments.push_back(c);
  *out = std::move(p);
  return true;
#else
  (void)out;
  return false;
#endif
}

}  // namespace heap
}  // namespace internal
}  // namespace cpprof
