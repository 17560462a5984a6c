// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The *Complexity:* elements of the weak containers ([weakref.containers.general],
// [weakref.value.map], [weakref.key.map], [weakref.set]), checked by counting what the
// containers do, never by timing: calls of the hash function and of the key equality
// (`chash`, `cequal`), copies and destructions of keys and values (`ckey`), allocations and
// deallocations through the container's allocator (weakref_test::counting_allocator), calls of
// a predicate.
//
// How a bound is read into counts:
// - "constant on average": with a hash that spreads the keys, the calls per operation stay
//   within a small fixed bound at 32 and at 10,000 elements, and do not grow between them;
// - "linear in size() in the worst case": with a hash that maps every key to one value, the
//   calls per operation are at most 2 * size() (and more than the average bound: the collisions
//   are seen, so that the average check is not vacuous);
// - "linear in the number of elements" (no "on average"): at most c * n whatever the hash, also
//   when every key collides, and at least n where every element must be visited;
// - "quadratic in the worst case": at most n * n equality calls when every key collides.
// A term in the bucket count, or in the dead elements skipped, is work on the table alone, which
// no user-supplied object sees; those terms are cited, and checked only in that they add no
// calls of the hash, the key equality or the allocator. Likewise the table's comparisons of
// stored hash values before it calls the key equality are not counted: the unit of "on average"
// and "in the worst case" here is the calls of the user's Hash and KeyEqual.
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <utility>
#include <vector>

#include "support.hpp"
import weakref;

using weakref_test::allocation_stats;
using weakref_test::counting_allocator;
using weakref_test::tracked;

namespace {

// What the containers are seen doing.
struct ops {
  static inline std::size_t hashes = 0, equals = 0, copies = 0, destroyed = 0;
};
allocation_stats stats; // of every container below, unless a test gives it another

// A key (and a weak_key_map value, and a weak_set element) that counts its copies and
// destructions; moves are not counted.
struct ckey {
  int v = 0;
  ckey() = default;
  explicit ckey(int x) noexcept : v(x) {}
  ckey(const ckey& o) noexcept : v(o.v) { ++ops::copies; }
  ckey(ckey&& o) noexcept : v(o.v) {}
  ckey& operator=(const ckey& o) noexcept {
    v = o.v;
    ++ops::copies;
    return *this;
  }
  ckey& operator=(ckey&& o) noexcept = default;
  ~ckey() { ++ops::destroyed; }
  friend bool operator==(const ckey& a, const ckey& b) noexcept { return a.v == b.v; }
};

// Counts its calls; spreads the keys (distinct keys, distinct hashes), or with `collide` maps
// every key to one value.
struct chash {
  bool collide = false;
  std::size_t operator()(const ckey& k) const noexcept {
    ++ops::hashes;
    return collide ? 0 : static_cast<std::size_t>(static_cast<unsigned>(k.v));
  }
};
struct cequal {
  bool operator()(const ckey& a, const ckey& b) const noexcept {
    ++ops::equals;
    return a.v == b.v;
  }
};

using vmap =
    weakref::weak_value_map<ckey, tracked, chash, cequal,
                            counting_allocator<std::pair<const ckey, std::shared_ptr<tracked>>>>;
using kmap =
    weakref::weak_key_map<ckey, ckey, chash, cequal,
                          counting_allocator<std::pair<const std::shared_ptr<ckey>, ckey>>>;
using wset = weakref::weak_set<ckey, chash, cequal, counting_allocator<std::shared_ptr<ckey>>>;

template <class C>
C make(bool collide, allocation_stats* s = &stats) {
  return C(0, chash{collide}, cequal{}, typename C::allocator_type(s));
}

// The counts of everything above, as differences and averages.
struct tally {
  double hashes = 0, equals = 0, copies = 0, destroyed = 0, allocations = 0, deallocations = 0;
  static tally now() {
    return {static_cast<double>(ops::hashes),       static_cast<double>(ops::equals),
            static_cast<double>(ops::copies),       static_cast<double>(ops::destroyed),
            static_cast<double>(stats.allocations), static_cast<double>(stats.deallocations)};
  }
  tally operator-(const tally& o) const {
    return {hashes - o.hashes,       equals - o.equals,           copies - o.copies,
            destroyed - o.destroyed, allocations - o.allocations, deallocations - o.deallocations};
  }
  tally operator/(double d) const {
    return {hashes / d, equals / d, copies / d, destroyed / d, allocations / d, deallocations / d};
  }
  double lookups() const { return hashes + equals; }
};
template <class F>
tally counted(F&& f) {
  const tally before = tally::now();
  std::forward<F>(f)();
  return tally::now() - before;
}

constexpr std::size_t small_n = 32, large_n = 10000, worst_n = 256, reps = 32;

// Containers of n elements with keys 0 .. n-1; fresh(i) makes the i-th pair (element) whose
// key is in none of them (negative), which the fixture keeps alive.
struct vm_fixture {
  std::vector<std::shared_ptr<tracked>> values; // values[i] is the value of key i
  vmap c;
  vm_fixture(std::size_t n, bool collide) : c(make<vmap>(collide)) {
    for (std::size_t i = 0; i < n; ++i) c.insert_or_assign(ckey(static_cast<int>(i)), hold(i));
  }
  std::shared_ptr<tracked> hold(std::size_t i) {
    values.push_back(weakref::make_shared<tracked>(static_cast<int>(i)));
    return values.back();
  }
  std::pair<ckey, std::shared_ptr<tracked>> fresh(int i) {
    return {ckey(-1 - i), hold(values.size())};
  }
  void kill(std::size_t i) { values[i].reset(); }
};
struct km_fixture {
  std::vector<std::shared_ptr<ckey>> keys; // keys[i] is key i, mapped to ckey(i)
  kmap c;
  km_fixture(std::size_t n, bool collide) : c(make<kmap>(collide)) {
    for (std::size_t i = 0; i < n; ++i)
      c.insert_or_assign(hold(static_cast<int>(i)), ckey(static_cast<int>(i)));
  }
  std::shared_ptr<ckey> hold(int k) {
    keys.push_back(weakref::make_shared<ckey>(k));
    return keys.back();
  }
  std::pair<std::shared_ptr<ckey>, ckey> fresh(int i) { return {hold(-1 - i), ckey(-1 - i)}; }
  void kill(std::size_t i) { keys[i].reset(); }
};
struct set_fixture {
  std::vector<std::shared_ptr<ckey>> items; // items[i] is element i
  wset c;
  set_fixture(std::size_t n, bool collide) : c(make<wset>(collide)) {
    for (std::size_t i = 0; i < n; ++i) c.insert(hold(static_cast<int>(i)));
  }
  std::shared_ptr<ckey> hold(int k) {
    items.push_back(weakref::make_shared<ckey>(k));
    return items.back();
  }
  std::shared_ptr<ckey> fresh(int i) { return hold(-1 - i); }
  void kill(std::size_t i) { items[i].reset(); }
};

// Runs op(f, k) for `reps` keys k spread over [0, n), on a fixture of n elements; the counts
// per call.
template <class Fixture, class Op>
tally per_call(std::size_t n, bool collide, Op op) {
  Fixture f(n, collide);
  const std::size_t step = n / reps;
  const tally before = tally::now();
  for (std::size_t i = 0; i < reps; ++i) op(f, static_cast<int>(i * step));
  return (tally::now() - before) / static_cast<double>(reps);
}

// "Constant on average": at most `bound` hash calls and `bound` equality calls per call at 32
// and at 10,000 elements, no more at 10,000 than at 32.
template <class Fixture, class Op>
void check_average_constant(Op op, double bound = 2) {
  const tally few = per_call<Fixture>(small_n, false, op);
  const tally many = per_call<Fixture>(large_n, false, op);
  BOOST_TEST(few.hashes <= bound);
  BOOST_TEST(few.equals <= bound);
  BOOST_TEST(many.hashes <= bound);
  BOOST_TEST(many.equals <= bound);
  BOOST_TEST(many.lookups() <= few.lookups() + 0.5);
}
// "Linear in size() in the worst case": every key colliding, at most 2 * size() calls per call,
// and more equality calls than the average bound (the collisions are counted).
template <class Fixture, class Op>
void check_worst_linear(Op op, double bound = 2) {
  const tally t = per_call<Fixture>(worst_n, true, op);
  BOOST_TEST(t.lookups() <= 2.0 * worst_n);
  BOOST_TEST(t.equals > bound);
}
template <class Fixture, class Op>
void check_lookup_bounds(Op op) {
  check_average_constant<Fixture>(op);
  check_worst_linear<Fixture>(op);
}

// An operation on `count` fresh pairs (elements) at once: "linear in their number on average"
// (at most 2 hash and 2 equality calls per pair, into 32 and into 10,000 elements), "quadratic
// in the worst case" (every key colliding, into an empty container: at most count * count
// equality calls).
template <class Fixture, class Bulk>
void check_bulk_bounds(Bulk bulk) {
  for (const std::size_t n : {small_n, large_n}) {
    Fixture f(n, false);
    std::vector<decltype(f.fresh(0))> items;
    for (std::size_t i = 0; i < reps; ++i) items.push_back(f.fresh(static_cast<int>(i)));
    const tally t = counted([&] { bulk(f, items); }) / static_cast<double>(reps);
    BOOST_TEST(t.hashes <= 2);
    BOOST_TEST(t.equals <= 2);
  }
  Fixture f(0, true);
  std::vector<decltype(f.fresh(0))> items;
  for (std::size_t i = 0; i < worst_n; ++i) items.push_back(f.fresh(static_cast<int>(i)));
  const tally t = counted([&] { bulk(f, items); });
  BOOST_TEST(t.hashes <= 2.0 * worst_n);
  BOOST_TEST(t.equals <= static_cast<double>(worst_n * worst_n));
  BOOST_TEST(t.equals > 2.0 * worst_n); // the collisions are counted
}

} // namespace

