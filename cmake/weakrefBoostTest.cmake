# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# weakref::boost_test: what a Boost.Test executable of this project links (the unit tests, the
# conformance suite). Boost.Test's registration macros expand __COUNTER__, which clang 22 calls
# a C2y extension under -Wpedantic; the warning is silenced for these executables only, and only
# where the compiler knows it, so the library itself stays -Wpedantic -Werror clean.
include_guard(GLOBAL)
find_package(Boost 1.83 REQUIRED CONFIG COMPONENTS headers)
include(CheckCXXCompilerFlag)
check_cxx_compiler_flag(-Wc2y-extensions WEAKREF_HAS_WARNING_C2Y_EXTENSIONS)
add_library(weakref_boost_test INTERFACE)
target_link_libraries(weakref_boost_test INTERFACE Boost::headers)
if(WEAKREF_HAS_WARNING_C2Y_EXTENSIONS)
  target_compile_options(weakref_boost_test INTERFACE -Wno-c2y-extensions)
endif()
add_library(weakref::boost_test ALIAS weakref_boost_test)
