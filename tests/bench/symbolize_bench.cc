// SPDX-License-Identifier: Apache-2.0
//
// Cost of in-process symbolization, side by side with binutils addr2line:
//   - 10,000 unique addresses spread evenly over the executable text of this
//     binary and of libstdc++ (plus, reported separately, libc, whose debug
//     file is found through /usr/lib/debug/.build-id when installed);
//   - cold: a new Symbolizer, so index construction is included;
//   - warm: the same addresses again on the built indexes;
//   - addr2line -a -f -i -C -e <module>, one subprocess per module with all
//     of that module's addresses on stdin (its best case), wall time.
// Also prints how often the two agree on the innermost function, its line,
// and the number of inline frames, where addr2line knows the function.
// Usage: symbolize_bench [addresses_per_module...]; no pass/fail.

#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "symbolize/symbolizer.h"

using cpprof::internal::FindModule;
using cpprof::internal::ListModules;
using cpprof::internal::Module;
using cpprof::internal::SymbolizedAddress;
using cpprof::internal::Symbolizer;

namespace {

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Frame {
  std::string function;
  int line = 0;
};

struct Workload {
  std::string label;
  std::vector<size_t> segments;   // indexes into the module list (same file)
  std::vector<uintptr_t> addresses;
};

// `count` distinct addresses spread evenly over the module's executable segments.
std::vector<uintptr_t> Spread(const std::vector<Module>& modules, const std::vector<size_t>& segs,
                              size_t count) {
  uintptr_t total = 0;
  for (size_t s : segs) total += modules[s].limit - modules[s].start;
  std::vector<uintptr_t> out;
  if (total == 0) return out;
  for (size_t i = 0; i < count; ++i) {
    uintptr_t offset = static_cast<uintptr_t>((static_cast<unsigned __int128>(i) * total) / count);
    offset += (i * 7) % 5;  // not all instruction starts
    for (size_t s : segs) {
      const uintptr_t size = modules[s].limit - modules[s].start;
      if (offset < size) {
        out.push_back(modules[s].start + offset);
        break;
      }
      offset -= size;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Runs addr2line on the module's file addresses; returns one frame chain per
// address (innermost first) and the wall time in *ms.
std::vector<std::vector<Frame>> RunAddr2line(const Module& module,
                                             const std::vector<uintptr_t>& addresses, double* ms) {
  char input_path[] = "/tmp/cpprof_symbolize_bench_XXXXXX";
  const int fd = mkstemp(input_path);
  std::vector<std::vector<Frame>> chains;
  if (fd < 0) return chains;
  std::string input;
  char buf[32];
  for (uintptr_t a : addresses) {
    snprintf(buf, sizeof(buf), "%lx\n", static_cast<unsigned long>(a - module.bias));
    input += buf;
  }
  if (write(fd, input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
    close(fd);
    unlink(input_path);
    return chains;
  }
  close(fd);
  const std::string command =
      "addr2line -a -f -i -C -e '" + module.path + "' < " + input_path + " 2>/dev/null";
  const double t0 = NowMs();
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  if (pipe != nullptr) {
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0) output.append(chunk, n);
    pclose(pipe);
  }
  *ms = NowMs() - t0;
  unlink(input_path);
  // Records: "0x<addr>" then pairs "function" / "file:line" per frame.
  size_t pos = 0;
  std::vector<std::string> lines;
  while (pos < output.size()) {
    size_t nl = output.find('\n', pos);
    if (nl == std::string::npos) nl = output.size();
    lines.push_back(output.substr(pos, nl - pos));
    pos = nl + 1;
  }
  for (size_t i = 0; i < lines.size();) {
    if (lines[i].rfind("0x", 0) != 0) {
      ++i;
      continue;
    }
    chains.emplace_back();
    ++i;
    while (i + 1 < lines.size() && lines[i].rfind("0x", 0) != 0) {
      Frame f;
      f.function = lines[i] == "??" ? "" : lines[i];
      const size_t colon = lines[i + 1].rfind(':');
      if (colon != std::string::npos) f.line = atoi(lines[i + 1].c_str() + colon + 1);
      chains.back().push_back(f);
      i += 2;
    }
  }
  return chains;
}

// Compares, where addr2line names a function: the innermost function, its
// line, and the number of frames. A name matches when equal or when
// addr2line's adds only a parameter list (DWARF gives inlined constructors
// and the like a bare qualified name, no linkage name to demangle).
void Compare(const std::vector<SymbolizedAddress>& ours, const std::vector<std::vector<Frame>>& theirs,
             const std::vector<uintptr_t>& addresses, const Module& module) {
  if (theirs.size() != ours.size()) {
    printf("    addr2line returned %zu records for %zu addresses; not compared\n", theirs.size(),
           ours.size());
    return;
  }
  size_t known = 0, same_function = 0, same_line = 0, same_depth = 0, shown = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    if (theirs[i].empty() || theirs[i][0].function.empty()) continue;
    ++known;
    const auto& o = ours[i].frames;
    const std::string& t = theirs[i][0].function;
    const bool function_ok =
        !o.empty() && (o[0].function == t || (t.size() > o[0].function.size() &&
                                               t.compare(0, o[0].function.size(), o[0].function) == 0 &&
                                               t[o[0].function.size()] == '('));
    same_function += function_ok;
    if (!o.empty() && o[0].line == theirs[i][0].line) ++same_line;
    if (o.size() == theirs[i].size()) ++same_depth;
    if (!function_ok && shown < 3) {
      ++shown;
      printf("    differs at %#lx: ours \"%s\" addr2line \"%s\"\n",
             static_cast<unsigned long>(addresses[i] - module.bias),
             o.empty() ? "" : o[0].function.c_str(), t.c_str());
    }
  }
  if (known == 0) return;
  printf("    agreement where addr2line names a function (%zu): function %.1f%%, line %.1f%%, "
         "inline depth %.1f%%\n",
         known, 100.0 * same_function / known, 100.0 * same_line / known,
         100.0 * same_depth / known);
}

void RunWorkloads(const std::vector<Module>& modules, std::vector<Workload>& workloads,
                  const char* title) {
  printf("\n== %s ==\n", title);
  Symbolizer symbolizer;
  std::vector<std::vector<SymbolizedAddress>> results(workloads.size());
  double cold_total = 0, warm_total = 0, a2l_total = 0;
  size_t total = 0;
  printf("%-44s %7s %10s %10s %12s %10s %10s\n", "module", "addrs", "cold ms", "warm ms",
         "addr2line ms", "a2l/cold", "a2l/warm");
  for (size_t w = 0; w < workloads.size(); ++w) {
    Workload& wl = workloads[w];
    const Module& module = modules[wl.segments[0]];
    double t0 = NowMs();
    for (uintptr_t a : wl.addresses) results[w].push_back(symbolizer.Symbolize(module, a));
    const double cold = NowMs() - t0;
    t0 = NowMs();
    size_t frames = 0;
    for (uintptr_t a : wl.addresses) frames += symbolizer.Symbolize(module, a).frames.size();
    const double warm = NowMs() - t0;
    double a2l = 0;
    std::vector<std::vector<Frame>> theirs = RunAddr2line(module, wl.addresses, &a2l);
    printf("%-44s %7zu %10.1f %10.1f %12.1f %10.2f %10.1f\n", wl.label.c_str(),
           wl.addresses.size(), cold, warm, a2l, a2l / cold, a2l / warm);
    size_t resolved = 0, inlined = 0;
    for (const SymbolizedAddress& r : results[w]) {
      resolved += !r.frames.empty();
      inlined += r.frames.size() > 1 ? r.frames.size() - 1 : 0;
    }
    printf("    resolved %zu/%zu, inline frames %zu, frames %zu\n", resolved, wl.addresses.size(),
           inlined, frames);
    Compare(results[w], theirs, wl.addresses, module);
    cold_total += cold;
    warm_total += warm;
    a2l_total += a2l;
    total += wl.addresses.size();
  }
  printf("%-44s %7zu %10.1f %10.1f %12.1f %10.2f %10.1f\n", "total", total, cold_total,
         warm_total, a2l_total, a2l_total / cold_total, a2l_total / warm_total);
  printf("    per address: cold %.2f us, warm %.2f us; cache %.1f MiB\n",
         1000 * cold_total / total, 1000 * warm_total / total,
         symbolizer.MemoryBytes() / 1048576.0);
}

std::string Basename(const std::string& path) { return path.substr(path.rfind('/') + 1); }

}  // namespace

int main(int argc, char** argv) {
  const size_t total = argc > 1 ? static_cast<size_t>(atol(argv[1])) : 10000;
  std::vector<Module> modules = ListModules();
  auto segments_of = [&modules](const std::string& needle) {
    std::vector<size_t> segs;
    std::string path;
    for (size_t i = 0; i < modules.size(); ++i) {
      if (path.empty() && modules[i].path.find(needle) != std::string::npos) path = modules[i].path;
      if (!path.empty() && modules[i].path == path) segs.push_back(i);
    }
    return segs;
  };
  std::vector<size_t> self = {0};
  for (size_t i = 1; i < modules.size() && modules[i].path == modules[0].path; ++i) self.push_back(i);
  std::vector<size_t> libstdcxx = segments_of("libstdc++");
  std::vector<size_t> libc = segments_of("/libc.so");
  if (libstdcxx.empty() || libc.empty()) {
    fprintf(stderr, "libstdc++ or libc not loaded\n");
    return 1;
  }
  std::vector<Workload> main_set = {
      {Basename(modules[self[0]].path) + " (this binary)", self, {}},
      {Basename(modules[libstdcxx[0]].path), libstdcxx, {}},
  };
  main_set[0].addresses = Spread(modules, self, total / 2);
  main_set[1].addresses = Spread(modules, libstdcxx, total - main_set[0].addresses.size());
  printf("symbolize_bench: %zu unique addresses; modules:\n", total);
  for (const Workload& w : main_set) {
    printf("  %s  build-id %s\n", modules[w.segments[0]].path.c_str(),
           modules[w.segments[0]].build_id.c_str());
  }
  RunWorkloads(modules, main_set, "this binary + libstdc++ (the 10,000-address target)");

  std::vector<Workload> libc_set = {{Basename(modules[libc[0]].path), libc, {}}};
  libc_set[0].addresses = Spread(modules, libc, total / 2);
  RunWorkloads(modules, libc_set, "libc (DWARF from a separate debug file when installed)");
  return 0;
}
