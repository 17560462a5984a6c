// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: CPython's WeakValueDictionaryTestCase and WeakKeyDictionaryTestCase
// (Lib/test/test_weakref.py), which run the mapping protocol tests of
// Lib/test/mapping_tests.py (BasicTestMappingProtocol) on the weak dictionaries, translated to
// C++ for weak_value_map and weak_key_map. conformance/cpython-tests.md maps every CPython test
// to the test(s) here; a comment above each test names the CPython test it ports. Calls that
// CPython checks for TypeError (a missing or extra argument, an argument of the wrong kind) are
// compile-time errors here, checked with concepts.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <ranges>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

namespace {

// CPython's Object of the mapping tests: compares and hashes by its argument.
struct object {
  int arg;
  explicit object(int a) : arg(a) {}
  friend bool operator==(const object& a, const object& b) { return a.arg == b.arg; }
};
struct object_hash {
  std::size_t operator()(const object& o) const noexcept { return std::hash<int>{}(o.arg); }
};

// What the harness needs of one weak dictionary: its type, CPython's reference data
// (_reference(): three items; `other` is one of them, left out of `reference`, and `inmapping`
// one of those left in), a default value, and the members spelled for that map (a weak key is
// looked up by its object).
struct value_kind { // WeakValueDictionaryTestCase: {"key1": Object(1), ...}
  using map = wr::weak_value_map<std::string, object>;
  using key = std::string;
  using value = std::shared_ptr<object>;
  std::map<key, value> reference;
  std::pair<key, value> other, inmapping;
  value fallback = wr::make_shared<object>(909);
  value_kind() {
    for (int i = 1; i <= 3; ++i)
      reference.emplace("key" + std::to_string(i), wr::make_shared<object>(i));
    other = *std::prev(reference.end());
    reference.erase(other.first);
    inmapping = *reference.begin();
  }
  static bool contains(const map& d, const key& k) { return d.contains(k); }
  static value at(map& d, const key& k) { return d.at(k); }
  static std::size_t erase(map& d, const key& k) { return d.erase(k); }
  static value pop(map& d, const key& k) { return d.pop(k); }
  static value pop(map& d, const key& k, const value& v) { return d.pop(k, v); }
  static std::optional<value> get(const map& d, const key& k) {
    value v = d.get(k);
    return v ? std::optional<value>(v) : std::nullopt;
  }
  static value get(const map& d, const key& k, const value& v) { return d.get(k, v); }
  static value setdefault(map& d, const key& k, const value& v) { return d.setdefault(k, v); }
};

struct key_kind { // WeakKeyDictionaryTestCase: {Object("key1"): 1, ...}
  using map = wr::weak_key_map<object, int, object_hash>;
  using key = std::shared_ptr<object>;
  using value = int;
  std::map<key, value> reference;
  std::pair<key, value> other, inmapping;
  value fallback = 909;
  key_kind() {
    std::vector<std::pair<key, value>> items;
    for (int i = 1; i <= 3; ++i) items.emplace_back(wr::make_shared<object>(i), i);
    other = items.back();
    items.pop_back();
    reference.insert(items.begin(), items.end());
    inmapping = items.front();
  }
  static bool contains(const map& d, const key& k) { return d.contains(*k); }
  static value at(map& d, const key& k) { return d.at(*k); }
  static std::size_t erase(map& d, const key& k) { return d.erase(*k); }
  static value pop(map& d, const key& k) { return d.pop(*k); }
  static value pop(map& d, const key& k, value v) { return d.pop(*k, v); }
  static std::optional<value> get(const map& d, const key& k) { return d.get(*k); }
  static value get(const map& d, const key& k, value v) { return d.get(*k, v); }
  static value setdefault(map& d, const key& k, value v) { return d.setdefault(k, v); }
};

// The live items of a weak dictionary as a std::map (CPython: dict(p)).
template <class Kind>
std::map<typename Kind::key, typename Kind::value> plain(const typename Kind::map& d) {
  std::map<typename Kind::key, typename Kind::value> result;
  for (auto&& [k, v] : d) result.emplace(k, v);
  return result;
}
template <class Kind>
typename Kind::map full(const std::map<typename Kind::key, typename Kind::value>& data) {
  typename Kind::map d;
  for (const auto& [k, v] : data) d.insert_or_assign(k, v);
  return d;
}

// Compile-time counterparts of CPython's TypeError checks.
template <class M>
concept at_without_argument = requires(M& m) { m.at(); };
template <class M>
concept get_without_argument = requires(const M& m) { m.get(); };
template <class M, class K, class V>
concept get_with_three = requires(const M& m, const K& k, const V& v) { m.get(k, v, v); };
template <class M>
concept setdefault_without_argument = requires(M& m) { m.setdefault(); };
template <class M>
concept popitem_with_argument = requires(M& m) { m.popitem(42); };
template <class M, class A>
concept updatable_with = requires(M& m, A&& a) { m.update(std::forward<A>(a)); };

// A source of items whose traversal fails (CPython's FailingUserDict and badseq): at begin(),
// when advanced past the first item, or when an item is read.
struct failure {};
enum class fail_at { begin, second, read };
template <class Item>
class failing_items {
public:
  failing_items(fail_at where, Item item) : where_(where), item_(std::move(item)) {}
  class iterator {
  public:
    using value_type = Item;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(const failing_items* r) : r_(r) {}
    const Item& operator*() const {
      if (r_->where_ == fail_at::read) throw failure{};
      return r_->item_;
    }
    iterator& operator++() {
      if (r_->where_ == fail_at::second) throw failure{};
      ++pos_;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& i, std::default_sentinel_t) { return i.pos_ >= 2; }

