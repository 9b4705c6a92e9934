// SPDX-License-Identifier: Apache-2.0

#include "base/signal_handler.h"

#include <errno.h>
#include <string.h>

namespace cpprof {
namespace internal {

SignalInstall InstallSignalHandler(int signo, void (*handler)(int, siginfo_t*, void*), const char* choose,
                                   std::string* error) {
  struct sigaction old;
  if (sigaction(signo, nullptr, &old) != 0) {
    *error = "invalid signal " + std::to_string(signo);
    return SignalInstall::kInvalid;
  }
  if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == handler) return SignalInstall::kOk;
  if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    *error = "signal " + std::to_string(signo) + " (" + strsignal(signo) +
             ") already has a handler (the host's or another profiler's); choose another signal with " + choose;
    return SignalInstall::kTaken;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(signo, &sa, nullptr) != 0) {
    *error = std::string("sigaction: ") + strerror(errno);
    return SignalInstall::kFailed;
  }
  return SignalInstall::kOk;
}

}  // namespace internal
}  // namespace cpprof
