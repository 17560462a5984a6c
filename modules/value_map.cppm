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
// Python's KeyedRef: the entry itself, as a weak_ref handle.
template <class R>
struct entry_ref_access {
  using value_type = weak_ref<R>;
  using reference = weak_ref<R>;
  template <class Entry>
  static reference make(Entry& e, const std::shared_ptr<R>&) {
    acquire(&e);
    return access::adopt<weak_ref<R>>(&e);
  }
};

template <class K, class V>
struct value_map_access {
  using value_type = std::pair<const K, std::shared_ptr<V>>;
  using reference = value_type;
  template <class Entry>
  static reference make(const Entry& e, const std::shared_ptr<V>& pin) {
    return reference(e.payload, pin);
  }
};
} // namespace weakref::detail

export namespace weakref {

// [weakref.value.map] Python: WeakValueDictionary (PY-WVD-*). "Mapping class that references
// values weakly. Entries in the dictionary will be discarded when no strong reference to the
// value exists any more." Keys are held strongly and matched with Hash and KeyEqual; values are
// factory-made objects held by weak references.
//
// [weakref.value.map]/2 Like std::unordered_map, one container is not used from two threads
// at once without synchronization (const members may run concurrently with each other), but the
// values' referents may die on any thread at any time ([weakref.containers.general]/3).
template <class K, class V, class Hash = std::hash<K>, class KeyEqual = std::equal_to<K>,
          class Allocator = std::allocator<std::pair<const K, std::shared_ptr<V>>>>
class weak_value_map : public detail::container_base<weak_value_map<K, V, Hash, KeyEqual, Allocator>,
                                                     detail::weak_table<V, K, Allocator>, Hash, KeyEqual> {
  static_assert(std::is_object_v<V> && !std::is_array_v<V>,
                "weakref::weak_value_map<K, V>: V must be a non-array object type");
  static_assert(std::is_invocable_r_v<std::size_t, const Hash&, const K&>,
                "weakref::weak_value_map<K, V, Hash>: Hash must be callable with const K&");
  static_assert(std::is_invocable_r_v<bool, const KeyEqual&, const K&, const K&>,
                "weakref::weak_value_map<K, V, Hash, KeyEqual>: KeyEqual must compare two keys");

  using table_type = detail::weak_table<V, K, Allocator>;
  using base = detail::container_base<weak_value_map, table_type, Hash, KeyEqual>;
  friend base;
  using base::equal_;
  using base::hash_;
  using base::table_;
  using entry = typename table_type::entry;
  using access = detail::value_map_access<K, V>;
  using valueref_iterator = detail::table_iterator<table_type, detail::entry_ref_access<V>>;

public:
  using key_type = K;
  using mapped_type = std::shared_ptr<V>;
  using value_type = std::pair<const K, std::shared_ptr<V>>;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  using reference = value_type;
  using const_reference = value_type;
  using iterator = detail::table_iterator<table_type, access>;
  using const_iterator = iterator;

  // [weakref.value.map.cons]
  weak_value_map() : weak_value_map(size_type(0)) {}
  explicit weak_value_map(size_type bucket_count, const Hash& hash = Hash(),
                          const KeyEqual& equal = KeyEqual(),
                          const Allocator& alloc = Allocator())
      : base(alloc, hash, equal) {
    if (bucket_count) table_.rehash(bucket_count);
  }
  weak_value_map(size_type bucket_count, const Allocator& alloc)
      : weak_value_map(bucket_count, Hash(), KeyEqual(), alloc) {}
  weak_value_map(size_type bucket_count, const Hash& hash, const Allocator& alloc)
      : weak_value_map(bucket_count, hash, KeyEqual(), alloc) {}
  explicit weak_value_map(const Allocator& alloc) : weak_value_map(0, Hash(), KeyEqual(), alloc) {}

  template <std::input_iterator I, std::sentinel_for<I> S>
  weak_value_map(I first, S last, size_type bucket_count = 0, const Hash& hash = Hash(),
                 const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : weak_value_map(bucket_count, hash, equal, alloc) {
    insert(std::move(first), std::move(last));
  }
  template <detail::compatible_range<value_type> R>
  weak_value_map(from_range_t, R&& range, size_type bucket_count = 0, const Hash& hash = Hash(),
                 const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : weak_value_map(bucket_count, hash, equal, alloc) {
    insert_range(std::forward<R>(range));
  }
  weak_value_map(std::initializer_list<value_type> items, size_type bucket_count = 0,
                 const Hash& hash = Hash(), const KeyEqual& equal = KeyEqual(),
                 const Allocator& alloc = Allocator())
      : weak_value_map(bucket_count, hash, equal, alloc) {
    insert(items);
  }

  // A copy holds new weak references to the same values (Python: copy()).
  weak_value_map(const weak_value_map& other)
      : weak_value_map(other,
                       std::allocator_traits<Allocator>::select_on_container_copy_construction(
                           other.get_allocator())) {}
  weak_value_map(const weak_value_map& other, const std::type_identity_t<Allocator>& alloc)
      : weak_value_map(0, other.hash_, other.equal_, alloc) {
    table_.max_load_factor(other.max_load_factor());
    insert(other.begin(), other.end());
  }
  weak_value_map(weak_value_map&& other) noexcept
      : base(std::move(other)) {}
  weak_value_map(weak_value_map&& other, const std::type_identity_t<Allocator>& alloc)
      : weak_value_map(0, other.hash_, other.equal_, alloc) {
    if (alloc == other.get_allocator())
      table_.take_storage(other.table_);
    else
      insert(other.begin(), other.end());
  }

  weak_value_map& operator=(const weak_value_map& other) {
    if (this == &other) return *this;
    this->clear();
    if constexpr (std::allocator_traits<Allocator>::propagate_on_container_copy_assignment::value) {
      table_type fresh(other.get_allocator());
      table_.swap(fresh); // our entries go with `fresh`, released by our old allocator
    }
    hash_ = other.hash_;
    equal_ = other.equal_;
    insert(other.begin(), other.end());
    return *this;
  }
  weak_value_map& operator=(weak_value_map&& other) noexcept(
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
      insert(other.begin(), other.end());
    }
    return *this;
  }
  weak_value_map& operator=(std::initializer_list<value_type> items) {
    this->clear();
    insert(items);
    return *this;
  }


  // [weakref.value.map.iter] Iteration yields (key, value) pairs of live entries only; the
  // value is pinned while the iterator points at it.
  iterator begin() {
    table_.purge();
    return iterator(&table_, table_.first());
  }
  const_iterator begin() const { return const_iterator(&table_, table_.first()); }
  iterator end() noexcept { return {}; }
  const_iterator end() const noexcept { return {}; }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const noexcept { return end(); }


  // [weakref.value.map.modifiers] (clear, swap, erase_if: detail::container_base)
  // Python: d[k] = v replaces; insert and emplace do not (as std::unordered_map).
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
    for (; first != last; ++first) insert(*first);
  }
  void insert(std::initializer_list<value_type> items) { insert(items.begin(), items.end()); }
  template <detail::compatible_range<value_type> R>
  void insert_range(R&& range) {
    for (auto&& item : range) insert(std::forward<decltype(item)>(item));
  }

  template <class... Args>
  std::pair<iterator, bool> emplace(Args&&... args) {
    value_type v(std::forward<Args>(args)...);
    return insert(std::move(v));
  }

  template <class... Args>
  std::pair<iterator, bool> try_emplace(const K& key, Args&&... args) {
    return try_emplace_impl(key, std::forward<Args>(args)...);
  }
  template <class... Args>
  std::pair<iterator, bool> try_emplace(K&& key, Args&&... args) {
    return try_emplace_impl(std::move(key), std::forward<Args>(args)...);
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

  iterator erase(const_iterator pos) {
    iterator next = pos;
    ++next;
    table_.purge();
    table_.erase(pos.entry());
    return next;
  }
  iterator erase(const_iterator first, const_iterator last) {
    while (first != last) first = erase(first);
    return last;
  }
  size_type erase(const K& key) {
    table_.purge();
    auto [e, pin] = find_entry(hash_(key), key);
    if (!e) return 0;
    table_.erase(e);
    return 1;
  }


  // [weakref.value.map.lookup]
  iterator find(const K& key) {
    table_.purge();
    return std::as_const(*this).find(key);
  }
  const_iterator find(const K& key) const {
    const std::size_t h = hash_(key);
    auto [e, pin] = find_entry(h, key);
    if (!e) return end();
    return iterator(&table_, {table_.bucket_of(h), e, std::move(pin)});
  }
  bool contains(const K& key) const { return find_entry(hash_(key), key).first != nullptr; }
  size_type count(const K& key) const { return contains(key) ? 1 : 0; }
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

  // Python: d[k] raises KeyError when k is absent or its value has died. Like every non-const
  // lookup, the non-const form purges first ([weakref.containers.general]).
  std::shared_ptr<V> at(const K& key) {
    table_.purge();
    return std::as_const(*this).at(key);
  }
  std::shared_ptr<V> at(const K& key) const {
    auto [e, pin] = find_entry(hash_(key), key);
    if (!e) throw key_error("weakref::weak_value_map::at: key not found");
    return pin;
  }

  // [weakref.value.map.subscript] m[k] reads like Python's d[k] (key_error when absent) and
  // m[k] = v assigns like d[k] = v. There is no default-constructed value to insert: a value
  // that nothing else owns would die at once.
  class mapped_reference {
  public:
    operator std::shared_ptr<V>() const { return map_->at(key_); }
    mapped_reference& operator=(std::shared_ptr<V> value) {
      map_->insert_or_assign(std::move(key_), std::move(value));
      return *this;
    }
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
    auto [e, pin] = find_entry(hash_(key), key);
    return e ? std::move(pin) : std::move(default_value);
  }
  // setdefault(k, default): the live value if present, else inserts default and returns it.
  std::shared_ptr<V> setdefault(const K& key, std::shared_ptr<V> default_value) {
    auto [it, inserted] = try_emplace(key, default_value);
    return inserted ? std::move(default_value) : (*it).second;
  }
  // pop(k): removes and returns the live value; key_error if absent.
  std::shared_ptr<V> pop(const K& key) {
    table_.purge();
    auto [e, pin] = find_entry(hash_(key), key);
    if (!e) throw key_error("weakref::weak_value_map::pop: key not found");
    table_.erase(e);
    return pin;
  }
  std::shared_ptr<V> pop(const K& key, std::shared_ptr<V> default_value) {
    table_.purge();
    auto [e, pin] = find_entry(hash_(key), key);
    if (!e) return default_value;
    table_.erase(e);
    return pin;
  }
  // popitem(): removes and returns some live (key, value); key_error if there is none.
  value_type popitem() {
    iterator it = begin();
    if (it == end()) throw key_error("weakref::weak_value_map::popitem: dictionary is empty");
    value_type item = *it;
    table_.erase(it.entry());
    return item;
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
  auto itervaluerefs() const {
    return std::ranges::subrange<valueref_iterator, valueref_iterator>(
        valueref_iterator(&table_, table_.first()), valueref_iterator());
  }
  std::vector<weak_ref<V>> valuerefs() const {
    std::vector<weak_ref<V>> refs;
    refs.reserve(this->size());
    for (weak_ref<V> r : itervaluerefs()) refs.push_back(std::move(r));
    return refs;
  }

  // [weakref.value.map.eq] Python compares the live contents: the same keys, and for each key
  // values that compare equal (by V's ==, by identity if V has none).
  // [weakref.value.map.eq]: keys are matched by the left operand's Hash and KeyEqual, as in
  // every comparison of weak containers ([weakref.containers.general]).
  friend bool operator==(const weak_value_map& a, const weak_value_map& b) {
    size_type n = 0;
    for (const auto& [key, value] : b) {
      ++n;
      std::shared_ptr<V> mine = a.get(key);
      if (!mine) return false;
      if constexpr (std::equality_comparable<V>) {
        if (!(*mine == *value)) return false;
      } else if (mine != value) {
        return false;
      }
    }
    return n == static_cast<size_type>(std::ranges::distance(a.begin(), a.end()));
  }

private:
  std::pair<entry*, std::shared_ptr<V>> find_entry(std::size_t h, const K& key) const {
    return table_.find(h, [&](const entry& e, const V&) { return equal_(e.payload, key); });
  }

  template <class KK>
  std::pair<iterator, bool> insert_or_assign_impl(KK&& key, std::shared_ptr<V> value) {
    table_.purge();
    const std::size_t h = hash_(key);
    entry* old = find_entry(h, key).first;
    // Strong guarantee: everything that can throw happens before the old entry goes.
    entry* e = table_.make_entry(value, h, std::forward<KK>(key));
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
    return {iterator(&table_, {table_.bucket_of(h), e, std::move(value)}), old == nullptr};
  }

  template <class KK, class... Args>
  std::pair<iterator, bool> try_emplace_impl(KK&& key, Args&&... args) {
    table_.purge();
    const std::size_t h = hash_(key);
    if (auto [e, pin] = find_entry(h, key); e)
      return {iterator(&table_, {table_.bucket_of(h), e, std::move(pin)}), false};
    std::shared_ptr<V> value(std::forward<Args>(args)...);
    entry* e = table_.make_entry(value, h, std::forward<KK>(key));
    link_or_discard(e);
    return {iterator(&table_, {table_.bucket_of(h), e, std::move(value)}), true};
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
using weak_value_map =
    weakref::weak_value_map<K, V, Hash, KeyEqual,
                            std::pmr::polymorphic_allocator<std::pair<const K, std::shared_ptr<V>>>>;
} // namespace pmr

} // namespace weakref

// [weakref.containers.general]/5 size() is not exact while an element is dying on another
// thread, so the container does not claim std::ranges::sized_range (whose size must equal the
// distance from begin to end).
template <class K, class V, class Hash, class KeyEqual, class Allocator>
inline constexpr bool
    std::ranges::disable_sized_range<weakref::weak_value_map<K, V, Hash, KeyEqual, Allocator>> = true;