BOOST_AUTO_TEST_SUITE(complexity)

// [weakref.value.map]/5 ("on average" and "in the worst case" as for [unord.req.general]);
// [weakref.value.map.lookup]/4 find, contains, count, equal_range;
// [weakref.value.map.lookup]/8 at; [weakref.value.map.python]/4 get (as find).
BOOST_AUTO_TEST_CASE(value_map_lookups_are_constant_on_average_linear_in_the_worst_case) {
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { BOOST_TEST((f.c.find(ckey(k)) != f.c.end())); });
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { BOOST_TEST((std::as_const(f.c).find(ckey(k)) != f.c.end())); });
  check_lookup_bounds<vm_fixture>([](vm_fixture& f, int k) { BOOST_TEST(f.c.contains(ckey(k))); });
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { BOOST_TEST(f.c.count(ckey(k)) == 1u); });
  check_lookup_bounds<vm_fixture>([](vm_fixture& f, int k) {
    auto [first, last] = f.c.equal_range(ckey(k));
    BOOST_TEST((first != last));
  });
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { BOOST_TEST(f.c.at(ckey(k))->value == k); });
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { BOOST_TEST(f.c.get(ckey(k))->value == k); });
}

// [weakref.value.map.subscript]/8 reading m[k] (as at) and assigning it (as insert_or_assign).
BOOST_AUTO_TEST_CASE(value_map_subscript_reads_and_writes_are_bounded_as_at_and_assign) {
  check_lookup_bounds<vm_fixture>([](vm_fixture& f, int k) {
    const std::shared_ptr<tracked> v = f.c[ckey(k)];
    BOOST_TEST(v->value == k);
  });
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { f.c[ckey(k)] = f.values[static_cast<std::size_t>(k)]; });
}

// [weakref.value.map.subscript]/3 m[k]: constant, plus the copy of k: one copy of a key (none
// for an rvalue key), no hash, equality or allocation, at 32 as at 10,000 elements.
BOOST_AUTO_TEST_CASE(value_map_subscript_itself_copies_the_key_and_does_nothing_else) {
  for (const std::size_t n : {small_n, large_n}) {
    vm_fixture f(n, false);
    const ckey key(1);
    const tally by_copy = counted([&] { [[maybe_unused]] auto r = f.c[key]; });
    BOOST_TEST(by_copy.copies == 1);
    BOOST_TEST(by_copy.lookups() == 0);
    BOOST_TEST(by_copy.allocations == 0);
    const tally by_move = counted([&] { [[maybe_unused]] auto r = f.c[ckey(1)]; });
    BOOST_TEST(by_move.copies == 0);
    BOOST_TEST(by_move.lookups() == 0);
    BOOST_TEST(by_move.allocations == 0);
  }
}

