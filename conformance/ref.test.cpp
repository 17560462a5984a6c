// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: "Weak Reference Objects" of the Python weakref documentation: weakref.ref, its
// callback, hashing and equality, and the reference type (ReferenceType).
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "support.hpp"

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;
using conformance::any_ordering;
using conformance::capture_stderr;
using conformance::has_greater;
using conformance::has_greater_equal;
using conformance::has_less;
using conformance::has_less_equal;
using conformance::has_three_way;
using conformance::recording_handler;

namespace {

// Counts live instances; compares by value.
struct tracked {
  static inline int alive = 0;
  int value;
  explicit tracked(int v = 0) : value(v) { ++alive; }
  tracked(const tracked& other) : value(other.value) { ++alive; }
  ~tracked() { --alive; }
  friend bool operator==(const tracked& a, const tracked& b) { return a.value == b.value; }
};

// Neither == nor std::hash.
struct opaque {
  int value = 0;
};

// Hashable through a program-defined std::hash specialisation (below), and nothing else.
struct custom_hashed {
  int value = 0;
};

// Releases an owner while it is destroyed: kills a referent during stack unwinding.
struct releases_on_unwind {
  std::shared_ptr<tracked> owner;
  ~releases_on_unwind() { owner.reset(); }
};

// A class derived from the reference type, adding nothing.
template <class T>
struct derived_ref : wr::weak_ref<T> {
  using wr::weak_ref<T>::weak_ref;
};

// Named concepts for the compile-time rules (a requires expression outside a template is a
// hard error, not false).
template <class T>
concept std_hashable =
    std::default_initializable<std::hash<T>> && requires(const std::hash<T>& h, const T& t) {
      { h(t) } -> std::convertible_to<std::size_t>;
    };
template <class R>
concept has_equality = requires(const R& a, const R& b) {
  { a == b } -> std::convertible_to<bool>;
  { a != b } -> std::convertible_to<bool>;
};
template <class T, class F>
concept accepts_callback = std::constructible_from<wr::weak_ref<T>, const std::shared_ptr<T>&, F>;

} // namespace

template <>
struct std::hash<custom_hashed> {
  std::size_t operator()(const custom_hashed& c) const noexcept {
    return static_cast<std::size_t>(c.value) * 31u + 7u;
  }
};

BOOST_AUTO_TEST_SUITE(ref)

// PY-REF-8: "weak_ref<T>(obj) makes a new weak reference to the object that obj owns"
// Checks [weakref.ref.general]/3; [weakref.ref.cons]/2.
BOOST_AUTO_TEST_CASE(PY_REF_8_construction_makes_a_new_weak_reference) {
  auto obj = wr::make_shared<tracked>(1);
  BOOST_TEST(wr::weak_ref_count(obj) == 0u);
  wr::weak_ref<tracked> r(obj);
  BOOST_TEST(wr::weak_ref_count(obj) == 1u); // a new reference, registered with the object
  BOOST_TEST(obj.use_count() == 1);          // weak: not an owner
  BOOST_TEST(r().get() == obj.get());        // to the object that obj owns
  const std::shared_ptr<tracked> other_owner = obj;
  wr::weak_ref<tracked> r2(other_owner);
  BOOST_TEST(wr::weak_ref_count(obj) == 2u);
  BOOST_TEST(!r2.identical(r)); // new, not the earlier one
  BOOST_TEST(r2().get() == obj.get());
}

// PY-REF-1: "while the referent lives, r() returns an owner (std::shared_ptr) of it"
// Checks [weakref.ref.obs]/1.
BOOST_AUTO_TEST_CASE(PY_REF_1_call_returns_an_owner_while_alive) {
  auto obj = wr::make_shared<tracked>(5);
  const wr::weak_ref<tracked> r(obj);
  static_assert(std::same_as<decltype(r()), std::shared_ptr<tracked>>);
  std::shared_ptr<tracked> got = r();
  BOOST_TEST(got.get() == obj.get());
  BOOST_TEST(obj.use_count() == 2); // an owner, sharing ownership with obj
  obj.reset();
  BOOST_TEST(tracked::alive == 1); // the result keeps the referent alive
  BOOST_TEST(got->value == 5);
  BOOST_TEST(r().get() == got.get());
  got.reset();
  BOOST_TEST(tracked::alive == 0);
}

