// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: CPython's own test suite for WeakSet, Lib/test/test_weakset.py (TestWeakSet),
// translated to C++ for weak_set. conformance/cpython-tests.md maps every CPython test to the
// test(s) here and says how each was translated; a comment above each test names the CPython
// test it ports. CPython's elements are UserString objects (equal and hashed by value): here
// `ustr`, made by the factory.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <ranges>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>
#include <version>
#if defined(__cpp_lib_format)
#include <format>
#endif

#include "support.hpp"

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;
using conformance::walked;

namespace {

constexpr std::uint32_t intact = 0xC0FFEEu;

// CPython's UserString: equal and hashed by value; counts its live instances, marks its memory
// dead.
struct ustr {
  static inline std::atomic<int> alive{0};
  std::string s;
  std::uint32_t magic = intact;
  explicit ustr(std::string v) : s(std::move(v)) { ++alive; }
  ustr(const ustr& o) : s(o.s) { ++alive; }
  ustr& operator=(const ustr&) = default;
  ~ustr() {
    magic = 0;
    --alive;
  }
  friend bool operator==(const ustr& a, const ustr& b) { return a.s == b.s; }
};

// Runs a function once, inside the next hash computed: a death placed inside a member call,
// after the purge the member starts with.
struct death_hook {
  static inline std::function<void()> armed;
  static void fire() {
    if (!armed) return;
    std::function<void()> f = std::move(armed);
    armed = nullptr;
    f();
  }
};
struct ustr_hash {
  std::size_t operator()(const ustr& u) const {
    death_hook::fire();
    return std::hash<std::string>{}(u.s);
  }
};

using set_t = wr::weak_set<ustr, ustr_hash>;
using owners = std::vector<std::shared_ptr<ustr>>;

std::shared_ptr<ustr> make_ustr(std::string v) { return wr::make_shared<ustr>(std::move(v)); }
owners ustrs(std::string_view chars) {
  owners result;
  for (char c : chars) result.push_back(make_ustr(std::string(1, c)));
  return result;
}
set_t weak_set_of(const owners& items) { return set_t(wr::from_range, items); }
owners concat(const owners& a, const owners& b) {
  owners r = a;
  r.insert(r.end(), b.begin(), b.end());
  return r;
}

constexpr std::string_view ascii_letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

// CPython's TestWeakSet.setUp.
struct fixture {
  owners items = ustrs("abc");
  owners items2 = ustrs("xyz");
  owners ab_items = ustrs("ab");
  owners abcde_items = ustrs("abcde");
  owners def_items = ustrs("def");
  set_t ab_weakset = weak_set_of(ab_items);
  set_t abcde_weakset = weak_set_of(abcde_items);
  set_t def_weakset = weak_set_of(def_items);
  owners letters = ustrs(ascii_letters);
  set_t s = weak_set_of(items);
  std::unordered_set<std::string> d{"a", "b", "c"}; // dict.fromkeys(items)
  std::shared_ptr<ustr> obj = make_ustr("F");
  set_t fs = weak_set_of({obj});

  static bool in(const set_t& set, const std::shared_ptr<ustr>& c) { return set.contains(*c); }
  static bool in(const owners& list, const std::shared_ptr<ustr>& c) {
    return std::ranges::any_of(list, [&](const auto& x) { return *x == *c; });
  }
  bool in_d(const std::shared_ptr<ustr>& c) const { return d.contains(c->s); }
};

// Named concepts for the compile-time checks.
template <class T>
concept std_hashable =
    std::default_initializable<std::hash<T>> && requires(const std::hash<T>& h, const T& t) {
      { h(t) } -> std::convertible_to<std::size_t>;
    };
template <class S, class A>
concept removable_by = requires(S& s, const A& a) { s.remove(a); };
template <class S, class A>
concept discardable_by = requires(S& s, const A& a) { s.discard(a); };
template <class S, class A>
concept contains_accepts = requires(const S& s, const A& a) { s.contains(a); };

// The same operation with CPython's various iterables of items2: set, frozenset, dict keys,
// list, tuple (a std::unordered_set, a std::set ordered by value, a std::map's keys, a
// std::vector, a std::list).
template <class F>
void for_each_container(const owners& items, F f) {
  const auto by_value = [](const auto& a, const auto& b) { return a->s < b->s; };
  f(std::unordered_set<std::shared_ptr<ustr>>(items.begin(), items.end()));
  f(std::set<std::shared_ptr<ustr>, decltype(by_value)>(items.begin(), items.end(), by_value));
  std::map<std::shared_ptr<ustr>, int> keyed;
  for (const auto& x : items) keyed.emplace(x, 0);
  f(keyed | std::views::keys);
  f(items);
  f(std::list<std::shared_ptr<ustr>>(items.begin(), items.end()));
}

} // namespace

