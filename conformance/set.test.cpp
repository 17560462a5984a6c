// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: WeakSet (PY-WS-*), checked against weak_set.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <ranges>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include "support.hpp"

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

using conformance::walked;

namespace {

// An element compared with == and hashed by item_hash; counts its live instances.
struct item {
  static inline int alive = 0;
  int v;
  explicit item(int x) : v(x) { ++alive; }
  item(const item& o) : v(o.v) { ++alive; }
  item& operator=(const item&) = default;
  ~item() { --alive; }
  friend bool operator==(const item& a, const item& b) { return a.v == b.v; }
};
struct item_hash {
  std::size_t operator()(const item& i) const noexcept { return std::hash<int>{}(i.v); }
};

// A type with neither == nor std::hash.
struct opaque {
  int n = 0;
};

using set_t = wr::weak_set<item, item_hash>;

std::shared_ptr<item> make_item(int v) { return wr::make_shared<item>(v); }

// The values of the live elements, sorted (the iteration order is unspecified, as Python's).
std::vector<int> values(const set_t& s) {
  std::vector<int> out;
  for (const std::shared_ptr<item>& p : s) out.push_back(p->v);
  std::ranges::sort(out);
  return out;
}
using ints = std::vector<int>;

// Python's set API on a WeakSet, the algebra included.
template <class S>
concept python_set_api = requires(S& s, const S& cs, const typename S::value_type& x,
                                  const typename S::element_type& obj,
                                  const std::vector<typename S::value_type>& items) {
  s.add(x);
  s.discard(x);
  s.discard(obj);
  s.remove(x);
  s.remove(obj);
  { s.pop() } -> std::same_as<typename S::value_type>;
  s.clear();
  { cs.copy() } -> std::same_as<S>;
  s.update(items);
  { cs.contains(x) } -> std::same_as<bool>;
  { cs.contains(obj) } -> std::same_as<bool>;
  { cs.size() } -> std::same_as<typename S::size_type>;
  { cs.intersection(cs) } -> std::same_as<S>;
  { cs.difference(cs) } -> std::same_as<S>;
  { cs.symmetric_difference(cs) } -> std::same_as<S>;
  { cs | items } -> std::same_as<S>;
  s.intersection_update(items);
  s.difference_update(items);
  s.symmetric_difference_update(items);
  { cs.issubset(items) } -> std::same_as<bool>;
  { cs.issuperset(items) } -> std::same_as<bool>;
  { cs.isdisjoint(items) } -> std::same_as<bool>;
  { cs | cs } -> std::same_as<S>;
  { cs& cs } -> std::same_as<S>;
  { cs - cs } -> std::same_as<S>;
  { cs ^ cs } -> std::same_as<S>;
  { s |= cs } -> std::same_as<S&>;
  { s &= cs } -> std::same_as<S&>;
  { s -= cs } -> std::same_as<S&>;
  { s ^= cs } -> std::same_as<S&>;
  { s ^= items } -> std::same_as<S&>;
  { cs == cs } -> std::same_as<bool>;
  { cs != cs } -> std::same_as<bool>;
};

struct never {
  bool operator()(const auto&) const { return false; }
};

// std::unordered_set's API.
template <class S>
concept unordered_set_api = std::ranges::forward_range<S> && std::ranges::forward_range<const S> &&
                            std::forward_iterator<typename S::iterator> &&
                            requires(S& s, const S& cs, const typename S::value_type& x,
                                     const typename S::element_type& obj,
                                     typename S::const_iterator ci, typename S::size_type n) {
                              typename S::key_type;
                              typename S::hasher;
                              typename S::key_equal;
                              typename S::allocator_type;
                              typename S::difference_type;
                              {
                                s.insert(x)
                              } -> std::same_as<std::pair<typename S::iterator, bool>>;
                              { s.insert(ci, x) } -> std::same_as<typename S::iterator>;
                              {
                                s.emplace(x)
                              } -> std::same_as<std::pair<typename S::iterator, bool>>;
                              { s.find(x) } -> std::same_as<typename S::iterator>;
                              { cs.find(obj) } -> std::same_as<typename S::const_iterator>;
                              { cs.count(x) } -> std::same_as<typename S::size_type>;
                              { cs.equal_range(x) };
                              { s.erase(ci) } -> std::same_as<typename S::iterator>;
                              { s.erase(ci, ci) } -> std::same_as<typename S::iterator>;
                              { s.erase(x) } -> std::same_as<typename S::size_type>;
                              { cs.empty() } -> std::same_as<bool>;
                              { cs.max_size() } -> std::same_as<typename S::size_type>;
                              { cs.bucket_count() } -> std::same_as<typename S::size_type>;
                              { cs.load_factor() } -> std::same_as<float>;
                              s.rehash(n);
                              s.reserve(n);
                              s.swap(s);
                              { cs.hash_function() } -> std::same_as<typename S::hasher>;
                              { cs.key_eq() } -> std::same_as<typename S::key_equal>;
                              { cs.get_allocator() } -> std::same_as<typename S::allocator_type>;
                              { erase_if(s, never{}) } -> std::same_as<typename S::size_type>;
                            };

} // namespace