// PY-REF-9: "once the referent is gone, r() returns an empty std::shared_ptr (Python's None)"
// Checks [weakref.ref.obs]/1.
BOOST_AUTO_TEST_CASE(PY_REF_9_call_returns_empty_after_death) {
  auto obj = wr::make_shared<tracked>(5);
  wr::weak_ref<tracked> r(obj);
  BOOST_TEST(r() != nullptr);
  obj.reset();
  const std::shared_ptr<tracked> got = r();
  BOOST_TEST(got == nullptr);
  BOOST_TEST(got.use_count() == 0); // empty, not merely null
  BOOST_TEST(r() == nullptr);       // and stays so
}

// PY-REF-10: "the callback is optional: none given, a null function pointer or an empty
// std::function registers no callback"
// Checks [weakref.ref.cons]/2 and /5.
BOOST_AUTO_TEST_CASE(PY_REF_10_callback_is_optional) {
  recording_handler handler; // calling a null or empty callback would throw or crash
  auto obj = wr::make_shared<tracked>(1);
  void (*null_function)(wr::weak_ref<tracked>) = nullptr;
  std::function<void(wr::weak_ref<tracked>)> empty_function;
  int calls = 0;
  std::function<void(wr::weak_ref<tracked>)> real_function = [&](wr::weak_ref<tracked>) {
    ++calls;
  };
  wr::weak_ref<tracked> none(obj);
  wr::weak_ref<tracked> with_nullptr(obj, nullptr);
  wr::weak_ref<tracked> with_null_function(obj, null_function);
  wr::weak_ref<tracked> with_empty_function(obj, empty_function);
  wr::weak_ref<tracked> with_real_function(obj, real_function);
  BOOST_TEST(wr::weak_ref_count(obj) == 5u); // all are weak references
  BOOST_CHECK_NO_THROW(obj.reset());
  BOOST_TEST(calls == 1); // only the real callback ran
  BOOST_TEST(recording_handler::messages().empty());
  BOOST_TEST(none.expired());
  BOOST_TEST(with_nullptr.expired());
  BOOST_TEST(with_null_function.expired());
  BOOST_TEST(with_empty_function.expired());
}

// PY-REF-11: "the callback runs only if the reference (some handle to it) still exists when the
// referent dies; destroying its last handle first unregisters it"
// Checks [weakref.ref.general]/3; [weakref.ref.cons]/8 and /14.
BOOST_AUTO_TEST_CASE(PY_REF_11_callback_needs_the_reference_alive) {
  auto obj = wr::make_shared<tracked>(1);
  int gone_calls = 0, kept_calls = 0, moved_calls = 0;
  {
    wr::weak_ref<tracked> gone(obj, [&](wr::weak_ref<tracked>) { ++gone_calls; });
    wr::weak_ref<tracked> copy_of_gone = gone;
  } // last handle destroyed before the referent dies
  BOOST_TEST(wr::weak_ref_count(obj) == 0u); // unregistered
  std::optional<wr::weak_ref<tracked>> surviving_copy;
  {
    wr::weak_ref<tracked> kept(obj, [&](wr::weak_ref<tracked>) { ++kept_calls; });
    surviving_copy = kept; // the original handle goes, a copy survives
  }
  std::optional<wr::weak_ref<tracked>> moved_to;
  {
    wr::weak_ref<tracked> moved(obj, [&](wr::weak_ref<tracked>) { ++moved_calls; });
    moved_to = std::move(moved);
  }
  BOOST_TEST(wr::weak_ref_count(obj) == 2u);
  obj.reset();
  BOOST_TEST(gone_calls == 0);
  BOOST_TEST(kept_calls == 1);
  BOOST_TEST(moved_calls == 1);
}

