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

#include "handoff.hpp"
#include "support.hpp"

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
// Checks [weakref.ref.obs]/1 and /3.
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
// Checks [weakref.ref.obs]/1.
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
// Checks [weakref.ref.obs]/1; [weakref.ref.death]/1.
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

// PY-EX-5: "liveness is tested on the result of r() (r() != nullptr)". In every state the test
// itself knows whether an owner exists; r() != nullptr must say the same: whatever the type of
// the owners (const, void, aliasing a member, obtained from r() or through std::weak_ptr), and
// no longer from the start of the death (in the callbacks and the destructor), nor after it
// while a std::weak_ptr still observes the object. The test leaves no owner behind.
// Checks [weakref.ref.obs]/1; [weakref.factory]/10; [weakref.ref.death]/1;
// [weakref.ref.cons]/1 and /8.
BOOST_AUTO_TEST_CASE(PY_EX_5_liveness_is_tested_on_the_call) {
  struct observed {
    int value = 1;
    std::function<void()> at_destruction;
    ~observed() {
      if (at_destruction) at_destruction();
    }
  };
  const auto live = [](const wr::weak_ref<observed>& ref) { return ref() != nullptr; };

  auto o = wr::make_shared<observed>();
  const wr::weak_ref<observed> r(o);
  BOOST_TEST(live(r), "owned by its first owner");
  BOOST_TEST(o.use_count() == 1); // the test's result owned it only while evaluated
  std::shared_ptr<const observed> as_const = o;
  std::shared_ptr<void> as_void = o;
  std::shared_ptr<int> member(o, &o->value); // aliasing: points into the object
  o.reset();
  BOOST_TEST(live(r), "owned through const, void and aliasing owners");
  as_const.reset();
  as_void.reset();
  BOOST_TEST(live(r), "owned by an aliasing owner only");
  std::shared_ptr<observed> from_call = r();
  member.reset();
  BOOST_TEST(live(r), "owned by the result of an earlier r() only");
  const std::weak_ptr<observed> observer = r;
  std::shared_ptr<observed> last = observer.lock();
  from_call.reset();
  BOOST_TEST(live(r), "owned through a std::weak_ptr made from the reference only");
  BOOST_TEST(last.use_count() == 1);

  // The death: live(r) is false in the callbacks and in the destructor, which run on this
  // thread after the last owner is released.
  std::optional<bool> live_in_callback, live_in_destructor;
  const wr::weak_ref<observed> with_callback(
      last, [&](wr::weak_ref<observed>) { live_in_callback = live(r); });
  last->at_destruction = [&] { live_in_destructor = live(r); };
  last.reset();
  BOOST_TEST((live_in_callback == false), "in a death callback");
  BOOST_TEST((live_in_destructor == false), "in the destructor");
  BOOST_TEST(!live(r), "after the death, observer still holding the control block");
  const wr::weak_ref<observed> copy = r;
  BOOST_TEST(!live(copy), "a copy, after the death");

  // An empty reference is never live.
  auto other = wr::make_shared<observed>();
  wr::weak_ref<observed> moved_from(other);
  const wr::weak_ref<observed> moved_to = std::move(moved_from);
  BOOST_TEST(live(moved_to));
  BOOST_TEST(!live(moved_from), "moved from"); // NOLINT(bugprone-use-after-move)
  BOOST_TEST(!live(wr::weak_ref<observed>()), "default-constructed");
}

// PY-EX-3: "o = r(); if (!o) ... else use o: promotion is atomic and o keeps the referent alive
// while used, whatever other threads release"
// Checks [weakref.ref.obs]/1-2.
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

  // Racing part: a killer thread keeps replacing (and so killing) the referent while this thread
  // uses the idiom on it; every promotion that succeeds must see an intact object, those that
  // overlapped a death on the killer's thread (conformance::death_watch) included. The loop is
  // bounded by a count of promotions; a time budget may end it earlier, but only once a floor of
  // promotions, and a floor of promotions that overlapped a death, are reached: too few overlaps
  // within the bound fail the test. Time is never asserted.
  const conformance::stress_budget budget(200'000, 300, std::chrono::milliseconds(500), 300);
  conformance::death_watch watch(budget.overlap_floor());
  std::mutex mutex;
  std::shared_ptr<tracked> current = wr::make_shared<tracked>(0);
  wr::weak_ref<tracked> current_ref(current);
  std::atomic<bool> stop{false};
  std::thread killer([&] {
    // Every 4th object's death waits, inside, for a promotion to overlap it
    // (death_watch::hold), through a callback the killer registers and keeps until the death.
    std::optional<wr::weak_ref<tracked>> holder;
    for (int i = 1; !stop.load(); ++i) {
      auto fresh = wr::make_shared<tracked>(i);
      std::optional<wr::weak_ref<tracked>> victim_holder = std::move(holder);
      holder.reset();
      if (i % 4 == 0) holder.emplace(fresh, [&watch](wr::weak_ref<tracked>) { watch.hold(); });
      std::shared_ptr<tracked> victim;
      {
        std::lock_guard guard(mutex);
        victim = std::exchange(current, fresh);
        current_ref = wr::weak_ref<tracked>(fresh);
      }
      watch.dying([&] { victim.reset(); }); // dies here, on this thread, unless the user pinned it
    }
  });
  long promotions = 0, successes = 0, overlaps = 0, pinned_through_a_death = 0, corrupt = 0;
  for (; budget.more(promotions, overlaps); ++promotions) {
    wr::weak_ref<tracked> r_copy;
    {
      std::lock_guard guard(mutex);
      r_copy = current_ref;
    }
    const auto window = watch.begin();
    bool promoted = false;
    if (std::shared_ptr<tracked> o = r_copy()) {
      promoted = true;
      std::this_thread::yield(); // give the killer time to drop its owner
      if (o->magic != intact) ++corrupt;
    }
    const bool overlapped = watch.overlapped(window);
    successes += promoted;
    overlaps += overlapped;
    pinned_through_a_death += promoted && overlapped;
  }
  watch.finish();
  stop = true;
  killer.join();
  {
    std::lock_guard guard(mutex);
    current.reset();
    current_ref = {};
  }
  BOOST_TEST_MESSAGE("PY-EX-3 idiom: " << promotions << " promotions, " << successes
                                       << " succeeded, " << overlaps << " overlapped a death ("
                                       << pinned_through_a_death << " of them succeeded), "
                                       << watch.count() << " killer releases");
  BOOST_TEST(promotions >= budget.floor());
  BOOST_TEST(overlaps >= budget.overlap_floor());
  BOOST_TEST(pinned_through_a_death > 0);
  BOOST_TEST(corrupt == 0);
  BOOST_TEST(tracked::alive == 0);
}

