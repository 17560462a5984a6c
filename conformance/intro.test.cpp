// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: the introduction and the note of the Python weakref documentation.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <complex>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

namespace {
struct object {
  static inline int alive = 0;
  object() { ++alive; }
  ~object() { --alive; }
};

// A referent type with == and std::hash (std::hash specialised below), so that it can be an
// element of a weak_set.
struct named {
  static inline int alive = 0;
  std::string name;
  explicit named(std::string n) : name(std::move(n)) { ++alive; }
  named(const named& other) : name(other.name) { ++alive; }
  ~named() { --alive; }
  friend bool operator==(const named& a, const named& b) { return a.name == b.name; }
};

// An allocator that counts what it hands out, so that a test can see when the storage of a
// factory-made object is returned.
struct allocation_stats {
  std::size_t allocations = 0;
  std::size_t deallocations = 0;
};

template <class T>
struct counting_allocator {
  using value_type = T;
  allocation_stats* stats;
  explicit counting_allocator(allocation_stats* s) noexcept : stats(s) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& other) noexcept : stats(other.stats) {}
  T* allocate(std::size_t n) {
    ++stats->allocations;
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    ++stats->deallocations;
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  friend bool operator==(const counting_allocator& a, const counting_allocator<U>& b) noexcept {
    return a.stats == b.stats;
  }
};

// A user-defined type with no base class, no member and no friend added for the library.
struct plain_point {
  int x = 0;
  int y = 0;
};

// Types of several kinds, for "whatever its object type".
enum class colour { red, green };
struct polymorphic {
  virtual ~polymorphic() = default;
  virtual int id() const { return 7; }
};
struct final_type final {
  int v = 3;
};
struct pinned_in_place {
  int v;
  explicit pinned_in_place(int x) : v(x) {}
  pinned_in_place(const pinned_in_place&) = delete;
  pinned_in_place& operator=(const pinned_in_place&) = delete;
};
struct alignas(64) over_aligned {
  int v = 5;
};
struct shares_itself : std::enable_shared_from_this<shares_itself> {
  int v = 9;
};
int twice(int x) { return 2 * x; }

// Whether the factory accepts T (it must not for arrays). A named concept: a requires
// expression outside a template would be a hard error.
template <class T>
concept factory_makes = requires { wr::make_shared<T>(); };

// The observable contract of "weakly referenceable": a ref and a proxy can be made, the ref
// yields the very object, and both are cleared when the last owner goes.
template <class T, class... Args>
void check_weakly_referenceable(Args&&... args) {
  std::shared_ptr<T> owner = wr::make_shared<T>(std::forward<Args>(args)...);
  BOOST_REQUIRE(owner != nullptr);
  wr::weak_ref<T> r(owner);
  wr::weak_proxy<T> p(owner);
  // Compared as addresses (Boost.Test would compare char pointers as strings).
  const void* const address = owner.get();
  BOOST_TEST(static_cast<const void*>(r().get()) == address);
  BOOST_TEST(static_cast<const void*>(std::addressof(*p.pin())) == address);
  BOOST_TEST(wr::weak_ref_count(owner) == 2u);
  owner.reset();
  BOOST_TEST(r() == nullptr);
  BOOST_TEST(p.expired());
}
} // namespace

template <>
struct std::hash<named> {
  std::size_t operator()(const named& n) const noexcept { return std::hash<std::string>{}(n.name); }
};

BOOST_AUTO_TEST_SUITE(intro)

// PY-INTRO-13: "the module weakref (import weakref;) lets a C++ program create weak references
// to objects"
// Checks [weakref.ref.cons]/2; [weakref.proxy.cons]/2; [weakref.introspection]/1.
BOOST_AUTO_TEST_CASE(PY_INTRO_13_module_creates_weak_references) {
  // This translation unit reaches the library only through `import weakref;`.
  auto owner = wr::make_shared<int>(42);
  wr::weak_ref<int> r(owner);
  wr::weak_proxy<int> p(owner);
  BOOST_TEST(owner.use_count() == 1); // neither is an owner: they are weak references
  BOOST_TEST(*r() == 42);
  BOOST_TEST((p == 42));
  BOOST_TEST(wr::weak_ref_count(owner) == 2u);
  owner.reset();
  BOOST_TEST(r() == nullptr);
}