// PY-REF-12: "the callback runs at the referent's death, on the thread that released its last
// owner, before its destructor"
// Checks [weakref.ref.callback]/2; [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(PY_REF_12_callback_runs_at_death_on_releasing_thread) {
  auto obj = wr::make_shared<tracked>(1);
  auto second_owner = obj;
  int calls = 0;
  int alive_in_callback = -1;
  std::thread::id callback_thread;
  wr::weak_ref<tracked> r(obj, [&](wr::weak_ref<tracked>) {
    ++calls;
    alive_in_callback = tracked::alive;
    callback_thread = std::this_thread::get_id();
  });
  obj.reset();
  BOOST_TEST(calls == 0); // not at the release of an owner that is not the last
  std::thread releaser([owner = std::move(second_owner)]() mutable { owner.reset(); });
  const std::thread::id releaser_id = releaser.get_id();
  releaser.join();
  BOOST_TEST(calls == 1);
  BOOST_TEST(alive_in_callback == 1); // before the destructor
  BOOST_TEST(tracked::alive == 0);
  BOOST_TEST((callback_thread == releaser_id));
  BOOST_TEST((callback_thread != std::this_thread::get_id()));
}

// PY-REF-13: "the callback receives exactly one argument: a handle to the very reference that
// registered it (identical to it)"
// Checks [weakref.ref.cons]/5; [weakref.ref.callback]/1-2.
BOOST_AUTO_TEST_CASE(PY_REF_13_callback_receives_its_own_reference) {
  using callback_taking_ref = void (*)(wr::weak_ref<tracked>);
  using callback_taking_nothing = void (*)();
  using callback_taking_two = void (*)(wr::weak_ref<tracked>, int);
  using callback_taking_owner = void (*)(std::shared_ptr<tracked>);
  static_assert(accepts_callback<tracked, callback_taking_ref>);
  static_assert(!accepts_callback<tracked, callback_taking_nothing>);
  static_assert(!accepts_callback<tracked, callback_taking_two>);
  static_assert(!accepts_callback<tracked, callback_taking_owner>);

  auto obj = wr::make_shared<tracked>(1);
  std::optional<wr::weak_ref<tracked>> r;
  std::optional<wr::weak_ref<tracked>> other;
  int calls = 0;
  bool identical_to_r = false, identical_to_other = true;
  r.emplace(obj, [&](wr::weak_ref<tracked> self) {
    ++calls;
    identical_to_r = self.identical(*r);
    identical_to_other = self.identical(*other);
  });
  other.emplace(obj, [](wr::weak_ref<tracked>) {});
  obj.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(identical_to_r);
  BOOST_TEST(!identical_to_other);
}

// PY-REF-14: "inside the callback the reference is already cleared: r() returns empty (a proxy
// throws reference_error)"
// Checks [weakref.ref.death]/1; [weakref.proxy.access]/4.
BOOST_AUTO_TEST_CASE(PY_REF_14_reference_is_cleared_inside_callback) {
  auto obj = wr::make_shared<tracked>(1);
  bool ref_empty = false, ref_expired = false, proxy_threw = false, proxy_expired = false;
  int calls = 0;
  wr::weak_ref<tracked> r(obj, [&](wr::weak_ref<tracked> self) {
    ++calls;
    ref_empty = self() == nullptr && self.lock() == nullptr;
    ref_expired = self.expired();
  });
  wr::weak_proxy<tracked> p(obj, [&](wr::weak_proxy<tracked> self) {
    ++calls;
    proxy_expired = self.expired();
    try {
      (void)self->value;
    } catch (const wr::reference_error&) {
      proxy_threw = true;
    }
  });
  obj.reset();
  BOOST_TEST(calls == 2);
  BOOST_TEST(ref_empty);
  BOOST_TEST(ref_expired);
  BOOST_TEST(proxy_expired);
  BOOST_TEST(proxy_threw);
}

