// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: what Python 3 added to the weakref module: finalize (3.4), WeakMethod (3.4),
// ref.__callback__ (3.4), and the | and |= operators of the weak dictionaries (3.9, PEP 584).
// Convention: each test is named PY3_<AREA>_<n>_<what> after the rule PY3-<AREA>-<n> of
// rules.json it checks, and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_set>
#include <utility>
#include <vector>

#include "child_process.hpp"
#include "support.hpp"

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;
using conformance::capture_stderr;
using conformance::recording_handler;

namespace {

// Destroyed after the finalizers' exit pass: it is constructed before main, so before the first
// finalizer registers that pass with std::atexit ([basic.start.term]/3).
struct owner_destroyed_late {
  std::shared_ptr<int> obj;
} late;

struct counter {
  int value = 0;
  void add(int n) { value += n; }
  int get() const { return value; }
  friend bool operator==(const counter& a, const counter& b) { return a.value == b.value; }
};

using add_method = wr::weak_method<counter, void (counter::*)(int)>;

} // namespace

template <>
struct std::hash<counter> {
  std::size_t operator()(const counter& c) const noexcept { return std::hash<int>{}(c.value); }
};

BOOST_AUTO_TEST_SUITE(python3)

// ---- finalize (Python 3.4) --------------------------------------------------------------------

// Checks [weakref.finalize.cons]/2; [weakref.finalize.call]/7.
BOOST_AUTO_TEST_CASE(PY3_FIN_1_calls_func_with_its_arguments_at_the_death_before_the_destructor) {
  struct probe {
    std::vector<std::string>* log;
    ~probe() { log->push_back("~T"); }
  };
  std::vector<std::string> log;
  auto obj = wr::make_shared<probe>(&log);
  wr::finalize f(
      obj, [&log](const std::string& a, int b) { log.push_back(a + std::to_string(b)); },
      std::string("x"), 1);
  std::thread other([o = std::move(obj)]() mutable { o.reset(); });
  other.join();
  BOOST_TEST(log == (std::vector<std::string>{"x1", "~T"}));
}

// Checks [weakref.finalize.cons]/4.
BOOST_AUTO_TEST_CASE(PY3_FIN_1_an_object_that_cannot_be_weakly_referenced_is_rejected) {
  BOOST_CHECK_THROW(wr::finalize(std::make_shared<int>(1), [] {}), wr::type_error);
}

// Checks [weakref.finalize.general]/3; [weakref.finalize.cons]/7.
BOOST_AUTO_TEST_CASE(PY3_FIN_2_the_finalizer_outlives_every_handle) {
  auto obj = wr::make_shared<int>(1);
  int calls = 0;
  {
    wr::finalize f(obj, [&calls] { ++calls; });
  }
  wr::finalize(obj, [&calls] { ++calls; });
  BOOST_TEST(calls == 0);
  obj.reset();
  BOOST_TEST(calls == 2);
}

// Checks [weakref.finalize.call]/1-3.
BOOST_AUTO_TEST_CASE(PY3_FIN_3_the_first_call_returns_the_result) {
  auto obj = wr::make_shared<int>(1);
  wr::finalize f(obj, [](int a) { return a + 1; }, 41);
  const std::optional<int> result = f();
  BOOST_TEST(result.value_or(0) == 42);
  wr::finalize g(obj, [] {});
  BOOST_TEST(g() == true);
}

// Checks [weakref.finalize.call]/2-3 and /7.
BOOST_AUTO_TEST_CASE(PY3_FIN_4_a_dead_finalizer_returns_nothing) {
  auto obj = wr::make_shared<int>(1);
  int calls = 0;
  wr::finalize f(obj, [&calls] { return ++calls; });
  BOOST_TEST(f().has_value());
  BOOST_TEST(!f().has_value());
  obj.reset();
  BOOST_TEST(calls == 1);
  auto other = wr::make_shared<int>(2);
  wr::finalize g(other, [&calls] { ++calls; });
  other.reset(); // called at the death: dead from then on
  BOOST_TEST(g() == false);
  BOOST_TEST(calls == 2);
}

