// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <memory_resource>
#include <ranges>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/transform.hpp>

#include "support.hpp"
import weakref;

using weakref::weak_key_map;
using weakref_test::accesses_by;
using weakref_test::allocation_stats;
using weakref_test::counting_allocator;
using weakref_test::looks_up_by;
using weakref_test::opaque;
using weakref_test::tracked;
using weakref_test::transparent_string_hash;
using weakref_test::walked;

namespace {

using name_t = std::string;
using map_t = weak_key_map<name_t, int>;
using identity_map_t = weak_key_map<opaque, std::string, weakref::identity_hash<opaque>,
                                    weakref::identity_equal<opaque>>;

std::shared_ptr<name_t> key(const char* s) { return weakref::make_shared<name_t>(s); }

using by_name_t = weak_key_map<name_t, int, transparent_string_hash, std::equal_to<>>;

struct shape {
  int id = 0;
};
struct circle : shape {};
using shapes_t =
    weak_key_map<shape, int, weakref::identity_hash<shape>, weakref::identity_equal<shape>>;

} // namespace

// [weakref.containers.lookup]/2 Every lookup and element access takes the key object or its
// shared_ptr (at, get and pop took only the object).
static_assert(looks_up_by<map_t, name_t> && looks_up_by<map_t, std::shared_ptr<name_t>>);
static_assert(accesses_by<map_t, name_t> && accesses_by<map_t, std::shared_ptr<name_t>>);
static_assert(accesses_by<shapes_t, std::shared_ptr<circle>>);
// [weakref.containers.lookup]/3 Another type only where Hash and KeyEqual are transparent.
static_assert(looks_up_by<by_name_t, std::string_view> && accesses_by<by_name_t, std::string_view>);
static_assert(!looks_up_by<map_t, std::string_view> && !accesses_by<map_t, std::string_view>);
// [weakref.containers.identity]/4 The identity policy takes an address.
static_assert(looks_up_by<identity_map_t, const opaque*> && accesses_by<identity_map_t, opaque*>);
static_assert(!looks_up_by<map_t, const name_t*>);

namespace {
// A transparent policy that takes anything, iterators included.
struct any_hash {
  using is_transparent = void;
  template <class U>
  std::size_t operator()(const U&) const noexcept {
    return 0;
  }
};
struct any_equal {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A&, const B&) const noexcept {
    return false;
  }
};
using anything_map_t = weak_key_map<name_t, int, any_hash, any_equal>;
} // namespace

static_assert(std::ranges::forward_range<map_t>);
static_assert(std::ranges::forward_range<const map_t>);
static_assert(!std::ranges::sized_range<map_t>);
static_assert(std::forward_iterator<map_t::iterator>);
static_assert(std::forward_iterator<map_t::const_iterator>);
static_assert(std::convertible_to<map_t::iterator, map_t::const_iterator>);

BOOST_AUTO_TEST_SUITE(key_map)

BOOST_AUTO_TEST_SUITE(python)

// PY-WKD-1 "Entries in the dictionary will be discarded when there is no longer a strong
// reference to the key." The map does not keep its keys alive, and the value is released inside
// the key's death, as Python releases it ([weakref.containers.general]/8).
BOOST_AUTO_TEST_CASE(entry_discarded_when_key_dies) {
  weak_key_map<name_t, tracked> m;
  auto a = key("a"), b = key("b");
  m[a] = tracked(1);
  m.insert_or_assign(b, tracked(2));
  BOOST_TEST(a.use_count() == 1);
  BOOST_TEST(m.size() == 2u);
  a.reset();
  BOOST_TEST(tracked::alive == 1); // no operation of the map ran since the death
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(!m.contains(name_t("a")));
  BOOST_TEST(walked(std::as_const(m)) == 1u);
  m.purge();
  BOOST_TEST(tracked::alive == 1);
}

