# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# The compile and link flags every toolchain file of cmake/toolchains/ shares, written once:
# warnings as errors, then what a preset asks for through two cache variables.
#
#   WEAKREF_SANITIZE         comma-separated -fsanitize= list (address,undefined / thread /
#                            fuzzer-no-link,address,undefined): adds the sanitizer flags below
#   WEAKREF_EXTRA_CXX_FLAGS  compile flags appended last (valgrind's -gdwarf-4, for instance)
#
# A toolchain file sets weakref_stdlib_flag (its standard library's compile options, or nothing)
# and, when linking needs other options, weakref_stdlib_link_flag; then it includes this file,
# which sets CMAKE_CXX_FLAGS_INIT and the linker flags' _INIT variables:
# they seed the cache on the first configure of a build tree only, as any toolchain's flags.
set(weakref_warning_flags "-Wall -Wextra -Wpedantic -Werror")

set(weakref_cxx_flags "${weakref_stdlib_flag} ${weakref_warning_flags}")
if(NOT DEFINED weakref_stdlib_link_flag)
  set(weakref_stdlib_link_flag "${weakref_stdlib_flag}")
endif()
set(weakref_link_flags "${weakref_stdlib_link_flag}")
if(WEAKREF_SANITIZE)
  # -O1 keeps sanitized tests fast enough; frame pointers give the reports whole stacks.
  string(APPEND weakref_cxx_flags " -O1 -fno-omit-frame-pointer -fsanitize=${WEAKREF_SANITIZE}")
  # UBSan recovers by default: make its first report fail the test, as ASan's and TSan's do.
  if(WEAKREF_SANITIZE MATCHES "(^|,)undefined(,|$)")
    string(APPEND weakref_cxx_flags " -fno-sanitize-recover=all")
  endif()
  # fuzzer-no-link only instruments; the fuzzing engine is linked by the one target that needs
  # it (WEAKREF_FUZZ_ENGINE in tests/fuzz), so the link line carries the runtimes only.
  string(REPLACE "," ";" weakref_sanitizers "${WEAKREF_SANITIZE}")
  list(REMOVE_ITEM weakref_sanitizers fuzzer-no-link)
  if(weakref_sanitizers)
    list(JOIN weakref_sanitizers "," weakref_sanitizers)
    string(APPEND weakref_link_flags " -fsanitize=${weakref_sanitizers}")
  endif()
endif()
if(WEAKREF_EXTRA_CXX_FLAGS)
  string(APPEND weakref_cxx_flags " ${WEAKREF_EXTRA_CXX_FLAGS}")
endif()

string(STRIP "${weakref_cxx_flags}" CMAKE_CXX_FLAGS_INIT)
string(STRIP "${weakref_link_flags}" CMAKE_EXE_LINKER_FLAGS_INIT)
# Shared libraries (none by default: the library is static) link the standard library only;
# the sanitizer runtimes are linked into the executables.
string(STRIP "${weakref_stdlib_link_flag}" CMAKE_SHARED_LINKER_FLAGS_INIT)

# try_compile projects read this file again: give them the same cache variables.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES WEAKREF_SANITIZE WEAKREF_EXTRA_CXX_FLAGS
     WEAKREF_LIBCXX_22_ROOT)
