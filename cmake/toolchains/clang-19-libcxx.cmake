# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# clang 19 with libc++ 19 (Debian's libc++-19-dev, installed by scripts/bootstrap): the toolchain
# of every preset but `bench` and the clang 22 ones. The libc++ it uses is named explicitly
# (cmake/toolchains/libcxx.cmake), so a libc++ 22 beside it changes nothing.
set(CMAKE_CXX_COMPILER clang++-19)
# C++20 named modules: CMake scans module dependencies with the matching clang-scan-deps.
set(CMAKE_CXX_COMPILER_CLANG_SCAN_DEPS clang-scan-deps-19)
set(weakref_libcxx_root /usr/lib/llvm-19)
set(weakref_libcxx_link shared)
include("${CMAKE_CURRENT_LIST_DIR}/libcxx.cmake")
