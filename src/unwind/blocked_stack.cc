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
  // Guesses are tried from the stack pointer up. The first walk that
  // reaches a thread entry (CFI marks the RA undefined: clone3, _start) is
  // taken; failing that, the first complete one (ending on a zero frame
  // pointer or return address); failing that, the deepest. Stale words left
  // on the stack by earlier, deeper calls can make a walk end on a zero
  // after wrong frames, which taking the first complete guess accepted (up
  // to 1 dump in 5 on one host thread).
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
    if (best_entry) {
      better = false;  // the first walk that reached a thread entry is kept
    } else if (guess_end.at_entry) {
      better = true;
    } else if (out.complete) {
      better = false;  // else the first complete one
    } else {
      better = guess_end.complete || depth > out.depth;
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
