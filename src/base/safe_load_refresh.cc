// SPDX-License-Identifier: Apache-2.0
//
// Implementation notes (NOT signal context): the control side of
// safe_load.h. RefreshReadableRanges reads /proc/self/maps with open/read,
// keeps readable or executable mappings (never [vvar]/[vsyscall]) as a
// sorted array, and publishes it with one atomic exchange. The previous
// snapshot goes to a retired list, freed once SignalReaderGate().Synchronize()
// shows no signal handler can still hold it; at kMaxRetired entries a
// refresh waits (up to 1 s) instead of accumulating, so memory stays bounded.

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <string>
#include <vector>

#include "base/read_file.h"
#include "base/safe_load.h"

namespace cpprof {
namespace internal {
namespace {

using namespace safe_load_detail;  // NOLINT(build/namespaces): file-local

constexpr size_t kMaxRetired = 8;

std::atomic<size_t> g_bytes{0};
std::mutex g_refresh_mu;
std::vector<const MapsSnapshot*>* g_retired = nullptr;  // guarded by g_refresh_mu

void DeleteSnapshot(const MapsSnapshot* s) {
  delete[] s->ranges;
  delete s;
}

bool ParseHex(const char*& p, const char* end, uintptr_t* out) {
  uintptr_t v = 0;
  const char* start = p;
  while (p < end) {
    char c = *p;
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) break;
    v = (v << 4) | static_cast<uintptr_t>(d);
    ++p;
  }
  *out = v;
  return p != start;
}

// One line: "start-end perms offset dev inode   path".
bool ParseMapsLine(const char* p, const char* end, MemRange* out) {
  uintptr_t start, stop, offset, inode;
  if (!ParseHex(p, end, &start) || p >= end || *p++ != '-') return false;
  if (!ParseHex(p, end, &stop) || p + 5 >= end || *p++ != ' ') return false;
  uint32_t flags = 0;
  if (p[0] == 'r') flags |= kReadable;
  if (p[2] == 'x') flags |= kExecutable;
  p += 5;
  if (!ParseHex(p, end, &offset)) return false;
  while (p < end && *p != ' ') ++p;  // offset done; skip " dev"
  ++p;
  while (p < end && *p != ' ') ++p;
  ++p;
  inode = 0;
  while (p < end && *p >= '0' && *p <= '9') inode = inode * 10 + static_cast<uintptr_t>(*p++ - '0');
  if (inode != 0) flags |= kFileBacked;
  while (p < end && *p == ' ') ++p;
  std::string name(p, end);
  if (name == "[vvar]" || name == "[vsyscall]") return false;  // never read these
  out->start = start;
  out->end = stop;
  out->flags = flags;
  return (flags & (kReadable | kExecutable)) != 0 && stop > start;
}

void FreeRetiredLocked(int timeout_ms) {
  if (g_retired == nullptr || g_retired->empty()) return;
  if (!SignalReaderGate().Synchronize(timeout_ms)) return;
  for (const MapsSnapshot* s : *g_retired) DeleteSnapshot(s);
  g_retired->clear();
}

}  // namespace

bool ReaderGate::Synchronize(int timeout_ms) {
  static std::mutex writers_mu;
  std::lock_guard<std::mutex> lock(writers_mu);
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  // Flip twice: each counter must be seen at zero after the call began. A
  // reader that holds an unpublished pointer incremented one of them before
  // that, so it has exited once both were seen at zero.
  for (int round = 0; round < 2; ++round) {
    unsigned old_slot = epoch_.fetch_add(1, std::memory_order_seq_cst) & 1u;
    for (int spins = 0; readers_[old_slot].load(std::memory_order_seq_cst) != 0; ++spins) {
      timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long elapsed_ms =
          (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (elapsed_ms > timeout_ms) return false;
      if (spins < 100) {
        sched_yield();
      } else {
        timespec nap = {0, 100000};
        nanosleep(&nap, nullptr);
      }
    }
  }
  return true;
}

bool RefreshReadableRanges() {
  std::string text;
  if (!ReadFileToString("/proc/self/maps", size_t{256} << 20, &text)) return false;
  std::vector<MemRange> ranges;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    MemRange r;
    if (ParseMapsLine(text.data() + pos, text.data() + eol, &r)) ranges.push_back(r);
    pos = eol + 1;
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const MemRange& a, const MemRange& b) { return a.start < b.start; });
  if (ranges.empty()) return false;
  auto* array = new MemRange[ranges.size()];
  std::copy(ranges.begin(), ranges.end(), array);
  auto* snap = new MapsSnapshot();
  snap->ranges = array;
  snap->count = ranges.size();
  std::lock_guard<std::mutex> lock(g_refresh_mu);
  if (g_retired == nullptr) g_retired = new std::vector<const MapsSnapshot*>();
  g_stale.store(false, std::memory_order_relaxed);
  g_bytes.store(sizeof(MapsSnapshot) + snap->count * sizeof(MemRange), std::memory_order_relaxed);
  const MapsSnapshot* old = g_snapshot.exchange(snap, std::memory_order_seq_cst);
  if (old != nullptr) g_retired->push_back(old);
  // Bounded memory: with too many retired arrays, wait (longer) for readers.
  FreeRetiredLocked(g_retired->size() >= kMaxRetired ? 1000 : 0);
  return true;
}

void ReleaseRetiredReadableRanges() {
  std::lock_guard<std::mutex> lock(g_refresh_mu);
  FreeRetiredLocked(100);
}

bool ReadableRangesStale() { return g_stale.load(std::memory_order_relaxed); }

size_t ReadableRangesBytes() { return g_bytes.load(std::memory_order_relaxed); }

void RegisterCurrentThreadStack() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* addr = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr != nullptr) {
    t_stack_lo = reinterpret_cast<uintptr_t>(addr);
    t_stack_hi = t_stack_lo + size;
  }
  pthread_attr_destroy(&attr);
}

}  // namespace internal
}  // namespace cpprof
