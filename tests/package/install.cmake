# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# Installs the build tree BUILD_DIR to a fresh PREFIX, so that the consumer tests see exactly what
# `cmake --install` ships (no file left over from an earlier install).
# Usage: cmake -DBUILD_DIR=... -DPREFIX=... -DCONFIG=... -P install.cmake
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                        --config "${CONFIG}"
                COMMAND_ERROR_IS_FATAL ANY)
