// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <unordered_set>
#include <utility>
#include <vector>

#include "support.hpp"
import weakref;

using weakref::weak_ref;
using weakref_test::opaque;
using weakref_test::tracked;

namespace {

// The paper's ExtendedRef (Python doc, "Weak Reference Objects"): a ref that stores extra
// information and returns (referent, number of successful calls). Python's **annotations become
// a plain struct. Deviation from Python: the counter belongs to this handle object, as any data
// member of a derived class does; copies count separately.
template <class T>
class extended_ref : public weak_ref<T> {
public:
  struct annotations {
    std::string label;
  };

  explicit extended_ref(const std::shared_ptr<T>& ob, annotations a = {})
      : weak_ref<T>(ob), annotations_(std::move(a)) {}
  template <class F>
  extended_ref(const std::shared_ptr<T>& ob, F&& callback, annotations a = {})
      : weak_ref<T>(ob, std::forward<F>(callback)), annotations_(std::move(a)) {}

  // Return a pair containing the referent and the number of times the reference has been
  // called (successfully).
  std::optional<std::pair<std::shared_ptr<T>, std::size_t>> operator()() {
    std::shared_ptr<T> ob = weak_ref<T>::operator()();
    if (!ob) return std::nullopt;
    return std::pair{std::move(ob), ++counter_};
  }

  const annotations& info() const noexcept { return annotations_; }

private:
  annotations annotations_;
  std::size_t counter_ = 0;
};

// A referent that, while it is being destroyed, looks at a weak ref to itself.
struct inspects_itself_in_destructor {
  weak_ref<inspects_itself_in_destructor>* self = nullptr;
  bool* saw_live_ref = nullptr;
  ~inspects_itself_in_destructor() {
    if (self && saw_live_ref) *saw_live_ref = static_cast<bool>(self->lock());
  }
};

struct shape {
  virtual ~shape() = default;
  int sides = 0;
};
struct square : shape {
  square() { sides = 4; }
};
struct unrelated {};

// A base reached through a virtual base class: the pointer conversion needs the live object.
struct vshape {
  virtual ~vshape() = default;
  int id = 7;
};
struct vsquare : virtual vshape {};

// A hashable base whose derived class has no std::hash of its own.
struct key {
  int v = 0;
};
struct keyed : key {};

// A reference type whose callback receives the reference object itself (Python: a ref
// subclass's callback gets the subclass instance), through a self_callback member.
class labelled_ref : public weak_ref<tracked> {
public:
  template <class F>
  labelled_ref(const std::shared_ptr<tracked>& ob, std::string label, F&& callback)
      : label_(std::move(label)), on_death_(*this, ob, std::forward<F>(callback)) {}

  const std::string& label() const noexcept { return label_; }

private:
  std::string label_;
  weakref::self_callback<labelled_ref> on_death_; // last: [weakref.ref.self]/8
};

// A referent whose == releases the only owners of both operands (or throws, when told to), and
// which counts its destructions: [weakref.ref.eq]/1 says the comparison keeps both alive.
struct releasing {
  static inline std::shared_ptr<releasing> first, second;
  static inline int destroyed = 0;
  static inline bool both_alive_during_comparison = false;
  static inline bool throw_now = false;
  releasing() = default;
  releasing(const releasing&) = delete;
  releasing& operator=(const releasing&) = delete;
  ~releasing() { ++destroyed; }
  friend bool operator==(const releasing&, const releasing&) {
    if (throw_now) throw std::runtime_error("== refused");
    first.reset();
    second.reset();
    both_alive_during_comparison = destroyed == 0;
    return true;
  }
};

} // namespace

template <>
struct std::hash<key> {
  std::size_t operator()(const key& k) const noexcept { return static_cast<std::size_t>(k.v); }
};

BOOST_AUTO_TEST_SUITE(ref)

BOOST_AUTO_TEST_SUITE(lifetime)

// PY-INTRO-1 "A weak reference to an object is not enough to keep the object alive".
// Checks [weakref.ref.cons]/2; [weakref.ref.obs]/3.
BOOST_AUTO_TEST_CASE(does_not_keep_referent_alive) {
  auto p = weakref::make_shared<tracked>(1);
  weak_ref<tracked> r(p);
  BOOST_TEST(p.use_count() == 1);
  p.reset();
  BOOST_TEST(tracked::alive == 0);
  BOOST_TEST(r.expired());
}

// PY-REF-1 / PY-EX-1: calling the ref returns the object while it is alive (`o is o2`).
// Checks [weakref.ref.obs]/1 and /3.
BOOST_AUTO_TEST_CASE(call_returns_the_referent_while_alive) {
  auto o = weakref::make_shared<tracked>(3);
  weak_ref<tracked> r(o);
  std::shared_ptr<tracked> o2 = r();
  BOOST_TEST(o2.get() == o.get());
  BOOST_TEST(r.lock().get() == o.get());
  BOOST_TEST(!r.expired());
}

// PY-EX-2 "If the referent no longer exists, calling the reference object returns None".
// Checks [weakref.ref.obs]/1 and /3.
BOOST_AUTO_TEST_CASE(call_returns_empty_after_death) {
  auto o = weakref::make_shared<tracked>(3);
  weak_ref<tracked> r(o);
  auto o2 = r();
  o.reset();
  BOOST_TEST(!r.expired()); // o2 still owns it
  o2.reset();
  BOOST_TEST(r() == nullptr);
  BOOST_TEST(r.lock() == nullptr);
}

// PY-EX-3: the liveness idiom; the result of r() keeps the referent alive while it is used.
// Checks [weakref.ref.obs]/1-2.
BOOST_AUTO_TEST_CASE(liveness_idiom_pins_the_referent) {
  auto owner = weakref::make_shared<tracked>(11);
  weak_ref<tracked> r(owner);
  int seen = 0;
  if (std::shared_ptr<tracked> o = r()) {
    owner.reset(); // another party drops its owner while we use the object
    seen = o->value;
    BOOST_TEST(tracked::alive == 1);
  }
  BOOST_TEST(seen == 11);
  BOOST_TEST(tracked::alive == 0);
}