  private:
    const failing_items* r_ = nullptr;
    int pos_ = 0;
  };
  iterator begin() const {
    if (where_ == fail_at::begin) throw failure{};
    return iterator(this);
  }
  std::default_sentinel_t end() const { return {}; }

private:
  fail_at where_;
  Item item_;
};

// --- BasicTestMappingProtocol, for one kind ---------------------------------------------------

template <class Kind>
void test_read() {
  const Kind k;
  using map = typename Kind::map;
  map p;
  map d = full<Kind>(k.reference);
  for (const auto& [key, value] : k.reference) BOOST_TEST((Kind::at(d, key) == value));
  BOOST_CHECK_THROW(Kind::at(d, k.other.first), wr::key_error);
  BOOST_TEST(p.size() == 0u);
  BOOST_TEST(d.size() == k.reference.size());
  for (const auto& [key, value] : k.reference) BOOST_TEST(Kind::contains(d, key));
  BOOST_TEST(!Kind::contains(d, k.other.first));
  BOOST_TEST((p == p));
  BOOST_TEST((d == d));
  BOOST_TEST((p != d));
  BOOST_TEST((d != p));
  BOOST_TEST(p.empty()); // CPython: an empty mapping is false
  BOOST_TEST(!d.empty());
  std::set<typename Kind::key> keys, ref_keys;
  std::multiset<typename Kind::value> values, ref_values;
  for (auto&& [key, value] : d) {
    keys.insert(key);
    values.insert(value);
  }
  for (const auto& [key, value] : k.reference) {
    ref_keys.insert(key);
    ref_values.insert(value);
  }
  BOOST_TEST((keys == ref_keys));
  BOOST_TEST((values == ref_values));
  BOOST_TEST((plain<Kind>(d) == k.reference));
  const auto [key, value] = *d.begin();
  BOOST_TEST((Kind::get(d, key, k.other.second) == value));
  BOOST_TEST((Kind::get(d, k.other.first, k.other.second) == k.other.second));
  BOOST_TEST(!Kind::contains(d, k.other.first));
}

template <class Kind>
void test_write() {
  const Kind k;
  using map = typename Kind::map;
  map p;
  for (const auto& [key, value] : k.reference) {
    p.insert_or_assign(key, value);
    BOOST_TEST((Kind::at(p, key) == value));
  }
  for (const auto& [key, value] : k.reference) {
    BOOST_TEST(Kind::erase(p, key) == 1u);
    BOOST_CHECK_THROW(Kind::at(p, key), wr::key_error);
  }
  p = map();
  p.update(k.reference);
  BOOST_TEST((plain<Kind>(p) == k.reference));
  const auto items_list = std::vector<std::pair<typename Kind::key, typename Kind::value>>(
      k.reference.begin(), k.reference.end());
  p = map();
  p.update(items_list);
  BOOST_TEST((plain<Kind>(p) == k.reference));
  map d = full<Kind>(k.reference);
  const auto [key, value] = *d.begin();
  const auto& [knownkey, knownvalue] = k.other;
  BOOST_TEST((Kind::setdefault(d, key, knownvalue) == value));
  BOOST_TEST((Kind::at(d, key) == value));
  BOOST_TEST((Kind::setdefault(d, knownkey, knownvalue) == knownvalue));
  BOOST_TEST((Kind::at(d, knownkey) == knownvalue));
  BOOST_TEST((Kind::pop(d, knownkey) == knownvalue));
  BOOST_TEST(!Kind::contains(d, knownkey));
  BOOST_CHECK_THROW(Kind::pop(d, knownkey), wr::key_error);
  d.insert_or_assign(knownkey, knownvalue);
  BOOST_TEST((Kind::pop(d, knownkey, k.fallback) == knownvalue));
  BOOST_TEST(!Kind::contains(d, knownkey));
  BOOST_TEST((Kind::pop(d, knownkey, k.fallback) == k.fallback));
  const auto [popped_key, popped_value] = d.popitem();
  BOOST_TEST(!Kind::contains(d, popped_key));
  BOOST_TEST((popped_value == k.reference.at(popped_key)));
  map empty;
  BOOST_CHECK_THROW(empty.popitem(), wr::key_error);
}

template <class Kind>
void test_constructor() {
  BOOST_TEST((typename Kind::map() == typename Kind::map()));
}

template <class Kind>
void test_bool() {
  const Kind k;
  BOOST_TEST(typename Kind::map().empty());
  BOOST_TEST(!full<Kind>(k.reference).empty());
}

template <class Kind>
void test_keys() {
  const Kind k;
  const typename Kind::map empty;
  BOOST_TEST((empty.begin() == empty.end()));
  const typename Kind::map d = full<Kind>(k.reference);
  bool in = false, other = false;
  for (auto&& [key, value] : d) {
    in = in || key == k.inmapping.first;
    other = other || key == k.other.first;
  }
  BOOST_TEST(in);
  BOOST_TEST(!other);
}

template <class Kind>
void test_empty_iteration() { // test_values, test_items, test_len
  const typename Kind::map d;
  BOOST_TEST(std::ranges::distance(d.begin(), d.end()) == 0);
  BOOST_TEST(d.size() == 0u);
}

template <class Kind>
void test_getitem() {
  const Kind k;
  typename Kind::map d = full<Kind>(k.reference);
  BOOST_TEST((Kind::at(d, k.inmapping.first) == k.inmapping.second));
  static_assert(!at_without_argument<typename Kind::map>);
}

template <class Kind>
void test_update() {
  const Kind k;
  using map = typename Kind::map;
  using item = std::pair<typename Kind::key, typename Kind::value>;
  const std::map<typename Kind::key, typename Kind::value> other{k.other};
  map d;
  d.update(other); // a mapping
  BOOST_TEST((plain<Kind>(d) == other));
  d = map();
  d.update({}); // no items
  BOOST_TEST((d == map()));
  d = map();
  d.update(std::vector<item>{k.other}); // an item sequence
  BOOST_TEST((plain<Kind>(d) == other));
  d = map();
  d.update(other | std::views::transform([](const auto& kv) { return item(kv); })); // lazy
  BOOST_TEST((plain<Kind>(d) == other));
  static_assert(!updatable_with<map, int>);
  d.clear();
  d.update(k.reference); // CPython's SimpleUserDict: any mapping type
  BOOST_TEST((plain<Kind>(d) == k.reference));
  for (const fail_at where : {fail_at::begin, fail_at::second, fail_at::read}) {
    map failing;
    BOOST_CHECK_THROW(failing.update(failing_items<item>(where, k.other)), failure);
  }
  // CPython's update([(1, 2, 3)]): ValueError. weak_value_map's update takes only ranges of
  // what converts to its value_type; weak_key_map's ([weakref.key.map.python]/17) takes any
  // input range, and one whose elements are not (key, value) pairs fails to compile inside it.
  if constexpr (std::is_same_v<Kind, value_kind>)
    static_assert(!updatable_with<map, std::vector<std::tuple<int, int, int>>>);
}

template <class Kind>
void test_get() {
  const Kind k;
  using map = typename Kind::map;
  const map empty;
  BOOST_TEST(!Kind::get(empty, k.other.first).has_value());
  BOOST_TEST((Kind::get(empty, k.other.first, k.fallback) == k.fallback));
  const map d = full<Kind>(k.reference);
  BOOST_TEST(!Kind::get(d, k.other.first).has_value());
  BOOST_TEST((Kind::get(d, k.other.first, k.fallback) == k.fallback));
  BOOST_TEST((Kind::get(d, k.inmapping.first) == k.inmapping.second));
  BOOST_TEST((Kind::get(d, k.inmapping.first, k.fallback) == k.inmapping.second));
  static_assert(!get_without_argument<map>);
  static_assert(!get_with_three<map, typename Kind::key, typename Kind::value>);
}

template <class Kind>
void test_setdefault() {
  const Kind k;
  static_assert(!setdefault_without_argument<typename Kind::map>);
  typename Kind::map d;
  BOOST_TEST((Kind::setdefault(d, k.inmapping.first, k.inmapping.second) == k.inmapping.second));
}

template <class Kind>
void test_popitem() {
  typename Kind::map d;
  BOOST_CHECK_THROW(d.popitem(), wr::key_error);
  static_assert(!popitem_with_argument<typename Kind::map>);
}

template <class Kind>
void test_pop() {
  const Kind k;
  typename Kind::map d;
  d.insert_or_assign(k.inmapping.first, k.inmapping.second);
  BOOST_CHECK_THROW(Kind::pop(d, k.other.first), wr::key_error);
  BOOST_TEST((Kind::pop(d, k.inmapping.first) == k.inmapping.second));
  BOOST_TEST(d.size() == 0u);
  BOOST_CHECK_THROW(Kind::pop(d, k.inmapping.first), wr::key_error);
}

} // namespace

