// SPDX-License-Identifier: Apache-2.0
//
// Test code compiled with -fomit-frame-pointer (see extra.cmake): callers of
// a hook that sit between the test and libc/libstdc++, so stack walks have to
// use CFI to get through them.

#ifndef CPPROF_TESTS_UNIT_UNWIND_NO_FRAME_POINTER_CODE_H_
#define CPPROF_TESTS_UNIT_UNWIND_NO_FRAME_POINTER_CODE_H_

#include <atomic>

namespace cpprof_test {

using Hook = void (*)(void* arg);

// qsort() with a comparator that calls hook(arg) on its first call.
void SortWithQsort(Hook hook, void* arg);
// std::sort with a predicate that calls hook(arg) on its first call.
void SortWithStdSort(Hook hook, void* arg);
// qsort() whose comparator spins (first call only) until *stop is true or
// about `max_spins` iterations have passed.
void SortSpinningInComparator(const std::atomic<bool>* stop, long max_spins);
// Recurses `depth` times through a frame-pointer-less function, then calls
// hook(arg). Returns a value that depends on every level (no tail calls).
int RecurseWithoutFramePointers(int depth, Hook hook, void* arg);

}  // namespace cpprof_test

#endif  // CPPROF_TESTS_UNIT_UNWIND_NO_FRAME_POINTER_CODE_H_
