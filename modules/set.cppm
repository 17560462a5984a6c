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
#include <unordered_set>
#include <utility>
#include <vector>
export module weakref:set;
import :errors;
import :control;
import :ref;
import :containers;
import :table;

namespace weakref::detail {
// A weak_set's entry holds nothing strongly: the element is the entry's weak reference itself.
struct set_payload {};

// What weak_set's iterators yield: the element, pinned, as a std::shared_ptr<T> by value (the
// iterator keeps its own pin, so the copy is the caller's to keep or drop).
template <class T>
struct set_access {
  using value_type = std::shared_ptr<T>;
  using reference = std::shared_ptr<T>;
  template <class Entry>
  static reference make(const Entry&, const std::shared_ptr<T>& pin) {
    return pin;
  }
};
} // namespace weakref::detail

export namespace weakref {

// [weakref.set] Python: WeakSet (PY-WS-1) "Set class that keeps weak references to its
// elements. An element will be discarded when no strong reference to it exists any more."
// Elements are factory-made objects, held by weak references and matched as Python does by their
// referents' Hash and KeyEqual (the hash is taken once, at insertion), or by identity with
// weakref::identity_hash and weakref::identity_equal.
//
// [weakref.set]/2 Threads: as [weakref.value.map]/2. One set is not used from two threads at
// once without synchronization (const members may run concurrently with each other), but its
// elements may die on any thread at any time ([weakref.containers.general]/3).
//
// [weakref.set]/3 Python's API (add, discard, remove, pop, clear, copy, update, `in`, len,
// iteration and the set algebra of [weakref.set.algebra]) next to std::unordered_set's.
template <class T, class Hash = std::hash<T>, class KeyEqual = std::equal_to<T>,
          class Allocator = std::allocator<std::shared_ptr<T>>>
class weak_set
    : public detail::container_base<weak_set<T, Hash, KeyEqual, Allocator>,
                                    detail::weak_table<T, detail::set_payload, Allocator>, Hash, KeyEqual> {
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "weakref::weak_set<T>: T must be a non-array object type");
  static_assert(std::is_invocable_r_v<std::size_t, const Hash&, const T&>,
                "weakref::weak_set<T, Hash>: Hash must be callable with const T&; for an element "
                "type without std::hash use weakref::identity_hash<T> and "
                "weakref::identity_equal<T>");
  static_assert(std::is_invocable_r_v<bool, const KeyEqual&, const T&, const T&>,
                "weakref::weak_set<T, Hash, KeyEqual>: KeyEqual must compare two elements; for an "
                "element type without == use weakref::identity_equal<T>");
  static_assert(!std::is_same_v<KeyEqual, std::equal_to<T>> || std::equality_comparable<T>,
                "weakref::weak_set<T, Hash, KeyEqual>: T has no ==; use "
                "weakref::identity_hash<T> and weakref::identity_equal<T>");

  using table_type = detail::weak_table<T, detail::set_payload, Allocator>;
  using base = detail::container_base<weak_set, table_type, Hash, KeyEqual>;
  friend base;
  using base::equal_;
  using base::hash_;
  using base::table_;
  using entry = typename table_type::entry;
  using access = detail::set_access<T>;

public:
  using key_type = std::shared_ptr<T>;
  using value_type = std::shared_ptr<T>;
  using element_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using hasher = Hash;
  using key_equal = KeyEqual;
  using allocator_type = Allocator;
  using reference = value_type;
  using const_reference = value_type;
  using iterator = detail::table_iterator<table_type, access>;
  using const_iterator = iterator;