// PY-REF-15: "any number of weak references and proxies may refer to one object; each
// construction from an owner makes a distinct reference"
// Checks [weakref.ref.general]/3; [weakref.ref.cons]/2; [weakref.introspection]/1.
BOOST_AUTO_TEST_CASE(PY_REF_15_many_distinct_references_to_one_object) {
  auto obj = wr::make_shared<tracked>(1);
  constexpr std::size_t n = 200;
  std::vector<wr::weak_ref<tracked>> refs;
  std::vector<wr::weak_proxy<tracked>> proxies;
  int calls = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 2 == 0)
      refs.emplace_back(obj);
    else
      refs.emplace_back(obj, [&](wr::weak_ref<tracked>) { ++calls; });
    proxies.emplace_back(obj);
  }
  BOOST_TEST(wr::weak_ref_count(obj) == 2 * n);
  bool all_distinct = true, all_refer = true;
  for (std::size_t i = 0; i < n; ++i) {
    all_refer = all_refer && refs[i]().get() == obj.get() && proxies[i].lock() == obj;
    for (std::size_t j = i + 1; j < n; ++j)
      all_distinct =
          all_distinct && !refs[i].identical(refs[j]) && !proxies[i].identical(proxies[j]);
  }
  BOOST_TEST(all_distinct);
  BOOST_TEST(all_refer);
  obj.reset();
  BOOST_TEST(calls == static_cast<int>(n / 2));
}

// PY-REF-2: "at a death, callbacks run newest registration first, across refs, proxies and
// container entries"
// Checks [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(PY_REF_2_callbacks_run_newest_first) {
  auto obj = wr::make_shared<tracked>(1);
  std::vector<std::string> order;
  wr::weak_ref<tracked> r1(obj, [&](wr::weak_ref<tracked>) { order.push_back("r1"); });
  wr::weak_proxy<tracked> p1(obj, [&](wr::weak_proxy<tracked>) { order.push_back("p1"); });
  wr::weak_ref<tracked> plain(obj); // no callback: takes no place in the order
  wr::weak_ref<tracked> r2(obj, [&](wr::weak_ref<tracked>) { order.push_back("r2"); });
  wr::weak_proxy<tracked> p2(obj, [&](wr::weak_proxy<tracked>) { order.push_back("p2"); });
  wr::weak_ref<tracked> r3(obj, [&](wr::weak_ref<tracked>) { order.push_back("r3"); });
  obj.reset();
  BOOST_TEST(order == (std::vector<std::string>{"r3", "p2", "r2", "p1", "r1"}),
             boost::test_tools::per_element());
}

// PY-REF-2: "at a death, callbacks run newest registration first, across refs, proxies and
// container entries"
// Checks [weakref.ref.death]/1; [weakref.containers.general]/7.
BOOST_AUTO_TEST_CASE(PY_REF_2_container_entries_take_their_place_in_the_order) {
  // A weak_set entry's death callback is what removes it from size(): a ref registered before
  // the entry runs after it (sees size() == 0), one registered after it runs before it.
  auto obj = wr::make_shared<tracked>(1);
  wr::weak_set<tracked, wr::identity_hash<tracked>, wr::identity_equal<tracked>> set;
  std::vector<std::string> order;
  std::size_t size_in_older = 99, size_in_newer = 99;
  wr::weak_ref<tracked> older(obj, [&](wr::weak_ref<tracked>) {
    order.push_back("older");
    size_in_older = set.size();
  });
  set.insert(obj);
  wr::weak_ref<tracked> newer(obj, [&](wr::weak_ref<tracked>) {
    order.push_back("newer");
    size_in_newer = set.size();
  });
  BOOST_TEST(set.size() == 1u);
  obj.reset();
  BOOST_TEST(order == (std::vector<std::string>{"newer", "older"}),
             boost::test_tools::per_element());
  BOOST_TEST(size_in_newer == 1u); // the entry's callback had not run yet
  BOOST_TEST(size_in_older == 0u); // the entry's callback had run
  BOOST_TEST(set.size() == 0u);
}