// PY-NOTE-1 "Weak references to an object are cleared before the object's __del__() is called".
// Checks [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(cleared_before_the_destructor_runs) {
  bool saw_live_ref = true;
  auto p = weakref::make_shared<inspects_itself_in_destructor>();
  weak_ref<inspects_itself_in_destructor> r(p);
  p->self = &r;
  p->saw_live_ref = &saw_live_ref;
  p.reset();
  BOOST_TEST(!saw_live_ref);
}

// [weakref.ref.cons]/1: the default and moved-from state.
BOOST_AUTO_TEST_CASE(default_constructed_is_expired) {
  weak_ref<tracked> r;
  BOOST_TEST(r.expired());
  BOOST_TEST(r() == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(identity)

// [weakref.ref.general]/3: copies are the same reference: one registration, counted once.
// Checks [weakref.ref.obs]/4; [weakref.ref.cons]/7 and /9.
BOOST_AUTO_TEST_CASE(copies_share_one_identity) {
  auto p = weakref::make_shared<tracked>(1);
  weak_ref<tracked> a(p);
  weak_ref<tracked> b = a;
  weak_ref<tracked> c;
  c = b;
  BOOST_TEST(a.identical(b));
  BOOST_TEST(b.identical(c));
  BOOST_TEST(weakref::weak_ref_count(p) == 1u);
  weak_ref<tracked> d(p);
  BOOST_TEST(!d.identical(a));
  BOOST_TEST(weakref::weak_ref_count(p) == 2u);
}

// [weakref.ref.general]/3: move leaves the source empty and transfers the identity.
// Checks [weakref.ref.obs]/4; [weakref.ref.cons]/8.
BOOST_AUTO_TEST_CASE(move_leaves_source_empty) {
  auto p = weakref::make_shared<tracked>(1);
  weak_ref<tracked> a(p);
  weak_ref<tracked> witness = a;
  weak_ref<tracked> b = std::move(a);
  BOOST_TEST(a.expired());                      // NOLINT(bugprone-use-after-move): specified state
  BOOST_TEST(a.identical(weak_ref<tracked>())); // NOLINT
  BOOST_TEST(b.identical(witness));
  BOOST_TEST(b().get() == p.get());
  BOOST_TEST(weakref::weak_ref_count(p) == 1u);
}

// [weakref.ref.cons]/14: the reference is unregistered when its last handle goes.
BOOST_AUTO_TEST_CASE(last_handle_unregisters) {
  auto p = weakref::make_shared<tracked>(1);
  {
    weak_ref<tracked> a(p);
    weak_ref<tracked> b = a;
    BOOST_TEST(weakref::weak_ref_count(p) == 1u);
  }
  BOOST_TEST(weakref::weak_ref_count(p) == 0u);
}

// Copy and move assignment return the assigned handle itself, which then refers to the source's
// reference; swap (member and friend) exchanges the references, an empty handle included, and
// creates none.
// Checks [weakref.ref.cons]/10 and /12-13.
BOOST_AUTO_TEST_CASE(assignment_returns_the_target_and_swap_exchanges_references) {
  auto a = weakref::make_shared<tracked>(1);
  auto b = weakref::make_shared<tracked>(2);
  const weak_ref<tracked> ra(a), rb(b);
  weak_ref<tracked> target;
  weak_ref<tracked>& copied = (target = ra);
  BOOST_TEST(&copied == &target);
  BOOST_TEST(copied.identical(ra));
  weak_ref<tracked> source = rb;
  weak_ref<tracked>& moved = (target = std::move(source));
  BOOST_TEST(&moved == &target);
  BOOST_TEST(moved.identical(rb));

  weak_ref<tracked> x = ra, y = rb, empty;
  x.swap(y);
  BOOST_TEST(x.identical(rb));
  BOOST_TEST(y.identical(ra));
  swap(x, y);
  BOOST_TEST(x.identical(ra));
  BOOST_TEST(y.identical(rb));
  swap(x, empty);
  BOOST_TEST(x.identical(weak_ref<tracked>()));
  BOOST_TEST(x.expired());
  BOOST_TEST(empty.identical(ra));
  BOOST_TEST(empty.lock() == a);
  BOOST_TEST(weakref::weak_ref_count(a) == 1u);
  BOOST_TEST(weakref::weak_ref_count(b) == 1u);
  static_assert(noexcept(x.swap(y)) && noexcept(swap(x, y)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(callback)

// PY-REF-12, -13, -14: "the callback will be called when the object is about to be finalized; the weak
// reference object will be passed as the only parameter to the callback; the referent will no
// longer be available".
// Checks [weakref.ref.cons]/5; [weakref.ref.callback]/2; [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(receives_its_ref_with_the_referent_gone) {
  auto p = weakref::make_shared<tracked>(1);
  int calls = 0;
  bool referent_available = true;
  bool same_ref = false;
  int alive_during_callback = -1;
  std::optional<weak_ref<tracked>> r;
  r.emplace(p, [&](weak_ref<tracked> self) {
    ++calls;
    referent_available = static_cast<bool>(self());
    same_ref = self.identical(*r);
    alive_during_callback = tracked::alive;
  });
  BOOST_TEST(calls == 0);
  p.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!referent_available);
  BOOST_TEST(same_ref);
  // [weakref.ref.death]: "about to be finalized": the callbacks run before ~T.
  BOOST_TEST(alive_during_callback == 1);
  BOOST_TEST(tracked::alive == 0);
}

// [weakref.ref.callback]/4-6 Python 3.4: __callback__ is the callback while the referent lives,
// None when there is none or once it is dead (PY3-CB-1, PY3-CB-2).
BOOST_AUTO_TEST_CASE(callback_accessor_sees_the_callback_while_the_referent_lives) {
  auto p = weakref::make_shared<tracked>(1);
  int calls = 0;
  auto cb = [&calls](weak_ref<tracked>) { ++calls; };
  weak_ref<tracked> r(p, cb);
  weak_ref<tracked> plain(p);
  weak_ref<tracked> null_fn(p, static_cast<void (*)(weak_ref<tracked>)>(nullptr));
  BOOST_TEST(r.has_callback());
  BOOST_TEST((r.callback_type() == typeid(cb)));
  const auto* target = r.callback<decltype(cb)>();
  BOOST_REQUIRE(target != nullptr);
  (*target)(r); // the stored callback itself: it counts into `calls`
  BOOST_TEST(calls == 1);
  BOOST_TEST(r.callback<int>() == nullptr); // another type: none, as std::function::target
  const weak_ref<tracked> copy = r;
  BOOST_TEST(copy.callback<decltype(cb)>() == target); // one reference, one callback
  BOOST_TEST(!plain.has_callback());
  BOOST_TEST((plain.callback_type() == typeid(void)));
  BOOST_TEST(!null_fn.has_callback());
  BOOST_TEST(!weak_ref<tracked>().has_callback());
  std::optional<bool> during;
  weak_ref<tracked> observer(p, [&during, &r](weak_ref<tracked>) { during = r.has_callback(); });
  p.reset();
  BOOST_TEST(calls == 2);
  BOOST_REQUIRE(during.has_value());
  BOOST_TEST(!*during); // already none inside the death
  BOOST_TEST(!r.has_callback());
  BOOST_TEST(r.callback<decltype(cb)>() == nullptr);
  BOOST_TEST((r.callback_type() == typeid(void)));
}

// A view of another element type and a self_callback show the callback the user gave.
// Checks [weakref.ref.callback]/3 and /6.
BOOST_AUTO_TEST_CASE(callback_accessor_through_a_view_and_a_self_callback) {
  struct animal {
    virtual ~animal() = default;
  };
  struct dog : animal {};
  auto d = weakref::make_shared<dog>();
  auto cb = [](weak_ref<dog>) {};
  weak_ref<dog> r(d, cb);
  const weak_ref<animal> view = r;
  BOOST_TEST(view.callback<decltype(cb)>() == r.callback<decltype(cb)>());
  BOOST_TEST(view.callback<decltype(cb)>() != nullptr);
}

// PY-REF-2: "Callbacks registered for each weak reference will be called from the most recently
// registered callback to the oldest registered callback."
// Checks [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(most_recently_registered_runs_first) {
  auto p = weakref::make_shared<tracked>(1);
  std::vector<int> order;
  weak_ref<tracked> r1(p, [&](weak_ref<tracked>) { order.push_back(1); });
  weak_ref<tracked> plain(p);
  weak_ref<tracked> r2(p, [&](weak_ref<tracked>) { order.push_back(2); });
  weak_ref<tracked> r3(p, [&](weak_ref<tracked>) { order.push_back(3); });
  p.reset();
  BOOST_TEST(order == (std::vector<int>{3, 2, 1}), boost::test_tools::per_element());
}

// PY-REF-11: "and the returned weakref object is still alive": a ref destroyed first never calls.
// Checks [weakref.ref.cons]/14.
BOOST_AUTO_TEST_CASE(destroyed_ref_never_calls_back) {
  auto p = weakref::make_shared<tracked>(1);
  int calls = 0;
  {
    weak_ref<tracked> r(p, [&](weak_ref<tracked>) { ++calls; });
  }
  p.reset();
  BOOST_TEST(calls == 0);
}

// [weakref.ref.general]/3: one callback per reference, however many handles.
BOOST_AUTO_TEST_CASE(copies_call_back_once) {
  auto p = weakref::make_shared<tracked>(1);
  int calls = 0;
  weak_ref<tracked> r(p, [&](weak_ref<tracked>) { ++calls; });
  std::vector<weak_ref<tracked>> copies(5, r);
  p.reset();
  BOOST_TEST(calls == 1);
}

// [weakref.ref.death]/2: a callback destroying another ref whose callback is pending does not
// cancel it (CPython clears every ref before the first callback).
BOOST_AUTO_TEST_CASE(destroying_a_pending_ref_in_a_callback_does_not_cancel_it) {
  auto p = weakref::make_shared<tracked>(1);
  std::vector<int> order;
  std::optional<weak_ref<tracked>> older;
  older.emplace(p, [&](weak_ref<tracked>) { order.push_back(1); });
  weak_ref<tracked> newer(p, [&](weak_ref<tracked>) {
    order.push_back(2);
    older.reset(); // the last handle of the older ref
  });
  p.reset();
  BOOST_TEST(order == (std::vector<int>{2, 1}), boost::test_tools::per_element());
}

// [weakref.ref.death]/2: a callback may destroy the last handle of its own ref.
BOOST_AUTO_TEST_CASE(callback_may_destroy_its_own_ref) {
  auto p = weakref::make_shared<tracked>(1);
  int calls = 0;
  std::optional<weak_ref<tracked>> r;
  r.emplace(p, [&](weak_ref<tracked>) {
    ++calls;
    r.reset();
  });
  p.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!r.has_value());
}

namespace {
// A callback that is not trivially copyable (the library calls the stored object, not a copy)
// and happens to declare members named like the library's internal ones: a mark that lets a
// callback run without the library holding its reference, and the accessor a library wrapper
// shows its user's callback through. It drops every handle of its own reference, then reads its
// own state, which must still exist.
struct declares_library_names {
  static constexpr bool argument_outlives_call = true;
  static constexpr bool call_on_copy = true;
  std::optional<weak_ref<tracked>>* program_handle;
  bool* destroyed;
  std::string label = "own state";
  int other = 0;
  static inline bool destroyed_early = false;
  static inline std::string seen;

  declares_library_names(std::optional<weak_ref<tracked>>* h, bool* d)
      : program_handle(h), destroyed(d) {}
  declares_library_names(const declares_library_names&) = default;
  ~declares_library_names() { *destroyed = true; }
  const int& user_callback() const noexcept { return other; }

  void operator()(weak_ref<tracked> self) {
    bool* const flag = destroyed;
    const std::string* const own = &label;
    program_handle->reset();    // the program's handle goes ...
    self = weak_ref<tracked>(); // ... then the one received: the last one
    destroyed_early = *flag;    // read through a copy: the object may be gone
    if (!destroyed_early) seen = *own;
  }
};
static_assert(declares_library_names::argument_outlives_call &&
              declares_library_names::call_on_copy &&                 // the names are there ...
              !std::is_trivially_copyable_v<declares_library_names>); // ... and mean nothing
} // namespace

// [weakref.ref.callback]/4-6, [weakref.ref.death]/2: whatever members a callback's type
// declares, the accessor shows that callback, and the callback may destroy the last handle of
// its own ref (a user type cannot opt out of the library holding the reference across the call
// by declaring a member named like an internal mark).
BOOST_AUTO_TEST_CASE(callback_declaring_library_names_is_shown_and_may_destroy_its_own_ref) {
  declares_library_names::destroyed_early = false;
  declares_library_names::seen.clear();
  bool destroyed = false;
  auto p = weakref::make_shared<tracked>(1);
  {
    std::optional<weak_ref<tracked>> r;
    r.emplace(p, declares_library_names(&r, &destroyed));
    BOOST_TEST((r->callback_type() == typeid(declares_library_names)));
    const declares_library_names* const shown = r->callback<declares_library_names>();
    BOOST_TEST_REQUIRE(shown != nullptr);
    BOOST_TEST(shown->label == "own state");
    BOOST_TEST(r->callback<int>() == nullptr);
    destroyed = false; // the temporary the callback was moved from is gone
    p.reset();
  }
  BOOST_TEST(!declares_library_names::destroyed_early);
  BOOST_TEST(declares_library_names::seen == "own state");
  BOOST_TEST(destroyed); // released once the callback has returned
}

// PY-REF-10 "If callback is provided and not None": a null callback registers a ref without one.
// Checks [weakref.ref.cons]/2 and /5.
BOOST_AUTO_TEST_CASE(null_callback_means_none) {
  auto p = weakref::make_shared<tracked>(1);
  void (*none)(weak_ref<tracked>) = nullptr;
  std::function<void(weak_ref<tracked>)> empty;
  weak_ref<tracked> a(p, none);
  weak_ref<tracked> b(p, empty);
  weak_ref<tracked> c(p, nullptr);
  BOOST_TEST(weakref::weak_ref_count(p) == 3u);
  p.reset(); // would crash calling a null callback
  BOOST_TEST(a.expired());
}

// [weakref.ref.general]/5 No user code runs while a library lock is held: a callback and the
// referent's destructor both drop refs to the same referent (which takes its lock); holding
// the lock around them would deadlock here.
BOOST_AUTO_TEST_CASE(no_library_lock_held_during_callbacks_or_destructor) {
  struct drops_ref_in_destructor {
    std::optional<weak_ref<drops_ref_in_destructor>> self;
    ~drops_ref_in_destructor() { self.reset(); }
  };
  auto p = weakref::make_shared<drops_ref_in_destructor>();
  p->self.emplace(p);
  std::optional<weak_ref<drops_ref_in_destructor>> plain;
  plain.emplace(p);
  int calls = 0;
  weak_ref<drops_ref_in_destructor> r(p, [&](weak_ref<drops_ref_in_destructor>) {
    ++calls;
    plain.reset(); // last handle of a ref without callback: unlinks under the referent's lock
    weak_ref<drops_ref_in_destructor> copy = r; // copies and drops a handle of the pinned ref
  });
  BOOST_TEST(weakref::weak_ref_count(p) == 3u);
  p.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!plain.has_value());
}

