// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The one translation unit of weakref.conformance that compiles Boost.Test's runner.
#define BOOST_TEST_MODULE weakref_conformance
#include <boost/test/included/unit_test.hpp>
