// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: WeakKeyDictionary (PY-WKD-*), checked against weak_key_map.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <memory_resource>
#include <optional>
#include <ranges>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "support.hpp"

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

using conformance::walked;

namespace {

// A weak key: compared with == and hashed by key_hash; counts its live instances.
struct key_object {
  static inline int alive = 0;
  int id;
  explicit key_object(int i) : id(i) { ++alive; }
  key_object(const key_object& o) : id(o.id) { ++alive; }
  key_object& operator=(const key_object&) = default;
  ~key_object() { --alive; }
  friend bool operator==(const key_object& a, const key_object& b) { return a.id == b.id; }
};
struct key_hash {
  std::size_t operator()(const key_object& k) const noexcept { return std::hash<int>{}(k.id); }
};

// A strongly held value that counts its live instances.
struct value_object {
  static inline int alive = 0;
  int v;
  explicit value_object(int x = 0) : v(x) { ++alive; }
  value_object(const value_object& o) : v(o.v) { ++alive; }
  value_object& operator=(const value_object&) = default;
  ~value_object() { --alive; }
};

// A type with neither == nor std::hash.
struct opaque {
  int n = 0;
};

using int_map = wr::weak_key_map<key_object, int, key_hash>;
using value_map = wr::weak_key_map<key_object, value_object, key_hash>;

std::shared_ptr<key_object> make_key(int i) { return wr::make_shared<key_object>(i); }

// Python's dict API on a WeakKeyDictionary.
template <class M>
concept python_dict_api =
    requires(M& m, const M& cm, const typename M::key_type& k, const typename M::mapped_type& v,
             const typename M::key_type::element_type& obj,
             const std::vector<std::pair<typename M::key_type, typename M::mapped_type>>& items) {
      { m[k] } -> std::same_as<typename M::mapped_type&>;
      { cm.at(obj) } -> std::same_as<const typename M::mapped_type&>;
      { cm.get(obj) } -> std::same_as<std::optional<typename M::mapped_type>>;
      { cm.get(obj, v) } -> std::same_as<typename M::mapped_type>;
      { m.setdefault(k, v) } -> std::same_as<typename M::mapped_type&>;
      { m.pop(obj) } -> std::same_as<typename M::mapped_type>;
      { m.pop(obj, v) } -> std::same_as<typename M::mapped_type>;
      { m.popitem() } -> std::same_as<std::pair<typename M::key_type, typename M::mapped_type>>;
      { cm.copy() } -> std::same_as<M>;
      { cm.contains(obj) } -> std::same_as<bool>;
      { cm.contains(k) } -> std::same_as<bool>;
      { cm.size() } -> std::same_as<typename M::size_type>;
      { cm == cm } -> std::same_as<bool>;
      { cm.keyrefs() };
      { cm.iterkeyrefs() };
      m.update(items);
      m.clear();
      { m.erase(obj) } -> std::same_as<typename M::size_type>;
    };

struct never {
  bool operator()(const auto&) const { return false; }
};

// std::unordered_map's API.
template <class M>
concept unordered_map_api =
    std::ranges::forward_range<M> && std::ranges::forward_range<const M> &&
    std::forward_iterator<typename M::iterator> &&
    std::forward_iterator<typename M::const_iterator> &&
    std::convertible_to<typename M::iterator, typename M::const_iterator> &&
    requires(M& m, const M& cm, const typename M::key_type& k, const typename M::mapped_type& v,
             const typename M::key_type::element_type& obj, typename M::const_iterator ci,
             typename M::size_type n, const typename M::value_type& item) {
      typename M::hasher;
      typename M::key_equal;
      typename M::allocator_type;
      typename M::difference_type;
      { m.insert(item) } -> std::same_as<std::pair<typename M::iterator, bool>>;
      { m.emplace(k, v) } -> std::same_as<std::pair<typename M::iterator, bool>>;
      { m.try_emplace(k, v) } -> std::same_as<std::pair<typename M::iterator, bool>>;
      { m.insert_or_assign(k, v) } -> std::same_as<std::pair<typename M::iterator, bool>>;
      { m.find(obj) } -> std::same_as<typename M::iterator>;
      { cm.find(obj) } -> std::same_as<typename M::const_iterator>;
      { cm.count(obj) } -> std::same_as<typename M::size_type>;
      { m.at(obj) } -> std::same_as<typename M::mapped_type&>;
      { m.erase(ci) } -> std::same_as<typename M::iterator>;
      { m.erase(ci, ci) } -> std::same_as<typename M::iterator>;
      { cm.empty() } -> std::same_as<bool>;
      { cm.max_size() } -> std::same_as<typename M::size_type>;
      { cm.bucket_count() } -> std::same_as<typename M::size_type>;
      { cm.load_factor() } -> std::same_as<float>;
      { cm.max_load_factor() } -> std::same_as<float>;
      m.rehash(n);
      m.reserve(n);
      m.swap(m);
      { cm.hash_function() } -> std::same_as<typename M::hasher>;
      { cm.key_eq() } -> std::same_as<typename M::key_equal>;
      { cm.get_allocator() } -> std::same_as<typename M::allocator_type>;
      { erase_if(m, never{}) } -> std::same_as<typename M::size_type>;
    };

} // namespace