  // [weakref.set.cons]
  weak_set() : weak_set(size_type(0)) {}
  explicit weak_set(size_type bucket_count, const Hash& hash = Hash(),
                    const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : base(alloc, hash, equal) {
    if (bucket_count) table_.rehash(bucket_count);
  }
  weak_set(size_type bucket_count, const Allocator& alloc)
      : weak_set(bucket_count, Hash(), KeyEqual(), alloc) {}
  weak_set(size_type bucket_count, const Hash& hash, const Allocator& alloc)
      : weak_set(bucket_count, hash, KeyEqual(), alloc) {}
  explicit weak_set(const Allocator& alloc) : weak_set(0, Hash(), KeyEqual(), alloc) {}

  template <std::input_iterator I, std::sentinel_for<I> S>
  weak_set(I first, S last, size_type bucket_count = 0, const Hash& hash = Hash(),
           const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : weak_set(bucket_count, hash, equal, alloc) {
    insert(std::move(first), std::move(last));
  }
  // Python: WeakSet(iterable).
  template <detail::compatible_range<value_type> R>
  weak_set(from_range_t, R&& range, size_type bucket_count = 0, const Hash& hash = Hash(),
           const KeyEqual& equal = KeyEqual(), const Allocator& alloc = Allocator())
      : weak_set(bucket_count, hash, equal, alloc) {
    insert_range(std::forward<R>(range));
  }
  weak_set(std::initializer_list<value_type> items, size_type bucket_count = 0,
           const Hash& hash = Hash(), const KeyEqual& equal = KeyEqual(),
           const Allocator& alloc = Allocator())
      : weak_set(bucket_count, hash, equal, alloc) {
    insert(items);
  }

  // A copy holds new weak references to the same live elements (Python: copy()).
  weak_set(const weak_set& other)
      : weak_set(other, std::allocator_traits<Allocator>::select_on_container_copy_construction(
                            other.get_allocator())) {}
  weak_set(const weak_set& other, const std::type_identity_t<Allocator>& alloc)
      : weak_set(0, other.hash_, other.equal_, alloc) {
    table_.max_load_factor(other.max_load_factor());
    insert(other.begin(), other.end());
  }
  weak_set(weak_set&& other) noexcept
      : base(std::move(other)) {}
  weak_set(weak_set&& other, const std::type_identity_t<Allocator>& alloc)
      : weak_set(0, other.hash_, other.equal_, alloc) {
    if (alloc == other.get_allocator())
      table_.take_storage(other.table_);
    else
      insert(other.begin(), other.end());
  }

  weak_set& operator=(const weak_set& other) {
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
  weak_set& operator=(weak_set&& other) noexcept(
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
  weak_set& operator=(std::initializer_list<value_type> items) {
    this->clear();
    insert(items);
    return *this;
  }


  // [weakref.set.iter] Iteration yields the live elements only, each pinned while the iterator
  // points at it; a death never invalidates an iterator ([weakref.containers.general]/4).
  iterator begin() {
    table_.purge();
    return iterator(&table_, table_.first());
  }
  const_iterator begin() const { return const_iterator(&table_, table_.first()); }
  iterator end() noexcept { return {}; }
  const_iterator end() const noexcept { return {}; }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const noexcept { return end(); }

  // [weakref.set.capacity] size() (Python: len) as [weakref.containers.general]/5: exact unless
  // an element is dying at this moment, so weak_set does not model std::ranges::sized_range
  // (see the specialization of std::ranges::disable_sized_range after the class).

  // [weakref.set.modifiers] (clear, swap, erase_if: detail::container_base)
  // Inserts value unless a live element matches it (the element already there stays, as
  // Python's set keeps its first object). value must be made by weakref::make_shared or
  // weakref::allocate_shared: an empty or foreign shared_ptr throws type_error (PY-INTRO-5).
  std::pair<iterator, bool> insert(const value_type& value) { return insert_impl(value); }
  std::pair<iterator, bool> insert(value_type&& value) { return insert_impl(std::move(value)); }
  iterator insert(const_iterator, const value_type& value) { return insert_impl(value).first; }
  iterator insert(const_iterator, value_type&& value) {
    return insert_impl(std::move(value)).first;
  }
  template <std::input_iterator I, std::sentinel_for<I> S>
  void insert(I first, S last) {
    for (; first != last; ++first) insert_impl(value_type(*first));
  }
  void insert(std::initializer_list<value_type> items) { insert(items.begin(), items.end()); }
  template <detail::compatible_range<value_type> R>
  void insert_range(R&& range) {
    for (auto&& item : range) insert_impl(value_type(std::forward<decltype(item)>(item)));
  }

  // Constructs the shared_ptr (not a new object: one that nothing else owns would die at once).
  template <class... Args>
    requires std::constructible_from<value_type, Args&&...>
  std::pair<iterator, bool> emplace(Args&&... args) {
    return insert_impl(value_type(std::forward<Args>(args)...));
  }
  template <class... Args>
    requires std::constructible_from<value_type, Args&&...>
  iterator emplace_hint(const_iterator, Args&&... args) {
    return emplace(std::forward<Args>(args)...).first;
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
  // By element (its live match, by Hash and KeyEqual); an empty shared_ptr matches nothing.
  size_type erase(const T& x) {
    table_.purge();
    auto [e, pin] = find_entry(hash_(x), x);
    if (!e) return 0;
    table_.erase(e);
    return 1;
  }
  size_type erase(const std::shared_ptr<T>& x) { return x ? erase(*x) : 0; }


  // [weakref.set.lookup] By an object equal to the element (Python: `x in s`), or by a
  // shared_ptr to one; an empty shared_ptr is never contained. Only live elements match.
  iterator find(const T& x) {
    table_.purge();
    return std::as_const(*this).find(x);
  }
  const_iterator find(const T& x) const {
    const std::size_t h = hash_(x);
    auto [e, pin] = find_entry(h, x);
    if (!e) return end();
    return const_iterator(&table_, {table_.bucket_of(h), e, std::move(pin)});
  }
  iterator find(const std::shared_ptr<T>& x) { return x ? find(*x) : end(); }
  const_iterator find(const std::shared_ptr<T>& x) const { return x ? find(*x) : end(); }
  bool contains(const T& x) const { return find_live(hash_(x), x) != nullptr; }
  bool contains(const std::shared_ptr<T>& x) const { return x && contains(*x); }
  size_type count(const T& x) const { return contains(x) ? 1 : 0; }
  size_type count(const std::shared_ptr<T>& x) const { return contains(x) ? 1 : 0; }
  std::pair<const_iterator, const_iterator> equal_range(const T& x) const {
    const_iterator it = find(x);
    if (it == end()) return {it, it};
    const_iterator next = it;
    return {it, ++next};
  }
  std::pair<const_iterator, const_iterator> equal_range(const std::shared_ptr<T>& x) const {
    if (!x) return {end(), end()};
    return equal_range(*x);
  }

  // [weakref.set.python] Python's methods.
  // add(x): inserts x unless a live element matches it.
  void add(std::shared_ptr<T> x) { insert_impl(std::move(x)); }
  // discard(x): removes the live element matching x, if any.
  void discard(const T& x) { erase(x); }
  void discard(const std::shared_ptr<T>& x) { erase(x); }
  // remove(x): as discard, but key_error if no live element matches (Python: KeyError).
  void remove(const T& x) {
    if (erase(x) == 0) throw key_error("weakref::weak_set::remove: element not found");
  }
  void remove(const std::shared_ptr<T>& x) {
    if (erase(x) == 0) throw key_error("weakref::weak_set::remove: element not found");
  }
  // pop(): removes and returns some live element; key_error if there is none.
  std::shared_ptr<T> pop() {
    iterator it = begin();
    if (it == end()) throw key_error("weakref::weak_set::pop: pop from empty weak_set");
    std::shared_ptr<T> element = it.pinned();
    table_.erase(it.entry());
    return element;
  }
  weak_set copy() const { return *this; }
  // update(iterable): add(x) for every x (Python: also `s |= t`).
  template <detail::compatible_range<value_type> R>
  void update(R&& other) {
    insert_range(std::forward<R>(other));
  }
  void update(std::initializer_list<value_type> items) { insert(items); }

  // [weakref.set.algebra] Python's set algebra over LIVE elements: an element that is dead (or
  // dies while the operation runs) takes no part in it. `other` is a weak_set or any range of
  // shared_ptr<T> (Python: any iterable); its empty shared_ptrs are elements of no set: ignored,
  // except by the operations that would insert them (type_error, as add). Whether an element of
  // `other` is in *this, or an element of *this in `other`, is decided by *this's Hash and
  // KeyEqual. Results are new weak_sets (weak references to the elements, dropping them when
  // they die) with *this's hash, key_eq and allocator; results and in-place forms keep *this's
  // element when *this and other hold distinct equal objects (Python's WeakSet.intersection
  // keeps other's, and Python's set leaves the choice unspecified). The in-place forms read
  // `other` completely before *this changes, so `other` may be *this or a view of it.

  // union(other) (Python: s | t): the elements of *this, and those of other that match none.
  template <detail::compatible_range<value_type> R>
  weak_set union_(R&& other) const {
    weak_set result(*this, this->get_allocator());
    result.update(std::forward<R>(other));
    return result;
  }
  // intersection(other) (s & t): the elements of *this that match an element of other.
  template <detail::compatible_range<value_type> R>
  weak_set intersection(R&& other) const {
    weak_set result(0, hash_, equal_, this->get_allocator());
    for (auto&& item : other) {
      const std::shared_ptr<T>& y = item;
      if (!y) continue;
      if (auto [e, pin] = find_entry(hash_(*y), *y); e) result.insert_impl(std::move(pin));
    }
    return result;
  }
  // difference(other) (s - t): the elements of *this that match no element of other.
  template <detail::compatible_range<value_type> R>
  weak_set difference(R&& other) const {
    weak_set result(*this, this->get_allocator());
    result.difference_update(std::forward<R>(other));
    return result;
  }
  // symmetric_difference(other) (s ^ t): the elements in exactly one of the two.
  template <detail::compatible_range<value_type> R>
  weak_set symmetric_difference(R&& other) const {
    weak_set result(*this, this->get_allocator());
    result.symmetric_difference_update(std::forward<R>(other));
    return result;
  }

  // intersection_update(other) (s &= t): keeps the elements that match an element of other.
  template <detail::compatible_range<value_type> R>
  void intersection_update(R&& other) {
    const snapshot_type others = snapshot(std::forward<R>(other));
    erase_if(*this, [&](const std::shared_ptr<T>& x) { return !others.contains(x); });
  }
  // difference_update(other) (s -= t): removes the elements that match an element of other.
  template <detail::compatible_range<value_type> R>
  void difference_update(R&& other) {
    const pins_type others = live_elements(std::forward<R>(other));
    for (const std::shared_ptr<T>& y : others) erase(*y);
  }
  // symmetric_difference_update(other) (s ^= t): removes the elements that match an element of
  // other and adds the (distinct) elements of other that matched none. Python builds a set of
  // other first, so an element listed twice in other counts once.
  template <detail::compatible_range<value_type> R>
  void symmetric_difference_update(R&& other) {
    snapshot_type others = snapshot(std::forward<R>(other));
    if (others.contains(nullptr)) throw_empty();
    for (const std::shared_ptr<T>& y : others)
      if (erase(*y) == 0) insert_impl(y);
  }

  // [weakref.set.cmp] Comparisons (Python: issubset/<=, issuperset/>=, <, >, ==, isdisjoint)
  // of the live elements. Both operands' live elements are pinned while the comparison runs, so
  // the answer holds for one instant even if elements die concurrently.
  template <detail::compatible_range<value_type> R>
  bool issubset(R&& other) const {
    const relation r = relate(std::forward<R>(other));
    return r.common == r.mine;
  }
  template <detail::compatible_range<value_type> R>
  bool issuperset(R&& other) const {
    const relation r = relate(std::forward<R>(other));
    return r.common == r.theirs;
  }
  // isdisjoint(other): no element of other matches an element of *this.
  template <detail::compatible_range<value_type> R>
  bool isdisjoint(R&& other) const {
    for (auto&& item : other) {
      const std::shared_ptr<T>& y = item;
      if (y && contains(*y)) return false;
    }
    return true;
  }

  // The hidden friends: both operands are weak_sets of one type (Python's WeakSet operators
  // return NotImplemented for other types); the left operand's Hash, KeyEqual and allocator
  // decide, as for the named members.
  friend weak_set operator|(const weak_set& a, const weak_set& b) { return a.union_(b); }
  friend weak_set operator&(const weak_set& a, const weak_set& b) { return a.intersection(b); }
  friend weak_set operator-(const weak_set& a, const weak_set& b) { return a.difference(b); }
  friend weak_set operator^(const weak_set& a, const weak_set& b) {
    return a.symmetric_difference(b);
  }
  friend weak_set& operator|=(weak_set& a, const weak_set& b) {
    a.update(b);
    return a;
  }
  friend weak_set& operator&=(weak_set& a, const weak_set& b) {
    a.intersection_update(b);
    return a;
  }
  friend weak_set& operator-=(weak_set& a, const weak_set& b) {
    a.difference_update(b);
    return a;
  }
  friend weak_set& operator^=(weak_set& a, const weak_set& b) {
    a.symmetric_difference_update(b);
    return a;
  }
  // Python: s == t compares the live elements (the same elements by a's policy, sizes equal).
  friend bool operator==(const weak_set& a, const weak_set& b) {
    const relation r = a.relate(b);
    return r.mine == r.theirs && r.common == r.mine;
  }
  friend bool operator<=(const weak_set& a, const weak_set& b) { return a.issubset(b); }
  friend bool operator>=(const weak_set& a, const weak_set& b) { return a.issuperset(b); }
  friend bool operator<(const weak_set& a, const weak_set& b) {
    const relation r = a.relate(b);
    return r.common == r.mine && r.mine < r.theirs;
  }
  friend bool operator>(const weak_set& a, const weak_set& b) {
    const relation r = a.relate(b);
    return r.common == r.theirs && r.mine > r.theirs;
  }

private:
  using shared_allocator =
      typename std::allocator_traits<Allocator>::template rebind_alloc<std::shared_ptr<T>>;
  // Strong references, through the set's allocator, for the duration of one operation.
  using pins_type = std::vector<std::shared_ptr<T>, shared_allocator>;

  // The live elements of another operand, pinned and deduplicated by this set's policy.
  struct snapshot_hash {
    const Hash* hash;
    std::size_t operator()(const std::shared_ptr<T>& p) const { return p ? (*hash)(*p) : 0; }
  };
  struct snapshot_equal {
    const KeyEqual* equal;
    bool operator()(const std::shared_ptr<T>& a, const std::shared_ptr<T>& b) const {
      if (!a || !b) return !a && !b;
      return (*equal)(*a, *b);
    }
  };
  using snapshot_type =
      std::unordered_set<std::shared_ptr<T>, snapshot_hash, snapshot_equal, shared_allocator>;

  template <class R>
  snapshot_type snapshot(R&& other) const {
    snapshot_type result(0, snapshot_hash{&hash_}, snapshot_equal{&equal_},
                         shared_allocator(this->get_allocator()));
    for (auto&& item : other) result.insert(std::shared_ptr<T>(item));
    return result;
  }

  template <class R>
  pins_type live_elements(R&& other) const {
    pins_type result{shared_allocator(this->get_allocator())};
    for (auto&& item : other) {
      std::shared_ptr<T> y(std::forward<decltype(item)>(item));
      if (y) result.push_back(std::move(y));
    }
    return result;
  }

  // How the live elements of *this and other overlap, with both pinned: `mine` and `theirs`
  // count the distinct live elements, `common` those of *this that match one of other's.
  struct relation {
    std::size_t mine = 0;
    std::size_t theirs = 0;
    std::size_t common = 0;
  };
  template <class R>
  relation relate(R&& other) const {
    const pins_type mine = live_elements(*this); // pinned first: none of them can die now
    snapshot_type theirs = snapshot(std::forward<R>(other));
    theirs.erase(nullptr);
    relation r{mine.size(), theirs.size(), 0};
    for (const std::shared_ptr<T>& x : mine)
      if (theirs.contains(x)) ++r.common;
    return r;
  }

  std::pair<entry*, std::shared_ptr<T>> find_entry(std::size_t h, const T& x) const {
    // find() locks each candidate first, so the referent is pinned while KeyEqual runs.
    return table_.find(h, [&](const entry&, const T& referent) { return equal_(referent, x); });
  }
  // The live element equal to x, not pinned (for lookups that return no element): under the
  // identity policy, by address without touching the referent's count (a performance path).
  entry* find_live(std::size_t h, const T& x) const {
    if constexpr (detail::is_identity_policy<Hash, KeyEqual>)
      return table_.find_by_address(h, std::addressof(x));
    else
      return find_entry(h, x).first;
  }

  [[noreturn]] static void throw_empty() {
    throw type_error("cannot create weak reference to an empty shared_ptr element");
  }

  std::pair<iterator, bool> insert_impl(std::shared_ptr<T> value) {
    table_.purge();
    detail::require_header(value); // type_error even when an equal element is present, as Python
    const std::size_t h = hash_(*value);
    if (auto [e, pin] = find_entry(h, *value); e)
      return {iterator(&table_, {table_.bucket_of(h), e, std::move(pin)}), false};
    entry* e = table_.make_entry(value, h); // type_error unless factory-made (PY-INTRO-5)
    try {
      table_.link(e);
    } catch (...) {
      table_.discard(e);
      throw;
    }
    return {iterator(&table_, {table_.bucket_of(h), e, std::move(value)}), true};
  }

};

namespace pmr {
template <class T, class Hash = std::hash<T>, class KeyEqual = std::equal_to<T>>
using weak_set =
    weakref::weak_set<T, Hash, KeyEqual, std::pmr::polymorphic_allocator<std::shared_ptr<T>>>;
} // namespace pmr

} // namespace weakref

// [weakref.set.capacity] size() is not exact while an element is dying on another thread, so a
// weak_set is not a std::ranges::sized_range (std::ranges::size would promise distance()).
template <class T, class Hash, class KeyEqual, class Allocator>
inline constexpr bool
    std::ranges::disable_sized_range<weakref::weak_set<T, Hash, KeyEqual, Allocator>> = true;
