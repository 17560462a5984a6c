// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <functional>
#include <memory_resource>
#include <ranges>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support.hpp"
import weakref;

using weakref_test::tracked;

namespace {

// A stateful allocator whose instances differ by id; Propagate sets all three propagation
// traits. A container's copy constructor gets id + 100 (select_on_container_copy_construction).
template <class T, bool Propagate>
struct tagged_allocator {
  using value_type = T;
  using propagate_on_container_copy_assignment = std::bool_constant<Propagate>;
  using propagate_on_container_move_assignment = std::bool_constant<Propagate>;
  using propagate_on_container_swap = std::bool_constant<Propagate>;
  using is_always_equal = std::false_type;
  template <class U>
  struct rebind {
    using other = tagged_allocator<U, Propagate>;
  };
  int id;
  explicit tagged_allocator(int i) noexcept : id(i) {}
  template <class U>
  tagged_allocator(const tagged_allocator<U, Propagate>& o) noexcept : id(o.id) {}
  tagged_allocator select_on_container_copy_construction() const noexcept {
    return tagged_allocator(id + 100);
  }
  T* allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept { std::allocator<T>().deallocate(p, n); }
  template <class U>
  friend bool operator==(const tagged_allocator& a,
                         const tagged_allocator<U, Propagate>& b) noexcept {
    return a.id == b.id;
  }
};

template <bool P>
using value_map =
    weakref::weak_value_map<int, tracked, std::hash<int>, std::equal_to<int>,
                            tagged_allocator<std::pair<const int, std::shared_ptr<tracked>>, P>>;
template <bool P>
using key_map =
    weakref::weak_key_map<std::string, int, std::hash<std::string>, std::equal_to<std::string>,
                          tagged_allocator<std::pair<const std::shared_ptr<std::string>, int>, P>>;
template <bool P>
using set = weakref::weak_set<std::string, std::hash<std::string>, std::equal_to<std::string>,
                              tagged_allocator<std::shared_ptr<std::string>, P>>;

struct fixture {
  std::shared_ptr<tracked> v1 = weakref::make_shared<tracked>(1);
  std::shared_ptr<tracked> v2 = weakref::make_shared<tracked>(2);
  std::shared_ptr<std::string> k1 = weakref::make_shared<std::string>("one");
  std::shared_ptr<std::string> k2 = weakref::make_shared<std::string>("two");
};

// The allocator model of [weakref.containers.general]/15, checked for one container type: copy
// and move assignment and swap take the other's allocator exactly when the trait says so, and
// the contents follow either way.
template <class C, class Make>
void check_propagation(bool propagate, Make make, std::size_t expected_size) {
  {
    C a = make(1, 0), b = make(2, 1);
    a = b;
    BOOST_TEST(a.get_allocator().id == (propagate ? 2 : 1));
    BOOST_TEST(a.size() == expected_size);
    BOOST_TEST((a == b));
  }
  {
    C a = make(1, 0), b = make(2, 1);
    C expected = b;
    a = std::move(b);
    BOOST_TEST(a.get_allocator().id == (propagate ? 2 : 1));
    BOOST_TEST((a == expected));
  }
  {
    C a = make(1, 0), b = make(1, 1); // equal allocators: swap is always allowed
    C a_before = a, b_before = b;
    swap(a, b);
    BOOST_TEST((a == b_before));
    BOOST_TEST((b == a_before));
  }
  {
    C a = make(1, 0);
    C copy(a, typename C::allocator_type(7));             // allocator-extended copy
    C moved(std::move(a), typename C::allocator_type(8)); // unequal: element-wise move
    BOOST_TEST(copy.get_allocator().id == 7);
    BOOST_TEST(moved.get_allocator().id == 8);
    BOOST_TEST((copy == moved));
  }
  {
    // [weakref.value.map.cons]/8 and /12: every copy and every move keeps the maximum load factor,
    // whichever way the allocators go; the copy constructor asks the source's allocator for its
    // own (select_on_container_copy_construction).
    constexpr float mlf = 0.25f;
    C b = make(2, 1);
    b.max_load_factor(mlf);
    const C copied(b);
    BOOST_TEST(copied.get_allocator().id == 102);
    BOOST_TEST(copied.max_load_factor() == mlf);
    BOOST_TEST((copied == b));
    C assigned = make(1, 0);
    assigned = b;
    BOOST_TEST(assigned.max_load_factor() == mlf);
    BOOST_TEST((assigned == b));
    const C extended(b, typename C::allocator_type(9));
    BOOST_TEST(extended.max_load_factor() == mlf);
    const C moved_apart(C(b), typename C::allocator_type(10)); // unequal: element by element
    BOOST_TEST(moved_apart.max_load_factor() == mlf);
    BOOST_TEST((moved_apart == b));
    C move_assigned = make(1, 0);
    move_assigned = C(b); // id 102 into id 1: taken over if it propagates, else element-wise
    BOOST_TEST(move_assigned.get_allocator().id == (propagate ? 102 : 1));
    BOOST_TEST(move_assigned.max_load_factor() == mlf);
    BOOST_TEST((move_assigned == b));
    C moved(std::move(b));
    BOOST_TEST(moved.max_load_factor() == mlf);
    BOOST_TEST(moved.size() == expected_size);
    BOOST_TEST(b.size() == 0u); // [weakref.value.map.cons]/12: the source is left empty
    BOOST_TEST(b.max_load_factor() == 1.0f);
    C other = make(2, 0); // equal allocators (id 2): swap exchanges the load factors too
    other.swap(moved);
    BOOST_TEST(other.max_load_factor() == mlf);
    BOOST_TEST(moved.max_load_factor() == 1.0f);
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(containers)

// Checks [weakref.containers.general]/15 and /25; [weakref.value.map.cons]/8-9 and /12.
BOOST_FIXTURE_TEST_CASE(allocator_propagation_traits_are_honoured, fixture) {
  for (bool propagate : {true, false}) {
    auto values = [&]<bool P>(std::bool_constant<P>) {
      check_propagation<value_map<P>>(
          P,
          [&](int id, int which) {
            value_map<P> m{typename value_map<P>::allocator_type(id)};
            m[which] = which ? v2 : v1;
            return m;
          },
          1);
      check_propagation<key_map<P>>(
          P,
          [&](int id, int which) {
            key_map<P> m{typename key_map<P>::allocator_type(id)};
            m[which ? k2 : k1] = which;
            return m;
          },
          1);
      check_propagation<set<P>>(
          P,
          [&](int id, int which) {
            set<P> s{typename set<P>::allocator_type(id)};
            s.add(which ? k2 : k1);
            return s;
          },
          1);
    };
    if (propagate)
      values(std::true_type{});
    else
      values(std::false_type{});
  }
}

using weakref_test::mod_equal;
using weakref_test::mod_hash;
using weakref_test::walked;

// [weakref.value.map.eq], [weakref.key.map.eq], [weakref.set.cmp]: comparing two weak containers
// matches elements by the left operand's Hash and KeyEqual, for all three containers alike.
// Checks [weakref.value.map.eq]/1; [weakref.key.map.eq]/1; [weakref.set.cmp]/1 and /5.
BOOST_AUTO_TEST_CASE(comparison_uses_the_left_operands_policy) {
  auto value = weakref::make_shared<tracked>(7);
  weakref::weak_value_map<int, tracked, mod_hash, mod_equal> by_ten_v(0, mod_hash{10},
                                                                      mod_equal{10});
  weakref::weak_value_map<int, tracked, mod_hash, mod_equal> exact_v(0, mod_hash{1000},
                                                                     mod_equal{1000});
  by_ten_v.insert_or_assign(3, value);
  exact_v.insert_or_assign(13, value);
  BOOST_TEST((by_ten_v == exact_v));  // 13 is found in by_ten_v: 13 ≡ 3 (mod 10)
  BOOST_TEST(!(exact_v == by_ten_v)); // 3 is not a key of exact_v

  auto three = weakref::make_shared<int>(3), thirteen = weakref::make_shared<int>(13);
  weakref::weak_key_map<int, int, mod_hash, mod_equal> by_ten_k(0, mod_hash{10}, mod_equal{10});
  weakref::weak_key_map<int, int, mod_hash, mod_equal> exact_k(0, mod_hash{1000}, mod_equal{1000});
  by_ten_k[three] = 1;
  exact_k[thirteen] = 1;
  BOOST_TEST((by_ten_k == exact_k));
  BOOST_TEST(!(exact_k == by_ten_k));

  weakref::weak_set<int, mod_hash, mod_equal> by_ten_s(0, mod_hash{10}, mod_equal{10});
  weakref::weak_set<int, mod_hash, mod_equal> exact_s(0, mod_hash{1000}, mod_equal{1000});
  by_ten_s.add(three);
  exact_s.add(thirteen);
  BOOST_TEST((by_ten_s == exact_s));
  BOOST_TEST(!(exact_s == by_ten_s));
}

// The identity policy's function objects, called directly: a container asks its KeyEqual only
// about objects whose hashes match, and identity hashes match only for the same address, so no
// container operation can show an equality that ignores the addresses.
// Checks [weakref.containers.identity]/2-5.
BOOST_AUTO_TEST_CASE(identity_policy_compares_addresses_not_values) {
  const tracked a(7), b(7);
  BOOST_TEST((a == b));
  const weakref::identity_equal<tracked> same;
  const weakref::identity_hash<tracked> hash;
  BOOST_TEST(!same(a, b));
  BOOST_TEST(same(a, a));
  BOOST_TEST(same(a, &a));
  BOOST_TEST(!same(&b, a));
  BOOST_TEST(!same(a, static_cast<const tracked*>(nullptr)));
  BOOST_TEST(hash(a) == std::hash<const void*>{}(&a));
  BOOST_TEST(hash(&b) == hash(b));
}

// Re-entrancy ([weakref.containers.general]/8): destroying an element's strongly held part runs
// user code, which may use the container again. The container is consistent whenever that code
// runs: nothing it inserts is lost, nothing is duplicated, size() agrees with iteration.
struct on_destroy {
  std::function<void()> run;
  explicit on_destroy(std::function<void()> f) : run(std::move(f)) {}
  on_destroy(const on_destroy&) = delete;
  on_destroy& operator=(const on_destroy&) = delete;
  ~on_destroy() {
    if (run) std::exchange(run, nullptr)();
  }
};
using hook = std::shared_ptr<on_destroy>;
using reentrant_key_map = weakref::weak_key_map<int, hook>;

// Inserts n fresh keys (kept alive in owners) into m: enough to make it rehash.
void insert_many(reentrant_key_map& m, std::vector<std::shared_ptr<int>>& owners, int n) {
  for (int i = 0; i < n; ++i) {
    owners.push_back(weakref::make_shared<int>(1000 + static_cast<int>(owners.size())));
    m[owners.back()] = nullptr;
  }
}

// Checks [weakref.containers.general]/14 and /21-22.
BOOST_AUTO_TEST_CASE(clear_keeps_what_destroying_an_element_inserts) {
  reentrant_key_map m;
  std::vector<std::shared_ptr<int>> owners, added;
  for (int i = 0; i < 8; ++i) owners.push_back(weakref::make_shared<int>(i));
  for (auto& k : owners) m[k] = nullptr;
  m[owners[3]] = std::make_shared<on_destroy>([&] { insert_many(m, added, 100); });
  m.clear();
  BOOST_TEST(m.size() == 100u);
  BOOST_TEST(walked(m) == 100u);
  for (auto& k : added) BOOST_TEST(m.contains(k));
  for (auto& k : owners) BOOST_TEST(!m.contains(k));
}

// Checks [weakref.containers.general]/14.
BOOST_AUTO_TEST_CASE(erase_and_purge_survive_a_rehash_by_the_destroyed_value) {
  reentrant_key_map m;
  std::vector<std::shared_ptr<int>> added;
  auto erased = weakref::make_shared<int>(1), dying = weakref::make_shared<int>(2);
  m[erased] = std::make_shared<on_destroy>([&] { insert_many(m, added, 100); });
  m[dying] = std::make_shared<on_destroy>([&] { insert_many(m, added, 100); });
  BOOST_TEST(m.erase(*erased) == 1u);
  BOOST_TEST(m.size() == 101u);
  dying.reset();
  BOOST_TEST(!m.contains(2)); // purges: the dead key's value inserts 100 more
  m.purge();
  BOOST_TEST(m.size() == 200u);
  BOOST_TEST(walked(m) == 200u);
  for (auto& k : added) BOOST_TEST(m.contains(k));
}

// weak_value_map's strongly held part is the key: replacing an element destroys the old key,
// whose destruction here assigns the same key again. One element remains, the last assigned.
struct hooked_key {
  int id;
  hook h;
  bool operator==(const hooked_key& o) const { return id == o.id; }
};
struct hooked_key_hash {
  std::size_t operator()(const hooked_key& k) const noexcept { return std::hash<int>{}(k.id); }
};

// Checks [weakref.containers.general]/14; [weakref.value.map.modifiers]/8.
BOOST_AUTO_TEST_CASE(insert_or_assign_never_duplicates_a_key_reassigned_meanwhile) {
  weakref::weak_value_map<hooked_key, tracked, hooked_key_hash> m;
  auto v1 = weakref::make_shared<tracked>(1), v2 = weakref::make_shared<tracked>(2),
       v3 = weakref::make_shared<tracked>(3);
  m.insert_or_assign(hooked_key{7, std::make_shared<on_destroy>(
                                       [&] { m.insert_or_assign(hooked_key{7, nullptr}, v3); })},
                     v1);
  m.insert_or_assign(hooked_key{7, nullptr}, v2);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(walked(m) == 1u);
  BOOST_TEST(m.at(hooked_key{7, nullptr}) == v3);
}

// A node of a list kept only by a weak_key_map: each node's value is the next node.
struct chain_node {
  tracked guard{0};
};
template <class V>
using node_map = weakref::weak_key_map<chain_node, V, weakref::identity_hash<chain_node>,
                                       weakref::identity_equal<chain_node>>;

// [weakref.containers.general]/8 The strongly held part of an entry is destroyed inside the
// death of its weak part, as Python releases a WeakKeyDictionary value when its key dies: a
// chain of nodes, each the value of the one before, collapses at the root's death with no
// further operation of the map, and size() is then 0 (the chain is released in a loop, not by
// recursion, so a long one needs no deep stack).
BOOST_AUTO_TEST_CASE(a_chain_held_by_its_own_values_collapses_at_the_roots_death) {
  constexpr int length = 10000;
  node_map<std::shared_ptr<chain_node>> links;
  auto root = weakref::make_shared<chain_node>();
  std::shared_ptr<chain_node> tail = root;
  for (int i = 1; i < length; ++i) {
    auto next = weakref::make_shared<chain_node>();
    links.insert_or_assign(tail, next);
    tail = std::move(next);
  }
  const weakref::weak_ref<chain_node> last(tail);
  tail.reset();
  BOOST_TEST(links.size() == std::size_t(length - 1));
  BOOST_TEST(tracked::alive == length);
  root.reset();
  BOOST_TEST(tracked::alive == 0);
  BOOST_TEST(last.expired());
  BOOST_TEST(links.size() == 0u);
}

// [weakref.containers.general]/8 The same for the keys of a weak_value_map: a key is destroyed
// inside its value's death.
BOOST_AUTO_TEST_CASE(a_value_maps_key_is_destroyed_inside_the_values_death) {
  auto v = weakref::make_shared<tracked>(1);
  auto key = std::make_shared<int>(0); // the key owns the only other owner of a witness
  const std::weak_ptr<int> key_witness = key;
  weakref::weak_value_map<std::shared_ptr<int>, tracked> m;
  m.insert_or_assign(std::move(key), v);
  weakref::weak_value_map<std::string, tracked> named;
  named.insert_or_assign("k", v);
  BOOST_TEST(!key_witness.expired());
  v.reset();
  BOOST_TEST(key_witness.expired()); // no operation of the map ran since the death
  BOOST_TEST(m.size() == 0u);
  BOOST_TEST(named.size() == 0u);
}

// [weakref.containers.general]/5 and /8 A death inside an operation of the same container (an
// erase whose value's destructor releases another key's last owner) destroys that other value
// at once; the container stays consistent and the operation completes.
BOOST_AUTO_TEST_CASE(a_death_inside_an_erase_releases_the_other_value_at_once) {
  struct releasing_value {
    std::shared_ptr<chain_node> other_key; // the last owner of another key
    tracked guard{0};
  };
  node_map<releasing_value> m;
  auto first = weakref::make_shared<chain_node>();
  auto second = weakref::make_shared<chain_node>();
  m.insert_or_assign(first, releasing_value{second});
  m.insert_or_assign(second, releasing_value{});
  second.reset(); // still owned by first's value
  BOOST_TEST(m.size() == 2u);
  BOOST_TEST(tracked::alive == 4); // two keys, two values
  BOOST_TEST(m.erase(*first) == 1u);
  BOOST_TEST(tracked::alive == 1); // first's value, second's key and value: all gone; first lives
  BOOST_TEST(m.size() == 0u);
  BOOST_TEST(std::ranges::distance(m) == 0);
}

// A key whose equality, the first time it runs, releases the last owner of another element's
// value (SF bug 742860: a key's __eq__ deleting another key during a lookup).
struct releasing_key {
  int id;
  static inline std::shared_ptr<tracked>* release_on_compare = nullptr;
  bool operator==(const releasing_key& o) const {
    if (release_on_compare) std::exchange(release_on_compare, nullptr)->reset();
    return id == o.id;
  }
};
struct releasing_key_hash {
  std::size_t operator()(const releasing_key&) const noexcept { return 0; } // one chain
};

// [weakref.containers.general]/5 and /8 A death inside a lookup of the same container (caused by
// the lookup's KeyEqual) destroys the dead element's key at once; the lookup still finds the
// element it looks for, and the container stays consistent.
BOOST_AUTO_TEST_CASE(a_death_inside_a_lookup_releases_the_other_key_at_once) {
  weakref::weak_value_map<releasing_key, tracked, releasing_key_hash> m;
  auto kept = weakref::make_shared<tracked>(1);
  auto doomed = weakref::make_shared<tracked>(2);
  m.insert_or_assign(releasing_key{1}, kept);
  m.insert_or_assign(releasing_key{2}, doomed);
  releasing_key::release_on_compare = &doomed;
  BOOST_TEST(m.get(releasing_key{1}) == kept);
  BOOST_TEST(releasing_key::release_on_compare == nullptr); // the comparison released doomed
  BOOST_TEST(tracked::alive == 1);
  BOOST_TEST(m.size() == 1u);
  BOOST_TEST(!m.contains(releasing_key{2}));
  BOOST_TEST(std::ranges::distance(m) == 1);
}

// [weakref.containers.general]/1 The three containers are forward ranges and allocator-aware.
static_assert(std::ranges::forward_range<weakref::weak_value_map<int, tracked>>);
static_assert(std::ranges::forward_range<weakref::weak_key_map<std::string, int>>);
static_assert(std::ranges::forward_range<weakref::weak_set<std::string>>);
static_assert(std::same_as<weakref::pmr::weak_set<std::string>::allocator_type,
                           std::pmr::polymorphic_allocator<std::shared_ptr<std::string>>>);

BOOST_AUTO_TEST_SUITE_END()