// PY-REF-3: "an exception thrown by a callback never propagates out of the release that killed
// the referent, and the remaining callbacks still run"
// Checks [weakref.error.callback]/1; [weakref.ref.death]/3.
BOOST_AUTO_TEST_CASE(PY_REF_3_callback_exceptions_do_not_propagate) {
  recording_handler handler;
  auto obj = wr::make_shared<tracked>(1);
  std::vector<int> ran;
  wr::weak_ref<tracked> r1(obj, [&](wr::weak_ref<tracked>) { ran.push_back(1); });
  wr::weak_proxy<tracked> p2(obj, [&](wr::weak_proxy<tracked>) {
    ran.push_back(2);
    throw std::runtime_error("second");
  });
  wr::weak_ref<tracked> r3(obj, [&](wr::weak_ref<tracked>) {
    ran.push_back(3);
    throw 3; // not even a std::exception
  });
  BOOST_CHECK_NO_THROW(obj.reset());
  BOOST_TEST(ran == (std::vector<int>{3, 2, 1}), boost::test_tools::per_element());
  BOOST_TEST(tracked::alive == 0); // the death completed
  BOOST_TEST(recording_handler::messages().size() == 2u);
}

// PY-REF-16: "a callback's exception is passed to a replaceable handler whose default writes one
// line to stderr"
// Checks [weakref.error.callback]/1, /4-6 and /8.
BOOST_AUTO_TEST_CASE(PY_REF_16_exception_goes_to_replaceable_handler) {
  const wr::callback_error_handler before = wr::get_callback_error_handler();
  {
    recording_handler handler; // replaced
    BOOST_TEST(wr::get_callback_error_handler() != before);
    auto obj = wr::make_shared<tracked>(1);
    wr::weak_ref<tracked> r(
        obj, [](wr::weak_ref<tracked>) { throw std::runtime_error("reported to the handler"); });
    obj.reset();
    BOOST_TEST(recording_handler::messages() ==
                   (std::vector<std::string>{"reported to the handler"}),
               boost::test_tools::per_element());
  }
  // Replaceable means also restorable: the recording handler put back what it found.
  const wr::callback_error_handler found = wr::get_callback_error_handler();
  BOOST_TEST(found == before);
  // The default handler writes one line to stderr (installed explicitly, then the previous one
  // put back, so that this does not depend on what other tests left installed).
  const wr::callback_error_handler previous =
      wr::set_callback_error_handler(&wr::default_callback_error_handler);
  BOOST_TEST(previous == found);
  const std::string text = capture_stderr([] {
    auto obj = wr::make_shared<tracked>(1);
    wr::weak_ref<tracked> r(
        obj, [](wr::weak_ref<tracked>) { throw std::runtime_error("noted on stderr"); });
    obj.reset();
  });
  wr::set_callback_error_handler(previous);
  BOOST_TEST(text.find("noted on stderr") != std::string::npos);
  BOOST_TEST(!text.empty());
  BOOST_TEST(text.back() == '\n');
  BOOST_TEST(text.find('\n') == text.size() - 1); // exactly one line
}

