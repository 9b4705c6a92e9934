// SPDX-License-Identifier: Apache-2.0
// doctest entry point shared by every unit-test binary.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