BOOST_AUTO_TEST_SUITE(key_map)

// PY-WKD-5 (adapted): "weak_key_map is a mapping (Python dict API and std::unordered_map API) whose
// keys are held by weak references and matched by the referents' hash and equality".
// Checks [weakref.key.map]/1; [weakref.key.map.lookup]/3 and /6-7; [weakref.key.map.modifiers]/6.
BOOST_AUTO_TEST_CASE(PY_WKD_5_keys_match_by_referent_hash_and_equality) {
  int_map m;
  auto first = make_key(7);
  auto equal = make_key(7);
  auto other = make_key(8);
  m[first] = 1;
  BOOST_TEST(m.contains(*equal)); // a distinct, equal object finds the entry (Python: `k in d`)
  BOOST_TEST(m.contains(equal));
  BOOST_TEST(m.contains(key_object(7)));
  BOOST_TEST(m.at(*equal) == 1);
  BOOST_TEST(!m.contains(*other));
  // d[equal] = v replaces the value and keeps the first key object, as Python's dict does.
  m[equal] = 2;
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(m.at(*first) == 2);
  const auto refs = m.keyrefs();
  BOOST_TEST(refs.size() == 1u);
  BOOST_TEST((refs.front()().get() == first.get()));
  // The entry is the first key object's: its death removes it although an equal object lives.
  first.reset();
  BOOST_TEST(m.empty());
  BOOST_TEST(!m.contains(*equal));
}

// PY-WKD-5 (adapted): "weak_key_map is a mapping (Python dict API and std::unordered_map API) whose
// keys are held by weak references and matched by the referents' hash and equality". Here: the keys
// are held by weak references: the map owns no key, and only weakly referenceable (factory-made)
// objects can be keys.
// Checks [weakref.key.map]/1; [weakref.containers.general]/3; [weakref.key.map.modifiers]/3.
BOOST_AUTO_TEST_CASE(PY_WKD_5_keys_are_held_by_weak_references) {
  int_map m;
  auto k = make_key(1);
  m[k] = 1;
  BOOST_TEST(k.use_count() == 1);
  BOOST_TEST(wr::weak_ref_count(k) == 1u);
  BOOST_CHECK_THROW(m[std::make_shared<key_object>(2)] = 2, wr::type_error);
  BOOST_CHECK_THROW(m[std::shared_ptr<key_object>()] = 2, wr::type_error);
  BOOST_TEST(m.size() == 1u);
}

// PY-WKD-5 (adapted): "weak_key_map is a mapping (Python dict API and std::unordered_map API) whose
// keys are held by weak references and matched by the referents' hash and equality". Here: the hash
// of a key is taken once, at insertion, while the referent is alive; removing the entry after the
// key's death, and rehashing, never hash it again.
// Checks [weakref.key.map]/1.
BOOST_AUTO_TEST_CASE(PY_WKD_5_key_hash_taken_once_at_insertion) {
  struct counting_hash {
    int* calls;
    std::size_t operator()(const key_object& k) const noexcept {
      ++*calls;
      return std::hash<int>{}(k.id);
    }
  };
  int calls = 0;
  wr::weak_key_map<key_object, int, counting_hash> m(0, counting_hash{&calls});
  auto dying = make_key(1);
  auto staying = make_key(2);
  m[dying] = 1;
  m[staying] = 2;
  BOOST_TEST(calls == 2);
  m.reserve(1000); // rehashes with the remembered hashes
  BOOST_TEST(calls == 2);
  dying.reset();
  m.purge(); // the dead key cannot be hashed, and is not
  BOOST_TEST(calls == 2);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(m.at(*staying) == 2); // a lookup hashes its argument only
  BOOST_TEST(calls == 3);
}

