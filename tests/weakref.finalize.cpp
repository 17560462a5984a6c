// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "support.hpp"
import weakref;

namespace wr = weakref;
using weakref_test::tracked;

namespace {

// Records the callback error handler's reports while it is installed.
struct error_recorder {
  static inline std::vector<std::string> messages;
  weakref::callback_error_handler previous;
  error_recorder() : previous(weakref::set_callback_error_handler(&record)) { messages.clear(); }
  ~error_recorder() { weakref::set_callback_error_handler(previous); }
  static void record(std::exception_ptr e) noexcept {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      messages.emplace_back(x.what());
    } catch (...) {
      messages.emplace_back("?");
    }
  }
};

// A referent whose destructor notes how many finalizer calls it saw before it ran.
struct witness {
  const int* calls;
  int* report;
  witness(const int* c, int* r) : calls(c), report(r) {}
  ~witness() { *report = *calls; }
};

template <class F>
concept can_peek = requires(const F& f) { f.peek(); };

// An argument whose copies and moves throw while told to.
struct fragile_arg {
  static inline bool refuse = false;
  int value;
  explicit fragile_arg(int v) : value(v) {}
  fragile_arg(const fragile_arg& o) : value(o.value) {
    if (refuse) throw std::runtime_error("copy refused");
  }
  fragile_arg(fragile_arg&& o) : value(o.value) {
    if (refuse) throw std::runtime_error("move refused");
  }
  fragile_arg& operator=(const fragile_arg&) = default;
};

} // namespace

BOOST_AUTO_TEST_SUITE(finalize)

BOOST_AUTO_TEST_CASE(runs_once_at_the_death_before_the_destructor_even_without_a_handle) {
  // [weakref.finalize.general]/3: the program's handles do not keep it registered.
  int calls = 0, seen_by_destructor = -1;
  auto obj = weakref::make_shared<witness>(&calls, &seen_by_destructor);
  wr::finalize(obj, [&calls](int by) { calls += by; }, 1); // the handle is dropped at once
  BOOST_TEST(calls == 0);
  obj.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(seen_by_destructor == 1); // [weakref.finalize.call]/7: before ~T, as callbacks
}

// Checks [weakref.finalize.call]/7.
BOOST_AUTO_TEST_CASE(the_death_calls_on_the_thread_that_releases_the_last_owner) {
  std::thread::id caller;
  auto obj = weakref::make_shared<int>(1);
  wr::finalize f(obj, [&caller] { caller = std::this_thread::get_id(); });
  std::thread other([o = std::move(obj)]() mutable { o.reset(); });
  const std::thread::id other_id = other.get_id();
  other.join();
  BOOST_TEST((caller == other_id));
  BOOST_TEST(!f.alive());
}

BOOST_AUTO_TEST_CASE(a_call_returns_the_result_once_then_nothing) {
  // [weakref.finalize.call]/2: std::optional of the result; bool for void.
  auto obj = weakref::make_shared<int>(7);
  int calls = 0;
  wr::finalize f(obj, [&calls](int a, int b) { return ++calls, a * b; }, 6, 7);
  static_assert(std::same_as<decltype(f()), std::optional<int>>);
  BOOST_TEST(f.alive());
  const std::optional<int> first = f();
  BOOST_TEST(first.has_value());
  BOOST_TEST(*first == 42);
  BOOST_TEST(!f.alive());
  BOOST_TEST(!f().has_value());
  obj.reset(); // dead: the death does not call it again
  BOOST_TEST(calls == 1);

  auto other = weakref::make_shared<int>(8);
  wr::finalize g(other, [&calls] { ++calls; });
  static_assert(std::same_as<decltype(g()), bool>);
  BOOST_TEST(g());
  BOOST_TEST(!g());
  BOOST_TEST(calls == 2);
}

// Checks [weakref.finalize.general]/1; [weakref.finalize.cons]/1; [weakref.finalize.call]/2-3;
// [weakref.finalize.obs]/10.
BOOST_AUTO_TEST_CASE(copies_are_one_finalizer) {
  auto obj = weakref::make_shared<int>(1);
  int calls = 0;
  auto count = [&calls] { ++calls; };
  wr::finalize f(obj, count);
  const wr::finalize g = f;
  BOOST_TEST(g.identical(f));
  BOOST_TEST(g());
  BOOST_TEST(!f.alive());
  BOOST_TEST(!f());
  wr::finalize h(obj, count);
  BOOST_TEST(!h.identical(f));
  obj.reset();
  BOOST_TEST(calls == 2);
  const wr::finalize<int, std::function<void()>> empty;
  BOOST_TEST(!empty.alive());
  BOOST_TEST(!empty());
  BOOST_TEST(!empty.peek().has_value());
  BOOST_TEST(!empty.detach().has_value());
}