// [weakref.value.map.modifiers]/4 insert, emplace, try_emplace; [weakref.value.map.modifiers]/11
// insert_or_assign (of a present key and of a new one); [weakref.value.map.python]/8 setdefault
// (as try_emplace). A new element also costs at most 1.5
// allocations per insertion on average (its entry, and the amortized growth of the buckets: a
// table that rebuilt its buckets at every insertion would make 2).
BOOST_AUTO_TEST_CASE(value_map_insertions_are_constant_on_average_linear_in_the_worst_case) {
  const auto insert_new = [](vm_fixture& f, int k) {
    BOOST_TEST(f.c.insert(vmap::value_type(f.fresh(k))).second);
  };
  check_lookup_bounds<vm_fixture>(insert_new);
  check_lookup_bounds<vm_fixture>([](vm_fixture& f, int k) {
    BOOST_TEST(
        !f.c.insert(vmap::value_type(ckey(k), f.values[static_cast<std::size_t>(k)])).second);
  });
  check_lookup_bounds<vm_fixture>([](vm_fixture& f, int k) {
    auto [key, value] = f.fresh(k);
    BOOST_TEST(f.c.emplace(std::move(key), std::move(value)).second);
  });
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { BOOST_TEST(f.c.try_emplace(ckey(-1 - k), f.hold(0)).second); });
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { BOOST_TEST(!f.c.insert_or_assign(ckey(k), f.hold(0)).second); });
  check_lookup_bounds<vm_fixture>([](vm_fixture& f, int k) {
    BOOST_TEST((f.c.setdefault(ckey(k), f.hold(0)) == f.values[static_cast<std::size_t>(k)]));
  });
  check_lookup_bounds<vm_fixture>([](vm_fixture& f, int k) {
    BOOST_TEST(f.c.insert_or_assign(ckey(-1 - k), f.hold(0)).second);
  });
  for (const std::size_t n : {small_n, large_n}) {
    const tally t = per_call<vm_fixture>(n, false, insert_new);
    BOOST_TEST(t.allocations <= 1.5);
  }
}

// [weakref.value.map.modifiers]/7 insert(first, last), insert(il), insert_range;
// [weakref.value.map.python]/19 update; [weakref.value.map.cons]/3 the constructors from a
// range: linear in the pairs on average, quadratic in the worst case.
BOOST_AUTO_TEST_CASE(value_map_bulk_insertions_are_linear_on_average_quadratic_in_the_worst_case) {
  using items = std::vector<std::pair<ckey, std::shared_ptr<tracked>>>;
  check_bulk_bounds<vm_fixture>([](vm_fixture& f, const items& pairs) {
    std::vector<vmap::value_type> converted(pairs.begin(), pairs.end());
    const std::size_t before = f.c.size();
    f.c.insert(converted.begin(), converted.end());
    BOOST_TEST(f.c.size() == before + pairs.size());
  });
  check_bulk_bounds<vm_fixture>([](vm_fixture& f, const items& pairs) {
    f.c.insert_range(pairs | std::views::transform([](const auto& p) {
                       return vmap::value_type(p.first, p.second);
                     }));
  });
  check_bulk_bounds<vm_fixture>([](vm_fixture& f, const items& pairs) { f.c.update(pairs); });
  check_bulk_bounds<vm_fixture>([](vm_fixture& f, const items& pairs) {
    std::vector<vmap::value_type> converted(pairs.begin(), pairs.end());
    const vmap built(converted.begin(), converted.end(), 0, f.c.hash_function(), f.c.key_eq(),
                     f.c.get_allocator());
    BOOST_TEST(built.size() == pairs.size());
  });
  check_bulk_bounds<vm_fixture>([](vm_fixture& f, const items& pairs) {
    const vmap built(weakref::from_range, pairs, 0, f.c.hash_function(), f.c.key_eq(),
                     f.c.get_allocator());
    BOOST_TEST(built.size() == pairs.size());
  });
}

// [weakref.value.map.cons]/3 also: linear in the bucket count n asked for: a constructor that
// asks for n buckets hashes nothing and allocates O(n) bytes, in at most two allocations (the
// table and its buckets): at most 4 pointers' worth of bytes per bucket asked for, at 32 as at
// 10,000.
BOOST_AUTO_TEST_CASE(value_map_constructor_with_a_bucket_count_is_linear_in_it) {
  for (const std::size_t n : {small_n, large_n}) {
    std::optional<vmap> m;
    const std::size_t live_before = stats.live_bytes;
    const tally t = counted([&] { m.emplace(n, chash{}, cequal{}, vmap::allocator_type(&stats)); });
    BOOST_TEST(m->bucket_count() >= n);
    BOOST_TEST(t.lookups() == 0);
    BOOST_TEST(t.allocations <= 2);
    const double bytes_per_bucket =
        static_cast<double>(stats.live_bytes - live_before) / static_cast<double>(n);
    BOOST_TEST(bytes_per_bucket <= 4.0 * sizeof(void*));
  }
}