// PY-REF-17: "callback exceptions get Python's __del__ treatment: reported, then ignored"
// (adapted: not std::terminate as a throwing destructor would, also during stack unwinding)
// Checks [weakref.ref.death]/3.
BOOST_AUTO_TEST_CASE(PY_REF_17_reported_then_ignored_even_when_unwinding) {
  recording_handler handler;
  auto obj = wr::make_shared<tracked>(1);
  int calls = 0;
  wr::weak_ref<tracked> r(obj, [&](wr::weak_ref<tracked>) {
    ++calls;
    throw std::logic_error("from a callback");
  });
  bool caught_original = false;
  try {
    releases_on_unwind guard{std::move(obj)};
    throw std::runtime_error("original");
  } catch (const std::runtime_error& e) {
    caught_original = std::string(e.what()) == "original";
  }
  BOOST_TEST(caught_original); // neither terminated nor replaced
  BOOST_TEST(calls == 1);
  BOOST_TEST(recording_handler::messages() == (std::vector<std::string>{"from a callback"}),
             boost::test_tools::per_element()); // reported
  BOOST_TEST(tracked::alive == 0);              // then ignored: the death went on

  // Outside unwinding, likewise: the release returns normally.
  auto obj2 = wr::make_shared<tracked>(2);
  wr::weak_ref<tracked> r2(obj2, [](wr::weak_ref<tracked>) { throw std::logic_error("again"); });
  BOOST_CHECK_NO_THROW(obj2.reset());
  BOOST_TEST(recording_handler::messages().size() == 2u);
}

// PY-REF-4: "std::hash of a weak_ref<T> (or of a class derived from it) exists exactly when
// std::hash<T> does, and equals the referent's hash"
// Checks [weakref.ref.hash]/1 and /3.
BOOST_AUTO_TEST_CASE(PY_REF_4_hashable_iff_referent_is) {
  static_assert(std_hashable<std::string> && std_hashable<wr::weak_ref<std::string>>);
  static_assert(std_hashable<int> && std_hashable<wr::weak_ref<int>>);
  static_assert(std_hashable<custom_hashed> && std_hashable<wr::weak_ref<custom_hashed>>);
  static_assert(std_hashable<derived_ref<std::string>>);
  static_assert(!std_hashable<opaque> && !std_hashable<wr::weak_ref<opaque>>);
  static_assert(!std_hashable<tracked> && !std_hashable<wr::weak_ref<tracked>>);
  static_assert(!std_hashable<derived_ref<opaque>>);

  auto s = wr::make_shared<std::string>("image-42");
  auto c = wr::make_shared<custom_hashed>(custom_hashed{5});
  auto i = wr::make_shared<int>(17);
  const wr::weak_ref<std::string> rs(s);
  const derived_ref<std::string> ds(s);
  const wr::weak_ref<custom_hashed> rc(c);
  const wr::weak_ref<int> ri(i);
  BOOST_TEST(std::hash<wr::weak_ref<std::string>>{}(rs) == std::hash<std::string>{}(*s));
  BOOST_TEST(std::hash<derived_ref<std::string>>{}(ds) == std::hash<std::string>{}(*s));
  BOOST_TEST(std::hash<wr::weak_ref<custom_hashed>>{}(rc) == std::hash<custom_hashed>{}(*c));
  BOOST_TEST(std::hash<wr::weak_ref<int>>{}(ri) == std::hash<int>{}(17));
  // Hashable refs work as keys of the standard hashed containers.
  std::unordered_set<wr::weak_ref<std::string>> keys{rs};
  auto equal_string = wr::make_shared<std::string>("image-42");
  BOOST_TEST(keys.count(wr::weak_ref<std::string>(equal_string)) == 1u);
}

// PY-REF-18: "a ref's hash is cached when first taken and stays the same after the referent
// dies"
// Checks [weakref.ref.hash]/3 and /6.
BOOST_AUTO_TEST_CASE(PY_REF_18_hash_is_cached_and_survives_death) {
  auto s = wr::make_shared<std::string>("first");
  const wr::weak_ref<std::string> r(s);
  const wr::weak_ref<std::string> copy = r;
  const std::size_t first = std::hash<wr::weak_ref<std::string>>{}(r);
  BOOST_TEST(first == std::hash<std::string>{}("first"));
  *s = "changed"; // the hash was cached when first taken
  BOOST_TEST(std::hash<wr::weak_ref<std::string>>{}(r) == first);
  s.reset();
  BOOST_TEST(std::hash<wr::weak_ref<std::string>>{}(r) == first);
  BOOST_TEST(std::hash<wr::weak_ref<std::string>>{}(copy) == first); // the same reference
}