// PY-WKD-5 (adapted): "weak_key_map is a mapping (Python dict API and std::unordered_map API) whose
// keys are held by weak references and matched by the referents' hash and equality". Here: Hash and
// KeyEqual are template parameters; identity_hash/identity_equal match keys by identity, also for
// types with neither == nor hash.
// Checks [weakref.containers.identity]/1-3.
BOOST_AUTO_TEST_CASE(PY_WKD_5_identity_policy_matches_by_object) {
  wr::weak_key_map<key_object, int, wr::identity_hash<key_object>, wr::identity_equal<key_object>>
      by_identity;
  auto x = make_key(5), y = make_key(5);
  by_identity[x] = 1;
  by_identity[y] = 2;
  BOOST_TEST(by_identity.size() == 2u);
  BOOST_TEST(by_identity.at(*x) == 1);
  BOOST_TEST(by_identity.at(*y) == 2);
  BOOST_TEST(!by_identity.contains(key_object(5)));

  // The policy's function objects themselves ([weakref.containers.identity]/2-3): through a
  // container, the equality is only asked about objects whose hashes (their addresses') match,
  // so these calls are what shows that two equal objects are not the same key.
  BOOST_TEST((*x == *y));
  BOOST_TEST(!wr::identity_equal<key_object>{}(*x, *y));
  BOOST_TEST(wr::identity_equal<key_object>{}(*x, *x));
  BOOST_TEST(wr::identity_hash<key_object>{}(*x) == std::hash<const void*>{}(x.get()));

  wr::weak_key_map<opaque, std::string, wr::identity_hash<opaque>, wr::identity_equal<opaque>> m;
  auto a = wr::make_shared<opaque>(), b = wr::make_shared<opaque>();
  m[a] = "a";
  m[b] = "b";
  BOOST_TEST(m.size() == 2u);
  BOOST_TEST(m.at(*a) == "a");
  BOOST_TEST(m.at(*b) == "b");
  BOOST_TEST(!m.contains(opaque{}));
  a.reset();
  BOOST_TEST(m.size() == 1u);
}

// PY-WKD-5 (adapted): "weak_key_map is a mapping (Python dict API and std::unordered_map API) whose
// keys are held by weak references and matched by the referents' hash and equality". Here: Python's
// dict API.
// Checks [weakref.key.map.python]/1-2, /5-6, /9-11, /13-15, /17 and /20;
// [weakref.key.map.lookup]/4 and /6.
BOOST_AUTO_TEST_CASE(PY_WKD_5_python_dict_api) {
  static_assert(python_dict_api<int_map>);
  int_map m;
  auto a = make_key(1), b = make_key(2), c = make_key(3);
  BOOST_TEST(!m.get(*a).has_value());
  BOOST_TEST(m.get(*a, 9) == 9);
  BOOST_TEST(m.setdefault(a, 1) == 1);
  BOOST_TEST(m.setdefault(a, 5) == 1); // present: unchanged
  m.update(std::vector<std::pair<std::shared_ptr<key_object>, int>>{{b, 2}, {a, 3}});
  BOOST_TEST(m.at(*a) == 3); // update replaces
  BOOST_TEST(m.get(*b).value_or(-1) == 2);
  m[c] = 4; // d[k] = v
  BOOST_TEST(m[c] == 4);
  BOOST_TEST(m.size() == 3u); // len(d)
  int_map copy = m.copy();
  BOOST_TEST((copy == m));
  BOOST_TEST(m.pop(*c) == 4);
  BOOST_CHECK_THROW(m.pop(*c), wr::key_error);
  BOOST_TEST(m.pop(*c, 7) == 7);
  BOOST_CHECK_THROW(m.at(*c), wr::key_error); // d[k] raises KeyError
  BOOST_TEST((copy != m));
  BOOST_TEST(m.erase(*a) == 1u); // del d[k]
  BOOST_TEST(!m.contains(a));
  auto [k, v] = m.popitem();
  BOOST_TEST((k == b));
  BOOST_TEST(v == 2);
  BOOST_TEST(m.empty());
  BOOST_CHECK_THROW(m.popitem(), wr::key_error);
  // The copy holds its own weak references: unaffected by m, it drops an entry with its key.
  BOOST_TEST(copy.size() == 3u);
  c.reset();
  BOOST_TEST(copy.size() == 2u);
  copy.clear();
  BOOST_TEST(copy.empty());
}

