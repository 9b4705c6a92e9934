// SPDX-License-Identifier: Apache-2.0
// -----------------------------------------------------------------------------
// File: cpprof/status.h
// -----------------------------------------------------------------------------
//
// Status is how every fallible cpprof call reports failure: cpprof never throws
// into the host. A default-constructed Status is OK.
//
//   cpprof::Status s = server.Start();
//   if (!s.ok()) fprintf(stderr, "cpprof: %s\n", s.message().c_str());

#ifndef CPPROF_STATUS_H_
#define CPPROF_STATUS_H_

#include <string>
#include <utility>

namespace cpprof {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // a bad option or parameter
  kFailedPrecondition,  // e.g. already started, or a signal handler is taken
  kUnavailable,         // a system resource could not be had (bind, timer)
  kPermissionDenied,    // refused by the security policy
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // Returns a sentence naming what failed and, for system calls, the errno text.
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

}  // namespace cpprof

#endif  // CPPROF_STATUS_H_
