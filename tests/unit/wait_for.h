// SPDX-License-Identifier: Apache-2.0
//
// WaitFor: polls a condition in unit tests that wait on other threads (the
// kernel reaping a thread, a manager's rescan), instead of sleeping a fixed
// time that a loaded machine can overrun.

#ifndef CPPROF_TESTS_UNIT_WAIT_FOR_H_
#define CPPROF_TESTS_UNIT_WAIT_FOR_H_

#include <chrono>
#include <thread>

namespace cpprof_test {

// Polls `condition` every 10 ms for up to `ms`; returns its last value.
template <typename F>
bool WaitFor(F condition, int ms = 5000) {
  for (int i = 0; i < ms / 10; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace cpprof_test

#endif  // CPPROF_TESTS_UNIT_WAIT_FOR_H_
