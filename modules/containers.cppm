// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>
#include <vector>
export module weakref:containers;
import :errors;
import :control;
import :ref;
import :table;

// [weakref.containers] What the three weak containers share: the tag and the identity policy
// (exported), the iterator and the container core (internal).
export namespace weakref {

// [weakref.containers.general]/1 Tag for the constructors that take a range (as std::from_range
// in C++23; this library also serves C++20).
struct from_range_t {
  explicit from_range_t() = default;
};
inline constexpr from_range_t from_range{};

// [weakref.containers.identity] The identity policy: weak keys (elements) match when they are
// the same object, not when they compare equal (Python matches by ==). For referent types
// without == or std::hash, and for programs that want identity. Pass both as the Hash and
// KeyEqual arguments of weak_key_map or weak_set.
// [weakref.containers.identity]/4 Both are transparent and also take the object's address, so
// that a container is searched by a raw pointer ([weakref.containers.lookup]): `this`, say.
template <class T>
struct identity_hash {
  using is_transparent = void;
  std::size_t operator()(const T& object) const noexcept { return (*this)(std::addressof(object)); }
  std::size_t operator()(const T* address) const noexcept {
    return std::hash<const void*>{}(static_cast<const void*>(address));
  }
};

template <class T>
struct identity_equal {
  using is_transparent = void;
  bool operator()(const T& a, const T& b) const noexcept {
    return std::addressof(a) == std::addressof(b);
  }
  bool operator()(const T& a, const T* b) const noexcept { return std::addressof(a) == b; }
  bool operator()(const T* a, const T& b) const noexcept { return a == std::addressof(b); }
};

} // namespace weakref

namespace weakref::detail {

template <class H, class E>
inline constexpr bool is_identity_policy = false;
template <class T>
inline constexpr bool is_identity_policy<identity_hash<T>, identity_equal<T>> = true;

// The address that an identity_hash hashes: the same overloads, so the same resolution.
template <class Hash>
struct identity_address;
template <class T>
struct identity_address<identity_hash<T>> {
  const void* operator()(const T& object) const noexcept { return std::addressof(object); }
  const void* operator()(const T* address) const noexcept { return address; }
};

// Where a container under the identity policy files an object: by its address, keeping the
// order of addresses (the bucket of an object next to the last one allocated is next to that
// one's), where hash<const void*> may scatter them (libc++'s mixes the bits: the table's every
// insert, lookup and purge at 1 M entries then missed the cache, 3 to 4 times slower). Objects
// are at least 16 bytes apart in practice, hence the shift; the bits above 2^36 are added in,
// not dropped (two shifts of 18: each below the width of a 32-bit uintptr_t too), and the value
// is kept below 2^32 (the table's bucket index needs no division then). Unobservable:
// identity_hash has no effects, no member exposes a bucket's contents
// ([weakref.containers.bucket]), and identity_equal decides the matches.
inline std::size_t address_hash(const void* address) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(address);
  return static_cast<std::uint32_t>((a >> 4) + (a >> 18 >> 18));
}

// How a weak_key_map or weak_set under the identity policy files an entry (the table's
// Filing, weakref:table's filed_by_hash otherwise): by the address that Hash hashes, taken
// while the referent is alive, from which the hash follows (address_hash) and which
// find_by_address compares. One word where an entry kept two, its hash and its referent's
// address: 8 bytes fewer per entry. The address, not the referent's pointer: the two differ
// when Hash is identity_hash of a base class, and converting the pointer after the referent's
// death is undefined for a virtual base.
template <class Hash>
struct filed_by_identity {
  const void* address;

  // The container's hash of the referent is address_hash of this address: not kept.
  template <class R>
  filed_by_identity(std::size_t, const R& referent) noexcept
      : address(identity_address<Hash>{}(referent)) {}
  std::size_t hash() const noexcept { return address_hash(address); }
};