// PY-WKD-5 (adapted): "weak_key_map is a mapping (Python dict API and std::unordered_map API) whose
// keys are held by weak references and matched by the referents' hash and equality". Here:
// std::unordered_map's API.
// Checks [weakref.key.map.modifiers]/1-2, /5-7 and /10; [weakref.key.map.lookup]/1;
// [weakref.key.map]/4; [weakref.containers.erasure]/1; [weakref.containers.bucket]/9;
// [weakref.containers.general]/2 and /17.
BOOST_AUTO_TEST_CASE(PY_WKD_5_unordered_map_api) {
  static_assert(unordered_map_api<int_map>);
  static_assert(std::same_as<int_map::key_type, std::shared_ptr<key_object>>);
  static_assert(std::same_as<int_map::mapped_type, int>);
  int_map m;
  auto a = make_key(1), b = make_key(2), c = make_key(3);
  BOOST_TEST(m.insert({a, 1}).second);
  BOOST_TEST(!m.insert({a, 2}).second); // insert does not replace
  BOOST_TEST(!m.emplace(a, 3).second);
  BOOST_TEST(!m.try_emplace(a, 4).second);
  BOOST_TEST(m.at(*a) == 1);
  BOOST_TEST(m.try_emplace(b, 5).second);
  BOOST_TEST(!m.insert_or_assign(b, 6).second);
  BOOST_TEST(m.at(*b) == 6);
  BOOST_TEST(m.insert_or_assign(c, 7).second);
  BOOST_TEST(m.count(*c) == 1u);
  BOOST_TEST(m.count(key_object(4)) == 0u);
  BOOST_TEST((m.find(key_object(4)) == m.end()));
  auto it = m.find(*b);
  BOOST_TEST((it != m.end()));
  BOOST_TEST((it->first == b));
  it->second = 60; // the value is mutable through an iterator
  BOOST_TEST(m.at(*b) == 60);
  int_map::const_iterator cit = it;
  BOOST_TEST(((*cit).second == 60));
  BOOST_TEST(erase_if(m, [](const auto& kv) { return kv.second == 7; }) == 1u);
  BOOST_TEST(m.size() == 2u);
  m.reserve(100);
  BOOST_TEST(m.bucket_count() * m.max_load_factor() >= 100.0f);
  int_map other;
  m.swap(other);
  BOOST_TEST(m.empty());
  BOOST_TEST(other.size() == 2u);
  auto next = other.erase(other.find(*a));
  BOOST_TEST(other.size() == 1u);
  BOOST_TEST((next == other.end() || next->first == b));
  other.erase(other.begin(), other.end());
  BOOST_TEST(other.empty());
}

// PY-WKD-1 (adapted): "an entry disappears when its key's referent dies".
// Checks [weakref.key.map]/1; [weakref.containers.general]/5 and /7.
BOOST_AUTO_TEST_CASE(PY_WKD_1_entry_disappears_when_key_dies) {
  value_map m;
  auto a = make_key(1), b = make_key(2);
  m[a] = value_object(10);
  m[b] = value_object(20);
  a.reset();
  // No operation of the owner in between: the entry is already gone from every observation.
  const value_map& view = m;
  BOOST_TEST(view.size() == 1u);
  BOOST_TEST(!view.empty());
  BOOST_TEST(!view.contains(key_object(1)));
  BOOST_TEST(view.count(key_object(1)) == 0u);
  BOOST_TEST((view.find(key_object(1)) == view.end()));
  BOOST_TEST(!view.get(key_object(1)).has_value());
  BOOST_CHECK_THROW(view.at(key_object(1)), wr::key_error);
  BOOST_TEST(walked(view) == 1u);
  for (const auto& [key, value] : view) {
    BOOST_TEST(key->id == 2);
    BOOST_TEST(value.v == 20);
  }
  BOOST_TEST(view.keyrefs().size() == 1u);
  BOOST_TEST(std::ranges::distance(view.iterkeyrefs()) == 1);
  b.reset();
  BOOST_TEST(view.empty());
  BOOST_TEST(walked(view) == 0u);
}

// PY-WKD-1: "an entry disappears when its key's referent dies", and its value is released
// inside that death, as Python releases it: before the death's last callback runs.
// Checks [weakref.containers.general]/8; [weakref.key.map.python]/25.
BOOST_AUTO_TEST_CASE(PY_WKD_1_value_destroyed_inside_the_keys_death) {
  value_map m;
  auto a = make_key(1);
  int with_value = -1;
  bool value_gone_within_death = false;
  // Registered before the entry, this callback runs after the entry's own (newest first).
  wr::weak_ref<key_object> probe(a, [&](wr::weak_ref<key_object>) {
    value_gone_within_death = value_object::alive == with_value - 1;
  });
  m[a] = value_object(10);
  with_value = value_object::alive;
  a.reset();
  BOOST_TEST(value_gone_within_death);
  BOOST_TEST(value_object::alive == with_value - 1); // no operation of the map since
  BOOST_TEST(m.size() == 0u);
}

