// SPDX-License-Identifier: Apache-2.0

#include "profiles/heap/native_heap.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

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

using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);

MallctlFn Mallctl() { return reinterpret_cast<MallctlFn>(dlsym(RTLD_DEFAULT, "mallctl")); }

bool GperftoolsPresent() {
#ifdef CPPROF_HAVE_GPERFTOOLS_HEADER
  return dlsym(RTLD_DEFAULT, kGperftoolsInstance) != nullptr;
#else
  return false;
#endif
}

// jemalloc built with profiling support and started with prof:true.
bool JemallocProfiling(bool* supported) {
  *supported = false;
  MallctlFn mallctl = Mallctl();
  if (mallctl == nullptr) return false;
  bool prof = false;
  size_t size = sizeof(prof);
  if (mallctl("opt.prof", &prof, &size, nullptr, 0) != 0) return false;  // built without --enable-prof
  *supported = true;
  return prof;
}

// jemalloc built with profiling and started with prof_accum:true: its dumps
// carry cumulative counts per stack too.
bool JemallocAccumulates() {
  MallctlFn mallctl = Mallctl();
  bool accum = false;
  size_t size = sizeof(accum);
  return mallctl != nullptr && mallctl("opt.prof_accum", &accum, &size, nullptr, 0) == 0 && accum;
}

// jemalloc's heap dump (prof.dump, written to a file and read back): the
// jeprof form, "heap_v2/RATE", then per stack an "@ PCS" line followed by
// "t*: COUNT: BYTES [ACCUM_COUNT: ACCUM_BYTES]" (all threads; the bracket is
// 0 without prof_accum) and per-thread lines.
std::string JemallocDump() {
  MallctlFn mallctl = Mallctl();
  if (mallctl == nullptr) return "";
  const char* dir = getenv("TMPDIR");
  std::string path = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/cpprof-jeprof-XXXXXX";
  std::vector<char> name(path.begin(), path.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0) return "";
  const char* file = name.data();
  std::string text;
  if (mallctl("prof.dump", nullptr, nullptr, &file, sizeof(file)) == 0) {
    char buf[65536];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  unlink(file);
  return text;
}

// The allocator's stacks start inside the allocator (and maybe inside
// cpprof's forwarding malloc): the first frame shown is its caller.
void DropAllocatorFrames(std::vector<uintptr_t>* pcs) {
  size_t skip = 0;
  while (skip < pcs->size() && (InHookSection((*pcs)[skip]) || InAllocatorModule((*pcs)[skip]))) ++skip;
  pcs->erase(pcs->begin(), pcs->begin() + static_cast<long>(skip));
}

// Sampled counts to estimates with pprof's formula (the stack's average
// size); the cumulative pair (alloc_*) is 0 when the allocator keeps none.
void AddUnsampled(StackSample* s, double count, double bytes, double period, double alloc_count = 0,
                  double alloc_bytes = 0) {
  auto scale = [period](double n, double b) {
    return period > 1 && n > 0 ? 1 / (1 - std::exp(-(b / n) / period)) : 1.0;
  };
  const double in = scale(count, bytes), al = scale(alloc_count, alloc_bytes);
  s->values = {std::llround(alloc_count * al), std::llround(alloc_bytes * al), std::llround(count * in),
               std::llround(bytes * in)};
  const double n = count > 0 ? count : alloc_count, b = count > 0 ? bytes : alloc_bytes;
  s->labels.push_back({"bytes", "", n > 0 ? static_cast<int64_t>(b / n) : 0, "bytes"});
}

void HeapSampleTypes(StackProfile* p) {
  p->sample_types = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                     {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
  p->period_type = {"space", "bytes"};
  p->leaf_is_exact_pc = false;
}

}  // namespace

std::string NativeAllocatorName() {
  if (GperftoolsPresent()) return "gperftools tcmalloc";
  bool supported = false;
  JemallocProfiling(&supported);
  if (supported) return "jemalloc";
  return "";
}

bool ParseJemallocDump(const std::string& text, StackProfile* out) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line.rfind("heap_v2/", 0) != 0) return false;
  const double period = strtod(line.c_str() + 8, nullptr);
  HeapSampleTypes(out);
  out->period = static_cast<int64_t>(period);
  std::vector<uintptr_t> pcs;
  bool have_stack = false;
  while (std::getline(in, line)) {
    if (line.rfind("MAPPED_LIBRARIES:", 0) == 0) break;
    if (line.rfind("@", 0) == 0) {
      pcs.clear();
      std::istringstream addrs(line.substr(1));
      std::string a;
      while (addrs >> a) pcs.push_back(static_cast<uintptr_t>(strtoull(a.c_str(), nullptr, 16)));
      have_stack = true;
      continue;
    }
    long long count = 0, bytes = 0, accum_count = 0, accum_bytes = 0;
    if (!have_stack ||
        sscanf(line.c_str(), " t*: %lld: %lld [%lld: %lld]", &count, &bytes, &accum_count, &accum_bytes) < 2) {
      continue;
    }
    have_stack = false;  // one all-threads line per stack
    if (count < 0 || accum_count < 0 || (count == 0 && accum_count == 0)) continue;
    StackSample s;
    s.pcs = pcs;
    DropAllocatorFrames(&s.pcs);
    AddUnsampled(&s, static_cast<double>(count), static_cast<double>(bytes), period,
                 static_cast<double>(accum_count), static_cast<double>(accum_bytes));
    out->samples.push_back(std::move(s));
  }
  return true;
}

