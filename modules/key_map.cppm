// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <concepts>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <memory_resource>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>
export module weakref:key_map;
import :errors;
import :control;
import :ref;
import :containers;
import :table;

namespace weakref::detail {

// [weakref.key.map]/5 Debug builds: a value that owns its own key keeps the element forever
// (Python's permanent entry), diagnosed at insertion and assignment through the map.
inline constexpr const char* value_owns_key_message =
    "weakref: weak_key_map: a value owns its own key, so the element can never be removed (a "
    "permanent entry); let the value hold the key by weak_ref\n";

// What weak_key_map's iterators yield: the key, pinned, and the value by reference (const for
// const_iterator). Not std::pair<shared_ptr<K>, const V&>: in C++20 that pair and the value type
// convert into each other both ways, so they have no common reference and the const iterator
// would not be a std::forward_iterator; the std::basic_common_reference specializations below
// give this type one. Structured bindings work on it as on a pair.
template <class K, class V>
struct key_value {
  std::shared_ptr<K> first;
  V& second;
  operator std::pair<std::shared_ptr<K>, std::remove_const_t<V>>() const { return {first, second}; }
  operator key_value<K, const V>() const
    requires(!std::is_const_v<V>)
  {
    return {first, second};
  }
};

template <class K, class V, class Value>
struct key_map_access {
  using value_type = std::pair<std::shared_ptr<K>, V>;
  using reference = key_value<K, Value>;
  template <class Entry>
  static reference make(Entry& e, const std::shared_ptr<K>& pin) {
    return reference{pin, e.payload};
  }
};

// weak_key_map for the container core (detail::weak_container): the key is held weakly and
// matched by its referent; the value is the payload.
template <class K, class V>
struct key_map_traits : weak_key_traits<K> {
  using payload = V;
  using value_type = std::pair<const std::shared_ptr<K>, V>;
  using access = key_map_access<K, V, V>;
  using const_access = key_map_access<K, V, const V>;
  // Pairs, and what the maps' iterators yield (key_value converts to the pair).
  template <class E>
  static constexpr bool insertable = std::convertible_to<E, std::pair<std::shared_ptr<K>, V>>;

  // insert(item): try_emplace(item.first, item.second).
  template <class Core, class E>
  static auto insert(Core& c, E&& item) {
    auto&& [key, value] = item;
    return c.emplace_weak(key, value);
  }
  static void check_inserted(const V& value, const std::shared_ptr<K>& key) noexcept {
    diagnose_shared_owner(value, key, value_owns_key_message);
  }
};
} // namespace weakref::detail

