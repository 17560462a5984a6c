// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <concepts>
#include <optional>
#include <cstddef>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <memory_resource>
#include <ranges>
#include <string>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/filter.hpp>
#include <range/v3/view/transform.hpp>

#include "support.hpp"
import weakref;

using weakref::weak_value_map;
using weakref_test::accesses_by;
using weakref_test::allocation_stats;
using weakref_test::counting_allocator;
using weakref_test::looks_up_by;
using weakref_test::tracked;
using weakref_test::transparent_string_hash;
using weakref_test::walked;

namespace {

using map_t = weak_value_map<std::string, tracked>;

std::shared_ptr<tracked> obj(int v) { return weakref::make_shared<tracked>(v); }

using by_name_t = weak_value_map<std::string, tracked, transparent_string_hash, std::equal_to<>>;

} // namespace

// [weakref.containers.lookup]/3 A key-comparable type is taken only where Hash and KeyEqual are
// transparent, as std::unordered_map's heterogeneous lookup.
static_assert(looks_up_by<by_name_t, std::string_view> && accesses_by<by_name_t, std::string_view>);
static_assert(!looks_up_by<map_t, std::string_view> && !accesses_by<map_t, std::string_view>);
// Keys are held strongly: there is no lookup by an owner.
static_assert(!looks_up_by<map_t, std::shared_ptr<std::string>>);

static_assert(std::ranges::forward_range<map_t>);
static_assert(std::ranges::forward_range<const map_t>);
static_assert(!std::ranges::sized_range<map_t>);
static_assert(std::forward_iterator<map_t::iterator>);
static_assert(std::same_as<std::ranges::range_value_t<map_t>,
                           std::pair<const std::string, std::shared_ptr<tracked>>>);

BOOST_AUTO_TEST_SUITE(value_map)

BOOST_AUTO_TEST_SUITE(python)

// PY-WVD-1 "Entries in the dictionary will be discarded when no strong reference to the value
// exists any more." PY-INTRO-1: the map does not keep its values alive.
// Checks [weakref.value.map]/1; [weakref.containers.general]/5 and /7.
BOOST_AUTO_TEST_CASE(entry_discarded_when_value_dies) {
  map_t m;
  auto a = obj(1);
  auto b = obj(2);
  m["a"] = a;
  m["b"] = b;
  BOOST_TEST(m.size() == 2u);
  BOOST_TEST(a.use_count() == 1);
  a.reset();
  BOOST_TEST(tracked::alive == 1);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(!m.contains("a"));
  BOOST_TEST(m.contains("b"));
  BOOST_TEST(walked(m) == 1u);
}

// The id2obj example of the Python doc: remember(obj) stores obj under its id; id2obj(oid)
// returns it while it lives, and raises KeyError once it is gone.
// Checks [weakref.value.map.subscript]/1 and /4-6.
BOOST_AUTO_TEST_CASE(id2obj_example) {
  weak_value_map<const void*, tracked> id2obj_dict;
  auto remember = [&](const std::shared_ptr<tracked>& o) {
    const void* oid = o.get();
    id2obj_dict[oid] = o;
    return oid;
  };
  auto id2obj = [&](const void* oid) -> std::shared_ptr<tracked> { return id2obj_dict[oid]; };
  auto o = obj(7);
  const void* oid = remember(o);
  BOOST_TEST(id2obj(oid) == o);
  o.reset();
  BOOST_CHECK_THROW(id2obj(oid), weakref::key_error);
}

// bpo-28427: a stale death never removes a newer value stored under the same key.
// Checks [weakref.value.map.modifiers]/8; [weakref.containers.general]/5.
BOOST_AUTO_TEST_CASE(stale_death_keeps_newer_value) {
  map_t m;
  auto old_value = obj(1);
  auto new_value = obj(2);
  m["k"] = old_value;
  m["k"] = new_value; // replaces; the old entry is gone
  old_value.reset();  // its death must not touch the new entry
  BOOST_TEST(m.at("k") == new_value);
  // And while the old value is still alive, only the new one is reachable.
  auto older = obj(3);
  auto newer = obj(4);
  m["j"] = older;
  m.insert_or_assign(std::string("j"), newer);
  BOOST_TEST(m.at("j") == newer);
  older.reset();
  BOOST_TEST(m.at("j") == newer);
}

namespace {
// A key whose copies, while `armed`, look the map up (user code that re-enters the container as
// its key is built), and a KeyEqual that, while `drop` is set, drops the owner it points to:
// between them they end the replaced value's life inside insert_or_assign.
struct reentrant_key {
  int id;
  static inline weak_value_map<reentrant_key, tracked, struct reentrant_hash,
                               struct reentrant_equal>* map = nullptr;
  static inline bool armed = false;
  explicit reentrant_key(int i) : id(i) {}
  reentrant_key(const reentrant_key& other);
};
struct reentrant_hash {
  std::size_t operator()(const reentrant_key& k) const { return std::hash<int>{}(k.id); }
};
struct reentrant_equal {
  static inline std::shared_ptr<tracked>* drop = nullptr;
  bool operator()(const reentrant_key& a, const reentrant_key& b) const {
    if (drop != nullptr) std::exchange(drop, nullptr)->reset();
    return a.id == b.id;
  }
};
reentrant_key::reentrant_key(const reentrant_key& other) : id(other.id) {
  if (armed) {
    armed = false;
    (void)map->erase(reentrant_key(-1)); // purges the map
  }
}
} // namespace

