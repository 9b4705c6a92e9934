// SPDX-License-Identifier: Apache-2.0
//
// The endpoint's own descriptors in the process's (host's) table, numbers
// below 65536, in a lock-free bitmap: a forked child closes its copies of
// them (CloseOwnFdsInChild), and the fd profile names them as cpprof's
// instead of "unknown origin". Descriptors in the endpoint's private table
// (base/private_fd_table.h) are never tracked here: their numbers mean
// nothing in the host's table.
//
// TrackOwnFd, UntrackOwnFd, IsOwnFd, CloseOwnFdsInChild: atomics and
// close(2) only (fork-child and signal safe).

#ifndef CPPROF_SRC_BASE_OWN_FDS_H_
#define CPPROF_SRC_BASE_OWN_FDS_H_

#include "base/config.h"

namespace cpprof {
namespace internal {

CPPROF_SIGNAL_SAFE void TrackOwnFd(int fd);
CPPROF_SIGNAL_SAFE void UntrackOwnFd(int fd);
CPPROF_SIGNAL_SAFE bool IsOwnFd(int fd);
// Untracks and closes every tracked descriptor (a forked child's copies).
CPPROF_SIGNAL_SAFE void CloseOwnFdsInChild();

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_OWN_FDS_H_