export namespace weakref {

// [weakref.key.map] Python: WeakKeyDictionary (PY-WKD-*). "Mapping class that references keys
// weakly. Entries in the dictionary will be discarded when there is no longer a strong reference
// to the key." Keys are factory-made objects, matched as Python does by their referents' Hash and
// KeyEqual (hash taken once, at insertion), or by identity with weakref::identity_hash and
// weakref::identity_equal; values are held strongly, and destroyed inside the key's death or by
// the purge that removes the entry, depending on the allocator ([weakref.containers.general]/8).
//
// [weakref.key.map]/3 Threads: as [weakref.value.map]/3.
template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>,
          class Allocator = std::allocator<std::pair<const std::shared_ptr<K>, V>>>
class weak_key_map
    : public detail::weak_container<weak_key_map<K, V, Hash, KeyEqual, Allocator>,
                                    detail::key_map_traits<K, V>, Hash, KeyEqual, Allocator>,
      public detail::mapping_union<weak_key_map<K, V, Hash, KeyEqual, Allocator>,
                                   std::pair<std::shared_ptr<K>, V>> {
  static_assert(std::is_invocable_r_v<std::size_t, const Hash&, const K&>,
                "weakref::weak_key_map<K, V, Hash>: Hash must be callable with const K&; for a key "
                "type without std::hash use weakref::identity_hash<K> and "
                "weakref::identity_equal<K>");
  static_assert(std::is_invocable_r_v<bool, const KeyEqual&, const K&, const K&>,
                "weakref::weak_key_map<K, V, Hash, KeyEqual>: KeyEqual must compare two keys; for "
                "a key type without == use weakref::identity_equal<K>");

  using traits = detail::key_map_traits<K, V>;
  using base = detail::weak_container<weak_key_map, traits, Hash, KeyEqual, Allocator>;
  using base::find_entry, base::find_live;
  using typename base::entry;

public:
  using mapped_type = V;
  using typename base::value_type, typename base::iterator, typename base::const_iterator;

  // [weakref.key.map.cons] The constructors, copy, move and assignment are the core's
  // ([weakref.containers]): a copy holds new weak references to the same keys and copies of
  // the values. [weakref.key.map.modifiers] (clear, erase, swap, erase_if and the range
  // insertions: the core).
  using base::base, base::operator=, base::insert;
  std::pair<iterator, bool> insert(const value_type& item) { return traits::insert(*this, item); }
  std::pair<iterator, bool> insert(value_type&& item) {
    return try_emplace(item.first, std::move(item.second));
  }
  template <class P>
    requires std::constructible_from<value_type, P&&>
  std::pair<iterator, bool> insert(P&& item) {
    return insert(value_type(std::forward<P>(item)));
  }

  template <class... Args>
  std::pair<iterator, bool> emplace(Args&&... args) {
    return insert(value_type(std::forward<Args>(args)...));
  }

  // Constructs the value from args only if no live key matches; type_error for a key not made
  // by the factories even when an equal key is present, as Python.
  template <class... Args>
  std::pair<iterator, bool> try_emplace(const std::shared_ptr<K>& key, Args&&... args) {
    return this->emplace_weak(key, std::forward<Args>(args)...);
  }

  // Python: d[k] = v. An equal live key keeps its entry (and its referent), as Python keeps the
  // first key object; only the value is replaced.
  template <class M>
    requires std::assignable_from<V&, M&&> && std::constructible_from<V, M&&>
  std::pair<iterator, bool> insert_or_assign(const std::shared_ptr<K>& key, M&& value) {
    auto [it, inserted] = try_emplace(key, std::forward<M>(value));
    if (!inserted) {
      (*it).second = std::forward<M>(value);
      detail::diagnose_shared_owner((*it).second, key, detail::value_owns_key_message);
    }
    return {it, inserted};
  }

  // [weakref.key.map.lookup] find, contains, count, equal_range by the key object (Python:
  // `key in d`), a shared_ptr to it, or what a transparent Hash and KeyEqual take
  // ([weakref.containers.lookup]): the core. at(k) is Python's d[k]: key_error when absent; it
  // takes the same arguments, as do get and pop.
  V& at(const K& key) {
    this->purge();
    return const_cast<V&>(value_at(key));
  }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  V& at(const Q& key) {
    this->purge();
    return const_cast<V&>(value_at(key));
  }
  const V& at(const K& key) const { return value_at(key); }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  const V& at(const Q& key) const {
    return value_at(key);
  }
  // As std::unordered_map: inserts a value-initialized V for a new key.
  V& operator[](const std::shared_ptr<K>& key) { return (*try_emplace(key).first).second; }

  // [weakref.key.map.python] Python's methods.
  std::optional<V> get(const K& key) const { return value_or_null(key); }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  std::optional<V> get(const Q& key) const {
    return value_or_null(key);
  }
  V get(const K& key, V default_value) const { return value_or(key, std::move(default_value)); }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  V get(const Q& key, V default_value) const {
    return value_or(key, std::move(default_value));
  }
  // setdefault inserts an absent key, so it takes the owner of the key only, as try_emplace.
  V& setdefault(const std::shared_ptr<K>& key, V default_value = V()) {
    return (*try_emplace(key, std::move(default_value)).first).second;
  }
  V pop(const K& key) { return take(key); }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  V pop(const Q& key) {
    return take(key);
  }
  V pop(const K& key, V default_value) { return take(key, std::move(default_value)); }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  V pop(const Q& key, V default_value) {
    return take(key, std::move(default_value));
  }
  std::pair<std::shared_ptr<K>, V> popitem() {
    return this->extract_any("weakref::weak_key_map::popitem: dictionary is empty",
                             [](entry& e, const std::shared_ptr<K>& pin) {
                               return std::pair<std::shared_ptr<K>, V>(pin, std::move(e.payload));
                             });
  }
  template <std::ranges::input_range R>
  void update(R&& items) {
    for (auto&& item : items) {
      auto&& [key, value] = item;
      insert_or_assign(key, value);
    }
  }
  void update(std::initializer_list<value_type> items) { update(std::views::all(items)); }
  weak_key_map copy() const { return *this; }

  // Python: iterkeyrefs() / keyrefs(): "the weak references to the keys" — handles to the
  // entries' own registrations; "not guaranteed to be 'live' at the time they are used".
  auto iterkeyrefs() const { return this->entry_refs(); }
  std::vector<weak_ref<K>> keyrefs() const { return this->entry_ref_list(); }

  // [weakref.key.map.eq] The same live keys with equal values; keys are matched by the left
  // operand's Hash and KeyEqual.
  friend bool operator==(const weak_key_map& a, const weak_key_map& b)
    requires std::equality_comparable<V>
  {
    return base::live_equal(a, b, [&](const auto& element) {
      auto it = a.find(*element.first);
      return it != a.end() && (*it).second == element.second;
    });
  }

private:
  static V take_value(entry& e, const std::shared_ptr<K>&) { return std::move(e.payload); }

  // What at, get and pop share, for every lookup argument.
  template <class Q>
  const V& value_at(const Q& key) const {
    auto [e, pin] = find_entry(key);
    if (!e) throw key_error("weakref::weak_key_map::at: key not found");
    return e->payload;
  }
  template <class Q>
  std::optional<V> value_or_null(const Q& key) const {
    const auto [e, pin] = find_value(key);
    return e ? std::optional<V>(e->payload) : std::nullopt;
  }
  template <class Q>
  V value_or(const Q& key, V default_value) const {
    const auto [e, pin] = find_value(key);
    return e ? e->payload : std::move(default_value);
  }
  // The live entry for key, with what keeps its value alive while the caller copies it: under
  // the identity policy a key object (or an owner of one) passed by the caller is the stored
  // key, which the caller keeps alive; otherwise a pin of the stored key, since its death may
  // destroy the value on another thread ([weakref.containers.general]/5).
  template <class Q>
  std::pair<const entry*, std::shared_ptr<K>> find_value(const Q& key) const {
    if constexpr (base::template found_by_address<Q>)
      return {find_live(key), nullptr};
    else
      return find_entry(key);
  }
  template <class Q>
  V take(const Q& key) {
    if (auto value = this->extract(key, take_value)) return *std::move(value);
    throw key_error("weakref::weak_key_map::pop: key not found");
  }
  template <class Q>
  V take(const Q& key, V default_value) {
    return this->extract(key, take_value).value_or(std::move(default_value));
  }
};

namespace pmr {
template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
using weak_key_map =
    weakref::weak_key_map<K, V, Hash, KeyEqual,
                          std::pmr::polymorphic_allocator<std::pair<const std::shared_ptr<K>, V>>>;
} // namespace pmr

} // namespace weakref

template <class K, class V, class U, template <class> class TQ, template <class> class UQ>
  requires std::same_as<std::remove_const_t<V>, U>
struct std::basic_common_reference<weakref::detail::key_value<K, V>,
                                   std::pair<std::shared_ptr<K>, U>, TQ, UQ> {
  using type = std::pair<std::shared_ptr<K>, U>;
};
template <class K, class V, class U, template <class> class TQ, template <class> class UQ>
  requires std::same_as<std::remove_const_t<V>, U>
struct std::basic_common_reference<std::pair<std::shared_ptr<K>, U>,
                                   weakref::detail::key_value<K, V>, TQ, UQ> {
  using type = std::pair<std::shared_ptr<K>, U>;
};

// [weakref.containers.general]/7 size() is not exact while an element is dying on another
// thread, so the container does not claim std::ranges::sized_range (whose size must equal the
// distance from begin to end).
template <class K, class V, class Hash, class KeyEqual, class Allocator>
inline constexpr bool
    std::ranges::disable_sized_range<weakref::weak_key_map<K, V, Hash, KeyEqual, Allocator>> = true;
