#include "support.hpp"

#include <exception>
#include <stdexcept>
#include <string>
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

} // namespace weakref_test
