// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <memory_resource>
#include <new>
#include <numeric>
#include <ranges>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/transform.hpp>

#include "../conformance/handoff.hpp"
#include "../conformance/support.hpp"
#include "support.hpp"
import weakref;

using weakref::weak_set;
using weakref_test::allocation_stats;
using weakref_test::counting_allocator;
using weakref_test::looks_up_by;
using weakref_test::opaque;
using weakref_test::tracked;
using weakref_test::transparent_string_hash;

namespace {

// tracked has == but no std::hash (weakref.ref tests rely on that): hash it here.
struct tracked_hash {
  std::size_t operator()(const tracked& t) const noexcept { return std::hash<int>{}(t.value); }
};

using set_t = weak_set<int>;
using tracked_set = weak_set<tracked, tracked_hash>;
using identity_set =
    weak_set<opaque, weakref::identity_hash<opaque>, weakref::identity_equal<opaque>>;

std::shared_ptr<int> num(int v) { return weakref::make_shared<int>(v); }
std::shared_ptr<tracked> obj(int v) { return weakref::make_shared<tracked>(v); }

int value_of(int x) { return x; }

// The live elements' values, sorted (iteration order is unspecified, as Python's).
template <class S>
std::vector<int> values(const S& s) {
  std::vector<int> v;
  for (const auto& p : s) v.push_back(value_of(*p));
  std::ranges::sort(v);
  return v;
}
using ints = std::vector<int>;

using weakref_test::mod_equal;
using weakref_test::mod_hash;
using weakref_test::walked;
using mod_set = weak_set<int, mod_hash, mod_equal>;

// An allocator that can refuse arrays (the bucket arrays; entries are allocated one by one).
struct fail_switch {
  bool fail_arrays = false;
  std::size_t live = 0;
};
template <class U>
struct failing_allocator {
  using value_type = U;
  fail_switch* sw;
  explicit failing_allocator(fail_switch* s) noexcept : sw(s) {}
  template <class V>
  failing_allocator(const failing_allocator<V>& o) noexcept : sw(o.sw) {}
  U* allocate(std::size_t n) {
    if (sw->fail_arrays && n > 1) throw std::bad_alloc();
    ++sw->live;
    return std::allocator<U>().allocate(n);
  }
  void deallocate(U* p, std::size_t n) noexcept {
    --sw->live;
    std::allocator<U>().deallocate(p, n);
  }
  template <class V>
  friend bool operator==(const failing_allocator& a, const failing_allocator<V>& b) noexcept {
    return a.sw == b.sw;
  }
};

using names_t = weak_set<std::string, transparent_string_hash, std::equal_to<>>;

// An object that leaves the set it subscribed to from one of its own members, where it has
// `this` and no owner (the identity policy's address lookup, [weakref.containers.identity]/4).
struct subscriber;
using subscribers_t =
    weak_set<subscriber, weakref::identity_hash<subscriber>, weakref::identity_equal<subscriber>>;
struct subscriber {
  subscribers_t* subscribers = nullptr;
  bool subscribed() const { return subscribers->contains(this); }
  void unsubscribe() { subscribers->remove(this); }
};

} // namespace

// [weakref.set] Range-compatible ([weakref.containers.general]): a forward range of
// shared_ptr<T> values, not a sized range (size() is not exact while an element is dying).
static_assert(std::ranges::forward_range<set_t>);
static_assert(std::ranges::forward_range<const set_t>);
static_assert(std::forward_iterator<set_t::iterator>);
static_assert(std::same_as<std::ranges::range_value_t<set_t>, std::shared_ptr<int>>);
static_assert(std::same_as<std::ranges::range_reference_t<set_t>, std::shared_ptr<int>>);
static_assert(!std::ranges::sized_range<set_t>);
static_assert(std::ranges::forward_range<identity_set>);
static_assert(std::same_as<weakref::pmr::weak_set<int>::allocator_type,
                           std::pmr::polymorphic_allocator<std::shared_ptr<int>>>);

// [weakref.containers.lookup] The element, its owner, and other types only where Hash and
// KeyEqual are transparent.
static_assert(looks_up_by<set_t, int> && looks_up_by<set_t, std::shared_ptr<int>>);
static_assert(looks_up_by<names_t, std::string_view>);
static_assert(!looks_up_by<weak_set<std::string>, std::string_view>);
static_assert(looks_up_by<identity_set, const opaque*> && !looks_up_by<set_t, const int*>);

BOOST_AUTO_TEST_SUITE(set)

BOOST_AUTO_TEST_SUITE(python)

// PY-WS-1 "An element will be discarded when no strong reference to it exists any more."
// Checks [weakref.set]/1; [weakref.containers.general]/5 and /7.
BOOST_AUTO_TEST_CASE(element_discarded_when_referent_dies) {
  set_t s;
  auto a = num(1), b = num(2);
  s.add(a);
  s.add(b);
  BOOST_TEST(s.size() == 2u);
  a.reset();
  BOOST_TEST(s.size() == 1u);
  BOOST_TEST(!s.contains(1));
  BOOST_TEST(s.contains(2));
  BOOST_TEST(values(s) == (ints{2}), boost::test_tools::per_element());
  BOOST_TEST(walked(s) == 1u);
}

// PY-WS-1 "keeps weak references", PY-INTRO-1: the set does not keep its elements alive; its
// reference is registered with the element (counted by weak_ref_count, as Python's).
// Checks [weakref.set]/1; [weakref.containers.general]/3.
BOOST_AUTO_TEST_CASE(set_does_not_keep_elements_alive) {
  tracked_set s;
  auto a = obj(1);
  s.add(a);
  BOOST_TEST(a.use_count() == 1);
  BOOST_TEST(weakref::weak_ref_count(a) == 1u);
  a.reset();
  BOOST_TEST(tracked::alive == 0);
  BOOST_TEST(s.empty());
}

// Python matches elements by == and hash: a distinct but equal object is "in" the set, and
// adding it keeps the first object (as Python's set).
// Checks [weakref.set.modifiers]/1-2; [weakref.set.lookup]/1; [weakref.set.python]/2.
BOOST_AUTO_TEST_CASE(equal_objects_match) {
  set_t s;
  auto a = num(5), b = num(5);
  s.add(a);
  BOOST_TEST(s.contains(b));
  BOOST_TEST(s.contains(5));
  BOOST_TEST(s.count(*b) == 1u);
  {
    auto [it, inserted] = s.insert(b);
    BOOST_TEST(!inserted);
    BOOST_TEST(*it == a); // the element already there stays
  }
  BOOST_TEST(s.size() == 1u);
  s.discard(b); // removes the matching element, a
  BOOST_TEST(s.empty());
  BOOST_TEST(a.use_count() == 1);
}