BOOST_AUTO_TEST_SUITE(cpython_mapping_protocol)

// WeakValueDictionaryTestCase (BasicTestMappingProtocol on WeakValueDictionary)

// test_read
// Checks [weakref.value.map.lookup]/2 and /6-7; [weakref.value.map.python]/1;
// [weakref.value.map.eq]/1; [weakref.containers.general]/20.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_read) { test_read<value_kind>(); }
// test_write
// Checks [weakref.value.map.modifiers]/8 and /18-19;
// [weakref.value.map.python]/5-6, /9-11, /13-15 and /17.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_write) { test_write<value_kind>(); }
// test_constructor
// Checks [weakref.value.map.cons]/1; [weakref.value.map.eq]/1.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_constructor) { test_constructor<value_kind>(); }
// test_bool
// Checks [weakref.containers.general]/20.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_bool) { test_bool<value_kind>(); }
// test_keys (keys(None): a compile-time error; the keys are those of the iteration)
// Checks [weakref.value.map.iter]/2-3.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_keys) { test_keys<value_kind>(); }
// test_values, test_items, test_len: an empty map has no values, no items, size 0
// Checks [weakref.value.map.iter]/2-3; [weakref.containers.general]/20.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_empty_values_items_len) {
  test_empty_iteration<value_kind>();
}
// test_getitem
// Checks [weakref.value.map.lookup]/6.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_getitem) { test_getitem<value_kind>(); }
// test_update
// Checks [weakref.value.map.python]/17-18.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_update) { test_update<value_kind>(); }
// test_get
// Checks [weakref.value.map.python]/1.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_get) { test_get<value_kind>(); }
// test_setdefault
// Checks [weakref.value.map.python]/5-6.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_setdefault) { test_setdefault<value_kind>(); }
// test_popitem
// Checks [weakref.value.map.python]/15.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_popitem) { test_popitem<value_kind>(); }
// test_pop
// Checks [weakref.value.map.python]/9-11.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_mapping_pop) { test_pop<value_kind>(); }