// [weakref.containers.general]/8 With an allocator that may not be used from any thread (a
// std::pmr::unsynchronized_pool_resource), the value waits for the owner's next non-const
// operation; with a synchronized pool it goes inside the death, as with std::allocator.
BOOST_AUTO_TEST_CASE(value_release_follows_the_allocators_thread_safety) {
  std::pmr::unsynchronized_pool_resource unsynchronized;
  weakref::pmr::weak_key_map<name_t, tracked> deferred(&unsynchronized);
  auto a = key("a");
  deferred.insert_or_assign(a, tracked(1));
  a.reset();
  BOOST_TEST(deferred.size() == 0u);
  BOOST_TEST(tracked::alive == 1);
  deferred.purge();
  BOOST_TEST(tracked::alive == 0);

  std::pmr::synchronized_pool_resource synchronized;
  weakref::pmr::weak_key_map<name_t, tracked> eager(&synchronized);
  auto b = key("b");
  eager.insert_or_assign(b, tracked(2));
  b.reset();
  BOOST_TEST(tracked::alive == 0);
  BOOST_TEST(eager.size() == 0u);
}

// PY-WKD-2 "associate additional data with an object owned by other parts of an application
// without adding attributes to those objects": a side table.
// Checks [weakref.key.map]/1; [weakref.key.map.lookup]/3 and /6.
BOOST_AUTO_TEST_CASE(side_table_of_objects_owned_elsewhere) {
  identity_map_t labels;
  std::vector<std::shared_ptr<opaque>> owned;
  for (int i = 0; i < 5; ++i) {
    owned.push_back(weakref::make_shared<opaque>());
    labels[owned.back()] = "object " + std::to_string(i);
  }
  BOOST_TEST(labels.at(*owned[3]) == "object 3");
  owned.erase(owned.begin(), owned.begin() + 2);
  BOOST_TEST(labels.size() == 3u);
  BOOST_TEST(labels.at(*owned[0]) == "object 2");
}

// Python matches keys by == and hash: an equal, distinct key finds the entry, and assignment
// through it keeps the first key object (its death removes the entry).
// Checks [weakref.key.map]/1; [weakref.key.map.modifiers]/6; [weakref.key.map.lookup]/3.
BOOST_AUTO_TEST_CASE(keys_match_by_referent_equality) {
  map_t m;
  auto first = key("k");
  auto equal = key("k");
  m[first] = 1;
  BOOST_TEST(m.contains(*equal));
  BOOST_TEST(m.at(*equal) == 1);
  m.insert_or_assign(equal, 2);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(m.at(name_t("k")) == 2);
  BOOST_TEST(m.keyrefs().front()().get() == first.get());
  first.reset();
  BOOST_TEST(m.empty());
  BOOST_TEST(!m.contains(*equal));
}

// Python dict equality for WeakKeyDictionary: the same live keys (matched by ==) with equal
// values.
// Checks [weakref.key.map.eq]/1.
BOOST_AUTO_TEST_CASE(equality_compares_values) {
  map_t x, y;
  auto k = key("k"), k2 = key("k"), extra = key("extra");
  x[k] = 1;
  y[k2] = 1;
  BOOST_TEST((x == y)); // equal keys, not the same key objects
  y[k2] = 2;
  BOOST_TEST((x != y));
  BOOST_TEST((y != x));
  y[k2] = 1;
  y[extra] = 1;
  BOOST_TEST((x != y));
  extra.reset(); // the extra element dies: the maps are equal again
  BOOST_TEST((x == y));
}

// [weakref.containers.identity] The identity policy: distinct equal objects are distinct keys.
// Checks [weakref.containers.identity]/1.
BOOST_AUTO_TEST_CASE(identity_policy_distinguishes_equal_objects) {
  weak_key_map<name_t, int, weakref::identity_hash<name_t>, weakref::identity_equal<name_t>> m;
  auto x = key("same"), y = key("same");
  m[x] = 1;
  m[y] = 2;
  BOOST_TEST(m.size() == 2u);
  BOOST_TEST(m.at(*x) == 1);
  BOOST_TEST(m.at(*y) == 2);
  BOOST_TEST(!m.contains(name_t("same")));
}