BOOST_AUTO_TEST_SUITE(cpython_weakset)

// test_methods: every method of Python's set is there; union, a C++ keyword, is spelled with its
// Python operator, |
// Checks [weakref.set]/4.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_methods) {
  static_assert(requires(set_t& s, const set_t& t, std::shared_ptr<ustr> x, const ustr& y) {
    s.add(x);
    s.clear();
    { t.copy() } -> std::same_as<set_t>;
    { t.difference(t) } -> std::same_as<set_t>;
    s.difference_update(t);
    s.discard(y);
    { t.intersection(t) } -> std::same_as<set_t>;
    s.intersection_update(t);
    { t.isdisjoint(t) } -> std::same_as<bool>;
    { t.issubset(t) } -> std::same_as<bool>;
    { t.issuperset(t) } -> std::same_as<bool>;
    { s.pop() } -> std::same_as<std::shared_ptr<ustr>>;
    s.remove(y);
    { t.symmetric_difference(t) } -> std::same_as<set_t>;
    s.symmetric_difference_update(t);
    { t | t } -> std::same_as<set_t>;
    s.update(t);
  });
  const fixture f;
  BOOST_TEST(f.s.size() == 3u);
}

// test_new_or_init: WeakSet([], 2) is a TypeError; a range and an int construct nothing here
// Checks [weakref.containers.general]/1; [weakref.set.cons]/1.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_new_or_init) {
  static_assert(!std::constructible_from<set_t, owners, int>);
  static_assert(std::constructible_from<set_t, wr::from_range_t, owners>);
  const set_t s(wr::from_range, owners{});
  BOOST_TEST(s.empty());
}

// test_len
// Checks [weakref.set]/1; [weakref.set.capacity]/1.
BOOST_AUTO_TEST_CASE(PY_WS_1_cpython_len) {
  fixture f;
  BOOST_TEST(f.s.size() == f.d.size());
  BOOST_TEST(f.fs.size() == 1u);
  f.obj.reset();
  BOOST_TEST(f.fs.size() == 0u);
}

// test_contains (1 in s: a compile-time error here)
// Checks [weakref.set]/1; [weakref.set.lookup]/1.
BOOST_AUTO_TEST_CASE(PY_WS_1_cpython_contains) {
  fixture f;
  for (const auto& c : f.letters) BOOST_TEST(f.in(f.s, c) == f.in_d(c), c->s);
  static_assert(!contains_accepts<set_t, int>);
  BOOST_TEST(f.fs.contains(*f.obj));
  f.obj.reset();
  BOOST_TEST(!f.fs.contains(ustr("F")));
}

// test_union ([[]]: an empty shared_ptr, which cannot be inserted)
// Checks [weakref.set.algebra]/1-2 and /6.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_union) {
  fixture f;
  const set_t u = f.s | f.items2;
  for (const auto& c : f.letters) BOOST_TEST(f.in(u, c) == (f.in_d(c) || f.in(f.items2, c)), c->s);
  BOOST_TEST((f.s == weak_set_of(f.items)));
  BOOST_CHECK_THROW(f.s | owners{nullptr}, wr::type_error);
  const set_t x = weak_set_of(concat(f.items, f.items2));
  for_each_container(f.items2, [&](const auto& c) { BOOST_TEST(((f.s | c) == x)); });
  BOOST_TEST(u.size() == f.items.size() + f.items2.size());
  f.items2.pop_back();
  BOOST_TEST(u.size() == f.items.size() + f.items2.size());
}

// test_or (Python's set(items2) and frozenset(items2): a weak_set, a vector and a list)
// Checks [weakref.set.algebra]/2 and /10.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_or) {
  const fixture f;
  const set_t i = f.s | f.items2;
  BOOST_TEST(((f.s | weak_set_of(f.items2)) == i));
  for_each_container(f.items2, [&](const auto& c) { BOOST_TEST(((f.s | c) == i)); });
}