BOOST_AUTO_TEST_CASE(detach_returns_what_it_would_call_and_kills_it) {
  // [weakref.finalize.obs]/3 Python: detach() returns (obj, func, args, kwargs).
  auto obj = weakref::make_shared<int>(5);
  int calls = 0;
  auto count = [&calls](int by) { calls += by; };
  wr::finalize f(obj, count, 3);
  auto detached = f.detach();
  BOOST_REQUIRE(detached.has_value());
  BOOST_TEST(detached->object == obj);
  BOOST_TEST(std::get<0>(detached->args) == 3);
  BOOST_TEST(!f.alive());
  BOOST_TEST(!f.detach().has_value());
  BOOST_TEST(!f.peek().has_value());
  std::apply(detached->func, detached->args); // what it would have done
  BOOST_TEST(calls == 3);
  detached.reset();
  obj.reset();
  BOOST_TEST(calls == 3); // not called at the death
}

// Checks [weakref.finalize.obs]/2 and /7.
BOOST_AUTO_TEST_CASE(peek_returns_copies_and_leaves_it_alive) {
  auto obj = weakref::make_shared<int>(5);
  std::vector<std::string> log;
  wr::finalize f(obj, [&log](const std::string& s) { log.push_back(s); }, std::string("bye"));
  auto peeked = f.peek();
  BOOST_REQUIRE(peeked.has_value());
  BOOST_TEST(peeked->object == obj);
  BOOST_TEST(std::get<0>(peeked->args) == "bye");
  BOOST_TEST(f.alive());
  obj.reset();
  BOOST_TEST(log.empty()); // the result owns the object, as Python's tuple does
  peeked.reset();
  BOOST_TEST(log == std::vector<std::string>{"bye"});
}

// Checks [weakref.finalize.obs]/3-4 and /7.
BOOST_AUTO_TEST_CASE(detach_and_peek_need_the_object_alive) {
  // Python: detach() and peek() return None when obj is gone, even if the finalizer was not yet
  // called: here, from inside the death, before f's turn.
  auto obj = weakref::make_shared<int>(1);
  int calls = 0;
  wr::finalize f(obj, [&calls] { ++calls; });
  bool peeked = true, detached = true;
  // Registered after f, so it runs first (newest first) and observes f from there.
  wr::finalize(obj, [&] {
    peeked = f.peek().has_value();
    detached = f.detach().has_value();
  });
  obj.reset();
  BOOST_TEST(!peeked);
  BOOST_TEST(!detached);
  BOOST_TEST(calls == 1); // neither killed it: the death still called it
}

// Checks [weakref.finalize.call]/2; [weakref.finalize.obs]/4.
BOOST_AUTO_TEST_CASE(move_only_function_and_arguments) {
  auto obj = weakref::make_shared<int>(1);
  auto payload = std::make_unique<int>(41);
  int seen = 0;
  wr::finalize f(
      obj, [&seen, p = std::make_unique<int>(1)](std::unique_ptr<int>& q) { seen = *p + *q; },
      std::move(payload));
  static_assert(!can_peek<decltype(f)>, "peek() copies, so it needs copyable func and args");
  BOOST_TEST(f());
  BOOST_TEST(seen == 42);

  wr::finalize g(obj, [](std::unique_ptr<int>&) {}, std::make_unique<int>(9));
  auto detached = g.detach();
  BOOST_REQUIRE(detached.has_value());
  BOOST_TEST(*std::get<0>(detached->args) == 9); // moved out
}

// Checks [weakref.finalize.call]/6; [weakref.finalize.obs]/1 and /7: the function may destroy
// every handle to its finalizer, the one it is called through included (Python keeps a called
// finalizer alive for the call). The function and its captures live in the finalizer: they must
// outlive the call and their own destruction after it, which the handles the function destroyed
// no longer ensure.
BOOST_AUTO_TEST_CASE(function_may_destroy_the_handle_it_is_called_through) {
  auto obj = weakref::make_shared<int>(1);
  int calls = 0;
  bool seen_dead = false;
  std::vector<wr::finalize<int, std::function<void()>>> cleanups;
  cleanups.emplace_back(obj, [&calls, &seen_dead, &cleanups] {
    // [weakref.finalize.obs]/1 and /7: dead from the moment it is called
    seen_dead = !cleanups.front().alive() && !cleanups.front().peek();
    cleanups.clear(); // the last handle the program holds, the one being called
    ++calls;
  });
  BOOST_TEST(cleanups.front()());
  BOOST_TEST(calls == 1);
  BOOST_TEST(seen_dead);
  BOOST_TEST(cleanups.empty());
  BOOST_TEST(wr::weak_ref_count(obj) == 0u); // and the registry let go of it
  obj.reset();
  BOOST_TEST(calls == 1);
}

