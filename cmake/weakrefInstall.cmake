# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# Install rules: the static library, the module interface units and a CMake package, so that a
# consumer writes find_package(weakref CONFIG REQUIRED), links weakref::weakref and imports the
# module. CMake ships the interface units (not BMIs, which depend on the compiler and its flags):
# the consumer's build compiles them again, with the consumer's compiler, flags and standard.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(WEAKREF_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/weakref"
    CACHE STRING "Where the CMake package of weakref is installed, relative to the prefix")
mark_as_advanced(WEAKREF_INSTALL_CMAKEDIR)

install(TARGETS weakref EXPORT weakref-targets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        FILE_SET CXX_MODULES DESTINATION "${CMAKE_INSTALL_DATADIR}/weakref/modules")
install(EXPORT weakref-targets
        NAMESPACE weakref::
        DESTINATION "${WEAKREF_INSTALL_CMAKEDIR}"
        CXX_MODULES_DIRECTORY cxx-modules)

# The standard library the archive was compiled against: the module's objects name its symbols
# (std::__1:: for libc++), so a consumer must use the same one. weakrefConfig.cmake checks it.
include(CheckCXXSourceCompiles)
check_cxx_source_compiles([[
#include <version>
#if !defined(_LIBCPP_VERSION)
#error not libc++
#endif
int main() {}
]] WEAKREF_USES_LIBCXX)
# Cached: tests/package reads it from another directory.
if(WEAKREF_USES_LIBCXX)
  set(WEAKREF_STANDARD_LIBRARY "libc++" CACHE INTERNAL "weakref's standard library")
else()
  set(WEAKREF_STANDARD_LIBRARY "libstdc++" CACHE INTERNAL "weakref's standard library")
endif()

# The standard the package's own build used: the consumer's default for the interface units.
if(DEFINED CMAKE_CXX_STANDARD)
  set(WEAKREF_BUILT_CXX_STANDARD "${CMAKE_CXX_STANDARD}")
else()
  set(WEAKREF_BUILT_CXX_STANDARD 20)
endif()

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/weakrefConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/weakrefConfig.cmake"
  INSTALL_DESTINATION "${WEAKREF_INSTALL_CMAKEDIR}"
  NO_SET_AND_CHECK_MACRO NO_CHECK_REQUIRED_COMPONENTS_MACRO)
# 0.y.z: a minor version may break the interface, so only the same minor version is compatible.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/weakrefConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/weakrefConfig.cmake"
              "${PROJECT_BINARY_DIR}/weakrefConfigVersion.cmake"
        DESTINATION "${WEAKREF_INSTALL_CMAKEDIR}")
