// SPDX-License-Identifier: Apache-2.0

#include "unwind/blocked_stack.h"

#include <algorithm>
#include <cstring>

#include "base/safe_load.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {
namespace {

constexpr uintptr_t kGuessWindowBytes = 8192;  // sanitizer interceptors keep >2 KiB frames
constexpr int kMaxGuesses = 128;  // stale words in big frames (sanitizer interceptors) come first
constexpr int kMaxDepth = 256;

}  // namespace

BlockedStack UnwindBlockedThread(uintptr_t pc, uintptr_t sp, uintptr_t* pcs, int max_depth) {
  BlockedStack out;
  max_depth = std::min(max_depth, kMaxDepth);
  if (max_depth <= 0) return out;
  UnwindEnd end;
  out.depth = CaptureStackFrom(pc, sp, 0, pcs, max_depth, &end);
  out.complete = end.complete;
  if (out.complete) return out;

  uintptr_t scratch[kMaxDepth];
  SafeLoadCache cache;
  const uintptr_t from = (std::max(end.stop_sp, sp) + 7) & ~uintptr_t{7};
  // Every plausible guess is walked and the best kept: a complete walk over
  // an incomplete one, then the deepest, then one that reaches a thread
  // entry (CFI marks the RA undefined: clone3, _start) over one that ends on
  // a zero frame pointer or return address. Stale words left on the stack
  // by earlier, deeper calls make walks that look complete after wrong
  // frames; they are shorter than the real one (they skip its callers) or
  // end without an entry, so taking the first complete guess (what this
  // did before) picked them up to 1 dump in 5 on busy threads.
  int guesses = 0;
  bool best_entry = false;
  for (uintptr_t x = from; x < from + kGuessWindowBytes && guesses < kMaxGuesses; x += 8) {
    uintptr_t saved_fp = 0, ra = 0;
    if (!SafeLoad(x, &saved_fp, &cache) || !SafeLoad(x + 8, &ra, &cache)) break;
    // The saved rbp is not checked: the caller may be code without frame
    // pointers, which uses rbp for anything.
    (void)saved_fp;
    if (!IsExecutableAddress(ra)) continue;
    SafeLoadCache code_cache;
    if (!FollowsCallInstruction(ra, &code_cache)) continue;
    ++guesses;
    UnwindEnd guess_end;
    const int depth = CaptureStackFrom(pc, sp, x, scratch, max_depth, &guess_end);
    bool better;
    if (guess_end.complete != out.complete) {
      better = guess_end.complete;
    } else if (depth != out.depth) {
      better = depth > out.depth;
    } else {
      better = guess_end.at_entry && !best_entry;
    }
    if (better) {
      memcpy(pcs, scratch, static_cast<size_t>(depth) * sizeof(uintptr_t));
      out.depth = depth;
      out.complete = guess_end.complete;
      out.fp_guessed = true;
      best_entry = guess_end.at_entry;
    }
  }
  return out;
}

}  // namespace internal
}  // namespace cpprof
