// SPDX-License-Identifier: Apache-2.0
//
// Project-wide macros. See docs/signal-safety.md.

#ifndef CPPROF_SRC_BASE_CONFIG_H_
#define CPPROF_SRC_BASE_CONFIG_H_

// Marks a function that may run inside a signal handler. A no-op for the
// compiler; `git grep CPPROF_SIGNAL_SAFE` lists the signal world, and
// tests/signal_safety checks what the signal-world objects link against.
#define CPPROF_SIGNAL_SAFE

// For functions that read memory of frames they do not own (stack walks).
#define CPPROF_NO_SANITIZE_ADDRESS __attribute__((no_sanitize_address))
#define CPPROF_NO_SANITIZE_THREAD __attribute__((no_sanitize_thread))
#define CPPROF_NO_SANITIZE_MEMORY_READS \
  __attribute__((no_sanitize_address, no_sanitize_thread, no_sanitize("undefined")))

// Thread-local storage that is safe to touch from a signal handler: the
// initial-exec model never calls __tls_get_addr (which may allocate).
#define CPPROF_SIGNAL_TLS __thread __attribute__((tls_model("initial-exec")))

#endif  // CPPROF_SRC_BASE_CONFIG_H_
