// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <atomic>
#include <cstdio>
#include <exception>
#include <stdexcept>
export module weakref:errors;

export namespace weakref {

// [weakref.error.reference] Python: ReferenceError, raised when a proxy is used after its
// referent was collected (PY-REFERR-1).
class reference_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// [weakref.error.type] Python: the TypeError of ref() on an object that cannot be weakly
// referenced (PY-INTRO-5) and of hash() first called after the referent died (PY-REF-5).
class type_error : public std::logic_error {
public:
  using std::logic_error::logic_error;
};

// [weakref.error.key] Python: KeyError, from the weak containers' at, pop, popitem and
// remove when the key (or element) is absent or its referent is gone.
class key_error : public std::out_of_range {
public:
  using std::out_of_range::out_of_range;
};

// [weakref.error.callback] Python: "Exceptions raised by the callback will be noted on the
// standard error output, but cannot be propagated" (PY-REF-3). The handler is replaceable so
// that programs can log elsewhere or count; it must not throw (it runs inside a deleter).
using callback_error_handler = void (*)(std::exception_ptr) noexcept;

void default_callback_error_handler(std::exception_ptr error) noexcept;
callback_error_handler set_callback_error_handler(callback_error_handler handler) noexcept;
callback_error_handler get_callback_error_handler() noexcept;

} // namespace weakref

namespace weakref {

namespace {
constinit std::atomic<callback_error_handler> current_handler{&default_callback_error_handler};
}

void default_callback_error_handler(std::exception_ptr error) noexcept {
  // [weakref.error.callback]/4: the default writes one line to stderr, like Python's
  // "Exception ignored in: ..." report.
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Exception ignored in weak reference callback: %s\n", e.what());
  } catch (...) {
    std::fputs("Exception ignored in weak reference callback: unknown exception\n", stderr);
  }
}

callback_error_handler set_callback_error_handler(callback_error_handler handler) noexcept {
  // [weakref.error.callback]/5: a null handler restores the default.
  if (handler == nullptr) handler = &default_callback_error_handler;
  return current_handler.exchange(handler, std::memory_order_acq_rel);
}

callback_error_handler get_callback_error_handler() noexcept {
  return current_handler.load(std::memory_order_acquire);
}

} // namespace weakref
