module;
#include <concepts>
#include <cstddef>
#include <cstdio>
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
template <class T>
inline constexpr bool is_shared_ptr = false;
template <class T>
inline constexpr bool is_shared_ptr<std::shared_ptr<T>> = true;

// [weakref.key.map]/4 Debug builds: a value that owns its own key keeps the element forever
// (Python's permanent entry). Detected where it is cheap: a value that is a shared_ptr sharing
// the key's ownership, at insertion and assignment through the map.
template <class V, class K>
void diagnose_value_owning_key([[maybe_unused]] const V& value,
                               [[maybe_unused]] const std::shared_ptr<K>& key) noexcept {
#ifndef NDEBUG
  if constexpr (is_shared_ptr<V>) {
    if (value && !value.owner_before(key) && !key.owner_before(value))
      std::fputs("weakref: weak_key_map: a value owns its own key, so the element can never be "
                 "removed (a permanent entry); let the value hold the key by weak_ref\n",
                 stderr);
  }
#endif
}

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

template <class R>
struct keyref_access {
  using value_type = weak_ref<R>;
  using reference = weak_ref<R>;
  template <class Entry>
  static reference make(Entry& e, const std::shared_ptr<R>&) {
    acquire(&e);
    return access::adopt<weak_ref<R>>(&e);
  }
};
} // namespace weakref::detail

