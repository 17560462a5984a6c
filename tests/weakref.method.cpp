// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <unordered_set>
#include <utility>
#include <vector>

#include "support.hpp"
import weakref;

using weakref::weak_method;

namespace {

struct widget {
  explicit widget(int i = 0) : id(i) {}
  int id;
  std::vector<int> seen;
  void on_change(int v) { seen.push_back(v); }
  void on_reset(int) { seen.clear(); }
  int twice(int v) const { return 2 * v; }
  std::string name() const& { return "widget " + std::to_string(id); }
  std::function<int(int)> handler = [](int v) { return v + 1; };
  friend bool operator==(const widget& a, const widget& b) { return a.id == b.id; }
};

struct base {
  virtual ~base() = default;
  virtual int kind() const { return 1; }
};
struct derived : base {
  int kind() const override { return 2; }
};

// An object whose == and members throw when told to, and with no std::hash.
struct moody {
  static inline bool refuse = false;
  int id = 0;
  int act(int v) {
    if (refuse) throw std::runtime_error("act refused");
    return v;
  }
  std::function<int(int)> hook = [](int) -> int { throw std::logic_error("hook refused"); };
  friend bool operator==(const moody& a, const moody& b) {
    if (refuse) throw std::runtime_error("== refused");
    return a.id == b.id;
  }
};

// A callback whose copy throws.
struct refuses_copy {
  refuses_copy() = default;
  refuses_copy(const refuses_copy&) { throw std::runtime_error("no copy"); }
  template <class M>
  void operator()(M&&) const {}
};

template <class W>
concept hashable_member = requires(const W& w) { w.hash(); };

// Whether a weak_method of type W can be called with arguments of types A...: a concept, so that
// an argument list the member does not accept makes it false instead of the test ill-formed.
template <class W, class... A>
concept callable_with = requires(const W& w, A&&... a) { w(std::forward<A>(a)...); };

} // namespace

template <>
struct std::hash<widget> {
  std::size_t operator()(const widget& w) const noexcept { return std::hash<int>{}(w.id); }
};

BOOST_AUTO_TEST_SUITE(method)

// Checks [weakref.method.call]/1 and /3-4; [weakref.method.obs]/1.
BOOST_AUTO_TEST_CASE(calls_the_member_while_the_object_lives) {
  auto w = weakref::make_shared<widget>();
  weak_method m(w, &widget::on_change);
  static_assert(std::same_as<decltype(m), weak_method<widget, void (widget::*)(int)>>);
  static_assert(std::same_as<decltype(m(1)), bool>);
  BOOST_TEST(m(1));
  BOOST_TEST(m(2));
  BOOST_TEST((w->seen == std::vector<int>{1, 2}));
  BOOST_TEST(m.lock() == w);
  BOOST_TEST(m.method() == &widget::on_change);

  weak_method twice(w, &widget::twice);
  static_assert(std::same_as<decltype(twice(1)), std::optional<int>>);
  BOOST_TEST(twice(21).value() == 42);
  weak_method name(w, &widget::name);
  BOOST_TEST(name().value() == "widget 0");
  // A callable data member is called with the arguments.
  weak_method handler(w, &widget::handler);
  BOOST_TEST(handler(41).value() == 42);
}

BOOST_AUTO_TEST_CASE(reports_absence_once_the_object_is_gone) {
  // [weakref.method.call]/3-4 PY3-METH-1: a dead weak method calls nothing.
  auto w = weakref::make_shared<widget>();
  weak_method m(w, &widget::on_change);
  weak_method twice(w, &widget::twice);
  w.reset();
  BOOST_TEST(m.expired());
  BOOST_TEST(!m(1));
  BOOST_TEST(!twice(1).has_value());
  BOOST_TEST(m.lock() == nullptr);
}

// Checks [weakref.method.general]/3.
BOOST_AUTO_TEST_CASE(lives_as_long_as_the_object_not_the_binding_expression) {
  // PY3-METH-2: Python's ref(obj.method) dies at once, with the temporary bound method;
  // a weak_method made from a temporary binding lives while obj does.
  auto w = weakref::make_shared<widget>();
  std::vector<weak_method<widget, void (widget::*)(int)>> observers;
  observers.push_back(weak_method(w, &widget::on_change));
  BOOST_TEST(!observers[0].expired());
  BOOST_TEST(observers[0](5));
  BOOST_TEST(w->seen.size() == 1u);
}