// PY-WKD-1, with an allocator that may not be used from any thread (a
// std::pmr::unsynchronized_pool_resource): the value waits for the owner's next lookup,
// insertion, erasure or iteration, whichever it is ([weakref.containers.general]/8-9).
BOOST_AUTO_TEST_CASE(PY_WKD_1_value_of_an_unsynchronized_pool_destroyed_by_next_operation) {
  using value_map = wr::pmr::weak_key_map<key_object, value_object, key_hash>;
  const auto check = [](const char* what, auto operation) {
    std::pmr::unsynchronized_pool_resource pool;
    value_map m(&pool);
    auto dying = make_key(1), staying = make_key(2);
    m[dying] = value_object(1);
    m[staying] = value_object(2);
    const int before = value_object::alive;
    dying.reset();
    BOOST_TEST(value_object::alive == before, what << ": destroyed inside the death");
    operation(m, staying);
    BOOST_TEST(value_object::alive == before - 1, what << ": value not destroyed");
    BOOST_TEST(m.size() == 1u, what);
  };
  using key_ptr = const std::shared_ptr<key_object>&;
  check("operator[]", [](value_map& m, key_ptr k) { (void)m[k]; });
  check("insert", [](value_map& m, key_ptr k) { (void)m.insert({k, value_object(3)}); });
  check("try_emplace", [](value_map& m, key_ptr k) { (void)m.try_emplace(k, 3); });
  check("insert_or_assign",
        [](value_map& m, key_ptr k) { (void)m.insert_or_assign(k, value_object(3)); });
  check("setdefault", [](value_map& m, key_ptr k) { (void)m.setdefault(k); });
  check("find", [](value_map& m, key_ptr k) { (void)m.find(*k); });
  check("at", [](value_map& m, key_ptr k) { (void)m.at(*k); });
  check("erase(key)", [](value_map& m, key_ptr) { (void)m.erase(key_object(9)); });
  check("pop(key, default)",
        [](value_map& m, key_ptr) { (void)m.pop(key_object(9), value_object(0)); });
  check("begin", [](value_map& m, key_ptr) { (void)m.begin(); });
  check("reserve", [](value_map& m, key_ptr) { m.reserve(0); });
  check("rehash", [](value_map& m, key_ptr) { m.rehash(0); });
  check("purge", [](value_map& m, key_ptr) { m.purge(); });
}

// PY-WKD-2: "a weak_key_map is a side table attaching data to objects owned elsewhere, without
// changing their type or lifetime".
// Checks [weakref.key.map]/1; [weakref.containers.identity]/1.
BOOST_AUTO_TEST_CASE(PY_WKD_2_side_table_attaches_data_to_objects_owned_elsewhere) {
  wr::weak_key_map<opaque, std::string, wr::identity_hash<opaque>, wr::identity_equal<opaque>>
      notes;
  std::vector<std::shared_ptr<opaque>> owned; // "other parts of an application"
  for (int i = 0; i < 5; ++i) {
    owned.push_back(wr::make_shared<opaque>(opaque{i}));
    notes[owned.back()] = "object " + std::to_string(i);
  }
  for (int i = 0; i < 5; ++i) {
    const auto& object = owned[static_cast<std::size_t>(i)];
    BOOST_TEST(notes.at(*object) == "object " + std::to_string(i));
    BOOST_TEST(object->n == i);          // the object itself is untouched
    BOOST_TEST(object.use_count() == 1); // and its lifetime is its owners' alone
  }
  std::weak_ptr<opaque> first = owned.front();
  owned.erase(owned.begin());
  BOOST_TEST(first.expired()); // the note did not keep it
  BOOST_TEST(notes.size() == 4u);
  BOOST_TEST(notes.at(*owned.front()) == "object 1");
  // Standard types the program does not own work the same way, matched by ==.
  wr::weak_key_map<std::string, int> lengths;
  auto s = wr::make_shared<std::string>("hello");
  lengths[s] = static_cast<int>(s->size());
  BOOST_TEST(lengths.at(std::string("hello")) == 5);
  s.reset();
  BOOST_TEST(lengths.empty());
}