BOOST_AUTO_TEST_SUITE(set)

// PY-WS-2 (adapted): "weak_set is a set (Python set API with its algebra, and std::unordered_set
// API) holding its elements by weak references, matched by the referents' hash and equality".
// Checks [weakref.set]/1; [weakref.set.modifiers]/1-2; [weakref.set.lookup]/1;
// [weakref.set.python]/2.
BOOST_AUTO_TEST_CASE(PY_WS_2_elements_match_by_referent_hash_and_equality) {
  set_t s;
  auto first = make_item(5), equal = make_item(5), other = make_item(6);
  s.add(first);
  BOOST_TEST(s.contains(equal)); // a distinct, equal object is "in" the set
  BOOST_TEST(s.contains(*equal));
  BOOST_TEST(s.contains(item(5)));
  BOOST_TEST(!s.contains(other));
  BOOST_TEST(s.count(*equal) == 1u);
  // Adding an equal object keeps the element already there, as Python's set.
  s.add(equal);
  {
    const auto [it, inserted] = s.insert(equal); // (the iterator pins first until the block ends)
    BOOST_TEST(!inserted);
    BOOST_TEST((*it == first));
  }
  BOOST_TEST(s.size() == 1u);
  // The element is the first object: its death removes it although an equal object lives.
  first.reset();
  BOOST_TEST(s.empty());
  BOOST_TEST(!s.contains(equal));
  // discard/remove by an equal object remove the matching element.
  s.add(other);
  s.discard(item(6));
  BOOST_TEST(s.empty());
}

// PY-WS-2 (adapted): "weak_set is a set (Python set API with its algebra, and std::unordered_set
// API) holding its elements by weak references, matched by the referents' hash and equality". Here:
// the elements are held by weak references: the set owns none, and only weakly referenceable
// (factory-made) objects can be elements.
// Checks [weakref.set]/1; [weakref.containers.general]/3; [weakref.set.modifiers]/3.
BOOST_AUTO_TEST_CASE(PY_WS_2_elements_held_by_weak_references) {
  set_t s;
  auto a = make_item(1);
  s.add(a);
  BOOST_TEST(a.use_count() == 1);
  BOOST_TEST(wr::weak_ref_count(a) == 1u);
  BOOST_CHECK_THROW(s.add(std::make_shared<item>(2)), wr::type_error);
  BOOST_CHECK_THROW(s.add(std::shared_ptr<item>()), wr::type_error);
  BOOST_TEST(s.size() == 1u);
  const int before = item::alive;
  a.reset();
  BOOST_TEST(item::alive == before - 1);
  BOOST_TEST(s.empty());
}