// test_intersection. CPython's result keeps the other operand's objects; here the left
// operand's (PY-WS-2), so releasing items2's objects does not shrink it, releasing the left's
// does.
// Checks [weakref.set.algebra]/1 and /3.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_intersection) {
  fixture f;
  const set_t s = weak_set_of(f.letters);
  const set_t i = s.intersection(f.items2);
  for (const auto& c : f.letters)
    BOOST_TEST(f.in(i, c) == (f.in(f.items2, c) && f.in(f.letters, c)), c->s);
  BOOST_TEST((s == weak_set_of(f.letters)));
  for_each_container(f.items, [&](const auto& c) { BOOST_TEST((i.intersection(c) == set_t())); });
  BOOST_TEST(i.size() == f.items2.size());
  f.items2.pop_back();
  BOOST_TEST(i.size() == f.items2.size() + 1); // i holds the left operand's "z"
  std::erase_if(f.letters, [](const auto& c) { return c->s == "z"; });
  BOOST_TEST(i.size() == f.items2.size());
}

// test_isdisjoint
// Checks [weakref.set.cmp]/4.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_isdisjoint) {
  const fixture f;
  BOOST_TEST(f.s.isdisjoint(weak_set_of(f.items2)));
  BOOST_TEST(!f.s.isdisjoint(weak_set_of(f.letters)));
}

// test_and
// Checks [weakref.set.algebra]/10.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_and) {
  const fixture f;
  const set_t i = f.s.intersection(f.items2);
  BOOST_TEST(((f.s & weak_set_of(f.items2)) == i));
  BOOST_TEST(((f.s & f.items2) == i)); // Python: a plain set on the right
}

// test_difference ([[]]: an empty shared_ptr is an element of no set, so it removes nothing;
// CPython raises TypeError)
// Checks [weakref.set.algebra]/1 and /4.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_difference) {
  const fixture f;
  const set_t i = f.s.difference(f.items2);
  for (const auto& c : f.letters) BOOST_TEST(f.in(i, c) == (f.in_d(c) && !f.in(f.items2, c)), c->s);
  BOOST_TEST((f.s == weak_set_of(f.items)));
  BOOST_TEST((f.s.difference(owners{nullptr}) == f.s));
}

// test_sub
// Checks [weakref.set.algebra]/10.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_sub) {
  const fixture f;
  const set_t i = f.s.difference(f.items2);
  BOOST_TEST(((f.s - weak_set_of(f.items2)) == i));
  BOOST_TEST(((f.s - f.items2) == i)); // Python: a plain set on the right
}

// test_symmetric_difference
// Checks [weakref.set.algebra]/1 and /5-6.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_symmetric_difference) {
  fixture f;
  const set_t i = f.s.symmetric_difference(f.items2);
  for (const auto& c : f.letters) BOOST_TEST(f.in(i, c) == (f.in_d(c) != f.in(f.items2, c)), c->s);
  BOOST_TEST((f.s == weak_set_of(f.items)));
  BOOST_CHECK_THROW(f.s.symmetric_difference(owners{nullptr}), wr::type_error);
  BOOST_TEST(i.size() == f.items.size() + f.items2.size());
  f.items2.pop_back();
  BOOST_TEST(i.size() == f.items.size() + f.items2.size());
}

// test_xor
// Checks [weakref.set.algebra]/10.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_xor) {
  const fixture f;
  const set_t i = f.s.symmetric_difference(f.items2);
  BOOST_TEST(((f.s ^ weak_set_of(f.items2)) == i));
  BOOST_TEST(((f.s ^ f.items2) == i)); // Python: a plain set on the right
}

// test_sub_and_super (its last four checks are about Python's set of characters). Python's <=
// and >= are issubset and issuperset: C++ gives weak_set no relational operators (adapted).
// Checks [weakref.set.cmp]/2-3.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_sub_and_super) {
  const fixture f;
  BOOST_TEST(f.ab_weakset.issubset(f.abcde_weakset));
  BOOST_TEST(f.abcde_weakset.issubset(f.abcde_weakset));
  BOOST_TEST(f.abcde_weakset.issuperset(f.ab_weakset));
  BOOST_TEST(!f.abcde_weakset.issubset(f.def_weakset));
  BOOST_TEST(!f.abcde_weakset.issuperset(f.def_weakset));
  BOOST_TEST(f.ab_weakset.issubset(f.abcde_items));
  BOOST_TEST(f.abcde_weakset.issuperset(f.ab_items));
  BOOST_TEST(!f.ab_weakset.issubset(f.def_items));
}