// PY-REF-5: "hashing a ref for the first time after its referent died (or an empty ref) throws
// weakref::type_error"
// Checks [weakref.ref.hash]/4.
BOOST_AUTO_TEST_CASE(PY_REF_5_first_hash_after_death_throws_type_error) {
  auto s = wr::make_shared<std::string>("x");
  const wr::weak_ref<std::string> never_hashed(s);
  const wr::weak_ref<std::string> hashed_alive(s);
  const std::size_t h = std::hash<wr::weak_ref<std::string>>{}(hashed_alive);
  s.reset();
  BOOST_CHECK_THROW(std::hash<wr::weak_ref<std::string>>{}(never_hashed), wr::type_error);
  BOOST_CHECK_THROW(std::hash<wr::weak_ref<std::string>>{}(never_hashed), wr::type_error);
  BOOST_CHECK_THROW(std::hash<wr::weak_ref<std::string>>{}(wr::weak_ref<std::string>()),
                    wr::type_error);
  BOOST_TEST(std::hash<wr::weak_ref<std::string>>{}(hashed_alive) == h); // contrast
}

// PY-REF-7: "refs have == and !=, and no ordering: <, <=, >, >= and <=> are ill-formed"
// Checks [weakref.ref.eq]/6.
BOOST_AUTO_TEST_CASE(PY_REF_7_equality_but_no_ordering) {
  static_assert(has_equality<wr::weak_ref<int>>);
  static_assert(has_equality<wr::weak_ref<opaque>>);
  static_assert(!has_less<wr::weak_ref<int>>);
  static_assert(!has_less_equal<wr::weak_ref<int>>);
  static_assert(!has_greater<wr::weak_ref<int>>);
  static_assert(!has_greater_equal<wr::weak_ref<int>>);
  static_assert(!has_three_way<wr::weak_ref<int>>);
  static_assert(!any_ordering<wr::weak_ref<std::string>>);
  static_assert(!any_ordering<derived_ref<int>>);
  static_assert(!std::totally_ordered<wr::weak_ref<int>>);
  // The probes can see an ordering where there is one (the referent's own).
  static_assert(any_ordering<int> && has_three_way<std::string>);

  auto a = wr::make_shared<int>(1);
  auto b = wr::make_shared<int>(2);
  const wr::weak_ref<int> ra(a), rb(b);
  BOOST_TEST((ra == ra));
  BOOST_TEST(!(ra != ra));
  BOOST_TEST((ra != rb));
  BOOST_TEST(!(ra == rb));
}

// PY-REF-6: "while both referents live, two refs compare as their referents do (by address for
// a T without ==), whatever their callbacks"
// Checks [weakref.ref.eq]/2 and /5.
BOOST_AUTO_TEST_CASE(PY_REF_6_live_refs_compare_as_referents) {
  auto x = wr::make_shared<tracked>(1);
  auto y = wr::make_shared<tracked>(1);
  auto z = wr::make_shared<tracked>(2);
  const wr::weak_ref<tracked> rx(x, [](wr::weak_ref<tracked>) {});
  const wr::weak_ref<tracked> ry(y);
  const wr::weak_ref<tracked> rz(z, [](wr::weak_ref<tracked>) {});
  BOOST_TEST((rx == ry)); // equal referents, different objects, one has a callback
  BOOST_TEST((ry == rx));
  BOOST_TEST((rx != rz));
  z->value = 1;
  BOOST_TEST((rx == rz)); // follows the referents' relationship as it changes
  // The referents' own == decides, even where it is not reflexive (NaN).
  auto nan = wr::make_shared<double>(std::numeric_limits<double>::quiet_NaN());
  const wr::weak_ref<double> rn(nan);
  const wr::weak_ref<double> rn_copy = rn;
  BOOST_TEST(!(rn == rn_copy));
  BOOST_TEST((rn != rn_copy));
  // Without ==, by address.
  auto a = wr::make_shared<opaque>();
  auto b = wr::make_shared<opaque>();
  BOOST_TEST((wr::weak_ref<opaque>(a) == wr::weak_ref<opaque>(a)));
  BOOST_TEST((wr::weak_ref<opaque>(a) != wr::weak_ref<opaque>(b)));
}

