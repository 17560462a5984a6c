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

// weak_set for the container core (detail::weak_container): the element is held weakly and
// matched by its referent; there is no payload.
template <class T>
struct set_traits : weak_key_traits<T> {
  using payload = set_payload;
  using value_type = std::shared_ptr<T>;
  using access = set_access<T>;
  using const_access = access;
  template <class E>
  static constexpr bool insertable = std::convertible_to<E, std::shared_ptr<T>>;

  // insert(value): type_error unless value is made by the factories (PY-INTRO-5).
  template <class Core, class E>
  static auto insert(Core& c, E&& value) {
    if constexpr (std::same_as<std::remove_cvref_t<E>, std::shared_ptr<T>>)
      return c.emplace_weak(std::forward<E>(value));
    else
      return c.emplace_weak(std::shared_ptr<T>(std::forward<E>(value)));
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
// [weakref.set]/3 Threads: as [weakref.value.map]/3. One set is not used from two threads at
// once without synchronization (const members may run concurrently with each other), but its
// elements may die on any thread at any time ([weakref.containers.general]/4).
//
// [weakref.set]/4 Python's API (add, discard, remove, pop, clear, copy, update, `in`, len,
// iteration and the set algebra of [weakref.set.algebra]) next to std::unordered_set's.
template <class T, class Hash = std::hash<T>, class KeyEqual = std::equal_to<T>,
          class Allocator = std::allocator<std::shared_ptr<T>>>
class weak_set : public detail::weak_container<weak_set<T, Hash, KeyEqual, Allocator>,
                                               detail::set_traits<T>, Hash, KeyEqual, Allocator> {
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

  using traits = detail::set_traits<T>;
  using base = detail::weak_container<weak_set, traits, Hash, KeyEqual, Allocator>;
  using base::equal_, base::hash_, base::find_entry;

public:
  using element_type = T;
  using typename base::value_type, typename base::size_type, typename base::iterator,
      typename base::const_iterator;

  // [weakref.set.cons] The constructors, copy, move and assignment are the core's
  // ([weakref.containers]): a copy holds new weak references to the same live elements
  // (Python: copy()). Python's WeakSet(iterable) is weak_set(from_range, r).
  using base::base, base::operator=;
  using base::begin, base::end, base::erase, base::contains; // named by the members below

  // [weakref.set.capacity] size() (Python: len) as [weakref.containers.general]/7: exact unless
  // an element is dying at this moment, so weak_set does not model std::ranges::sized_range
  // (see the specialization of std::ranges::disable_sized_range after the class).

  // [weakref.set.modifiers] (clear, erase, swap, erase_if and the range insertions: the core)
  // Inserts value unless a live element matches it (the element already there stays, as
  // Python's set keeps its first object). value must be made by weakref::make_shared or
  // weakref::allocate_shared: an empty or foreign shared_ptr throws type_error (PY-INTRO-5).
  using base::insert;
  std::pair<iterator, bool> insert(const value_type& value) { return this->emplace_weak(value); }
  std::pair<iterator, bool> insert(value_type&& value) {
    return this->emplace_weak(std::move(value));
  }
  iterator insert(const_iterator, const value_type& value) { return insert(value).first; }
  iterator insert(const_iterator, value_type&& value) { return insert(std::move(value)).first; }

  // Constructs the shared_ptr (not a new object: one that nothing else owns would die at once).
  template <class... Args>
    requires std::constructible_from<value_type, Args&&...>
  std::pair<iterator, bool> emplace(Args&&... args) {
    return insert(value_type(std::forward<Args>(args)...));
  }
  template <class... Args>
    requires std::constructible_from<value_type, Args&&...>
  iterator emplace_hint(const_iterator, Args&&... args) {
    return emplace(std::forward<Args>(args)...).first;
  }

  // [weakref.set.lookup] find, contains, count, equal_range and erase by an object equal to the
  // element (Python: `x in s`) or by a shared_ptr to one: the core. An empty shared_ptr is never
  // contained; only live elements match.

  // [weakref.set.python] Python's methods.
  // add(x): inserts x unless a live element matches it.
  void add(std::shared_ptr<T> x) { insert(std::move(x)); }
  // discard(x): removes the live element matching x, if any.
  // Both, as the lookups, take the element, a shared_ptr to it, or what a transparent Hash and
  // KeyEqual take ([weakref.containers.lookup]).
  void discard(const T& x) { erase(x); }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  void discard(const Q& x) {
    erase(x);
  }
  // remove(x): as discard, but key_error if no live element matches (Python: KeyError).
  void remove(const T& x) { remove_matching(x); }
  template <detail::lookup_argument<traits, Hash, KeyEqual> Q>
  void remove(const Q& x) {
    remove_matching(x);
  }
  // pop(): removes and returns some live element; key_error if there is none.
  std::shared_ptr<T> pop() {
    return this->extract_any("weakref::weak_set::pop: pop from empty weak_set",
                             [](const auto&, const std::shared_ptr<T>& pin) { return pin; });
  }
  weak_set copy() const { return *this; }
  // update(iterable): add(x) for every x (Python: also `s |= t`).
  template <detail::compatible_range<value_type> R>
  void update(R&& other) {
    this->insert_range(std::forward<R>(other));
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

  // Python's union(other) is spelled `*this | other` (the hidden friends below): `union` is a
  // keyword, and the operator is Python's own spelling of the same method (WeakSet.__or__).
  // intersection(other) (s & t): the elements of *this that match an element of other.
  template <detail::compatible_range<value_type> R>
  weak_set intersection(R&& other) const {
    weak_set result(0, hash_, equal_, this->get_allocator());
    for (auto&& item : other) {
      const std::shared_ptr<T>& y = item;
      if (!y) continue;
      if (auto [e, pin] = find_entry(y); e) result.insert(std::move(pin));
    }
    return result;
  }
  // difference(other) (s - t): the elements of *this that match no element of other.
  template <detail::compatible_range<value_type> R>
  weak_set difference(R&& other) const {
    return updated_copy(
        [&](weak_set& result) { result.difference_update(std::forward<R>(other)); });
  }
  // symmetric_difference(other) (s ^ t): the elements in exactly one of the two.
  template <detail::compatible_range<value_type> R>
  weak_set symmetric_difference(R&& other) const {
    return updated_copy(
        [&](weak_set& result) { result.symmetric_difference_update(std::forward<R>(other)); });
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
      if (erase(*y) == 0) insert(y);
  }

  // [weakref.set.cmp] Comparisons of the live elements (Python: issubset, issuperset, ==,
  // isdisjoint). Python's <=, >=, < and > (subset tests) are not provided: inclusion is not a
  // strict weak order, which every C++ use of < assumes ([weakref.set.cmp]/1). Both operands'
  // live elements are pinned while the comparison runs, so the answer holds for one instant
  // even if elements die concurrently.
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

  // The hidden friends: as Python's WeakSet operators (aliases of the named methods), the right
  // operand is a weak_set or any range of shared_ptr<T>; the left operand's Hash, KeyEqual and
  // allocator decide, as for the named members. `a | other` is the union (Python:
  // a.union(other)): the elements of a, and those of other that match none.
  template <detail::compatible_range<value_type> R>
  friend weak_set operator|(const weak_set& a, R&& other) {
    return a.updated_copy([&](weak_set& result) { result.update(std::forward<R>(other)); });
  }
  template <detail::compatible_range<value_type> R>
  friend weak_set operator&(const weak_set& a, R&& other) {
    return a.intersection(std::forward<R>(other));
  }
  template <detail::compatible_range<value_type> R>
  friend weak_set operator-(const weak_set& a, R&& other) {
    return a.difference(std::forward<R>(other));
  }
  template <detail::compatible_range<value_type> R>
  friend weak_set operator^(const weak_set& a, R&& other) {
    return a.symmetric_difference(std::forward<R>(other));
  }
  template <detail::compatible_range<value_type> R>
  friend weak_set& operator|=(weak_set& a, R&& other) {
    a.update(std::forward<R>(other));
    return a;
  }
  template <detail::compatible_range<value_type> R>
  friend weak_set& operator&=(weak_set& a, R&& other) {
    a.intersection_update(std::forward<R>(other));
    return a;
  }
  template <detail::compatible_range<value_type> R>
  friend weak_set& operator-=(weak_set& a, R&& other) {
    a.difference_update(std::forward<R>(other));
    return a;
  }
  template <detail::compatible_range<value_type> R>
  friend weak_set& operator^=(weak_set& a, R&& other) {
    a.symmetric_difference_update(std::forward<R>(other));
    return a;
  }
  // Python: s == t compares the live elements (the same elements by a's policy, sizes equal).
  friend bool operator==(const weak_set& a, const weak_set& b) {
    const relation r = a.relate(b);
    return r.mine == r.theirs && r.common == r.mine;
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

  // |, difference and symmetric_difference: a copy of *this, with its allocator, changed by
  // the in-place form.
  template <class Update>
  weak_set updated_copy(Update update) const {
    weak_set result(*this, this->get_allocator());
    update(result);
    return result;
  }

  template <class Q>
  void remove_matching(const Q& x) {
    if (erase(x) == 0) throw key_error("weakref::weak_set::remove: element not found");
  }

  [[noreturn]] static void throw_empty() {
    throw type_error("cannot create weak reference to an empty shared_ptr element");
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