// WeakKeyDictionaryTestCase (BasicTestMappingProtocol on WeakKeyDictionary)

// test_read
// Checks [weakref.key.map.lookup]/1 and /3-4; [weakref.key.map.python]/2; [weakref.key.map.eq]/1;
// [weakref.containers.general]/20.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_read) { test_read<key_kind>(); }
// test_write
// Checks [weakref.key.map.modifiers]/6 and /10;
// [weakref.key.map.python]/5-6, /9-11, /13-15 and /17.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_write) { test_write<key_kind>(); }
// test_constructor
// Checks [weakref.key.map.cons]/1; [weakref.key.map.eq]/1.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_constructor) { test_constructor<key_kind>(); }
// test_bool
// Checks [weakref.containers.general]/20.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_bool) { test_bool<key_kind>(); }
// test_keys
// Checks [weakref.key.map.iter]/2.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_keys) { test_keys<key_kind>(); }
// test_values, test_items, test_len
// Checks [weakref.key.map.iter]/2; [weakref.containers.general]/20.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_empty_values_items_len) {
  test_empty_iteration<key_kind>();
}
// test_getitem
// Checks [weakref.key.map.lookup]/3.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_getitem) { test_getitem<key_kind>(); }
// test_update
// Checks [weakref.key.map.python]/17-18.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_update) { test_update<key_kind>(); }
// test_get
// Checks [weakref.key.map.python]/1-2.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_get) { test_get<key_kind>(); }
// test_setdefault
// Checks [weakref.key.map.python]/5-6.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_setdefault) { test_setdefault<key_kind>(); }
// test_popitem
// Checks [weakref.key.map.python]/15.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_popitem) { test_popitem<key_kind>(); }
// test_pop
// Checks [weakref.key.map.python]/9-11.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_mapping_pop) { test_pop<key_kind>(); }

BOOST_AUTO_TEST_SUITE_END()