// Checks [weakref.finalize.exit]/1-2.
BOOST_AUTO_TEST_CASE(atexit_flag_defaults_to_true_and_is_shared_by_copies) {
  auto obj = weakref::make_shared<int>(1);
  wr::finalize f(obj, [] {});
  BOOST_TEST(f.atexit());
  wr::finalize g = f;
  g.atexit(false);
  BOOST_TEST(!f.atexit());
  g.atexit(true);
  obj.reset();
  BOOST_TEST(!f.atexit()); // dead: false, and setting it does nothing (Python)
  f.atexit(true);
  BOOST_TEST(!g.atexit());
}

// Checks [weakref.finalize.call]/4 and /7.
BOOST_AUTO_TEST_CASE(an_exception_at_the_death_goes_to_the_handler_an_explicit_call_propagates) {
  error_recorder errors;
  int later = 0;
  auto obj = weakref::make_shared<int>(1);
  wr::finalize last(obj, [&later] { ++later; });
  wr::finalize(obj, [] { throw std::runtime_error("cleanup failed"); });
  obj.reset();
  BOOST_TEST(errors.messages == std::vector<std::string>{"cleanup failed"});
  BOOST_TEST(later == 1); // the other finalizer still ran

  auto other = weakref::make_shared<int>(2);
  wr::finalize f(other, [] { throw std::runtime_error("explicit"); });
  BOOST_CHECK_THROW(f(), std::runtime_error);
  BOOST_TEST(!f.alive()); // dead all the same, as Python's
  other.reset();
  BOOST_TEST(errors.messages.size() == 1);
}

// Checks [weakref.finalize.call]/7.
BOOST_AUTO_TEST_CASE(runs_newest_first_among_the_callbacks) {
  std::vector<std::string> order;
  auto obj = weakref::make_shared<int>(1);
  weakref::weak_ref<int> r(obj, [&order](weakref::weak_ref<int>) { order.push_back("ref"); });
  wr::finalize(obj, [&order] { order.push_back("finalize"); });
  weakref::weak_ref<int> s(obj, [&order](weakref::weak_ref<int>) { order.push_back("newest"); });
  obj.reset();
  BOOST_TEST(order == (std::vector<std::string>{"newest", "finalize", "ref"}));
}

// Checks [weakref.finalize.general]/4-5.
BOOST_AUTO_TEST_CASE(is_a_weak_reference_to_its_object) {
  // [weakref.finalize.general]/5 Python counts a finalizer's reference (getweakrefcount).
  auto obj = weakref::make_shared<int>(1);
  wr::finalize f(obj, [] {});
  BOOST_TEST(weakref::weak_ref_count(obj) == 1u);
  const auto refs = weakref::weak_refs(obj);
  BOOST_REQUIRE(refs.size() == 1u);
  BOOST_TEST(std::get<0>(refs[0]).identical(f.ref()));
  BOOST_TEST(f.ref().has_callback());
  f.detach();
  BOOST_TEST(weakref::weak_ref_count(obj) == 1u); // f's handle still holds the reference
  f = {};
  BOOST_TEST(weakref::weak_ref_count(obj) == 1u); // refs[0] too
}

// Checks [weakref.finalize.general]/3; [weakref.finalize.call]/2; [weakref.finalize.obs]/3.
BOOST_AUTO_TEST_CASE(a_dead_finalizer_without_handles_is_unregistered) {
  auto obj = weakref::make_shared<int>(1);
  {
    wr::finalize f(obj, [] {});
    f();
  }
  BOOST_TEST(weakref::weak_ref_count(obj) == 0u);
  wr::finalize(obj, [] {}).detach();
  BOOST_TEST(weakref::weak_ref_count(obj) == 0u);
}

// Checks [weakref.finalize.cons]/4.
BOOST_AUTO_TEST_CASE(an_object_not_made_by_the_factories_is_rejected) {
  int calls = 0;
  const auto plain = std::make_shared<int>(1);
  BOOST_CHECK_THROW(wr::finalize(plain, [&calls] { ++calls; }), weakref::type_error);
  BOOST_CHECK_THROW(wr::finalize(std::shared_ptr<int>(), [&calls] { ++calls; }),
                    weakref::type_error);
  BOOST_TEST(calls == 0);
}