// Checks [weakref.method.general]/1; [weakref.method.call]/3.
BOOST_AUTO_TEST_CASE(members_of_a_base_and_virtual_dispatch) {
  auto d = weakref::make_shared<derived>();
  weak_method m(d, &base::kind);
  BOOST_TEST(m().value() == 2);
  std::shared_ptr<base> b = d;
  weak_method<base, int (base::*)() const> via_base(b, &base::kind);
  BOOST_TEST(via_base().value() == 2);
}

// Checks [weakref.method.cons]/5; [weakref.method.obs]/2.
BOOST_AUTO_TEST_CASE(the_callback_receives_the_weak_method_itself) {
  // PY3-METH-5: the callback gets this weak_method (identical), at the object's death.
  auto w = weakref::make_shared<widget>();
  std::optional<weak_method<widget, void (widget::*)(int)>> received;
  weak_method m(w, &widget::on_change,
                [&received](weak_method<widget, void (widget::*)(int)> self) { received = self; });
  BOOST_TEST(m.has_callback());
  w.reset();
  BOOST_REQUIRE(received.has_value());
  BOOST_TEST(received->identical(m));
  BOOST_TEST((*received == m));
  BOOST_TEST(!m.has_callback()); // dead: none, as Python's __callback__
}

// Checks [weakref.method.cons]/2 and /5; [weakref.method.obs]/2.
BOOST_AUTO_TEST_CASE(a_null_callback_registers_none) {
  auto w = weakref::make_shared<widget>();
  weak_method m(w, &widget::on_change, nullptr);
  BOOST_TEST(!m.has_callback());
  weak_method n(w, &widget::on_change,
                std::function<void(weak_method<widget, void (widget::*)(int)>)>());
  BOOST_TEST(!n.has_callback());
  BOOST_TEST(weakref::weak_ref_count(w) == 2u);
}

// Checks [weakref.method.eq]/1; [weakref.method.obs]/3; [weakref.method.cons]/7.
BOOST_AUTO_TEST_CASE(equality_follows_python) {
  // PY3-METH-3: alive: equal objects and the same member; dead: only the same weak method.
  auto a = weakref::make_shared<widget>(1);
  auto a_twin = weakref::make_shared<widget>(1);
  auto b = weakref::make_shared<widget>(2);
  weak_method ma(a, &widget::on_change);
  weak_method ma2(a, &widget::on_change);
  weak_method mtwin(a_twin, &widget::on_change);
  weak_method mb(b, &widget::on_change);
  weak_method other_member(a, &widget::on_reset);
  BOOST_TEST((ma == ma2));
  BOOST_TEST((ma == mtwin)); // equal objects, as Python compares referents with ==
  BOOST_TEST((ma != mb));
  BOOST_TEST((ma != other_member));
  const auto copy = ma;
  a.reset();
  BOOST_TEST((ma != ma2)); // either dead: identity only
  BOOST_TEST((ma == copy));
  BOOST_TEST(copy.identical(ma));
}

// Checks [weakref.method.hash]/1 and /3-4.
BOOST_AUTO_TEST_CASE(hash_is_the_objects_and_survives_death) {
  // PY3-METH-4: hash(wm) is hash(obj), cached; first taken after death throws type_error.
  static_assert(requires(const weak_method<widget, void (widget::*)(int)>& m) {
    std::hash<weak_method<widget, void (widget::*)(int)>>{}(m);
  });
  static_assert(
      !std::is_default_constructible_v<std::hash<weak_method<base, int (base::*)() const>>>);
  auto w = weakref::make_shared<widget>(7);
  weak_method m(w, &widget::on_change);
  weak_method late(w, &widget::on_change);
  const std::size_t h = std::hash<weak_method<widget, void (widget::*)(int)>>{}(m);
  BOOST_TEST(h == std::hash<widget>{}(*w));
  w.reset();
  BOOST_TEST(m.hash() == h);
  BOOST_CHECK_THROW(late.hash(), weakref::type_error);
}