// PY-WKD-7 (adapted): "during iteration only the owner's own inserts and erasures invalidate
// iterators, by std::unordered_map's rules". Here: an erasure invalidates only the erased
// element's.
// Checks [weakref.containers.general]/5; [weakref.value.map.modifiers]/14.
BOOST_AUTO_TEST_CASE(PY_WKD_7_erase_invalidates_only_the_erased_element) {
  int_map m;
  std::vector<std::shared_ptr<key_object>> owners;
  for (int i = 0; i < 32; ++i) {
    owners.push_back(make_key(i));
    m[owners.back()] = i;
  }
  std::vector<int_map::iterator> odd;
  for (auto it = m.begin(); it != m.end(); ++it)
    if (it->second % 2) odd.push_back(it);
  for (int i = 0; i < 32; i += 2) BOOST_TEST(m.erase(*owners[static_cast<std::size_t>(i)]) == 1u);
  BOOST_TEST(m.size() == 16u);
  BOOST_TEST(odd.size() == 16u);
  for (const auto& it : odd) {
    BOOST_TEST(it->first->id == it->second); // still valid
    BOOST_TEST((m.find(*it->first) == it));
    std::size_t rest = 0; // and walking on from it visits only the remaining elements
    for (auto j = it; j != m.end(); ++j, ++rest) BOOST_TEST(j->second % 2 == 1);
    BOOST_TEST(rest >= 1u);
  }
  // Erasing through the iterator being walked visits every element once.
  std::set<int> visited;
  for (auto it = m.begin(); it != m.end();) {
    visited.insert(it->second);
    if (it->second % 3 == 0)
      it = m.erase(it);
    else
      ++it;
  }
  BOOST_TEST(visited.size() == 16u);
  BOOST_TEST(m.size() == 11u);
}

// PY-WKD-7 (adapted): "during iteration only the owner's own inserts and erasures invalidate
// iterators, by std::unordered_map's rules". Here: an insertion invalidates iterators only when it
// rehashes.
// Checks [weakref.containers.general]/5.
BOOST_AUTO_TEST_CASE(PY_WKD_7_insert_without_rehash_keeps_iterators) {
  int_map m;
  m.reserve(200);
  const auto buckets = m.bucket_count();
  std::vector<std::shared_ptr<key_object>> owners;
  for (int i = 0; i < 10; ++i) {
    owners.push_back(make_key(i));
    m[owners.back()] = i;
  }
  std::vector<int_map::iterator> its;
  for (auto it = m.begin(); it != m.end(); ++it) its.push_back(it);
  for (int i = 10; i < 100; ++i) {
    owners.push_back(make_key(i));
    m[owners.back()] = i;
  }
  BOOST_TEST(m.bucket_count() == buckets); // no rehash happened
  for (const auto& it : its) {
    BOOST_TEST(it->first->id == it->second);
    BOOST_TEST((m.find(*it->first) == it));
  }
}

// PY-WKD-7 (adapted): "during iteration only the owner's own inserts and erasures invalidate
// iterators, by std::unordered_map's rules". Here: purging dead entries (at any lookup, insertion,
// erasure or iteration
// operation) never rehashes and never invalidates an iterator.
// Checks [weakref.containers.general]/5, /9, /12 and /27.
BOOST_AUTO_TEST_CASE(PY_WKD_7_purging_dead_entries_keeps_iterators) {
  int_map m;
  std::vector<std::shared_ptr<key_object>> owners;
  for (int i = 0; i < 64; ++i) {
    owners.push_back(make_key(i));
    m[owners.back()] = i;
  }
  std::vector<int_map::iterator> kept; // iterators to the odd keys, which stay alive
  for (auto it = m.begin(); it != m.end(); ++it)
    if (it->second % 2) kept.push_back(it);
  const auto buckets = m.bucket_count();
  for (int i = 0; i < 64; i += 2) owners[static_cast<std::size_t>(i)].reset();
  m.purge();
  BOOST_TEST(m.erase(key_object(1000)) == 0u); // another purging operation
  BOOST_TEST(m.bucket_count() == buckets);
  BOOST_TEST(m.size() == 32u);
  for (const auto& it : kept) {
    BOOST_TEST(it->first->id == it->second);
    BOOST_TEST((m.find(*it->first) == it));
    for (auto j = it; j != m.end(); ++j) BOOST_TEST(j->second % 2 == 1);
  }
}

