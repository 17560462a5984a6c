# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# clang 19 with libc++ 19: the toolchain of every preset but `bench`. Another toolchain
# (clang 22 + libc++ 22, issue 15) is a copy of this file with the three names changed;
# the flags they share live in cmake/weakrefFlags.cmake.
set(CMAKE_CXX_COMPILER clang++-19)
# C++20 named modules: CMake scans module dependencies with the matching clang-scan-deps.
set(CMAKE_CXX_COMPILER_CLANG_SCAN_DEPS clang-scan-deps-19)
# Compiling and linking against libc++ (the package records it: README, "Same standard library").
set(weakref_stdlib_flag "-stdlib=libc++")
include("${CMAKE_CURRENT_LIST_DIR}/../weakrefFlags.cmake")
