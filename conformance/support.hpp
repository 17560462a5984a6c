// Scaffolding shared by the conformance tests. A header with no import, so that every test file
// keeps its #includes before its `import weakref;`; support.cpp defines it against `wr`.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <ranges>
#include <string>
#include <vector>

namespace conformance {

// Replaces the callback error handler while it lives and records what the handler receives.
class recording_handler {
public:
  recording_handler();
  ~recording_handler();
  recording_handler(const recording_handler&) = delete;
  recording_handler& operator=(const recording_handler&) = delete;

  static std::vector<std::string>& messages();

private:
  void (*previous_)(std::exception_ptr) noexcept;
};

// Runs f with stderr redirected to a temporary file; returns what was written to it.
std::string capture_stderr(const std::function<void()>& f);

// Counts the live elements of a weak container by walking them (what size() must agree with).
template <class C>
std::size_t walked(const C& c) {
  return static_cast<std::size_t>(std::ranges::distance(c.begin(), c.end()));
}

} // namespace conformance