// PY-EX-6: "expired() or any separate liveness test is only a hint when other threads may
// release owners". Each round forces the race the rule warns of, with two threads taking turns:
// this thread tests liveness separately (!r.expired(), true: the only owner is alive on the
// other thread), the other thread releases that owner between the test and the use, and the use
// (r()) finds the referent gone: the hint was stale. The same interleaving with the idiom
// (o = r(), then use o) cannot go wrong: o is an owner, so the other thread's release is not the
// death; that happens here, when o goes.
// Checks [weakref.ref.obs]/2-3.
BOOST_AUTO_TEST_CASE(PY_EX_6_separate_liveness_test_is_only_a_hint) {
  constexpr int rounds = 100;
  conformance::turns turn; // steps 4i+1..4i+4 of round i
  std::shared_ptr<tracked> handed;
  std::atomic<int> deaths_there{0};
  const std::thread::id here = std::this_thread::get_id();
  std::thread other([&] {
    for (int i = 0; i < rounds; ++i)
      for (const int step : {4 * i + 1, 4 * i + 3}) {
        turn.wait_for(step); // this thread has tested liveness, or taken its owner
        std::shared_ptr<tracked> owner = std::move(handed);
        const long before = tracked::alive;
        owner.reset(); // between the test and the use
        if (tracked::alive < before) deaths_there.fetch_add(1);
        turn.reach(step + 1);
      }
  });
  int hints_live = 0, stale_hints = 0, idiom_failures = 0;
  std::atomic<int> deaths_here{0};
  for (int i = 0; i < rounds; ++i) {
    { // A separate liveness test, then the use.
      auto owner = wr::make_shared<tracked>(i);
      const wr::weak_ref<tracked> r(owner);
      handed = std::move(owner); // the only owner is now the other thread's
      const bool hint = !r.expired();
      turn.reach(4 * i + 1);
      turn.wait_for(4 * i + 2);
      const std::shared_ptr<tracked> used = r();
      hints_live += hint;
      stale_hints += hint && used == nullptr;
      BOOST_TEST(r.expired()); // a right answer again, once no thread releases
    }
    { // The idiom under the same interleaving.
      auto owner = wr::make_shared<tracked>(i);
      const wr::weak_ref<tracked> r(
          owner, [&](wr::weak_ref<tracked>) { deaths_here += std::this_thread::get_id() == here; });
      handed = std::move(owner);
      std::shared_ptr<tracked> o = r();
      turn.reach(4 * i + 3);
      turn.wait_for(4 * i + 4);
      if (!o || o->value != i || o->magic != intact || r() != o) ++idiom_failures;
      o.reset(); // the last owner: the death, here
    }
  }
  other.join();
  BOOST_TEST_MESSAGE("PY-EX-6: " << stale_hints << " of " << rounds
                                 << " separate liveness tests were stale when used");
  BOOST_TEST(hints_live == rounds);  // the hint was right when it was taken
  BOOST_TEST(stale_hints == rounds); // and wrong when it was used: a death in between
  BOOST_TEST(deaths_there.load() == rounds);
  BOOST_TEST(idiom_failures == 0); // the idiom's owner was alive and intact throughout
  // and its release, not the other thread's, was the death
  BOOST_TEST(deaths_here.load() == rounds);
  BOOST_TEST(tracked::alive == 0);
}

// PY-SUB-1: "classes derived from weak_ref<T> are refs: they satisfy ref_type and keep its
// callbacks, hash and equality"
// Checks [weakref.ref.types]/1-3; [weakref.ref.hash]/1.
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
// Checks [weakref.ref.self]/1 and /6.
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
// Checks [weakref.ref.types]/1-2.
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
// Checks [weakref.ref.types]/2-3.
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