// PY-INTRO-14: "the referent of a weak reference is the object it refers to; the wording uses
// the same term"
// Checks [weakref.ref.general]/1; [weakref.ref.obs]/1; [weakref.proxy.access]/1 and /3.
BOOST_AUTO_TEST_CASE(PY_INTRO_14_referent_is_the_object_referred_to) {
  auto a = wr::make_shared<plain_point>(plain_point{1, 2});
  auto b = wr::make_shared<plain_point>(plain_point{1, 2});
  const std::shared_ptr<plain_point> another_owner_of_a = a;
  wr::weak_ref<plain_point> ra(another_owner_of_a); // made from any owner of the object
  wr::weak_ref<plain_point> rb(b);
  wr::weak_proxy<plain_point> pa(a);
  // The referent is that object itself, not a copy, and not an equal object.
  BOOST_TEST(ra().get() == a.get());
  BOOST_TEST(rb().get() == b.get());
  BOOST_TEST(ra().get() != rb().get());
  BOOST_TEST(std::addressof(*pa.pin()) == a.get());
  pa->x = 10; // acting through the reference acts on the referent
  BOOST_TEST(a->x == 10);
  BOOST_TEST(b->x == 1);
}

// PY-INTRO-1: "a weak reference (ref, proxy or weak-container entry) never keeps its referent
// alive"
// Checks [weakref.ref.cons]/2; [weakref.ref.obs]/1.
BOOST_AUTO_TEST_CASE(PY_INTRO_1_weak_reference_does_not_keep_alive) {
  auto owner = wr::make_shared<object>();
  wr::weak_ref<object> r(owner);
  owner.reset();
  BOOST_TEST(object::alive == 0);
  BOOST_TEST(r() == nullptr);
}

// PY-INTRO-1: "a weak reference (ref, proxy or weak-container entry) never keeps its referent
// alive"
// Checks [weakref.proxy.cons]/2 and /7.
BOOST_AUTO_TEST_CASE(PY_INTRO_1_proxy_does_not_keep_alive) {
  auto owner = wr::make_shared<object>();
  wr::weak_proxy<object> p(owner);
  wr::weak_proxy<object> copy = p;
  BOOST_TEST(owner.use_count() == 1);
  owner.reset();
  BOOST_TEST(object::alive == 0);
  BOOST_TEST(p.expired());
  BOOST_TEST(copy.expired());
}

// PY-INTRO-1: "a weak reference (ref, proxy or weak-container entry) never keeps its referent
// alive"
// Checks [weakref.containers.general]/3; [weakref.set]/1.
BOOST_AUTO_TEST_CASE(PY_INTRO_1_container_entry_does_not_keep_alive) {
  auto owner = wr::make_shared<named>("entry");
  wr::weak_set<named> set;
  set.insert(owner);
  BOOST_TEST(set.contains(owner));
  BOOST_TEST(owner.use_count() == 1);
  owner.reset();
  BOOST_TEST(named::alive == 0);
  BOOST_TEST(set.size() == 0u);
}

// PY-INTRO-2: "once only weak references remain, the referent is destroyed" (adapted: destroyed
// deterministically when its last std::shared_ptr owner is released; its storage, one
// allocation with the control block, is returned only when the last weak reference is gone)
// Checks [weakref.factory]/3 and /6; [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(PY_INTRO_2_destroyed_with_last_owner_storage_with_last_weak) {
  allocation_stats stats;
  {
    auto owner = wr::allocate_shared<object>(counting_allocator<object>(&stats));
    BOOST_TEST(stats.allocations == 1u); // one allocation: control block, weak list, object
    auto second_owner = owner;
    wr::weak_ref<object> r(owner);
    wr::weak_proxy<object> p(owner);
    owner.reset();
    BOOST_TEST(object::alive == 1); // another owner remains
    BOOST_TEST(r() != nullptr);
    second_owner.reset();           // now only weak references remain
    BOOST_TEST(object::alive == 0); // destroyed at once, deterministically
    BOOST_TEST(r() == nullptr);
    BOOST_TEST(stats.deallocations == 0u); // the storage waits for the weak references
    r = wr::weak_ref<object>();
    BOOST_TEST(stats.deallocations == 0u); // the proxy is still a weak reference to it
  }
  BOOST_TEST(stats.allocations == 1u);
  BOOST_TEST(stats.deallocations == 1u); // returned with the last weak reference
}

