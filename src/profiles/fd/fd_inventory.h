// SPDX-License-Identifier: Apache-2.0
//
// The open descriptors of the process, read from /proc/self/fd (the
// thread-group leader's table, also from a thread on a private table) and
// joined with the creation records (fd_records.h). A descriptor without a
// record, or whose record names a call that cannot have made what the
// descriptor is now (a socket record on a regular file: the socket was
// closed where no hook saw it and the number reused), is "unknown origin":
// inherited, made by a raw syscall, io_uring or inside glibc. Records of
// numbers no longer open are dropped (ForgetFdRecord).
//
// Targets: paths for files, "tcp 127.0.0.1:6060 -> 127.0.0.1:41234
// ESTABLISHED" style for sockets (/proc/self/net/{tcp,tcp6,udp,udp6,unix}
// by inode), the link text otherwise ("pipe:[123]", "anon_inode:[eventfd]").
//
// Not signal-safe; thread-safe. Needs one descriptor of its own (the
// directory), plus one per fd while reading flags.

#ifndef CPPROF_SRC_PROFILES_FD_FD_INVENTORY_H_
#define CPPROF_SRC_PROFILES_FD_FD_INVENTORY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "cpprof/status.h"
#include "pprof/stack_profile.h"
#include "profiles/fd/fd_records.h"

namespace cpprof {
namespace internal {
namespace fd {

struct OpenFd {
  int fd = -1;
  std::string type;    // file, dir, device, fifo, socket, pipe, eventfd, epoll, timerfd, signalfd,
                       // inotify, memfd, pidfd, fanotify, other
  std::string target;
  std::string flags;   // "O_RDWR|O_NONBLOCK|O_CLOEXEC" (only when asked for)
  bool known = false;  // a matching creation record exists
  bool own = false;    // the endpoint's own (listener, wake-up eventfd, connections without a private table)
  FdApi api = FdApi::kNone;
  std::vector<uintptr_t> pcs;  // creation stack (return addresses, innermost first)
  int64_t created_unix_ns = 0;
};

struct Inventory {
  int64_t taken_unix_ns = 0;
  std::vector<OpenFd> fds;     // by number
  size_t unknown = 0;          // neither known nor own
  size_t stale_dropped = 0;    // records of closed numbers dropped now
  bool tracking = false;       // creation records are being kept
};

struct InventoryOptions {
  bool flags = false;          // read /proc/self/fdinfo/N for each descriptor
  bool sockets = true;         // resolve socket addresses
};

// Lists the open descriptors. Fails when /proc/self/fd cannot be opened.
Status TakeInventory(const InventoryOptions& options, Inventory* out);

// The type of a /proc/self/fd link target ("socket:[1]" -> "socket");
// `mode` is the target's st_mode (0 if unknown) for path targets.
std::string FdTypeOf(const std::string& link, unsigned mode);
// Whether a descriptor made by `api` can be of `type` now.
bool ApiMatchesType(FdApi api, const std::string& type);

// profile.proto form: sample type fds/count, one sample per descriptor at
// its creation stack (unknown origin: a synthetic frame), labels type,
// target, api and numeric fd and age (seconds). With created_after_ns > 0,
// only descriptors created (and recorded) since then: the `seconds=N`
// delta.
StackProfile FdProfile(const Inventory& inventory, int64_t created_after_ns = 0);

// debug=1: a summary, then every descriptor grouped by creation stack
// (largest groups first) with type, target, flags and age.
std::string FdText(const Inventory& inventory);

}  // namespace fd
}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_PROFILES_FD_FD_INVENTORY_H_