// [weakref.value.map.modifiers]/21 erase(k), erase(position) (with the find that gives it):
// constant on average, linear in size() in the worst case; erase(first, last): linear in the
// elements erased on average. [weakref.value.map.python]/12 pop(k), pop(k, d): as erase(k).
BOOST_AUTO_TEST_CASE(value_map_erasures_are_constant_on_average_linear_in_the_worst_case) {
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { BOOST_TEST(f.c.erase(ckey(k)) == 1u); });
  check_lookup_bounds<vm_fixture>([](vm_fixture& f, int k) { f.c.erase(f.c.find(ckey(k))); });
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { BOOST_TEST(f.c.pop(ckey(k))->value == k); });
  check_lookup_bounds<vm_fixture>(
      [](vm_fixture& f, int k) { BOOST_TEST(f.c.pop(ckey(k), nullptr)->value == k); });
  for (const std::size_t n : {small_n, large_n}) {
    vm_fixture f(n, false);
    auto first = f.c.begin();
    const auto last = std::next(first, static_cast<std::ptrdiff_t>(small_n / 2));
    const tally t = counted([&] { f.c.erase(first, last); });
    BOOST_TEST(f.c.size() == n - small_n / 2);
    BOOST_TEST(t.lookups() <= 2.0 * (small_n / 2));
    BOOST_TEST(t.deallocations <= 2.0 * (small_n / 2));
  }
}

// [weakref.value.map.python]/16 popitem(), [weakref.key.map.python]/16 popitem(),
// [weakref.set.python]/9 pop(): as begin() and erase(position): no hash or equality call, and one
// element's storage given back per call, at 32 as at 10,000 elements.
BOOST_AUTO_TEST_CASE(popitem_and_pop_are_as_begin_and_erase_of_a_position) {
  for (const std::size_t n : {small_n, large_n}) {
    const tally vm = per_call<vm_fixture>(n, false, [](vm_fixture& f, int) { f.c.popitem(); });
    const tally km = per_call<km_fixture>(n, false, [](km_fixture& f, int) { f.c.popitem(); });
    const tally s = per_call<set_fixture>(n, false, [](set_fixture& f, int) { f.c.pop(); });
    for (const tally& t : {vm, km, s}) {
      BOOST_TEST(t.lookups() == 0);
      BOOST_TEST(t.deallocations == 1);
      BOOST_TEST(t.allocations == 0);
    }
  }
}

// [weakref.value.map.iter]/5, [weakref.key.map.iter]/3, [weakref.set.iter]/3: begin() and ++i
// amortized constant, plus the dead elements and empty buckets skipped; end() constant. A whole
// traversal of n elements, a quarter of them dead, makes one copy of a key per element yielded
// (weak_value_map's by-value reference) and calls neither the hash, the equality nor the
// allocator, even when every key collides.
BOOST_AUTO_TEST_CASE(iteration_does_constant_work_per_element_yielded) {
  for (const bool collide : {false, true}) {
    for (const std::size_t n : {small_n, large_n}) {
      if (collide && n == large_n) continue;
      vm_fixture vf(n, collide);
      km_fixture kf(n, collide);
      set_fixture sf(n, collide);
      for (std::size_t i = 0; i < n; i += 4) {
        vf.kill(i);
        kf.kill(i);
        sf.kill(i);
      }
      const std::size_t live = n - n / 4;
      std::size_t yielded = 0;
      const tally t = counted([&] {
        for (auto&& [key, value] : vf.c) yielded += value ? 1 : 0;
        for (auto&& [key, value] : kf.c) yielded += key ? 1 : 0;
        for (const auto& element : sf.c) yielded += element ? 1 : 0;
      });
      BOOST_TEST(yielded == 3 * live);
      BOOST_TEST(t.copies == static_cast<double>(live)); // weak_value_map's keys only
      BOOST_TEST(t.lookups() == 0);
      BOOST_TEST(t.allocations == 0);
      const tally at_end = counted([&] {
        BOOST_TEST((vf.c.end() == std::as_const(vf.c).end()));
        BOOST_TEST((kf.c.cend() == std::as_const(kf.c).end()));
        BOOST_TEST((sf.c.cend() == std::as_const(sf.c).end()));
      });
      BOOST_TEST(at_end.lookups() + at_end.copies + at_end.allocations == 0);
    }
  }
}

// [weakref.containers.general]/12 purge() removes the reported elements: k dead elements among
// 32 or 10,000 give back exactly k entries and destroy exactly k strongly held parts (the
// counting allocator leaves them to the purge, [weakref.containers.general]/8), with no hash or
// equality call; with none dead, it does nothing. A member that purges gives back the entries it
// purges: an insertion after k deaths gives back k entries and still hashes once. This is the
// part of the purge's complexity bound ([weakref.containers.general]/13) that counting sees: the
// unlinking of an entry from its bucket (linear on average, the bucket's length in the worst
// case) calls no user-supplied code.
BOOST_AUTO_TEST_CASE(purging_gives_back_each_removed_element_once_and_calls_nothing) {
  constexpr std::size_t k = 8;
  for (const std::size_t n : {small_n, large_n}) {
    vm_fixture vf(n, false);
    km_fixture kf(n, false);
    set_fixture sf(n, false);
    const tally none = counted([&] {
      vf.c.purge();
      kf.c.purge();
      sf.c.purge();
    });
    BOOST_TEST(none.deallocations + none.destroyed + none.lookups() == 0);
    for (std::size_t i = 0; i < k; ++i) {
      vf.kill(i * 3);
      kf.kill(i * 3);
      sf.kill(i * 3);
    }
    const tally vm = counted([&] { vf.c.purge(); });
    BOOST_TEST(vm.deallocations == k);
    BOOST_TEST(vm.destroyed == k); // the keys
    BOOST_TEST(vm.lookups() == 0);
    const tally km = counted([&] { kf.c.purge(); });
    BOOST_TEST(km.deallocations == k);
    BOOST_TEST(km.destroyed == k); // the values (the keys died before)
    BOOST_TEST(km.lookups() == 0);
    const tally s = counted([&] { sf.c.purge(); });
    BOOST_TEST(s.deallocations == k);
    BOOST_TEST(s.lookups() == 0);
    BOOST_TEST(vf.c.size() == n - k);

    for (std::size_t i = 0; i < k; ++i) {
      vf.kill(i * 3 + 1);
      kf.kill(i * 3 + 1);
      sf.kill(i * 3 + 1);
    }
    const tally vm_insert = counted([&] { vf.c.insert(vmap::value_type(vf.fresh(0))); });
    const tally km_insert = counted([&] { kf.c.insert(kf.fresh(0)); });
    const tally s_insert = counted([&] { sf.c.insert(sf.fresh(0)); });
    for (const tally& t : {vm_insert, km_insert, s_insert}) {
      BOOST_TEST(t.deallocations == k);
      BOOST_TEST(t.hashes == 1);
    }
  }
}