// PY-INTRO-9: "the machinery of the containers is public: weak_ref with callbacks,
// weak_ref_count/weak_refs, keyrefs/valuerefs"
// Checks [weakref.introspection]/1 and /3; [weakref.containers.general]/3;
// [weakref.key.map.python]/22; [weakref.value.map.python]/22.
BOOST_AUTO_TEST_CASE(PY_INTRO_9_container_machinery_is_public) {
  auto key = wr::make_shared<named>("key");
  auto value = wr::make_shared<named>("value");
  int calls = 0;
  wr::weak_ref<named> r(key, [&](wr::weak_ref<named>) { ++calls; });
  wr::weak_key_map<named, int> by_key;
  by_key.insert_or_assign(key, 1);
  wr::weak_value_map<int, named> by_value;
  by_value.insert_or_assign(1, value);

  // keyrefs()/valuerefs() hand out the containers' own weak references ...
  const std::vector<wr::weak_ref<named>> keyrefs = by_key.keyrefs();
  const std::vector<wr::weak_ref<named>> valuerefs = by_value.valuerefs();
  BOOST_REQUIRE(keyrefs.size() == 1u);
  BOOST_REQUIRE(valuerefs.size() == 1u);
  BOOST_TEST(keyrefs[0]().get() == key.get());
  BOOST_TEST(valuerefs[0]().get() == value.get());
  // ... which the introspection functions see next to the program's own reference.
  BOOST_TEST(wr::weak_ref_count(key) == 2u);
  BOOST_TEST(wr::weak_refs(key).size() == 2u);
  BOOST_TEST(wr::weak_ref_count(value) == 1u);
  BOOST_TEST(!r.identical(keyrefs[0]));

  key.reset();
  BOOST_TEST(calls == 1); // the program's own callback, the same mechanism the containers use
  BOOST_TEST(keyrefs[0]() == nullptr);
  BOOST_TEST(by_key.size() == 0u);
}

// PY-INTRO-5: "only some objects can be weakly referenced; a ref or proxy to any other throws
// weakref::type_error" (adapted: the factory-made objects are the referenceable ones)
// Checks [weakref.ref.cons]/4 and /6; [weakref.proxy.cons]/4.
BOOST_AUTO_TEST_CASE(PY_INTRO_5_only_factory_objects_are_weakly_referenceable) {
  const auto from_std_make_shared = std::make_shared<int>(1);
  const auto from_new = std::shared_ptr<int>(new int(2));
  const std::shared_ptr<int> empty;
  int calls = 0;
  auto callback = [&](wr::weak_ref<int>) { ++calls; };
  for (const std::shared_ptr<int>* obj : {&from_std_make_shared, &from_new, &empty}) {
    BOOST_CHECK_THROW(wr::weak_ref<int>{*obj}, wr::type_error);
    BOOST_CHECK_THROW((wr::weak_ref<int>{*obj, callback}), wr::type_error);
    BOOST_CHECK_THROW(wr::weak_proxy<int>{*obj}, wr::type_error);
    BOOST_TEST(wr::weak_ref_count(*obj) == 0u);
  }
  // The same type made by the factory is referenceable.
  const auto from_factory = wr::make_shared<int>(3);
  BOOST_CHECK_NO_THROW(wr::weak_ref<int>{from_factory});
  BOOST_CHECK_NO_THROW(wr::weak_proxy<int>{from_factory});
  BOOST_TEST(calls == 0);
}

// PY-INTRO-10: "every object made by the factories can be weakly referenced, whatever its
// (non-array) object type"
// Checks [weakref.factory]/1, /4 and /8-9.
BOOST_AUTO_TEST_CASE(PY_INTRO_10_every_factory_object_type_is_referenceable) {
  check_weakly_referenceable<int>(1);
  check_weakly_referenceable<const int>(1);
  check_weakly_referenceable<double>(2.5);
  check_weakly_referenceable<bool>(true);
  check_weakly_referenceable<char>('c');
  check_weakly_referenceable<colour>(colour::green);
  check_weakly_referenceable<int*>(nullptr);
  check_weakly_referenceable<int (*)(int)>(&twice);
  check_weakly_referenceable<std::nullptr_t>(nullptr);
  check_weakly_referenceable<std::string>("text");
  check_weakly_referenceable<std::complex<double>>(1.0, 2.0);
  check_weakly_referenceable<std::function<int(int)>>(&twice);
  check_weakly_referenceable<std::optional<int>>(4);
  check_weakly_referenceable<std::variant<int, std::string>>("v");
  check_weakly_referenceable<std::unique_ptr<int>>(std::make_unique<int>(5));
  check_weakly_referenceable<plain_point>();
  check_weakly_referenceable<polymorphic>();
  check_weakly_referenceable<final_type>();
  check_weakly_referenceable<pinned_in_place>(6);
  check_weakly_referenceable<over_aligned>();
  check_weakly_referenceable<shares_itself>();
  auto lambda = [k = 3](int x) { return k * x; };
  check_weakly_referenceable<decltype(lambda)>(lambda);

  // Non-array: the factories do not accept arrays.
  static_assert(factory_makes<int>);
  static_assert(factory_makes<plain_point>);
  static_assert(!factory_makes<int[3]>);
  static_assert(!factory_makes<int[]>);

  // Types with special wiring keep it: enable_shared_from_this still works.
  auto s = wr::make_shared<shares_itself>();
  BOOST_TEST(s->shared_from_this().get() == s.get());
  BOOST_CHECK_NO_THROW(wr::weak_ref<shares_itself>{s->shared_from_this()});
  // An over-aligned object is correctly aligned.
  auto a = wr::make_shared<over_aligned>();
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(a.get()) % 64 == 0u);
}

