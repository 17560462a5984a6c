// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: the examples of the Python weakref documentation (calling a reference, the
// liveness idiom, subclassing ref and the ExtendedRef example). The id2obj example is in another
// file.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

namespace {

constexpr std::uint32_t intact = 0xC0FFEEu;

struct tracked {
  static inline std::atomic<int> alive{0};
  int value;
  std::uint32_t magic = intact;
  explicit tracked(int v = 0) : value(v) { ++alive; }
  tracked(const tracked& other) : value(other.value) { ++alive; }
  ~tracked() {
    magic = 0;
    --alive;
  }
};

// The documentation's ExtendedRef: a ref storing annotations and returning (referent, number of
// successful calls) while alive, nothing after death. Python's **annotations become a struct.
template <class T>
class extended_ref : public wr::weak_ref<T> {
public:
  struct annotations {
    std::string label;
    int priority = 0;
  };

  explicit extended_ref(const std::shared_ptr<T>& ob, annotations a = {})
      : wr::weak_ref<T>(ob), annotations_(std::move(a)) {}
  template <class F>
  extended_ref(const std::shared_ptr<T>& ob, F&& callback, annotations a = {})
      : wr::weak_ref<T>(ob, std::forward<F>(callback)), annotations_(std::move(a)) {}

  // "Return a pair containing the referent and the number of times the reference has been
  // called."
  std::optional<std::pair<std::shared_ptr<T>, std::size_t>> operator()() {
    std::shared_ptr<T> ob = wr::weak_ref<T>::operator()();
    if (!ob) return std::nullopt;
    return std::pair{std::move(ob), ++counter_};
  }

  const annotations& info() const noexcept { return annotations_; }

private:
  annotations annotations_;
  std::size_t counter_ = 0;
};

// A class derived from weak_ref<T> that adds data only.
template <class T>
struct labelled_ref : wr::weak_ref<T> {
  std::string label;
  labelled_ref(const std::shared_ptr<T>& ob, std::string l)
      : wr::weak_ref<T>(ob), label(std::move(l)) {}
  template <class F>
  labelled_ref(const std::shared_ptr<T>& ob, F&& callback, std::string l)
      : wr::weak_ref<T>(ob, std::forward<F>(callback)), label(std::move(l)) {}
};

// A class derived from weak_ref<T> that redefines operator(): the value, not an owner.
template <class T>
struct value_ref : wr::weak_ref<T> {
  using wr::weak_ref<T>::weak_ref;
  std::optional<T> operator()() const {
    if (auto ob = wr::weak_ref<T>::operator()()) return *ob;
    return std::nullopt;
  }
};

template <class T>
concept std_hashable = std::is_default_constructible_v<std::hash<T>> &&
                       std::is_invocable_r_v<std::size_t, std::hash<T>, const T&>;

} // namespace

BOOST_AUTO_TEST_SUITE(examples)

// PY-EX-4: "the referent is obtained, while it exists, by calling the reference: r()" (adapted:
// lock() is equivalent to calling it)
BOOST_AUTO_TEST_CASE(PY_EX_4_referent_obtained_by_calling_the_reference) {
  auto obj = wr::make_shared<tracked>(7);
  const wr::weak_ref<tracked> r(obj);
  BOOST_TEST(r()->value == 7);
  BOOST_TEST(r().get() == obj.get());
  BOOST_TEST(r.lock().get() == r().get()); // equivalent
  BOOST_TEST(!r.expired());
  obj.reset();
  BOOST_TEST(r() == nullptr);
  BOOST_TEST(r.lock() == nullptr);
  BOOST_TEST(r.expired());
}

// PY-EX-1: "while the referent lives, r() yields the very object (r().get() == o.get())"
BOOST_AUTO_TEST_CASE(PY_EX_1_o_is_o2) {
  // >>> o = Object()
  auto o = wr::make_shared<tracked>(1);
  // >>> r = weakref.ref(o)
  wr::weak_ref<tracked> r(o);
  // >>> o2 = r()
  std::shared_ptr<tracked> o2 = r();
  // >>> o is o2
  BOOST_TEST(o2.get() == o.get());
  BOOST_TEST(std::addressof(*o2) == std::addressof(*o));
}

// PY-EX-2: "after the last owner is released, r() returns an empty shared_ptr"
BOOST_AUTO_TEST_CASE(PY_EX_2_none_after_the_last_owner_goes) {
  auto o = wr::make_shared<tracked>(1);
  wr::weak_ref<tracked> r(o);
  std::shared_ptr<tracked> o2 = r();
  // >>> del o, o2
  o.reset();
  BOOST_TEST(r() != nullptr); // o2 still owns it
  o2.reset();
  // >>> print r()
  // None
  BOOST_TEST(r() == nullptr);
  BOOST_TEST(tracked::alive == 0);
}

// PY-EX-5: "liveness is tested on the result of r() (r() != nullptr)"
BOOST_AUTO_TEST_CASE(PY_EX_5_liveness_is_tested_on_the_call) {
  auto o = wr::make_shared<tracked>(1);
  wr::weak_ref<tracked> r(o);
  BOOST_TEST((r() != nullptr));
  bool live = false;
  if (r() != nullptr) live = true;
  BOOST_TEST(live);
  o.reset();
  BOOST_TEST(!(r() != nullptr));
  live = false;
  if (r() != nullptr) live = true;
  BOOST_TEST(!live);
}