// PY-WS-2 (adapted): "weak_set is a set (Python set API with its algebra, and std::unordered_set
// API) holding its elements by weak references, matched by the referents' hash and equality". Here:
// Python's set API: add, discard, remove (KeyError), pop (KeyError), clear, copy, update, `in`,
// len, iteration.
// Checks [weakref.set]/4; [weakref.set.python]/1-4, /6-8 and /10-11.
BOOST_AUTO_TEST_CASE(PY_WS_2_python_set_api) {
  static_assert(python_set_api<set_t>);
  set_t s;
  auto a = make_item(1), b = make_item(2), c = make_item(3);
  s.add(a);
  s.add(b);
  s.add(a); // already there
  BOOST_TEST(s.size() == 2u);
  BOOST_TEST(values(s) == (ints{1, 2}), boost::test_tools::per_element());
  s.discard(c); // absent: no error
  s.discard(b);
  BOOST_TEST(!s.contains(b));
  BOOST_CHECK_THROW(s.remove(b), wr::key_error);
  s.remove(*a);
  BOOST_TEST(s.empty());
  BOOST_CHECK_THROW(s.pop(), wr::key_error);
  s.update(std::vector<std::shared_ptr<item>>{a, b, c, a});
  BOOST_TEST(values(s) == (ints{1, 2, 3}), boost::test_tools::per_element());
  set_t copy = s.copy();
  BOOST_TEST((copy == s));
  const auto popped = s.pop();
  BOOST_TEST(popped != nullptr);
  BOOST_TEST(!s.contains(popped));
  BOOST_TEST(s.size() == 2u);
  BOOST_TEST(copy.size() == 3u); // the copy is independent
  s.clear();
  BOOST_TEST(s.empty());
  // The copy holds its own weak references to the same elements.
  BOOST_TEST(wr::weak_ref_count(c) == 1u);
  c.reset();
  BOOST_TEST(values(copy) == (ints{1, 2}), boost::test_tools::per_element());
}