// test_lt: Python's proper subset a < b is spelled a.issubset(b) && a != b (adapted: inclusion
// is not a strict weak order, so weak_set has no <).
// Checks [weakref.set.cmp]/2 and /5-6.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_lt) {
  const fixture f;
  const auto proper_subset = [](const set_t& a, const set_t& b) { return a.issubset(b) && a != b; };
  BOOST_TEST(proper_subset(f.ab_weakset, f.abcde_weakset));
  BOOST_TEST(!proper_subset(f.abcde_weakset, f.def_weakset));
  BOOST_TEST(!proper_subset(f.ab_weakset, f.ab_weakset));
  BOOST_TEST(!proper_subset(set_t(), set_t()));
  BOOST_TEST(!conformance::has_less<set_t>);
}

// test_gt: Python's proper superset a > b is a.issuperset(b) && a != b (adapted, as test_lt).
// Checks [weakref.set.cmp]/3 and /5-6.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_gt) {
  const fixture f;
  const auto proper_superset = [](const set_t& a, const set_t& b) {
    return a.issuperset(b) && a != b;
  };
  BOOST_TEST(proper_superset(f.abcde_weakset, f.ab_weakset));
  BOOST_TEST(!proper_superset(f.abcde_weakset, f.def_weakset));
  BOOST_TEST(!proper_superset(f.ab_weakset, f.ab_weakset));
  BOOST_TEST(!proper_superset(set_t(), set_t()));
  BOOST_TEST(!conformance::has_greater<set_t>);
}

namespace {
// CPython's Foo of test_gc, whose instances refer to the set and hold a weak set of themselves.
struct foo {
  static inline int alive = 0;
  const void* cycle = nullptr;
  std::optional<wr::weak_set<foo, wr::identity_hash<foo>, wr::identity_equal<foo>>> set;
  foo() { ++alive; }
  ~foo() { --alive; }
};
} // namespace

// test_gc: CPython builds a nest of cycles for its collector. C++ has none to collect; the
// same structure without owning cycles: each element refers to the set and owns a weak set
// holding itself, which it destroys while it dies
// Checks [weakref.set]/1; [weakref.containers.general]/16; [weakref.ref.death]/6.
BOOST_AUTO_TEST_CASE(PY_WS_1_cpython_gc_elements_own_sets_of_themselves) {
  using foo_set = wr::weak_set<foo, wr::identity_hash<foo>, wr::identity_equal<foo>>;
  const int before = foo::alive;
  std::vector<std::shared_ptr<foo>> owned;
  for (int i = 0; i < 1000; ++i) owned.push_back(wr::make_shared<foo>());
  foo_set s(wr::from_range, owned);
  for (const auto& elem : s) {
    elem->cycle = &s;
    elem->set.emplace(std::initializer_list<std::shared_ptr<foo>>{elem});
  }
  BOOST_TEST(s.size() == 1000u);
  owned.clear();
  BOOST_TEST(foo::alive == before);
  BOOST_TEST(s.size() == 0u);
}

namespace {
// CPython's H: a WeakSet subclass with a hash of its own.
struct hashed_set : set_t {
  int id = 0;
};
struct hashed_set_hash {
  std::size_t operator()(const hashed_set& s) const noexcept { return std::hash<int>{}(s.id); }
};
struct hashed_set_equal {
  bool operator()(const hashed_set& a, const hashed_set& b) const noexcept { return a.id == b.id; }
};
} // namespace

// test_subclass_with_custom_hash (bug 1257731): a class derived from weak_set, with a hash of
// its own, is an element of a hashed container
// Checks [weakref.set.cons]/1.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_subclass_with_custom_hash) {
  const fixture fx;
  hashed_set s;
  s.id = 7;
  s.update(fx.items);
  std::unordered_set<hashed_set, hashed_set_hash, hashed_set_equal> f;
  f.insert(s);
  BOOST_TEST(f.contains(s));
  BOOST_TEST(f.erase(s) == 1u);
  f.insert(s);
  BOOST_TEST(f.begin()->size() == 3u);
  BOOST_TEST(f.erase(s) == 1u);
  BOOST_TEST(f.empty());
}

// test_init: calling __init__ again replaces the contents; here assignment (bad arguments are
// compile-time errors)
// Checks [weakref.set.cons]/1; [weakref.value.map.cons]/12.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_init) {
  const fixture f;
  set_t s;
  s = weak_set_of(f.items);
  BOOST_TEST((s == f.s));
  s = weak_set_of(f.items2);
  BOOST_TEST((s == weak_set_of(f.items2)));
  static_assert(!std::assignable_from<set_t&, int>);
}

