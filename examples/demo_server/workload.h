// SPDX-License-Identifier: Apache-2.0
//
// A CPU-hungry workload with a known shape, so a profile of it can be
// checked by eye and by tests: per round, demo::SpinHot does 3 units of
// work, demo::SpinWarm 1 unit, and demo::SortRecords sorts with qsort and a
// comparator (a callback through Debian's libc, built without frame
// pointers).

#ifndef CPPROF_EXAMPLES_DEMO_SERVER_WORKLOAD_H_
#define CPPROF_EXAMPLES_DEMO_SERVER_WORKLOAD_H_

#include <atomic>
#include <cstdint>

namespace demo {

uint64_t SpinHot(uint64_t iterations);
uint64_t SpinWarm(uint64_t iterations);
uint64_t SortRecords(int count);

// Runs rounds until `stop` is set.
void RunWorker(int index, const std::atomic<bool>& stop);

// A memory workload with a known shape, for the heap views: a session cache
// that churns at a steady size (demo::SessionCache::Put), a request log that
// only grows (demo::AppendRequestLog: a leak by growth), and a buffer that
// is dropped without being freed every few requests (demo::ParseRequest: a
// leak by reachability). About 1 MiB a second; little CPU. It keeps three
// temporary files open (demo::OpenSpillFiles), for the fd view.
void RunMemoryWorker(const std::atomic<bool>& stop);

// A lock workload with a known shape, for the mutex and block views: a
// config store whose demo::ConfigStore::Refresh holds its mutex about 2 ms
// every 25 ms while two readers (demo::ConfigStore::Lookup, every
// millisecond) wait for it. Little CPU. Runs `readers` + 1 threads until
// `stop` is set; returns when they have ended.
void RunLockWorkers(int readers, const std::atomic<bool>& stop);

}  // namespace demo

#endif  // CPPROF_EXAMPLES_DEMO_SERVER_WORKLOAD_H_