// [weakref.containers.lookup]/3 Hash and KeyEqual both declare is_transparent, as for the
// heterogeneous lookup of std::unordered_map ([unord.req.general]).
template <class Hash, class KeyEqual>
concept transparent_policy =
    requires { typename Hash::is_transparent; } && requires { typename KeyEqual::is_transparent; };

// A range whose elements construct a container element (Python: "update from ... an iterable").
template <class R, class T>
concept compatible_range =
    std::ranges::input_range<R> && std::convertible_to<std::ranges::range_reference_t<R>, T>;

// [weakref.containers.union] Python 3.9 (PEP 584): a | b and a |= b for the weak maps, with the
// right operand's values winning: a copy of a (with its allocator, as copy() has), or a itself,
// updated with b as update() does (PY3-UNION-1, -2); and b | a for a range b that is not such a
// map (PY3-UNION-3). A base of weak_key_map and weak_value_map only; Item is what their update()
// accepts.
// What every weak map with | derives from: a weak map on the left of | is never taken for a plain
// range (PY3-UNION-3), whatever its type.
struct mapping_union_base {};

template <class Map, class Item>
struct mapping_union : mapping_union_base {
  template <compatible_range<Item> R>
  friend Map operator|(const Map& a, R&& b) {
    Map result(a);
    result.update(std::forward<R>(b));
    return result;
  }
  template <compatible_range<Item> R>
  friend Map operator|(Map&& a, R&& b) {
    a.update(std::forward<R>(b));
    return std::move(a);
  }
  template <compatible_range<Item> R>
  friend Map& operator|=(Map& a, R&& b) {
    a.update(std::forward<R>(b));
    return a;
  }
  friend Map& operator|=(Map& a, std::initializer_list<Item> b) {
    a.update(std::views::all(b));
    return a;
  }
  // Python's __ror__: a range that is not such a map on the left gives a weak map (with the right
  // operand's policies and allocator) holding its pairs, then the right operand's, which win.
  template <compatible_range<Item> R>
    requires(!std::derived_from<std::remove_cvref_t<R>, mapping_union_base>)
  friend Map operator|(R&& b, const Map& a) {
    using traits = std::allocator_traits<typename Map::allocator_type>;
    Map result(std::size_t(0), a.hash_function(), a.key_eq(),
               traits::select_on_container_copy_construction(a.get_allocator()));
    result.update(std::forward<R>(b));
    result.update(a);
    return result;
  }
};

// The iterator of every weak container ([weakref.containers.general]/5): holds the current
// element's referent (pinned) so that it cannot die, and its entry cannot leave the table,
// while the iterator points at it; skips dead entries. Access::make builds the (by-value)
// reference from the entry and the pinned referent.
template <class Table, class Access>
class table_iterator {
public:
  using iterator_concept = std::forward_iterator_tag;
  using iterator_category = std::input_iterator_tag; // references are values, as Python's tuples
  using value_type = typename Access::value_type;
  using reference = typename Access::reference;
  using difference_type = std::ptrdiff_t;

  struct arrow {
    reference value;
    const std::remove_reference_t<reference>* operator->() const noexcept {
      return std::addressof(value);
    }
  };

  table_iterator() = default;
  table_iterator(const Table* table, typename Table::position pos) noexcept
      : table_(table), pos_(std::move(pos)) {}
  // iterator -> const_iterator, where the two differ (weak_key_map's mutable values).
  template <class OtherAccess>
    requires(!std::same_as<OtherAccess, Access> &&
             std::convertible_to<typename OtherAccess::reference, reference>)
  table_iterator(const table_iterator<Table, OtherAccess>& other) noexcept
      : table_(other.table_), pos_(other.pos_) {}

  reference operator*() const { return Access::make(*pos_.e, pos_.pin); }
  arrow operator->() const { return arrow{**this}; }
  table_iterator& operator++() {
    table_->advance(pos_);
    return *this;
  }
  table_iterator operator++(int) {
    table_iterator before = *this;
    ++*this;
    return before;
  }
  friend bool operator==(const table_iterator& a, const table_iterator& b) noexcept {
    return a.pos_.e == b.pos_.e;
  }