// CPython's test_all_freed: once dead, a finalizer keeps neither its function nor its arguments.
// Checks [weakref.finalize.call]/6; [weakref.finalize.obs]/4.
BOOST_AUTO_TEST_CASE(PY3_FIN_4_the_function_and_arguments_are_destroyed_once_dead) {
  struct counted {
    int* alive;
    explicit counted(int* a) : alive(a) { ++*alive; }
    counted(const counted& other) : alive(other.alive) { ++*alive; }
    ~counted() { --*alive; }
  };
  int alive = 0;
  auto obj = wr::make_shared<int>(1);
  {
    wr::finalize called(obj, [c = counted(&alive)](const counted&) {}, counted(&alive));
    BOOST_TEST(alive == 2);
    called();
    BOOST_TEST(alive == 0); // the handle still exists, the function and argument do not
  }
  wr::finalize detached(obj, [](const counted&) {}, counted(&alive));
  std::optional<decltype(detached)::info> info = detached.detach();
  BOOST_TEST(alive == 1); // moved into the result
  info.reset();
  BOOST_TEST(alive == 0);
  wr::finalize(obj, [c = counted(&alive)] {}); // no handle kept
  BOOST_TEST(alive == 1);
  obj.reset(); // called at the death
  BOOST_TEST(alive == 0);
}

// Checks [weakref.finalize.obs]/2-4.
BOOST_AUTO_TEST_CASE(PY3_FIN_5_detach_returns_object_function_and_arguments) {
  auto obj = wr::make_shared<int>(7);
  int calls = 0;
  wr::finalize f(obj, [&calls](int by) { calls += by; }, 5);
  std::optional<decltype(f)::info> info = f.detach();
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST(info->object == obj);
  BOOST_TEST(std::get<0>(info->args) == 5);
  BOOST_TEST(!f.alive());
  BOOST_TEST(!f.detach().has_value());
  std::apply(info->func, info->args);
  BOOST_TEST(calls == 5);
  info.reset();
  obj.reset();
  BOOST_TEST(calls == 5);
}

// Checks [weakref.finalize.obs]/7.
BOOST_AUTO_TEST_CASE(PY3_FIN_6_peek_returns_copies_and_keeps_it_alive) {
  auto obj = wr::make_shared<int>(7);
  int calls = 0;
  wr::finalize f(obj, [&calls](int by) { calls += by; }, 5);
  auto info = f.peek();
  BOOST_REQUIRE(info.has_value());
  BOOST_TEST(info->object == obj);
  BOOST_TEST(std::get<0>(info->args) == 5);
  BOOST_TEST(f.alive());
  info.reset(); // it owned the object, as Python's tuple does
  obj.reset();
  BOOST_TEST(calls == 5);
  BOOST_TEST(!f.peek().has_value());
}

// Checks [weakref.finalize.general]/1; [weakref.finalize.obs]/1.
BOOST_AUTO_TEST_CASE(PY3_FIN_7_alive_until_called_or_detached) {
  auto obj = wr::make_shared<int>(1);
  wr::finalize f(obj, [] {});
  const auto copy = f;
  BOOST_TEST(copy.alive());
  f();
  BOOST_TEST(!copy.alive());
  wr::finalize g(obj, [] {});
  g.detach();
  BOOST_TEST(!g.alive());
  wr::finalize h(obj, [] {});
  obj.reset();
  BOOST_TEST(!h.alive());
}

// Checks [weakref.finalize.exit]/2 and /4.
BOOST_AUTO_TEST_CASE(PY3_FIN_8_live_finalizers_run_at_exit_newest_first) {
  const conformance::child_result child = conformance::run_in_child([](int fd) {
    // Locals: std::exit destroys no automatic object, so both are alive at exit.
    auto a = wr::make_shared<int>(1);
    auto b = wr::make_shared<int>(2);
    wr::finalize(a, [fd] { conformance::say(fd, "first\n"); });
    wr::finalize(b, [fd] { conformance::say(fd, "second\n"); });
    wr::finalize quiet(a, [fd] { conformance::say(fd, "atexit false\n"); });
    quiet.atexit(false);
    wr::finalize(b, [fd, a] {
      conformance::say(fd, "third creates one\n");
      wr::finalize(a, [fd] { conformance::say(fd, "created at exit\n"); });
    });
    wr::finalize(b, [] { throw std::runtime_error("boom at exit"); });
    std::exit(0);
  });
  if (!child.supported) {
    BOOST_TEST_MESSAGE("no fork() here: the exit pass is checked by examples/finalize.cpp only");
    BOOST_TEST(!child.supported);
    return;
  }
  BOOST_TEST(child.exited);
  BOOST_TEST(child.exit_code == 0);
  BOOST_TEST(child.output.find("Exception ignored in weak reference callback: boom at exit") !=
             std::string::npos);
  // Newest first, the one a finalizer made at exit included, none whose atexit is false.
  const auto boom = child.output.find("boom at exit");
  const auto third = child.output.find("third creates one");
  const auto created = child.output.find("created at exit");
  const auto second = child.output.find("second");
  const auto first = child.output.find("first");
  BOOST_TEST(first != std::string::npos);
  BOOST_TEST(boom < third);
  BOOST_TEST(third < created);
  BOOST_TEST(created < second);
  BOOST_TEST(second < first);
  BOOST_TEST(child.output.find("atexit false") == std::string::npos);
}