// [weakref.containers.general]/23 clear(): linear in the elements, live and dead, plus the
// bucket count: every entry (n live, d dead) is given back and every strongly held part
// destroyed, exactly once, with no hash or equality call, even when every key collides.
BOOST_AUTO_TEST_CASE(clear_is_linear_in_the_elements_live_and_dead) {
  for (const bool collide : {false, true}) {
    for (const std::size_t n : {worst_n, large_n}) {
      if (collide && n == large_n) continue;
      vm_fixture f(n, collide);
      for (std::size_t i = 0; i < n; i += 2) f.kill(i);
      const tally t = counted([&] { f.c.clear(); });
      BOOST_TEST(f.c.empty());
      BOOST_TEST(t.deallocations >= static_cast<double>(n));
      BOOST_TEST(t.deallocations <= static_cast<double>(n) + 1);
      BOOST_TEST(t.destroyed == static_cast<double>(n)); // every key
      BOOST_TEST(t.lookups() == 0);
    }
  }
}

// [weakref.containers.general]/26 swap: constant: whatever the sizes, no element is touched,
// hashed, compared, copied or allocated.
BOOST_AUTO_TEST_CASE(swap_is_constant) {
  vm_fixture a(large_n, false), b(small_n, false);
  km_fixture c(large_n, false), d(small_n, false);
  set_fixture e(large_n, false), g(small_n, false);
  const tally t = counted([&] {
    a.c.swap(b.c);
    swap(c.c, d.c);
    e.c.swap(g.c);
  });
  BOOST_TEST(t.lookups() + t.copies + t.destroyed + t.allocations + t.deallocations == 0);
  BOOST_TEST(a.c.size() == small_n);
  BOOST_TEST(d.c.size() == large_n);
  BOOST_TEST(g.c.size() == large_n);
}

// [weakref.containers.union]/3 a | b, [weakref.containers.union]/6 a |= b and a |= il,
// [weakref.containers.union]/9 b | a: linear in a.size() plus the pairs of b on average (at
// most 2 hash and 2 equality calls per element of a and pair of b, at 32 and at 10,000),
// quadratic in the worst case (every key colliding: at most (a.size() + pairs)^2 equality calls).
BOOST_AUTO_TEST_CASE(map_union_is_linear_on_average_quadratic_in_the_worst_case) {
  const auto check = [](auto unite) {
    for (const bool collide : {false, true}) {
      for (const std::size_t n : {small_n, worst_n, large_n}) {
        if (collide != (n == worst_n)) continue;
        vm_fixture a(n, collide);
        // b: pairs for the keys n/2 .. n/2 + n - 1, half of them keys of a.
        std::vector<std::pair<ckey, std::shared_ptr<tracked>>> b;
        for (std::size_t i = n / 2; i < n / 2 + n; ++i)
          b.emplace_back(ckey(static_cast<int>(i)), a.hold(i));
        const double total = 2.0 * static_cast<double>(n);
        const tally t = counted([&] { BOOST_TEST(unite(a.c, b) == n + n / 2); });
        if (collide) {
          BOOST_TEST(t.equals <= total * total);
          BOOST_TEST(t.equals > 2 * total); // the collisions are counted
        } else {
          BOOST_TEST(t.hashes <= 2 * total);
          BOOST_TEST(t.equals <= 2 * total);
          BOOST_TEST(t.hashes >= static_cast<double>(n)); // every pair of b is inserted
        }
      }
    }
  };
  check([](const vmap& a, const auto& b) { return (a | b).size(); });
  check([](const vmap& a, const auto& b) { return (vmap(a) | b).size(); });
  check([](const vmap& a, const auto& b) { return (b | a).size(); });
  check([](const vmap& a, const auto& b) {
    vmap r(a);
    r |= b;
    return r.size();
  });
  check([](const vmap& a, const auto& b) {
    vmap r(a), other(0, a.hash_function(), a.key_eq(), a.get_allocator());
    other.update(b);
    return (r | other).size();
  });
  // a |= il, with il of three pairs: as many calls as three insert_or_assign, whatever a.size().
  for (const std::size_t n : {small_n, large_n}) {
    vm_fixture a(n, false);
    const auto v = a.hold(0);
    const tally t = counted([&] {
      a.c |= {vmap::value_type(ckey(-1), v), vmap::value_type(ckey(-2), v),
              vmap::value_type(ckey(0), v)};
    });
    BOOST_TEST(t.hashes <= 6);
    BOOST_TEST(t.equals <= 6);
  }
}