// [weakref.containers.general]/8: a replacement whose old value loses its last other owner
// during the lookup (here the KeyEqual drops it; in a program, another thread) keeps that
// element pinned until it is gone. Released early, the pin ran the old value's death inside
// insert_or_assign, and the new key's construction (user code) purged the map and freed the old
// entry before insert_or_assign erased it, whose erase then walked its chain past the end (a
// null dereference, seen). Fails if insert_or_assign drops the lookup's pin at once (the mutant
// replace-drops-the-old-pin).
BOOST_AUTO_TEST_CASE(replaced_value_dying_during_the_replacement_is_erased_once) {
  weak_value_map<reentrant_key, tracked, reentrant_hash, reentrant_equal> m;
  reentrant_key::map = &m;
  auto old_value = obj(1);
  auto new_value = obj(2);
  const reentrant_key key(7);
  m.insert_or_assign(key, old_value);
  reentrant_equal::drop = &old_value; // the lookup's comparison drops the old value's owner
  reentrant_key::armed = true;        // the new entry's key copy then purges the map
  m.insert_or_assign(key, new_value);
  reentrant_key::armed = false;
  reentrant_equal::drop = nullptr;
  BOOST_TEST(old_value == nullptr);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(m.get(key) == new_value);
  m.clear();
  reentrant_key::map = nullptr;
}

// bpo-28427 with a dead entry still in the table: inserting under its key makes a new entry,
// and purging the dead one leaves the new one.
// Checks [weakref.value.map.modifiers]/8; [weakref.containers.general]/5 and /9.
BOOST_AUTO_TEST_CASE(dead_entry_and_new_entry_under_one_key) {
  map_t m;
  auto v1 = obj(1);
  auto keep = obj(0);
  std::optional<weakref::weak_ref<tracked>> watcher;
  // Kill v1 inside another ref's callback, i.e. while its death is being reported: the entry
  // is dead but possibly not yet purged when we insert again.
  m["k"] = v1;
  auto v2 = obj(2);
  weakref::weak_ref<tracked> probe(v1, [&](weakref::weak_ref<tracked>) { m["k"] = v2; });
  v1.reset();
  BOOST_TEST(m.at("k") == v2);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(walked(m) == 1u);
}

// [weakref.containers.union] Python 3.9 (PEP 584): a | b is a copy of a updated with b, a |= b
// updates a; the right operand's values win (PY3-UNION-1, -2, -3).
// Checks [weakref.containers.union]/1-2, /4-5 and /7-8; [weakref.value.map.overview]/1.
BOOST_AUTO_TEST_CASE(union_operators_right_operand_wins) {
  map_t a, b;
  auto x = obj(1), y = obj(2), z = obj(3);
  a["k"] = x;
  a["only_a"] = z;
  b["k"] = y;
  const map_t c = a | b;
  BOOST_TEST(c.size() == 2u);
  BOOST_TEST(c.at("k") == y);
  BOOST_TEST(c.at("only_a") == z);
  BOOST_TEST(a.at("k") == x); // the operands are unchanged
  BOOST_TEST(b.size() == 1u);
  BOOST_TEST((b | a).at("k") == x);
  a |= b;
  BOOST_TEST(a.at("k") == y);
  a |= std::vector<std::pair<std::string, std::shared_ptr<tracked>>>{{"v", x}};
  a |= {{"w", z}};
  BOOST_TEST(a.at("v") == x);
  BOOST_TEST(a.at("w") == z);
  // A plain range of pairs on the left gives a weak map; the map on the right wins.
  const std::vector<std::pair<std::string, std::shared_ptr<tracked>>> plain{{"k", x}, {"p", z}};
  const map_t mixed = plain | b;
  BOOST_TEST(mixed.size() == 2u);
  BOOST_TEST(mixed.at("k") == y);
  BOOST_TEST(mixed.at("p") == z);
  const map_t moved = std::move(a) | b;
  BOOST_TEST(moved.size() == 4u);
  y.reset(); // each result holds weak references of its own
  BOOST_TEST(!c.contains("k"));
  BOOST_TEST(!moved.contains("k"));
  // Only ranges of pairs: a | 1 does not compile, and range adaptors still pipe.
  static_assert(!weakref_test::unites_with<map_t, int>);
  static_assert(!weakref_test::unites_with<map_t, std::vector<int>>);
  static_assert(weakref_test::unites_with<map_t, map_t>);
  // Another weak map type on the right is a range of pairs, not a left operand (no ambiguity).
  static_assert(
      weakref_test::unites_with<map_t, weakref::pmr::weak_value_map<std::string, tracked>>);
  static_assert(requires(const map_t& m) { m | std::views::take(1); }); // adaptors still pipe
}

