// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: WeakValueDictionary (PY-WVD-*) and the id2obj example (PY-ID2OBJ-*), checked
// against weak_value_map.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cctype>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <memory_resource>
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

// A weakly held value that counts its live instances.
struct image {
  static inline int alive = 0;
  int id;
  explicit image(int i) : id(i) { ++alive; }
  image(const image& o) : id(o.id) { ++alive; }
  image& operator=(const image&) = default;
  ~image() { --alive; }
  friend bool operator==(const image& a, const image& b) { return a.id == b.id; }
};

// A strongly held key that counts its live instances.
struct name {
  static inline int alive = 0;
  std::string text;
  explicit name(std::string s) : text(std::move(s)) { ++alive; }
  name(const name& o) : text(o.text) { ++alive; }
  name(name&& o) noexcept : text(std::move(o.text)) { ++alive; }
  name& operator=(const name&) = default;
  name& operator=(name&&) = default;
  ~name() { --alive; }
  friend bool operator==(const name& a, const name& b) { return a.text == b.text; }
};
struct name_hash {
  std::size_t operator()(const name& n) const noexcept { return std::hash<std::string>{}(n.text); }
};

using map_t = wr::weak_value_map<std::string, image>;
using named_map = wr::weak_value_map<name, image, name_hash>;
using int_map = wr::weak_value_map<int, image>;

std::shared_ptr<image> make_image(int i) { return wr::make_shared<image>(i); }