  typename Table::entry* entry() const noexcept { return pos_.e; }
  const typename Table::position& position() const noexcept { return pos_; }
  const auto& pinned() const noexcept { return pos_.pin; }

private:
  template <class, class>
  friend class table_iterator;
  const Table* table_ = nullptr;
  typename Table::position pos_;
};

// Python's KeyedRef: an entry, as the weak_ref handle that keyrefs() and valuerefs() yield.
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

// What weak_key_map's and weak_set's Traits (see weak_container) share: the key is held weakly,
// matched by its referent, and named by a shared_ptr.
template <class T>
struct weak_key_traits {
  using referent = T;
  using lookup_key = T;
  using key_type = std::shared_ptr<T>;
  static constexpr bool weak_key = true;
};

// A range whose elements a weak container built from Traits inserts one by one.
template <class Rg, class Traits>
concept insertable_range =
    std::ranges::input_range<Rg> && Traits::template insertable<std::ranges::range_reference_t<Rg>>;

// [weakref.containers.lookup]/2 A shared_ptr names its object as a lookup argument of a weak key
// or element (empty: nothing).
template <class Q, class Traits>
concept owner_argument =
    Traits::weak_key && std::convertible_to<const Q&, std::shared_ptr<typename Traits::referent>>;
// [weakref.containers.lookup]/3 What a transparent Hash and KeyEqual take, KeyEqual with the
// element's key (or weakly held object) first.
template <class Q, class Traits, class Hash, class KeyEqual>
concept heterogeneous_argument =
    transparent_policy<Hash, KeyEqual> &&
    std::is_invocable_r_v<std::size_t, const Hash&, const Q&> &&
    std::is_invocable_r_v<bool, const KeyEqual&, const typename Traits::lookup_key&, const Q&>;
// [weakref.containers.lookup] What the lookup members take besides the key itself.
template <class Q, class Traits, class Hash, class KeyEqual>
concept lookup_argument =
    owner_argument<Q, Traits> || heterogeneous_argument<Q, Traits, Hash, KeyEqual>;
// [weakref.containers.lookup]/5 erase(k) never takes an iterator for a key (C++23's
// heterogeneous erase of std::unordered_map has the same rule).
template <class Q, class Traits, class Hash, class KeyEqual, class Iterator, class ConstIterator>
concept erase_argument =
    lookup_argument<Q, Traits, Hash, KeyEqual> && !std::convertible_to<const Q&, Iterator> &&
    !std::convertible_to<const Q&, ConstIterator>;

// [weakref.containers] The container core: everything weak_value_map, weak_key_map and weak_set
// have in common, written once, as libc++'s __hash_table is for the four unordered containers.
// It owns the table, the hash function and the key equality predicate, and gives the facades
// their constructors, copy, move, swap and the allocator propagation traits
// ([weakref.containers.general]/15), iteration, the common members (/17 to /26), the bucket
// interface ([weakref.containers.bucket]), lookup, erasure ([weakref.containers.erasure]) and
// the pieces of Python's interface that the three share. A facade inherits its constructors
// (`using base::base`), keeps its implicit special members, and adds its own element access
// and Python methods.
//
// Traits describe the facade:
//   referent, payload    the weakly held type and the strongly held part (set_payload: none);
//   lookup_key           what Hash and KeyEqual take;
//   key_type             the container's key_type;
//   weak_key             whether elements match by their referent (weak_key_map, weak_set) or
//                        by their payload (weak_value_map's key);
//   value_type, access, const_access   the element type and what iterators yield;
//   insertable<E>        whether an element of a range converts to an element;
//   insert(core, E&&)    inserts one element of a range (insert(first, last), insert_range and
//                        the constructors that take elements);
//   check_inserted(payload, obj) (optional)   a debug-build diagnostic for a new element.
template <class Derived, class Traits, class Hash, class KeyEqual, class Allocator>
class weak_container {
  friend Traits;
  using R = typename Traits::referent;
  static_assert(std::is_object_v<R> && !std::is_array_v<R>,
                "weakref: the weakly held type of a weak container (weak_value_map<K, V>'s V, "
                "weak_key_map<K, V>'s K, weak_set<T>'s T) must be a non-array object type");
  using lookup_key = typename Traits::lookup_key;
  using alloc_traits = std::allocator_traits<Allocator>;
  // A weakly held key under the identity policy: its entry is filed by the address Hash hashes,
  // and an object the caller holds is found by that address (found_by_address).
  static constexpr bool filed_by_address = Traits::weak_key && is_identity_policy<Hash, KeyEqual>;

protected:
  using table_type =
      weak_table<R, typename Traits::payload, Allocator,
                 std::conditional_t<filed_by_address, filed_by_identity<Hash>, filed_by_hash>>;
  using entry = typename table_type::entry;

public:
  using key_type = typename Traits::key_type;
  using value_type = typename Traits::value_type;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  using iterator = table_iterator<table_type, typename Traits::access>;
  using const_iterator = table_iterator<table_type, typename Traits::const_access>;
  using reference = std::iter_reference_t<iterator>;
  using const_reference = std::iter_reference_t<const_iterator>;

