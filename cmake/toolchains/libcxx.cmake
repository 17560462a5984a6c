# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# libc++ named explicitly, for the clang-N-libcxx toolchain files. Debian ships one libc++-N-dev
# at a time (libc++-22-dev conflicts with libc++-19-dev and repoints /usr/include/c++/v1 and the
# libc++.so linker script), and clang searches /usr/include/c++/v1 first. So a toolchain never
# uses the default search: it names its headers, its library directory and its runtime.
#
# In:  weakref_libcxx_root  the LLVM tree holding include/c++/v1, lib/ and share/libc++/v1
#      weakref_libcxx_link  "shared" (rpath to the tree's lib/) or "static" (libc++.a, whose
#                           libc++abi is merged in: for a tree without its own shared runtime)
# Out: weakref_stdlib_flag, weakref_stdlib_link_flag  read by cmake/weakrefFlags.cmake
if(NOT EXISTS "${weakref_libcxx_root}/include/c++/v1/__config")
  message(FATAL_ERROR "libc++ headers not found under ${weakref_libcxx_root}/include/c++/v1: "
                      "run scripts/bootstrap")
endif()
# Compiling needs only the headers (-stdlib=libc++ would name the default ones, and is unused
# next to -nostdinc++); linking names the library.
set(weakref_stdlib_flag "-nostdinc++ -isystem ${weakref_libcxx_root}/include/c++/v1")
set(weakref_stdlib_link_flag "-stdlib=libc++ -L${weakref_libcxx_root}/lib")
if(weakref_libcxx_link STREQUAL "static")
  string(APPEND weakref_stdlib_link_flag " -static-libstdc++")
else()
  string(APPEND weakref_stdlib_link_flag " -Wl,-rpath,${weakref_libcxx_root}/lib")
endif()
# `import std;`: CMake 3.31 finds the standard library's module description by running
# `<compiler> ${CMAKE_CXX_COMPILER_ID_ARG1} -print-file-name=libc++.modules.json`, with none of
# the flags above; -B puts the tree's lib/ first among the directories clang searches there.
set(CMAKE_CXX_COMPILER_ID_ARG1 "-B${weakref_libcxx_root}/lib")
include("${CMAKE_CURRENT_LIST_DIR}/../weakrefFlags.cmake")