// PY-EX-3: "o = r(); if (!o) ... else use o: promotion is atomic and o keeps the referent alive
// while used, whatever other threads release"
BOOST_AUTO_TEST_CASE(PY_EX_3_the_idiom_pins_the_referent) {
  // Deterministic part: another thread releases the last other owner while o is in use.
  auto owner = wr::make_shared<tracked>(11);
  wr::weak_ref<tracked> r(owner);
  int seen = 0;
  if (std::shared_ptr<tracked> o = r(); !o) {
    BOOST_FAIL("the referent is alive: r() must not be empty");
  } else {
    std::thread other([owner = std::move(owner)]() mutable { owner.reset(); });
    other.join();
    BOOST_TEST(tracked::alive == 1); // o keeps it alive
    seen = o->value;
    BOOST_TEST(o->magic == intact);
  }
  BOOST_TEST(seen == 11);
  BOOST_TEST(tracked::alive == 0); // gone with o
  BOOST_TEST(r() == nullptr);

  // Racing part: one thread keeps replacing (and so killing) the referent while another uses
  // the idiom; every promotion that succeeds sees an intact object. Bounded in time.
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::milliseconds(500);
  std::mutex mutex;
  std::shared_ptr<tracked> current = wr::make_shared<tracked>(0);
  wr::weak_ref<tracked> current_ref(current);
  std::atomic<bool> stop{false};
  std::thread killer([&] {
    for (int i = 1; !stop.load(); ++i) {
      auto fresh = wr::make_shared<tracked>(i);
      std::shared_ptr<tracked> victim;
      {
        std::lock_guard guard(mutex);
        victim = std::exchange(current, fresh);
        current_ref = wr::weak_ref<tracked>(fresh);
      }
      victim.reset(); // dies here, on this thread, unless the user pinned it
    }
  });
  long promotions = 0, successes = 0, corrupt = 0;
  while (clock::now() < deadline && promotions < 200'000) {
    wr::weak_ref<tracked> r_copy;
    {
      std::lock_guard guard(mutex);
      r_copy = current_ref;
    }
    ++promotions;
    if (std::shared_ptr<tracked> o = r_copy()) {
      ++successes;
      std::this_thread::yield(); // give the killer time to drop its owner
      if (o->magic != intact) ++corrupt;
    }
  }
  stop = true;
  killer.join();
  {
    std::lock_guard guard(mutex);
    current.reset();
    current_ref = {};
  }
  BOOST_TEST_MESSAGE("idiom: " << promotions << " promotions, " << successes << " succeeded");
  BOOST_TEST(promotions > 0);
  BOOST_TEST(corrupt == 0);
  BOOST_TEST(tracked::alive == 0);
}

// PY-EX-6: "expired() or any separate liveness test is only a hint when other threads may
// release owners"
BOOST_AUTO_TEST_CASE(PY_EX_6_separate_liveness_test_is_only_a_hint) {
  auto owner = wr::make_shared<tracked>(3);
  const wr::weak_ref<tracked> r(owner);
  // The separate test gives no owner: it cannot keep the referent alive for what follows.
  const bool live = !r.expired();
  BOOST_TEST(live);
  BOOST_TEST(owner.use_count() == 1);
  static_assert(std::is_same_v<decltype(r.expired()), bool>);
  // Between the test and the use, another thread releases the last owner ...
  std::thread other([owner = std::move(owner)]() mutable { owner.reset(); });
  other.join();
  // ... so the earlier answer (live == true) is stale: the referent is gone.
  BOOST_TEST(r() == nullptr);
  BOOST_TEST(r.expired());
  // The idiom's answer, in contrast, comes with an owner that keeps it true while used.
  auto owner2 = wr::make_shared<tracked>(4);
  const wr::weak_ref<tracked> r2(owner2);
  std::shared_ptr<tracked> o = r2();
  std::thread other2([owner2 = std::move(owner2)]() mutable { owner2.reset(); });
  other2.join();
  BOOST_TEST(o != nullptr);
  BOOST_TEST(o->value == 4);
  BOOST_TEST(!r2.expired());
}