// [weakref.ref.callback]/1: the constraint rejects callbacks of the wrong shape at compile time.
static_assert(!std::is_constructible_v<weak_ref<int>, const std::shared_ptr<int>&, int>);
static_assert(!std::is_constructible_v<weak_ref<int>, const std::shared_ptr<int>&, void (*)()>);
static_assert(
    std::is_constructible_v<weak_ref<int>, const std::shared_ptr<int>&, void (*)(weak_ref<int>)>);

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hash)

// PY-REF-4, -18 "Weak references are hashable if the object is hashable. They will maintain their
// hash value even after the object was deleted."
// Checks [weakref.ref.hash]/1, /3 and /6.
BOOST_AUTO_TEST_CASE(equals_referent_hash_and_survives_death) {
  auto p = weakref::make_shared<std::string>("image-42");
  weak_ref<std::string> r(p);
  const std::size_t expected = std::hash<std::string>{}("image-42");
  BOOST_TEST(std::hash<weak_ref<std::string>>{}(r) == expected);
  weak_ref<std::string> copy = r;
  p.reset();
  BOOST_TEST(std::hash<weak_ref<std::string>>{}(r) == expected);
  BOOST_TEST(copy.hash() == expected); // the cache belongs to the reference, not the handle
}

// PY-REF-5 "If hash() is called the first time only after the object was deleted, the call will
// raise TypeError."
// Checks [weakref.ref.hash]/4.
BOOST_AUTO_TEST_CASE(first_hash_after_death_throws_type_error) {
  auto p = weakref::make_shared<std::string>("x");
  weak_ref<std::string> r(p);
  p.reset();
  BOOST_CHECK_THROW(std::hash<weak_ref<std::string>>{}(r), weakref::type_error);
  BOOST_CHECK_THROW(weak_ref<std::string>().hash(), weakref::type_error);
}

