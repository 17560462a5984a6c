# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
# One compile-fail test (conformance/compile_fail/, the paper's ill-formed examples): builds
# TARGET in BUILD_DIR and passes only if BOTH the build fails AND its output contains, verbatim,
# the text of SOURCE's first `// expected: <text>` line.
# A build that succeeds fails the test whatever it prints; so does a failure for another reason.
#   cmake -DBUILD_DIR=<dir> -DTARGET=<target> -DSOURCE=<file.cpp> -P cmake/weakrefCompileFail.cmake
foreach(variable IN ITEMS BUILD_DIR TARGET SOURCE)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "weakrefCompileFail.cmake: -D${variable}=... is required")
  endif()
endforeach()

file(STRINGS "${SOURCE}" expected LIMIT_COUNT 1 REGEX "^// expected: ")
string(REGEX REPLACE "^// expected: " "" expected "${expected}")
string(REPLACE "\\;" ";" expected "${expected}") # file(STRINGS) escapes the list separator
if(expected STREQUAL "")
  message(FATAL_ERROR "${SOURCE}: no `// expected: <text>` line, or an empty one")
endif()

execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BUILD_DIR}" --target "${TARGET}"
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
message("${output}")
if(status EQUAL 0)
  message(FATAL_ERROR "${TARGET} built successfully: it must be rejected at compile time")
endif()
string(FIND "${output}" "${expected}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${TARGET} failed to build (${status}), but without the expected "
                      "diagnostic: ${expected}")
endif()
message("${TARGET} was rejected with the expected diagnostic: ${expected}")
