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

// Whether `ra` follows a call instruction, as a return address does
// (x86_64: call rel32, call *reg, call *disp8(reg), call *disp32(reg|rip)).
// Elsewhere every executable address passes.
bool FollowsCall(uintptr_t ra, SafeLoadCache* cache) {
#if defined(__x86_64__)
  uintptr_t word = 0;
  if (ra < 8 || !SafeLoad(ra - 8, &word, cache)) return false;
  const uint8_t* b = reinterpret_cast<const uint8_t*>(&word);  // b[7] is the byte at ra - 1
  auto indirect = [](uint8_t opcode, uint8_t modrm) { return opcode == 0xff && (modrm & 0x38) == 0x10; };
  return b[3] == 0xe8 || indirect(b[6], b[7]) || indirect(b[5], b[6]) || indirect(b[2], b[3]);
#else
  (void)ra;
  (void)cache;
  return true;
#endif
}

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
    if (!FollowsCall(ra, &code_cache)) continue;
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
