// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The one translation unit of weakref.tests that compiles Boost.Test's runner (header-only:
// Debian's compiled Boost.Test is built for libstdc++, these tests use libc++).
#define BOOST_TEST_MODULE weakref
#include <boost/test/included/unit_test.hpp>
