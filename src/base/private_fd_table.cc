// SPDX-License-Identifier: Apache-2.0

#include "base/private_fd_table.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

namespace cpprof {
namespace internal {

CPPROF_SIGNAL_TLS int t_private_fd_table;

bool MakeFdTablePrivate(const std::vector<int>& keep) {
  if (unshare(CLONE_FILES) != 0) return false;
  t_private_fd_table = 1;
  std::vector<int> kept = keep;
  kept.push_back(0);
  kept.push_back(1);
  kept.push_back(2);
  std::sort(kept.begin(), kept.end());
  kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
  // Close the copies of every other descriptor, in the private table only:
  // the raw syscall, not close(), so no hook clears a record of the host's.
  unsigned next = 0;
  for (int k : kept) {
    if (k < 0) continue;
    if (static_cast<unsigned>(k) > next) syscall(SYS_close_range, next, static_cast<unsigned>(k) - 1, 0u);
    next = static_cast<unsigned>(k) + 1;
  }
  syscall(SYS_close_range, next, UINT_MAX, 0u);
  return true;
}

}  // namespace internal
}  // namespace cpprof
