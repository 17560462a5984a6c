# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# clang 19 with the system's libstdc++ (Debian 12: libstdc++ 12): the `bench` preset, because
# Debian's Google Benchmark is built against libstdc++. clang's default standard library on
# Linux, so no -stdlib option; the flags the toolchains share live in cmake/weakrefFlags.cmake.
set(CMAKE_CXX_COMPILER clang++-19)
set(CMAKE_CXX_COMPILER_CLANG_SCAN_DEPS clang-scan-deps-19)
set(weakref_stdlib_flag "")
include("${CMAKE_CURRENT_LIST_DIR}/../weakrefFlags.cmake")