// Python's dict API on a WeakValueDictionary.
template <class M>
concept python_dict_api =
    requires(M& m, const M& cm, const typename M::key_type& k, const typename M::mapped_type& v,
             const std::vector<std::pair<typename M::key_type, typename M::mapped_type>>& items) {
      m[k] = v;
      { cm.at(k) } -> std::same_as<typename M::mapped_type>;
      { cm.get(k) } -> std::same_as<typename M::mapped_type>;
      { cm.get(k, v) } -> std::same_as<typename M::mapped_type>;
      { m.setdefault(k, v) } -> std::same_as<typename M::mapped_type>;
      { m.pop(k) } -> std::same_as<typename M::mapped_type>;
      { m.pop(k, v) } -> std::same_as<typename M::mapped_type>;
      { m.popitem() } -> std::same_as<typename M::value_type>;
      { cm.copy() } -> std::same_as<M>;
      { cm.contains(k) } -> std::same_as<bool>;
      { cm.size() } -> std::same_as<typename M::size_type>;
      { cm == cm } -> std::same_as<bool>;
      { cm.valuerefs() };
      { cm.itervaluerefs() };
      m.update(items);
      m.clear();
      { m.erase(k) } -> std::same_as<typename M::size_type>;
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
    requires(M& m, const M& cm, const typename M::key_type& k, const typename M::mapped_type& v,
             typename M::const_iterator ci, typename M::size_type n,
             const typename M::value_type& item) {
      typename M::hasher;
      typename M::key_equal;
      typename M::allocator_type;
      typename M::difference_type;
      { m.insert(item) } -> std::same_as<std::pair<typename M::iterator, bool>>;
      { m.emplace(k, v) } -> std::same_as<std::pair<typename M::iterator, bool>>;
      { m.try_emplace(k, v) } -> std::same_as<std::pair<typename M::iterator, bool>>;
      { m.find(k) } -> std::same_as<typename M::iterator>;
      { cm.find(k) } -> std::same_as<typename M::const_iterator>;
      { cm.count(k) } -> std::same_as<typename M::size_type>;
      { cm.equal_range(k) };
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

// Case-insensitive key matching: a user Hash and KeyEqual.
struct nocase_hash {
  std::size_t operator()(const std::string& s) const {
    std::string lower(s);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return std::hash<std::string>{}(lower);
  }
};
struct nocase_equal {
  bool operator()(const std::string& a, const std::string& b) const {
    return std::ranges::equal(a, b, [](char x, char y) {
      return std::tolower(static_cast<unsigned char>(x)) ==
             std::tolower(static_cast<unsigned char>(y));
    });
  }
};

// The id2obj example of the Python documentation:
//   _id2obj_dict = weakref.WeakValueDictionary()
//   def remember(obj): oid = id(obj); _id2obj_dict[oid] = obj; return oid
//   def id2obj(oid): return _id2obj_dict[oid]
using object_id = std::uintptr_t;
wr::weak_value_map<object_id, image> id2obj_dict;
object_id remember(const std::shared_ptr<image>& obj) {
  const auto oid = reinterpret_cast<object_id>(obj.get());
  id2obj_dict[oid] = obj;
  return oid;
}
std::shared_ptr<image> id2obj(object_id oid) { return id2obj_dict[oid]; }

} // namespace

BOOST_AUTO_TEST_SUITE(value_map)

// PY-WVD-4: "weak_value_map is a mapping (Python dict API and std::unordered_map API) with keys
// held strongly and matched by Hash/KeyEqual, and values held by weak references".
// Checks [weakref.value.map.subscript]/4-6;
// [weakref.value.map.python]/1, /5-6, /9-11, /13-15, /17 and /20; [weakref.value.map.lookup]/7.
BOOST_AUTO_TEST_CASE(PY_WVD_4_python_dict_api) {
  static_assert(python_dict_api<map_t>);
  map_t m;
  auto a = make_image(1), b = make_image(2), c = make_image(3);
  m["a"] = a;                                        // d[k] = v
  BOOST_TEST((std::shared_ptr<image>(m["a"]) == a)); // d[k]
  BOOST_CHECK_THROW((void)std::shared_ptr<image>(m["zz"]), wr::key_error);
  BOOST_TEST(m.get("b") == nullptr);
  BOOST_TEST((m.get("b", c) == c));
  BOOST_TEST((m.setdefault("b", b) == b));
  BOOST_TEST((m.setdefault("b", c) == b)); // present: unchanged
  m.update(std::vector<std::pair<std::string, std::shared_ptr<image>>>{{"c", c}, {"a", b}});
  BOOST_TEST((m.at("a") == b)); // update replaces
  m["a"] = a;                   // and so does d[k] = v
  BOOST_TEST((m.at("a") == a));
  BOOST_TEST(m.size() == 3u);  // len(d)
  BOOST_TEST(m.contains("c")); // k in d
  map_t copy = m.copy();
  BOOST_TEST((copy == m));
  BOOST_TEST((m.pop("c") == c));
  BOOST_CHECK_THROW(m.pop("c"), wr::key_error);
  BOOST_TEST((m.pop("c", a) == a));
  BOOST_CHECK_THROW(m.at("c"), wr::key_error);
  BOOST_TEST((copy != m));
  BOOST_TEST(m.erase("a") == 1u); // del d[k]
  auto [key, value] = m.popitem();
  BOOST_TEST(key == "b");
  BOOST_TEST((value == b));
  BOOST_TEST(m.empty());
  BOOST_CHECK_THROW(m.popitem(), wr::key_error);
  // The copy holds its own weak references to the same values.
  BOOST_TEST(copy.size() == 3u);
  c.reset();
  BOOST_TEST(copy.size() == 2u);
  copy.clear();
  BOOST_TEST(copy.empty());
}

// PY-WVD-4: "weak_value_map is a mapping (Python dict API and std::unordered_map API) with keys
// held strongly and matched by Hash/KeyEqual, and values held by weak references". Here:
// std::unordered_map's API.
// Checks [weakref.value.map.modifiers]/1-2, /8-9, /13-14 and /18-19; [weakref.value.map.lookup]/2;
// [weakref.containers.erasure]/1; [weakref.containers.bucket]/9; [weakref.containers.general]/25.
// Checks [weakref.containers.general]/2 and /17.
BOOST_AUTO_TEST_CASE(PY_WVD_4_unordered_map_api) {
  static_assert(unordered_map_api<map_t>);
  static_assert(std::same_as<map_t::key_type, std::string>);
  static_assert(std::same_as<map_t::mapped_type, std::shared_ptr<image>>);
  static_assert(
      std::same_as<map_t::value_type, std::pair<const std::string, std::shared_ptr<image>>>);
  map_t m;
  auto a = make_image(1), b = make_image(2);
  auto [it, inserted] = m.insert({"a", a});
  BOOST_TEST(inserted);
  BOOST_TEST(it->first == "a");
  BOOST_TEST((it->second == a));
  BOOST_TEST(!m.insert({"a", b}).second); // insert does not replace
  BOOST_TEST(!m.emplace("a", b).second);
  BOOST_TEST(!m.try_emplace("a", b).second);
  BOOST_TEST(m.try_emplace("b", b).second);
  BOOST_TEST(!m.insert_or_assign(std::string("a"), b).second);
  BOOST_TEST((m.at("a") == b));
  BOOST_TEST(m.count("a") == 1u);
  BOOST_TEST(m.count("z") == 0u);
  BOOST_TEST((m.find("z") == m.end()));
  BOOST_TEST((m.find("b")->second == b));
  const auto [first, last] = std::as_const(m).equal_range("b");
  BOOST_TEST(std::distance(first, last) == 1);
  BOOST_TEST(erase_if(m, [](const auto& kv) { return kv.first == "a"; }) == 1u);
  m.reserve(100);
  BOOST_TEST(m.bucket_count() * m.max_load_factor() >= 100.0f);
  map_t other;
  m.swap(other);
  BOOST_TEST(m.empty());
  BOOST_TEST(other.size() == 1u);
  BOOST_TEST((other.erase(other.begin()) == other.end()));
  BOOST_TEST(other.empty());
}

// PY-WVD-4: "weak_value_map is a mapping (Python dict API and std::unordered_map API) with keys
// held strongly and matched by Hash/KeyEqual, and values held by weak references". Here: the keys
// are held strongly (the map owns them) and matched by Hash and KeyEqual.
// Checks [weakref.value.map]/1; [weakref.value.map.modifiers]/8.
BOOST_AUTO_TEST_CASE(PY_WVD_4_keys_held_strongly_and_matched_by_hash_and_key_equal) {
  wr::weak_value_map<std::string, image, nocase_hash, nocase_equal> m;
  auto v = make_image(1);
  m["Key"] = v;
  BOOST_TEST(m.contains("KEY"));
  BOOST_TEST((m.at("key") == v));
  m["kEY"] = make_image(2); // the same key: replaces (and the new value, owned by no one, dies)
  BOOST_TEST(!m.contains("key"));

  named_map owned;
  const int names_before = name::alive;
  {
    name temporary("k");
    owned[temporary] = v;
  } // the caller's key object is gone; the map has its own
  BOOST_TEST(name::alive == names_before + 1);
  BOOST_TEST((owned.at(name("k")) == v));
  BOOST_TEST(owned.erase(name("k")) == 1u);
  BOOST_TEST(name::alive == names_before);
}

// PY-WVD-4: "weak_value_map is a mapping (Python dict API and std::unordered_map API) with keys
// held strongly and matched by Hash/KeyEqual, and values held by weak references". Here: the values
// are held by weak references: the map owns none, and only weakly referenceable (factory-made)
// objects can be values.
// Checks [weakref.value.map]/1; [weakref.containers.general]/3; [weakref.value.map.modifiers]/3.
BOOST_AUTO_TEST_CASE(PY_WVD_4_values_held_by_weak_references) {
  map_t m;
  auto v = make_image(1);
  m["a"] = v;
  m["b"] = v;
  BOOST_TEST(v.use_count() == 1);
  BOOST_TEST(wr::weak_ref_count(v) == 2u);
  BOOST_CHECK_THROW(m["c"] = std::make_shared<image>(2), wr::type_error);
  BOOST_CHECK_THROW(m.insert({"c", nullptr}), wr::type_error);
  BOOST_TEST(m.size() == 2u);
  const int before = image::alive;
  v.reset();
  BOOST_TEST(image::alive == before - 1);
  BOOST_TEST(m.empty());
}

// PY-WVD-1 (adapted): "an entry disappears when its value's referent dies".
// Checks [weakref.value.map]/1; [weakref.containers.general]/5 and /7.
BOOST_AUTO_TEST_CASE(PY_WVD_1_entry_disappears_when_value_dies) {
  map_t m;
  auto a = make_image(1), b = make_image(2);
  m["a"] = a;
  m["b"] = b;
  a.reset();
  // No operation of the owner in between: the entry is already gone from every observation.
  const map_t& view = m;
  BOOST_TEST(view.size() == 1u);
  BOOST_TEST(!view.contains("a"));
  BOOST_TEST(view.count("a") == 0u);
  BOOST_TEST((view.find("a") == view.end()));
  BOOST_TEST(view.get("a") == nullptr);
  BOOST_CHECK_THROW(view.at("a"), wr::key_error);
  BOOST_TEST(walked(view) == 1u);
  for (const auto& [key, value] : view) {
    BOOST_TEST(key == "b");
    BOOST_TEST(value->id == 2);
  }
  BOOST_TEST(view.valuerefs().size() == 1u);
  BOOST_TEST(std::ranges::distance(view.itervaluerefs()) == 1);
  b.reset();
  BOOST_TEST(view.empty());
  BOOST_TEST(walked(view) == 0u);
}

// PY-WVD-1: "an entry disappears when its value's referent dies", and its key is released
// inside that death, as Python releases it: before the death's last callback runs.
// Checks [weakref.containers.general]/8.
BOOST_AUTO_TEST_CASE(PY_WVD_1_key_destroyed_inside_the_values_death) {
  named_map m;
  auto v = make_image(1);
  int with_key = -1;
  bool key_gone_within_death = false;
  // Registered before the entry, this callback runs after the entry's own (newest first).
  wr::weak_ref<image> probe(
      v, [&](wr::weak_ref<image>) { key_gone_within_death = name::alive == with_key - 1; });
  m[name("k")] = v;
  with_key = name::alive;
  v.reset();
  BOOST_TEST(key_gone_within_death);
  BOOST_TEST(name::alive == with_key - 1); // no operation of the map since
  BOOST_TEST(m.size() == 0u);
}

// PY-WVD-1, with an allocator that may not be used from any thread (a
// std::pmr::unsynchronized_pool_resource): the key waits for the owner's next lookup,
// insertion, erasure or iteration, whichever it is ([weakref.containers.general]/8-9).
BOOST_AUTO_TEST_CASE(PY_WVD_1_key_of_an_unsynchronized_pool_destroyed_by_next_operation) {
  using named_map = wr::pmr::weak_value_map<name, image, name_hash>;
  const auto check = [](const char* what, auto operation) {
    std::pmr::unsynchronized_pool_resource pool;
    named_map m(&pool);
    auto dying = make_image(1), staying = make_image(2);
    m[name("dying")] = dying;
    m[name("staying")] = staying;
    const int before = name::alive;
    dying.reset();
    BOOST_TEST(name::alive == before, what << ": destroyed inside the death");
    operation(m, staying);
    BOOST_TEST(name::alive == before - 1, what << ": key not destroyed");
    BOOST_TEST(m.size() == 1u, what);
  };
  using value_ptr = const std::shared_ptr<image>&;
  const name staying_key("staying"), absent("absent");
  check("operator[] =", [&](named_map& m, value_ptr v) { m[staying_key] = v; });
  check("insert", [&](named_map& m, value_ptr v) { (void)m.insert({staying_key, v}); });
  check("try_emplace", [&](named_map& m, value_ptr v) { (void)m.try_emplace(staying_key, v); });
  check("insert_or_assign",
        [&](named_map& m, value_ptr v) { (void)m.insert_or_assign(name("staying"), v); });
  check("setdefault", [&](named_map& m, value_ptr v) { (void)m.setdefault(staying_key, v); });
  check("find", [&](named_map& m, value_ptr) { (void)m.find(staying_key); });
  check("erase(key)", [&](named_map& m, value_ptr) { (void)m.erase(absent); });
  check("pop(key, default)", [&](named_map& m, value_ptr v) { (void)m.pop(absent, v); });
  check("begin", [](named_map& m, value_ptr) { (void)m.begin(); });
  check("reserve", [](named_map& m, value_ptr) { m.reserve(0); });
  check("rehash", [](named_map& m, value_ptr) { m.rehash(0); });
  check("purge", [](named_map& m, value_ptr) { m.purge(); });
}

// PY-WVD-5 (adapted): "during iteration only the owner's own inserts and erasures invalidate
// iterators, by std::unordered_map's rules". Here: an erasure invalidates only the erased
// element's.
// Checks [weakref.containers.general]/5; [weakref.value.map.modifiers]/14.
BOOST_AUTO_TEST_CASE(PY_WVD_5_erase_invalidates_only_the_erased_element) {
  int_map m;
  std::vector<std::shared_ptr<image>> owners;
  for (int i = 0; i < 32; ++i) {
    owners.push_back(make_image(i));
    m[i] = owners.back();
  }
  std::vector<int_map::iterator> odd;
  for (auto it = m.begin(); it != m.end(); ++it)
    if (it->first % 2) odd.push_back(it);
  for (int i = 0; i < 32; i += 2) BOOST_TEST(m.erase(i) == 1u);
  BOOST_TEST(m.size() == 16u);
  BOOST_TEST(odd.size() == 16u);
  for (const auto& it : odd) {
    BOOST_TEST(it->second->id == it->first); // still valid
    BOOST_TEST((m.find(it->first) == it));
    std::size_t rest = 0;
    for (auto j = it; j != m.end(); ++j, ++rest) BOOST_TEST(j->first % 2 == 1);
    BOOST_TEST(rest >= 1u);
  }
  std::set<int> visited;
  for (auto it = m.begin(); it != m.end();) {
    visited.insert(it->first);
    if (it->first % 3 == 0)
      it = m.erase(it);
    else
      ++it;
  }
  BOOST_TEST(visited.size() == 16u);
  BOOST_TEST(m.size() == 11u);
}

// PY-WVD-5 (adapted): "during iteration only the owner's own inserts and erasures invalidate
// iterators, by std::unordered_map's rules". Here: an insertion invalidates iterators only when it
// rehashes.
// Checks [weakref.containers.general]/5.
BOOST_AUTO_TEST_CASE(PY_WVD_5_insert_without_rehash_keeps_iterators) {
  int_map m;
  m.reserve(200);
  const auto buckets = m.bucket_count();
  std::vector<std::shared_ptr<image>> owners;
  for (int i = 0; i < 10; ++i) {
    owners.push_back(make_image(i));
    m[i] = owners.back();
  }
  std::vector<int_map::iterator> its;
  for (auto it = m.begin(); it != m.end(); ++it) its.push_back(it);
  for (int i = 10; i < 100; ++i) {
    owners.push_back(make_image(i));
    m[i] = owners.back();
  }
  BOOST_TEST(m.bucket_count() == buckets);
  for (const auto& it : its) {
    BOOST_TEST(it->second->id == it->first);
    BOOST_TEST((m.find(it->first) == it));
  }
}

// PY-WVD-5 (adapted): "during iteration only the owner's own inserts and erasures invalidate
// iterators, by std::unordered_map's rules". Here: purging dead entries never rehashes and never
// invalidates an iterator.
// Checks [weakref.containers.general]/5, /9, /12 and /27.
BOOST_AUTO_TEST_CASE(PY_WVD_5_purging_dead_entries_keeps_iterators) {
  int_map m;
  std::vector<std::shared_ptr<image>> owners;
  for (int i = 0; i < 64; ++i) {
    owners.push_back(make_image(i));
    m[i] = owners.back();
  }
  std::vector<int_map::iterator> kept;
  for (auto it = m.begin(); it != m.end(); ++it)
    if (it->first % 2) kept.push_back(it);
  const auto buckets = m.bucket_count();
  for (int i = 0; i < 64; i += 2) owners[static_cast<std::size_t>(i)].reset();
  m.purge();
  BOOST_TEST(m.erase(1000) == 0u);
  BOOST_TEST(m.bucket_count() == buckets);
  BOOST_TEST(m.size() == 32u);
  for (const auto& it : kept) {
    BOOST_TEST(it->second->id == it->first);
    BOOST_TEST((m.find(it->first) == it));
    for (auto j = it; j != m.end(); ++j) BOOST_TEST(j->first % 2 == 1);
  }
}

// PY-WVD-2 (adapted): "deaths during iteration never invalidate an iterator, never yield a dead
// entry and never skip a live one". Here: the visited value is pinned by the iterator.
// Checks [weakref.containers.general]/5; [weakref.value.map.iter]/2.
BOOST_AUTO_TEST_CASE(PY_WVD_2_deaths_during_iteration_are_harmless) {
  constexpr int n = 100;
  int_map m;
  std::vector<std::shared_ptr<image>> owners;
  for (int i = 0; i < n; ++i) {
    owners.push_back(make_image(i));
    m[i] = owners.back();
  }
  std::vector<bool> dead(n, false), seen(n, false);
  for (int i = 0; i < n; i += 10) {
    owners[static_cast<std::size_t>(i)].reset();
    dead[static_cast<std::size_t>(i)] = true;
  }
  const int_map& view = m;
  for (auto it = view.begin(); it != view.end(); ++it) {
    const int id = it->first;
    const auto index = static_cast<std::size_t>(id);
    BOOST_TEST(!dead[index]);
    BOOST_TEST(!seen[index]);
    seen[index] = true;
    std::weak_ptr<image> visited = owners[index];
    owners[index].reset();
    dead[index] = true;
    BOOST_TEST(!visited.expired()); // pinned by the iterator
    BOOST_TEST(it->second->id == id);
    for (int k = id + 1; k < n && k <= id + 5; k += 2)
      if (!seen[static_cast<std::size_t>(k)] && owners[static_cast<std::size_t>(k)]) {
        owners[static_cast<std::size_t>(k)].reset();
        dead[static_cast<std::size_t>(k)] = true;
      }
  }
  for (int i = 0; i < n; ++i)
    BOOST_TEST((seen[static_cast<std::size_t>(i)] || dead[static_cast<std::size_t>(i)]));
  BOOST_TEST(std::ranges::count(seen, true) > 0);
  BOOST_TEST(m.empty());
}

// PY-WVD-2 (adapted): "deaths during iteration never invalidate an iterator, never yield a dead
// entry and never skip a live one". Here: a mutable traversal (which purges at begin()) fares the
// same.
// Checks [weakref.containers.general]/5; [weakref.value.map.iter]/1-2.
BOOST_AUTO_TEST_CASE(PY_WVD_2_deaths_during_mutable_iteration) {
  int_map m;
  std::vector<std::shared_ptr<image>> owners;
  for (int i = 0; i < 64; ++i) {
    owners.push_back(make_image(i));
    m[i] = owners.back();
  }
  std::set<int> seen;
  for (auto it = m.begin(); it != m.end(); ++it) {
    const int id = it->first;
    BOOST_TEST(it->second->id == id);
    BOOST_TEST(seen.insert(id).second);
    const std::weak_ptr<image> visited = owners[static_cast<std::size_t>(id)];
    owners[static_cast<std::size_t>(id)].reset();
    BOOST_TEST(!visited.expired());
  }
  BOOST_TEST(seen.size() == 64u);
  BOOST_TEST(m.empty());
}

// PY-WVD-6: "valuerefs()/itervaluerefs() return handles to the map's own references, which may be
// dead when used and own no value".
// Checks [weakref.value.map.python]/21-23; [weakref.introspection]/3.
BOOST_AUTO_TEST_CASE(PY_WVD_6_valuerefs_are_the_maps_own_references) {
  map_t m;
  auto a = make_image(1), b = make_image(2);
  m["a"] = a;
  m["b"] = b;
  BOOST_TEST(wr::weak_ref_count(a) == 1u);
  const auto refs = m.valuerefs();
  std::vector<wr::weak_ref<image>> lazily(m.itervaluerefs().begin(), m.itervaluerefs().end());
  BOOST_TEST(wr::weak_ref_count(a) == 1u); // no new registration
  const auto listed = wr::weak_refs(a);
  BOOST_TEST(listed.size() == 1u);
  BOOST_TEST(std::holds_alternative<wr::weak_ref<image>>(listed.front()));
  const auto& entry_ref = std::get<wr::weak_ref<image>>(listed.front());
  const auto of_a = [&](const auto& range) {
    for (const wr::weak_ref<image>& r : range)
      if (r().get() == a.get()) return r;
    return wr::weak_ref<image>();
  };
  BOOST_TEST(of_a(refs).identical(entry_ref));
  BOOST_TEST(of_a(lazily).identical(entry_ref));
  // They own no value...
  BOOST_TEST(a.use_count() == 1);
  const std::weak_ptr<image> watch = a;
  a.reset();
  BOOST_TEST(watch.expired());
  // ... and may be dead when used.
  std::size_t live = 0;
  for (const auto& r : refs) {
    if (auto v = r()) {
      ++live;
      BOOST_TEST(v->id == 2);
    } else {
      BOOST_TEST(r.expired());
    }
  }
  BOOST_TEST(live == 1u);
}

// PY-WVD-6: "valuerefs()/itervaluerefs() return handles to the map's own references, which may be
// dead when used and own no value". Here: the references may outlive the map, and still tell
// whether their value lives; an itervaluerefs() iterator pins the value it points at, the refs it
// yields do not.
// Checks [weakref.value.map.python]/21-23; [weakref.containers.general]/15.
BOOST_AUTO_TEST_CASE(PY_WVD_6_valuerefs_outlive_the_map_and_own_nothing) {
  auto v = make_image(1);
  std::vector<wr::weak_ref<image>> refs;
  {
    map_t m;
    m["v"] = v;
    refs = m.valuerefs();
    auto it = m.itervaluerefs().begin();
    const wr::weak_ref<image> r = *it;
    const std::weak_ptr<image> watch = v;
    v.reset();
    BOOST_TEST(!watch.expired()); // pinned by the iterator
    it = decltype(it)();
    BOOST_TEST(watch.expired());
    BOOST_TEST(!r());
    v = make_image(2);
    m["v"] = v;
    refs = m.valuerefs();
  }
  BOOST_TEST(refs.size() == 1u);
  BOOST_TEST((refs.front()().get() == v.get()));
  v.reset();
  BOOST_TEST(!refs.front()());
}

// PY-WVD-7: "itervaluerefs() is a lazy range yielding the weak references to the values of the live
// entries".
// Checks [weakref.value.map.python]/21.
BOOST_AUTO_TEST_CASE(PY_WVD_7_itervaluerefs_is_a_lazy_range_of_live_values) {
  using view_t = decltype(std::declval<const int_map&>().itervaluerefs());
  static_assert(std::ranges::forward_range<view_t>);
  static_assert(std::ranges::view<view_t>);
  static_assert(std::same_as<std::ranges::range_value_t<view_t>, wr::weak_ref<image>>);
  int_map m;
  std::vector<std::shared_ptr<image>> owners;
  for (int i = 0; i < 10; ++i) {
    owners.push_back(make_image(i));
    m[i] = owners.back();
  }
  for (int i = 0; i < 5; ++i) owners[static_cast<std::size_t>(i)].reset();
  std::set<int> ids;
  for (const wr::weak_ref<image>& r : m.itervaluerefs()) {
    auto v = r();
    BOOST_REQUIRE(v);
    ids.insert(v->id);
  }
  BOOST_TEST((ids == std::set<int>{5, 6, 7, 8, 9}));
  // Lazy: values that die while the range is walked are not yielded (a snapshot would be).
  int yielded = 0;
  for (const wr::weak_ref<image>& r : m.itervaluerefs()) {
    ++yielded;
    BOOST_TEST(!r.expired());
    if (yielded == 1)
      for (auto& o : owners) o.reset();
  }
  BOOST_TEST(yielded == 1);
}

// PY-WVD-3: "valuerefs() returns a std::vector of the weak references to the values".
// Checks [weakref.value.map.python]/22.
BOOST_AUTO_TEST_CASE(PY_WVD_3_valuerefs_returns_a_vector_of_references_to_the_values) {
  int_map m;
  static_assert(std::same_as<decltype(m.valuerefs()), std::vector<wr::weak_ref<image>>>);
  std::vector<std::shared_ptr<image>> owners;
  for (int i = 0; i < 10; ++i) {
    owners.push_back(make_image(i));
    m[i] = owners.back();
  }
  for (int i = 0; i < 10; i += 3) owners[static_cast<std::size_t>(i)].reset(); // 0, 3, 6, 9
  const auto refs = m.valuerefs();
  BOOST_TEST(refs.size() == 6u);
  std::set<int> ids;
  for (const auto& r : refs) {
    auto v = r();
    BOOST_REQUIRE(v);
    BOOST_TEST((m.at(v->id) == v));
    ids.insert(v->id);
  }
  BOOST_TEST((ids == std::set<int>{1, 2, 4, 5, 7, 8}));
  // A list, not a view: deaths afterwards leave it as it was, with dead references in it.
  for (auto& o : owners) o.reset();
  BOOST_TEST(refs.size() == 6u);
  BOOST_TEST(std::ranges::all_of(refs, [](const auto& r) { return r.expired(); }));
}

// PY-ID2OBJ-1: "the id2obj example: remember(obj) stores obj in a weak_value_map under its id;
// id2obj(oid) returns it while it lives and throws key_error once it is gone".
// Checks [weakref.value.map.subscript]/1 and /4-6.
BOOST_AUTO_TEST_CASE(PY_ID2OBJ_1_id2obj_example) {
  auto obj = make_image(7);
  const object_id oid = remember(obj);
  BOOST_TEST(oid == reinterpret_cast<object_id>(obj.get()));
  BOOST_TEST((id2obj(oid) == obj));
  BOOST_TEST((id2obj(oid).get() == obj.get())); // the very object
  obj.reset();
  BOOST_CHECK_THROW(id2obj(oid), wr::key_error);
  BOOST_CHECK_THROW(id2obj(oid + 1), wr::key_error); // never remembered
}

// PY-ID2OBJ-2: "remembering an object by id never keeps it alive, and a live object is always found
// by its id".
// Checks [weakref.value.map]/1; [weakref.value.map.subscript]/4-6.
BOOST_AUTO_TEST_CASE(PY_ID2OBJ_2_remembered_objects_live_only_as_long_as_owned) {
  std::vector<std::shared_ptr<image>> objects;
  std::vector<object_id> ids;
  for (int i = 0; i < 50; ++i) {
    objects.push_back(make_image(i));
    ids.push_back(remember(objects.back()));
  }
  for (const auto& o : objects) BOOST_TEST(o.use_count() == 1);
  const int before = image::alive;
  for (std::size_t i = 0; i < objects.size(); i += 2) objects[i].reset();
  BOOST_TEST(image::alive == before - 25); // remembering kept none of them
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (objects[i]) {
      BOOST_TEST((id2obj(ids[i]) == objects[i]));
    } else {
      BOOST_CHECK_THROW(id2obj(ids[i]), wr::key_error);
    }
  }
  // A new object may reuse a dead object's id: it is found, never the dead one.
  for (std::size_t i = 0; i < objects.size(); i += 2) {
    objects[i] = make_image(100 + static_cast<int>(i));
    ids[i] = remember(objects[i]);
  }
  for (std::size_t i = 0; i < objects.size(); ++i) BOOST_TEST((id2obj(ids[i]) == objects[i]));
  objects.clear();
  for (const object_id oid : ids) BOOST_CHECK_THROW(id2obj(oid), wr::key_error);
  id2obj_dict.clear();
}

BOOST_AUTO_TEST_SUITE_END()