template <class R>
concept has_hash_member = requires(const R& r) { r.hash(); };

// PY-REF-4 "if the object is hashable": otherwise std::hash is disabled, and the member hash() is
// absent, for a referent type without std::hash (opaque, tracked) as for one without ==.
// Checks [weakref.ref.hash]/1-2.
BOOST_AUTO_TEST_CASE(hash_exists_only_for_hashable_referents) {
  static_assert(std::is_default_constructible_v<std::hash<weak_ref<std::string>>>);
  static_assert(!std::is_default_constructible_v<std::hash<weak_ref<opaque>>>);
  static_assert(!std::is_default_constructible_v<std::hash<weak_ref<tracked>>>);
  static_assert(has_hash_member<weak_ref<std::string>>);
  static_assert(has_hash_member<weak_ref<const std::string>>); // hash<remove_cv_t<T>>
  static_assert(!has_hash_member<weak_ref<opaque>>);
  static_assert(!has_hash_member<weak_ref<tracked>>);
  // A referent without std::hash is still referenced, compared and identified.
  auto t = weakref::make_shared<tracked>(4);
  const weak_ref<tracked> r(t);
  BOOST_TEST((r == weak_ref<tracked>(t)));
  BOOST_TEST(r.owner_equal(weak_ref<tracked>(t)));
}