// test_constructor_identity: a set made from another is a distinct object
// Checks [weakref.set.cons]/1; [weakref.value.map.cons]/8.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_constructor_identity) {
  const fixture f;
  const set_t s = weak_set_of(f.items);
  set_t t(s);
  BOOST_TEST(&t != &s);
  t.clear();
  BOOST_TEST(s.size() == 3u);
}

// test_hash: a weak set is not hashable
// Checks [weakref.containers.general]/1.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_hash) {
  static_assert(!std_hashable<set_t>);
  const fixture f;
  BOOST_TEST(!f.s.empty());
}

// test_clear
// Checks [weakref.containers.general]/21-22.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_clear) {
  fixture f;
  f.s.clear();
  BOOST_TEST((f.s == set_t()));
  BOOST_TEST(f.s.size() == 0u);
}

// test_copy
// Checks [weakref.set.python]/10.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_copy) {
  const fixture f;
  const set_t dup = f.s.copy();
  BOOST_TEST((f.s == dup));
  BOOST_TEST(&dup != &f.s);
}

// test_add ([]: an empty shared_ptr, and an object std::make_shared made, cannot be added)
// Checks [weakref.set.python]/1; [weakref.set.modifiers]/1 and /3.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_add) {
  fixture f;
  const auto x = make_ustr("Q");
  f.s.add(x);
  BOOST_TEST(f.s.contains(*x));
  const set_t dup = f.s.copy();
  f.s.add(x);
  BOOST_TEST((f.s == dup));
  BOOST_CHECK_THROW(f.s.add(nullptr), wr::type_error);
  BOOST_CHECK_THROW(f.s.add(std::make_shared<ustr>("R")), wr::type_error);
  f.fs.add(make_ustr("Foo")); // nothing else owns it
  BOOST_TEST(f.fs.size() == 1u);
  f.fs.add(f.obj);
  BOOST_TEST(f.fs.size() == 1u);
}

// test_remove ([]: a compile-time error)
// Checks [weakref.set.python]/3-4.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_remove) {
  fixture f;
  const ustr x("a");
  f.s.remove(x);
  BOOST_TEST(!f.s.contains(x));
  BOOST_CHECK_THROW(f.s.remove(x), wr::key_error);
  static_assert(!removable_by<set_t, owners>);
}

// test_discard
// Checks [weakref.set.python]/2.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_discard) {
  fixture f;
  const ustr a("a"), q("Q");
  f.s.discard(a);
  BOOST_TEST(!f.s.contains(a));
  f.s.discard(q);
  BOOST_TEST(f.s.size() == 2u);
  static_assert(!discardable_by<set_t, owners>);
}

// test_pop
// Checks [weakref.set.python]/6-8.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_pop) {
  fixture f;
  for (std::size_t i = 0, n = f.s.size(); i < n; ++i) {
    const auto elem = f.s.pop();
    BOOST_TEST(!f.s.contains(*elem));
  }
  BOOST_CHECK_THROW(f.s.pop(), wr::key_error);
}

// test_update (update returns void; [[]]: an empty shared_ptr, type_error)
// Checks [weakref.set.python]/11; [weakref.set.modifiers]/3.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_update) {
  fixture f;
  static_assert(std::is_void_v<decltype(f.s.update(f.items2))>);
  f.s.update(f.items2);
  for (const auto& c : concat(f.items, f.items2)) BOOST_TEST(f.s.contains(*c), c->s);
  BOOST_CHECK_THROW(f.s.update(owners{nullptr}), wr::type_error);
}

// test_update_set
// Checks [weakref.set.python]/11.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_update_set) {
  fixture f;
  f.s.update(std::unordered_set<std::shared_ptr<ustr>>(f.items2.begin(), f.items2.end()));
  for (const auto& c : concat(f.items, f.items2)) BOOST_TEST(f.s.contains(*c), c->s);
}

// test_ior
// Checks [weakref.set.algebra]/10.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_ior) {
  fixture f;
  f.s |= weak_set_of(f.items2);
  for (const auto& c : concat(f.items, f.items2)) BOOST_TEST(f.s.contains(*c), c->s);
}