// PY-REF-19: "once either referent is gone, two refs are equal only if they are handles to the
// same reference"
// Checks [weakref.ref.eq]/2.
BOOST_AUTO_TEST_CASE(PY_REF_19_dead_refs_compare_by_identity) {
  auto x = wr::make_shared<tracked>(1);
  auto y = wr::make_shared<tracked>(1);
  const wr::weak_ref<tracked> rx(x);
  const wr::weak_ref<tracked> rx_copy = rx;
  const wr::weak_ref<tracked> rx_other(x);
  const wr::weak_ref<tracked> ry(y);
  BOOST_TEST((rx == ry)); // alive: as the referents
  BOOST_TEST((rx == rx_other));
  x.reset();
  BOOST_TEST((rx != ry)); // one dead: not equal any more
  BOOST_TEST((ry != rx));
  BOOST_TEST((rx == rx_copy));  // the same reference
  BOOST_TEST((rx != rx_other)); // another reference to the same (dead) referent
  // The same holds when the referents' own == never holds (NaN): identity decides.
  auto nan = wr::make_shared<double>(std::numeric_limits<double>::quiet_NaN());
  const wr::weak_ref<double> rn(nan);
  const wr::weak_ref<double> rn_copy = rn;
  nan.reset();
  BOOST_TEST((rn == rn_copy));
}

// PY-REF-20: "weak_ref<T> is a class template, not a factory function, and may be used as a base
// class"
// Checks [weakref.ref.general]/6; [weakref.ref.types]/2.
BOOST_AUTO_TEST_CASE(PY_REF_20_weak_ref_is_a_derivable_class) {
  static_assert(std::is_class_v<wr::weak_ref<int>>);
  static_assert(!std::is_final_v<wr::weak_ref<int>>);
  static_assert(std::is_base_of_v<wr::weak_ref<int>, derived_ref<int>>);
  static_assert(std::is_constructible_v<wr::weak_ref<int>, const std::shared_ptr<int>&>);
  auto obj = wr::make_shared<int>(3);
  derived_ref<int> d(obj);
  wr::weak_ref<int>& as_base = d;
  BOOST_TEST(as_base().get() == obj.get());
  BOOST_TEST(wr::weak_ref_count(obj) == 1u);
  obj.reset();
  BOOST_TEST(d() == nullptr);
}

// PY-TYPES-1: "the concept weakref::ref_type is satisfied by weak_ref<T> and by classes derived
// from it"
// Checks [weakref.ref.types]/1.
BOOST_AUTO_TEST_CASE(PY_TYPES_1_ref_type_concept) {
  static_assert(wr::ref_type<wr::weak_ref<int>>);
  static_assert(wr::ref_type<wr::weak_ref<opaque>>);
  static_assert(wr::ref_type<const wr::weak_ref<int>>);
  static_assert(wr::ref_type<derived_ref<int>>);
  static_assert(wr::ref_type<derived_ref<std::string>>);
  static_assert(!wr::ref_type<wr::weak_proxy<int>>);
  static_assert(!wr::ref_type<std::weak_ptr<int>>);
  static_assert(!wr::ref_type<std::shared_ptr<int>>);
  static_assert(!wr::ref_type<int>);
  // A function that accepts any reference type, as isinstance(x, ReferenceType) would.
  auto referent_of = []<wr::ref_type R>(const R& r) { return r.lock(); };
  auto obj = wr::make_shared<int>(1);
  BOOST_TEST(referent_of(derived_ref<int>(obj)).get() == obj.get());
  BOOST_TEST(referent_of(wr::weak_ref<int>(obj)).get() == obj.get());
}

BOOST_AUTO_TEST_SUITE_END()
