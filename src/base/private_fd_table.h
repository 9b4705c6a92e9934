// SPDX-License-Identifier: Apache-2.0
//
// A private descriptor table for cpprof's endpoint threads, so the endpoint
// keeps answering when the host has used up RLIMIT_NOFILE ("too many open
// files"): the limit is checked against numbers in the table a descriptor
// is allocated from, and the private table holds only a handful.
//
// MakeFdTablePrivate() runs unshare(CLONE_FILES) on the calling thread: it
// gets a copy of the process's table, of which it keeps only 0-2 (so stderr
// logging still works) and the descriptors it names, closing the rest in
// the copy (the host's table is untouched). Threads it creates afterwards
// (pthread_create shares the creator's table) share the private table; the
// pthread_create interposer carries the flag to them. Code on such a thread
// sees only its own descriptors: it reads the host's through
// /proc/self/fd/N (the thread-group leader's table), never runs host
// callbacks, and never closes a number it did not open there.
//
// The flag is what the descriptor hooks check (they must not record a
// private number as the host's) and what fork handlers check (a private
// number means nothing in a forked child's copy of the host's table).
//
// ThreadFdTableIsPrivate(): signal and hook context (one TLS load).

#ifndef CPPROF_SRC_BASE_PRIVATE_FD_TABLE_H_
#define CPPROF_SRC_BASE_PRIVATE_FD_TABLE_H_

#include <vector>

#include "base/config.h"

namespace cpprof {
namespace internal {

extern CPPROF_SIGNAL_TLS int t_private_fd_table;

CPPROF_SIGNAL_SAFE inline bool ThreadFdTableIsPrivate() { return t_private_fd_table != 0; }

// Marks the calling thread as one on a private table (a thread created by
// such a thread).
inline void MarkThreadFdTablePrivate() { t_private_fd_table = 1; }

// Gives the calling thread a private copy of the descriptor table holding
// only 0, 1, 2 and `keep`. False (errno set, nothing changed) if the kernel
// or a seccomp policy refuses unshare(CLONE_FILES).
bool MakeFdTablePrivate(const std::vector<int>& keep);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_PRIVATE_FD_TABLE_H_