  // [weakref.value.map.cons], [weakref.key.map.cons], [weakref.set.cons]: as
  // std::unordered_map's, elements inserted in order, the first of equal keys kept.
  weak_container() : weak_container(size_type(0)) {}
  explicit weak_container(size_type bucket_count, const Hash& hash = Hash(),
                          const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : table_(alloc), hash_(hash), equal_(equal) {
    if (bucket_count) table_.rehash(bucket_count);
  }
  weak_container(size_type bucket_count, const Allocator& alloc)
      : weak_container(bucket_count, Hash(), KeyEqual(), alloc) {}
  weak_container(size_type bucket_count, const Hash& hash, const Allocator& alloc)
      : weak_container(bucket_count, hash, KeyEqual(), alloc) {}
  explicit weak_container(const Allocator& alloc) : weak_container(0, Hash(), KeyEqual(), alloc) {}
  template <std::input_iterator I, std::sentinel_for<I> S>
  weak_container(I first, S last, size_type bucket_count = 0, const Hash& hash = Hash(),
                 const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : weak_container(bucket_count, hash, equal, alloc) {
    insert(std::move(first), std::move(last));
  }
  template <insertable_range<Traits> Rg>
  weak_container(from_range_t, Rg&& range, size_type bucket_count = 0, const Hash& hash = Hash(),
                 const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : weak_container(bucket_count, hash, equal, alloc) {
    insert_range(std::forward<Rg>(range));
  }
  weak_container(std::initializer_list<value_type> items, size_type bucket_count = 0,
                 const Hash& hash = Hash(), const KeyEqual& equal = KeyEqual(),
                 const Allocator& alloc = Allocator())
      : weak_container(bucket_count, hash, equal, alloc) {
    insert(items);
  }

  // [weakref.value.map.cons]/8 A copy holds new weak references to the live elements, with
  // copies of their strongly held parts, of the hash function, the key equality predicate and
  // the maximum load factor. The source is not purged, and the elements' hashes, taken at
  // their insertion, are reused: no hash function or key equality runs.
  weak_container(const weak_container& other)
      : weak_container(other,
                       alloc_traits::select_on_container_copy_construction(other.get_allocator())) {
  }
  weak_container(const weak_container& other, const std::type_identity_t<Allocator>& alloc)
      : table_(alloc), hash_(other.hash_), equal_(other.equal_) {
    copy_elements(other);
  }
  // [weakref.value.map.cons]/12 Takes the elements over in constant time, with those whose death
  // is being reported; element by element only for unequal allocators that do not propagate.
  weak_container(weak_container&& other) noexcept
      : table_(std::move(other.table_)), hash_(other.hash_), equal_(other.equal_) {}
  weak_container(weak_container&& other, const std::type_identity_t<Allocator>& alloc)
      : table_(alloc), hash_(other.hash_), equal_(other.equal_) {
    if (alloc == other.get_allocator())
      table_.take_storage(other.table_);
    else
      move_elements(other);
  }
  ~weak_container() = default;

  weak_container& operator=(const weak_container& other) {
    if (this == &other) return *this;
    clear();
    if constexpr (alloc_traits::propagate_on_container_copy_assignment::value) {
      table_type fresh(other.get_allocator());
      table_.swap(fresh); // our entries go with `fresh`, released by our old allocator
    }
    hash_ = other.hash_;
    equal_ = other.equal_;
    copy_elements(other);
    return *this;
  }
  weak_container& operator=(weak_container&& other) noexcept(
      alloc_traits::is_always_equal::value ||
      alloc_traits::propagate_on_container_move_assignment::value) {
    if (this == &other) return *this;
    hash_ = other.hash_;
    equal_ = other.equal_;
    if constexpr (alloc_traits::propagate_on_container_move_assignment::value) {
      table_.take_storage(other.table_);
      table_.set_allocator(other.get_allocator());
    } else if (get_allocator() == other.get_allocator()) {
      table_.take_storage(other.table_);
    } else {
      clear();
      move_elements(other);
    }
    return *this;
  }
  Derived& operator=(std::initializer_list<value_type> items) {
    clear();
    insert(items);
    return static_cast<Derived&>(*this);
  }

  allocator_type get_allocator() const noexcept { return table_.allocator(); }

  // [weakref.value.map.iter], [weakref.key.map.iter], [weakref.set.iter] The live elements,
  // each pinned while an iterator points at it ([weakref.containers.general]/5).
  iterator begin() {
    table_.purge();
    return iterator(&table_, table_.first());
  }
  const_iterator begin() const { return const_iterator(&table_, table_.first()); }
  iterator end() noexcept { return {}; }
  const_iterator end() const noexcept { return {}; }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const noexcept { return end(); }

  // [weakref.containers.general]/7 size(): the entries whose referents' deaths have not been
  // reported; exact unless an element is dying at this moment.
  [[nodiscard]] bool empty() const noexcept { return size() == 0; }
  size_type size() const noexcept { return table_.size(); }
  size_type max_size() const noexcept { return table_.max_size(); }

  // [weakref.containers.general]/8 Removes the entries whose deaths have been reported (their
  // strongly held parts are destroyed here); every member that looks up, inserts, erases or
  // iterates does this first.
  void purge() noexcept { table_.purge(); }

  // Inserting a range: each element as the facade's insert(value) would.
  template <std::input_iterator I, std::sentinel_for<I> S>
  void insert(I first, S last) {
    for (; first != last; ++first) Traits::insert(*this, *first);
  }
  void insert(std::initializer_list<value_type> items) { insert(items.begin(), items.end()); }
  template <insertable_range<Traits> Rg>
  void insert_range(Rg&& range) {
    for (auto&& item : range) Traits::insert(*this, std::forward<decltype(item)>(item));
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
  size_type erase(const lookup_key& key) { return erase_matching(key); }
  template <erase_argument<Traits, Hash, KeyEqual, iterator, const_iterator> Q>
  size_type erase(const Q& key) {
    return erase_matching(key);
  }
  // [weakref.containers.general]/21 clear(): every element leaves before any strongly held part
  // is destroyed.
  void clear() noexcept { table_.clear(); }

  // Allocators are swapped only when propagate_on_container_swap says so; otherwise they must
  // compare equal, as for standard containers.
  void swap(Derived& other_container) noexcept {
    using std::swap;
    weak_container& other = other_container; // the core's members, not a facade's names for them
    if constexpr (alloc_traits::propagate_on_container_swap::value)
      table_.swap(other.table_);
    else
      table_.swap_storage(other.table_);
    swap(hash_, other.hash_);
    swap(equal_, other.equal_);
  }
  friend void swap(Derived& a, Derived& b) noexcept { a.swap(b); }

  // Lookup ([weakref.value.map.lookup], [weakref.key.map.lookup], [weakref.set.lookup]): only
  // live elements match. The non-const find purges first. Each member takes the key, and
  // ([weakref.containers.lookup]) a shared_ptr to a weak key's object or, with a transparent
  // Hash and KeyEqual, anything they take.
  iterator find(const lookup_key& key) {
    table_.purge();
    return locate<iterator>(key);
  }
  template <lookup_argument<Traits, Hash, KeyEqual> Q>
  iterator find(const Q& key) {
    table_.purge();
    return locate<iterator>(key);
  }
  const_iterator find(const lookup_key& key) const { return locate<const_iterator>(key); }
  template <lookup_argument<Traits, Hash, KeyEqual> Q>
  const_iterator find(const Q& key) const {
    return locate<const_iterator>(key);
  }
  bool contains(const lookup_key& key) const { return find_live(key) != nullptr; }
  template <lookup_argument<Traits, Hash, KeyEqual> Q>
  bool contains(const Q& key) const {
    return find_live(key) != nullptr;
  }
  size_type count(const lookup_key& key) const { return contains(key) ? 1 : 0; }
  template <lookup_argument<Traits, Hash, KeyEqual> Q>
  size_type count(const Q& key) const {
    return contains(key) ? 1 : 0;
  }
  std::pair<iterator, iterator> equal_range(const lookup_key& key) { return around(find(key)); }
  template <lookup_argument<Traits, Hash, KeyEqual> Q>
  std::pair<iterator, iterator> equal_range(const Q& key) {
    return around(find(key));
  }
  std::pair<const_iterator, const_iterator> equal_range(const lookup_key& key) const {
    return around(find(key));
  }
  template <lookup_argument<Traits, Hash, KeyEqual> Q>
  std::pair<const_iterator, const_iterator> equal_range(const Q& key) const {
    return around(find(key));
  }

  // [weakref.containers.bucket] As std::unordered_map's.
  size_type bucket_count() const noexcept { return table_.bucket_count(); }
  float load_factor() const noexcept {
    return bucket_count() ? static_cast<float>(size()) / static_cast<float>(bucket_count()) : 0.0f;
  }
  float max_load_factor() const noexcept { return table_.max_load_factor(); }
  void max_load_factor(float f) { table_.max_load_factor(f); }
  void rehash(size_type n) {
    table_.purge();
    table_.rehash(n);
  }
  void reserve(size_type n) {
    table_.purge();
    table_.reserve(n);
  }
  Hash hash_function() const { return hash_; }
  KeyEqual key_eq() const { return equal_; }

  // [weakref.containers.erasure] Found by argument-dependent lookup (std::erase_if's overloads
  // are for the standard containers): call it unqualified.
  template <class Predicate>
  friend size_type erase_if(Derived& container, Predicate pred) {
    size_type erased = 0;
    for (auto it = container.begin(); it != container.end();) {
      if (pred(*it)) {
        it = container.erase(it);
        ++erased;
      } else {
        ++it;
      }
    }
    return erased;
  }

protected:
  // [weakref.containers.lookup] The live entry matching a lookup argument (the key, a shared_ptr
  // to a weak key's object, or what a transparent Hash and KeyEqual take), pinned. A shared_ptr
  // is read as its object even when a transparent Hash would take it.
  template <class Q>
  std::pair<entry*, std::shared_ptr<R>> find_entry(const Q& key) const {
    if constexpr (owner_argument<Q, Traits>) {
      const std::shared_ptr<R>& owner = key; // binds, or converts (shared_ptr<Derived>, nullptr)
      if (!owner) return {};
      return find_entry(hash_of(*owner), *owner);
    } else {
      return find_entry(hash_of(key), key);
    }
  }
  // The same, for a key hashed h.
  template <class Q>
  std::pair<entry*, std::shared_ptr<R>> find_entry(std::size_t h, const Q& key) const {
    return table_.find(h, [&](const entry& e, const R& referent) -> bool {
      if constexpr (Traits::weak_key)
        return equal_(referent, key); // the referent is pinned while KeyEqual runs
      else
        return equal_(e.payload, key);
    });
  }
  // The live entry matching a lookup argument, not pinned (for lookups that return no element):
  // under the identity policy, an object (which the caller holds) is found by its address
  // without touching its referent's count (a performance path; found_by_address, which erase
  // uses too). A raw pointer takes the pinned path: the caller need not own what it points to.
  template <class Q>
  static constexpr bool held_by_caller =
      owner_argument<Q, Traits> || std::convertible_to<const Q&, const R&>;
  template <class Q>
  static constexpr bool found_by_address = filed_by_address && held_by_caller<Q>;
  template <class Q>
  entry* find_live(const Q& key) const {
    if constexpr (owner_argument<Q, Traits>) {
      const std::shared_ptr<R>& owner = key;
      return owner ? find_live(*owner) : nullptr;
    } else if constexpr (found_by_address<Q>) {
      const R& object = key;
      return table_.find_by_address(hash_of(object), identity_address<Hash>{}(object));
    } else {
      return find_entry(key).first;
    }
  }

  // Inserts an element unless a live one matches key (the element there stays, as Python keeps
  // the first key object). make() yields the shared_ptr to hold weakly (or a checked_referent);
  // it is called only when no element matches (try_emplace constructs nothing for a key that is
  // present). A weak key is the caller's object (emplace_weak): under the identity policy it is
  // found by address, unpinned, and the element found is pinned only then.
  template <class Make, class... Args>
  std::pair<iterator, bool> emplace_unique(const lookup_key& key, Make&& make, Args&&... payload) {
    table_.purge();
    const std::size_t h = hash_of(key);
    if constexpr (found_by_address<lookup_key>) {
      if (entry* e = table_.find_by_address(h, identity_address<Hash>{}(key)))
        return {iterator(&table_, {e, e->target.lock()}), false};
    } else if (auto [e, pin] = find_entry(h, key); e) {
      return {iterator(&table_, {e, std::move(pin)}), false};
    }
    return {link_new(h, checked(std::forward<Make>(make)()), std::forward<Args>(payload)...), true};
  }
  // The same with the weakly held part given: for weak keys and elements, the shared_ptr is
  // checked first (type_error even when an equal element is present, as Python's TypeError),
  // once (its header is what the check finds).
  template <class Ptr, class... Args>
    requires std::same_as<std::remove_cvref_t<Ptr>, std::shared_ptr<R>>
  std::pair<iterator, bool> emplace_weak(Ptr&& obj, Args&&... payload) {
    header* const hdr = require_header(obj);
    return emplace_unique(
        *obj, [&] { return checked_referent{hdr, std::shared_ptr<R>(std::forward<Ptr>(obj))}; },
        std::forward<Args>(payload)...);
  }
  // An object to hold weakly, with its header (require_header(obj), found once per insertion).
  struct checked_referent {
    header* hdr;
    std::shared_ptr<R> obj;
  };
  static checked_referent checked(std::shared_ptr<R> obj) {
    header* const hdr = require_header(obj);
    return {hdr, std::move(obj)};
  }
  static checked_referent checked(checked_referent r) noexcept { return r; }
  // Makes and links a new element for r.obj, hashed h; the strong guarantee.
  template <class... Args>
  iterator link_new(std::size_t h, checked_referent r, Args&&... payload) {
    entry* e = table_.make_entry(r.hdr, r.obj, h, std::forward<Args>(payload)...);
    try {
      table_.link(e);
    } catch (...) {
      table_.discard(e);
      throw;
    }
    if constexpr (requires { Traits::check_inserted(e->payload, r.obj); })
      Traits::check_inserted(e->payload, r.obj);
    return iterator(&table_, {e, std::move(r.obj)});
  }

  // Python's pop(k) and popitem(): removes the live element matching key (some live element)
  // and returns take(entry, pinned referent), taken before the element goes.
  template <class Q, class Take>
  auto extract(const Q& key, Take take)
      -> std::optional<std::invoke_result_t<Take&, entry&, const std::shared_ptr<R>&>> {
    table_.purge();
    auto [e, pin] = find_entry(key);
    if (!e) return std::nullopt;
    auto item = take(*e, std::as_const(pin));
    table_.erase(e);
    return item;
  }
  template <class Take>
  auto extract_any(const char* empty_message, Take take) {
    iterator it = begin();
    if (it == end()) throw key_error(empty_message);
    auto item = take(*it.entry(), it.pinned());
    table_.erase(it.entry());
    return item;
  }

  // Python's == of two weak containers: every live element of b has a match in a, and a has
  // as many live elements.
  template <class Match>
  static bool live_equal(const Derived& a, const Derived& b, Match matches) {
    size_type n = 0;
    for (auto&& element : b) {
      ++n;
      if (!matches(element)) return false;
    }
    return n == static_cast<size_type>(std::ranges::distance(a.begin(), a.end()));
  }

  // Python's keyrefs() / valuerefs(): the entries' own registrations, as weak_ref handles.
  using entry_ref_iterator = table_iterator<table_type, entry_ref_access<R>>;
  auto entry_refs() const {
    return std::ranges::subrange<entry_ref_iterator, entry_ref_iterator>(
        entry_ref_iterator(&table_, table_.first()), entry_ref_iterator());
  }
  std::vector<weak_ref<R>> entry_ref_list() const {
    std::vector<weak_ref<R>> refs;
    refs.reserve(size());
    for (weak_ref<R> r : entry_refs()) refs.push_back(std::move(r));
    return refs;
  }

  // The hash an element is filed and found by: Hash's, but under the identity policy the
  // address hash (detail::address_hash) of the address that Hash would hash.
  template <class Q>
  std::size_t hash_of(const Q& key) const {
    if constexpr (is_identity_policy<Hash, KeyEqual>)
      return address_hash(identity_address<Hash>{}(key));
    else
      return hash_(key);
  }

  table_type table_;
  [[no_unique_address]] Hash hash_;
  [[no_unique_address]] KeyEqual equal_;

private:
  // An iterator to the live element matching key, or end().
  template <class It, class Q>
  It locate(const Q& key) const {
    auto [e, pin] = find_entry(key);
    if (!e) return It();
    return It(&table_, {e, std::move(pin)});
  }
  template <class Q>
  size_type erase_matching(const Q& key) {
    table_.purge();
    if constexpr (found_by_address<Q>) {
      entry* const e = find_live(key); // the caller holds the key object: it cannot die meanwhile
      if (!e) return 0;
      table_.erase(e);
    } else {
      const auto [e, pin] = find_entry(key); // pinned until the entry is gone
      if (!e) return 0;
      table_.erase(e);
    }
    return 1;
  }
  template <class It>
  static std::pair<It, It> around(It it) {
    if (it == It()) return {it, it};
    return {it, std::next(it)};
  }

  // The live elements of other, each under the hash it was inserted with, into this empty
  // container; copies (or moves) of the strongly held parts by uses-allocator construction.
  void copy_elements(const weak_container& other) {
    table_.max_load_factor(other.max_load_factor());
    table_.reserve(other.size());
    for (auto p = other.table_.first(); p.e; other.table_.advance(p))
      link_new(p.e->filing.hash(), {p.e->hdr, p.pin}, std::as_const(p.e->payload));
  }
  void move_elements(weak_container& other) {
    table_.max_load_factor(other.max_load_factor());
    table_.reserve(other.size());
    for (auto p = other.table_.first(); p.e; other.table_.advance(p))
      link_new(p.e->filing.hash(), {p.e->hdr, p.pin}, std::move(p.e->payload));
  }
};

} // namespace weakref::detail
