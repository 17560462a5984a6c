// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Exception safety (issue 7): callbacks that throw, Hash and KeyEqual that throw, destructors of
// referents and of container values with side effects. In each case the containers stay
// consistent (size() agrees with iteration, nothing dead is visible, nothing live is lost),
// nothing leaks, and a callback's exception reaches the handler ([weakref.error.callback]).
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <ranges>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"
import weakref;

using weakref_test::capture_callback_errors;
using weakref_test::tracked;

namespace {

// A key whose hash and == throw on demand (only while `armed`).
struct touchy {
  static inline bool armed = false;
  int value;
  friend bool operator==(const touchy& a, const touchy& b) {
    if (armed) throw std::runtime_error("== refused");
    return a.value == b.value;
  }
};
struct touchy_hash {
  std::size_t operator()(const touchy& t) const {
    if (touchy::armed) throw std::runtime_error("hash refused");
    return std::hash<int>{}(t.value);
  }
};
// Every touchy hashes alike, so that each lookup has to call == on a live element.
struct colliding_hash {
  std::size_t operator()(const touchy&) const { return 42; }
};

struct arm_guard {
  arm_guard() { touchy::armed = true; }
  ~arm_guard() { touchy::armed = false; }
};

// A key hash that refuses one key: a bulk operation throws at that element, after the ones before.
struct refuses_13 {
  std::size_t operator()(int k) const {
    if (k == 13) throw std::runtime_error("13 refused");
    return std::hash<int>{}(k);
  }
};

// A type whose copies (not moves) throw while `refuse` is set.
struct sticky {
  static inline bool refuse = false;
  int value;
  explicit sticky(int v) : value(v) {}
  sticky(const sticky& o) : value(o.value) {
    if (refuse) throw std::runtime_error("copy refused");
  }
  sticky(sticky&&) noexcept = default;
  sticky& operator=(const sticky&) = default;
  sticky& operator=(sticky&&) noexcept = default;
  friend bool operator==(const sticky& a, const sticky& b) { return a.value == b.value; }
};
struct sticky_hash {
  std::size_t operator()(const sticky& k) const noexcept { return std::hash<int>{}(k.value); }
};
struct refuse_guard {
  refuse_guard() { sticky::refuse = true; }
  ~refuse_guard() { sticky::refuse = false; }
};

template <class C>
std::size_t walk(const C& c) {
  return static_cast<std::size_t>(std::ranges::distance(c.begin(), c.end()));
}

} // namespace

// weak_ref<touchy> is hashable because touchy is ([weakref.ref.hash]/1).
template <>
struct std::hash<touchy> : touchy_hash {};

BOOST_AUTO_TEST_SUITE(exception_safety)

// [weakref.ref.death]/3, [weakref.error.callback]/1 Each throwing callback's exception goes to
// the handler, the other callbacks still run, newest first, and the referent is destroyed once.
BOOST_AUTO_TEST_CASE(throwing_callbacks_are_reported_and_the_death_completes) {
  capture_callback_errors errors;
  const int before = tracked::alive.load();
  std::vector<int> order;
  auto obj = weakref::make_shared<tracked>(1);
  weakref::weak_set<tracked, weakref::identity_hash<tracked>, weakref::identity_equal<tracked>> s;
  s.add(obj);
  weakref::weak_ref<tracked> r1(obj, [&](weakref::weak_ref<tracked>) {
    order.push_back(1);
    throw std::runtime_error("first");
  });
  weakref::weak_ref<tracked> r2(obj, [&](weakref::weak_ref<tracked>) { order.push_back(2); });
  weakref::weak_ref<tracked> r3(obj, [&](weakref::weak_ref<tracked>) {
    order.push_back(3);
    throw std::logic_error("third");
  });
  obj.reset();
  BOOST_TEST((order == std::vector<int>{3, 2, 1}));
  BOOST_TEST((errors.messages() == std::vector<std::string>{"third", "first"}));
  BOOST_TEST(tracked::alive.load() == before);
  BOOST_TEST(s.empty());
  BOOST_TEST(walk(s) == 0u);
}

