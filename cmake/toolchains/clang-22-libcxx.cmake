# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# clang 22 with libc++ 22 (Debian bookworm-security). libc++-22-dev cannot be installed beside
# libc++-19-dev (the packages conflict), so scripts/bootstrap unpacks it into its own tree,
# WEAKREF_LIBCXX_22_ROOT. That package also has no shared runtime of its own (its libc++.so.1
# is libc++ 19's, which lacks symbols libc++ 22's headers call, std::__1::__hash_memory among
# them): the runtime is linked statically, from the same tree.
set(WEAKREF_LIBCXX_22_ROOT "/opt/weakref/libc++-22/usr/lib/llvm-22"
    CACHE PATH "The LLVM 22 tree holding libc++ 22 (include/c++/v1, lib, share/libc++/v1)")
set(CMAKE_CXX_COMPILER clang++-22)
set(CMAKE_CXX_COMPILER_CLANG_SCAN_DEPS clang-scan-deps-22)
set(weakref_libcxx_root "${WEAKREF_LIBCXX_22_ROOT}")
set(weakref_libcxx_link static)
include("${CMAKE_CURRENT_LIST_DIR}/libcxx.cmake")
