// SPDX-License-Identifier: Apache-2.0
//
// Installing cpprof's signal handlers (CPU profiling, parking threads for a
// leak scan, the opt-in thread-stack signal) the same way everywhere. Not
// signal-safe.

#ifndef CPPROF_SRC_BASE_SIGNAL_HANDLER_H_
#define CPPROF_SRC_BASE_SIGNAL_HANDLER_H_

#include <signal.h>

#include <string>

namespace cpprof {
namespace internal {

enum class SignalInstall {
  kOk,       // installed now, or already ours
  kInvalid,  // not a signal number
  kTaken,    // the signal has a handler that is not this one (the host's, another profiler's)
  kFailed,   // sigaction refused
};

// Installs `handler` for `signo` with SA_SIGINFO | SA_RESTART and an empty
// mask, unless it is installed already. A signal that has another handler
// is left alone: *error then says so and names `choose`, the setting that
// picks another signal. Handlers are never uninstalled: a signal already
// queued must not meet SIG_DFL, which ends the process for SIGPROF and the
// real-time signals.
SignalInstall InstallSignalHandler(int signo, void (*handler)(int, siginfo_t*, void*), const char* choose,
                                   std::string* error);

}  // namespace internal
}  // namespace cpprof

#endif  // CPPROF_SRC_BASE_SIGNAL_HANDLER_H_