// [weakref.containers.bucket]/4 bucket_count(), load_factor(), max_load_factor(): constant: no
// call of anything the elements or the allocator see, whatever the size.
// [weakref.containers.bucket]/7 max_load_factor(z): constant when it does not rehash (nothing
// allocated); linear when it rehashes: one bucket array, and at most n hash calls.
// [weakref.containers.bucket]/11 rehash(n), reserve(n): constant plus the purge when they do not
// rehash; linear on average (at most n hash calls, one bucket array) and quadratic in the worst
// case (every key colliding: at most n * n equality calls) when they do.
BOOST_AUTO_TEST_CASE(bucket_members_are_bounded_as_stated) {
  for (const bool collide : {false, true}) {
    const std::size_t n = collide ? worst_n : large_n;
    const double dn = static_cast<double>(n);
    vm_fixture f(n, collide);
    const tally observers = counted([&] {
      BOOST_TEST(f.c.bucket_count() >= n);
      BOOST_TEST(f.c.load_factor() <= 1.0f);
      BOOST_TEST(f.c.max_load_factor() == 1.0f);
    });
    BOOST_TEST(observers.lookups() + observers.copies + observers.allocations == 0);

    std::size_t buckets = f.c.bucket_count();
    const tally no_rehash = counted([&] { f.c.max_load_factor(2.0f); });
    BOOST_TEST(f.c.bucket_count() == buckets);
    BOOST_TEST(no_rehash.lookups() + no_rehash.allocations + no_rehash.deallocations == 0);
    const tally rehashes = counted([&] { f.c.max_load_factor(0.25f); });
    BOOST_TEST(f.c.bucket_count() > buckets);
    BOOST_TEST(rehashes.allocations == 1);
    BOOST_TEST(rehashes.hashes <= dn);
    BOOST_TEST(rehashes.equals <= dn * dn);
    f.c.max_load_factor(1.0f);

    buckets = f.c.bucket_count();
    const tally same = counted([&] {
      f.c.rehash(buckets); // already that many
      f.c.reserve(n / 2);
    });
    BOOST_TEST(f.c.bucket_count() == buckets);
    BOOST_TEST(same.lookups() + same.allocations + same.deallocations == 0);
    const tally grown = counted([&] { f.c.rehash(8 * n); });
    BOOST_TEST(f.c.bucket_count() >= 8 * n);
    BOOST_TEST(grown.allocations == 1);
    BOOST_TEST(grown.hashes <= dn);
    BOOST_TEST(grown.equals <= (collide ? dn * dn : dn));
    const tally reserved = counted([&] { f.c.reserve(16 * n); });
    BOOST_TEST(f.c.bucket_count() >= 16 * n);
    BOOST_TEST(reserved.allocations == 1);
    BOOST_TEST(reserved.hashes <= dn);
    BOOST_TEST(reserved.equals <= (collide ? dn * dn : dn));
    // Plus the purge: k dead elements, k entries given back, and no rehash.
    for (std::size_t i = 0; i < 8; ++i) f.kill(i);
    buckets = f.c.bucket_count();
    const tally purged = counted([&] { f.c.reserve(n); });
    BOOST_TEST(f.c.bucket_count() == buckets);
    BOOST_TEST(purged.deallocations == 8);
    BOOST_TEST(purged.allocations + purged.lookups() == 0);
  }
}

// [weakref.containers.erasure]/1 erase_if visits each live element once: with n live and d
// dead elements, n calls of pred, at most one deallocation per element erased or dead, and no
// hash or equality call, even when every key collides. This is the part of its complexity bound
// ([weakref.containers.erasure]/3: pred once per live element; the unlinking, quadratic in the
// worst case, calls no user-supplied code) that counting sees.
BOOST_AUTO_TEST_CASE(erase_if_calls_the_predicate_once_per_live_element_and_nothing_else) {
  for (const bool collide : {false, true}) {
    const std::size_t n = collide ? worst_n : large_n;
    vm_fixture f(n, collide);
    for (std::size_t i = 0; i < n; i += 4) f.kill(i);
    const std::size_t live = n - n / 4;
    std::size_t calls = 0;
    const tally t = counted([&] {
      const std::size_t erased = erase_if(f.c, [&](const vmap::value_type& e) {
        ++calls;
        return e.first.v % 2 == 1;
      });
      BOOST_TEST(erased == n / 2);
    });
    BOOST_TEST(calls == live);
    BOOST_TEST(t.lookups() == 0);
    BOOST_TEST(t.deallocations <= static_cast<double>(n / 2 + n / 4));
  }
}

// [weakref.value.map.cons]/7 operator=(il): as the constructors plus clear(): assigning three
// pairs to a map of n hashes three times and gives back the n old entries.
// [weakref.value.map.cons]/11 a copy (constructor, copy(), copy assignment): linear in the
// elements of x, live and dead, plus its bucket count: one entry allocated per live element
// (and the table's own storage), at most one hash call per element, whatever the hash.
// [weakref.value.map.cons]/14 move: constant when the elements are taken over (nothing
// allocated, copied or hashed), otherwise linear in the elements of x.
// [weakref.value.map.cons]/17 the destructor: linear in the elements plus the bucket count:
// each entry given back once, each key destroyed once.
BOOST_AUTO_TEST_CASE(value_map_construction_assignment_and_destruction_are_bounded_as_stated) {
  for (const bool collide : {false, true}) {
    const std::size_t n = collide ? worst_n : large_n;
    const double dn = static_cast<double>(n);
    vm_fixture f(n, collide);
    for (std::size_t i = 0; i < n; i += 4) f.kill(i);
    const double live = static_cast<double>(n - n / 4);

    std::optional<vmap> copy;
    const tally copied = counted([&] { copy.emplace(std::as_const(f.c)); });
    BOOST_TEST(copy->size() == n - n / 4);
    BOOST_TEST(copied.allocations >= live);
    BOOST_TEST(copied.allocations <= live + 4);
    BOOST_TEST(copied.lookups() <= dn);
    const tally by_copy = counted([&] { BOOST_TEST(f.c.copy().size() == n - n / 4); });
    BOOST_TEST(by_copy.allocations <= live + 4);
    BOOST_TEST(by_copy.lookups() <= dn);
    vmap target = make<vmap>(collide);
    target.insert_or_assign(ckey(-1), f.hold(0));
    const tally assigned = counted([&] { target = std::as_const(f.c); });
    BOOST_TEST(target.size() == n - n / 4);
    BOOST_TEST(assigned.allocations <= live + 4);
    BOOST_TEST(assigned.lookups() <= dn);

    const tally moved = counted([&] {
      vmap taken(std::move(*copy));
      copy.emplace(std::move(taken));
    });
    BOOST_TEST(copy->size() == n - n / 4);
    BOOST_TEST(moved.allocations + moved.deallocations + moved.copies + moved.lookups() == 0);
    const tally move_assigned = counted([&] { target = std::move(*copy); });
    BOOST_TEST(target.size() == n - n / 4);
    // Of the elements target held (those of the copy assignment): they are released, linear.
    BOOST_TEST(move_assigned.allocations + move_assigned.copies + move_assigned.lookups() == 0);
    allocation_stats elsewhere;
    const tally to_other = counted([&] {
      vmap other(std::move(target), vmap::allocator_type(&elsewhere));
      BOOST_TEST(other.size() == n - n / 4);
    });
    BOOST_TEST(elsewhere.allocations >= live);
    BOOST_TEST(elsewhere.allocations <= live + 4);
    BOOST_TEST(to_other.lookups() <= dn);

    const tally assigned_il = counted([&] {
      *copy = {vmap::value_type(ckey(-1), f.values[1]), vmap::value_type(ckey(-2), f.values[1]),
               vmap::value_type(ckey(-3), f.values[1])};
    });
    BOOST_TEST(copy->size() == 3u);
    BOOST_TEST(assigned_il.hashes == 3);
    BOOST_TEST(assigned_il.equals <= 3);
    const tally assigned_big_il = counted([&] {
      f.c = {vmap::value_type(ckey(-1), f.values[1]), vmap::value_type(ckey(-2), f.values[1]),
             vmap::value_type(ckey(-3), f.values[1])};
    });
    BOOST_TEST(assigned_big_il.hashes == 3);
    BOOST_TEST(assigned_big_il.equals <= 3);
    BOOST_TEST(assigned_big_il.deallocations >= dn); // clear(): every old entry, live or dead
    BOOST_TEST(assigned_big_il.deallocations <= dn + 1);

    std::optional<vmap> doomed(std::in_place, make<vmap>(collide));
    for (std::size_t i = 0; i < n; ++i)
      doomed->insert_or_assign(ckey(static_cast<int>(i)), f.hold(i));
    const tally destroyed = counted([&] { doomed.reset(); });
    BOOST_TEST(destroyed.deallocations >= dn);
    BOOST_TEST(destroyed.deallocations <= dn + 2); // and the buckets and the table
    BOOST_TEST(destroyed.destroyed == dn);         // the keys
    BOOST_TEST(destroyed.lookups() == 0);
  }
}