// [weakref.containers.identity] The identity policy: a distinct equal object is not contained;
// types with neither == nor std::hash work.
// Checks [weakref.containers.identity]/1; [weakref.set.python]/1 and /3.
BOOST_AUTO_TEST_CASE(identity_policy) {
  weak_set<int, weakref::identity_hash<int>, weakref::identity_equal<int>> s;
  auto a = num(5), b = num(5);
  s.add(a);
  BOOST_TEST(s.contains(a));
  BOOST_TEST(!s.contains(b));
  BOOST_TEST(!s.contains(5));
  s.add(b);
  BOOST_TEST(s.size() == 2u);

  identity_set o;
  auto x = weakref::make_shared<opaque>(), y = weakref::make_shared<opaque>();
  o.add(x);
  o.add(y);
  o.add(x);
  BOOST_TEST(o.size() == 2u);
  BOOST_TEST(o.contains(*x));
  BOOST_TEST(!o.contains(opaque{}));
  x.reset();
  BOOST_TEST(o.size() == 1u);
  BOOST_TEST(*o.begin() == y);
  o.remove(y);
  BOOST_TEST(o.empty());
}

// Python: add, discard, remove (KeyError), pop (KeyError when empty), clear.
// Checks [weakref.set.python]/1-4 and /6-8; [weakref.containers.general]/21; [weakref.error.key]/1.
BOOST_AUTO_TEST_CASE(add_discard_remove_pop_clear) {
  set_t s;
  auto a = num(1), b = num(2), c = num(3);
  s.add(a);
  s.add(b);
  s.add(c);
  s.add(a); // already there
  BOOST_TEST(s.size() == 3u);
  s.discard(2);
  s.discard(2); // absent: no error
  s.discard(std::shared_ptr<int>());
  BOOST_TEST(values(s) == (ints{1, 3}), boost::test_tools::per_element());
  s.remove(*c);
  BOOST_CHECK_THROW(s.remove(3), weakref::key_error);
  BOOST_CHECK_THROW(s.remove(c), weakref::key_error);
  BOOST_CHECK_THROW(s.remove(std::shared_ptr<int>()), weakref::key_error);
  BOOST_TEST(s.pop() == a);
  BOOST_TEST(s.empty());
  BOOST_CHECK_THROW(s.pop(), weakref::key_error);
  // pop never returns a dead element: the only remaining one is dead.
  s.add(b);
  s.add(c);
  b.reset();
  BOOST_TEST(s.pop() == c);
  BOOST_CHECK_THROW(s.pop(), weakref::key_error);
  s.add(a);
  s.add(c);
  s.clear();
  BOOST_TEST(s.empty());
  BOOST_TEST(a.use_count() == 1);
}

