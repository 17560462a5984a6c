#include "support.hpp"

#include <cstdio>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>
import weakref;

namespace weakref_test {

namespace {
void record(std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    capture_callback_errors::messages().emplace_back(x.what());
  } catch (...) {
    capture_callback_errors::messages().emplace_back("<non-standard exception>");
  }
}
} // namespace

std::vector<std::string>& capture_callback_errors::messages() {
  static std::vector<std::string> seen;
  return seen;
}

capture_callback_errors::capture_callback_errors()
    : previous_(weakref::set_callback_error_handler(&record)) {
  messages().clear();
}

capture_callback_errors::~capture_callback_errors() {
  weakref::set_callback_error_handler(previous_);
}

std::string capture_stderr(const std::function<void()>& f) {
  std::fflush(stderr);
  std::FILE* tmp = std::tmpfile();
  if (tmp == nullptr) throw std::runtime_error("capture_stderr: no temporary file");
  const int saved = ::dup(::fileno(stderr));
  ::dup2(::fileno(tmp), ::fileno(stderr));
  try {
    f();
  } catch (...) {
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

} // namespace weakref_test