// Checks [weakref.finalize.cons]/5-6.
BOOST_AUTO_TEST_CASE(an_argument_owning_the_object_is_diagnosed_in_debug_builds) {
  auto obj = weakref::make_shared<tracked>(1);
  auto other = weakref::make_shared<tracked>(2);
  std::optional<
      wr::finalize<tracked, void (*)(std::shared_ptr<tracked>&), std::shared_ptr<tracked>>>
      owning;
  const std::string quiet = weakref_test::capture_stderr(
      [&] { wr::finalize(obj, [](std::shared_ptr<tracked>&) {}, other)(); });
  const std::string warned = weakref_test::capture_stderr(
      [&] { owning.emplace(obj, [](std::shared_ptr<tracked>&) {}, obj); });
  BOOST_TEST(quiet.empty());
#ifdef NDEBUG
  BOOST_TEST(warned.empty());
#else
  BOOST_TEST(warned.find("an argument owns the object") != std::string::npos);
#endif
  std::weak_ptr<tracked> watch = obj;
  obj.reset();
  BOOST_TEST(!watch.expired()); // as Python: the registry keeps the argument, which keeps obj
  BOOST_TEST(owning->detach().has_value());
  BOOST_TEST(watch.expired());
}

// Checks [weakref.general]/4; [weakref.finalize.general]/6.
BOOST_AUTO_TEST_CASE(a_finalizer_may_be_created_and_called_inside_the_death) {
  auto obj = weakref::make_shared<int>(1);
  auto other = weakref::make_shared<int>(2);
  int inner = 0;
  wr::finalize(obj, [&] {
    wr::finalize g(other, [&inner] { ++inner; });
    BOOST_TEST(g());
  });
  obj.reset();
  BOOST_TEST(inner == 1);
}

// [weakref.finalize.call]/5: at most once, whatever races: the death on one thread, an explicit
// call, detach() and peek() on another.
BOOST_AUTO_TEST_CASE(the_death_and_a_call_race_and_it_runs_once,
                     *boost::unit_test::label("concurrency")) {
  constexpr int rounds = 2000;
  int overlapped = 0;
  for (int i = 0; i < rounds; ++i) {
    std::atomic<int> calls{0};
    auto obj = weakref::make_shared<std::string>("payload");
    wr::finalize f(
        obj, [&calls](const std::string& s) { calls += s.size() == 4 ? 1 : 100; },
        std::string("args"));
    std::atomic<bool> go{false};
    std::thread killer([&go, o = std::move(obj)]() mutable {
      while (!go.load(std::memory_order_acquire)) {
      }
      o.reset();
    });
    go.store(true, std::memory_order_release);
    std::optional<std::tuple<std::string>> peeked;
    if (auto p = f.peek()) peeked = p->args;
    const bool mine = i % 2 == 0 ? f() : f.detach().has_value();
    killer.join();
    if (peeked && !mine) ++overlapped; // the death won while this thread was looking at it
    BOOST_TEST(calls.load() == (i % 2 == 0 || !mine ? 1 : 0));
    BOOST_TEST(!f.alive());
  }
  BOOST_TEST_MESSAGE("finalize races won by the death after a successful peek: " << overlapped);
}

// detach() whose move of the arguments throws: the exception propagates, and the finalizer is
// dead all the same (neither detachable again nor called at the death).
// Checks [weakref.finalize.obs]/5.
BOOST_AUTO_TEST_CASE(detach_that_throws_still_kills_the_finalizer) {
  auto obj = weakref::make_shared<int>(5);
  int calls = 0;
  wr::finalize f(obj, [&calls](fragile_arg& a) { calls += a.value; }, fragile_arg(3));
  BOOST_TEST(f.alive());
  fragile_arg::refuse = true;
  BOOST_CHECK_THROW((void)f.detach(), std::runtime_error);
  fragile_arg::refuse = false;
  BOOST_TEST(!f.alive());
  BOOST_TEST(!f.detach().has_value());
  BOOST_TEST(!f.peek().has_value());
  obj.reset();
  BOOST_TEST(calls == 0);
}

// peek() whose copies throw: the exception propagates and the finalizer stays alive, called once
// at the death.
// Checks [weakref.finalize.obs]/8.
BOOST_AUTO_TEST_CASE(peek_that_throws_leaves_the_finalizer_alive) {
  auto obj = weakref::make_shared<int>(5);
  int calls = 0;
  wr::finalize f(obj, [&calls](fragile_arg& a) { calls += a.value; }, fragile_arg(3));
  fragile_arg::refuse = true;
  BOOST_CHECK_THROW((void)f.peek(), std::runtime_error);
  fragile_arg::refuse = false;
  BOOST_TEST(f.alive());
  auto peeked = f.peek();
  BOOST_REQUIRE(peeked.has_value());
  BOOST_TEST(std::get<0>(peeked->args).value == 3);
  peeked.reset();
  obj.reset();
  BOOST_TEST(calls == 3);
  BOOST_TEST(!f.alive());
}

BOOST_AUTO_TEST_SUITE_END()
