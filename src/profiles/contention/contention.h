// SPDX-License-Identifier: Apache-2.0
//
// Lock contention and blocking, with Go's (>= 1.22) semantics:
//   mutex  the delay a pthread mutex's waiters experienced, summed over all
//          of them, charged to the stack that unlocked it (the critical
//          section that made them wait);
//   block  each waiter's own wait, at the waiter's stack: pthread mutexes,
//          rwlocks and condition-variable waits (label kind=mutex|rwlock|cond).
// Two StackTables (values: contentions, delay ns; already unsampled) are
// filled by the interposed pthread functions (lock_hooks.cc).
//
// Sampling (Go's): mutex keeps 1 of `fraction` contended unlocks, weighted
// x fraction; block keeps a wait of d ns with probability min(1, d/rate),
// weighted 1/p (count += rate/d, delay += rate). 0 turns a profile off;
// both are off until set (Options, CPPROF_MUTEX_FRACTION, CPPROF_BLOCK_RATE,
// cpprof::SetMutexProfileFraction / SetBlockProfileRate).
//
// Hook context: everything declared CPPROF_SIGNAL_SAFE below runs inside the
// host's lock calls (lock_hooks.cc). The setters and snapshots are not.

#ifndef CPPROF_SRC_PROFILES_CONTENTION_CONTENTION_H_
#define CPPROF_SRC_PROFILES_CONTENTION_CONTENTION_H_

#include <atomic>
#include <cstdint>

#include "base/config.h"
#include "stacks/table_snapshot.h"

namespace cpprof {
namespace internal {
class StackTable;

namespace contention {

enum class Which { kMutex = 0, kBlock = 1 };

// The block profile's tag: what was waited on.
enum class WaitKind : int32_t { kMutex = 0, kRwlock = 1, kCond = 2, kUser = 3 };
const char* WaitKindName(int32_t tag);

constexpr int kValues = 2;  // contentions, delay ns
constexpr int kMaxStackDepth = 64;

// Bits of g_enabled: which profiles the hooks feed.
constexpr uint32_t kMutexOn = 1;
constexpr uint32_t kBlockOn = 2;
extern std::atomic<uint32_t> g_enabled;
extern std::atomic<int64_t> g_mutex_fraction;  // 0 = off
extern std::atomic<int64_t> g_block_rate;      // ns; 0 = off
extern std::atomic<StackTable*> g_tables[2];   // by Which; null until first on

// Turns the profiles on (creating their tables) or off; return the previous
// setting. Not hook context.
int64_t SetMutexFraction(int64_t fraction);
int64_t SetBlockRate(int64_t rate_ns);
int64_t MutexFraction();
int64_t BlockRate();

// Applies CPPROF_MUTEX_FRACTION and CPPROF_BLOCK_RATE, the first time only
// (a bad value is ignored with a warning).
void ApplyEnvironmentOnce();

// Whether the lock functions are cpprof's in this process (false in
// ThreadSanitizer builds, which own them, and in a second copy of cpprof
// whose hooks are shadowed by the first).
bool HooksActive();

struct Counters {
  std::atomic<uint64_t> mutex_events{0};     // contended unlocks that charged a delay
  std::atomic<uint64_t> block_events{0};     // timed waits
  std::atomic<uint64_t> samples{0};          // events recorded with a stack
  std::atomic<uint64_t> dropped{0};          // sampled events whose stack did not fit
  std::atomic<uint64_t> untracked_waits{0};  // waiters the side table had no room for
  std::atomic<uint64_t> recursive{0};        // re-locks by the owner (not contention)
  std::atomic<int64_t> lost[2][kValues] = {};  // per Which: values of dropped samples
  std::atomic<uint64_t> hook_ns{0};          // time in the hooks' slow paths
};
Counters& GetCounters();

// The table of a profile; null until it was first turned on.
StackTable* Table(Which which);

// Hook context. Records one sampled event of `which` (values already
// unsampled) at the calling thread's stack, dropping cpprof's own frames.
CPPROF_SIGNAL_SAFE void RecordEvent(Which which, int32_t tag, int64_t count, int64_t delay_ns);

// A snapshot of a profile; extra = {lost contentions, lost delay}.
TableSnapshot TakeSnapshot(Which which);

}  // namespace contention
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_CONTENTION_CONTENTION_H_