// [weakref.containers.union] Python 3.9 (PEP 584) (PY3-UNION-1, -2, -3): right operand wins; an
// equal key already in the left operand keeps its key object, as update() does.
// Checks [weakref.containers.union]/2 and /4-5.
BOOST_AUTO_TEST_CASE(union_operators_right_operand_wins) {
  map_t a, b;
  auto k = key("k"), k_twin = key("k"), only = key("only");
  a[k] = 1;
  a[only] = 2;
  b[k_twin] = 3;
  const map_t c = a | b;
  BOOST_TEST(c.size() == 2u);
  BOOST_TEST(c.at(*k) == 3);
  BOOST_TEST(c.at(*only) == 2);
  BOOST_TEST(a.at(*k) == 1);
  BOOST_TEST((b | a).at(*k) == 1);
  a |= b;
  BOOST_TEST(a.at(*k) == 3);
  auto v = key("v");
  a |= std::vector<std::pair<std::shared_ptr<name_t>, int>>{{v, 4}};
  a |= {{v, 5}};
  BOOST_TEST(a.at(*v) == 5);
  k_twin.reset(); // c kept a's key object for "k", not b's
  BOOST_TEST(c.at(*k) == 3);
  k.reset();
  BOOST_TEST(!c.contains(name_t("k")));
  static_assert(!weakref_test::unites_with<map_t, int>);
  static_assert(!weakref_test::unites_with<map_t, std::vector<int>>);
  static_assert(weakref_test::unites_with<map_t, map_t>);
  static_assert(requires(const map_t& m) { m | std::views::take(1); }); // adaptors still pipe
}

// Checks [weakref.key.map.python]/1-2, /5-6, /9-11, /13-15, /17 and /20;
// [weakref.key.map.lookup]/4.
BOOST_AUTO_TEST_CASE(python_methods) {
  map_t m;
  auto a = key("a"), b = key("b"), c = key("c");
  BOOST_TEST(!m.get(*a).has_value());
  BOOST_TEST(m.get(*a, 9) == 9);
  BOOST_TEST(m.setdefault(a, 1) == 1);
  BOOST_TEST(m.setdefault(a, 5) == 1);
  m.update(std::vector<std::pair<std::shared_ptr<name_t>, int>>{{b, 2}, {a, 3}});
  BOOST_TEST(m.at(*a) == 3);
  BOOST_TEST(*m.get(*b) == 2);
  map_t copy = m.copy();
  BOOST_TEST((copy == m));
  BOOST_TEST(m.pop(*a) == 3);
  BOOST_CHECK_THROW(m.pop(*a), weakref::key_error);
  BOOST_TEST(m.pop(*a, 7) == 7);
  BOOST_TEST((copy != m));
  auto [k, v] = m.popitem();
  BOOST_TEST(k == b);
  BOOST_TEST(v == 2);
  BOOST_CHECK_THROW(m.popitem(), weakref::key_error);
  BOOST_CHECK_THROW(m.at(*c), weakref::key_error);
  BOOST_TEST(copy.size() == 2u);
  a.reset();
  BOOST_TEST(copy.size() == 1u);
}

// PY-WKD-4 "keyrefs(): Return a list of weak references to the keys ... not guaranteed to be
// live at the time they are used"; they are the map's own references.
// Checks [weakref.key.map.python]/21-23; [weakref.containers.general]/3.
BOOST_AUTO_TEST_CASE(keyrefs_may_die_after_they_are_taken) {
  map_t m;
  auto a = key("a"), b = key("b");
  m[a] = 1;
  m[b] = 2;
  auto refs = m.keyrefs();
  BOOST_TEST(refs.size() == 2u);
  BOOST_TEST(weakref::weak_ref_count(a) == 1u);
  BOOST_TEST(weakref::weak_refs(a).size() == 1u); // listed, as Python lists its KeyedRefs
  a.reset();
  BOOST_TEST(std::ranges::count_if(refs, [](const auto& r) { return r.expired(); }) == 1);
  std::size_t lazily = 0;
  for (weakref::weak_ref<name_t> r : m.iterkeyrefs()) {
    BOOST_TEST(r().get() == b.get());
    ++lazily;
  }
  BOOST_TEST(lazily == 1u);
}

