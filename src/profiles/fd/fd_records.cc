// SPDX-License-Identifier: Apache-2.0
//
// Hook context (see fd_records.h): OnFdCreated, OnFdClosing,
// OnFdRangeClosing, OnFdCreateFailed and what they call run inside the
// host's descriptor calls, maybe in signal handlers: atomics, mmap, the
// lock-free StackTable and CaptureCurrentStack only; errno is saved and
// restored around them by the callers' ErrnoSaver.
//
// A record is one 64-bit word plus the creation time:
//   bit 63 valid | api << 48 | (slot + 1)   (slot + 1 == 0: no stack stored)

#include "profiles/fd/fd_records.h"

#include <sys/mman.h>

#include <cerrno>

#include "base/clock.h"
#include "base/private_fd_table.h"
#include "stacks/stack_table.h"
#include "unwind/unwinder.h"

CPPROF_DECLARE_CODE_SECTION(cpprof_fd_hooks)

namespace cpprof {
namespace internal {
namespace fd {
namespace {

constexpr int kChunkShift = 12;
constexpr int kChunkEntries = 1 << kChunkShift;
constexpr int kChunks = kMaxTrackedFd / kChunkEntries;
constexpr uint64_t kValid = uint64_t{1} << 63;
constexpr int kApiShift = 48;
constexpr size_t kTableSlots = 8192;
constexpr size_t kTableArenaPcs = kTableSlots * 24;

struct Entry {
  std::atomic<uint64_t> word;
  std::atomic<int64_t> created_unix_ns;
};

std::atomic<Entry*> g_chunks[kChunks];
std::atomic<StackTable*> g_table{nullptr};
std::atomic<bool> g_recording{false};
std::atomic<size_t> g_chunk_bytes{0};
FdCounters g_counters;

CPPROF_SIGNAL_TLS int t_in_fd_hook;

CPPROF_SIGNAL_SAFE Entry* FindEntry(int fd) {
  if (fd < 0 || fd >= kMaxTrackedFd) return nullptr;
  Entry* chunk = g_chunks[fd >> kChunkShift].load(std::memory_order_acquire);
  return chunk == nullptr ? nullptr : &chunk[fd & (kChunkEntries - 1)];
}

CPPROF_SIGNAL_SAFE Entry* EntryFor(int fd) {
  if (fd < 0 || fd >= kMaxTrackedFd) return nullptr;
  std::atomic<Entry*>& slot = g_chunks[fd >> kChunkShift];
  Entry* chunk = slot.load(std::memory_order_acquire);
  if (chunk == nullptr) {
    const size_t bytes = sizeof(Entry) * kChunkEntries;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    Entry* fresh = static_cast<Entry*>(p);  // zero pages: every word 0 (empty)
    if (slot.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) {
      chunk = fresh;
      g_chunk_bytes.fetch_add(bytes, std::memory_order_relaxed);
    } else {
      munmap(p, bytes);  // another thread mapped it first; `chunk` is theirs
    }
  }
  return &chunk[fd & (kChunkEntries - 1)];
}

CPPROF_SIGNAL_SAFE long SlotOf(uint64_t word) {
  return static_cast<long>(word & 0xffffffffu) - 1;
}

// Gives the live count of a replaced or cleared record back to its stack.
CPPROF_SIGNAL_SAFE void Release(uint64_t word) {
  if ((word & kValid) == 0) return;
  const long slot = SlotOf(word);
  StackTable* table = g_table.load(std::memory_order_acquire);
  if (slot < 0 || table == nullptr) return;
  const int64_t deltas[2] = {-1, 0};
  table->AddToSlot(static_cast<size_t>(slot), deltas);
}

CPPROF_SIGNAL_SAFE void NoteHighest(int fd) {
  int seen = g_counters.highest_fd.load(std::memory_order_relaxed);
  while (fd > seen && !g_counters.highest_fd.compare_exchange_weak(seen, fd, std::memory_order_relaxed)) {
  }
}

}  // namespace

const char* FdApiName(FdApi api) {
  switch (api) {
    case FdApi::kNone: return "unknown";
    case FdApi::kOpen: return "open";
    case FdApi::kCreat: return "creat";
    case FdApi::kSocket: return "socket";
    case FdApi::kSocketpair: return "socketpair";
    case FdApi::kAccept: return "accept";
    case FdApi::kPipe: return "pipe";
    case FdApi::kDup: return "dup";
    case FdApi::kFcntlDup: return "fcntl";
    case FdApi::kEventfd: return "eventfd";
    case FdApi::kTimerfd: return "timerfd_create";
    case FdApi::kSignalfd: return "signalfd";
    case FdApi::kEpoll: return "epoll_create";
    case FdApi::kInotify: return "inotify_init";
    case FdApi::kMemfd: return "memfd_create";
    case FdApi::kPidfd: return "pidfd_open";
    case FdApi::kFanotify: return "fanotify_init";
    case FdApi::kRecvmsg: return "recvmsg";
    case FdApi::kFopen: return "fopen";
    case FdApi::kFreopen: return "freopen";
    case FdApi::kTmpfile: return "tmpfile";
    case FdApi::kMkstemp: return "mkstemp";
    case FdApi::kOpendir: return "opendir";
    case FdApi::kPopen: return "popen";
    case FdApi::kShmOpen: return "shm_open";
    case FdApi::kPosixOpenpt: return "posix_openpt";
    case FdApi::kCount: break;
  }
  return "unknown";
}

// In the hooks' section, so that stacks start at the host's frame however
// the compiler inlined the hook into its caller.
__attribute__((section("cpprof_fd_hooks"), noinline)) CPPROF_SIGNAL_SAFE void OnFdCreated(int fd, FdApi api) {
  if (fd < 0 || ThreadFdTableIsPrivate()) return;
  g_counters.created.fetch_add(1, std::memory_order_relaxed);
  NoteHighest(fd);
  if (fd >= 1024) g_counters.high_fds.fetch_add(1, std::memory_order_relaxed);
  if (!g_recording.load(std::memory_order_relaxed) || t_in_fd_hook != 0) return;
  StackTable* table = g_table.load(std::memory_order_acquire);
  if (table == nullptr) return;
  Entry* e = EntryFor(fd);
  if (e == nullptr) {
    g_counters.untracked.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  t_in_fd_hook = 1;
  uintptr_t pcs[kFdStackDepth + 8];
  int depth = CaptureCurrentStack(pcs, kFdStackDepth + 8);
  const int skip = LeadingFramesIn(CPPROF_CODE_SECTION(cpprof_fd_hooks), pcs, depth);
  if (depth - skip > kFdStackDepth) depth = skip + kFdStackDepth;
  const int64_t deltas[2] = {1, 1};
  const long slot = table->AddValues(pcs + skip, depth - skip, 0, deltas);
  e->created_unix_ns.store(RealtimeNanos(), std::memory_order_relaxed);
  const uint64_t word = kValid | (static_cast<uint64_t>(api) << kApiShift) | static_cast<uint64_t>(slot + 1);
  Release(e->word.exchange(word, std::memory_order_acq_rel));
  t_in_fd_hook = 0;
}

CPPROF_SIGNAL_SAFE void OnFdClosing(int fd) {
  if (ThreadFdTableIsPrivate()) return;
  Entry* e = FindEntry(fd);
  if (e == nullptr || e->word.load(std::memory_order_relaxed) == 0) return;
  const uint64_t old = e->word.exchange(0, std::memory_order_acq_rel);
  if ((old & kValid) != 0) g_counters.closed.fetch_add(1, std::memory_order_relaxed);
  Release(old);
}

CPPROF_SIGNAL_SAFE void OnFdRangeClosing(unsigned first, unsigned last) {
  if (ThreadFdTableIsPrivate()) return;
  if (last >= static_cast<unsigned>(kMaxTrackedFd)) last = kMaxTrackedFd - 1;
  for (unsigned c = first >> kChunkShift; c <= (last >> kChunkShift); ++c) {
    if (g_chunks[c].load(std::memory_order_acquire) == nullptr) continue;
    const unsigned lo = c == (first >> kChunkShift) ? first : c << kChunkShift;
    const unsigned hi = c == (last >> kChunkShift) ? last : ((c + 1) << kChunkShift) - 1;
    for (unsigned f = lo; f <= hi; ++f) OnFdClosing(static_cast<int>(f));
  }
}

CPPROF_SIGNAL_SAFE void OnFdCreateFailed(int err) {
  if (err == EMFILE) g_counters.emfile.fetch_add(1, std::memory_order_relaxed);
  if (err == ENFILE) g_counters.enfile.fetch_add(1, std::memory_order_relaxed);
}

void StartFdTracking() {
  if (g_table.load(std::memory_order_acquire) == nullptr) {
    StackTable* table = StackTable::Create(kTableSlots, kTableArenaPcs, 2, /*prefault=*/false);
    StackTable* expected = nullptr;
    if (table != nullptr && !g_table.compare_exchange_strong(expected, table)) StackTable::Destroy(table);
  }
  g_recording.store(g_table.load() != nullptr);
}

bool FdTrackingActive() { return g_recording.load() && g_table.load() != nullptr; }

void SetFdRecording(bool on) { g_recording.store(on && g_table.load() != nullptr); }

FdCounters& GetFdCounters() { return g_counters; }

void ForEachFdRecord(void (*fn)(const FdRecord& record, void* context), void* context) {
  for (int c = 0; c < kChunks; ++c) {
    Entry* chunk = g_chunks[c].load(std::memory_order_acquire);
    if (chunk == nullptr) continue;
    for (int i = 0; i < kChunkEntries; ++i) {
      const uint64_t word = chunk[i].word.load(std::memory_order_acquire);
      if ((word & kValid) == 0) continue;
      FdRecord r;
      r.fd = (c << kChunkShift) + i;
      r.api = static_cast<FdApi>((word >> kApiShift) & 0x7f);
      r.slot = SlotOf(word);
      r.created_unix_ns = chunk[i].created_unix_ns.load(std::memory_order_relaxed);
      r.word = word;
      fn(r, context);
    }
  }
}

bool ForgetFdRecord(const FdRecord& record) {
  Entry* e = FindEntry(record.fd);
  if (e == nullptr) return false;
  uint64_t expected = record.word;
  if (!e->word.compare_exchange_strong(expected, 0, std::memory_order_acq_rel)) return false;
  Release(record.word);
  return true;
}

const StackTable* FdStackTable() { return g_table.load(std::memory_order_acquire); }

size_t FdRecordsMemoryBytes() {
  const StackTable* t = g_table.load();
  return g_chunk_bytes.load() + (t != nullptr ? t->memory_bytes() : 0);
}

}  // namespace fd
}  // namespace internal
}  // namespace cpprof