// [weakref.ref.death]/3 A referent dying during stack unwinding, with a throwing callback:
// no std::terminate, the exception in flight is the one caught, the callback's is reported.
BOOST_AUTO_TEST_CASE(death_during_unwinding_with_a_throwing_callback) {
  capture_callback_errors errors;
  weakref::weak_value_map<int, tracked> m;
  weakref::weak_ref<tracked> watch;
  try {
    auto obj = weakref::make_shared<tracked>(2);
    m.insert_or_assign(1, obj);
    watch = weakref::weak_ref<tracked>(
        obj, [](weakref::weak_ref<tracked>) { throw std::runtime_error("from the callback"); });
    throw std::invalid_argument("in flight");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()) == "in flight");
  }
  BOOST_TEST((errors.messages() == std::vector<std::string>{"from the callback"}));
  BOOST_TEST(watch.expired());
  BOOST_TEST(m.size() == 0u);
  BOOST_TEST(!m.contains(1));
}

// [weakref.containers.general]/28 A Hash or KeyEqual that throws during an insertion: the
// exception propagates and the insertion has no effect; lookups and erasures that throw change
// nothing either; the container is usable once they stop throwing.
// Checks [weakref.set.modifiers]/3; [weakref.value.map.lookup]/3; [weakref.value.map.modifiers]/20.
BOOST_AUTO_TEST_CASE(throwing_hash_and_equality_in_weak_set) {
  std::vector<std::shared_ptr<touchy>> objs;
  for (int i = 0; i < 6; ++i) objs.push_back(weakref::make_shared<touchy>(i));
  weakref::weak_set<touchy, colliding_hash> s;
  for (int i = 0; i < 4; ++i) s.add(objs[static_cast<std::size_t>(i)]);
  const std::size_t count = weakref::weak_ref_count(objs[4]);
  {
    arm_guard armed;
    BOOST_CHECK_THROW(s.add(objs[4]), std::runtime_error);
    BOOST_CHECK_THROW(s.insert(objs[4]), std::runtime_error);
    BOOST_CHECK_THROW((void)s.contains(*objs[0]), std::runtime_error);
    BOOST_CHECK_THROW(s.erase(*objs[1]), std::runtime_error);
    BOOST_CHECK_THROW(s.discard(objs[2]), std::runtime_error);
    // [weakref.value.map.cons]/8 A copy reuses the hashes taken at insertion and compares
    // nothing (the source's elements are distinct already): neither throws here.
    const weakref::weak_set<touchy, colliding_hash> copy(s);
    BOOST_TEST(walk(copy) == 4u);
  }
  BOOST_TEST(s.size() == 4u);
  BOOST_TEST(walk(s) == 4u);
  BOOST_TEST(!s.contains(objs[4]));
  BOOST_TEST(weakref::weak_ref_count(objs[4]) == count);
  for (int i = 0; i < 4; ++i) BOOST_TEST(s.contains(objs[static_cast<std::size_t>(i)]));
  s.add(objs[4]);
  BOOST_TEST(s.size() == 5u);

  // A hash that throws on the first insertion of an element leaves nothing registered.
  weakref::weak_set<touchy, touchy_hash> hashed;
  hashed.add(objs[0]);
  {
    arm_guard armed;
    BOOST_CHECK_THROW(hashed.add(objs[5]), std::runtime_error);
  }
  BOOST_TEST(hashed.size() == 1u);
  BOOST_TEST(weakref::weak_ref_count(objs[5]) == 0u);
}