// Python 3.4: a keyref's __callback__ is the dictionary's own remove function, so a reference to
// an entry, from keyrefs() or weak_refs(), has a callback of an unspecified type while its key
// lives (the user's types do not match it), and none once the key is dead.
// Checks [weakref.ref.callback]/3-6; [weakref.containers.general]/3.
BOOST_AUTO_TEST_CASE(an_entry_reference_shows_a_callback_of_its_own_type) {
  map_t m;
  auto a = key("a");
  m[a] = 1;
  using user_callback = void (*)(weakref::weak_ref<name_t>);
  const auto listed = std::get<weakref::weak_ref<name_t>>(weakref::weak_refs(a).front());
  for (const weakref::weak_ref<name_t>& r : {m.keyrefs().front(), listed}) {
    BOOST_TEST(r.has_callback());
    BOOST_TEST((r.callback_type() != typeid(void)));
    BOOST_TEST((r.callback_type() != typeid(user_callback)));
    BOOST_TEST(r.callback<user_callback>() == nullptr);
  }
  weakref::weak_ref<name_t> kept = m.keyrefs().front();
  a.reset();
  BOOST_TEST(!kept.has_callback());
  BOOST_TEST((kept.callback_type() == typeid(void)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(iteration)

// PY-WKD-3 (the caution about entries vanishing "by magic"): deaths in the loop body never
// invalidate the loop, never show a dead key, never skip a live one; values are mutable.
// Checks [weakref.containers.general]/5; [weakref.key.map.iter]/2.
BOOST_AUTO_TEST_CASE(deaths_during_iteration_are_safe) {
  weak_key_map<name_t, int> m;
  std::vector<std::shared_ptr<name_t>> owners;
  for (int i = 0; i < 64; ++i) {
    owners.push_back(key(std::to_string(i).c_str()));
    m[owners.back()] = i;
  }
  std::vector<int> seen;
  for (auto [k, v] : m) {
    BOOST_TEST(*k == std::to_string(v));
    seen.push_back(v);
    v += 1000;                                               // writes through to the map
    owners[static_cast<std::size_t>(std::stoi(*k))].reset(); // pinned by the iterator
  }
  BOOST_TEST(seen.size() == 64u);
  BOOST_TEST(m.empty());
}

// Checks [weakref.key.map]/4; [weakref.key.map.iter]/2.
BOOST_AUTO_TEST_CASE(values_are_mutable_through_iterators) {
  map_t m;
  auto a = key("a");
  m[a] = 1;
  for (auto [k, v] : m) v = 42;
  BOOST_TEST(m.at(*a) == 42);
  const map_t& view = m;
  static_assert(std::same_as<decltype((*view.begin()).second), const int&>);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cpp_api)

// Checks [weakref.key.map.modifiers]/1-3, /5 and /10; [weakref.key.map.lookup]/1, /3 and /7;
// [weakref.containers.lookup]/2.
BOOST_AUTO_TEST_CASE(lookup_and_modifiers) {
  map_t m;
  auto a = key("a"), b = key("b");
  BOOST_TEST(m.insert({a, 1}).second);
  BOOST_TEST(!m.insert({a, 2}).second);
  BOOST_TEST(!m.emplace(a, 3).second);
  BOOST_TEST(m.try_emplace(b, 4).second);
  BOOST_TEST(m.at(*a) == 1);
  BOOST_TEST((*m.find(b)).second == 4);
  BOOST_TEST((m.find(name_t("zz")) == m.end()));
  BOOST_TEST(m.count(a) == 1u);
  {
    auto [first, last] = m.equal_range(*a);
    BOOST_TEST(std::ranges::distance(first, last) == 1);
    BOOST_TEST((*first).second == 1);
    auto [by_owner, by_owner_end] = std::as_const(m).equal_range(b);
    BOOST_TEST(std::ranges::distance(by_owner, by_owner_end) == 1);
    auto [none, none_end] = m.equal_range(name_t("zz"));
    BOOST_TEST((none == none_end));
    auto [empty, empty_end] = m.equal_range(std::shared_ptr<name_t>());
    BOOST_TEST((empty == empty_end));
  }
  BOOST_TEST(m.erase(*a) == 1u);
  BOOST_TEST(m.erase(a) == 0u);
  BOOST_TEST((m.erase(m.find(b)) == m.end()));
  BOOST_TEST(m.empty());
  BOOST_CHECK_THROW(m[std::make_shared<name_t>("x")] = 1, weakref::type_error);
  // PY-INTRO-5: rejected even when an equal, weakly referenceable key is present.
  auto present = key("p");
  m[present] = 1;
  BOOST_CHECK_THROW(m.try_emplace(std::make_shared<name_t>("p"), 2), weakref::type_error);
  m.erase(present);
  BOOST_CHECK_THROW(m[nullptr] = 1, weakref::type_error);
  BOOST_TEST(m.empty());
}

// [weakref.containers.lookup]/2 at, get and pop take the key's shared_ptr as the other lookups
// do; an empty one matches nothing; an owner of an equal object matches, as Python's ==.
// Checks [weakref.containers.lookup]/1.
BOOST_AUTO_TEST_CASE(every_lookup_takes_the_key_or_its_owner) {
  map_t m;
  auto a = key("a"), b = key("b");
  const std::shared_ptr<name_t> none;
  m[a] = 1;
  m[b] = 2;
  BOOST_TEST(m.at(a) == 1);
  m.at(a) = 10; // a reference to the value
  BOOST_TEST(std::as_const(m).at(a) == 10);
  BOOST_CHECK_THROW(m.at(none), weakref::key_error);
  BOOST_CHECK_THROW(std::as_const(m).at(none), weakref::key_error);
  BOOST_TEST(m.get(a).value() == 10);
  BOOST_TEST(!m.get(none).has_value());
  BOOST_TEST(m.get(b, -1) == 2);
  BOOST_TEST(m.get(none, -1) == -1);
  BOOST_TEST(m.pop(a) == 10);
  BOOST_TEST(!m.contains(a));
  BOOST_CHECK_THROW(m.pop(a), weakref::key_error);
  BOOST_CHECK_THROW(m.pop(none), weakref::key_error);
  BOOST_TEST(m.pop(none, -1) == -1);
  BOOST_TEST(m.pop(b, -1) == 2);
  BOOST_TEST(m.pop(b, -1) == -1);
  m[a] = 3;
  const auto equal_a = key("a");
  BOOST_TEST(m.at(equal_a) == 3);
  BOOST_TEST(m.get(equal_a).value() == 3);
  BOOST_TEST(m.pop(equal_a) == 3);
  BOOST_TEST(m.empty());
}

namespace {
// A key type whose identity is that of a base subobject at a non-zero offset.
struct badge {
  int number = 0;
};
struct part {
  int serial = 0;
};
struct widget : badge, part {};
using widgets_by_part_t =
    weak_key_map<widget, int, weakref::identity_hash<part>, weakref::identity_equal<part>>;
} // namespace

// [weakref.containers.identity]/1, /3 Under the identity policy of a base class, a key is the
// object its base subobject is: found by the key object (a lookup that needs no owner), by an
// owner and by the base's address; its entry is filed under that address, not the key's own,
// before and after the key's death (the purge and the rehashes that follow it).
// Checks [weakref.containers.identity]/6.
BOOST_AUTO_TEST_CASE(identity_policy_of_a_base_files_the_base_subobject) {
  widgets_by_part_t m;
  std::vector<std::shared_ptr<widget>> keys;
  for (int i = 0; i < 8; ++i) {
    keys.push_back(weakref::make_shared<widget>());
    m[keys.back()] = i;
  }
  const part* first_part = keys[0].get();
  BOOST_TEST_REQUIRE(static_cast<const void*>(first_part) != static_cast<void*>(keys[0].get()));
  BOOST_TEST(m.contains(*keys[0]));
  BOOST_TEST(m.contains(keys[1]));
  BOOST_TEST(m.at(first_part) == 0);
  BOOST_TEST(m.erase(*keys[2]) == 1u);
  BOOST_TEST(!m.contains(*keys[2]));
  keys[3].reset(); // a death: purged under the hash of the address kept
  for (int i = 8; i < 64; ++i) {
    keys.push_back(weakref::make_shared<widget>());
    m[keys.back()] = i; // the table grows, refiling every entry, the dead one first purged
  }
  BOOST_TEST(m.size() == 62u);
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (i != 2 && i != 3) BOOST_TEST(m.at(*keys[i]) == static_cast<int>(i));
  keys[4].reset();
  BOOST_TEST(m.size() == 61u);
  BOOST_TEST(m.erase(*keys[5]) == 1u);
  BOOST_TEST(m.size() == 60u);
}

// [weakref.containers.lookup]/2 An owner of a derived object names that object, and
// [weakref.containers.identity]/4 the identity policy also finds an object by its address, so a
// member function can look up `this` without an owner.
// Checks [weakref.containers.identity]/5-6.
BOOST_AUTO_TEST_CASE(identity_policy_looks_up_by_owner_object_or_address) {
  shapes_t m;
  auto c = weakref::make_shared<circle>(), other = weakref::make_shared<circle>();
  m[std::shared_ptr<shape>(c)] = 1;
  BOOST_TEST(m.at(c) == 1); // shared_ptr<circle>
  BOOST_TEST(m.at(*c) == 1);
  const shape* address = c.get();
  BOOST_TEST(m.contains(address));
  BOOST_TEST(m.count(c.get()) == 1u);
  BOOST_TEST(!m.contains(other.get()));
  BOOST_TEST(!m.contains(static_cast<const shape*>(nullptr)));
  BOOST_TEST(((*m.find(address)).first == c));
  {
    auto [first, last] = m.equal_range(address);
    BOOST_TEST(std::ranges::distance(first, last) == 1);
  }
  BOOST_TEST(m.at(address) == 1);
  BOOST_TEST(std::as_const(m).at(address) == 1);
  BOOST_CHECK_THROW(m.at(other.get()), weakref::key_error);
  BOOST_TEST(m.get(address).value() == 1);
  BOOST_TEST(m.get(other.get(), -1) == -1);
  BOOST_TEST(m.pop(address) == 1);
  BOOST_TEST(m.pop(address, -1) == -1);
  m[c] = 2;
  BOOST_TEST(m.erase(other.get()) == 0u);
  BOOST_TEST(m.erase(address) == 1u);
  BOOST_TEST(m.empty());
}

// [weakref.containers.lookup]/3 With a transparent Hash and KeyEqual, every lookup takes what
// they take: here std::string_view, from which no std::string is made.
BOOST_AUTO_TEST_CASE(transparent_policy_looks_up_by_another_type) {
  using namespace std::string_view_literals;
  by_name_t m;
  auto a = key("a"), b = key("b");
  m[a] = 1;
  m[b] = 2;
  BOOST_TEST(m.contains("a"sv));
  BOOST_TEST(!m.contains("zz"sv));
  BOOST_TEST(m.count("b"sv) == 1u);
  BOOST_TEST((*m.find("a"sv)).second == 1);
  BOOST_TEST((std::as_const(m).find("zz"sv) == m.cend()));
  {
    auto [first, last] = std::as_const(m).equal_range("b"sv);
    BOOST_TEST(std::ranges::distance(first, last) == 1);
  }
  BOOST_TEST(m.at("a"sv) == 1);
  BOOST_TEST(std::as_const(m).at("b"sv) == 2);
  BOOST_CHECK_THROW(m.at("zz"sv), weakref::key_error);
  BOOST_TEST(m.get("a"sv).value() == 1);
  BOOST_TEST(m.get("zz"sv, -1) == -1);
  BOOST_TEST(m.pop("a"sv) == 1);
  BOOST_TEST(m.pop("a"sv, -1) == -1);
  BOOST_TEST(m.erase("zz"sv) == 0u);
  BOOST_TEST(m.erase("b"sv) == 1u);
  BOOST_TEST(m.empty());
  m[a] = 3;
  BOOST_TEST(m.at(a) == 3); // the key's own forms still work
  BOOST_TEST(m.at(*a) == 3);
  a.reset();
  BOOST_TEST(!m.contains("a"sv)); // only live elements match
}

// [weakref.key.map.lookup]/6 operator[] yields the value itself (no proxy, as
// std::unordered_map), so m[k] = m[j] assigns j's value, as Python's d[k] = d[j].
BOOST_AUTO_TEST_CASE(subscript_assignment_copies_the_value) {
  map_t m;
  auto a = key("a"), b = key("b");
  m[b] = 2;
  m[a] = m[b];
  BOOST_TEST(m.at(*a) == 2);
  m[b] = 3;
  BOOST_TEST(m.at(*a) == 2); // a copy, not an alias
  m[a] = m[a];
  BOOST_TEST(m.at(*a) == 2);
}

// [weakref.key.map]/5 A value owning its own key makes a permanent element; debug builds of the
// module say so on stderr (the module and this test are built with the same NDEBUG).
BOOST_AUTO_TEST_CASE(value_owning_its_key_is_diagnosed_in_debug_builds) {
  weak_key_map<name_t, std::shared_ptr<name_t>> m;
  auto k = key("k"), other = key("other");
  const std::string quiet = weakref_test::capture_stderr([&] {
    m[k] = other;                 // assignment through operator[]: not seen
    m.insert_or_assign(other, k); // a value owning another key: fine
  });
  BOOST_TEST(quiet.empty());
  const std::string warned = weakref_test::capture_stderr([&] {
    m.insert_or_assign(k, k); // k's value now owns k
  });
  auto self = key("self");
  const std::string warned_on_insert =
      weakref_test::capture_stderr([&] { m.try_emplace(self, self); });
#ifdef NDEBUG
  BOOST_TEST(warned.empty());
  BOOST_TEST(warned_on_insert.empty());
#else
  BOOST_TEST(warned.find("a value owns its own key") != std::string::npos);
  BOOST_TEST(warned_on_insert.find("permanent entry") != std::string::npos);
#endif
  std::weak_ptr<name_t> watch = self;
  self.reset();
  BOOST_TEST(!watch.expired()); // the permanent element keeps it alive, as in Python
  m.clear();                    // until the element goes
  BOOST_TEST(watch.expired());
}

// Checks [weakref.containers.erasure]/1; [weakref.containers.general]/25;
// [weakref.containers.bucket]/9.
BOOST_AUTO_TEST_CASE(erase_if_swap_buckets_and_ranges) {
  map_t m, other;
  std::vector<std::shared_ptr<name_t>> owners;
  for (int i = 0; i < 40; ++i) {
    owners.push_back(key(std::to_string(i).c_str()));
    m[owners.back()] = i;
  }
  BOOST_TEST(erase_if(m, [](const auto& kv) { return kv.second % 4 != 0; }) == 30u);
  m.reserve(500);
  BOOST_TEST(m.bucket_count() * m.max_load_factor() >= 500.0f);
  swap(m, other);
  BOOST_TEST(other.size() == 10u);
  auto values = other | ranges::views::transform([](const auto& kv) { return kv.second; }) |
                ranges::views::filter([](int v) { return v >= 20; }) |
                ranges::to<std::vector<int>>();
  std::ranges::sort(values);
  BOOST_TEST(values == (std::vector<int>{20, 24, 28, 32, 36}), boost::test_tools::per_element());
  std::vector<std::pair<std::shared_ptr<name_t>, int>> source{{owners[1], 1}, {owners[2], 2}};
  map_t built(weakref::from_range, source);
  BOOST_TEST(built.size() == 2u);
}

// erase(it) erases at an iterator even when the policy would take the iterator as a key (a
// heterogeneous erase would be an exact match for it, and would erase nothing here, since
// any_equal matches nothing).
// Checks [weakref.containers.lookup]/5.
BOOST_AUTO_TEST_CASE(erase_at_an_iterator_is_not_a_heterogeneous_erase) {
  static_assert(std::same_as<decltype(std::declval<anything_map_t&>().erase(
                                 std::declval<anything_map_t::iterator>())),
                             anything_map_t::iterator>);
  static_assert(looks_up_by<anything_map_t, int>); // the policy does take anything
  auto a = key("a"), b = key("b");
  anything_map_t m;
  m[a] = 1;
  m[b] = 2;
  BOOST_TEST(m.erase(7) == 0u); // a heterogeneous erase: any_equal matches nothing
  const auto next = m.erase(m.begin());
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST((next == m.begin()));
  m.erase(anything_map_t::const_iterator(m.begin()));
  BOOST_TEST(m.empty());
}

// A reference to a value, from at(), operator[] or an iterator, stays valid while the key lives,
// across other elements' deaths and purges (no rehash happens here); an iterator keeps the key,
// and so the reference, alive after the key's last other owner is gone. (ASan checks that the
// writes land in live storage.)
// Checks [weakref.containers.general]/11.
BOOST_AUTO_TEST_CASE(a_reference_to_a_value_lives_as_long_as_its_key) {
  map_t m;
  m.reserve(64);
  auto a = key("a");
  int& by_subscript = m[a];
  int& by_at = m.at(*a);
  BOOST_TEST(&by_subscript == &by_at);
  std::vector<std::shared_ptr<name_t>> others;
  for (int i = 0; i < 8; ++i) {
    others.push_back(key(std::to_string(i).c_str()));
    m[others.back()] = i;
  }
  others.clear(); // eight deaths, reported
  BOOST_TEST(m.contains(*a));
  (void)m.find(*a); // and purged
  BOOST_TEST(m.size() == 1u);
  by_at = 42;
  BOOST_TEST(m.at(*a) == 42);

  auto it = m.find(*a);
  int& by_iterator = (*it).second;
  BOOST_TEST(&by_iterator == &by_at);
  a.reset(); // the iterator's pin is now the key's only owner
  BOOST_TEST(m.size() == 1u);
  by_iterator = 43;
  BOOST_TEST((*it).second == 43);
  it = m.end(); // the pin goes: the key dies
  BOOST_TEST(m.empty());
}

// The non-const at() purges first (the dead element's storage goes back to the allocator), the
// const one does not.
// Checks [weakref.key.map.lookup]/2.
BOOST_AUTO_TEST_CASE(non_const_at_purges) {
  allocation_stats stats;
  using alloc_t = counting_allocator<std::pair<const std::shared_ptr<name_t>, int>>;
  weak_key_map<name_t, int, std::hash<name_t>, std::equal_to<name_t>, alloc_t> m{alloc_t(&stats)};
  auto a = key("a"), b = key("b");
  m[a] = 1;
  m[b] = 2;
  b.reset();
  const std::size_t before = stats.deallocations;
  BOOST_TEST(std::as_const(m).at(*a) == 1);
  BOOST_TEST(std::as_const(m).at(a) == 1);
  BOOST_TEST(stats.deallocations == before);
  BOOST_TEST(m.at(*a) == 1);
  BOOST_TEST(stats.deallocations > before);
  BOOST_TEST(m.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(allocator)

// Checks [weakref.containers.general]/12 and /15; [weakref.key.map.cons]/1;
// [weakref.value.map.cons]/16.
BOOST_AUTO_TEST_CASE(counting_allocator_releases_everything) {
  allocation_stats stats;
  using alloc_t = counting_allocator<std::pair<const std::shared_ptr<name_t>, std::string>>;
  {
    weak_key_map<name_t, std::string, std::hash<name_t>, std::equal_to<name_t>, alloc_t> m{
        alloc_t(&stats)};
    std::vector<std::shared_ptr<name_t>> owners;
    for (int i = 0; i < 30; ++i) {
      owners.push_back(key(std::to_string(i).c_str()));
      m[owners.back()] = "value";
    }
    owners.resize(10);
    m.purge();
    BOOST_TEST(m.size() == 10u);
    auto moved = std::move(m);
    BOOST_TEST(moved.size() == 10u);
  }
  BOOST_TEST(stats.live_bytes == 0u);
  BOOST_TEST(stats.allocations == stats.deallocations);
}

// Checks [weakref.containers.general]/15; [weakref.key.map.modifiers]/1.
BOOST_AUTO_TEST_CASE(pmr_monotonic_resource) {
  std::pmr::monotonic_buffer_resource resource;
  weakref::pmr::weak_key_map<name_t, std::pmr::vector<int>> m(&resource);
  auto a = key("a");
  m[a].push_back(1);
  BOOST_TEST((m.at(*a).get_allocator().resource() == &resource)); // uses-allocator construction
  a.reset();
  BOOST_TEST(m.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()