namespace {
void check_intersection_updated(const fixture& f) {
  for (const auto& c : concat(f.items, f.items2))
    BOOST_TEST(f.in(f.s, c) == (f.in(f.items2, c) && f.in(f.items, c)), c->s);
}
void check_difference_updated(const fixture& f) {
  for (const auto& c : concat(f.items, f.items2))
    BOOST_TEST(f.in(f.s, c) == (f.in(f.items, c) && !f.in(f.items2, c)), c->s);
}
void check_symmetric_difference_updated(const fixture& f) {
  for (const auto& c : concat(f.items, f.items2))
    BOOST_TEST(f.in(f.s, c) == (f.in(f.items, c) != f.in(f.items2, c)), c->s);
}
} // namespace

// test_intersection_update ([[]]: an empty shared_ptr matches nothing; CPython: TypeError)
// Checks [weakref.set.algebra]/1 and /8.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_intersection_update) {
  fixture f;
  f.s.intersection_update(f.items2);
  check_intersection_updated(f);
  set_t t = weak_set_of(f.items);
  t.intersection_update(owners{nullptr});
  BOOST_TEST(t.empty());
}

// test_iand
// Checks [weakref.set.algebra]/10.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_iand) {
  fixture f;
  f.s &= weak_set_of(f.items2);
  check_intersection_updated(f);
}

// test_difference_update ([[]]: ignored by difference_update, type_error for
// symmetric_difference_update, which would insert it)
// Checks [weakref.set.algebra]/1 and /8.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_difference_update) {
  fixture f;
  f.s.difference_update(f.items2);
  check_difference_updated(f);
  f.s.difference_update(owners{nullptr});
  check_difference_updated(f);
  BOOST_CHECK_THROW(f.s.symmetric_difference_update(owners{nullptr}), wr::type_error);
}

// test_isub
// Checks [weakref.set.algebra]/10.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_isub) {
  fixture f;
  f.s -= weak_set_of(f.items2);
  check_difference_updated(f);
}

// test_symmetric_difference_update
// Checks [weakref.set.algebra]/1 and /8.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_symmetric_difference_update) {
  fixture f;
  f.s.symmetric_difference_update(f.items2);
  check_symmetric_difference_updated(f);
  BOOST_CHECK_THROW(f.s.symmetric_difference_update(owners{nullptr}), wr::type_error);
}

// test_ixor
// Checks [weakref.set.algebra]/10.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_ixor) {
  fixture f;
  f.s ^= weak_set_of(f.items2);
  check_symmetric_difference_updated(f);
}

// test_inplace_on_self: each in-place operator with the set itself as its operand
// Checks [weakref.set.algebra]/1 and /10.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_inplace_on_self) {
  const fixture f;
  set_t t = f.s.copy();
  t |= t;
  BOOST_TEST((t == f.s));
  t &= t;
  BOOST_TEST((t == f.s));
  t -= t;
  BOOST_TEST((t == set_t()));
  t = f.s.copy();
  t ^= t;
  BOOST_TEST((t == set_t()));
}

// test_eq (issue 5964): a weak set equals only a weak set with the same elements; comparing it
// with a std::unordered_set, a vector or an int does not compile
// Checks [weakref.set.cmp]/5.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_eq) {
  const fixture f;
  BOOST_TEST((f.s == f.s));
  BOOST_TEST((f.s == weak_set_of(f.items)));
  static_assert(!std::equality_comparable_with<set_t, std::unordered_set<std::shared_ptr<ustr>>>);
  static_assert(!std::equality_comparable_with<set_t, owners>);
  static_assert(!std::equality_comparable_with<set_t, int>);
  const auto other = make_ustr("Foo");
  BOOST_TEST(!(f.s == weak_set_of({other})));
}

// test_ne
// Checks [weakref.set.cmp]/6.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_ne) {
  const fixture f;
  BOOST_TEST((f.s != weak_set_of(f.items2)));
  const set_t s1, s2;
  BOOST_TEST(!(s1 != s2));
}

// test_weak_destroy_while_iterating (issue 7105)
// Checks [weakref.containers.general]/5 and /7.
BOOST_AUTO_TEST_CASE(PY_WS_1_cpython_weak_destroy_while_iterating) {
  owners items = ustrs("abc");
  set_t s = weak_set_of(items);
  {
    auto it = s.begin();
    ++it; // one consumed
    items.pop_back();
    const auto rest = static_cast<std::size_t>(std::ranges::distance(it, s.end()));
    BOOST_TEST((rest == items.size() || rest == items.size() - 1));
  }
  BOOST_TEST(s.size() == items.size());
}