// Python: len, `in`, iteration, copy (new weak references to the same elements), update.
// Checks [weakref.set.python]/10-11; [weakref.set.lookup]/1; [weakref.set.cons]/1.
BOOST_AUTO_TEST_CASE(len_contains_iteration_copy_update) {
  set_t s;
  auto a = num(1), b = num(2), c = num(3);
  s.update(std::vector<std::shared_ptr<int>>{a, b, a});
  BOOST_TEST(s.size() == 2u);
  BOOST_TEST(s.contains(a));
  BOOST_TEST(!s.contains(c));
  BOOST_TEST(!s.contains(std::shared_ptr<int>()));
  BOOST_TEST(std::vector<std::shared_ptr<int>>(s.begin(), s.end()).size() == 2u);
  set_t copy = s.copy();
  BOOST_TEST((copy == s));
  BOOST_TEST(weakref::weak_ref_count(a) == 2u); // one reference per set
  s.update({c});
  BOOST_TEST(values(s) == (ints{1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(values(copy) == (ints{1, 2}), boost::test_tools::per_element());
  b.reset(); // both sets drop it
  BOOST_TEST(values(s) == (ints{1, 3}), boost::test_tools::per_element());
  BOOST_TEST(values(copy) == (ints{1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(algebra)

namespace {
struct fixture {
  std::shared_ptr<int> e1 = num(1), e2 = num(2), e3 = num(3), e4 = num(4);
  set_t s{e1, e2, e3}; // {1, 2, 3}
  set_t t{e3, e4};     // {3, 4}
};
} // namespace

// [weakref.set.algebra] Python: union/|, intersection/&, difference/-, symmetric_difference/^.
// Checks [weakref.set.algebra]/2-5 and /10.
BOOST_FIXTURE_TEST_CASE(binary_operations, fixture) {
  BOOST_TEST(values(s | t) == (ints{1, 2, 3, 4}), boost::test_tools::per_element());
  BOOST_TEST(values(t | s) == (ints{1, 2, 3, 4}), boost::test_tools::per_element());
  BOOST_TEST(values(s.intersection(t)) == (ints{3}), boost::test_tools::per_element());
  BOOST_TEST(values(s & t) == (ints{3}), boost::test_tools::per_element());
  BOOST_TEST(values(s.difference(t)) == (ints{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(values(s - t) == (ints{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(values(t - s) == (ints{4}), boost::test_tools::per_element());
  BOOST_TEST(values(s.symmetric_difference(t)) == (ints{1, 2, 4}),
             boost::test_tools::per_element());
  BOOST_TEST(values(s ^ t) == (ints{1, 2, 4}), boost::test_tools::per_element());
  // The operands are unchanged.
  BOOST_TEST(values(s) == (ints{1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(values(t) == (ints{3, 4}), boost::test_tools::per_element());
  // With itself (Python: s - s and s ^ s are empty).
  BOOST_TEST(((s | s) == s));
  BOOST_TEST(((s & s) == s));
  BOOST_TEST((s - s).empty());
  BOOST_TEST((s ^ s).empty());
}

// [weakref.set.algebra] The in-place forms: |= (update), &= (intersection_update),
// -= (difference_update), ^= (symmetric_difference_update).
// Checks [weakref.set.algebra]/1, /8 and /10.
BOOST_FIXTURE_TEST_CASE(in_place_operations, fixture) {
  set_t u = s;
  u |= t;
  BOOST_TEST(values(u) == (ints{1, 2, 3, 4}), boost::test_tools::per_element());
  u = s;
  u &= t;
  BOOST_TEST(values(u) == (ints{3}), boost::test_tools::per_element());
  u = s;
  u -= t;
  BOOST_TEST(values(u) == (ints{1, 2}), boost::test_tools::per_element());
  u = s;
  u ^= t;
  BOOST_TEST(values(u) == (ints{1, 2, 4}), boost::test_tools::per_element());
  u = s;
  u.intersection_update(t);
  BOOST_TEST(values(u) == (ints{3}), boost::test_tools::per_element());
  u = s;
  u.difference_update(t);
  BOOST_TEST(values(u) == (ints{1, 2}), boost::test_tools::per_element());
  u = s;
  u.symmetric_difference_update(t);
  BOOST_TEST(values(u) == (ints{1, 2, 4}), boost::test_tools::per_element());
  // The other operand may be the set itself (Python: s -= s and s ^= s clear it).
  u = s;
  u |= u;
  u &= u;
  BOOST_TEST(values(u) == (ints{1, 2, 3}), boost::test_tools::per_element());
  u -= u;
  BOOST_TEST(u.empty());
  u = s;
  u ^= u;
  BOOST_TEST(u.empty());
  u = s;
  u.difference_update(u);
  BOOST_TEST(u.empty());
}

// [weakref.set.cmp] Python: issubset (<=), issuperset (>=), ==, isdisjoint; a proper subset is
// issubset && !=. Checks [weakref.set.cmp]/2-5.
BOOST_FIXTURE_TEST_CASE(comparisons, fixture) {
  set_t sub{e1, e2};
  BOOST_TEST(sub.issubset(s));
  BOOST_TEST((sub.issubset(s) && sub != s)); // Python: sub < s
  BOOST_TEST(s.issubset(s));
  BOOST_TEST(!(s.issubset(s) && s != s)); // Python: not s < s
  BOOST_TEST(s.issuperset(sub));
  BOOST_TEST(s.issuperset(s));
  BOOST_TEST(!sub.issuperset(s));
  BOOST_TEST(!s.issubset(t));
  BOOST_TEST(!s.issuperset(t));
  BOOST_TEST(!(s == t));
  BOOST_TEST((s != t));
  BOOST_TEST(!s.isdisjoint(t));
  BOOST_TEST(sub.isdisjoint(t));
  BOOST_TEST(set_t().isdisjoint(s));
  BOOST_TEST(set_t().issubset(s));
  BOOST_TEST((set_t() == set_t()));
  // Equality is by element equality, not identity (Python: ref equality = referent equality).
  auto other3 = num(3), other4 = num(4);
  set_t t2{other3, other4};
  BOOST_TEST((t == t2));
  BOOST_TEST(t.issubset(t2));
  BOOST_TEST(t.issuperset(t2));
  // Dead elements take no part: after e1 dies, s matches {2, 3} and sub matches {2}.
  e1.reset();
  BOOST_TEST((s == set_t{e2, e3}));
  BOOST_TEST(sub.issubset(set_t{e2}));
}

// Python's <=, >=, < and > on sets test inclusion, a partial order; C++'s < must be a strict
// weak order (std::less, std::set, std::sort), so weak_set has no relational operators and
// does not satisfy totally_ordered; == and != remain. Checks [weakref.set.cmp]/6.
BOOST_AUTO_TEST_CASE(no_relational_operators) {
  // The probes are concepts (conformance/support.hpp): a missing operator makes them false.
  BOOST_TEST(!conformance::has_less<set_t>);
  BOOST_TEST(!conformance::has_less_equal<set_t>);
  BOOST_TEST(!conformance::has_greater<set_t>);
  BOOST_TEST(!conformance::has_greater_equal<set_t>);
  BOOST_TEST(!conformance::has_three_way<set_t>);
  BOOST_TEST(!std::totally_ordered<set_t>);
  BOOST_TEST(std::equality_comparable<set_t>);
  const std::shared_ptr<int> e = num(1);
  const set_t a{e}, b{e};
  BOOST_TEST(!(a != b)); // != is !(a == b)
  BOOST_TEST((a != set_t{}));
}

// Python's set algebra takes any iterable: here any range of shared_ptr<T>. Duplicates count
// once (Python builds a set of the iterable for ^=); empty shared_ptrs are ignored except where
// they would be inserted (type_error, as Python's TypeError for ref(None)).
// Checks [weakref.set.algebra]/1-6 and /9-10; [weakref.set.cmp]/2-4.
BOOST_FIXTURE_TEST_CASE(other_operand_is_any_range, fixture) {
  const std::vector<std::shared_ptr<int>> v{e3, e4, e4};
  BOOST_TEST(values(s | v) == (ints{1, 2, 3, 4}), boost::test_tools::per_element());
  BOOST_TEST(values(s & v) == (ints{3}), boost::test_tools::per_element());
  BOOST_TEST(values(s - v) == (ints{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(values(s ^ v) == (ints{1, 2, 4}), boost::test_tools::per_element());
  BOOST_TEST(values(s.intersection(v)) == (ints{3}), boost::test_tools::per_element());
  BOOST_TEST(values(s.difference(v)) == (ints{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(values(s.symmetric_difference(v)) == (ints{1, 2, 4}),
             boost::test_tools::per_element());
  BOOST_TEST(t.issubset(v));
  BOOST_TEST(t.issuperset(v));
  BOOST_TEST(!s.issubset(v));
  BOOST_TEST(s.issuperset(std::vector<std::shared_ptr<int>>{e1, e1, e2}));
  BOOST_TEST(s.isdisjoint(std::vector<std::shared_ptr<int>>{e4}));
  const std::vector<std::shared_ptr<int>> with_empty{e3, nullptr};
  BOOST_TEST(values(s.intersection(with_empty)) == (ints{3}), boost::test_tools::per_element());
  BOOST_TEST(values(s.difference(with_empty)) == (ints{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(set_t{e3}.issuperset(with_empty));
  BOOST_TEST(set_t{e3}.issubset(with_empty));
  BOOST_CHECK_THROW((void)(s | with_empty), weakref::type_error);
  BOOST_CHECK_THROW((void)s.symmetric_difference(with_empty), weakref::type_error);
  set_t u = s;
  BOOST_CHECK_THROW(u.symmetric_difference_update(with_empty), weakref::type_error);
  BOOST_TEST((u == s)); // checked before anything changed
  // A view works as well (Python: a generator).
  BOOST_TEST(
      values(s.intersection(t | std::views::filter([](const auto& p) { return *p > 3; }))).empty());
}

// Results carry the left operand's hash, key_eq and allocator; when the operands hold distinct
// equal objects, results and in-place forms keep the left operand's object.
// Checks [weakref.set.algebra]/1.
BOOST_AUTO_TEST_CASE(results_keep_the_left_operands_objects) {
  auto a = num(7), b = num(7);
  set_t s{a}, t{b};
  BOOST_TEST(*(s | t).begin() == a);
  BOOST_TEST(*(t | s).begin() == b);
  BOOST_TEST(*(s & t).begin() == a);
  BOOST_TEST(*(t & s).begin() == b);
  set_t u = s;
  u &= t;
  BOOST_TEST(*u.begin() == a);
  u |= t;
  BOOST_TEST(*u.begin() == a);
}

// Membership across sets is decided by the left operand's Hash and KeyEqual.
// Checks [weakref.set.algebra]/1; [weakref.set.cmp]/1.
BOOST_AUTO_TEST_CASE(left_operands_policy_decides) {
  auto three = num(3), thirteen = num(13);
  mod_set by_ten(0, mod_hash{10}, mod_equal{10});
  mod_set exact(0, mod_hash{1000}, mod_equal{1000});
  by_ten.add(three);
  exact.add(thirteen);
  BOOST_TEST(by_ten.contains(13)); // 13 ≡ 3 (mod 10)
  BOOST_TEST(!exact.contains(3));
  BOOST_TEST((by_ten & exact).size() == 1u);
  BOOST_TEST((exact & by_ten).empty());
  BOOST_TEST((by_ten == exact));
  BOOST_TEST(!(exact == by_ten));
  BOOST_TEST(by_ten.issubset(exact));
  BOOST_TEST(!exact.issubset(by_ten));
  BOOST_TEST(!by_ten.isdisjoint(exact));
  BOOST_TEST(exact.isdisjoint(by_ten));
  BOOST_TEST((by_ten - exact).empty());
  BOOST_TEST((by_ten | exact).size() == 1u);
  BOOST_TEST((exact | by_ten).size() == 2u);
  BOOST_TEST((by_ten | exact).hash_function().m == 10);
  BOOST_TEST((exact ^ by_ten).key_eq().m == 1000);
}

// [weakref.set.algebra] The algebra sees live elements only, and its results are weak sets:
// they drop their elements when those die.
// Checks [weakref.set.algebra]/1; [weakref.set.cmp]/1.
BOOST_FIXTURE_TEST_CASE(dead_elements_take_no_part, fixture) {
  e2.reset(); // s = {1, 3}
  e4.reset(); // t = {3}
  BOOST_TEST(values(s | t) == (ints{1, 3}), boost::test_tools::per_element());
  BOOST_TEST(values(s & t) == (ints{3}), boost::test_tools::per_element());
  BOOST_TEST(values(s - t) == (ints{1}), boost::test_tools::per_element());
  BOOST_TEST(values(s ^ t) == (ints{1}), boost::test_tools::per_element());
  BOOST_TEST((t.issubset(s) && t != s));
  BOOST_TEST(s.issuperset(t));
  set_t expected{e1, e3};
  BOOST_TEST((s == expected)); // the dead 2 is not compared
  set_t u = s | t;
  set_t i = s & t;
  BOOST_TEST(u.size() == 2u);
  e3.reset();
  BOOST_TEST(values(u) == (ints{1}), boost::test_tools::per_element());
  BOOST_TEST(i.empty());
  BOOST_TEST(s.isdisjoint(t));
  BOOST_TEST(t.issubset(s));
  BOOST_TEST(t.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(death)

// bpo-28427 (brief, semantics 11): an element's death reported after an equal element was
// added (while the first was dying) removes only its own entry, never the newer one.
BOOST_AUTO_TEST_CASE(stale_death_keeps_newer_equal_element) {
  set_t s;
  auto older = num(9), newer = num(9);
  s.add(older);
  // This ref's callback runs before the set's (newest first, PY-REF-2): the old element is
  // already dead to lookups, its entry not yet reported.
  weakref::weak_ref<int> probe(older, [&](weakref::weak_ref<int>) {
    BOOST_TEST(!s.contains(9));
    // [weakref.containers.general]/7: while an element is dying its entry may not be reported
    // yet, so size() still counts it though no walk sees it (why weak_set is no sized_range).
    BOOST_TEST(s.size() == 1u);
    BOOST_TEST(walked(std::as_const(s)) == 0u);
    s.add(newer);
  });
  older.reset();
  BOOST_TEST(s.size() == 1u);
  BOOST_TEST(*s.find(9) == newer);
  s.purge();
  BOOST_TEST(s.size() == 1u);
  BOOST_TEST(walked(s) == 1u);
  BOOST_TEST(*s.begin() == newer);
}

// A set may be destroyed while an element is dying, and an element may die while the set is
// being cleared: nothing is left behind.
// Checks [weakref.containers.general]/4 and /16.
BOOST_AUTO_TEST_CASE(element_dies_in_a_callback_that_clears_the_set) {
  auto s = std::make_unique<tracked_set>();
  auto a = obj(1), b = obj(2);
  s->add(a);
  s->add(b);
  weakref::weak_ref<tracked> probe(a, [&](weakref::weak_ref<tracked>) { s.reset(); });
  a.reset();
  BOOST_TEST(!s);
  b.reset();
  BOOST_TEST(tracked::alive == 0);
}

// [weakref.containers.identity] With the identity policy a new object may live at a dead
// element's address (and so have its hash) before the death is purged: it is a new element,
// and the stale death removes only the old entry.
// Checks [weakref.containers.identity]/1; [weakref.containers.general]/5.
BOOST_AUTO_TEST_CASE(identity_policy_and_address_reuse) {
  identity_set s;
  auto x = weakref::make_shared<opaque>();
  s.add(x);
  x.reset();                               // not purged yet
  auto y = weakref::make_shared<opaque>(); // typically at x's address
  BOOST_TEST(!s.contains(*y));
  s.add(y);
  BOOST_TEST(s.contains(*y));
  BOOST_TEST(s.size() == 1u);
  s.purge();
  BOOST_TEST(s.size() == 1u);
  BOOST_TEST(*s.begin() == y);
}

// [weakref.set]/3, brief semantics 10: a set destroyed on one thread while its elements die
// on another; nothing is touched after it is freed (run under ASan) and nothing leaks.
BOOST_AUTO_TEST_CASE(set_destroyed_while_elements_die_on_another_thread) {
  for (int round = 0; round < 200; ++round) {
    std::vector<std::shared_ptr<tracked>> owners;
    auto s = std::make_unique<tracked_set>();
    for (int i = 0; i < 64; ++i) {
      owners.push_back(obj(i));
      s->add(owners.back());
    }
    std::atomic<bool> go{false};
    std::thread killer([&] {
      while (!go.load()) std::this_thread::yield();
      for (auto& o : owners) o.reset();
    });
    go = true;
    if (round % 2) (void)s->size();
    s.reset();
    killer.join();
  }
  BOOST_TEST(tracked::alive == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(iteration)

// [weakref.containers.general]/5 (Python's caution that entries vanish "by magic"): a death in
// the loop body never invalidates the iteration, never yields a dead element, and never skips
// a live one; the visited element is pinned by the iterator.
BOOST_AUTO_TEST_CASE(deaths_during_iteration_are_safe) {
  tracked_set s;
  constexpr int n = 100;
  std::vector<std::shared_ptr<tracked>> owners;
  for (int i = 0; i < n; ++i) {
    owners.push_back(obj(i));
    s.add(owners.back());
  }
  std::set<int> seen, killed_unvisited;
  for (auto it = s.begin(); it != s.end(); ++it) {
    const int v = (*it)->value;
    BOOST_TEST(static_cast<bool>(owners[static_cast<std::size_t>(v)])); // never a dead element
    BOOST_TEST(seen.insert(v).second);                                  // never twice
    owners[static_cast<std::size_t>(v)].reset();
    // Still alive: the iterator pins it (and only it: no copy was kept).
    BOOST_TEST(tracked::alive == static_cast<int>(std::ranges::count_if(
                                     owners, [](const auto& p) { return p != nullptr; })) +
                                     1);
    BOOST_TEST((*it)->value == v);
    // Kill two elements not visited yet.
    int killed = 0;
    for (int k = 0; k < n && killed < 2; ++k) {
      auto& owner = owners[static_cast<std::size_t>(k)];
      if (owner && !seen.contains(k)) {
        owner.reset();
        killed_unvisited.insert(k);
        ++killed;
      }
    }
  }
  // Every element was either visited (alive when reached) or killed before its visit.
  for (int k = 0; k < n; ++k) BOOST_TEST(seen.contains(k) + killed_unvisited.contains(k) == 1);
  BOOST_TEST(s.size() == 0u);
  BOOST_TEST(s.empty());
  BOOST_TEST(tracked::alive == 0);
}

// The element being visited stays alive while the iterator points at it.
// Checks [weakref.containers.general]/5; [weakref.set.iter]/2.
BOOST_AUTO_TEST_CASE(iterator_pins_the_current_element) {
  tracked_set s;
  auto v = obj(1);
  s.add(v);
  auto it = s.begin();
  v.reset();
  BOOST_TEST(tracked::alive == 1);
  BOOST_TEST((*it)->value == 1);
  BOOST_TEST(s.size() == 1u);
  it = s.end();
  BOOST_TEST(tracked::alive == 0);
  BOOST_TEST(s.empty());
}

// [weakref.containers.general]/7: size() counts the elements whose death has not been
// reported, exact after each death (no death in progress); purging happens on the next
// non-const operation.
BOOST_AUTO_TEST_CASE(size_is_exact_after_each_death) {
  set_t s;
  std::vector<std::shared_ptr<int>> owners;
  for (int i = 0; i < 10; ++i) {
    owners.push_back(num(i));
    s.add(owners.back());
  }
  for (int i = 0; i < 10; ++i) {
    owners[static_cast<std::size_t>(i)].reset();
    BOOST_TEST(s.size() == static_cast<std::size_t>(9 - i));
    BOOST_TEST(walked(std::as_const(s)) == s.size());
    if (i % 3 == 0) s.purge();
    BOOST_TEST(s.size() == static_cast<std::size_t>(9 - i));
  }
  BOOST_TEST(s.empty());
}

// [weakref.set]/3, brief semantics 10: elements die on another thread while the owner looks
// up, iterates and purges; no dead element is observed and nothing is left behind. The owner's
// passes that overlapped a death on the killer's thread are counted against a floor: the death
// of every 8th element waits, inside it (a callback of a reference made after the set's entry,
// so it runs first: newest first), until the owner has finished a pass.
BOOST_AUTO_TEST_CASE(elements_die_on_another_thread) {
  constexpr int n = 2000;
  constexpr long overlap_floor = 100;
  tracked_set s;
  conformance::death_watch watch(overlap_floor);
  std::vector<std::shared_ptr<tracked>> owners;
  std::vector<weakref::weak_ref<tracked>> holds;
  for (int i = 0; i < n; ++i) {
    owners.push_back(obj(i));
    s.add(owners.back());
    if (i % 8 == 0)
      holds.emplace_back(owners.back(), [&watch](weakref::weak_ref<tracked>) { watch.hold(); });
  }
  std::atomic<bool> go{false};
  std::thread killer([&] {
    while (!go.load()) std::this_thread::yield();
    for (auto& o : owners) watch.dying([&] { o.reset(); });
  });
  go = true;
  std::size_t bad = 0;
  long passes = 0;
  while (!s.empty()) {
    const auto window = watch.begin();
    for (const auto& p : s)
      if (p->value < 0 || p->value >= n) ++bad;
    (void)s.contains(tracked(n / 2));
    s.purge();
    watch.overlapped(window);
    ++passes;
  }
  watch.finish();
  killer.join();
  BOOST_TEST_MESSAGE("set under concurrent death: " << passes << " passes, " << watch.overlapping()
                                                    << " overlapped a death");
  BOOST_TEST(bad == 0u);
  BOOST_TEST(watch.overlapping() >= overlap_floor);
  BOOST_TEST(walked(s) == 0u);
  BOOST_TEST(tracked::alive == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cpp_api)

// [weakref.set.lookup] find/contains/count/equal_range by object or shared_ptr; an empty
// shared_ptr is never contained.
// Checks [weakref.set.lookup]/1-2; [weakref.containers.lookup]/2.
BOOST_AUTO_TEST_CASE(lookups) {
  set_t s;
  auto a = num(1), b = num(2);
  s.insert(a);
  BOOST_TEST(*s.find(1) == a);
  BOOST_TEST(*s.find(a) == a);
  BOOST_TEST(*std::as_const(s).find(num(1)) == a);
  BOOST_TEST((s.find(2) == s.end()));
  BOOST_TEST((s.find(std::shared_ptr<int>()) == s.end()));
  BOOST_TEST(s.contains(1));
  BOOST_TEST(!s.contains(b));
  BOOST_TEST(s.count(a) == 1u);
  BOOST_TEST(s.count(2) == 0u);
  BOOST_TEST(s.count(std::shared_ptr<int>()) == 0u);
  auto [first, last] = s.equal_range(1);
  BOOST_TEST(std::ranges::distance(first, last) == 1);
  auto [none, none_end] = s.equal_range(std::shared_ptr<int>());
  BOOST_TEST((none == none_end));
}

// [weakref.containers.lookup]/3 With a transparent Hash and KeyEqual, the lookups, erase,
// discard and remove take what they take: here std::string_view, from which no std::string is
// made.
BOOST_AUTO_TEST_CASE(transparent_policy_looks_up_by_another_type) {
  using namespace std::string_view_literals;
  names_t s;
  auto a = weakref::make_shared<std::string>("a"), b = weakref::make_shared<std::string>("b");
  s.add(a);
  s.add(b);
  BOOST_TEST(s.contains("a"sv));
  BOOST_TEST(!s.contains("zz"sv));
  BOOST_TEST(s.count("b"sv) == 1u);
  BOOST_TEST(*s.find("a"sv) == a);
  BOOST_TEST((std::as_const(s).find("zz"sv) == s.end()));
  {
    auto [first, last] = s.equal_range("b"sv);
    BOOST_TEST(std::ranges::distance(first, last) == 1);
  }
  s.discard("zz"sv);
  s.discard("a"sv);
  BOOST_TEST(!s.contains(a));
  BOOST_CHECK_THROW(s.remove("a"sv), weakref::key_error);
  s.remove("b"sv);
  BOOST_TEST(s.empty());
  s.add(a);
  BOOST_TEST(s.erase("a"sv) == 1u);
  BOOST_TEST(s.erase("a"sv) == 0u);
  s.add(b);
  b.reset();
  BOOST_TEST(!s.contains("b"sv)); // only live elements match
}

// [weakref.containers.identity]/4 Under the identity policy an element is also found by its
// address: an object can unsubscribe itself with `this`.
// Checks [weakref.containers.identity]/5-6.
BOOST_AUTO_TEST_CASE(identity_policy_looks_up_by_address) {
  subscribers_t subscribers;
  auto x = weakref::make_shared<subscriber>(), y = weakref::make_shared<subscriber>();
  x->subscribers = y->subscribers = &subscribers;
  subscribers.add(x);
  subscribers.add(y);
  BOOST_TEST(x->subscribed());
  x->unsubscribe();
  BOOST_TEST(!x->subscribed());
  BOOST_TEST(subscribers.size() == 1u);
  BOOST_CHECK_THROW(x->unsubscribe(), weakref::key_error);
  BOOST_TEST(*subscribers.find(y.get()) == y);
  BOOST_TEST(subscribers.count(y.get()) == 1u);
  subscribers.discard(y.get());
  BOOST_TEST(subscribers.empty());
  BOOST_TEST(!subscribers.contains(static_cast<const subscriber*>(nullptr)));
}

// [weakref.set.modifiers] insert (value, hint, iterators, initializer_list, range), emplace,
// erase (iterator, range, element).
// Checks [weakref.set.modifiers]/1-2 and /5-6; [weakref.value.map.modifiers]/14 and /16-17.
BOOST_AUTO_TEST_CASE(modifiers) {
  set_t s;
  auto a = num(1), b = num(2), c = num(3), d = num(4);
  {
    auto [it, inserted] = s.insert(a);
    BOOST_TEST(inserted);
    BOOST_TEST(*it == a);
  }
  BOOST_TEST(!s.insert(a).second);
  BOOST_TEST(*s.insert(s.end(), b) == b);
  BOOST_TEST(s.emplace(c).second);
  BOOST_TEST(!s.emplace(c).second);
  BOOST_TEST(*s.emplace_hint(s.begin(), d) == d);
  BOOST_TEST(s.size() == 4u);
  s.clear();
  std::vector<std::shared_ptr<int>> v{a, b, c};
  s.insert(v.begin(), v.end());
  BOOST_TEST(s.size() == 3u);
  s.clear();
  s.insert({a, d});
  s.insert_range(v);
  v.clear();
  BOOST_TEST(values(s) == (ints{1, 2, 3, 4}), boost::test_tools::per_element());
  std::ranges::copy(std::vector<std::shared_ptr<int>>{num(5)}, std::inserter(s, s.end()));
  BOOST_TEST(s.size() == 4u); // the temporary 5 died at once
  BOOST_TEST(s.erase(1) == 1u);
  BOOST_TEST(s.erase(a) == 0u);
  BOOST_TEST(s.erase(std::shared_ptr<int>()) == 0u);
  auto next = s.erase(s.find(2));
  BOOST_TEST(values(s) == (ints{3, 4}), boost::test_tools::per_element());
  BOOST_TEST((s.erase(s.begin(), s.end()) == s.end()));
  BOOST_TEST(s.empty());
  (void)next;
  BOOST_TEST(a.use_count() == 1);
}

// PY-INTRO-5: only factory-made objects are weakly referenceable; an empty or foreign
// shared_ptr throws type_error and the set is unchanged.
// Checks [weakref.containers.general]/3; [weakref.set.modifiers]/3.
BOOST_AUTO_TEST_CASE(type_error_for_non_factory_elements) {
  set_t s{num(0)}; // dies at once
  auto a = num(1);
  s.add(a);
  BOOST_CHECK_THROW(s.add(std::make_shared<int>(2)), weakref::type_error);
  BOOST_CHECK_THROW(s.insert(std::make_shared<int>(2)), weakref::type_error);
  BOOST_CHECK_THROW(s.add(nullptr), weakref::type_error);
  BOOST_CHECK_THROW(s.insert(std::shared_ptr<int>()), weakref::type_error);
  BOOST_CHECK_THROW(s.update(std::vector<std::shared_ptr<int>>{std::make_shared<int>(3)}),
                    weakref::type_error);
  BOOST_TEST(values(s) == (ints{1}), boost::test_tools::per_element());
  BOOST_TEST(s.size() == 1u);
  // Lookups need no factory object.
  BOOST_TEST(s.contains(std::make_shared<int>(1)));
}

// [weakref.set.erasure], swap, the bucket interface, hash_function/key_eq.
// Checks [weakref.set.erasure]/1; [weakref.containers.general]/18-19 and /25;
// [weakref.containers.bucket]/2-3, /5 and /8-9.
BOOST_AUTO_TEST_CASE(erase_if_swap_and_buckets) {
  set_t s, other;
  std::vector<std::shared_ptr<int>> owners;
  for (int i = 0; i < 50; ++i) {
    owners.push_back(num(i));
    s.add(owners.back());
  }
  BOOST_TEST(erase_if(s, [](const std::shared_ptr<int>& p) { return *p % 2 == 0; }) == 25u);
  BOOST_TEST(s.size() == 25u);
  BOOST_TEST(!s.contains(10));
  owners[1].reset();
  BOOST_TEST(erase_if(s, [](const std::shared_ptr<int>& p) { return *p == 1; }) == 0u);
  BOOST_TEST(s.size() == 24u);
  s.reserve(1000);
  BOOST_TEST(s.bucket_count() * s.max_load_factor() >= 1000.0f);
  s.rehash(0);
  BOOST_TEST(s.load_factor() <= s.max_load_factor());
  s.max_load_factor(0.5f);
  BOOST_TEST(s.max_load_factor() == 0.5f);
  BOOST_TEST(s.load_factor() <= 0.5f);
  BOOST_TEST(s.max_size() > 0u);
  BOOST_TEST(s.hash_function()(3) == std::hash<int>{}(3));
  BOOST_TEST(s.key_eq()(3, 3));
  swap(s, other);
  BOOST_TEST(s.empty());
  BOOST_TEST(other.size() == 24u);
  s.swap(other);
  BOOST_TEST(s.contains(owners[3]));
}

// [weakref.set.cons] Every constructor and assignment.
// Checks [weakref.set.cons]/1; [weakref.value.map.cons]/1, /4, /8 and /12;
// [weakref.containers.bucket]/1.
BOOST_AUTO_TEST_CASE(construction_and_assignment) {
  auto a = num(1), b = num(2), c = num(3);
  const std::vector<std::shared_ptr<int>> v{a, b, c, a};
  set_t from_iters(v.begin(), v.end());
  set_t from_range(weakref::from_range, v);
  set_t from_view(weakref::from_range,
                  v | std::views::filter([](const auto& p) { return *p > 1; }));
  set_t from_list{a, b};
  set_t with_buckets(64);
  BOOST_TEST(from_iters.size() == 3u);
  BOOST_TEST((from_range == from_iters));
  BOOST_TEST(values(from_view) == (ints{2, 3}), boost::test_tools::per_element());
  BOOST_TEST(from_list.size() == 2u);
  BOOST_TEST(with_buckets.bucket_count() >= 64u);
  BOOST_TEST(with_buckets.empty());

  set_t copy(from_range);
  BOOST_TEST((copy == from_range));
  set_t copy_alloc(from_range, std::allocator<std::shared_ptr<int>>());
  BOOST_TEST((copy_alloc == from_range));
  set_t moved(std::move(copy));
  BOOST_TEST(moved.size() == 3u);
  copy.add(a); // a moved-from set is empty and usable
  BOOST_TEST(values(copy) == (ints{1}), boost::test_tools::per_element());
  set_t moved_alloc(std::move(moved), std::allocator<std::shared_ptr<int>>());
  BOOST_TEST(moved_alloc.size() == 3u);

  set_t assigned;
  assigned = from_list;
  BOOST_TEST((assigned == from_list));
  assigned = std::move(moved_alloc);
  BOOST_TEST(values(assigned) == (ints{1, 2, 3}), boost::test_tools::per_element());
  auto d = num(4);
  assigned = {d};
  BOOST_TEST(values(assigned) == (ints{4}), boost::test_tools::per_element());
  const set_t& same = assigned;
  assigned = same; // self-assignment
  BOOST_TEST(assigned.size() == 1u);
  d.reset();
  BOOST_TEST(assigned.empty());
}

// Range-compatible: std views and range-v3 pipelines over the live elements.
// Checks [weakref.containers.general]/1; [weakref.set.iter]/2.
BOOST_AUTO_TEST_CASE(ranges_and_views) {
  auto a = num(1), b = num(2), c = num(3);
  set_t s{a, b, c};
  auto big = s | ranges::views::filter([](const auto& p) { return *p > 1; }) |
             ranges::views::transform([](const auto& p) { return *p * 10; }) |
             ranges::to<std::vector<int>>();
  std::ranges::sort(big);
  BOOST_TEST(big == (ints{20, 30}), boost::test_tools::per_element());
  auto doubled = s | std::views::transform([](const auto& p) { return *p * 2; });
  BOOST_TEST(std::ranges::distance(doubled) == 3);
  b.reset();
  BOOST_TEST(std::ranges::distance(doubled) == 2); // a view sees the live elements
  BOOST_TEST(std::ranges::count_if(std::as_const(s), [](const auto& p) { return *p == 3; }) == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(allocator)

// A non-const begin() purges (the dead element's storage goes back to the allocator); the const
// begin() and cbegin() do not, and all three find the live element.
// Checks [weakref.set.iter]/1.
BOOST_AUTO_TEST_CASE(non_const_begin_purges) {
  allocation_stats stats;
  using alloc_t = counting_allocator<std::shared_ptr<int>>;
  using counted_t = weak_set<int, std::hash<int>, std::equal_to<int>, alloc_t>;
  const auto a = num(1);
  const auto purged_by = [&](auto op) {
    counted_t s{alloc_t(&stats)};
    s.add(a);
    s.add(num(2)); // dies at once: its death is reported, its element not yet purged
    const std::size_t before = stats.deallocations;
    op(s);
    return stats.deallocations > before;
  };
  BOOST_TEST(purged_by([&](counted_t& s) { BOOST_TEST((*s.begin() == a)); }));
  BOOST_TEST(!purged_by([&](counted_t& s) { BOOST_TEST((*std::as_const(s).begin() == a)); }));
  BOOST_TEST(!purged_by([&](counted_t& s) { BOOST_TEST((*s.cbegin() == a)); }));
}

// [weakref.containers.general] Allocator-aware: every allocation (entries, buckets, the
// algebra's temporaries and results) goes through the allocator, and all of it is returned.
// Checks [weakref.containers.general]/15; [weakref.set.algebra]/1; [weakref.value.map.cons]/16.
BOOST_AUTO_TEST_CASE(counting_allocator_releases_everything) {
  allocation_stats stats, other_stats;
  using alloc_t = counting_allocator<std::shared_ptr<tracked>>;
  using counted_set = weak_set<tracked, tracked_hash, std::equal_to<tracked>, alloc_t>;
  {
    counted_set s{alloc_t(&stats)};
    counted_set t(0, tracked_hash(), std::equal_to<tracked>(), alloc_t(&stats));
    std::vector<std::shared_ptr<tracked>> owners;
    for (int i = 0; i < 100; ++i) {
      owners.push_back(obj(i));
      s.add(owners.back());
      if (i % 3 == 0) t.add(owners.back());
    }
    BOOST_TEST(stats.allocations > 100u);
    BOOST_TEST((s.get_allocator() == alloc_t(&stats)));
    owners.resize(50); // half the elements die
    BOOST_TEST(s.size() == 50u);
    BOOST_TEST(t.size() == 17u);
    counted_set u = s | t;
    counted_set i = s & t;
    counted_set d = s - t;
    counted_set x = s ^ t;
    BOOST_TEST((u.get_allocator() == alloc_t(&stats)));
    BOOST_TEST((i.get_allocator() == alloc_t(&stats)));
    BOOST_TEST(u.size() == 50u);
    BOOST_TEST(i.size() == 17u);
    BOOST_TEST(d.size() == 33u);
    BOOST_TEST(x.size() == 33u);
    BOOST_TEST(i.issubset(s));
    BOOST_TEST((i.issubset(s) && i != s));
    BOOST_TEST(!(s == t));
    u ^= t;
    BOOST_TEST((u == d));
    d &= t;
    BOOST_TEST(d.empty());
    (void)s.pop();
    // Move with an unequal allocator copies the elements into the new allocator's storage.
    counted_set elsewhere(std::move(x), alloc_t(&other_stats));
    BOOST_TEST(elsewhere.size() == 33u);
    BOOST_TEST(other_stats.allocations > 0u);
    owners.clear(); // everything dies while the sets hold dead entries
    BOOST_TEST(elsewhere.empty());
    BOOST_TEST(s.empty());
  }
  BOOST_TEST(stats.live_bytes == 0u);
  BOOST_TEST(stats.allocations == stats.deallocations);
  BOOST_TEST(other_stats.live_bytes == 0u);
  BOOST_TEST(other_stats.allocations == other_stats.deallocations);
  BOOST_TEST(tracked::alive == 0);
}

// If the bucket array cannot grow, insert throws and the set is unchanged: the new entry is
// unregistered from its element and released (strong guarantee).
// Checks [weakref.containers.general]/28; [weakref.set.modifiers]/3.
BOOST_AUTO_TEST_CASE(failed_growth_leaves_the_set_unchanged) {
  fail_switch sw;
  using alloc_t = failing_allocator<std::shared_ptr<int>>;
  std::vector<std::shared_ptr<int>> owners;
  for (int i = 0; i < 64; ++i) owners.push_back(num(i));
  {
    weak_set<int, std::hash<int>, std::equal_to<int>, alloc_t> s{alloc_t(&sw)};
    sw.fail_arrays = true;
    BOOST_CHECK_THROW(s.add(owners[0]), std::bad_alloc); // the first bucket array
    BOOST_TEST(s.empty());
    BOOST_TEST(!s.contains(0));
    BOOST_TEST(weakref::weak_ref_count(owners[0]) == 0u);
    sw.fail_arrays = false;
    s.add(owners[0]);
    // With max_load_factor() == 1, the buckets are full at bucket_count() elements.
    const std::size_t full = s.bucket_count();
    BOOST_TEST_REQUIRE(full < owners.size());
    for (std::size_t i = 1; i < full; ++i) s.add(owners[i]);
    sw.fail_arrays = true;
    BOOST_CHECK_THROW(s.add(owners[full]), std::bad_alloc); // growing the buckets
    BOOST_TEST(s.size() == full);
    BOOST_TEST(s.bucket_count() == full);
    BOOST_TEST(!s.contains(static_cast<int>(full)));
    BOOST_TEST(weakref::weak_ref_count(owners[full]) == 0u);
    ints expected(full);
    std::iota(expected.begin(), expected.end(), 0);
    BOOST_TEST(values(s) == expected, boost::test_tools::per_element());
    sw.fail_arrays = false;
    s.add(owners[full]);
    BOOST_TEST(s.size() == full + 1);
  }
  BOOST_TEST(sw.live == 0u);
}

// The pmr alias with a monotonic_buffer_resource; results of the algebra use the left
// operand's resource, while copy() follows select_on_container_copy_construction (the default
// resource, as every std::pmr container's copy).
// Checks [weakref.containers.general]/15; [weakref.set.algebra]/1; [weakref.value.map.cons]/8.
BOOST_AUTO_TEST_CASE(pmr_monotonic_buffer_resource) {
  std::pmr::monotonic_buffer_resource resource;
  weakref::pmr::weak_set<int> s(&resource);
  weakref::pmr::weak_set<int> t(&resource);
  auto a = num(1), b = num(2), c = num(3);
  s.update({a, b});
  t.update({b, c});
  BOOST_TEST((s.get_allocator().resource() == &resource));
  BOOST_TEST(((s | t).get_allocator().resource() == &resource));
  BOOST_TEST(((s & t).get_allocator().resource() == &resource));
  BOOST_TEST(values(s ^ t) == (ints{1, 3}), boost::test_tools::per_element());
  BOOST_TEST((s.copy().get_allocator().resource() == std::pmr::get_default_resource()));
  a.reset();
  BOOST_TEST(values(s) == (ints{2}), boost::test_tools::per_element());
  s.clear();
  BOOST_TEST(s.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()
