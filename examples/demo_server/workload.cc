// SPDX-License-Identifier: Apache-2.0

#include "workload.h"

#include <pthread.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace demo {
namespace {

constexpr uint64_t kUnit = 2000000;
volatile uint64_t g_sink;

int CompareRecords(const void* a, const void* b) {
  uint64_t x = *static_cast<const uint64_t*>(a);
  uint64_t y = *static_cast<const uint64_t*>(b);
  // A little arithmetic so the comparator shows up in profiles.
  for (int i = 0; i < 8; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    y = y * 6364136223846793005ull + 1442695040888963407ull;
  }
  return x < y ? -1 : (x > y ? 1 : 0);
}

}  // namespace

__attribute__((noinline)) uint64_t SpinHot(uint64_t iterations) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t i = 0; i < iterations; ++i) {
    h = (h ^ i) * 1099511628211ull;
    g_sink = h;
  }
  return h;
}

__attribute__((noinline)) uint64_t SpinWarm(uint64_t iterations) {
  uint64_t x = 88172645463325252ull;
  for (uint64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    g_sink = x;
  }
  return x;
}

__attribute__((noinline)) uint64_t SortRecords(int count) {
  std::vector<uint64_t> v(static_cast<size_t>(count));
  uint64_t seed = 12345;
  for (auto& e : v) {
    seed = seed * 6364136223846793005ull + 1;
    e = seed;
  }
  qsort(v.data(), v.size(), sizeof(uint64_t), CompareRecords);
  return v[0];
}

void RunWorker(int index, const std::atomic<bool>& stop) {
  char name[16];
  snprintf(name, sizeof(name), "demo-worker-%d", index);
  pthread_setname_np(pthread_self(), name);
  while (!stop.load(std::memory_order_relaxed)) {
    g_sink = SpinHot(3 * kUnit);
    g_sink = SpinWarm(kUnit);
    g_sink = SortRecords(2000);
  }
}

namespace {

struct Session {
  uint64_t id;
  std::string user;
  std::vector<uint64_t> history;
};

class SessionCache {
 public:
  __attribute__((noinline)) void Put(uint64_t id) {
    auto s = std::make_unique<Session>();
    s->id = id;
    s->user = "user-" + std::to_string(id) + std::string(96, 'u');
    s->history.assign(32, id);
    sessions_[id % kCapacity] = std::move(s);  // steady size: old sessions are freed
  }

 private:
  static constexpr uint64_t kCapacity = 2000;
  std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions_;
};

std::vector<std::string>* g_request_log = new std::vector<std::string>();  // never trimmed

__attribute__((noinline)) void AppendRequestLog(uint64_t id) {
  g_request_log->push_back("GET /item/" + std::to_string(id) + " " + std::string(200, 'r'));
}

char* volatile g_last_parse;

__attribute__((noinline)) void ParseRequest(uint64_t id) {
  // A scratch buffer that the error path forgets to free.
  char* scratch = static_cast<char*>(malloc(4096 + id % 512));
  snprintf(scratch, 64, "request %llu", static_cast<unsigned long long>(id));
  g_last_parse = scratch;
  if (id % 64 != 0) free(scratch);  // every 64th request leaks it
  g_last_parse = nullptr;
}

}  // namespace

namespace {

// Spill files the memory worker keeps open for its life (the fd view shows
// them at demo::OpenSpillFiles).
__attribute__((noinline)) std::vector<FILE*> OpenSpillFiles(int count) {
  std::vector<FILE*> files;
  for (int i = 0; i < count; ++i) {
    if (FILE* f = tmpfile()) files.push_back(f);
  }
  return files;
}

}  // namespace

void RunMemoryWorker(const std::atomic<bool>& stop) {
  pthread_setname_np(pthread_self(), "demo-memory");
  const std::vector<FILE*> spill = OpenSpillFiles(3);
  SessionCache cache;
  for (uint64_t id = 0; !stop.load(std::memory_order_relaxed); ++id) {
    cache.Put(id);
    ParseRequest(id);
    if (id % 4 == 0) AppendRequestLog(id);
    if (id % 4 == 3) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (FILE* f : spill) fclose(f);
}

namespace {

class ConfigStore {
 public:
  // Rebuilds the map under the lock, slowly (as a refresh that parses a
  // file while holding the lock would).
  // The count after the locked scope keeps the unlock from being a tail
  // call: a tail-called unlock has Refresh's caller as its return address,
  // so no profiler could name Refresh as the holder.
  __attribute__((noinline)) void Refresh(uint64_t generation) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      values_["generation"] = std::to_string(generation);
    }
    refreshes_.fetch_add(1, std::memory_order_relaxed);
  }

  __attribute__((noinline)) std::string Lookup(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = values_.find(key);
    return it == values_.end() ? std::string() : it->second;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::string> values_;
  std::atomic<uint64_t> refreshes_{0};
};

}  // namespace

void RunLockWorkers(int readers, const std::atomic<bool>& stop) {
  ConfigStore store;
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    pthread_setname_np(pthread_self(), "demo-config");
    for (uint64_t g = 0; !stop.load(std::memory_order_relaxed); ++g) {
      store.Refresh(g);
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  });
  for (int i = 0; i < readers; ++i) {
    threads.emplace_back([&] {
      pthread_setname_np(pthread_self(), "demo-reader");
      while (!stop.load(std::memory_order_relaxed)) {
        if (store.Lookup("generation").size() > 64) fputs("?", stderr);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace demo