namespace {
enum class death_timing { reported, inside };

// CPython's testcontext of test_weak_destroy_and_mutate_while_iterating: starts an iteration,
// schedules the death of an item other than the one the iterator holds (issue 20006), and
// yields an equal new item. The death is reported at once, or runs inside the next member call
// (in its hash, after its purge). The iterator lives until the context ends.
class mutate_context {
public:
  mutate_context(set_t& s, owners& items, death_timing when) : it_(s.begin()) {
    const std::shared_ptr<ustr> held = *it_;
    auto victim =
        std::ranges::find_if(items | std::views::reverse, [&](const auto& o) { return o != held; });
    u_ = make_ustr((*victim)->s);
    std::shared_ptr<ustr> doomed = std::move(*victim);
    items.erase(std::next(victim).base());
    if (when == death_timing::reported)
      doomed.reset();
    else
      death_hook::armed = [d = std::move(doomed)]() mutable { d.reset(); };
  }
  ~mutate_context() { death_hook::armed = nullptr; }
  mutate_context(const mutate_context&) = delete;
  mutate_context& operator=(const mutate_context&) = delete;
  const std::shared_ptr<ustr>& u() const noexcept { return u_; }

private:
  set_t::iterator it_;
  std::shared_ptr<ustr> u_;
};

void check_size(const set_t& s, std::size_t expected, const char* what, death_timing when) {
  const char* timing = when == death_timing::reported ? "reported" : "inside";
  BOOST_TEST(!death_hook::armed, what << " (" << timing << "): the death did not run inside");
  BOOST_TEST(s.size() == expected, what << " (" << timing << ")");
  BOOST_TEST(walked(s) == expected, what << " (" << timing << ")");
}
} // namespace

// test_weak_destroy_and_mutate_while_iterating (issue 7105): with an iterator alive and a death
// pending, the owner looks up, removes and re-adds the dead item (an equal new one), updates
// from a copy and clears; the size is checked after each (CPython checks it after update and
// clear). Each step runs with the death reported before the call and inside it.
// Checks [weakref.containers.general]/5, /7 and /21; [weakref.set.python]/1, /3-4 and /11.
BOOST_AUTO_TEST_CASE(PY_IMPL_21_cpython_weak_destroy_and_mutate_while_iterating) {
  for (const death_timing when : {death_timing::reported, death_timing::inside}) {
    owners items = ustrs(ascii_letters);
    set_t s = weak_set_of(items);
    std::shared_ptr<ustr> u; // CPython's u: alive until the next context
    {
      const mutate_context ctx(s, items, when);
      u = ctx.u();
      BOOST_TEST(!s.contains(*u));
      check_size(s, items.size(), "in", when);
    }
    {
      const mutate_context ctx(s, items, when);
      u = ctx.u();
      BOOST_CHECK_THROW(s.remove(*u), wr::key_error);
      check_size(s, items.size(), "remove", when);
    }
    BOOST_TEST(!s.contains(*u));
    {
      const mutate_context ctx(s, items, when);
      u = ctx.u();
      s.add(u);
      check_size(s, items.size() + 1, "add", when);
    }
    BOOST_TEST(s.contains(*u));
    const set_t t = s.copy();
    {
      const mutate_context ctx(s, items, when);
      s.update(t);
      check_size(s, items.size() + 1, "update", when);
    }
    BOOST_TEST(s.size() == t.size());
    {
      const mutate_context ctx(s, items, when);
      s.clear();
      BOOST_TEST(s.size() == 0u);
    }
    BOOST_TEST(s.size() == 0u);
  }
}

// test_len_cycles (no cycle needed): an iterator keeps exactly its element alive
// Checks [weakref.containers.general]/5 and /7.
BOOST_AUTO_TEST_CASE(PY_IMPL_12_cpython_len_cycles) {
  owners items = ustrs("abcdefghijklmnopqrst");
  set_t s = weak_set_of(items);
  std::optional<set_t::iterator> it(s.begin());
  items.clear();
  BOOST_TEST(s.size() == 1u); // CPython: 0 or 1
  it.reset();
  BOOST_TEST(s.size() == 0u);
}