// PY-WKD-3 (adapted): "deaths during iteration never invalidate an iterator, never yield a dead
// entry and never skip a live one". Here: the visited key is pinned by the iterator.
// Checks [weakref.containers.general]/5; [weakref.key.map.iter]/2.
BOOST_AUTO_TEST_CASE(PY_WKD_3_deaths_during_iteration_are_harmless) {
  constexpr int n = 100;
  int_map m;
  std::vector<std::shared_ptr<key_object>> owners;
  for (int i = 0; i < n; ++i) {
    owners.push_back(make_key(i));
    m[owners.back()] = i;
  }
  // Some die before the loop and are not purged (a const traversal never purges).
  std::vector<bool> dead(n, false), seen(n, false);
  for (int i = 0; i < n; i += 10) {
    owners[static_cast<std::size_t>(i)].reset();
    dead[static_cast<std::size_t>(i)] = true;
  }
  const int_map& view = m;
  for (auto it = view.begin(); it != view.end(); ++it) {
    const int id = (*it).second;
    const auto index = static_cast<std::size_t>(id);
    BOOST_TEST(!dead[index]); // never a dead entry
    BOOST_TEST(!seen[index]); // never one twice
    seen[index] = true;
    // The visited key loses its last owner: the iterator keeps it alive until it moves on.
    std::weak_ptr<key_object> visited = owners[index];
    owners[index].reset();
    dead[index] = true;
    BOOST_TEST(!visited.expired());
    BOOST_TEST(it->first->id == id);
    // Kill a few not yet visited.
    for (int k = id + 1; k < n && k <= id + 5; k += 2)
      if (!seen[static_cast<std::size_t>(k)] && owners[static_cast<std::size_t>(k)]) {
        owners[static_cast<std::size_t>(k)].reset();
        dead[static_cast<std::size_t>(k)] = true;
      }
  }
  for (int i = 0; i < n; ++i) {
    // Never skipped a live one: each element was seen, or died before its turn.
    BOOST_TEST((seen[static_cast<std::size_t>(i)] || dead[static_cast<std::size_t>(i)]));
  }
  BOOST_TEST(std::ranges::count(seen, true) > 0);
  BOOST_TEST(m.empty());
  BOOST_TEST(walked(view) == 0u);
}

// PY-WKD-3 (adapted): "deaths during iteration never invalidate an iterator, never yield a dead
// entry and never skip a live one". Here: a mutable traversal (which purges at begin()) fares the
// same.
// Checks [weakref.containers.general]/5; [weakref.key.map.iter]/1-2.
BOOST_AUTO_TEST_CASE(PY_WKD_3_deaths_during_mutable_iteration) {
  value_map m;
  std::vector<std::shared_ptr<key_object>> owners;
  for (int i = 0; i < 64; ++i) {
    owners.push_back(make_key(i));
    m[owners.back()] = value_object(i);
  }
  std::set<int> seen;
  for (auto [key, value] : m) {
    BOOST_TEST(key->id == value.v);
    BOOST_TEST(seen.insert(key->id).second);
    value.v += 1000; // writes through
    owners[static_cast<std::size_t>(key->id)].reset();
  }
  BOOST_TEST(seen.size() == 64u);
  BOOST_TEST(m.empty());
}

// PY-WKD-9: "keyrefs()/iterkeyrefs() return handles to the map's own entry references, not new
// registrations".
// Checks [weakref.key.map.python]/21-22; [weakref.introspection]/3.
BOOST_AUTO_TEST_CASE(PY_WKD_9_keyrefs_are_the_maps_own_references) {
  int_map m;
  auto a = make_key(1), b = make_key(2);
  m[a] = 1;
  m[b] = 2;
  BOOST_TEST(wr::weak_ref_count(a) == 1u);
  const auto refs = m.keyrefs();
  const auto again = m.keyrefs();
  BOOST_TEST(wr::weak_ref_count(a) == 1u); // no new registration
  BOOST_TEST(wr::weak_ref_count(b) == 1u);
  const auto listed = wr::weak_refs(a);
  BOOST_TEST(listed.size() == 1u);
  BOOST_TEST(std::holds_alternative<wr::weak_ref<key_object>>(listed.front()));
  const auto& entry_ref = std::get<wr::weak_ref<key_object>>(listed.front());
  const auto of_a = [&](const auto& range) {
    for (const wr::weak_ref<key_object>& r : range)
      if (r().get() == a.get()) return r;
    return wr::weak_ref<key_object>();
  };
  BOOST_TEST(of_a(refs).identical(entry_ref));
  BOOST_TEST(of_a(again).identical(entry_ref));
  BOOST_TEST(of_a(m.iterkeyrefs()).identical(entry_ref));
}

// PY-WKD-10: "a reference obtained from keyrefs() may be dead when used: r() must be checked for
// empty". Here: dead ones answer empty, before and after the map is gone.
// Checks [weakref.key.map.python]/22-23.
BOOST_AUTO_TEST_CASE(PY_WKD_10_keyrefs_may_be_dead_when_used) {
  std::vector<wr::weak_ref<key_object>> refs;
  auto a = make_key(1), b = make_key(2);
  {
    int_map m;
    m[a] = 1;
    m[b] = 2;
    refs = m.keyrefs();
    a.reset();
    int live = 0;
    for (const auto& r : refs) {
      if (auto key = r()) {
        ++live;
        BOOST_TEST(key->id == 2);
      } else {
        BOOST_TEST(r.expired());
      }
    }
    BOOST_TEST(live == 1);
  }
  // The references outlive the map, and still tell whether their key lives.
  std::size_t live = 0;
  for (const auto& r : refs) live += r() ? 1u : 0u;
  BOOST_TEST(live == 1u);
  b.reset();
  for (const auto& r : refs) BOOST_TEST(!r());
}