// PY-INTRO-6: "standard types (std::vector, std::map...) and scalars are weakly referenceable
// when made by the factories, without subclassing" (adapted: Python's Dict(dict) becomes
// make_shared<std::map<...>>)
// Checks [weakref.factory]/4 and /8.
BOOST_AUTO_TEST_CASE(PY_INTRO_6_standard_types_need_no_subclass) {
  auto dict = wr::make_shared<std::map<std::string, int>>();
  (*dict)["red"] = 1;
  wr::weak_ref<std::map<std::string, int>> r(dict);
  wr::weak_proxy<std::map<std::string, int>> p(dict);
  BOOST_TEST(r()->at("red") == 1);
  BOOST_TEST(p["red"] == 1); // used through the proxy without dereferencing
  p->emplace("blue", 2);
  BOOST_TEST(dict->size() == 2u);

  auto list = wr::make_shared<std::vector<int>>(std::vector<int>{1, 2, 3});
  wr::weak_ref<std::vector<int>> rl(list);
  BOOST_TEST(rl()->size() == 3u);

  auto numbers = wr::make_shared<std::set<int>>(std::set<int>{1, 2});
  wr::weak_ref<std::set<int>> rs(numbers);
  BOOST_TEST(rs()->count(2) == 1u);

  auto scalar = wr::make_shared<long>(7L);
  auto tuple = wr::make_shared<std::tuple<int, long>>(1, 2L); // CPython cannot: tuple, long
  wr::weak_ref<long> rsc(scalar);
  wr::weak_ref<std::tuple<int, long>> rt(tuple);
  BOOST_TEST(*rsc() == 7L);
  BOOST_TEST(std::get<1>(*rt()) == 2L);

  dict.reset();
  list.reset();
  numbers.reset();
  scalar.reset();
  tuple.reset();
  BOOST_TEST(r() == nullptr);
  BOOST_TEST(rl() == nullptr);
  BOOST_TEST(rs() == nullptr);
  BOOST_TEST(rsc() == nullptr);
  BOOST_TEST(rt() == nullptr);
}