// PY-SUB-1: "classes derived from weak_ref<T> are refs: they satisfy ref_type and keep its
// callbacks, hash and equality"
BOOST_AUTO_TEST_CASE(PY_SUB_1_derived_classes_are_refs) {
  static_assert(wr::ref_type<labelled_ref<std::string>>);
  static_assert(wr::ref_type<extended_ref<std::string>>);
  static_assert(std_hashable<labelled_ref<std::string>>);
  static_assert(!std_hashable<labelled_ref<tracked>>); // as weak_ref<tracked>: tracked has none

  auto ob = wr::make_shared<std::string>("k");
  std::optional<labelled_ref<std::string>> r;
  bool identical = false;
  int calls = 0;
  r.emplace(
      ob,
      [&](wr::weak_ref<std::string> self) {
        ++calls;
        identical = self.identical(*r); // the callback receives this very reference
      },
      "label");
  // hash: the referent's, and kept after death
  const std::size_t h = std::hash<labelled_ref<std::string>>{}(*r);
  BOOST_TEST(h == std::hash<std::string>{}("k"));
  // equality: as the referents while alive
  auto equal_string = wr::make_shared<std::string>("k");
  const wr::weak_ref<std::string> other(equal_string);
  BOOST_TEST((*r == other));
  BOOST_TEST(wr::weak_ref_count(ob) == 1u); // a weak reference like any other
  ob.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(identical);
  BOOST_TEST(std::hash<labelled_ref<std::string>>{}(*r) == h);
  BOOST_TEST((*r != other)); // equality by identity after death
  BOOST_TEST(r->label == "label");
}

// A derived reference whose callback receives the derived object ([weakref.ref.self]).
class noted_ref : public wr::weak_ref<tracked> {
public:
  template <class F>
  noted_ref(const std::shared_ptr<tracked>& ob, std::string note, F&& callback)
      : note(std::move(note)), on_death_(*this, ob, std::forward<F>(callback)) {}
  std::string note;

private:
  wr::self_callback<noted_ref> on_death_; // the last member
};

// PY-SUB-1: "... keep its callbacks ...; a callback registered through self_callback receives
// the derived object itself" (Python passes the subclass instance, PY-REF-13)
BOOST_AUTO_TEST_CASE(PY_SUB_1_self_callback_receives_the_derived_object) {
  auto ob = wr::make_shared<tracked>(1);
  const noted_ref* received = nullptr;
  std::string note;
  noted_ref r(ob, "annotation", [&](noted_ref& self) {
    received = &self;
    note = self.note;
    BOOST_TEST(!self.lock()); // the referent is no longer available
  });
  static_assert(wr::ref_type<noted_ref>);
  BOOST_TEST(wr::weak_ref_count(ob) == 1u);
  ob.reset();
  BOOST_TEST(received == &r);
  BOOST_TEST(note == "annotation");
}

// PY-SUB-3: "a class derived from weak_ref<T> may add data and redefine operator() while
// remaining a ref"
BOOST_AUTO_TEST_CASE(PY_SUB_3_derived_class_adds_data_and_redefines_call) {
  static_assert(wr::ref_type<value_ref<int>>);
  static_assert(
      std::is_same_v<decltype(std::declval<const value_ref<int>&>()()), std::optional<int>>);
  auto ob = wr::make_shared<int>(42);
  const value_ref<int> r(ob);
  const std::optional<int> got = r(); // the redefined call: a value, not an owner
  BOOST_TEST(got.has_value());
  BOOST_TEST(*got == 42);
  BOOST_TEST(ob.use_count() == 1);
  const wr::weak_ref<int>& as_ref = r; // still a ref: the base call is there
  BOOST_TEST(as_ref().get() == ob.get());
  const labelled_ref<int> labelled(ob, "data");
  BOOST_TEST(labelled.label == "data");
  BOOST_TEST(labelled().get() == ob.get());
  BOOST_TEST(wr::weak_ref_count(ob) == 2u);
  ob.reset();
  BOOST_TEST(!r().has_value());
  BOOST_TEST(labelled() == nullptr);
}

// PY-EX-7: "the ExtendedRef example: a derived ref storing annotations and returning (referent,
// number of successful calls) while alive, nothing after death" (adapted: the counter belongs to
// the handle object, so copies count separately)
BOOST_AUTO_TEST_CASE(PY_EX_7_extended_ref) {
  auto ob = wr::make_shared<tracked>(5);
  extended_ref<tracked> r(ob, {"thumbnail", 3});
  BOOST_TEST(r.info().label == "thumbnail");
  BOOST_TEST(r.info().priority == 3);
  auto first = r();
  auto second = r();
  BOOST_REQUIRE(first.has_value());
  BOOST_REQUIRE(second.has_value());
  BOOST_TEST(first->first.get() == ob.get());
  BOOST_TEST(first->second == 1u);
  BOOST_TEST(second->second == 2u);
  // A copy is the same reference but its own counter (a data member of the handle object).
  extended_ref<tracked> copy = r;
  BOOST_TEST(copy.identical(r));
  auto from_copy = copy();
  BOOST_REQUIRE(from_copy.has_value());
  BOOST_TEST(from_copy->second == 3u); // copied counter, counting on separately
  BOOST_TEST(r()->second == 3u);
  BOOST_TEST(wr::weak_ref_count(ob) == 1u);
  // With a callback, as in the example's constructor signature.
  int calls = 0;
  extended_ref<tracked> with_callback(ob, [&](wr::weak_ref<tracked>) { ++calls; }, {"cb", 1});
  first.reset();
  second.reset();
  from_copy.reset();
  ob.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!r().has_value()); // nothing after death
  BOOST_TEST(!copy().has_value());
  BOOST_TEST(r.info().label == "thumbnail"); // the annotations outlive the referent
}

BOOST_AUTO_TEST_SUITE_END()