export namespace weakref {

// [weakref.key.map] Python: WeakKeyDictionary (PY-WKD-*). "Mapping class that references keys
// weakly. Entries in the dictionary will be discarded when there is no longer a strong reference
// to the key." Keys are factory-made objects, matched as Python does by their referents' Hash and
// KeyEqual (hash taken once, at insertion), or by identity with weakref::identity_hash and
// weakref::identity_equal; values are held strongly and destroyed when the entry is purged.
//
// [weakref.key.map]/2 Threads: as [weakref.value.map]/2.
template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>,
          class Allocator = std::allocator<std::pair<const std::shared_ptr<K>, V>>>
class weak_key_map
    : public detail::container_base<weak_key_map<K, V, Hash, KeyEqual, Allocator>,
                                    detail::weak_table<K, V, Allocator>, Hash, KeyEqual> {
  static_assert(std::is_object_v<K> && !std::is_array_v<K>,
                "weakref::weak_key_map<K, V>: K must be a non-array object type");
  static_assert(std::is_invocable_r_v<std::size_t, const Hash&, const K&>,
                "weakref::weak_key_map<K, V, Hash>: Hash must be callable with const K&; for a key "
                "type without std::hash use weakref::identity_hash<K> and "
                "weakref::identity_equal<K>");
  static_assert(std::is_invocable_r_v<bool, const KeyEqual&, const K&, const K&>,
                "weakref::weak_key_map<K, V, Hash, KeyEqual>: KeyEqual must compare two keys; for "
                "a key type without == use weakref::identity_equal<K>");

  using table_type = detail::weak_table<K, V, Allocator>;
  using base = detail::container_base<weak_key_map, table_type, Hash, KeyEqual>;
  friend base;
  using base::equal_;
  using base::hash_;
  using base::table_;
  using entry = typename table_type::entry;
  using keyref_iterator = detail::table_iterator<table_type, detail::keyref_access<K>>;

public:
  using key_type = std::shared_ptr<K>;
  using mapped_type = V;
  using value_type = std::pair<const std::shared_ptr<K>, V>;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  using iterator = detail::table_iterator<table_type, detail::key_map_access<K, V, V>>;
  using const_iterator = detail::table_iterator<table_type, detail::key_map_access<K, V, const V>>;
  using reference = std::iter_reference_t<iterator>;
  using const_reference = std::iter_reference_t<const_iterator>;

  // [weakref.key.map.cons]
  weak_key_map() : weak_key_map(size_type(0)) {}
  explicit weak_key_map(size_type bucket_count, const Hash& hash = Hash(),
                        const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : base(alloc, hash, equal) {
    if (bucket_count) table_.rehash(bucket_count);
  }
  weak_key_map(size_type bucket_count, const Allocator& alloc)
      : weak_key_map(bucket_count, Hash(), KeyEqual(), alloc) {}
  weak_key_map(size_type bucket_count, const Hash& hash, const Allocator& alloc)
      : weak_key_map(bucket_count, hash, KeyEqual(), alloc) {}
  explicit weak_key_map(const Allocator& alloc) : weak_key_map(0, Hash(), KeyEqual(), alloc) {}

  template <std::input_iterator I, std::sentinel_for<I> S>
  weak_key_map(I first, S last, size_type bucket_count = 0, const Hash& hash = Hash(),
               const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : weak_key_map(bucket_count, hash, equal, alloc) {
    insert(std::move(first), std::move(last));
  }
  template <std::ranges::input_range R>
  weak_key_map(from_range_t, R&& range, size_type bucket_count = 0, const Hash& hash = Hash(),
               const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : weak_key_map(bucket_count, hash, equal, alloc) {
    insert_range(std::forward<R>(range));
  }
  weak_key_map(std::initializer_list<value_type> items, size_type bucket_count = 0,
               const Hash& hash = Hash(), const KeyEqual& equal = KeyEqual(),
               const Allocator& alloc = Allocator())
      : weak_key_map(bucket_count, hash, equal, alloc) {
    insert(items);
  }

  // A copy holds new weak references to the same keys and copies of the values.
  weak_key_map(const weak_key_map& other)
      : weak_key_map(other,
                     std::allocator_traits<Allocator>::select_on_container_copy_construction(
                         other.get_allocator())) {}
  weak_key_map(const weak_key_map& other, const std::type_identity_t<Allocator>& alloc)
      : weak_key_map(0, other.hash_, other.equal_, alloc) {
    table_.max_load_factor(other.max_load_factor());
    insert(other.begin(), other.end());
  }
  weak_key_map(weak_key_map&& other) noexcept
      : base(std::move(other)) {}
  weak_key_map(weak_key_map&& other, const std::type_identity_t<Allocator>& alloc)
      : weak_key_map(0, other.hash_, other.equal_, alloc) {
    if (alloc == other.get_allocator()) {
      table_.take_storage(other.table_);
    } else {
      for (auto&& [key, value] : other) try_emplace(key, std::move(value));
    }
  }

  weak_key_map& operator=(const weak_key_map& other) {
    if (this == &other) return *this;
    this->clear();
    if constexpr (std::allocator_traits<Allocator>::propagate_on_container_copy_assignment::value) {
      table_type fresh(other.get_allocator());
      table_.swap(fresh);
    }
    hash_ = other.hash_;
    equal_ = other.equal_;
    insert(other.begin(), other.end());
    return *this;
  }
  weak_key_map& operator=(weak_key_map&& other) noexcept(
      std::allocator_traits<Allocator>::is_always_equal::value ||
      std::allocator_traits<Allocator>::propagate_on_container_move_assignment::value) {
    if (this == &other) return *this;
    hash_ = other.hash_;
    equal_ = other.equal_;
    if constexpr (std::allocator_traits<Allocator>::propagate_on_container_move_assignment::value) {
      table_.take_storage(other.table_);
      table_.set_allocator(other.get_allocator());
    } else if (this->get_allocator() == other.get_allocator()) {
      table_.take_storage(other.table_);
    } else {
      this->clear();
      for (auto&& [key, value] : other) try_emplace(key, std::move(value));
    }
    return *this;
  }
  weak_key_map& operator=(std::initializer_list<value_type> items) {
    this->clear();
    insert(items);
    return *this;
  }


  // [weakref.key.map.iter] (key, value) pairs of live entries: the key pinned, the value by
  // reference (mutable through iterator).
  iterator begin() {
    table_.purge();
    return iterator(&table_, table_.first());
  }
  const_iterator begin() const { return const_iterator(&table_, table_.first()); }
  iterator end() noexcept { return {}; }
  const_iterator end() const noexcept { return {}; }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const noexcept { return end(); }


  // [weakref.key.map.modifiers] (clear, swap, erase_if: detail::container_base)
  std::pair<iterator, bool> insert(const value_type& item) {
    return try_emplace(item.first, item.second);
  }
  std::pair<iterator, bool> insert(value_type&& item) {
    return try_emplace(item.first, std::move(item.second));
  }
  template <class P>
    requires std::constructible_from<value_type, P&&>
  std::pair<iterator, bool> insert(P&& item) {
    value_type v(std::forward<P>(item));
    return insert(std::move(v));
  }
  template <std::input_iterator I, std::sentinel_for<I> S>
  void insert(I first, S last) {
    for (; first != last; ++first) {
      auto&& [key, value] = *first;
      try_emplace(key, value);
    }
  }
  void insert(std::initializer_list<value_type> items) { insert(items.begin(), items.end()); }
  template <std::ranges::input_range R>
  void insert_range(R&& range) {
    insert(std::ranges::begin(range), std::ranges::end(range));
  }

  template <class... Args>
  std::pair<iterator, bool> emplace(Args&&... args) {
    value_type v(std::forward<Args>(args)...);
    return insert(std::move(v));
  }

  // Constructs the value from args only if no live key matches.
  template <class... Args>
  std::pair<iterator, bool> try_emplace(const std::shared_ptr<K>& key, Args&&... args) {
    table_.purge();
    detail::require_header(key); // type_error even when an equal key is present, as Python
    const std::size_t h = hash_(*key);
    if (auto [e, pin] = find_entry(h, *key); e)
      return {iterator(&table_, {table_.bucket_of(h), e, std::move(pin)}), false};
    entry* e = table_.make_entry(key, h, std::forward<Args>(args)...);
    link_or_discard(e);
    detail::diagnose_value_owning_key(e->payload, key);
    return {iterator(&table_, {table_.bucket_of(h), e, key}), true};
  }

  // Python: d[k] = v. An equal live key keeps its entry (and its referent), as Python keeps the
  // first key object; only the value is replaced.
  template <class M>
    requires std::assignable_from<V&, M&&> && std::constructible_from<V, M&&>
  std::pair<iterator, bool> insert_or_assign(const std::shared_ptr<K>& key, M&& value) {
    auto [it, inserted] = try_emplace(key, std::forward<M>(value));
    if (!inserted) {
      (*it).second = std::forward<M>(value);
      detail::diagnose_value_owning_key((*it).second, key);
    }
    return {it, inserted};
  }

  iterator erase(const_iterator pos) {
    const_iterator next = pos;
    ++next;
    table_.purge();
    table_.erase(pos.entry());
    return iterator(&table_, next.position());
  }
  iterator erase(const_iterator first, const_iterator last) {
    while (first != last) first = erase(first);
    return iterator(&table_, last.position());
  }
  size_type erase(const K& key) {
    table_.purge();
    auto [e, pin] = find_entry(hash_(key), key);
    if (!e) return 0;
    table_.erase(e);
    return 1;
  }
  size_type erase(const std::shared_ptr<K>& key) { return key ? erase(*key) : 0; }


  // [weakref.key.map.lookup] By the key object (Python: `key in d`, d[key]).
  iterator find(const K& key) {
    table_.purge();
    const std::size_t h = hash_(key);
    auto [e, pin] = find_entry(h, key);
    return e ? iterator(&table_, {table_.bucket_of(h), e, std::move(pin)}) : end();
  }
  const_iterator find(const K& key) const {
    const std::size_t h = hash_(key);
    auto [e, pin] = find_entry(h, key);
    return e ? const_iterator(&table_, {table_.bucket_of(h), e, std::move(pin)}) : end();
  }
  iterator find(const std::shared_ptr<K>& key) { return key ? find(*key) : end(); }
  const_iterator find(const std::shared_ptr<K>& key) const { return key ? find(*key) : end(); }
  bool contains(const K& key) const { return find_live(hash_(key), key) != nullptr; }
  bool contains(const std::shared_ptr<K>& key) const { return key && contains(*key); }
  size_type count(const K& key) const { return contains(key) ? 1 : 0; }
  size_type count(const std::shared_ptr<K>& key) const { return contains(key) ? 1 : 0; }
  std::pair<iterator, iterator> equal_range(const K& key) {
    iterator it = find(key);
    if (it == end()) return {it, it};
    return {it, std::next(it)};
  }
  std::pair<const_iterator, const_iterator> equal_range(const K& key) const {
    const_iterator it = find(key);
    if (it == end()) return {it, it};
    return {it, std::next(it)};
  }
  std::pair<iterator, iterator> equal_range(const std::shared_ptr<K>& key) {
    return key ? equal_range(*key) : std::pair<iterator, iterator>(end(), end());
  }
  std::pair<const_iterator, const_iterator> equal_range(const std::shared_ptr<K>& key) const {
    return key ? equal_range(*key) : std::pair<const_iterator, const_iterator>(end(), end());
  }

  // Python: d[k] raises KeyError when k is absent.
  V& at(const K& key) {
    table_.purge();
    return const_cast<V&>(std::as_const(*this).at(key));
  }
  const V& at(const K& key) const {
    auto [e, pin] = find_entry(hash_(key), key);
    if (!e) throw key_error("weakref::weak_key_map::at: key not found");
    return e->payload;
  }
  // As std::unordered_map: inserts a value-initialized V for a new key.
  V& operator[](const std::shared_ptr<K>& key) { return (*try_emplace(key).first).second; }

  // [weakref.key.map.python] Python's methods.
  std::optional<V> get(const K& key) const {
    const entry* e = find_live(hash_(key), key);
    return e ? std::optional<V>(e->payload) : std::nullopt;
  }
  V get(const K& key, V default_value) const {
    const entry* e = find_live(hash_(key), key);
    return e ? e->payload : std::move(default_value);
  }
  V& setdefault(const std::shared_ptr<K>& key, V default_value = V()) {
    return (*try_emplace(key, std::move(default_value)).first).second;
  }
  V pop(const K& key) {
    table_.purge();
    auto [e, pin] = find_entry(hash_(key), key);
    if (!e) throw key_error("weakref::weak_key_map::pop: key not found");
    V value = std::move(e->payload);
    table_.erase(e);
    return value;
  }
  V pop(const K& key, V default_value) {
    table_.purge();
    auto [e, pin] = find_entry(hash_(key), key);
    if (!e) return default_value;
    V value = std::move(e->payload);
    table_.erase(e);
    return value;
  }
  std::pair<std::shared_ptr<K>, V> popitem() {
    iterator it = begin();
    if (it == end()) throw key_error("weakref::weak_key_map::popitem: dictionary is empty");
    std::pair<std::shared_ptr<K>, V> item(it.pinned(), std::move(it.entry()->payload));
    table_.erase(it.entry());
    return item;
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
  auto iterkeyrefs() const {
    return std::ranges::subrange<keyref_iterator, keyref_iterator>(
        keyref_iterator(&table_, table_.first()), keyref_iterator());
  }
  std::vector<weak_ref<K>> keyrefs() const {
    std::vector<weak_ref<K>> refs;
    refs.reserve(this->size());
    for (weak_ref<K> r : iterkeyrefs()) refs.push_back(std::move(r));
    return refs;
  }


  // [weakref.key.map.eq] The same live keys (by b's policy) with equal values.
  friend bool operator==(const weak_key_map& a, const weak_key_map& b)
    requires std::equality_comparable<V>
  {
    // [weakref.key.map.eq]: keys are matched by the left operand's Hash and KeyEqual.
    size_type n = 0;
    for (const auto& [key, value] : b) {
      ++n;
      auto it = a.find(*key);
      if (it == a.end() || !((*it).second == value)) return false;
    }
    return n == static_cast<size_type>(std::ranges::distance(a.begin(), a.end()));
  }


private:
  std::pair<entry*, std::shared_ptr<K>> find_entry(std::size_t h, const K& key) const {
    return table_.find(h, [&](const entry&, const K& referent) { return equal_(referent, key); });
  }
  // The live entry for key, not pinned (for lookups that return no key): under the identity
  // policy, by address without touching the referent's count (a performance path).
  entry* find_live(std::size_t h, const K& key) const {
    if constexpr (detail::is_identity_policy<Hash, KeyEqual>)
      return table_.find_by_address(h, std::addressof(key));
    else
      return find_entry(h, key).first;
  }

  void link_or_discard(entry* e) {
    try {
      table_.link(e);
    } catch (...) {
      table_.discard(e);
      throw;
    }
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
struct std::basic_common_reference<weakref::detail::key_value<K, V>, std::pair<std::shared_ptr<K>, U>,
                                   TQ, UQ> {
  using type = std::pair<std::shared_ptr<K>, U>;
};
template <class K, class V, class U, template <class> class TQ, template <class> class UQ>
  requires std::same_as<std::remove_const_t<V>, U>
struct std::basic_common_reference<std::pair<std::shared_ptr<K>, U>, weakref::detail::key_value<K, V>,
                                   TQ, UQ> {
  using type = std::pair<std::shared_ptr<K>, U>;
};

// [weakref.containers.general]/5 size() is not exact while an element is dying on another
// thread, so the container does not claim std::ranges::sized_range (whose size must equal the
// distance from begin to end).
template <class K, class V, class Hash, class KeyEqual, class Allocator>
inline constexpr bool
    std::ranges::disable_sized_range<weakref::weak_key_map<K, V, Hash, KeyEqual, Allocator>> = true;
