// SPDX-License-Identifier: Apache-2.0
//
// Signal context: safe. Saves errno on construction and restores it on
// destruction, so a handler never changes the interrupted code's errno.

#ifndef CPPROF_SRC_BASE_ERRNO_SAVER_H_
#define CPPROF_SRC_BASE_ERRNO_SAVER_H_

#include <cerrno>

namespace cpprof {
namespace internal {

class ErrnoSaver {
 public:
  ErrnoSaver() : saved_(errno) {}
  ~ErrnoSaver() { errno = saved_; }
  ErrnoSaver(const ErrnoSaver&) = delete;
  ErrnoSaver& operator=(const ErrnoSaver&) = delete;
  int saved() const { return saved_; }

 private:
  int saved_;
};

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_ERRNO_SAVER_H_