// The set algebra with an equality that throws part-way: basic guarantee, the operands hold
// only their own live elements and size() agrees with iteration.
// Checks [weakref.set.algebra]/6 and /9; [weakref.set.cmp]/7.
BOOST_AUTO_TEST_CASE(throwing_equality_in_set_algebra) {
  std::vector<std::shared_ptr<touchy>> objs;
  for (int i = 0; i < 8; ++i) objs.push_back(weakref::make_shared<touchy>(i));
  using set = weakref::weak_set<touchy, colliding_hash>;
  auto check = [&](const set& s) {
    BOOST_TEST(s.size() == walk(s));
    for (const auto& x : s) BOOST_TEST(x->value < 8);
  };
  for (int op = 0; op < 8; ++op) {
    set a, b;
    for (int i = 0; i < 5; ++i) a.add(objs[static_cast<std::size_t>(i)]);
    for (int i = 3; i < 8; ++i) b.add(objs[static_cast<std::size_t>(i)]);
    {
      arm_guard armed;
      try {
        switch (op) {
        case 0:
          a |= b;
          break;
        case 1:
          a &= b;
          break;
        case 2:
          a -= b;
          break;
        case 3:
          a ^= b;
          break;
        case 4:
          (void)(a | b);
          break;
        case 5:
          (void)(a & b);
          break;
        case 6:
          (void)(a == b);
          break;
        default:
          (void)a.isdisjoint(b);
          break;
        }
        BOOST_TEST_MESSAGE("set algebra op " << op << " needed no comparison");
      } catch (const std::runtime_error&) {
      }
    }
    check(a);
    check(b);
    BOOST_TEST(b.size() == 5u); // the right operand is only read
  }
}

// weak_value_map's keys are ordinary: a key hash or == that throws leaves the map unchanged,
// for insert_or_assign's replacement too (the old element goes only after everything that can
// throw has succeeded).
// Checks [weakref.value.map.modifiers]/3, /10 and /20; [weakref.value.map.python]/3.
BOOST_AUTO_TEST_CASE(throwing_key_hash_and_equality_in_weak_value_map) {
  auto a = weakref::make_shared<tracked>(1), b = weakref::make_shared<tracked>(2);
  weakref::weak_value_map<touchy, tracked, colliding_hash> m;
  m.insert_or_assign(touchy{1}, a);
  m.insert_or_assign(touchy{2}, a);
  {
    arm_guard armed;
    BOOST_CHECK_THROW(m.insert_or_assign(touchy{1}, b), std::runtime_error);
    BOOST_CHECK_THROW(m.try_emplace(touchy{3}, b), std::runtime_error);
    BOOST_CHECK_THROW(m.erase(touchy{2}), std::runtime_error);
    BOOST_CHECK_THROW((void)m.get(touchy{1}), std::runtime_error);
  }
  BOOST_TEST(m.size() == 2u);
  BOOST_TEST(walk(m) == 2u);
  BOOST_TEST(m.at(touchy{1}) == a);
  BOOST_TEST(m.at(touchy{2}) == a);
  BOOST_TEST(weakref::weak_ref_count(b) == 0u);

  weakref::weak_value_map<touchy, tracked, touchy_hash> hashed;
  {
    arm_guard armed;
    BOOST_CHECK_THROW(hashed.insert_or_assign(touchy{1}, b), std::runtime_error);
  }
  BOOST_TEST(hashed.empty());
  BOOST_TEST(weakref::weak_ref_count(b) == 0u);
}

// [weakref.ref.hash]/3-4 A referent hash that throws caches nothing: the next call hashes again.
BOOST_AUTO_TEST_CASE(throwing_referent_hash_caches_nothing) {
  auto obj = weakref::make_shared<touchy>(7);
  weakref::weak_ref<touchy> r(obj);
  {
    arm_guard armed;
    BOOST_CHECK_THROW((void)std::hash<weakref::weak_ref<touchy>>{}(r), std::runtime_error);
  }
  const std::size_t h = std::hash<weakref::weak_ref<touchy>>{}(r);
  BOOST_TEST(h == touchy_hash{}(touchy{7}));
  obj.reset();
  BOOST_TEST(std::hash<weakref::weak_ref<touchy>>{}(r) == h); // cached before the death
}

// A value whose constructor throws: weak_key_map's insertion has no effect.
// Checks [weakref.key.map.modifiers]/3.
BOOST_AUTO_TEST_CASE(throwing_value_construction_in_weak_key_map) {
  struct fragile {
    int v;
    explicit fragile(int x) : v(x) {
      if (x < 0) throw std::domain_error("negative");
    }
  };
  auto k1 = weakref::make_shared<tracked>(1), k2 = weakref::make_shared<tracked>(2);
  weakref::weak_key_map<tracked, fragile, weakref::identity_hash<tracked>,
                        weakref::identity_equal<tracked>>
      m;
  m.try_emplace(k1, 1);
  BOOST_CHECK_THROW(m.try_emplace(k2, -1), std::domain_error);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(walk(m) == 1u);
  BOOST_TEST(!m.contains(*k2));
  BOOST_TEST(weakref::weak_ref_count(k2) == 0u);
}