// Checks [weakref.method.call]/3-4; [weakref.method.cons]/5; [weakref.method.hash]/1.
BOOST_AUTO_TEST_CASE(usable_as_a_std_function_and_in_a_self_cleaning_registry) {
  // Observers stored as std::function keep working and do nothing once their object is gone.
  auto w = weakref::make_shared<widget>(3);
  std::function<void(int)> observer = weak_method(w, &widget::on_change);
  observer(9);
  BOOST_TEST((w->seen == std::vector<int>{9}));
  // A registry that removes each weak method at its object's death, through the callback.
  using slot = weak_method<widget, void (widget::*)(int)>;
  std::unordered_set<slot> registry;
  auto v = weakref::make_shared<widget>(4);
  auto drop = [&registry](slot dead) { registry.erase(dead); };
  registry.insert(slot(w, &widget::on_change, drop));
  registry.insert(slot(v, &widget::on_change, drop));
  for (const slot& s : registry) s(1);
  BOOST_TEST(w->seen.size() == 2u);
  BOOST_TEST(v->seen.size() == 1u);
  w.reset();
  BOOST_TEST(registry.size() == 1u);
  observer(10); // its object is gone: nothing happens
  v.reset();
  BOOST_TEST(registry.empty());
}

// Checks [weakref.method.obs]/2.
BOOST_AUTO_TEST_CASE(callback_accessor_shows_the_users_callback) {
  auto w = weakref::make_shared<widget>();
  int deaths = 0;
  auto on_death = [&deaths](const weak_method<widget, int (widget::*)(int) const>&) { ++deaths; };
  weak_method m(w, &widget::twice, on_death);
  BOOST_TEST((m.callback_type() == typeid(on_death)));
  BOOST_TEST(m.callback<decltype(on_death)>() != nullptr);
  BOOST_TEST(m.ref().callback<decltype(on_death)>() == m.callback<decltype(on_death)>());
  w.reset();
  BOOST_TEST(deaths == 1);
  BOOST_TEST(m.callback<decltype(on_death)>() == nullptr);
}

// Checks [weakref.method.cons]/1 and /4.
BOOST_AUTO_TEST_CASE(not_weakly_referenceable_and_misuse) {
  const auto plain = std::make_shared<widget>();
  BOOST_CHECK_THROW(weak_method(plain, &widget::on_change), weakref::type_error);
  auto w = weakref::make_shared<widget>();
  using slot = weak_method<widget, void (widget::*)(int)>;
  BOOST_CHECK_THROW(slot(w, nullptr), weakref::type_error);
  BOOST_TEST(weakref::weak_ref_count(w) == 0u); // nothing was registered
  // Only members of T (or of its bases) can be bound: checked by static_assert with a message
  // (conformance/compile_fail/PY3_METH_1_...).
  const weak_method<widget, void (widget::*)(int)> empty;
  BOOST_TEST(empty.expired());
  BOOST_TEST(!empty(1));
}

// An exception from the member (or from the callable data member) leaves the call; the object was
// pinned during it and is released afterwards, still alive while its owner lives.
// A call with arguments the member does not accept is not a candidate: the constraint is
// unsatisfied (not a hard error inside the call), for member functions and callable data
// members alike. Checks [weakref.method.call]/2.
BOOST_AUTO_TEST_CASE(a_call_the_member_does_not_accept_is_not_viable) {
  using on_change = weakref::weak_method<widget, decltype(&widget::on_change)>;
  using handler = weakref::weak_method<widget, decltype(&widget::handler)>;
  using name = weakref::weak_method<widget, decltype(&widget::name)>;
  BOOST_TEST((callable_with<on_change, int>));
  BOOST_TEST((!callable_with<on_change>));
  BOOST_TEST((!callable_with<on_change, int, int>));
  BOOST_TEST((!callable_with<on_change, std::string>));
  BOOST_TEST((callable_with<handler, int>));
  BOOST_TEST((!callable_with<handler, const char*>));
  BOOST_TEST((callable_with<name>));
  BOOST_TEST((!callable_with<name, int>));
  // And a viable call still calls: an int argument converts from a short.
  auto w = weakref::make_shared<widget>(1);
  on_change m(w, &widget::on_change);
  BOOST_TEST(m(static_cast<short>(3)));
  BOOST_TEST(w->seen == std::vector<int>{3}, boost::test_tools::per_element());
}