// [weakref.value.map.python]/24 valuerefs(): linear in the elements, live and dead, plus the
// bucket count; itervaluerefs(): constant, its iteration as the container's.
// [weakref.key.map.python]/24 keyrefs() and iterkeyrefs(): the same. One handle per live element,
// and no hash, equality, copy or allocation through the container's allocator, even when every
// key collides (a handle per element found again by lookup would be quadratic there).
BOOST_AUTO_TEST_CASE(entry_reference_lists_are_linear_and_their_views_constant) {
  for (const bool collide : {false, true}) {
    for (const std::size_t n : {worst_n, large_n}) {
      if (collide && n == large_n) continue;
      vm_fixture vf(n, collide);
      km_fixture kf(n, collide);
      for (std::size_t i = 0; i < n; i += 4) {
        vf.kill(i);
        kf.kill(i);
      }
      const std::size_t live = n - n / 4;
      const tally lists = counted([&] {
        BOOST_TEST(vf.c.valuerefs().size() == live);
        BOOST_TEST(kf.c.keyrefs().size() == live);
      });
      BOOST_TEST(lists.lookups() + lists.copies + lists.allocations == 0);
      const tally views = counted([&] {
        [[maybe_unused]] auto values = vf.c.itervaluerefs();
        [[maybe_unused]] auto keys = kf.c.iterkeyrefs();
      });
      BOOST_TEST(views.lookups() + views.copies + views.allocations == 0);
      const tally walks = counted([&] {
        BOOST_TEST(static_cast<std::size_t>(std::ranges::distance(vf.c.itervaluerefs())) == live);
        BOOST_TEST(static_cast<std::size_t>(std::ranges::distance(kf.c.iterkeyrefs())) == live);
      });
      BOOST_TEST(walks.lookups() + walks.copies + walks.allocations == 0);
    }
  }
}

// [weakref.value.map.eq]/4, [weakref.key.map.eq]/4 x == y: linear in the elements of x and y
// on average (at most 2 hash and 2 equality calls per element, at 32 and at 10,000), quadratic
// in the worst case (every key colliding: at most (x.size() + y.size())^2 equality calls).
BOOST_AUTO_TEST_CASE(map_equality_is_linear_on_average_quadratic_in_the_worst_case) {
  for (const bool collide : {false, true}) {
    for (const std::size_t n : {small_n, worst_n, large_n}) {
      if (collide != (n == worst_n)) continue;
      const double total = 2.0 * static_cast<double>(n);
      vm_fixture vf(n, collide);
      const vmap vcopy(vf.c);
      km_fixture kf(n, collide);
      const kmap kcopy(kf.c);
      const tally t = counted([&] {
        BOOST_TEST((vf.c == vcopy));
        BOOST_TEST((kcopy == kf.c));
      });
      if (collide) {
        BOOST_TEST(t.equals <= 2 * total * total);
        BOOST_TEST(t.equals > 2 * total);
      } else {
        BOOST_TEST(t.hashes <= 2 * total);
        BOOST_TEST(t.equals <= 2 * total);
        BOOST_TEST(t.hashes >= total); // every element of each right operand is looked up
      }
    }
  }
}