// PY-NOTE-1 and [weakref.ref.death] T's destructor with side effects: it runs after every
// reference to it is cleared (a lock inside it fails), and may release other owners (their
// deaths run inside it), insert into and erase from containers, and make new references.
// Checks [weakref.general]/4; [weakref.ref.death]/1 and /6.
BOOST_AUTO_TEST_CASE(referent_destructor_side_effects) {
  weakref::weak_value_map<int, tracked> m;
  weakref::weak_set<tracked, weakref::identity_hash<tracked>, weakref::identity_equal<tracked>> s;
  struct noisy {
    std::function<void()> on_destroy;
    ~noisy() { on_destroy(); }
  };
  auto survivor = weakref::make_shared<tracked>(10);
  auto dependent = weakref::make_shared<tracked>(11);
  m.insert_or_assign(10, survivor);
  m.insert_or_assign(11, dependent);
  s.add(dependent);
  auto obj = weakref::make_shared<noisy>();
  weakref::weak_ref<noisy> self(obj);
  bool self_locked = true;
  weakref::weak_ref<tracked> made_in_destructor;
  obj->on_destroy = [&, owned = std::move(dependent)]() mutable {
    self_locked = static_cast<bool>(self.lock());
    owned.reset(); // `dependent` dies here, inside ~noisy
    m.erase(10);
    m.insert_or_assign(12, survivor);
    made_in_destructor = weakref::weak_ref<tracked>(survivor);
  };
  obj.reset();
  BOOST_TEST(!self_locked);
  BOOST_TEST(self.expired());
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(walk(m) == 1u);
  BOOST_TEST(m.at(12) == survivor);
  BOOST_TEST(!m.contains(10));
  BOOST_TEST(!m.contains(11));
  BOOST_TEST(s.empty());
  BOOST_TEST(made_in_destructor.lock() == survivor);
}

// weak_key_map: a value's destructor (run by the owner's purge, erase or clear) releases the
// last owner of another key of the same map, or of its own key. The map stays consistent: the
// other entry's death is reported and purged, size() and iteration agree, nothing leaks.
// Checks [weakref.containers.general]/8 and /14; [weakref.key.map]/5.
BOOST_AUTO_TEST_CASE(value_destructor_releases_other_keys) {
  const int before = tracked::alive.load();
  {
    weakref::weak_key_map<tracked, std::shared_ptr<tracked>, weakref::identity_hash<tracked>,
                          weakref::identity_equal<tracked>>
        m;
    std::vector<std::shared_ptr<tracked>> keys;
    for (int i = 0; i < 6; ++i) keys.push_back(weakref::make_shared<tracked>(i));
    // Each value owns the next key; the last value owns its own key.
    for (std::size_t i = 0; i < 6; ++i) m.try_emplace(keys[i], i + 1 < 6 ? keys[i + 1] : keys[i]);
    std::shared_ptr<tracked> first = keys[0];
    keys.clear(); // keys 1..5 are now owned only by values in the map
    BOOST_TEST(m.size() == 6u);
    first.reset(); // key 0 dies; purging its value releases key 1, and so on down the chain
    m.purge();
    // Key 5's value owns key 5 itself: that entry is immortal (documented), the rest are gone
    // in a chain of purges.
    std::size_t rounds = 0;
    while (m.size() > 1 && rounds++ < 10) m.purge();
    BOOST_TEST(m.size() == 1u);
    BOOST_TEST(walk(m) == 1u);
    for (const auto& [k, v] : m) BOOST_TEST((k == v));
    m.clear(); // destroys the last value, which was the last owner of its own key
    BOOST_TEST(m.empty());
    BOOST_TEST(walk(m) == 0u);
  }
  BOOST_TEST(tracked::alive.load() == before);
}

