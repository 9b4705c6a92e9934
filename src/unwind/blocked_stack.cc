// SPDX-License-Identifier: Apache-2.0

#include "unwind/blocked_stack.h"

#include <algorithm>
#include <cstring>

#include "base/safe_load.h"
#include "unwind/unwinder.h"

namespace cpprof {
namespace internal {
namespace {

constexpr uintptr_t kGuessWindowBytes = 2048;
constexpr uintptr_t kMaxFrameBytes = 1 << 20;  // a saved rbp further above is not a frame record
constexpr int kMaxGuesses = 24;
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
  int guesses = 0;
  for (uintptr_t x = from; x < from + kGuessWindowBytes && guesses < kMaxGuesses; x += 8) {
    uintptr_t saved_fp = 0, ra = 0;
    if (!SafeLoad(x, &saved_fp, &cache) || !SafeLoad(x + 8, &ra, &cache)) break;
    if (saved_fp != 0 && (saved_fp <= x || saved_fp - x > kMaxFrameBytes)) continue;
    if (!IsExecutableAddress(ra)) continue;
    ++guesses;
    UnwindEnd guess_end;
    const int depth = CaptureStackFrom(pc, sp, x, scratch, max_depth, &guess_end);
    if (guess_end.complete || depth > out.depth) {
      memcpy(pcs, scratch, static_cast<size_t>(depth) * sizeof(uintptr_t));
      out.depth = depth;
      out.complete = guess_end.complete;
      out.fp_guessed = true;
      if (out.complete) break;
    }
  }
  return out;
}

}  // namespace internal
}  // namespace cpprof