// Python: get, setdefault, pop, popitem, update, copy, ==.
// Checks [weakref.value.map.python]/1, /5-6, /9-11, /13-15, /17 and /20; [weakref.error.key]/1.
BOOST_AUTO_TEST_CASE(python_methods) {
  map_t m;
  auto a = obj(1), b = obj(2), c = obj(3);
  BOOST_TEST(m.get("a") == nullptr);
  BOOST_TEST(m.get("a", c) == c);
  BOOST_TEST(m.setdefault("a", a) == a);
  BOOST_TEST(m.setdefault("a", b) == a); // present: unchanged
  m.update(std::vector<std::pair<std::string, std::shared_ptr<tracked>>>{{"b", b}, {"a", c}});
  BOOST_TEST(m.at("a") == c); // update replaces
  BOOST_TEST(m.at("b") == b);
  map_t copy = m.copy();
  BOOST_TEST((copy == m));
  BOOST_TEST(m.pop("a") == c);
  BOOST_CHECK_THROW(m.pop("a"), weakref::key_error);
  BOOST_TEST(m.pop("a", a) == a);
  BOOST_TEST((copy != m));
  auto [key, value] = m.popitem();
  BOOST_TEST(key == "b");
  BOOST_TEST(value == b);
  BOOST_TEST(m.empty());
  BOOST_CHECK_THROW(m.popitem(), weakref::key_error);
  // The copy holds its own weak references: it is unaffected by m and drops with the values.
  BOOST_TEST(copy.size() == 2u);
  c.reset();
  BOOST_TEST(copy.size() == 1u);
}

// Python dict equality for WeakValueDictionary: same keys and equal values (not identity).
// Checks [weakref.value.map.eq]/1.
BOOST_AUTO_TEST_CASE(equality_compares_values) {
  map_t x, y;
  auto a = obj(5), a2 = obj(5), b = obj(6);
  x["k"] = a;
  y["k"] = a2;
  BOOST_TEST((x == y));
  y["k"] = b;
  BOOST_TEST((x != y));
  y["k"] = a2;
  y["extra"] = b;
  BOOST_TEST((x != y));
  b.reset(); // the extra entry dies: the maps are equal again
  BOOST_TEST((x == y));
}