// Hashing makes refs usable as unordered keys (the basis of WeakKeyDictionary).
// Checks [weakref.ref.hash]/1; [weakref.ref.eq]/2.
BOOST_AUTO_TEST_CASE(usable_in_unordered_set) {
  auto a = weakref::make_shared<std::string>("a");
  auto b = weakref::make_shared<std::string>("b");
  auto a2 = weakref::make_shared<std::string>("a");
  std::unordered_set<weak_ref<std::string>> set{weak_ref<std::string>(a), weak_ref<std::string>(b)};
  BOOST_TEST(set.size() == 2u);
  BOOST_TEST(set.count(weak_ref<std::string>(a2)) == 1u); // equal referents, equal refs
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(equality)

// PY-REF-6 "If the referents are still alive, two references have the same equality
// relationship as their referents (regardless of the callback)."
// Checks [weakref.ref.eq]/2.
BOOST_AUTO_TEST_CASE(alive_refs_compare_referents) {
  auto x = weakref::make_shared<tracked>(1);
  auto y = weakref::make_shared<tracked>(1);
  auto z = weakref::make_shared<tracked>(2);
  weak_ref<tracked> rx(x, [](weak_ref<tracked>) {});
  weak_ref<tracked> ry(y);
  weak_ref<tracked> rz(z);
  BOOST_TEST((rx == ry));
  BOOST_TEST((rx != rz));
}

// PY-REF-19 "If either referent has been deleted, the references are equal only if the reference
// objects are the same object."
// Checks [weakref.ref.eq]/2 and /6.
BOOST_AUTO_TEST_CASE(dead_refs_compare_by_identity) {
  auto x = weakref::make_shared<tracked>(1);
  auto y = weakref::make_shared<tracked>(1);
  weak_ref<tracked> rx(x);
  weak_ref<tracked> rx_copy = rx;
  weak_ref<tracked> rx_other(x);
  weak_ref<tracked> ry(y);
  x.reset();
  BOOST_TEST((rx != ry));       // one dead: no longer equal, though the referents were
  BOOST_TEST((rx == rx_copy));  // same reference
  BOOST_TEST((rx != rx_other)); // another reference to the same dead referent
}

// [weakref.ref.eq]/5: without ==, the referents compare by address.
BOOST_AUTO_TEST_CASE(referent_without_equality_compares_by_address) {
  auto a = weakref::make_shared<opaque>();
  auto b = weakref::make_shared<opaque>();
  BOOST_TEST((weak_ref<opaque>(a) == weak_ref<opaque>(a)));
  BOOST_TEST((weak_ref<opaque>(a) != weak_ref<opaque>(b)));
}

// PY-REF-7 "Weak references support tests for equality, but not ordering."
static_assert(std::equality_comparable<weak_ref<int>>);
static_assert(!std::totally_ordered<weak_ref<int>>);
template <class R>
concept any_ordering = requires(const R& a) { a < a; } || requires(const R& a) { a <= a; } ||
                       requires(const R& a) { a > a; } || requires(const R& a) { a >= a; } ||
                       requires(const R& a) { a <=> a; };
static_assert(!any_ordering<weak_ref<int>>);
static_assert(!any_ordering<weak_ref<std::string>>);
static_assert(any_ordering<std::shared_ptr<int>>); // the probe itself can detect an ordering

// [weakref.ref.owner]: referent identity, stable after death.
// Checks [weakref.ref.owner]/1-2.
BOOST_AUTO_TEST_CASE(owner_identity_survives_death) {
  auto a = weakref::make_shared<tracked>(1);
  auto b = weakref::make_shared<tracked>(1);
  weak_ref<tracked> r1(a), r2(a), r3(b);
  const std::size_t h = r1.owner_hash();
  BOOST_TEST(r1.owner_equal(r2));
  BOOST_TEST(!r1.owner_equal(r3));
  a.reset();
  BOOST_TEST(r1.owner_equal(r2));
  BOOST_TEST(r1.owner_hash() == h);
  BOOST_TEST(r2.owner_hash() == h);
}

// owner_hash and owner_equal need neither == nor a hash of the referent type.
// Checks [weakref.ref.owner]/3.
BOOST_AUTO_TEST_CASE(owner_identity_needs_no_equality_or_hash) {
  static_assert(!std::equality_comparable<opaque>);
  static_assert(!std::is_default_constructible_v<std::hash<opaque>>);
  auto a = weakref::make_shared<opaque>();
  auto b = weakref::make_shared<opaque>();
  const weak_ref<opaque> r1(a), r2(a), r3(b);
  BOOST_TEST(r1.owner_equal(r2));
  BOOST_TEST(!r1.owner_equal(r3));
  BOOST_TEST(r1.owner_hash() == r2.owner_hash());
  const std::size_t h = r1.owner_hash();
  a.reset();
  BOOST_TEST(r1.owner_equal(r2));
  BOOST_TEST(r2.owner_hash() == h);
  BOOST_TEST(weak_ref<opaque>().owner_equal(weak_ref<opaque>()));
}

// The comparison pins both referents: a T::operator== that releases their only owners still
// sees both objects alive, and they die when == returns, the comparison being their death (their
// callbacks run within it). An exception from T's == propagates.
// Checks [weakref.ref.eq]/1 and /3-4.
BOOST_AUTO_TEST_CASE(comparison_pins_both_referents_and_propagates_exceptions) {
  releasing::first = weakref::make_shared<releasing>();
  releasing::second = weakref::make_shared<releasing>();
  int callbacks = 0;
  const weak_ref<releasing> a(releasing::first, [&](weak_ref<releasing>) { ++callbacks; });
  const weak_ref<releasing> b(releasing::second, [&](weak_ref<releasing>) { ++callbacks; });
  BOOST_TEST((a == b));
  BOOST_TEST(releasing::both_alive_during_comparison);
  BOOST_TEST(releasing::destroyed == 2); // died within ==, when the pins were released
  BOOST_TEST(callbacks == 2);
  BOOST_TEST(a.expired());

  auto c = weakref::make_shared<releasing>();
  const weak_ref<releasing> rc(c), rc2(c);
  releasing::throw_now = true;
  BOOST_CHECK_THROW((void)(rc == rc2), std::runtime_error);
  releasing::throw_now = false;
  BOOST_TEST(rc.lock() == c); // nothing released
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(subclass)

static_assert(weakref::ref_type<weak_ref<int>>);
static_assert(weakref::ref_type<extended_ref<int>>);
static_assert(!weakref::ref_type<std::weak_ptr<int>>);
static_assert(!weakref::ref_type<int>);

// PY-SUB-1 "Specialized versions of ref objects can be created through subclassing" and the
// ExtendedRef example: extra information, and a different value returned on call.
// Checks [weakref.ref.types]/2.
BOOST_AUTO_TEST_CASE(extended_ref_counts_successful_calls) {
  auto ob = weakref::make_shared<tracked>(5);
  extended_ref<tracked> r(ob, {"thumbnail"});
  BOOST_TEST(r.info().label == "thumbnail");
  auto first = r();
  auto second = r();
  BOOST_REQUIRE(first.has_value());
  BOOST_REQUIRE(second.has_value());
  BOOST_TEST(first->first.get() == ob.get());
  BOOST_TEST(first->second == 1u);
  BOOST_TEST(second->second == 2u);
  first.reset();
  second.reset();
  ob.reset();
  BOOST_TEST(!r().has_value());
}

// A subclass is still a ref: callbacks, hashing (derived std::hash) and equality carry over.
// Checks [weakref.ref.types]/2-3; [weakref.ref.hash]/1.
BOOST_AUTO_TEST_CASE(extended_ref_keeps_ref_behaviour) {
  auto ob = weakref::make_shared<std::string>("k");
  int calls = 0;
  extended_ref<std::string> r(ob, [&](weak_ref<std::string>) { ++calls; });
  BOOST_TEST(std::hash<extended_ref<std::string>>{}(r) == std::hash<std::string>{}("k"));
  BOOST_TEST((r == weak_ref<std::string>(ob)));
  BOOST_TEST(weakref::weak_ref_count(ob) == 1u);
  ob.reset();
  BOOST_TEST(calls == 1);
}

// [weakref.ref.self] Python passes a ref subclass's callback the subclass instance: through a
// self_callback member the callback receives the derived object, its own members intact.
// Checks [weakref.ref.self]/1 and /6.
BOOST_AUTO_TEST_CASE(self_callback_receives_the_derived_object) {
  auto ob = weakref::make_shared<tracked>(3);
  const labelled_ref* seen = nullptr;
  std::string label;
  bool was_expired = false;
  labelled_ref r(ob, "thumbnail", [&](labelled_ref& self) {
    seen = &self;
    label = self.label();
    was_expired = self.expired();
  });
  BOOST_TEST(r.lock().get() == ob.get());
  BOOST_TEST(weakref::weak_ref_count(ob) == 1u); // one reference, though two handles hold it
  ob.reset();
  BOOST_TEST(seen == &r);
  BOOST_TEST(label == "thumbnail");
  BOOST_TEST(was_expired); // PY-REF-12: the referent is no longer available
}

// [weakref.ref.self]/9 The callback is bound to the derived object: once that is destroyed it is
// not called, even while a plain handle to the same reference keeps the reference registered.
// Checks [weakref.ref.self]/8.
BOOST_AUTO_TEST_CASE(self_callback_is_not_called_after_its_object_is_destroyed) {
  auto ob = weakref::make_shared<tracked>(3);
  int calls = 0;
  std::optional<labelled_ref> r(std::in_place, ob, "x", [&](labelled_ref&) { ++calls; });
  const weak_ref<tracked> sliced = *r; // a copy of the base: the same reference
  r.reset();
  BOOST_TEST(weakref::weak_ref_count(ob) == 1u);
  BOOST_TEST(sliced.lock().get() == ob.get());
  ob.reset();
  BOOST_TEST(calls == 0);
  BOOST_TEST(sliced.expired());
}

// [weakref.ref.self]/9 A callback may destroy the object it receives (ASan checks the rest).
BOOST_AUTO_TEST_CASE(self_callback_may_destroy_its_object) {
  auto ob = weakref::make_shared<tracked>(3);
  int calls = 0;
  std::optional<labelled_ref> r;
  r.emplace(ob, "x", [&](labelled_ref& self) {
    BOOST_TEST(&self == &*r);
    r.reset();
    ++calls;
  });
  ob.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!r.has_value());
}

// [weakref.ref.death]/1.3 The derived callback keeps its place in the order of PY-REF-2, and a
// null callback registers none ([weakref.ref.self]/6, PY-REF-10).
BOOST_AUTO_TEST_CASE(self_callback_runs_in_registration_order) {
  auto ob = weakref::make_shared<tracked>(3);
  std::vector<int> order;
  labelled_ref first(ob, "1", [&](labelled_ref&) { order.push_back(1); });
  weak_ref<tracked> second(ob, [&](weak_ref<tracked>) { order.push_back(2); });
  labelled_ref none(ob, "0", static_cast<void (*)(labelled_ref&)>(nullptr));
  BOOST_TEST(weakref::weak_ref_count(ob) == 3u);
  ob.reset();
  BOOST_TEST((order == std::vector<int>{2, 1}));
}

static_assert(!std::is_constructible_v<weakref::self_callback<labelled_ref>, labelled_ref&,
                                       std::shared_ptr<tracked>, void (*)(int)>,
              "[weakref.ref.self]/4 the callback must take the derived object");

// The binding belongs to one object: a self_callback can be neither copied nor moved, so neither
// can a reference type holding one, unless it says how.
// Checks [weakref.ref.self]/11.
BOOST_AUTO_TEST_CASE(self_callback_is_neither_copyable_nor_movable) {
  using sc = weakref::self_callback<labelled_ref>;
  static_assert(!std::is_copy_constructible_v<sc> && !std::is_move_constructible_v<sc>);
  static_assert(!std::is_copy_assignable_v<sc> && !std::is_move_assignable_v<sc>);
  static_assert(!std::is_copy_constructible_v<labelled_ref>);
  static_assert(!std::is_move_constructible_v<labelled_ref>);
  // Its base's handle still copies: a plain reference to the same weak reference object.
  auto ob = weakref::make_shared<tracked>(1);
  const labelled_ref r(ob, "x", [](labelled_ref&) {});
  const weak_ref<tracked> copy = r;
  BOOST_TEST(copy.identical(r));
}

// A default-constructed self_callback binds nothing and registers nothing: the derived reference
// stays an empty handle, and no callback is ever called for it.
// Checks [weakref.ref.self]/3.
BOOST_AUTO_TEST_CASE(default_constructed_self_callback_binds_nothing) {
  struct lazy_ref : weak_ref<tracked> {
    weakref::self_callback<lazy_ref> on_death;
  };
  static_assert(std::is_nothrow_default_constructible_v<weakref::self_callback<lazy_ref>>);
  auto ob = weakref::make_shared<tracked>(1);
  lazy_ref r;
  BOOST_TEST(r.expired());
  BOOST_TEST(!r.has_callback());
  BOOST_TEST(weakref::weak_ref_count(ob) == 0u);
  static_cast<weak_ref<tracked>&>(r) = weak_ref<tracked>(ob);
  BOOST_TEST(weakref::weak_ref_count(ob) == 1u); // the base's own reference, not the member's
  BOOST_TEST(!r.has_callback());
  ob.reset();
  BOOST_TEST(r.expired());
}

// A callback whose copy throws, or an empty or foreign owner, makes the construction throw with
// no effect: nothing is registered, and the referent's later death calls nothing.
// Checks [weakref.ref.self]/7.
BOOST_AUTO_TEST_CASE(throwing_self_callback_construction_has_no_effect) {
  struct refuses_copy {
    int* calls;
    explicit refuses_copy(int* c) : calls(c) {}
    refuses_copy(const refuses_copy&) { throw std::runtime_error("no copy"); }
    void operator()(labelled_ref&) const { ++*calls; }
  };
  auto ob = weakref::make_shared<tracked>(1);
  int calls = 0;
  const refuses_copy callback(&calls);
  BOOST_CHECK_THROW(labelled_ref(ob, "x", callback), std::runtime_error);
  BOOST_TEST(weakref::weak_ref_count(ob) == 0u);
  BOOST_CHECK_THROW(labelled_ref(std::shared_ptr<tracked>(), "x", [](labelled_ref&) {}),
                    weakref::type_error);
  BOOST_CHECK_THROW(labelled_ref(std::make_shared<tracked>(2), "x", [](labelled_ref&) {}),
                    weakref::type_error);
  ob.reset();
  BOOST_TEST(calls == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(conversion)

// [weakref.ref.conv]/1 Implicit exactly where the pointer conversion is: to a base and to const,
// not to a derived class, not between unrelated types, not from a proxy.
// Checks [weakref.ref.conv]/1.
BOOST_AUTO_TEST_CASE(converts_implicitly_exactly_where_the_pointer_does) {
  static_assert(std::is_convertible_v<weak_ref<square>, weak_ref<shape>>);
  static_assert(std::is_convertible_v<const weak_ref<square>&, weak_ref<const square>>);
  static_assert(std::is_convertible_v<extended_ref<square>, weak_ref<shape>>);
  static_assert(!std::is_constructible_v<weak_ref<square>, weak_ref<shape>>);
  static_assert(!std::is_constructible_v<weak_ref<unrelated>, weak_ref<square>>);
  static_assert(!std::is_constructible_v<weak_ref<square>, weak_ref<const square>>);
  static_assert(!std::is_constructible_v<weak_ref<shape>, weakref::weak_proxy<square>>);
  // The implicit conversions at work: arguments of functions that take the base's handle.
  auto sq = weakref::make_shared<square>();
  const weak_ref<square> r(sq);
  const auto sides = [](const weak_ref<shape>& s) { return s.lock() ? s.lock()->sides : -1; };
  const auto same = [](const weak_ref<const square>& c, const weak_ref<square>& m) {
    return c.identical(m);
  };
  BOOST_TEST(sides(r) == 4);
  BOOST_TEST(same(r, r));
}

// [weakref.ref.conv]/2 The converted handle is the same reference seen through the base: it
// locks to the base subobject, is identical() to the source, is counted once, and the callback
// (registered with the derived type) still runs once, with its own handle type.
// Checks [weakref.ref.conv]/3.
BOOST_AUTO_TEST_CASE(derived_to_base_is_the_same_reference) {
  auto sq = weakref::make_shared<square>();
  int calls = 0;
  weak_ref<square> derived(sq, [&](weak_ref<square> self) {
    ++calls;
    BOOST_TEST(self.expired());
  });
  weak_ref<shape> base = derived;
  BOOST_TEST(base.lock().get() == static_cast<shape*>(sq.get()));
  BOOST_TEST(base.lock()->sides == 4);
  BOOST_TEST(base.identical(derived));
  BOOST_TEST(derived.identical(base));
  BOOST_TEST(!base.identical(weak_ref<shape>(sq))); // a new reference is another one
  BOOST_TEST(weakref::weak_ref_count(sq) == 1u);
  const weak_ref<shape> copy = base;
  BOOST_TEST(copy.identical(derived));
  derived = weak_ref<square>(); // the view alone keeps the reference registered
  BOOST_TEST(weakref::weak_ref_count(sq) == 1u);
  sq.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(base.expired());
  BOOST_TEST((base == copy)); // PY-REF-19: dead, equal as the same reference
}

// [weakref.ref.conv]/2 Converting a dead reference keeps its identity; an empty one stays empty.
BOOST_AUTO_TEST_CASE(dead_and_empty_references_convert) {
  auto sq = weakref::make_shared<square>();
  weak_ref<square> derived(sq);
  sq.reset();
  const weak_ref<shape> base = derived;
  BOOST_TEST(base.expired());
  BOOST_TEST(base.identical(derived));
  const weak_ref<shape> empty = weak_ref<square>();
  BOOST_TEST(empty.expired());
  BOOST_TEST(empty.identical(weak_ref<shape>()));
}

// [weakref.ref.conv]/2 Through a virtual base, alive and dead.
// Checks [weakref.ref.conv]/5.
BOOST_AUTO_TEST_CASE(virtual_base_converts_alive_and_dead) {
  auto sq = weakref::make_shared<vsquare>();
  const weak_ref<vsquare> derived(sq);
  const weak_ref<vshape> alive = derived;
  BOOST_TEST(alive.lock().get() == static_cast<vshape*>(sq.get()));
  BOOST_TEST(alive.lock()->id == 7);
  sq.reset();
  const weak_ref<vshape> dead = derived;
  BOOST_TEST(dead.expired());
  BOOST_TEST(alive.expired());
  BOOST_TEST(dead.identical(alive));
}

// [weakref.ref.conv]/2 and PY-REF-4: the hash is cached once, by the reference, so a view made
// after death hashes as the reference did instead of throwing (PY-REF-5 applies to references
// never hashed).
// Checks [weakref.ref.conv]/3.
BOOST_AUTO_TEST_CASE(views_share_the_cached_hash) {
  auto k = weakref::make_shared<keyed>();
  k->v = 41;
  const weak_ref<keyed> derived(k);
  const weak_ref<key> before = derived;
  BOOST_TEST(before.hash() == 41u);
  k.reset();
  const weak_ref<key> after = derived;
  BOOST_TEST(after.hash() == 41u);
  auto other = weakref::make_shared<keyed>();
  const weak_ref<key> never_hashed = weak_ref<keyed>(other);
  other.reset();
  BOOST_CHECK_THROW((void)never_hashed.hash(), weakref::type_error);
}

// [weakref.ref.conv]/6 A std::weak_ptr for APIs that take one: it shares ownership with the
// referent, converts to a base's weak_ptr, and expires with the referent.
// Checks [weakref.ref.conv]/7.
BOOST_AUTO_TEST_CASE(yields_a_std_weak_ptr) {
  auto sq = weakref::make_shared<square>();
  const weak_ref<square> r(sq);
  const std::weak_ptr<square> w = r;
  BOOST_TEST(w.lock().get() == sq.get());
  BOOST_TEST((!w.owner_before(sq) && !sq.owner_before(w)));
  const auto sides = [](const std::weak_ptr<shape>& s) { return s.lock() ? s.lock()->sides : -1; };
  BOOST_TEST(sides(r) == 4);
  BOOST_TEST(sides(weak_ref<square>()) == -1);
  BOOST_TEST(weakref::weak_ref_count(sq) == 1u); // a weak_ptr is not a reference of this library
  sq.reset();
  BOOST_TEST(w.expired());
  static_assert(noexcept(static_cast<std::weak_ptr<square>>(r)));
  static_assert(!std::is_convertible_v<weak_ref<shape>, std::weak_ptr<square>>);
}

// [weakref.ref.cons]/16 From a std::weak_ptr: a new reference, as from its lock(); type_error when
// the object is not weakly referenceable or the weak_ptr has expired (PY-INTRO-5).
// Checks [weakref.ref.cons]/17-18.
BOOST_AUTO_TEST_CASE(made_from_a_std_weak_ptr) {
  auto sq = weakref::make_shared<square>();
  const std::weak_ptr<square> w = sq;
  int calls = 0;
  const weak_ref from_weak(w); // deduces weak_ref<square>
  static_assert(std::is_same_v<decltype(from_weak), const weak_ref<square>>);
  const weak_ref<shape> base_from_weak(w);
  const weak_ref<square> with_callback(w, [&](weak_ref<square>) { ++calls; });
  const weak_ref<square> null_callback(w, nullptr);
  BOOST_TEST(from_weak.lock().get() == sq.get());
  BOOST_TEST(base_from_weak.lock().get() == static_cast<shape*>(sq.get()));
  BOOST_TEST(weakref::weak_ref_count(sq) == 4u);
  static_assert(!std::is_convertible_v<std::weak_ptr<square>, weak_ref<square>>); // explicit
  // A shared_ptr<Derived> argument still converts to shared_ptr<Base>, not ambiguously.
  const weak_ref<shape> from_derived_owner(sq);
  BOOST_TEST(from_derived_owner.lock().get() == static_cast<shape*>(sq.get()));

  const auto std_owner = std::make_shared<square>();
  BOOST_CHECK_THROW(weak_ref<square>{std::weak_ptr<square>(std_owner)}, weakref::type_error);
  sq.reset();
  BOOST_TEST(calls == 1);
  BOOST_CHECK_THROW(weak_ref<square>{w}, weakref::type_error);
  BOOST_CHECK_THROW(weak_ref<square>{std::weak_ptr<square>()}, weakref::type_error);
}

namespace {
// The only other owner of the referent of the next test; the callback's construction releases it.
std::shared_ptr<int> other_owner;
struct releases_the_other_owner {
  int* calls;
  explicit releases_the_other_owner(int* c) : calls(c) {}
  releases_the_other_owner(const releases_the_other_owner& o) : calls(o.calls) {
    other_owner.reset();
  }
  releases_the_other_owner(releases_the_other_owner&& o) noexcept : calls(o.calls) {
    other_owner.reset();
  }
  void operator()(weak_ref<int>) const { ++*calls; }
};
} // namespace

// From a std::weak_ptr, when every other owner is released while the constructor runs (here by
// the construction of the callback, after w.lock()): the constructor's own owner p is the last,
// so the referent dies within the constructor, calling the new reference's callback, and the
// result is expired. (Threads make the same interleaving; this one is deterministic.)
// Checks [weakref.ref.cons]/19.
BOOST_AUTO_TEST_CASE(the_referent_can_die_within_the_constructor_from_a_weak_ptr) {
  other_owner = weakref::make_shared<int>(7);
  const std::weak_ptr<int> w = other_owner;
  int calls = 0;
  const weak_ref<int> r(w, releases_the_other_owner(&calls));
  BOOST_TEST(!other_owner);
  BOOST_TEST(w.expired());
  BOOST_TEST(r.expired());
  BOOST_TEST(calls == 1);
}

// [weakref.ref.obs]/1 lock() is the std::shared_ptr of the element type.
static_assert(std::is_same_v<decltype(std::declval<const weak_ref<shape>&>().lock()),
                             std::shared_ptr<shape>>);

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()
