// SPDX-License-Identifier: Apache-2.0
//
// Cost of turning stack records into a gzipped profile.proto:
//   1. EncodeStackProfile with a constant-time fake symbol source (the
//      encoder's own cost: interning, wire format, gzip), per sample;
//   2. the same records with the process's real symbolizer on PCs of this
//      binary (cold: first call builds the module index; warm: cached);
//   3. gzip BestSpeed (what Go's runtime/pprof uses) against level 6, on the
//      serialized profile: time and size.
// Prints medians of several runs, in thread CPU time; no pass/fail.

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "pprof/gzip.h"
#include "pprof/stack_profile.h"

using cpprof::internal::EncodeStackProfile;
using cpprof::internal::Module;
using cpprof::internal::StackProfile;
using cpprof::internal::SymbolizedAddress;
using cpprof::internal::SymbolSource;

namespace {

// Thread CPU time, so other load on the machine does not inflate results.
double NowMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

template <typename F>
double MedianMs(int runs, F&& f) {
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const double start = NowMs();
    f();
    t.push_back(NowMs() - start);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

constexpr uintptr_t kTextStart = 0x400000;
constexpr uintptr_t kTextSize = 0x1000000;

class FakeSymbols : public SymbolSource {
 public:
  std::vector<Module> ListModules() override {
    return {{kTextStart, kTextStart + kTextSize, 0, kTextStart, "/usr/bin/app", "00112233"}};
  }
  SymbolizedAddress Symbolize(const Module&, uintptr_t address) override {
    // Two frames (one inlined) per address, names from a pool of 2000
    // functions, as a mid-sized C++ service would have.
    const unsigned f = static_cast<unsigned>(address >> 6) % 2000;
    SymbolizedAddress s;
    s.has_line_info = true;
    s.frames.push_back({"ns::Helper<int>::inlined_" + std::to_string(f) + "(long) const", "",
                        "src/helper.h", static_cast<int>(address % 300), 1});
    s.frames.push_back({"ns::Service::Handle" + std::to_string(f / 4) + "(Request const&)", "",
                        "src/service.cc", static_cast<int>(f), 1});
    return s;
  }
};

StackProfile MakeProfile(const std::vector<uintptr_t>& pc_pool, int samples, int depth,
                         uint32_t seed) {
  std::mt19937 rng(seed);
  StackProfile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10000000;
  for (int i = 0; i < samples; ++i) {
    cpprof::internal::StackSample s;
    for (int d = 0; d < depth; ++d) s.pcs.push_back(pc_pool[rng() % pc_pool.size()]);
    s.values = {1, 10000000};
    s.labels = {{"thread", "worker-" + std::to_string(i % 16), 0, ""}};
    p.samples.push_back(std::move(s));
  }
  return p;
}

}  // namespace

int main() {
  // 1. Encoder cost with a fake symbol source.
  std::vector<uintptr_t> pool;
  for (int i = 0; i < 20000; ++i) pool.push_back(kTextStart + 0x40 + (i * 0x331) % kTextSize);
  const int kSamples = 10000, kDepth = 32;
  StackProfile p = MakeProfile(pool, kSamples, kDepth, 1);
  FakeSymbols fake;
  std::string gz;
  const double encode_ms = MedianMs(7, [&] { gz = EncodeStackProfile(p, fake); });
  std::printf("encode (fake symbols): %d samples x %d frames, %zu distinct PCs: %.1f ms "
              "(%.2f us/sample), %zu bytes gzipped\n",
              kSamples, kDepth, pool.size(), encode_ms, encode_ms * 1000 / kSamples, gz.size());

  // 2. Real symbolizer on PCs inside this binary's text.
  std::vector<Module> modules = cpprof::internal::ListModules();
  if (!modules.empty()) {
    const Module& self = modules[0];
    std::vector<uintptr_t> real_pool;
    const uintptr_t span = self.limit - self.start;
    for (int i = 0; i < 2000; ++i) real_pool.push_back(self.start + (i * 0x1f3 + 1) % span);
    StackProfile rp = MakeProfile(real_pool, 2000, 16, 2);
    std::string out;
    const double cold_ms = MedianMs(1, [&] { out = EncodeStackProfile(rp); });
    const double warm_ms = MedianMs(5, [&] { out = EncodeStackProfile(rp); });
    std::printf("encode (real symbolizer, %s, %zu distinct PCs, 2000 samples x 16): "
                "first %.1f ms, then %.1f ms (%.2f us per distinct PC), %zu bytes gzipped\n",
                self.path.c_str(), real_pool.size(), cold_ms, warm_ms,
                warm_ms * 1000 / real_pool.size(), out.size());
  }

  // 3. gzip level on the serialized profile.
  std::string raw;
  if (!cpprof::internal::GzipDecompress(gz, &raw)) return 1;
  for (int level : {1, 6}) {
    std::string z;
    const double ms = MedianMs(7, [&] { cpprof::internal::GzipCompress(raw, &z, level); });
    std::printf("gzip level %d: %zu -> %zu bytes (ratio %.2f) in %.2f ms (%.0f MB/s)\n", level,
                raw.size(), z.size(), double(raw.size()) / z.size(), ms,
                raw.size() / 1e3 / ms);
  }
  return 0;
}