// Checks [weakref.finalize.exit]/1-2.
BOOST_AUTO_TEST_CASE(PY3_FIN_9_atexit_is_true_by_default_and_settable) {
  auto obj = wr::make_shared<int>(1);
  wr::finalize f(obj, [] {});
  BOOST_TEST(f.atexit());
  auto copy = f;
  copy.atexit(false);
  BOOST_TEST(!f.atexit());
  copy.atexit(true);
  BOOST_TEST(f.atexit());
  obj.reset();
}

// Checks [weakref.finalize.call]/5; [weakref.finalize.obs]/6.
BOOST_AUTO_TEST_CASE(PY3_FIN_10_runs_at_most_once_when_the_death_and_a_call_race) {
  long both_tried = 0;
  for (int round = 0; round < 500; ++round) {
    std::atomic<int> calls{0};
    auto obj = wr::make_shared<int>(round);
    wr::finalize f(obj, [&calls] { ++calls; });
    std::atomic<bool> go{false};
    std::thread killer([&go, o = std::move(obj)]() mutable {
      while (!go.load()) {
      }
      o.reset();
    });
    go.store(true);
    const bool mine = round % 2 == 0 ? f() : f.detach().has_value();
    killer.join();
    both_tried += mine ? 0 : 1;
    BOOST_TEST(calls.load() == (round % 2 == 1 && mine ? 0 : 1));
  }
  BOOST_TEST_MESSAGE("rounds the death won: " << both_tried);
}

// Checks [weakref.finalize.call]/4 and /7.
BOOST_AUTO_TEST_CASE(PY3_FIN_11_exceptions_at_the_death_are_reported_explicit_ones_propagate) {
  recording_handler handler;
  auto obj = wr::make_shared<int>(1);
  int after = 0;
  wr::finalize(obj, [&after] { ++after; });
  wr::finalize(obj, [] { throw std::runtime_error("at the death"); });
  obj.reset();
  BOOST_TEST(recording_handler::messages() == std::vector<std::string>{"at the death"});
  BOOST_TEST(after == 1);
  auto other = wr::make_shared<int>(2);
  wr::finalize f(other, [] { throw std::runtime_error("explicit"); });
  BOOST_CHECK_THROW(f(), std::runtime_error);
  BOOST_TEST(!f.alive());
}

// Checks [weakref.finalize.cons]/5-6.
BOOST_AUTO_TEST_CASE(PY3_FIN_12_arguments_that_own_the_object_keep_it_alive_and_are_diagnosed) {
  auto obj = wr::make_shared<int>(1);
  std::optional<wr::finalize<int, void (*)(std::shared_ptr<int>&), std::shared_ptr<int>>> f;
  const std::string said =
      capture_stderr([&] { f.emplace(obj, [](std::shared_ptr<int>&) {}, obj); });
  std::weak_ptr<int> watch = obj;
  obj.reset();
  BOOST_TEST(!watch.expired());
#ifdef NDEBUG
  BOOST_TEST(said.empty());
#else
  BOOST_TEST(said.find("an argument owns the object") != std::string::npos);
#endif
  f->detach();
  BOOST_TEST(watch.expired());
}

// Checks [weakref.finalize.general]/5.
BOOST_AUTO_TEST_CASE(PY3_FIN_13_a_finalizer_is_a_weak_reference_to_its_object) {
  auto obj = wr::make_shared<int>(1);
  wr::finalize(obj, [] {});
  BOOST_TEST(wr::weak_ref_count(obj) == 1u);
  BOOST_TEST(wr::weak_refs(obj).size() == 1u);
  wr::finalize f(obj, [] {});
  BOOST_TEST(wr::weak_ref_count(obj) == 2u);
  obj.reset();
}

