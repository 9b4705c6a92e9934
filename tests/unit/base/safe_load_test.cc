// SPDX-License-Identifier: Apache-2.0

#include "base/safe_load.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <thread>

#include <doctest/doctest.h>

namespace {

using cpprof::internal::IsExecutableAddress;
using cpprof::internal::ProbeReadable;
using cpprof::internal::RefreshReadableRanges;
using cpprof::internal::SafeLoad;
using cpprof::internal::SafeLoadCache;
using cpprof::internal::TrustStack;

constexpr uintptr_t kMagic = 0x1234567890abcdefull;

TEST_CASE("SafeLoad reads stack memory and fills the cache with the stack window") {
  REQUIRE(RefreshReadableRanges());
  volatile uintptr_t slot = kMagic;
  uintptr_t addr = reinterpret_cast<uintptr_t>(&slot);
  uintptr_t out = 0;
  CHECK(SafeLoad(addr, &out));
  CHECK(out == kMagic);
  SafeLoadCache cache;
  out = 0;
  CHECK(SafeLoad(addr, &out, &cache));
  CHECK(out == kMagic);
  CHECK(cache.lo <= addr);
  CHECK(cache.hi > addr + 8);
  SafeLoadCache trusted;
  CHECK(TrustStack(addr, &trusted));
  CHECK(trusted.lo <= addr);
  CHECK(trusted.hi > addr);
}

TEST_CASE("SafeLoad refuses unmapped and PROT_NONE memory without faulting") {
  REQUIRE(RefreshReadableRanges());
  const size_t kSize = 4 * 4096;
  void* none = mmap(nullptr, kSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(none != MAP_FAILED);
  void* gone = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(gone != MAP_FAILED);
  REQUIRE(munmap(gone, kSize) == 0);
  uintptr_t out = kMagic;
  for (uintptr_t base : {reinterpret_cast<uintptr_t>(none), reinterpret_cast<uintptr_t>(gone)}) {
    for (uintptr_t off = 0; off < kSize; off += 1000) {
      SafeLoadCache cache;
      CHECK_FALSE(SafeLoad(base + off, &out, &cache));
      CHECK_FALSE(SafeLoad(base + off, &out));
      CHECK_FALSE(ProbeReadable(base + off, 8));
    }
  }
  for (uintptr_t bad : {uintptr_t{0}, uintptr_t{8}, ~uintptr_t{0} - 3, uintptr_t{0xffffffffff600000},
                        uintptr_t{0xffff800000000000}}) {
    CHECK_FALSE(SafeLoad(bad, &out));
  }
  CHECK(out == kMagic);  // untouched on failure
  munmap(none, kSize);
}

TEST_CASE("SafeLoad refuses a read that straddles into a PROT_NONE page") {
  char* two = static_cast<char*>(
      mmap(nullptr, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  REQUIRE(two != MAP_FAILED);
  REQUIRE(mprotect(two + 4096, 4096, PROT_NONE) == 0);
  uintptr_t out = 0;
  SafeLoadCache cache;
  CHECK(SafeLoad(reinterpret_cast<uintptr_t>(two + 4096 - 8), &out, &cache));
  CHECK_FALSE(SafeLoad(reinterpret_cast<uintptr_t>(two + 4096 - 4), &out, &cache));
  CHECK_FALSE(SafeLoad(reinterpret_cast<uintptr_t>(two + 4096), &out, &cache));
  munmap(two, 2 * 4096);
}

TEST_CASE("SafeLoad accepts memory mapped after the snapshot, by probing") {
  REQUIRE(RefreshReadableRanges());
  auto* fresh = static_cast<uintptr_t*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  REQUIRE(fresh != MAP_FAILED);
  fresh[3] = kMagic;
  uintptr_t out = 0;
  CHECK(SafeLoad(reinterpret_cast<uintptr_t>(&fresh[3]), &out));
  CHECK(out == kMagic);
  CHECK(cpprof::internal::ReadableRangesStale() == false);  // probing alone does not mark stale
  munmap(fresh, 4096);
}

TEST_CASE("IsExecutableAddress knows code from data") {
  REQUIRE(RefreshReadableRanges());
  static int data = 1;
  CHECK(IsExecutableAddress(reinterpret_cast<uintptr_t>(&RefreshReadableRanges)));
  CHECK(IsExecutableAddress(reinterpret_cast<uintptr_t>(&write)));
  CHECK_FALSE(IsExecutableAddress(reinterpret_cast<uintptr_t>(&data)));
  CHECK(cpprof::internal::ReadableRangesBytes() > 0);
}

TEST_CASE("Snapshots are retired and freed while readers come and go") {
  REQUIRE(RefreshReadableRanges());
  std::atomic<bool> stop{false};
  std::atomic<long> loads{0};
  std::thread reader([&] {
    volatile uintptr_t local = kMagic;
    while (!stop.load()) {
      uintptr_t out = 0;
      CHECK(SafeLoad(reinterpret_cast<uintptr_t>(&local), &out));
      CHECK(IsExecutableAddress(reinterpret_cast<uintptr_t>(&RefreshReadableRanges)));
      loads.fetch_add(1);
    }
  });
  while (loads.load() == 0) std::this_thread::yield();
  for (int i = 0; i < 50; ++i) {
    CHECK(RefreshReadableRanges());
    cpprof::internal::ReleaseRetiredReadableRanges();
  }
  long during = loads.load();
  stop.store(true);
  reader.join();
  CHECK(during >= 1);
}

TEST_CASE("ReaderGate::Synchronize waits for a reader and times out while it stays") {
  cpprof::internal::ReaderGate gate;
  CHECK(gate.Synchronize(10));
  unsigned slot = gate.Enter();
  CHECK_FALSE(gate.Synchronize(20));
  gate.Exit(slot);
  CHECK(gate.Synchronize(10));
}

}  // namespace
