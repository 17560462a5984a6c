// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "support.hpp"
import weakref;

using weakref::weak_ref;
using weakref_test::capture_callback_errors;
using weakref_test::capture_stderr;
using weakref_test::tracked;

namespace {

// Releases its owner while being destroyed: used to kill a referent during stack unwinding.
struct releases_on_unwind {
  std::shared_ptr<tracked> owner;
  ~releases_on_unwind() { owner.reset(); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(error)

// [weakref.error]: the exception types and their standard bases.
static_assert(std::is_base_of_v<std::runtime_error, weakref::reference_error>);
static_assert(std::is_base_of_v<std::logic_error, weakref::type_error>);

// PY-REF-3 "Exceptions raised by the callback will be noted on the standard error output, but
// cannot be propagated": the release that killed the referent does not throw, the handler sees
// the exception, and the remaining callbacks still run.
// Checks [weakref.error.callback]/1; [weakref.ref.death]/3.
BOOST_AUTO_TEST_CASE(callback_exception_is_reported_not_propagated) {
  capture_callback_errors capture;
  auto p = weakref::make_shared<tracked>(1);
  std::vector<int> ran;
  weak_ref<tracked> r1(p, [&](weak_ref<tracked>) { ran.push_back(1); });
  weak_ref<tracked> r2(p, [&](weak_ref<tracked>) {
    ran.push_back(2);
    throw std::runtime_error("callback failed");
  });
  weak_ref<tracked> r3(p, [&](weak_ref<tracked>) { ran.push_back(3); });
  BOOST_CHECK_NO_THROW(p.reset());
  BOOST_TEST(ran == (std::vector<int>{3, 2, 1}), boost::test_tools::per_element());
  BOOST_TEST(capture_callback_errors::messages() == (std::vector<std::string>{"callback failed"}),
             boost::test_tools::per_element());
  BOOST_TEST(tracked::alive == 0);
}

// PY-REF-16 "noted on the standard error output": the default handler writes one line to stderr.
// Checks [weakref.error.callback]/1, /4 and /8.
BOOST_AUTO_TEST_CASE(default_handler_writes_to_stderr) {
  BOOST_TEST(weakref::get_callback_error_handler() == &weakref::default_callback_error_handler);
  const std::string text = capture_stderr([] {
    auto p = weakref::make_shared<tracked>(1);
    weak_ref<tracked> r(p, [](weak_ref<tracked>) { throw std::runtime_error("boom"); });
    p.reset();
  });
  BOOST_TEST(text == "Exception ignored in weak reference callback: boom\n");
  const std::string unknown =
      capture_stderr([] { weakref::default_callback_error_handler(std::make_exception_ptr(42)); });
  BOOST_TEST(unknown == "Exception ignored in weak reference callback: unknown exception\n");
}

// [weakref.error.callback]/5: set returns the previous handler; null restores the default.
BOOST_AUTO_TEST_CASE(handler_is_replaceable) {
  auto mine = +[](std::exception_ptr) noexcept {};
  auto before = weakref::set_callback_error_handler(mine);
  BOOST_TEST(before == &weakref::default_callback_error_handler);
  BOOST_TEST(weakref::get_callback_error_handler() == mine);
  BOOST_TEST(weakref::set_callback_error_handler(nullptr) == mine);
  BOOST_TEST(weakref::get_callback_error_handler() == &weakref::default_callback_error_handler);
}

// [weakref.ref.death]/3: a referent dying during stack unwinding neither terminates nor replaces
// the exception in flight, even when its callback throws.
BOOST_AUTO_TEST_CASE(death_during_unwinding_keeps_the_exception_in_flight) {
  capture_callback_errors capture;
  auto p = weakref::make_shared<tracked>(1);
  int calls = 0;
  weak_ref<tracked> r(p, [&](weak_ref<tracked>) {
    ++calls;
    throw std::logic_error("thrown by a callback during unwinding");
  });
  try {
    releases_on_unwind guard{std::move(p)};
    throw std::runtime_error("original");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()) == "original");
  }
  BOOST_TEST(calls == 1);
  BOOST_TEST(capture_callback_errors::messages().size() == 1u);
  BOOST_TEST(tracked::alive == 0);
}

// PY-REFERR-1: ReferenceError's message, as Python's.
// Checks [weakref.error.reference]/1; [weakref.proxy.access]/4.
BOOST_AUTO_TEST_CASE(reference_error_message) {
  auto p = weakref::make_shared<tracked>(1);
  weakref::weak_proxy<tracked> proxy(p);
  p.reset();
  try {
    (void)proxy->value;
    BOOST_FAIL("no reference_error");
  } catch (const weakref::reference_error& e) {
    BOOST_TEST(std::string(e.what()) == "weakly-referenced object no longer exists");
  }
}

BOOST_AUTO_TEST_SUITE_END()