// PY-WVD-3 "itervaluerefs() ... valuerefs()": the references themselves, which may be dead
// when used; they are the map's own (counted once by weak_ref_count).
// Checks [weakref.value.map.python]/21-23.
BOOST_AUTO_TEST_CASE(valuerefs_may_die_after_they_are_taken) {
  map_t m;
  auto a = obj(1), b = obj(2);
  m["a"] = a;
  m["b"] = b;
  BOOST_TEST(weakref::weak_ref_count(a) == 1u);
  std::vector<weakref::weak_ref<tracked>> refs = m.valuerefs();
  BOOST_TEST(refs.size() == 2u);
  BOOST_TEST(weakref::weak_ref_count(a) == 1u); // handles to the existing registration
  a.reset();
  std::size_t alive = 0;
  for (const auto& r : refs)
    if (auto v = r()) ++alive;
  BOOST_TEST(alive == 1u);
  std::size_t lazily = 0;
  for (weakref::weak_ref<tracked> r : m.itervaluerefs()) {
    BOOST_TEST(r().get() == b.get());
    ++lazily;
  }
  BOOST_TEST(lazily == 1u);
  static_assert(std::ranges::forward_range<decltype(m.itervaluerefs())>);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(iteration)

// PY-WVD-2 (the doc's caution about entries vanishing "by magic" while iterating): here a death
// in the loop body never invalidates the iteration, never yields a dead entry, and never skips
// a live one; the visited value is pinned.
// Checks [weakref.containers.general]/5; [weakref.value.map.iter]/2; [weakref.value.map]/4.
BOOST_AUTO_TEST_CASE(deaths_during_iteration_are_safe) {
  weak_value_map<int, tracked> m;
  std::vector<std::shared_ptr<tracked>> owners;
  for (int i = 0; i < 100; ++i) {
    owners.push_back(obj(i));
    m[i] = owners.back();
  }
  std::vector<int> seen;
  for (auto [key, value] : m) {
    BOOST_TEST(value->value == key); // never a dead entry
    seen.push_back(key);
    owners[static_cast<std::size_t>(key)].reset(); // the visited value dies only when unpinned
    BOOST_TEST(value.use_count() >= 1);
    if (key % 2 == 0) // kill some not yet visited ones, too
      for (int k = key + 1; k < 100 && k < key + 4; k += 2)
        owners[static_cast<std::size_t>(k)].reset();
  }
  // Every entry alive when the loop began and not killed before its visit was seen.
  std::ranges::sort(seen);
  BOOST_TEST((std::ranges::adjacent_find(seen) == seen.end()));
  for (int k : seen) BOOST_TEST(k >= 0);
  BOOST_TEST(m.size() == 0u);
  BOOST_TEST(m.empty());
  BOOST_TEST(tracked::alive == 0);
}

// The element being visited stays alive while the iterator points at it.
// Checks [weakref.containers.general]/5; [weakref.value.map.iter]/2.
BOOST_AUTO_TEST_CASE(iterator_pins_the_current_value) {
  weak_value_map<int, tracked> m;
  auto v = obj(1);
  m[1] = v;
  auto it = m.begin();
  v.reset();
  BOOST_TEST(tracked::alive == 1);
  BOOST_TEST(it->second->value == 1);
  it = m.end();
  BOOST_TEST(tracked::alive == 0);
  BOOST_TEST(m.empty());
}

// An increment that releases the last owner of the visited value runs that death's callbacks
// once the iterator has reached its next position: here a callback purges the container, whose
// dead elements (all but the visited one, dead and not yet purged) the increment walks past. It
// fails (ASan: heap-use-after-free) if the increment released the pin before it had walked them.
// Checks [weakref.containers.general]/5 and /14; [weakref.value.map.iter]/2.
BOOST_AUTO_TEST_CASE(an_increment_that_ends_a_life_may_purge_the_container) {
  weak_value_map<int, tracked> m;
  std::vector<std::shared_ptr<tracked>> owners;
  for (int i = 0; i < 8; ++i) {
    owners.push_back(obj(i));
    m[i] = owners.back();
  }
  auto it = m.begin();
  const auto visited = static_cast<std::size_t>(it->first);
  int purges = 0;
  weakref::weak_ref<tracked> probe(owners[visited], [&](weakref::weak_ref<tracked>) {
    m.purge();
    ++purges;
  });
  for (auto& owner : owners) owner.reset(); // every other value dies; the visited one is pinned
  BOOST_TEST(tracked::alive == 1);
  BOOST_TEST(m.size() == 1u);
  ++it;
  BOOST_TEST(purges == 1);
  BOOST_TEST((it == m.end()));
  BOOST_TEST(m.empty());
  BOOST_TEST(tracked::alive == 0);
}

// [weakref.containers.general]/7: size() counts entries whose death has not been reported;
// purging happens on the next non-const operation.
BOOST_AUTO_TEST_CASE(size_is_exact_after_each_death) {
  weak_value_map<int, tracked> m;
  std::vector<std::shared_ptr<tracked>> owners;
  for (int i = 0; i < 10; ++i) {
    owners.push_back(obj(i));
    m[i] = owners.back();
  }
  for (int i = 0; i < 10; ++i) {
    owners[static_cast<std::size_t>(i)].reset();
    BOOST_TEST(m.size() == static_cast<std::size_t>(9 - i));
    BOOST_TEST(walked(std::as_const(m)) == m.size());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cpp_api)

// Checks [weakref.value.map.modifiers]/1-3, /8-9, /13-14 and /18-19;
// [weakref.value.map.lookup]/2 and /6-7.
BOOST_AUTO_TEST_CASE(lookup_and_modifiers) {
  map_t m;
  auto a = obj(1), b = obj(2);
  auto [it, inserted] = m.insert({"a", a});
  BOOST_TEST(inserted);
  BOOST_TEST(it->first == "a");
  BOOST_TEST(it->second == a);
  BOOST_TEST(!m.insert({"a", b}).second); // insert does not replace
  BOOST_TEST(!m.emplace("a", b).second);
  BOOST_TEST(!m.try_emplace("a", b).second);
  BOOST_TEST(m.try_emplace("b", b).second);
  BOOST_TEST(m.count("a") == 1u);
  BOOST_TEST(m.count("z") == 0u);
  BOOST_TEST((m.find("z") == m.end()));
  BOOST_TEST(m.find("b")->second == b);
  BOOST_TEST(m.at("a") == a);
  BOOST_CHECK_THROW(m.at("z"), weakref::key_error);
  BOOST_TEST(!m.insert_or_assign(std::string("a"), b).second);
  BOOST_TEST(m.at("a") == b);
  BOOST_TEST(!m.insert_or_assign("a", a).second); // a key convertible to K, as std::unordered_map
  BOOST_TEST(m.at("a") == a);
  const std::string key_a = "a";
  BOOST_TEST(!m.insert_or_assign(key_a, b).second);
  BOOST_TEST(std::as_const(m).at("a") == b);
  {
    auto [first, last] = m.equal_range("a");
    BOOST_TEST(std::ranges::distance(first, last) == 1);
    BOOST_TEST(first->second == b);
    auto [none, none_end] = std::as_const(m).equal_range("z");
    BOOST_TEST((none == none_end));
  }
  BOOST_TEST(m.erase("a") == 1u);
  BOOST_TEST(m.erase("a") == 0u);
  auto next = m.erase(m.find("b"));
  BOOST_TEST((next == m.end()));
  BOOST_TEST(m.empty());
  BOOST_CHECK_THROW(m.insert({"x", std::make_shared<tracked>(1)}), weakref::type_error);
  BOOST_CHECK_THROW(m.insert({"x", nullptr}), weakref::type_error);
  BOOST_TEST(m.empty());
}

// [weakref.containers.lookup]/3 With a transparent Hash and KeyEqual, find, contains, count,
// equal_range, at, erase, get and pop take what they take: here std::string_view, from which no
// std::string is made. Only live elements match.
// Checks [weakref.value.map.lookup]/9.
BOOST_AUTO_TEST_CASE(transparent_policy_looks_up_by_another_type) {
  using namespace std::string_view_literals;
  by_name_t m;
  auto a = obj(1), b = obj(2);
  m["a"] = a;
  m["b"] = b;
  m["dead"] = obj(3);
  BOOST_TEST(m.contains("a"sv));
  BOOST_TEST(!m.contains("dead"sv));
  BOOST_TEST(m.count("b"sv) == 1u);
  BOOST_TEST(m.find("a"sv)->second == a);
  BOOST_TEST((std::as_const(m).find("zz"sv) == m.end()));
  {
    auto [first, last] = m.equal_range("b"sv);
    BOOST_TEST(std::ranges::distance(first, last) == 1);
    auto [none, none_end] = std::as_const(m).equal_range("dead"sv);
    BOOST_TEST((none == none_end));
  }
  BOOST_TEST(m.at("a"sv) == a);
  BOOST_TEST(std::as_const(m).at("b"sv) == b);
  BOOST_CHECK_THROW(m.at("dead"sv), weakref::key_error);
  BOOST_TEST(m.get("a"sv) == a);
  BOOST_TEST(m.get("zz"sv, b) == b);
  BOOST_TEST(m.pop("a"sv) == a);
  BOOST_CHECK_THROW(m.pop("a"sv), weakref::key_error);
  BOOST_TEST(m.pop("a"sv, b) == b);
  BOOST_TEST(m.erase("zz"sv) == 0u);
  BOOST_TEST(m.erase("b"sv) == 1u);
  BOOST_TEST(m.empty());
  m["a"] = a;
  BOOST_TEST(m.at("a") == a); // the key's own form still works
}

// [weakref.value.map.lookup]/5 The non-const at() purges first, the const one never does: the
// dead entry's memory is returned to the allocator only by the former.
BOOST_AUTO_TEST_CASE(non_const_at_purges) {
  allocation_stats stats;
  using alloc_t = counting_allocator<std::pair<const int, std::shared_ptr<tracked>>>;
  weak_value_map<int, tracked, std::hash<int>, std::equal_to<int>, alloc_t> m{alloc_t(&stats)};
  auto a = obj(1), b = obj(2);
  m[1] = a;
  m[2] = b;
  b.reset();
  const std::size_t before = stats.deallocations;
  BOOST_TEST(std::as_const(m).at(1) == a);
  BOOST_TEST(stats.deallocations == before);
  BOOST_TEST(m.at(1) == a);
  BOOST_TEST(stats.deallocations > before);
  BOOST_TEST(m.size() == 1u);
}

// The non-const find and equal_range purge (the dead element's storage goes back to the
// allocator), the const ones do not; get never purges, being const; cbegin() is the const begin():
// it does not purge either, and finds the same first element.
// Checks [weakref.value.map.lookup]/1; [weakref.value.map.python]/2; [weakref.value.map.iter]/4.
BOOST_AUTO_TEST_CASE(which_lookups_purge) {
  allocation_stats stats;
  using alloc_t = counting_allocator<std::pair<const int, std::shared_ptr<tracked>>>;
  using counted_t = weak_value_map<int, tracked, std::hash<int>, std::equal_to<int>, alloc_t>;
  auto a = obj(1);
  const auto with_a_dead_element = [&] {
    counted_t m{alloc_t(&stats)};
    m[1] = a;
    auto b = obj(2);
    m[2] = b;
    return m; // b dies here: its death is reported, its element not yet purged
  };
  const auto purged_by = [&](auto op) {
    counted_t m = with_a_dead_element();
    const std::size_t before = stats.deallocations;
    op(m);
    return stats.deallocations > before;
  };
  BOOST_TEST(purged_by([&](counted_t& m) { BOOST_TEST(m.find(1)->second == a); }));
  BOOST_TEST(purged_by([&](counted_t& m) { BOOST_TEST((m.equal_range(1).first == m.find(1))); }));
  BOOST_TEST(!purged_by([&](counted_t& m) {
    BOOST_TEST(std::as_const(m).find(1)->second == a);
    BOOST_TEST(std::ranges::distance(std::as_const(m).equal_range(1).first,
                                     std::as_const(m).equal_range(1).second) == 1);
  }));
  BOOST_TEST(!purged_by([&](counted_t& m) {
    BOOST_TEST(m.get(1) == a);
    BOOST_TEST(m.get(2) == nullptr);
  }));
  BOOST_TEST(!purged_by([&](counted_t& m) {
    static_assert(std::same_as<decltype(m.cbegin()), counted_t::const_iterator>);
    BOOST_TEST((m.cbegin() == std::as_const(m).begin()));
    BOOST_TEST(m.cbegin()->second == a);
  }));
  BOOST_TEST(purged_by([&](counted_t& m) { BOOST_TEST(m.begin()->second == a); }));
}

// Range insertion into a map that has elements: each element as by insert(x), so an existing
// live key keeps its value, a key whose value died is inserted again, and of two equal keys in
// the range the first wins.
// Checks [weakref.value.map.modifiers]/5.
BOOST_AUTO_TEST_CASE(range_insertion_into_an_existing_map) {
  auto a = obj(1), b = obj(2), c = obj(3), d = obj(4);
  const std::vector<std::pair<const std::string, std::shared_ptr<tracked>>> more{
      {"a", b}, {"c", c}, {"c", d}, {"dead", d}};
  const auto fresh = [&] {
    map_t m;
    m["a"] = a;
    auto gone = obj(9);
    m["dead"] = gone;
    return m;
  };
  const auto check = [&](const map_t& m) {
    BOOST_TEST(m.size() == 3u);
    BOOST_TEST(m.at("a") == a);
    BOOST_TEST(m.at("c") == c);
    BOOST_TEST(m.at("dead") == d);
  };
  map_t m1 = fresh();
  m1.insert(more.begin(), more.end());
  check(m1);
  map_t m2 = fresh();
  m2.insert_range(more);
  check(m2);
  map_t m3 = fresh();
  m3.insert({{"a", b}, {"c", c}, {"c", d}, {"dead", d}});
  check(m3);
}

// Assigning an initializer list returns the map itself, which then holds just those elements.
// Checks [weakref.value.map.cons]/4-5.
BOOST_AUTO_TEST_CASE(assigning_an_initializer_list_returns_the_map) {
  auto a = obj(1), b = obj(2);
  map_t m;
  m["old"] = a;
  map_t& result = (m = {{"x", a}, {"y", b}});
  BOOST_TEST(&result == &m);
  BOOST_TEST(m.size() == 2u);
  BOOST_TEST(!m.contains("old"));
  BOOST_TEST(result.at("y") == b);
}

// Move assignment is noexcept exactly when the allocators always compare equal or propagate.
// Checks [weakref.value.map.cons]/15.
BOOST_AUTO_TEST_CASE(move_assignment_exception_specification) {
  using stateful_t =
      weak_value_map<int, tracked, std::hash<int>, std::equal_to<int>,
                     counting_allocator<std::pair<const int, std::shared_ptr<tracked>>>>;
  using pmr_t = weak_value_map<
      int, tracked, std::hash<int>, std::equal_to<int>,
      std::pmr::polymorphic_allocator<std::pair<const int, std::shared_ptr<tracked>>>>;
  static_assert(std::is_nothrow_move_assignable_v<map_t>);       // std::allocator: always equal
  static_assert(!std::is_nothrow_move_assignable_v<stateful_t>); // neither equal nor propagated
  static_assert(!std::is_nothrow_move_assignable_v<pmr_t>);
  // What the specification reflects: unequal allocators that do not propagate move element by
  // element, which allocates.
  allocation_stats s1, s2;
  using alloc_t = counting_allocator<std::pair<const int, std::shared_ptr<tracked>>>;
  stateful_t from{alloc_t(&s1)}, to{alloc_t(&s2)};
  auto a = obj(1);
  from[1] = a;
  const std::size_t before = s2.allocations;
  to = std::move(from);
  BOOST_TEST(s2.allocations > before);
  BOOST_TEST(to.at(1) == a);
}

// Checks [weakref.containers.erasure]/1; [weakref.containers.general]/25;
// [weakref.containers.bucket]/2 and /8-9.
BOOST_AUTO_TEST_CASE(erase_if_swap_and_buckets) {
  weak_value_map<int, tracked> m, other;
  std::vector<std::shared_ptr<tracked>> owners;
  for (int i = 0; i < 50; ++i) {
    owners.push_back(obj(i));
    m[i] = owners.back();
  }
  BOOST_TEST(erase_if(m, [](const auto& kv) { return kv.first % 2 == 0; }) == 25u);
  BOOST_TEST(m.size() == 25u);
  m.reserve(1000);
  BOOST_TEST(m.bucket_count() * m.max_load_factor() >= 1000.0f);
  m.rehash(0);
  BOOST_TEST(m.load_factor() <= m.max_load_factor());
  swap(m, other);
  BOOST_TEST(m.empty());
  BOOST_TEST(other.size() == 25u);
  BOOST_TEST(other.at(1) == owners[1]);
}

// A maximum load factor that is not positive is refused with invalid_argument, and the map keeps
// its maximum load factor and its buckets.
// Checks [weakref.containers.bucket]/6.
BOOST_AUTO_TEST_CASE(a_non_positive_max_load_factor_is_refused) {
  map_t m;
  auto a = obj(1);
  m["a"] = a;
  m.max_load_factor(2.0f);
  const std::size_t buckets = m.bucket_count();
  BOOST_CHECK_THROW(m.max_load_factor(0.0f), std::invalid_argument);
  BOOST_CHECK_THROW(m.max_load_factor(-1.0f), std::invalid_argument);
  BOOST_TEST(m.max_load_factor() == 2.0f);
  BOOST_TEST(m.bucket_count() == buckets);
  BOOST_TEST(m.at("a") == a);
}

// An element that dies while erase_if runs, before the iteration reaches it, is never passed to
// the predicate; the one being tested is pinned while the predicate runs, even if the predicate
// releases its last other owner.
// Checks [weakref.containers.erasure]/2.
BOOST_AUTO_TEST_CASE(erase_if_skips_elements_that_die_during_the_call) {
  weak_value_map<int, tracked> m;
  std::vector<std::shared_ptr<tracked>> owners;
  for (int i = 0; i < 5; ++i) {
    owners.push_back(obj(i));
    m[i] = owners.back();
  }
  int calls = 0;
  bool pinned = false;
  const std::size_t erased = erase_if(m, [&](const auto& kv) {
    ++calls;
    owners.clear(); // every value's only other owner: all but the pinned one die at once
    pinned = kv.second != nullptr && kv.second->value == kv.first;
    return false;
  });
  BOOST_TEST(erased == 0u);
  BOOST_TEST(calls == 1);
  BOOST_TEST(pinned);
  BOOST_TEST(m.size() == 0u); // the pinned one died when the predicate's argument was released
}

// a | b and a |= b with a pair whose value is empty or not weakly referenceable throw
// type_error: | leaves its operands unchanged; |= keeps the pairs updated before the bad one.
// Checks [weakref.containers.union]/10.
BOOST_AUTO_TEST_CASE(union_with_a_pair_that_cannot_be_held_throws_type_error) {
  auto a = obj(1), b = obj(2);
  map_t m;
  m["a"] = a;
  using pairs = std::vector<std::pair<const std::string, std::shared_ptr<tracked>>>;
  const pairs empty_value{{"b", b}, {"x", nullptr}};
  const pairs foreign_value{{"b", b}, {"x", std::make_shared<tracked>(3)}};
  BOOST_CHECK_THROW((void)(m | empty_value), weakref::type_error);
  BOOST_CHECK_THROW((void)(m | foreign_value), weakref::type_error);
  BOOST_CHECK_THROW((void)(empty_value | m), weakref::type_error);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(weakref::weak_ref_count(b) == 0u); // the partial results are gone
  BOOST_CHECK_THROW(m |= empty_value, weakref::type_error);
  BOOST_TEST(m.size() == 2u);
  BOOST_TEST(m.at("b") == b);
  BOOST_TEST(!m.contains("x"));
  m.erase("b");
  BOOST_CHECK_THROW(m |= foreign_value, weakref::type_error);
  BOOST_TEST(m.size() == 2u);
  BOOST_TEST(!m.contains("x"));
}

// Construction from iterators, ranges (weakref::from_range), initializer lists; range-v3 views
// and conversion.
// Checks [weakref.containers.general]/1; [weakref.value.map.cons]/1.
BOOST_AUTO_TEST_CASE(range_construction_and_views) {
  auto a = obj(1), b = obj(2), c = obj(3);
  std::map<std::string, std::shared_ptr<tracked>> source{{"a", a}, {"b", b}, {"c", c}};
  map_t from_iters(source.begin(), source.end());
  map_t from_range(weakref::from_range, source);
  map_t from_list{{"a", a}, {"b", b}};
  BOOST_TEST(from_iters.size() == 3u);
  BOOST_TEST((from_range == from_iters));
  BOOST_TEST(from_list.size() == 2u);
  auto big = from_range |
             ranges::views::filter([](const auto& kv) { return kv.second->value > 1; }) |
             ranges::views::transform([](const auto& kv) { return kv.first; }) |
             ranges::to<std::vector<std::string>>();
  std::ranges::sort(big);
  BOOST_TEST(big == (std::vector<std::string>{"b", "c"}), boost::test_tools::per_element());
  auto keys = from_range | std::views::keys;
  BOOST_TEST(std::ranges::distance(keys) == 3);
}

BOOST_AUTO_TEST_SUITE_END()

// [weakref.value.map.subscript] m[k] behaves as Python's d[k]: read, it is the live value or
// key_error; assigned, it is d[k] = v; assigned from another subscript, it reads that one first.
BOOST_AUTO_TEST_SUITE(subscript)

// Python: d["x"] = d["y"] gives "x" the value of "y", whether or not "x" was present.
// Checks [weakref.value.map.subscript]/9.
BOOST_AUTO_TEST_CASE(assigning_a_subscript_copies_its_value) {
  map_t m;
  auto a = obj(1), b = obj(2);
  m["y"] = b;
  m["x"] = m["y"]; // "x" absent
  BOOST_TEST(m.at("x") == b);
  m["y"] = a;
  m["x"] = m["y"]; // "x" present: replaced
  BOOST_TEST(m.at("x") == a);
  BOOST_TEST(m.at("y") == a);
  m["x"] = m["x"]; // its own value
  BOOST_TEST(m.at("x") == a);
  map_t other;
  other["z"] = b;
  m["x"] = other["z"]; // from another map
  BOOST_TEST(m.at("x") == b);
  BOOST_TEST(m.size() == 2u);
}

// Python: d["x"] = d["missing"] raises KeyError and leaves d unchanged; so does a key whose
// value has died (PY-WVD-1: the entry is gone).
// Checks [weakref.value.map.subscript]/10.
BOOST_AUTO_TEST_CASE(assigning_a_missing_subscript_raises_key_error) {
  map_t m;
  auto a = obj(1);
  m["x"] = a;
  BOOST_CHECK_THROW(m["x"] = m["missing"], weakref::key_error);
  BOOST_CHECK_THROW(m["new"] = m["missing"], weakref::key_error);
  m["dead"] = obj(2); // nothing else owns it: dies at once
  BOOST_CHECK_THROW(m["x"] = m["dead"], weakref::key_error);
  BOOST_TEST(m.at("x") == a);
  BOOST_TEST(!m.contains("new"));
  BOOST_TEST(!m.contains("missing"));
  BOOST_TEST(m.size() == 1u);
}

// Python: d[a] = d[b] = v binds both names to v.
// Checks [weakref.value.map.subscript]/7 and /9.
BOOST_AUTO_TEST_CASE(chained_assignment_assigns_every_target) {
  map_t m;
  auto v = obj(7);
  m["a"] = m["b"] = v;
  BOOST_TEST(m.at("a") == v);
  BOOST_TEST(m.at("b") == v);
}

// A subscript result names its key for as long as it lives: after r = v it still reads and
// assigns the element of that key (it used to give its key away to the element it inserted).
// Checks [weakref.value.map.subscript]/1 and /4-7; [weakref.error.key]/1.
BOOST_AUTO_TEST_CASE(a_subscript_result_keeps_its_key) {
  map_t m;
  auto a = obj(1), b = obj(2);
  auto r = m["x"];
  BOOST_CHECK_THROW(r.get(), weakref::key_error); // Python: d["x"] raises KeyError
  r = a;
  BOOST_TEST(r.get() == a);
  BOOST_TEST(std::shared_ptr<tracked>(r) == a);
  r = b;
  BOOST_TEST(m.at("x") == b);
  BOOST_TEST(r.get() == b);
  BOOST_TEST(!m.contains(""));
  BOOST_TEST(m.size() == 1u);
  b.reset();
  BOOST_CHECK_THROW(r.get(), weakref::key_error); // the value died: the key is absent again
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(allocator)

// Checks [weakref.containers.general]/15 and /18; [weakref.value.map.cons]/8 and /16.
BOOST_AUTO_TEST_CASE(counting_allocator_releases_everything) {
  allocation_stats stats;
  using alloc_t = counting_allocator<std::pair<const int, std::shared_ptr<tracked>>>;
  {
    weak_value_map<int, tracked, std::hash<int>, std::equal_to<int>, alloc_t> m{alloc_t(&stats)};
    std::vector<std::shared_ptr<tracked>> owners;
    for (int i = 0; i < 100; ++i) {
      owners.push_back(obj(i));
      m[i] = owners.back();
    }
    BOOST_TEST(stats.allocations > 100u);
    BOOST_TEST((m.get_allocator() == alloc_t(&stats)));
    owners.resize(50); // half the values die
    BOOST_TEST(m.size() == 50u);
    auto copy = m;
    BOOST_TEST((copy.get_allocator() == alloc_t(&stats)));
  }
  BOOST_TEST(stats.live_bytes == 0u);
  BOOST_TEST(stats.allocations == stats.deallocations);
}

// [weakref.containers.general]/15 Keys are built by uses-allocator construction: a pmr key's
// buffer comes from the container's resource (the only allocation of 1000+ bytes here).
BOOST_AUTO_TEST_CASE(pmr_resource_serves_entries_and_keys) {
  struct recording_resource : std::pmr::memory_resource {
    std::vector<std::size_t> sizes;
    std::pmr::memory_resource* upstream = std::pmr::new_delete_resource();
    void* do_allocate(std::size_t n, std::size_t a) override {
      sizes.push_back(n);
      return upstream->allocate(n, a);
    }
    void do_deallocate(void* p, std::size_t n, std::size_t a) override {
      upstream->deallocate(p, n, a);
    }
    bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override {
      return this == &o;
    }
  } recording;
  auto v = obj(1);
  {
    weakref::pmr::weak_value_map<std::pmr::string, tracked> m(&recording);
    m[std::pmr::string(1000, 'k')] = v;
    BOOST_TEST(m.at(std::pmr::string(1000, 'k')) == v);
    BOOST_TEST(std::ranges::any_of(recording.sizes, [](std::size_t n) { return n > 1000; }));
    BOOST_TEST((m.get_allocator().resource() == &recording));
  }
  std::pmr::monotonic_buffer_resource resource;
  weakref::pmr::weak_value_map<std::pmr::string, tracked> m(&resource);
  m["key"] = v;
  BOOST_TEST(m.at("key") == v);
  v.reset();
  BOOST_TEST(m.empty());
  static_assert(std::same_as<decltype(m)::allocator_type,
                             std::pmr::polymorphic_allocator<
                                 std::pair<const std::pmr::string, std::shared_ptr<tracked>>>>);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()