// Checks [weakref.finalize.exit]/6.
BOOST_AUTO_TEST_CASE(PY3_FIN_14_no_finalizer_runs_after_the_exit_pass) {
  const conformance::child_result child = conformance::run_in_child([](int fd) {
    late.obj = wr::make_shared<int>(1); // dies with `late`, after the exit pass
    // A local: std::exit does not destroy it, so it is still registered then.
    wr::weak_ref<int> witness(
        late.obj, [fd](wr::weak_ref<int>) { conformance::say(fd, "died after the exit pass\n"); });
    wr::finalize f(late.obj, [fd] { conformance::say(fd, "finalizer called\n"); });
    f.atexit(false);
    std::exit(0);
  });
  if (!child.supported) {
    BOOST_TEST(!child.supported);
    return;
  }
  BOOST_TEST(child.exited);
  BOOST_TEST(child.output.find("died after the exit pass") != std::string::npos);
  BOOST_TEST(child.output.find("finalizer called") == std::string::npos);
}

// ---- WeakMethod (Python 3.4) ------------------------------------------------------------------

// Checks [weakref.method.call]/3-4; [weakref.method.obs]/1; [weakref.method.cons]/4.
BOOST_AUTO_TEST_CASE(PY3_METH_1_calls_the_member_while_the_object_lives) {
  auto c = wr::make_shared<counter>();
  add_method add(c, &counter::add);
  wr::weak_method get(c, &counter::get);
  BOOST_TEST(add(2));
  BOOST_TEST(get().value_or(-1) == 2);
  BOOST_TEST(add.lock() == c);
  BOOST_TEST(add.method() == &counter::add);
  c.reset();
  BOOST_TEST(!add(2));
  BOOST_TEST(!get().has_value());
  BOOST_CHECK_THROW(add_method(std::make_shared<counter>(), &counter::add), wr::type_error);
  BOOST_CHECK_THROW(add_method(wr::make_shared<counter>(), nullptr), wr::type_error);
}

// Checks [weakref.method.general]/3.
BOOST_AUTO_TEST_CASE(PY3_METH_2_lives_as_long_as_the_object) {
  auto c = wr::make_shared<counter>();
  const add_method m = add_method(c, &counter::add); // from a temporary binding
  BOOST_TEST(!m.expired());
  BOOST_TEST(m(1));
  BOOST_TEST(c->value == 1);
}

// Checks [weakref.method.eq]/1; [weakref.method.cons]/7.
BOOST_AUTO_TEST_CASE(PY3_METH_3_equality) {
  auto a = wr::make_shared<counter>(counter{1});
  auto twin = wr::make_shared<counter>(counter{1});
  auto b = wr::make_shared<counter>(counter{2});
  add_method ma(a, &counter::add), ma2(a, &counter::add), mt(twin, &counter::add),
      mb(b, &counter::add);
  BOOST_TEST((ma == ma2));
  BOOST_TEST((ma == mt));
  BOOST_TEST((ma != mb));
  const add_method same = ma;
  a.reset();
  BOOST_TEST((ma != ma2));
  BOOST_TEST((ma == same));
}

// Checks [weakref.method.hash]/1 and /3-4.
BOOST_AUTO_TEST_CASE(PY3_METH_4_hash_is_the_objects_and_survives_death) {
  auto c = wr::make_shared<counter>(counter{5});
  add_method m(c, &counter::add), late_hash(c, &counter::add);
  const std::size_t h = std::hash<add_method>{}(m);
  BOOST_TEST(h == std::hash<counter>{}(*c));
  c.reset();
  BOOST_TEST(std::hash<add_method>{}(m) == h);
  BOOST_CHECK_THROW(std::hash<add_method>{}(late_hash), wr::type_error);
}

// Checks [weakref.method.cons]/5; [weakref.method.hash]/1.
BOOST_AUTO_TEST_CASE(PY3_METH_5_callback_receives_the_weak_method_at_the_death) {
  std::unordered_set<add_method> registry;
  auto c = wr::make_shared<counter>();
  registry.insert(add_method(c, &counter::add, [&registry](add_method m) { registry.erase(m); }));
  BOOST_TEST(registry.size() == 1u);
  c.reset();
  BOOST_TEST(registry.empty()); // erased itself: the handle it received is equal to it
}

// ---- ref.__callback__ (Python 3.4) ------------------------------------------------------------