// PY-WS-2 (adapted): "weak_set is a set (Python set API with its algebra, and std::unordered_set
// API) holding its elements by weak references, matched by the referents' hash and equality". Here:
// the set algebra (union, intersection, difference, symmetric difference; operators and in-place
// forms), over the live elements.
// Checks [weakref.set.algebra]/1-5, /8 and /10.
BOOST_AUTO_TEST_CASE(PY_WS_2_set_algebra) {
  auto e1 = make_item(1), e2 = make_item(2), e3 = make_item(3), e4 = make_item(4);
  const set_t s{e1, e2, e3};
  const set_t t{e3, e4};
  BOOST_TEST(values(s | t) == (ints{1, 2, 3, 4}), boost::test_tools::per_element());
  BOOST_TEST(values(s.intersection(t)) == (ints{3}), boost::test_tools::per_element());
  BOOST_TEST(values(s & t) == (ints{3}), boost::test_tools::per_element());
  BOOST_TEST(values(s.difference(t)) == (ints{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(values(s - t) == (ints{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(values(s.symmetric_difference(t)) == (ints{1, 2, 4}),
             boost::test_tools::per_element());
  BOOST_TEST(values(s ^ t) == (ints{1, 2, 4}), boost::test_tools::per_element());
  BOOST_TEST(values(s) == (ints{1, 2, 3}), boost::test_tools::per_element()); // unchanged
  // In place.
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
  // Any iterable as the other operand (Python's named methods and operators accept one).
  std::vector<std::shared_ptr<item>> v{e3, e4, e4};
  BOOST_TEST(values(s | v) == (ints{1, 2, 3, 4}), boost::test_tools::per_element());
  BOOST_TEST(values(s - v) == (ints{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(values(s.intersection(v)) == (ints{3}), boost::test_tools::per_element());
  u = s;
  u.symmetric_difference_update(v);
  BOOST_TEST(values(u) == (ints{1, 2, 4}), boost::test_tools::per_element());
  u = s;
  u.difference_update(v);
  BOOST_TEST(values(u) == (ints{1, 2}), boost::test_tools::per_element());
  u = s;
  u.intersection_update(v);
  BOOST_TEST(values(u) == (ints{3}), boost::test_tools::per_element());
  // A dead element takes no part.
  v.clear();
  e3.reset();
  BOOST_TEST(values(s & t).empty());
  BOOST_TEST(values(s | t) == (ints{1, 2, 4}), boost::test_tools::per_element());
}

// PY-WS-2 (adapted): "weak_set is a set (Python set API with its algebra, and std::unordered_set
// API) holding its elements by weak references, matched by the referents' hash and equality". Here:
// comparisons: issubset (Python's <=), issuperset (>=), ==, isdisjoint; Python's proper < and >
// are issubset/issuperset and !=, as C++ has no relational operators for sets (adapted).
// Checks [weakref.set.cmp]/1-6.
BOOST_AUTO_TEST_CASE(PY_WS_2_set_comparisons) {
  auto e1 = make_item(1), e2 = make_item(2), e3 = make_item(3), e4 = make_item(4);
  const set_t s{e1, e2, e3};
  const set_t sub{e1, e2};
  const set_t t{e3, e4};
  BOOST_TEST(sub.issubset(s));
  BOOST_TEST((sub.issubset(s) && sub != s)); // Python: sub < s
  BOOST_TEST(!(s.issubset(s) && s != s));    // Python: not s < s
  BOOST_TEST(s.issuperset(sub));
  BOOST_TEST((s.issuperset(sub) && s != sub)); // Python: s > sub
  BOOST_TEST(!s.issubset(t));
  BOOST_TEST(!conformance::any_ordering<set_t>); // no <, <=, >, >=, <=>
  BOOST_TEST(!std::totally_ordered<set_t>);
  BOOST_TEST(!(s == t));
  BOOST_TEST((s != t));
  BOOST_TEST(!s.isdisjoint(t));
  BOOST_TEST(sub.isdisjoint(t));
  // Equality is by element equality (Python's set of refs compares referents).
  auto other3 = make_item(3), other4 = make_item(4);
  const set_t t2{other3, other4};
  BOOST_TEST((t == t2));
  // Only live elements count.
  e3.reset();
  BOOST_TEST((s == sub));
}

// PY-WS-2 (adapted): "weak_set is a set (Python set API with its algebra, and std::unordered_set
// API) holding its elements by weak references, matched by the referents' hash and equality". Here:
// when both operands hold distinct equal objects, the left operand's object is kept.
// Checks [weakref.set.algebra]/1.
BOOST_AUTO_TEST_CASE(PY_WS_2_algebra_keeps_the_left_operands_object) {
  auto left = make_item(7), right = make_item(7);
  const set_t s{left}, t{right};
  BOOST_TEST((*(s | t).begin() == left));
  BOOST_TEST((*(t | s).begin() == right));
  BOOST_TEST((*(s & t).begin() == left));
  BOOST_TEST((*(t & s).begin() == right));
  BOOST_TEST((*s.intersection(t).begin() == left));
  set_t u = s;
  u &= t;
  BOOST_TEST((*u.begin() == left));
  u |= t;
  BOOST_TEST((*u.begin() == left));
  BOOST_TEST(u.size() == 1u);
}

// PY-WS-2 (adapted): "weak_set is a set (Python set API with its algebra, and std::unordered_set
// API) holding its elements by weak references, matched by the referents' hash and equality". Here:
// the results of the algebra are weak sets too: they keep no element alive.
// Checks [weakref.set.algebra]/1-3.
BOOST_AUTO_TEST_CASE(PY_WS_2_algebra_results_hold_elements_weakly) {
  auto a = make_item(1), b = make_item(2);
  const set_t s{a, b}, t{b};
  const set_t both = s | t;
  const set_t common = s & t;
  BOOST_TEST(b.use_count() == 1);
  b.reset();
  BOOST_TEST(values(both) == (ints{1}), boost::test_tools::per_element());
  BOOST_TEST(common.empty());
}

// PY-WS-2 (adapted): "weak_set is a set (Python set API with its algebra, and std::unordered_set
// API) holding its elements by weak references, matched by the referents' hash and equality". Here:
// std::unordered_set's API.
// Checks [weakref.set.modifiers]/1-2 and /6; [weakref.set.lookup]/1; [weakref.set.erasure]/1;
// [weakref.containers.bucket]/9; [weakref.containers.general]/2, /17 and /25.
BOOST_AUTO_TEST_CASE(PY_WS_2_unordered_set_api) {
  static_assert(unordered_set_api<set_t>);
  static_assert(std::same_as<set_t::value_type, std::shared_ptr<item>>);
  static_assert(std::same_as<set_t::key_type, std::shared_ptr<item>>);
  static_assert(std::same_as<std::ranges::range_reference_t<set_t>, std::shared_ptr<item>>);
  set_t s;
  auto a = make_item(1), b = make_item(2), c = make_item(3);
  const auto [it, inserted] = s.insert(a);
  BOOST_TEST(inserted);
  BOOST_TEST((*it == a));
  BOOST_TEST(!s.insert(a).second);
  BOOST_TEST(s.emplace(b).second);
  BOOST_TEST((*s.insert(s.end(), c) == c));
  BOOST_TEST(s.count(*b) == 1u);
  BOOST_TEST((s.find(*b) != s.end()));
  BOOST_TEST((*s.find(b) == b));
  BOOST_TEST((s.find(item(9)) == s.end()));
  const auto [first, last] = std::as_const(s).equal_range(*c);
  BOOST_TEST(std::distance(first, last) == 1);
  BOOST_TEST(s.erase(*c) == 1u);
  BOOST_TEST(s.erase(c) == 0u);
  BOOST_TEST(erase_if(s, [](const std::shared_ptr<item>& x) { return x->v == 2; }) == 1u);
  s.reserve(100);
  BOOST_TEST(s.bucket_count() * s.max_load_factor() >= 100.0f);
  set_t other;
  s.swap(other);
  BOOST_TEST(s.empty());
  BOOST_TEST(other.size() == 1u);
  BOOST_TEST((other.erase(other.begin()) == other.end()));
  BOOST_TEST(other.empty());
}

// PY-WS-2 (adapted): "weak_set is a set (Python set API with its algebra, and std::unordered_set
// API) holding its elements by weak references, matched by the referents' hash and equality". Here:
// Hash and KeyEqual are template parameters; identity_hash/identity_equal match elements by
// identity, also for types with neither == nor hash.
// Checks [weakref.containers.identity]/1.
BOOST_AUTO_TEST_CASE(PY_WS_2_identity_policy_matches_by_object) {
  wr::weak_set<item, wr::identity_hash<item>, wr::identity_equal<item>> by_identity;
  auto x = make_item(5), y = make_item(5);
  by_identity.add(x);
  BOOST_TEST(by_identity.contains(x));
  BOOST_TEST(!by_identity.contains(y));
  BOOST_TEST(!by_identity.contains(item(5)));
  by_identity.add(y);
  BOOST_TEST(by_identity.size() == 2u);

  wr::weak_set<opaque, wr::identity_hash<opaque>, wr::identity_equal<opaque>> o;
  auto p = wr::make_shared<opaque>(), q = wr::make_shared<opaque>();
  o.add(p);
  o.add(q);
  o.add(p);
  BOOST_TEST(o.size() == 2u);
  BOOST_TEST(o.contains(*p));
  BOOST_TEST(!o.contains(opaque{}));
  p.reset();
  BOOST_TEST(o.size() == 1u);
  BOOST_TEST((*o.begin() == q));
}

// PY-WS-1: "an element disappears from the set when its referent dies".
// Checks [weakref.set]/1; [weakref.containers.general]/5 and /7; [weakref.set.python]/4 and /8.
BOOST_AUTO_TEST_CASE(PY_WS_1_element_disappears_when_referent_dies) {
  set_t s;
  auto a = make_item(1), b = make_item(2);
  s.add(a);
  s.add(b);
  const int before = item::alive;
  a.reset();
  BOOST_TEST(item::alive == before - 1); // the set did not keep it
  // No operation of the owner in between: the element is already gone from every observation.
  const set_t& view = s;
  BOOST_TEST(view.size() == 1u);
  BOOST_TEST(!view.contains(item(1)));
  BOOST_TEST(view.count(item(1)) == 0u);
  BOOST_TEST((view.find(item(1)) == view.end()));
  BOOST_TEST(walked(view) == 1u);
  BOOST_TEST(values(view) == (ints{2}), boost::test_tools::per_element());
  BOOST_CHECK_THROW(s.remove(item(1)), wr::key_error);
  BOOST_TEST((s.pop() == b));
  s.add(b);
  b.reset();
  BOOST_TEST(view.empty());
  BOOST_CHECK_THROW(s.pop(), wr::key_error); // pop never returns a dead element
}

// PY-WS-1: "an element disappears from the set when its referent dies". Here: a dead element takes
// no part in comparisons with other sets.
// Checks [weakref.set.cmp]/1 and /5.
BOOST_AUTO_TEST_CASE(PY_WS_1_dead_elements_leave_every_set) {
  auto a = make_item(1), b = make_item(2);
  set_t s{a, b}, t{a, b}, u{b};
  BOOST_TEST(!(s == u));
  a.reset();
  BOOST_TEST((s == u));
  BOOST_TEST((t == u));
  BOOST_TEST(s.size() == 1u);
  BOOST_TEST(t.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
