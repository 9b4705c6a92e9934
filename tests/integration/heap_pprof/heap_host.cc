// SPDX-License-Identifier: Apache-2.0
//
// A host with known live sets for the heap tests. Its endpoint comes from
// CPPROF_ADDR (cpprof linked in, or LD_PRELOADed into the build without
// cpprof). Each allocation site is a function of its own, so go tool pprof
// attributes every byte to one name:
//   SiteFixed   --fixed N objects of 64 bytes, kept
//   SiteMixed   --mixed N objects, sizes log-uniform in [16, 4096], kept
//   RareBig     --rare N blocks of 1 MiB, kept, among RareSmall: 10000 N
//               objects of 32 bytes, kept
//   Transient   100000 objects of 128 bytes, freed at once (alloc only)
//   Churn       a thread freeing and allocating 192-byte objects in a ring
//               of 1000 forever (steady in-use, growing alloc)
//   Grow        20000 objects of 256 bytes, kept, each time a file named
//               GROW_PREFIX<k> appears (k = 1, 2, ...); prints "GROWN k"
// Prints the true totals ("TRUTH site objects bytes") and "READY" once the
// live sets exist. Stores go through volatile pointers so the compiler keeps
// every allocation; no two sites have the same body (GCC's identical code
// folding would merge them into one name).

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

std::vector<void*> g_kept;
void* volatile g_sink;

__attribute__((noinline)) void* Touch(void* p, size_t n) {
  if (p != nullptr && n > 0) static_cast<volatile char*>(p)[0] = 1;
  g_sink = p;
  return p;
}

__attribute__((noinline)) void* SiteFixed() { return Touch(malloc(64), 64); }
__attribute__((noinline)) void* SiteMixed(size_t n) { return Touch(malloc(n), n); }
__attribute__((noinline)) void* RareBig() { return Touch(malloc(1 << 20), 1 << 20); }
__attribute__((noinline)) void* RareSmall() { return Touch(malloc(32), 32); }
__attribute__((noinline)) void* Transient() { return Touch(malloc(128), 128); }
__attribute__((noinline)) void* Churn() { return Touch(new char[192], 192); }
__attribute__((noinline)) void* Grow() { return Touch(new char[256], 256); }

void Truth(const char* site, double objects, double bytes) {
  printf("TRUTH %s %.0f %.0f\n", site, objects, bytes);
}

}  // namespace

int main(int argc, char** argv) {
  long fixed = 400000, mixed = 40000, rare = 30;
  std::string grow_prefix;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--fixed") fixed = atol(argv[i + 1]);
    if (a == "--mixed") mixed = atol(argv[i + 1]);
    if (a == "--rare") rare = atol(argv[i + 1]);
    if (a == "--grow-prefix") grow_prefix = argv[i + 1];
  }
  g_kept.reserve(static_cast<size_t>(fixed + mixed + rare * 10001 + 200000));
  for (long i = 0; i < fixed; ++i) g_kept.push_back(SiteFixed());
  Truth("SiteFixed", static_cast<double>(fixed), 64.0 * static_cast<double>(fixed));
  std::mt19937_64 rng(7);
  double mixed_bytes = 0;
  for (long i = 0; i < mixed; ++i) {
    size_t n = static_cast<size_t>(std::exp2(4.0 + 8.0 * static_cast<double>(rng() % 100000) / 100000.0));
    mixed_bytes += static_cast<double>(n);
    g_kept.push_back(SiteMixed(n));
  }
  Truth("SiteMixed", static_cast<double>(mixed), mixed_bytes);
  for (long i = 0; i < rare; ++i) {
    g_kept.push_back(RareBig());
    for (int k = 0; k < 10000; ++k) g_kept.push_back(RareSmall());
  }
  Truth("RareBig", static_cast<double>(rare), static_cast<double>(rare) * (1 << 20));
  Truth("RareSmall", 10000.0 * static_cast<double>(rare), 320000.0 * static_cast<double>(rare));
  for (int i = 0; i < 100000; ++i) free(Transient());
  Truth("Transient", 100000, 12800000);

  std::thread churn([] {
    std::vector<char*> ring(1000, nullptr);
    for (uint64_t i = 0;; ++i) {
      char*& slot = ring[i % ring.size()];
      delete[] slot;
      slot = static_cast<char*>(Churn());
      if (i % 1000 == 0) usleep(1000);
    }
  });
  churn.detach();
  printf("READY\n");
  fflush(stdout);
  for (int k = 1; !grow_prefix.empty(); ++k) {
    std::string path = grow_prefix + std::to_string(k);
    struct stat st;
    while (stat(path.c_str(), &st) != 0) usleep(20000);
    for (int i = 0; i < 20000; ++i) g_kept.push_back(Grow());
    printf("GROWN %d\n", k);
    fflush(stdout);
  }
  for (;;) pause();
}