bool ParseHeapV2(const std::string& text, StackProfile* out) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) return false;
  const size_t at = line.find("@ heap_v2/");
  if (line.rfind("heap profile:", 0) != 0 || at == std::string::npos) return false;
  const double period = strtod(line.c_str() + at + 10, nullptr);
  HeapSampleTypes(out);
  out->period = static_cast<int64_t>(period);
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
    DropAllocatorFrames(&s.pcs);
    AddUnsampled(&s, static_cast<double>(count), static_cast<double>(bytes), period);
    out->samples.push_back(std::move(s));
  }
  return true;
}

// The virtual call goes to tcmalloc's implementation, whose typeinfo cpprof
// does not link against: UBSan's vptr check would need it.
__attribute__((no_sanitize("vptr"))) std::string GperftoolsText() {
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

std::string NativeHeapText() {
  if (GperftoolsPresent()) return GperftoolsText();
  bool supported = false;
  if (JemallocProfiling(&supported)) return JemallocDump();
  return "";
}

bool NativeHeapProfile(StackProfile* out) {
  StackProfile p;
  std::string c;
  if (GperftoolsPresent()) {
    if (!ParseHeapV2(GperftoolsText(), &p)) HeapSampleTypes(&p);
    c = "cpprof heap: gperftools tcmalloc is the process's allocator; live objects from its own sampling";
    c += p.period > 0 ? " (one sample per " + std::to_string(p.period) + " bytes, TCMALLOC_SAMPLE_PARAMETER)"
                      : ", which is off: set TCMALLOC_SAMPLE_PARAMETER (e.g. 524288) in the environment";
    c += "; alloc_* are not available from it";
  } else {
    bool supported = false;
    const bool profiling = JemallocProfiling(&supported);
    if (!supported) return false;
    if (!profiling || !ParseJemallocDump(JemallocDump(), &p)) HeapSampleTypes(&p);
    c = "cpprof heap: jemalloc is the process's allocator; live objects from its own sampling";
    c += profiling ? " (one sample per " + std::to_string(p.period) + " bytes, lg_prof_sample)"
                   : ", which is off: start the process with MALLOC_CONF=prof:true (lg_prof_sample:19 samples "
                     "every 512 KiB)";
    c += profiling && JemallocAccumulates()
             ? "; alloc_* from its cumulative counts (prof_accum)"
             : "; alloc_* need prof_accum:true in MALLOC_CONF (jemalloc then keeps cumulative counts)";
  }
  p.comments.push_back(c);
  *out = std::move(p);
  return true;
}

}  // namespace heap
}  // namespace internal
}  // namespace cpprof
