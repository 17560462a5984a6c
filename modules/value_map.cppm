// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <concepts>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <memory_resource>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>
export module weakref:value_map;
import :errors;
import :control;
import :ref;
import :containers;
import :table;

namespace weakref::detail {
template <class K, class V>
struct value_map_access {
  using value_type = std::pair<const K, std::shared_ptr<V>>;
  using reference = value_type;
  template <class Entry>
  static reference make(const Entry& e, const std::shared_ptr<V>& pin) {
    return reference(e.payload, pin);
  }
};

// weak_value_map for the container core (detail::weak_container): the key is the payload and
// what Hash and KeyEqual take; the value is held weakly.
template <class K, class V>
struct value_map_traits {
  using referent = V;
  using payload = K;
  using lookup_key = K;
  using key_type = K;
  static constexpr bool weak_key = false;
  using value_type = std::pair<const K, std::shared_ptr<V>>;
  using access = value_map_access<K, V>;
  using const_access = access;
  template <class E>
  static constexpr bool insertable = std::convertible_to<E, value_type>;

  // insert(item): try_emplace(item.first, item.second).
  template <class Core, class E>
  static auto insert(Core& c, E&& item) {
    if constexpr (std::same_as<std::remove_cvref_t<E>, value_type>) {
      return c.emplace_unique(
          item.first, [&] { return std::shared_ptr<V>(std::forward<E>(item).second); }, item.first);
    } else {
      value_type v(std::forward<E>(item));
      return insert(c, std::move(v));
    }
  }
};
} // namespace weakref::detail