// PY-WKD-11: "the references from keyrefs()/iterkeyrefs() own no key (only an iterkeyrefs()
// iterator pins the key it points at), so holding them keeps no key alive".
// Checks [weakref.key.map.python]/21-23.
BOOST_AUTO_TEST_CASE(PY_WKD_11_keyrefs_keep_no_key_alive) {
  int_map m;
  auto a = make_key(1);
  const std::weak_ptr<key_object> watch_a = a;
  m[a] = 1;
  const auto refs = m.keyrefs();
  std::vector<wr::weak_ref<key_object>> lazily(m.iterkeyrefs().begin(), m.iterkeyrefs().end());
  BOOST_TEST(a.use_count() == 1);
  a.reset();
  BOOST_TEST(watch_a.expired());
  BOOST_TEST(!refs.front()());
  BOOST_TEST(!lazily.front()());

  auto b = make_key(2);
  const std::weak_ptr<key_object> watch_b = b;
  m[b] = 2;
  auto it = m.iterkeyrefs().begin();
  const wr::weak_ref<key_object> r = *it;
  BOOST_TEST((r().get() == b.get()));
  b.reset();
  BOOST_TEST(!watch_b.expired()); // the iterator pins the key it points at
  ++it;
  BOOST_TEST((it == decltype(it)()));
  BOOST_TEST(watch_b.expired()); // and only while it points at it; the ref it yielded owns nothing
  BOOST_TEST(!r());
}

// PY-WKD-8: "iterkeyrefs() is a lazy range yielding the weak references to the keys of the live
// entries".
// Checks [weakref.key.map.python]/21.
BOOST_AUTO_TEST_CASE(PY_WKD_8_iterkeyrefs_is_a_lazy_range_of_live_keys) {
  using view_t = decltype(std::declval<const int_map&>().iterkeyrefs());
  static_assert(std::ranges::forward_range<view_t>);
  static_assert(std::ranges::view<view_t>);
  static_assert(std::same_as<std::ranges::range_value_t<view_t>, wr::weak_ref<key_object>>);
  int_map m;
  std::vector<std::shared_ptr<key_object>> owners;
  for (int i = 0; i < 10; ++i) {
    owners.push_back(make_key(i));
    m[owners.back()] = i;
  }
  for (int i = 0; i < 5; ++i) owners[static_cast<std::size_t>(i)].reset();
  std::set<int> ids;
  for (const wr::weak_ref<key_object>& r : m.iterkeyrefs()) {
    auto key = r();
    BOOST_REQUIRE(key);
    ids.insert(key->id);
  }
  BOOST_TEST((ids == std::set<int>{5, 6, 7, 8, 9}));
  // Lazy: keys that die while the range is walked are not yielded (a snapshot would be).
  int yielded = 0;
  for (const wr::weak_ref<key_object>& r : m.iterkeyrefs()) {
    ++yielded;
    BOOST_TEST(!r.expired());
    if (yielded == 1)
      for (auto& o : owners) o.reset();
  }
  BOOST_TEST(yielded == 1);
}

// PY-WKD-4: "keyrefs() returns a std::vector of the weak references to the keys".
// Checks [weakref.key.map.python]/22.
BOOST_AUTO_TEST_CASE(PY_WKD_4_keyrefs_returns_a_vector_of_references_to_the_keys) {
  int_map m;
  static_assert(std::same_as<decltype(m.keyrefs()), std::vector<wr::weak_ref<key_object>>>);
  std::vector<std::shared_ptr<key_object>> owners;
  for (int i = 0; i < 10; ++i) {
    owners.push_back(make_key(i));
    m[owners.back()] = i;
  }
  for (int i = 0; i < 10; i += 3) owners[static_cast<std::size_t>(i)].reset(); // 0, 3, 6, 9
  const auto refs = m.keyrefs();
  BOOST_TEST(refs.size() == 6u);
  std::set<int> ids;
  for (const auto& r : refs) {
    auto key = r();
    BOOST_REQUIRE(key);
    BOOST_TEST(m.contains(*key));
    ids.insert(key->id);
  }
  BOOST_TEST((ids == std::set<int>{1, 2, 4, 5, 7, 8}));
  // A list, not a view: deaths afterwards leave it as it was, with dead references in it.
  for (auto& o : owners) o.reset();
  BOOST_TEST(refs.size() == 6u);
  BOOST_TEST(std::ranges::all_of(refs, [](const auto& r) { return r.expired(); }));
}

BOOST_AUTO_TEST_SUITE_END()