// test_len_race: the items die on another thread while the owner iterates and measures
// Checks [weakref.containers.general]/4 and /7.
BOOST_AUTO_TEST_CASE(PY_IMPL_12_cpython_len_race) {
  for (int round = 1; round < 100; ++round) {
    owners items = ustrs("abcdefghijklmnopqrst");
    const set_t s = weak_set_of(items);
    const std::size_t n = items.size();
    std::thread killer([doomed = std::move(items)]() mutable { doomed.clear(); });
    std::size_t n1 = 0;
    {
      [[maybe_unused]] const auto it = s.begin(); // may hold an item alive
      n1 = s.size();
    }
    const std::size_t n2 = s.size();
    killer.join();
    BOOST_TEST(n1 <= n);
    BOOST_TEST(n2 <= n1);
    BOOST_TEST(s.size() == 0u);
  }
}

#if defined(__cpp_lib_format)
// test_repr: formatted as a set of its live elements
// Checks [weakref.format]/5.
BOOST_AUTO_TEST_CASE(PY_IMPL_20_cpython_repr) {
  const auto five = wr::make_shared<int>(5);
  wr::weak_set<int> s{five};
  BOOST_TEST(std::format("{}", s) == "{5}");
  BOOST_TEST(std::format("{}", wr::weak_set<int>()) == "{}");
}
#endif

// test_abc: a Set and a MutableSet; here a forward range with the unordered-set members
// Checks [weakref.containers.general]/1; [weakref.set]/4.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_abc) {
  static_assert(std::ranges::forward_range<set_t>);
  static_assert(requires(set_t& s, const ustr& x, std::shared_ptr<ustr> p) {
    s.insert(p);
    s.erase(x);
    { s.contains(x) } -> std::same_as<bool>;
    { s.count(x) } -> std::same_as<std::size_t>;
    s.find(x);
    s.size();
  });
  const fixture f;
  BOOST_TEST(f.s.count(ustr("a")) == 1u);
}

namespace {
// CPython's WeakSetWithSlots and its attributes: a class derived from weak_set with members of
// its own; x is shared by copies (a shared_ptr), z copied with them (a value).
struct annotated_set : set_t {
  std::shared_ptr<std::vector<std::string>> x;
  std::vector<std::string> z;
};
} // namespace

// test_copying: copy.copy shares the attributes, copy.deepcopy copies them; in C++ a copy
// copies each member as its type does, and the elements are the same objects in both (__slots__
// and the missing attribute y have no C++ counterpart)
// Checks [weakref.set.cons]/1; [weakref.set.cmp]/5.
BOOST_AUTO_TEST_CASE(PY_WS_2_cpython_copying) {
  const fixture f;
  annotated_set s;
  s.update(f.items);
  s.x = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"x"});
  s.z = {"z"};
  const annotated_set dup = s;
  BOOST_TEST((dup == s));
  BOOST_TEST(&dup != &s);
  BOOST_TEST(dup.x == s.x);                            // shared (CPython's copy)
  BOOST_TEST((dup.z == s.z));                          // equal,
  BOOST_TEST(&dup.z != &s.z);                          // but a copy (CPython's deepcopy)
  for (const auto& e : dup) BOOST_TEST(s.contains(e)); // the same objects
}

// Not a CPython test: SF bug 742860 (test_weak_keyed_cascading_deletes) for a weak_set, whose
// == releases the last owner of another element during erasures
// Checks [weakref.containers.general]/14; [weakref.set.modifiers]/6.
BOOST_AUTO_TEST_CASE(PY_IMPL_22_cascading_deletes_in_a_weak_set) {
  struct releasing_equal {
    std::function<void()>* side_effect;
    bool operator()(const ustr& a, const ustr& b) const {
      if (*side_effect) (*side_effect)();
      return a == b;
    }
  };
  std::function<void()> side_effect;
  wr::weak_set<ustr, ustr_hash, releasing_equal> s(0, ustr_hash(), releasing_equal{&side_effect});
  owners made = ustrs("abcd");
  s.update(made);
  owners objs;
  for (const auto& e : s) objs.push_back(e);
  made.clear();
  std::ranges::reverse(objs);
  side_effect = [&] { objs.pop_back(); };
  int count = 0;
  for (std::size_t i = 0; i < objs.size(); ++i) {
    ++count;
    BOOST_TEST(s.erase(*objs[i]) == 1u);
  }
  side_effect = nullptr;
  BOOST_TEST(s.size() == 0u);
  BOOST_TEST(walked(s) == 0u);
  BOOST_TEST(count == 2);
}

BOOST_AUTO_TEST_SUITE_END()