export namespace weakref {

// [weakref.value.map] Python: WeakValueDictionary (PY-WVD-*). "Mapping class that references
// values weakly. Entries in the dictionary will be discarded when no strong reference to the
// value exists any more." Keys are held strongly and matched with Hash and KeyEqual; values are
// factory-made objects held by weak references.
//
// [weakref.value.map]/3 Like std::unordered_map, one container is not used from two threads
// at once without synchronization (const members may run concurrently with each other), but the
// values' referents may die on any thread at any time ([weakref.containers.general]/4).
template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>,
          class Allocator = std::allocator<std::pair<const K, std::shared_ptr<V>>>>
class weak_value_map
    : public detail::weak_container<weak_value_map<K, V, Hash, KeyEqual, Allocator>,
                                    detail::value_map_traits<K, V>, Hash, KeyEqual, Allocator>,
      public detail::mapping_union<weak_value_map<K, V, Hash, KeyEqual, Allocator>,
                                   std::pair<const K, std::shared_ptr<V>>> {
  static_assert(std::is_invocable_r_v<std::size_t, const Hash&, const K&>,
                "weakref::weak_value_map<K, V, Hash>: Hash must be callable with const K&");
  static_assert(std::is_invocable_r_v<bool, const KeyEqual&, const K&, const K&>,
                "weakref::weak_value_map<K, V, Hash, KeyEqual>: KeyEqual must compare two keys");

  using traits = detail::value_map_traits<K, V>;
  using base = detail::weak_container<weak_value_map, traits, Hash, KeyEqual, Allocator>;
  using base::equal_, base::hash_of, base::table_, base::find_entry;
  using typename base::entry;

public:
  using mapped_type = std::shared_ptr<V>;
  using typename base::value_type, typename base::size_type, typename base::iterator;

  // [weakref.value.map.cons] The constructors, copy, move and assignment are the core's
  // ([weakref.containers]): a copy holds new weak references to the same values (Python: copy()).
  // [weakref.value.map.modifiers] (clear, erase, swap, erase_if and the range insertions: the
  // core). Python: d[k] = v replaces; insert and emplace do not (as std::unordered_map).
  using base::base, base::operator=, base::insert;
  std::pair<iterator, bool> insert(const value_type& item) { return traits::insert(*this, item); }
  std::pair<iterator, bool> insert(value_type&& item) {
    return traits::insert(*this, std::move(item));
  }
  template <class P>
    requires std::constructible_from<value_type, P&&>
  std::pair<iterator, bool> insert(P&& item) {
    return traits::insert(*this, value_type(std::forward<P>(item)));
  }

  template <class... Args>
  std::pair<iterator, bool> emplace(Args&&... args) {
    return insert(value_type(std::forward<Args>(args)...));
  }

  template <class... Args>
  std::pair<iterator, bool> try_emplace(const K& key, Args&&... args) {
    return this->emplace_unique(
        key, [&] { return std::shared_ptr<V>(std::forward<Args>(args)...); }, key);
  }
  template <class... Args>
  std::pair<iterator, bool> try_emplace(K&& key, Args&&... args) {
    return this->emplace_unique(
        key, [&] { return std::shared_ptr<V>(std::forward<Args>(args)...); }, std::move(key));
  }

  // Python: d[k] = v. A stale death of the replaced value never removes the new entry
  // (bpo-28427): each entry removes only itself.
  // As std::unordered_map, by const K& and by K&&, so that a key convertible to K (a string
  // literal for a string key) converts once, to the K the entry keeps.
  std::pair<iterator, bool> insert_or_assign(const K& key, std::shared_ptr<V> value) {
    return insert_or_assign_impl(key, std::move(value));
  }
  std::pair<iterator, bool> insert_or_assign(K&& key, std::shared_ptr<V> value) {
    return insert_or_assign_impl(std::move(key), std::move(value));
  }

  // [weakref.value.map.lookup] find, contains, count, equal_range: the core.
  // Python: d[k] raises KeyError when k is absent or its value has died. Like every non-const
  // lookup, the non-const form purges first ([weakref.containers.general]).
  // With a transparent Hash and KeyEqual, the lookups and at, get and pop also take what they
  // take ([weakref.containers.lookup]), as std::unordered_map's heterogeneous lookup.
  std::shared_ptr<V> at(const K& key) {
    table_.purge();
    return value_at(key);
  }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  std::shared_ptr<V> at(const Q& key) {
    table_.purge();
    return value_at(key);
  }
  std::shared_ptr<V> at(const K& key) const { return value_at(key); }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  std::shared_ptr<V> at(const Q& key) const {
    return value_at(key);
  }

  // [weakref.value.map.subscript] m[k] reads like Python's d[k] (key_error when absent) and
  // m[k] = v assigns like d[k] = v. There is no default-constructed value to insert: a value
  // that nothing else owns would die at once.
  class mapped_reference {
  public:
    mapped_reference(const mapped_reference&) = default;
    operator std::shared_ptr<V>() const { return map_->at(key_); }
    // [weakref.value.map.subscript]/4 d[k] = v. The key is copied, not moved, into the element:
    // the result still names it afterwards.
    mapped_reference& operator=(std::shared_ptr<V> value) {
      map_->insert_or_assign(key_, std::move(value));
      return *this;
    }
    // [weakref.value.map.subscript]/9 d[k] = d[j]: assigns the value other reads (key_error,
    // and no effect, if it has none). The implicit copy assignment would rebind *this to
    // other's map and key and leave both maps unchanged.
    mapped_reference& operator=(const mapped_reference& other) { return *this = other.get(); }
    std::shared_ptr<V> get() const { return map_->at(key_); }

  private:
    friend class weak_value_map;
    mapped_reference(weak_value_map* map, K key) : map_(map), key_(std::move(key)) {}
    weak_value_map* map_;
    K key_;
  };
  mapped_reference operator[](const K& key) { return mapped_reference(this, key); }
  mapped_reference operator[](K&& key) { return mapped_reference(this, std::move(key)); }

  // [weakref.value.map.python] Python's methods.
  // get(k[, default]): the value, or default (empty) if absent or dead.
  std::shared_ptr<V> get(const K& key, std::shared_ptr<V> default_value = nullptr) const {
    return value_or(key, std::move(default_value));
  }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  std::shared_ptr<V> get(const Q& key, std::shared_ptr<V> default_value = nullptr) const {
    return value_or(key, std::move(default_value));
  }
  // setdefault(k, default): the live value if present, else inserts default and returns it.
  std::shared_ptr<V> setdefault(const K& key, std::shared_ptr<V> default_value) {
    auto [it, inserted] = try_emplace(key, default_value);
    return inserted ? std::move(default_value) : (*it).second;
  }
  // pop(k): removes and returns the live value; key_error if absent.
  std::shared_ptr<V> pop(const K& key) { return take(key); }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  std::shared_ptr<V> pop(const Q& key) {
    return take(key);
  }
  std::shared_ptr<V> pop(const K& key, std::shared_ptr<V> default_value) {
    return this->extract(key, pinned).value_or(std::move(default_value));
  }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  std::shared_ptr<V> pop(const Q& key, std::shared_ptr<V> default_value) {
    return this->extract(key, pinned).value_or(std::move(default_value));
  }
  // popitem(): removes and returns some live (key, value); key_error if there is none.
  value_type popitem() {
    return this->extract_any(
        "weakref::weak_value_map::popitem: dictionary is empty",
        [](const entry& e, const std::shared_ptr<V>& pin) { return value_type(e.payload, pin); });
  }
  // update(other): d[k] = v for every (k, v) of a mapping or range of pairs. `items` is read
  // completely first, so that it may be *this or a view of it (Python: d.update(d)): each
  // insert_or_assign replaces an entry, which would free the one an iterator into *this stands
  // on (an iterator pins the value, not the entry).
  template <detail::compatible_range<value_type> R>
  void update(R&& items) {
    using item_type = std::pair<K, std::shared_ptr<V>>;
    std::vector<item_type,
                typename std::allocator_traits<Allocator>::template rebind_alloc<item_type>>
        pending(this->get_allocator());
    for (auto&& item : items) {
      const auto& [key, value] = item;
      pending.emplace_back(key, value);
    }
    for (item_type& item : pending) insert_or_assign(std::move(item.first), std::move(item.second));
  }
  void update(std::initializer_list<value_type> items) { update(std::views::all(items)); }
  weak_value_map copy() const { return *this; }

  // Python: itervaluerefs() / valuerefs(): the container's own weak references to the values
  // (handles to the entries' registrations, as Python returns its KeyedRefs). They may be dead
  // by the time they are used. itervaluerefs() is a lazy view over the live entries.
  auto itervaluerefs() const { return this->entry_refs(); }
  std::vector<weak_ref<V>> valuerefs() const { return this->entry_ref_list(); }

  // [weakref.value.map.eq] Python compares the live contents: the same keys, and for each key
  // values that compare equal (by V's ==, by identity if V has none).
  // [weakref.value.map.eq]: keys are matched by the left operand's Hash and KeyEqual, as in
  // every comparison of weak containers ([weakref.containers.general]).
  friend bool operator==(const weak_value_map& a, const weak_value_map& b) {
    return base::live_equal(a, b, [&](const value_type& element) {
      const std::shared_ptr<V> mine = a.get(element.first);
      if constexpr (std::equality_comparable<V>)
        return mine && *mine == *element.second;
      else
        return mine == element.second;
    });
  }

private:
  static std::shared_ptr<V> pinned(const entry&, const std::shared_ptr<V>& pin) { return pin; }

  // What at, get and pop share, for every lookup argument.
  template <class Q>
  std::shared_ptr<V> value_at(const Q& key) const {
    auto [e, pin] = find_entry(key);
    if (!e) throw key_error("weakref::weak_value_map::at: key not found");
    return pin;
  }
  // The default by reference, and the result built in place (the found pin, replaced only on a
  // miss): a lookup hit moves no shared_ptr but the pin (get: 143 -> 108 instructions, libc++).
  template <class Q>
  std::shared_ptr<V> value_or(const Q& key, std::shared_ptr<V>&& default_value) const {
    std::shared_ptr<V> found = find_entry(key).second;
    if (!found) found = std::move(default_value);
    return found;
  }
  template <class Q>
  std::shared_ptr<V> take(const Q& key) {
    if (auto value = this->extract(key, pinned)) return *std::move(value);
    throw key_error("weakref::weak_value_map::pop: key not found");
  }

  template <class KK>
  std::pair<iterator, bool> insert_or_assign_impl(KK&& key, std::shared_ptr<V> value) {
    table_.purge();
    const std::size_t h = hash_of(key);
    // The old element stays pinned until it is gone: releasing the pin could end its value's
    // life here, and that death's payload destructor (user code) could purge this map and free
    // the old entry before the erase below ([weakref.containers.general]/8).
    const auto [old, old_pin] = find_entry(h, key);
    // Strong guarantee: everything that can throw happens before the old entry goes.
    entry* e = table_.make_entry(detail::require_header(value), value, h, std::forward<KK>(key));
    try {
      table_.reserve_one_more();
    } catch (...) {
      table_.discard(e);
      throw;
    }
    // The new element enters before the old one goes: the old key's destructor (user code) may
    // use this map again, and must find the key's new element, not an empty slot to refill.
    table_.link(e);
    if (old) table_.erase(old);
    return {iterator(&table_, {e, std::move(value)}), old == nullptr};
  }
};

namespace pmr {
template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>>
using weak_value_map = weakref::weak_value_map<
    K, V, Hash, KeyEqual, std::pmr::polymorphic_allocator<std::pair<const K, std::shared_ptr<V>>>>;
} // namespace pmr

} // namespace weakref

// [weakref.containers.general]/7 size() is not exact while an element is dying on another
// thread, so the container does not claim std::ranges::sized_range (whose size must equal the
// distance from begin to end).
template <class K, class V, class Hash, class KeyEqual, class Allocator>
inline constexpr bool
    std::ranges::disable_sized_range<weakref::weak_value_map<K, V, Hash, KeyEqual, Allocator>> =
        true;