// Checks [weakref.ref.callback]/3-7.
BOOST_AUTO_TEST_CASE(PY3_CB_1_the_callback_is_visible_while_the_referent_lives) {
  auto obj = wr::make_shared<int>(1);
  int calls = 0;
  auto cb = [&calls](wr::weak_ref<int>) { ++calls; };
  wr::weak_ref<int> r(obj, cb);
  const wr::weak_ref<int> copy = r;
  BOOST_TEST(copy.has_callback());
  BOOST_TEST((copy.callback_type() == typeid(cb)));
  BOOST_REQUIRE(copy.callback<decltype(cb)>() != nullptr);
  // Read-only, as Python's attribute (assigning it raises AttributeError): no setter, and the
  // callback is reached through a pointer to const.
  static_assert(std::is_same_v<decltype(copy.callback<decltype(cb)>()), const decltype(cb)*>);
  (*copy.callback<decltype(cb)>())(r);
  BOOST_TEST(calls == 1);
  obj.reset();
}

// Checks [weakref.ref.callback]/3-6.
BOOST_AUTO_TEST_CASE(PY3_CB_2_none_without_a_callback_or_after_the_death) {
  auto obj = wr::make_shared<int>(1);
  auto cb = [](wr::weak_ref<int>) {};
  wr::weak_ref<int> plain(obj), r(obj, cb);
  BOOST_TEST(!plain.has_callback());
  BOOST_TEST((plain.callback_type() == typeid(void)));
  bool seen_inside = true;
  wr::weak_ref<int> probe(obj, [&](wr::weak_ref<int>) { seen_inside = r.has_callback(); });
  obj.reset();
  BOOST_TEST(!seen_inside);
  BOOST_TEST(!r.has_callback());
  BOOST_TEST(r.callback<decltype(cb)>() == nullptr);
}

// ---- | and |= on the weak dictionaries (Python 3.9, PEP 584) ----------------------------------

// Checks [weakref.containers.union]/2.
BOOST_AUTO_TEST_CASE(PY3_UNION_1_or_is_a_new_map_where_the_right_operand_wins) {
  wr::weak_value_map<int, int> a, b;
  auto x = wr::make_shared<int>(1), y = wr::make_shared<int>(2), z = wr::make_shared<int>(3);
  a[1] = x;
  a[2] = z;
  b[1] = y;
  const auto c = a | b;
  BOOST_TEST(c.size() == 2u);
  BOOST_TEST(c.get(1) == y);
  BOOST_TEST(c.get(2) == z);
  BOOST_TEST(a.get(1) == x);
  wr::weak_key_map<int, int> k, l;
  k[x] = 1;
  l[x] = 2;
  BOOST_TEST((k | l).at(*x) == 2);
  BOOST_TEST((l | k).at(*x) == 1);
}

// Checks [weakref.containers.union]/4-5.
BOOST_AUTO_TEST_CASE(PY3_UNION_2_or_assign_updates_in_place) {
  wr::weak_value_map<int, int> a, b;
  auto x = wr::make_shared<int>(1), y = wr::make_shared<int>(2);
  a[1] = x;
  b[1] = y;
  auto& same = (a |= b);
  BOOST_TEST(&same == &a);
  BOOST_TEST(a.get(1) == y);
  a |= std::vector<std::pair<int, std::shared_ptr<int>>>{{2, x}};
  a |= {{3, x}};
  BOOST_TEST(a.size() == 3u);
  wr::weak_key_map<int, int> k;
  k |= {{x, 1}, {y, 2}};
  BOOST_TEST(k.size() == 2u);
}

// Checks [weakref.containers.union]/7-8.
BOOST_AUTO_TEST_CASE(PY3_UNION_3_a_plain_range_on_the_left_gives_a_weak_map) {
  wr::weak_value_map<int, int> a;
  auto x = wr::make_shared<int>(1), y = wr::make_shared<int>(2);
  a[1] = y;
  auto plain = std::vector<std::pair<int, std::shared_ptr<int>>>{{1, x}, {2, x}};
  const wr::weak_value_map<int, int> c = plain | a;
  plain.clear();
  BOOST_TEST(c.get(1) == y);
  BOOST_TEST(c.get(2) == x);
  x.reset();
  BOOST_TEST(c.size() == 1u); // weak: x's entry went with x
}

BOOST_AUTO_TEST_SUITE_END()