// PY-INTRO-12: "user-defined types need no opt-in to be weakly referenceable" (adapted: no
// intrusive base class, also for types the program does not own). What an opt-in would leave
// visible is checked on the object the factory makes: it is an object of the user's type itself
// (its dynamic type is T, not a type derived from T to carry a hook), constructed once in place
// from the given arguments (not built elsewhere and moved into a hook-carrying block), and
// destroyed once, at the same address, at its death. Standard types, which the program cannot
// change, are referenceable as they are.
// Checks [weakref.factory]/3-4, /6 and /8.
BOOST_AUTO_TEST_CASE(PY_INTRO_12_user_types_need_no_opt_in) {
  struct life {
    const void* constructed_at = nullptr;
    const void* destroyed_at = nullptr;
    int constructions = 0, copies_or_moves = 0, destructions = 0;
    int argument = 0;
  };
  // A user type as written for its own purposes: no base, no member, no friend for the library.
  struct gadget {
    life* log;
    gadget(life* l, int argument) : log(l) {
      log->constructed_at = this;
      log->argument = argument;
      ++log->constructions;
    }
    gadget(const gadget& other) : log(other.log) { ++log->copies_or_moves; }
    gadget(gadget&& other) noexcept : log(other.log) { ++log->copies_or_moves; }
    virtual ~gadget() {
      log->destroyed_at = this;
      ++log->destructions;
    }
  };
  struct special_gadget final : gadget {
    using gadget::gadget;
  };

  life log;
  {
    std::shared_ptr<gadget> p = wr::make_shared<special_gadget>(&log, 42);
    const void* const address = p.get();
    const wr::weak_ref<gadget> r(p);
    const gadget& object = *p;
    BOOST_TEST((typeid(object) == typeid(special_gadget))); // not a type derived from it
    BOOST_TEST(log.constructions == 1);
    BOOST_TEST(log.copies_or_moves == 0); // constructed in place
    BOOST_TEST(log.constructed_at == address);
    BOOST_TEST(log.argument == 42);
    BOOST_TEST(static_cast<const void*>(r().get()) == address);
    p.reset();
    BOOST_TEST(r() == nullptr);
    BOOST_TEST(log.destructions == 1);
    BOOST_TEST(log.destroyed_at == address);
    BOOST_TEST(log.copies_or_moves == 0);
  }

  // Types the program does not own, unchanged: a standard pair, and a standard type that can
  // be neither copied nor moved (so only constructed in place).
  auto pair = wr::make_shared<std::pair<int, int>>(5, 6);
  wr::weak_ref<std::pair<int, int>> rp(pair);
  BOOST_TEST(rp()->second == 6);
  auto mutex = wr::make_shared<std::mutex>();
  wr::weak_ref<std::mutex> rm(mutex);
  BOOST_TEST(rm()->try_lock());
  rm()->unlock();
  pair.reset();
  mutex.reset();
  BOOST_TEST(rp() == nullptr);
  BOOST_TEST(rm() == nullptr);
}

// PY-NOTE-1: "every weak reference is cleared before the referent's destructor runs: no lock()
// succeeds from then on, inside ~T included"
// Checks [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(PY_NOTE_1_cleared_before_the_destructor) {
  struct looks_at_itself {
    std::optional<wr::weak_ref<looks_at_itself>> ref;
    std::optional<wr::weak_proxy<looks_at_itself>> proxy;
    bool* ran = nullptr;
    bool* ref_cleared = nullptr;
    bool* proxy_cleared = nullptr;
    ~looks_at_itself() {
      *ran = true;
      *ref_cleared = (*ref)() == nullptr && ref->lock() == nullptr && ref->expired();
      try {
        (void)(*proxy)->ran;
        *proxy_cleared = false;
      } catch (const wr::reference_error&) {
        *proxy_cleared = proxy->lock() == nullptr;
      }
    }
  };
  bool ran = false, ref_cleared = false, proxy_cleared = false;
  auto owner = wr::make_shared<looks_at_itself>();
  owner->ref.emplace(owner);
  owner->proxy.emplace(owner);
  owner->ran = &ran;
  owner->ref_cleared = &ref_cleared;
  owner->proxy_cleared = &proxy_cleared;
  wr::weak_ref<looks_at_itself> outside(owner);
  owner.reset();
  BOOST_TEST(ran);
  BOOST_TEST(ref_cleared);
  BOOST_TEST(proxy_cleared);
  BOOST_TEST(outside() == nullptr);
}

// PY-NOTE-2: "death callbacks all run before the referent is destroyed: ~T runs only after the
// last callback has returned"
// Checks [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(PY_NOTE_2_callbacks_run_before_the_destructor) {
  struct logs_destruction {
    std::vector<std::string>* log;
    explicit logs_destruction(std::vector<std::string>* l) : log(l) {}
    ~logs_destruction() { log->push_back("~T"); }
  };
  std::vector<std::string> log;
  auto owner = wr::make_shared<logs_destruction>(&log);
  wr::weak_ref<logs_destruction> r1(owner,
                                    [&](wr::weak_ref<logs_destruction>) { log.push_back("r1"); });
  wr::weak_proxy<logs_destruction> p2(
      owner, [&](wr::weak_proxy<logs_destruction>) { log.push_back("p2"); });
  wr::weak_ref<logs_destruction> r3(owner,
                                    [&](wr::weak_ref<logs_destruction>) { log.push_back("r3"); });
  owner.reset();
  BOOST_REQUIRE(log.size() == 4u);
  BOOST_TEST(log.back() == "~T"); // after every callback
  BOOST_TEST(log[0] == "r3");
  BOOST_TEST(log[1] == "p2");
  BOOST_TEST(log[2] == "r1");
}

BOOST_AUTO_TEST_SUITE_END()
