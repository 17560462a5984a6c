// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include "support.hpp"

#include <cstdio>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

namespace conformance {

namespace {
void record(std::exception_ptr error) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    recording_handler::messages().push_back(e.what());
  } catch (...) {
    recording_handler::messages().push_back("<non-standard exception>");
  }
}
} // namespace

recording_handler::recording_handler() : previous_(wr::set_callback_error_handler(&record)) {
  messages().clear();
}

recording_handler::~recording_handler() { wr::set_callback_error_handler(previous_); }

std::vector<std::string>& recording_handler::messages() {
  static std::vector<std::string> seen;
  return seen;
}

std::string capture_stderr(const std::function<void()>& f) {
  std::fflush(stderr);
  std::FILE* tmp = std::tmpfile();
  if (tmp == nullptr) throw std::runtime_error("capture_stderr: no temporary file");
  const int saved = ::dup(::fileno(stderr));
  ::dup2(::fileno(tmp), ::fileno(stderr));
  try {
    f();
  } catch (...) { // stderr is the test runner's again before the exception is reported
    std::fflush(stderr);
    ::dup2(saved, ::fileno(stderr));
    ::close(saved);
    std::fclose(tmp);
    throw;
  }
  std::fflush(stderr);
  ::dup2(saved, ::fileno(stderr));
  ::close(saved);
  std::rewind(tmp);
  std::string text;
  for (int c; (c = std::fgetc(tmp)) != EOF;) text.push_back(static_cast<char>(c));
  std::fclose(tmp);
  return text;
}

} // namespace conformance