// Checks [weakref.method.call]/5.
BOOST_AUTO_TEST_CASE(an_exception_from_the_member_propagates) {
  auto o = weakref::make_shared<moody>();
  const weak_method act(o, &moody::act);
  const weak_method hook(o, &moody::hook);
  BOOST_TEST((act(5) == std::optional<int>(5)));
  moody::refuse = true;
  BOOST_CHECK_THROW(act(5), std::runtime_error);
  moody::refuse = false;
  BOOST_CHECK_THROW(hook(5), std::logic_error);
  BOOST_TEST(o.use_count() == 1); // the pin was released by the unwinding
  BOOST_TEST((act(6) == std::optional<int>(6)));
}

// Comparing weak methods compares their live objects with T's ==, whose exception propagates.
// Checks [weakref.method.eq]/2.
BOOST_AUTO_TEST_CASE(an_exception_from_the_objects_equality_propagates) {
  auto a = weakref::make_shared<moody>();
  auto b = weakref::make_shared<moody>();
  const weak_method ma(a, &moody::act), mb(b, &moody::act);
  BOOST_TEST((ma == mb));
  moody::refuse = true;
  BOOST_CHECK_THROW((void)(ma == mb), std::runtime_error);
  moody::refuse = false;
  b.reset(); // once an object is dead, only identity counts, and == is not called
  moody::refuse = true;
  BOOST_TEST((ma != mb));
  moody::refuse = false;
}

// owner_hash and owner_equal identify the object (and the method), need neither == nor a hash of
// T, and do not change when the object dies.
// Checks [weakref.method.eq]/3.
BOOST_AUTO_TEST_CASE(owner_identity_is_the_objects_and_the_methods) {
  auto a = weakref::make_shared<moody>();
  auto b = weakref::make_shared<moody>(); // equal to *a by ==, but another object
  using act_t = weak_method<moody, int (moody::*)(int)>;
  const act_t m1(a, &moody::act), m2(a, &moody::act), other_object(b, &moody::act);
  BOOST_TEST(m1.owner_equal(m2));
  BOOST_TEST(!m1.owner_equal(other_object));
  BOOST_TEST(m1.owner_hash() == m2.owner_hash());
  BOOST_TEST(m1.owner_hash() == m1.ref().owner_hash());
  const weak_method<widget, void (widget::*)(int)> empty;
  BOOST_TEST(empty.owner_equal(empty));

  auto w = weakref::make_shared<widget>();
  using slot = weak_method<widget, void (widget::*)(int)>;
  const slot change(w, &widget::on_change), change2(w, &widget::on_change);
  const slot reset(w, &widget::on_reset);
  BOOST_TEST(change.owner_equal(change2));
  BOOST_TEST(!change.owner_equal(reset)); // same object, another method
  const std::size_t h = m1.owner_hash();
  a.reset();
  BOOST_TEST(m1.owner_equal(m2));
  BOOST_TEST(m1.owner_hash() == h);
}

// hash() exists exactly when std::hash of the object type does.
// Checks [weakref.method.hash]/2.
BOOST_AUTO_TEST_CASE(hash_is_absent_without_the_objects_hash) {
  static_assert(hashable_member<weak_method<widget, void (widget::*)(int)>>);
  static_assert(!hashable_member<weak_method<moody, int (moody::*)(int)>>);
  static_assert(
      !std::is_default_constructible_v<std::hash<weak_method<moody, int (moody::*)(int)>>>);
  auto w = weakref::make_shared<widget>(9);
  const weak_method m(w, &widget::on_change);
  BOOST_TEST(m.hash() == std::hash<widget>{}(*w));
}

// A callback whose copy throws makes the construction throw, with no effect: nothing registered.
// Checks [weakref.method.cons]/6.
BOOST_AUTO_TEST_CASE(a_throwing_callback_copy_makes_construction_have_no_effect) {
  auto w = weakref::make_shared<widget>();
  const refuses_copy callback;
  using slot = weak_method<widget, void (widget::*)(int)>;
  BOOST_CHECK_THROW(slot(w, &widget::on_change, callback), std::runtime_error);
  BOOST_TEST(weakref::weak_ref_count(w) == 0u);
  BOOST_CHECK_THROW(slot(std::shared_ptr<widget>(), &widget::on_change, [](slot) {}),
                    weakref::type_error);
  BOOST_TEST(weakref::weak_ref_count(w) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