// [weakref.key.map]/7 ("on average" and "in the worst case" as [weakref.value.map]/5);
// [weakref.key.map.modifiers]/4 try_emplace (and insert, emplace, operator[], setdefault, whose
// complexity is try_emplace's: [weakref.key.map.python]/8); [weakref.key.map.modifiers]/9 insert_or_assign;
// [weakref.key.map.lookup]/5 at; [weakref.key.map.python]/4 get (as find);
// [weakref.key.map.python]/12 pop (as erase(k)): constant on average, linear in the worst case.
// [weakref.key.map.python]/19 update: linear on average, quadratic in the worst case.
BOOST_AUTO_TEST_CASE(key_map_members_are_bounded_as_stated) {
  const auto key = [](km_fixture& f, int k) { return f.keys[static_cast<std::size_t>(k)]; };
  check_lookup_bounds<km_fixture>(
      [&](km_fixture& f, int k) { BOOST_TEST(!f.c.try_emplace(key(f, k), ckey(0)).second); });
  check_lookup_bounds<km_fixture>([](km_fixture& f, int k) {
    auto [obj, value] = f.fresh(k);
    BOOST_TEST(f.c.try_emplace(obj, std::move(value)).second);
  });
  check_lookup_bounds<km_fixture>(
      [](km_fixture& f, int k) { BOOST_TEST(f.c.insert(kmap::value_type(f.fresh(k))).second); });
  check_lookup_bounds<km_fixture>([&](km_fixture& f, int k) { f.c[key(f, k)] = ckey(1); });
  check_lookup_bounds<km_fixture>(
      [&](km_fixture& f, int k) { BOOST_TEST(f.c.setdefault(key(f, k)).v == k); });
  check_lookup_bounds<km_fixture>(
      [&](km_fixture& f, int k) { BOOST_TEST(!f.c.insert_or_assign(key(f, k), ckey(2)).second); });
  check_lookup_bounds<km_fixture>([](km_fixture& f, int k) {
    auto [obj, value] = f.fresh(k);
    BOOST_TEST(f.c.insert_or_assign(obj, std::move(value)).second);
  });
  check_lookup_bounds<km_fixture>(
      [&](km_fixture& f, int k) { BOOST_TEST(f.c.at(*key(f, k)).v == k); });
  check_lookup_bounds<km_fixture>(
      [&](km_fixture& f, int k) { BOOST_TEST(std::as_const(f.c).at(key(f, k)).v == k); });
  check_lookup_bounds<km_fixture>(
      [&](km_fixture& f, int k) { BOOST_TEST(f.c.get(*key(f, k))->v == k); });
  check_lookup_bounds<km_fixture>(
      [&](km_fixture& f, int k) { BOOST_TEST(f.c.get(*key(f, k), ckey(-1)).v == k); });
  check_lookup_bounds<km_fixture>(
      [&](km_fixture& f, int k) { BOOST_TEST(f.c.pop(*key(f, k)).v == k); });
  check_lookup_bounds<km_fixture>(
      [&](km_fixture& f, int k) { BOOST_TEST(f.c.pop(*key(f, k), ckey(-1)).v == k); });
  using items = std::vector<std::pair<std::shared_ptr<ckey>, ckey>>;
  check_bulk_bounds<km_fixture>([](km_fixture& f, const items& pairs) { f.c.update(pairs); });
}

// [weakref.set]/5 ("on average" and "in the worst case" as [weakref.value.map]/5);
// [weakref.set.modifiers]/4 insert, emplace, insert with a hint; [weakref.set.python]/5 add,
// discard, remove (as erase(x)): constant on average, linear in size() in the worst case.
BOOST_AUTO_TEST_CASE(set_members_are_constant_on_average_linear_in_the_worst_case) {
  const auto item = [](set_fixture& f, int k) { return f.items[static_cast<std::size_t>(k)]; };
  check_lookup_bounds<set_fixture>(
      [](set_fixture& f, int k) { BOOST_TEST(f.c.insert(f.fresh(k)).second); });
  check_lookup_bounds<set_fixture>(
      [&](set_fixture& f, int k) { BOOST_TEST(!f.c.insert(item(f, k)).second); });
  check_lookup_bounds<set_fixture>(
      [](set_fixture& f, int k) { BOOST_TEST(f.c.emplace(f.fresh(k)).second); });
  check_lookup_bounds<set_fixture>(
      [](set_fixture& f, int k) { f.c.insert(f.c.end(), f.fresh(k)); });
  check_lookup_bounds<set_fixture>([](set_fixture& f, int k) { f.c.add(f.fresh(k)); });
  check_lookup_bounds<set_fixture>([&](set_fixture& f, int k) { f.c.discard(*item(f, k)); });
  check_lookup_bounds<set_fixture>([&](set_fixture& f, int k) { f.c.remove(*item(f, k)); });
  check_lookup_bounds<set_fixture>(
      [&](set_fixture& f, int k) { BOOST_TEST(f.c.erase(*item(f, k)) == 1u); });
}

// [weakref.set.algebra]/7 (|, &, -, ^ and their in-place forms) and [weakref.set.cmp]/8
// (issubset, issuperset, isdisjoint, ==): linear in the elements of both operands on average
// (at most 4 hash and 4 equality calls per element of the two, at 32 and at 10,000 elements),
// quadratic in the worst case (every key colliding: at most (n + m)^2 equality calls, and more
// than the average bound, so that the collisions are counted). isdisjoint stops at the first
// common element, which the unspecified iteration order decides, so it is measured against the
// elements of `other` that `f.c` does not have: every one is looked up in full.
BOOST_AUTO_TEST_CASE(set_algebra_and_comparisons_are_linear_on_average_quadratic_in_the_worst) {
  const auto operations = [](const wset& a, const wset& b, const wset& apart) {
    return std::vector<std::function<void()>>{
        [&] { (void)(a | b); },
        [&] { (void)(a & b); },
        [&] { (void)(a - b); },
        [&] { (void)(a ^ b); },
        [&] { (void)a.issubset(b); },
        [&] { (void)a.issuperset(b); },
        [&] { (void)a.isdisjoint(apart); },
        [&] { (void)(a == b); },
    };
  };
  const auto in_place = [](wset& u, const wset& b, int which) {
    if (which == 0) u |= b;
    if (which == 1) u &= b;
    if (which == 2) u -= b;
    if (which == 3) u ^= b;
  };
  for (const bool collide : {false, true}) {
    for (const std::size_t n :
         collide ? std::vector<std::size_t>{worst_n} : std::vector<std::size_t>{small_n, large_n}) {
      set_fixture f(n, collide);
      wset other = make<wset>(collide); // half of f's elements and n / 2 others
      wset apart = make<wset>(collide); // the n / 2 others alone
      for (std::size_t i = 0; i < n; i += 2) other.insert(f.items[i]);
      for (std::size_t i = 0; i < n / 2; ++i) {
        const auto fresh = f.fresh(static_cast<int>(i));
        other.insert(fresh);
        apart.insert(fresh);
      }
      const double elements = static_cast<double>(f.c.size() + other.size());
      const auto check = [&](const tally& t) {
        BOOST_TEST(t.hashes <= 4 * elements);
        if (collide) {
          BOOST_TEST(t.equals <= elements * elements);
          BOOST_TEST(t.equals > 4 * elements);
        } else {
          BOOST_TEST(t.equals <= 4 * elements);
        }
      };
      for (const auto& op : operations(f.c, other, apart)) check(counted(op));
      for (int which = 0; which < 4; ++which) {
        wset u = f.c;
        check(counted([&] { in_place(u, other, which); }));
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