// weak_value_map's range constructors throw when an insertion does, constructing nothing and
// releasing what they had inserted; range insertions into an existing map and the assignment of
// an initializer list keep the elements inserted before the exception (and the assignment has
// cleared the old ones).
// Checks [weakref.value.map.cons]/2 and /6; [weakref.value.map.modifiers]/6.
BOOST_AUTO_TEST_CASE(value_map_bulk_insertions_that_throw) {
  using map_t = weakref::weak_value_map<int, tracked, refuses_13>;
  auto a = weakref::make_shared<tracked>(1), b = weakref::make_shared<tracked>(2);
  auto c = weakref::make_shared<tracked>(3), d = weakref::make_shared<tracked>(4);
  const std::vector<std::pair<const int, std::shared_ptr<tracked>>> bad{{1, a}, {13, b}, {2, c}};
  const auto registered = [&] {
    return weakref::weak_ref_count(a) + weakref::weak_ref_count(b) + weakref::weak_ref_count(c);
  };
  BOOST_CHECK_THROW((void)map_t(bad.begin(), bad.end()), std::runtime_error);
  BOOST_CHECK_THROW((void)map_t(weakref::from_range, bad), std::runtime_error);
  BOOST_CHECK_THROW((void)(map_t{{1, a}, {13, b}, {2, c}}), std::runtime_error);
  BOOST_TEST(registered() == 0u); // every element inserted was released

  map_t m;
  m.insert_or_assign(5, d);
  const auto inserted_only_the_first = [&] {
    BOOST_TEST(m.size() == 2u);
    BOOST_TEST(walk(m) == 2u);
    BOOST_TEST(m.get(5) == d);
    BOOST_TEST(m.get(1) == a);
    BOOST_TEST(!m.contains(2));
    m.erase(1);
  };
  BOOST_CHECK_THROW(m.insert(bad.begin(), bad.end()), std::runtime_error);
  inserted_only_the_first();
  BOOST_CHECK_THROW(m.insert_range(bad), std::runtime_error);
  inserted_only_the_first();
  BOOST_CHECK_THROW(m.insert({{1, a}, {13, b}, {2, c}}), std::runtime_error);
  inserted_only_the_first();
  BOOST_TEST(registered() == 0u);

  BOOST_CHECK_THROW((m = {{1, a}, {13, b}, {2, c}}), std::runtime_error);
  BOOST_TEST(m.size() == 1u); // cleared, then 1 inserted before 13 threw
  BOOST_TEST(m.get(1) == a);
  BOOST_TEST(!m.contains(5));
}

// setdefault throws as try_emplace does, with no effect; operator[] throws when the copy of its
// key does, inserting nothing.
// Checks [weakref.value.map.python]/7; [weakref.value.map.subscript]/2.
BOOST_AUTO_TEST_CASE(value_map_setdefault_and_subscript_that_throw) {
  auto a = weakref::make_shared<tracked>(1), b = weakref::make_shared<tracked>(2);
  weakref::weak_value_map<int, tracked, refuses_13> m;
  m.insert_or_assign(1, a);
  BOOST_CHECK_THROW((void)m.setdefault(13, b), std::runtime_error);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(weakref::weak_ref_count(b) == 0u);
  BOOST_TEST(m.setdefault(1, b) == a);

  weakref::weak_value_map<sticky, tracked, sticky_hash> by_sticky;
  const sticky key(7);
  by_sticky[key] = a;
  {
    refuse_guard refusing;
    BOOST_CHECK_THROW((void)by_sticky[key], std::runtime_error);
    BOOST_CHECK_THROW(by_sticky[key] = b, std::runtime_error);
  }
  BOOST_TEST(by_sticky.size() == 1u);
  BOOST_TEST(by_sticky.get(key) == a);
  BOOST_TEST(weakref::weak_ref_count(b) == 0u);
}

// Comparing weak_value_maps propagates what the hash function, the key equality or the values'
// == throws.
// Checks [weakref.value.map.eq]/3.
BOOST_AUTO_TEST_CASE(value_map_equality_that_throws) {
  auto a = weakref::make_shared<tracked>(1);
  weakref::weak_value_map<touchy, tracked, touchy_hash> hashed_x, hashed_y;
  weakref::weak_value_map<touchy, tracked, colliding_hash> compared_x, compared_y;
  hashed_x.insert_or_assign(touchy{1}, a);
  hashed_y.insert_or_assign(touchy{1}, a);
  compared_x.insert_or_assign(touchy{1}, a);
  compared_y.insert_or_assign(touchy{1}, a);
  auto v = weakref::make_shared<touchy>(5), w = weakref::make_shared<touchy>(5);
  weakref::weak_value_map<int, touchy> values_x, values_y;
  values_x.insert_or_assign(1, v);
  values_y.insert_or_assign(1, w);
  BOOST_TEST((hashed_x == hashed_y));
  BOOST_TEST((compared_x == compared_y));
  BOOST_TEST((values_x == values_y));
  arm_guard armed;
  BOOST_CHECK_THROW((void)(hashed_x == hashed_y), std::runtime_error);
  BOOST_CHECK_THROW((void)(compared_x == compared_y), std::runtime_error);
  BOOST_CHECK_THROW((void)(values_x == values_y), std::runtime_error);
}

// weak_key_map: get throws what the hash function, the key equality or the copy of the value
// throws; setdefault throws as try_emplace does, with no effect; == propagates what the hash,
// the key equality or the values' == throws.
// Checks [weakref.key.map.python]/3 and /7; [weakref.key.map.eq]/3.
BOOST_AUTO_TEST_CASE(key_map_get_setdefault_and_equality_that_throw) {
  auto k1 = weakref::make_shared<touchy>(1), k2 = weakref::make_shared<touchy>(2);
  weakref::weak_key_map<touchy, int, touchy_hash> hashed;
  weakref::weak_key_map<touchy, int, colliding_hash> compared;
  hashed.try_emplace(k1, 10);
  compared.try_emplace(k1, 10);
  {
    arm_guard armed;
    BOOST_CHECK_THROW((void)hashed.get(*k1), std::runtime_error);
    BOOST_CHECK_THROW((void)compared.get(*k1), std::runtime_error);
    BOOST_CHECK_THROW((void)hashed.get(*k1, 0), std::runtime_error);
    BOOST_CHECK_THROW((void)hashed.setdefault(k2, 20), std::runtime_error);
    BOOST_CHECK_THROW((void)compared.setdefault(k2, 20), std::runtime_error);
  }
  BOOST_TEST(hashed.size() == 1u);
  BOOST_TEST(compared.size() == 1u);
  BOOST_TEST(weakref::weak_ref_count(k2) == 0u);
  BOOST_TEST(hashed.setdefault(k2, 20) == 20);

  auto o = weakref::make_shared<tracked>(1);
  using by_identity = weakref::weak_key_map<tracked, sticky, weakref::identity_hash<tracked>,
                                            weakref::identity_equal<tracked>>;
  by_identity copies;
  copies.try_emplace(o, 3);
  {
    refuse_guard refusing;
    BOOST_CHECK_THROW((void)copies.get(*o), std::runtime_error);
    BOOST_CHECK_THROW((void)copies.get(*o, sticky(0)), std::runtime_error);
  }
  BOOST_TEST(copies.get(*o)->value == 3);

  weakref::weak_key_map<touchy, int, touchy_hash> hashed_y;
  weakref::weak_key_map<touchy, int, colliding_hash> compared_y;
  hashed_y.try_emplace(k1, 10);
  hashed_y.try_emplace(k2, 20);
  compared_y.try_emplace(k1, 10);
  compared.try_emplace(k2, 20);
  compared_y.try_emplace(k2, 20);
  using values_t = weakref::weak_key_map<tracked, touchy, weakref::identity_hash<tracked>,
                                         weakref::identity_equal<tracked>>;
  values_t values_x, values_y;
  values_x.try_emplace(o, 5);
  values_y.try_emplace(o, 5);
  BOOST_TEST((hashed == hashed_y));
  BOOST_TEST((compared == compared_y));
  BOOST_TEST((values_x == values_y));
  arm_guard armed;
  BOOST_CHECK_THROW((void)(hashed == hashed_y), std::runtime_error);
  BOOST_CHECK_THROW((void)(compared == compared_y), std::runtime_error);
  BOOST_CHECK_THROW((void)(values_x == values_y), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
