// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: weakref.proxy, the proxy types (ProxyType, CallableProxyType, ProxyTypes) and
// ReferenceError of the Python weakref documentation.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "support.hpp"

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;
using conformance::recording_handler;

namespace {

constexpr const char* python_reference_error = "weakly-referenced object no longer exists";

struct tracked {
  static inline int alive = 0;
  int value;
  explicit tracked(int v = 0) : value(v) { ++alive; }
  tracked(const tracked& other) : value(other.value) { ++alive; }
  ~tracked() { --alive; }
};

// A referent with data, member functions, operators and a subscript.
struct widget {
  int value = 0;
  std::string name;
  int twice() const { return 2 * value; }
  void set(int v) { value = v; }
  int operator[](int i) const { return value + i; }
  friend widget operator+(const widget& w, int n) { return widget{w.value + n, w.name}; }
  friend bool operator==(const widget& w, int n) { return w.value == n; }
};

// A member function that drops the only other owner while it runs.
struct drops_owner {
  std::shared_ptr<drops_owner>* owner = nullptr;
  tracked guard{0};
  int drop_then_count_alive() {
    owner->reset();
    return tracked::alive;
  }
};

// Callable referents (CallableProxyType) and non-callable ones (ProxyType).
struct adder {
  int base = 0;
  int operator()(int a, int b) const { return base + a + b; }
};
struct overloaded_call {
  int operator()(int x) const { return x; }
  int operator()(int x, int y) const { return x + y; }
};
// Final: its call operators cannot be seen from the type (the adaptation of PY-PROXY-2).
struct sealed_overloaded_call final {
  int operator()(int x) const { return x; }
  int operator()(int x, int y) const { return x + y; }
};
struct plain {
  int value = 0;
};
int negate(int x) { return -x; }

// Hashable referent, to show that even then the proxy is not hashable.
struct hashable_thing {
  int value = 0;
};

bool is_python_reference_error(const wr::reference_error& e) {
  return std::string(e.what()) == python_reference_error;
}

// Named concepts for the compile-time rules.
template <class T>
concept std_hashable =
    std::default_initializable<std::hash<T>> && requires(const std::hash<T>& h, const T& t) {
      { h(t) } -> std::convertible_to<std::size_t>;
    };
template <class P>
concept has_hash_member = requires(const P& p) { p.hash(); };
// What std::unordered_set / std::unordered_map require of their default Hash.
template <class K>
concept unordered_key = std_hashable<K> && std::equality_comparable<K>;
// Whether C's lookup by key accepts a Q (std::unordered_set/map, the weak containers).
template <class C, class Q>
concept looks_up = requires(const C& c, const Q& q) { c.contains(q); };

// A class that looks like a proxy without being one: the members of weak_proxy that a structural
// test would look for. proxy_types must not be fooled.
struct looks_like_a_proxy {
  using element_type = plain;
  std::shared_ptr<plain> target;
  std::shared_ptr<plain> pin() const { return target; }
  std::shared_ptr<plain> lock() const noexcept { return target; }
  bool expired() const noexcept { return !target; }
  bool identical(const looks_like_a_proxy& other) const noexcept { return target == other.target; }
  plain* operator->() const { return target.get(); }
  explicit operator bool() const { return static_cast<bool>(target); }
};

// What a proxy is, written independently of the library: an object of a specialization of
// weak_proxy, cv-qualified or not.
template <class P>
inline constexpr bool is_weak_proxy = false;
template <class T>
inline constexpr bool is_weak_proxy<wr::weak_proxy<T>> = true;
template <class P>
inline constexpr bool is_weak_proxy<const P> = is_weak_proxy<P>;
template <class P>
inline constexpr bool is_weak_proxy<volatile P> = is_weak_proxy<P>;
template <class P>
inline constexpr bool is_weak_proxy<const volatile P> = is_weak_proxy<P>;

} // namespace

template <>
struct std::hash<hashable_thing> {
  std::size_t operator()(const hashable_thing& t) const noexcept {
    return static_cast<std::size_t>(t.value);
  }
};

BOOST_AUTO_TEST_SUITE(proxy)

// PY-PROXY-6: "weak_proxy<T>(obj) makes a new weak reference, used as a proxy, that does not
// keep obj alive"
// Checks [weakref.proxy.cons]/2; [weakref.proxy.access]/3.
BOOST_AUTO_TEST_CASE(PY_PROXY_6_proxy_is_a_new_weak_reference) {
  auto obj = wr::make_shared<tracked>(4);
  wr::weak_proxy<tracked> p(obj);
  BOOST_TEST(wr::weak_ref_count(obj) == 1u); // a weak reference, registered
  BOOST_TEST(obj.use_count() == 1);          // not an owner
  BOOST_TEST(p->value == 4);                 // used as a proxy
  wr::weak_proxy<tracked> q(obj);
  BOOST_TEST(!q.identical(p)); // new, not the earlier one
  BOOST_TEST(wr::weak_ref_count(obj) == 2u);
  obj.reset();
  BOOST_TEST(tracked::alive == 0); // does not keep obj alive
  BOOST_TEST(p.expired());
  BOOST_TEST(q.expired());
}

// PY-PROXY-1: "a proxy is used without explicit dereferencing: members, operators, calls,
// subscripts and ranges forward to the referent" (adapted: members through ->, which keeps the
// referent alive for the full-expression)
// Checks [weakref.proxy.general]/1; [weakref.proxy.access]/3; [weakref.proxy.call]/1;
// [weakref.proxy.container]/3, /6 and /8; [weakref.proxy.ops]/5, /11 and /14.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_used_without_explicit_dereference) {
  auto w = wr::make_shared<widget>(widget{21, "w"});
  wr::weak_proxy<widget> pw(w);
  // members
  BOOST_TEST(pw->value == 21);
  BOOST_TEST(pw->name == "w");
  BOOST_TEST(pw->twice() == 42);
  pw->set(5);
  BOOST_TEST(w->value == 5);
  // operators of the referent
  BOOST_TEST((pw + 1).value == 6);
  BOOST_TEST((pw == 5));
  // subscript
  BOOST_TEST(pw[10] == 15);

  auto n = wr::make_shared<int>(12);
  wr::weak_proxy<int> pn(n);
  BOOST_TEST((pn + 3) == 15);
  BOOST_TEST((3 * pn) == 36);
  BOOST_TEST((pn < 13));
  BOOST_TEST(-pn == -12);
  pn += 1;
  ++pn;
  BOOST_TEST(*n == 14);

  // calls
  auto f = wr::make_shared<adder>(adder{100});
  wr::weak_proxy<adder> pf(f);
  BOOST_TEST(pf(20, 3) == 123);

  // subscripts and ranges
  auto v = wr::make_shared<std::vector<int>>(std::vector<int>{1, 2, 3});
  wr::weak_proxy<std::vector<int>> pv(v);
  BOOST_TEST(pv[1] == 2);
  pv[1] = 20;
  BOOST_TEST((*v)[1] == 20);
  BOOST_TEST(pv.size() == 3u);
  int sum = 0;
  for (int x : pv) sum += x;
  BOOST_TEST(sum == 24);
  BOOST_TEST(std::accumulate(pv.begin(), pv.end(), 0) == 24);

  // -> keeps the referent alive for the full-expression.
  const int before = tracked::alive;
  auto d = wr::make_shared<drops_owner>();
  d->owner = &d;
  wr::weak_proxy<drops_owner> pd(d);
  BOOST_TEST(pd->drop_then_count_alive() == before + 1);
  BOOST_TEST(d == nullptr);
  BOOST_TEST(tracked::alive == before);
  BOOST_TEST(pd.expired());
}

// PY-PROXY-2: "a proxy's kind is the callable one exactly when its referent type is callable; a
// proxy can be called exactly when its referent can" (adapted: decided at compile time from T;
// only a final class whose operator() is overloaded or a template is callable but classified as
// the non-callable kind)
// Checks [weakref.proxy.call]/1; [weakref.proxy.types]/2-3.
BOOST_AUTO_TEST_CASE(PY_PROXY_2_kind_follows_referent_callability) {
  auto closure = [](int x) { return x + 1; };
  using lambda = decltype(closure);
  auto generic_closure = [](auto x) { return x + 1; };
  using generic_lambda = decltype(generic_closure);
  // Callable referents: the callable kind, and the proxy can be called, whatever the form of
  // the call operator (one, overloaded, a template).
  static_assert(wr::callable_proxy_type<wr::weak_proxy<adder>>);
  static_assert(wr::callable_proxy_type<wr::weak_proxy<lambda>>);
  static_assert(wr::callable_proxy_type<wr::weak_proxy<int (*)(int)>>);
  static_assert(wr::callable_proxy_type<wr::weak_proxy<std::function<int(int)>>>);
  static_assert(wr::callable_proxy_type<wr::weak_proxy<overloaded_call>>);
  static_assert(wr::callable_proxy_type<wr::weak_proxy<generic_lambda>>);
  static_assert(wr::callable_proxy_type<wr::weak_proxy<std::plus<>>>);
  static_assert(std::invocable<wr::weak_proxy<adder>, int, int>);
  static_assert(std::invocable<wr::weak_proxy<lambda>, int>);
  static_assert(std::invocable<wr::weak_proxy<int (*)(int)>, int>);
  static_assert(std::invocable<wr::weak_proxy<overloaded_call>, int>);
  static_assert(std::invocable<wr::weak_proxy<overloaded_call>, int, int>);
  static_assert(std::invocable<wr::weak_proxy<std::plus<>>, int, int>);
  // Not callable: the other kind, and no call.
  static_assert(!wr::callable_proxy_type<wr::weak_proxy<plain>>);
  static_assert(!wr::callable_proxy_type<wr::weak_proxy<int>>);
  static_assert(!wr::callable_proxy_type<wr::weak_proxy<std::string>>);
  static_assert(!std::invocable<wr::weak_proxy<plain>>);
  static_assert(!std::invocable<wr::weak_proxy<int>>);
  // Callable exactly as the referent is: same arguments, same result.
  static_assert(!std::invocable<wr::weak_proxy<adder>, int>);
  static_assert(!std::invocable<wr::weak_proxy<adder>, std::string, int>);
  static_assert(std::same_as<std::invoke_result_t<wr::weak_proxy<adder>, int, int>, int>);
  // The adaptation: a final class cannot be probed for an overloaded or template call operator;
  // it is callable through the proxy, but classified as the non-callable kind.
  static_assert(std::invocable<wr::weak_proxy<sealed_overloaded_call>, int>);
  static_assert(wr::proxy_type<wr::weak_proxy<sealed_overloaded_call>>);

  auto a = wr::make_shared<adder>(adder{1});
  auto l = wr::make_shared<lambda>(closure);
  auto g = wr::make_shared<generic_lambda>(generic_closure);
  auto fp = wr::make_shared<int (*)(int)>(&negate);
  auto o = wr::make_shared<overloaded_call>();
  auto plus = wr::make_shared<std::plus<>>();
  auto sealed = wr::make_shared<sealed_overloaded_call>();
  BOOST_TEST(wr::weak_proxy<adder>(a)(2, 3) == 6);
  BOOST_TEST(wr::weak_proxy<lambda>(l)(41) == 42);
  BOOST_TEST(wr::weak_proxy<generic_lambda>(g)(1.5) == 2.5);
  BOOST_TEST(wr::weak_proxy<int (*)(int)>(fp)(5) == -5);
  BOOST_TEST(wr::weak_proxy<overloaded_call>(o)(2, 3) == 5);
  BOOST_TEST(wr::weak_proxy<std::plus<>>(plus)(2, 3) == 5);
  BOOST_TEST(wr::weak_proxy<sealed_overloaded_call>(sealed)(2, 3) == 5);
}

// PY-PROXY-4: "std::hash<weak_proxy<T>> is disabled for every T"
// Checks [weakref.proxy.general]/3.
BOOST_AUTO_TEST_CASE(PY_PROXY_4_proxies_are_never_hashable) {
  static_assert(!std_hashable<wr::weak_proxy<int>>);
  static_assert(!std_hashable<wr::weak_proxy<std::string>>);
  static_assert(!std_hashable<wr::weak_proxy<hashable_thing>>);
  static_assert(!std_hashable<wr::weak_proxy<plain>>);
  static_assert(!std_hashable<wr::weak_proxy<adder>>);
  static_assert(!std_hashable<const wr::weak_proxy<int>>);
  static_assert(!has_hash_member<wr::weak_proxy<std::string>>);
  // The referents are hashable, and so are refs to them: only the proxy is not.
  static_assert(std_hashable<int> && std_hashable<std::string> && std_hashable<hashable_thing>);
  static_assert(std_hashable<wr::weak_ref<std::string>>);
  static_assert(std_hashable<wr::weak_ref<hashable_thing>>);

  auto s = wr::make_shared<std::string>("k");
  const wr::weak_proxy<std::string> p(s);
  const wr::weak_ref<std::string> r(s);
  BOOST_TEST(std::hash<wr::weak_ref<std::string>>{}(r) == std::hash<std::string>{}("k"));
  // The referent itself is still hashed through the proxy's dereference.
  BOOST_TEST(std::hash<std::string>{}(*p.pin()) == std::hash<std::string>{}("k"));
}

// PY-PROXY-7: "a proxy cannot be the key of a hashed container (no std::hash for it)". For
// proxies of every kind, whatever the referent's hashability: std::hash of the proxy is disabled,
// so a hashed container with the default hasher cannot have it as its key type, and the proxy
// does not stand in for a key of its referent's type either (no implicit conversion lets it reach
// the lookup of a std::unordered_set/map or a weak container). The same tests accept the referent
// types and refs, so they can tell. Compile-time facts, reported one by one.
// Checks [weakref.proxy.general]/3.
BOOST_AUTO_TEST_CASE(PY_PROXY_7_proxy_is_not_a_hashed_key) {
  // Not hashable, even where the referent is (std::string, int, hashable_thing, callables).
  BOOST_TEST(!std_hashable<wr::weak_proxy<std::string>>);
  BOOST_TEST(!std_hashable<wr::weak_proxy<int>>);
  BOOST_TEST(!std_hashable<wr::weak_proxy<hashable_thing>>);
  BOOST_TEST(!std_hashable<const wr::weak_proxy<std::string>>);
  BOOST_TEST(!std_hashable<wr::weak_proxy<int (*)(int)>>);
  BOOST_TEST(!has_hash_member<wr::weak_proxy<std::string>>);
  BOOST_TEST(!unordered_key<wr::weak_proxy<std::string>>);
  BOOST_TEST(!unordered_key<wr::weak_proxy<hashable_thing>>);
  // Not a key of its referent's type: no lookup in a hashed container of std::string takes it.
  BOOST_TEST(!(looks_up<std::unordered_set<std::string>, wr::weak_proxy<std::string>>));
  BOOST_TEST(!(looks_up<std::unordered_map<std::string, int>, wr::weak_proxy<std::string>>));
  BOOST_TEST(!(looks_up<wr::weak_key_map<std::string, int>, wr::weak_proxy<std::string>>));
  BOOST_TEST(!(looks_up<wr::weak_set<std::string>, wr::weak_proxy<std::string>>));
  // The controls: the referent types and a ref are hashable keys, and the referent looks up.
  BOOST_TEST(std_hashable<std::string>);
  BOOST_TEST(std_hashable<hashable_thing>);
  BOOST_TEST(unordered_key<wr::weak_ref<std::string>>);
  BOOST_TEST((looks_up<std::unordered_set<std::string>, std::string>));
  BOOST_TEST((looks_up<wr::weak_key_map<std::string, int>, std::string>));
  BOOST_TEST((looks_up<wr::weak_set<std::string>, std::string>));
}

// PY-PROXY-3: "a proxy's callback follows every rule of a ref's callback and receives a handle to
// the proxy"
// Checks [weakref.proxy.cons]/2, /5 and /7; [weakref.ref.death]/1 and /3; [weakref.proxy.access]/4.
BOOST_AUTO_TEST_CASE(PY_PROXY_3_proxy_callback_follows_ref_rules) {
  recording_handler handler;
  auto obj = wr::make_shared<tracked>(1);
  std::vector<std::string> order;
  int alive_in_callback = -1;
  bool identical = false, cleared = false, threw_reference_error = false;
  int gone_calls = 0;
  std::optional<wr::weak_proxy<tracked>> p;
  wr::weak_ref<tracked> older_ref(obj, [&](wr::weak_ref<tracked>) { order.push_back("ref"); });
  p.emplace(obj, [&](wr::weak_proxy<tracked> self) {
    order.push_back("proxy");
    alive_in_callback = tracked::alive; // before the destructor
    identical = self.identical(*p);     // receives the proxy itself
    cleared = self.expired() && !self.lock();
    try {
      (void)self->value;
    } catch (const wr::reference_error&) {
      threw_reference_error = true;
    }
    throw std::runtime_error("from a proxy callback"); // reported, not propagated
  });
  {
    wr::weak_proxy<tracked> gone(obj, [&](wr::weak_proxy<tracked>) { ++gone_calls; });
  } // destroyed before the death: never called
  wr::weak_proxy<tracked> no_callback(obj, nullptr); // optional
  const wr::weak_proxy<tracked> copy = *p;           // copies are the same proxy: one call
  BOOST_CHECK_NO_THROW(obj.reset());
  BOOST_TEST(order == (std::vector<std::string>{"proxy", "ref"}), boost::test_tools::per_element());
  BOOST_TEST(alive_in_callback == 1);
  BOOST_TEST(identical);
  BOOST_TEST(cleared);
  BOOST_TEST(threw_reference_error);
  BOOST_TEST(gone_calls == 0);
  BOOST_TEST(recording_handler::messages() == (std::vector<std::string>{"from a proxy callback"}),
             boost::test_tools::per_element());
}

// PY-TYPES-2: "the concept weakref::proxy_type is satisfied by the proxies of non-callable
// referent types"
// Checks [weakref.proxy.types]/2.
BOOST_AUTO_TEST_CASE(PY_TYPES_2_proxy_type_concept) {
  static_assert(wr::proxy_type<wr::weak_proxy<plain>>);
  static_assert(wr::proxy_type<wr::weak_proxy<int>>);
  static_assert(wr::proxy_type<wr::weak_proxy<std::vector<int>>>);
  static_assert(wr::proxy_type<const wr::weak_proxy<plain>>);
  static_assert(!wr::proxy_type<wr::weak_proxy<adder>>);        // callable referent
  static_assert(!wr::proxy_type<wr::weak_proxy<int (*)(int)>>); // callable referent
  static_assert(!wr::proxy_type<wr::weak_ref<plain>>);          // a ref, not a proxy
  static_assert(!wr::proxy_type<plain>);
  auto describe = []<class P>(const P&) { return wr::proxy_type<P> ? "proxy" : "other"; };
  auto obj = wr::make_shared<plain>();
  BOOST_TEST(std::string(describe(wr::weak_proxy<plain>(obj))) == "proxy");
  BOOST_TEST(std::string(describe(wr::weak_ref<plain>(obj))) == "other");
}

// PY-TYPES-3: "the concept weakref::callable_proxy_type is satisfied by the proxies of callable
// referent types"
// Checks [weakref.proxy.types]/2.
BOOST_AUTO_TEST_CASE(PY_TYPES_3_callable_proxy_type_concept) {
  static_assert(wr::callable_proxy_type<wr::weak_proxy<adder>>);
  static_assert(wr::callable_proxy_type<wr::weak_proxy<int (*)(int)>>);
  static_assert(wr::callable_proxy_type<wr::weak_proxy<std::function<void()>>>);
  static_assert(wr::callable_proxy_type<const wr::weak_proxy<adder>>);
  static_assert(!wr::callable_proxy_type<wr::weak_proxy<plain>>);
  static_assert(!wr::callable_proxy_type<wr::weak_ref<adder>>); // a ref, not a proxy
  static_assert(!wr::callable_proxy_type<adder>);
  auto describe = []<class P>(const P&) {
    return wr::callable_proxy_type<P> ? "callable proxy" : "other";
  };
  auto a = wr::make_shared<adder>();
  auto b = wr::make_shared<plain>();
  BOOST_TEST(std::string(describe(wr::weak_proxy<adder>(a))) == "callable proxy");
  BOOST_TEST(std::string(describe(wr::weak_proxy<plain>(b))) == "other");
}

// PY-TYPES-4: "the concept weakref::proxy_types is satisfied by every proxy, of either kind".
// Each type's kind is written down here, from what it is (a proxy or not; for a proxy, whether
// its referent type is callable), not derived from the concepts: proxy_types must hold for every
// proxy of either kind and for nothing else, and each proxy is of exactly one kind.
// Checks [weakref.proxy.types]/1-3.
BOOST_AUTO_TEST_CASE(PY_TYPES_4_proxy_types_concept) {
  enum class kind { not_a_proxy, plain, callable };
  struct row {
    const char* type;
    kind expected;
    bool proxy_types, proxy_type, callable_proxy_type;
  };
  const auto classify = []<class P>(const char* name, kind expected) {
    return row{name, expected, wr::proxy_types<P>, wr::proxy_type<P>, wr::callable_proxy_type<P>};
  };
  const row rows[] = {
      classify.operator()<wr::weak_proxy<plain>>("weak_proxy<plain>", kind::plain),
      classify.operator()<wr::weak_proxy<int>>("weak_proxy<int>", kind::plain),
      classify.operator()<wr::weak_proxy<std::vector<int>>>("weak_proxy<vector<int>>", kind::plain),
      classify.operator()<const wr::weak_proxy<plain>>("const weak_proxy<plain>", kind::plain),
      classify.operator()<wr::weak_proxy<const plain>>("weak_proxy<const plain>", kind::plain),
      // Final with an overloaded operator(): classified as proxy_type (PY-PROXY-2's adaptation).
      classify.operator()<wr::weak_proxy<sealed_overloaded_call>>("weak_proxy<sealed...>",
                                                                  kind::plain),
      classify.operator()<wr::weak_proxy<adder>>("weak_proxy<adder>", kind::callable),
      classify.operator()<wr::weak_proxy<overloaded_call>>("weak_proxy<overloaded_call>",
                                                           kind::callable),
      classify.operator()<wr::weak_proxy<std::plus<>>>("weak_proxy<plus<>>", kind::callable),
      classify.operator()<wr::weak_proxy<int (*)(int)>>("weak_proxy<int (*)(int)>", kind::callable),
      classify.operator()<wr::weak_proxy<std::function<void()>>>("weak_proxy<function<void()>>",
                                                                 kind::callable),
      classify.operator()<const wr::weak_proxy<adder>>("const weak_proxy<adder>", kind::callable),
      classify.operator()<wr::weak_proxy<const adder>>("weak_proxy<const adder>", kind::callable),
      classify.operator()<wr::weak_ref<plain>>("weak_ref<plain>", kind::not_a_proxy),
      classify.operator()<wr::weak_ref<adder>>("weak_ref<adder>", kind::not_a_proxy),
      classify.operator()<std::shared_ptr<adder>>("shared_ptr<adder>", kind::not_a_proxy),
      classify.operator()<adder>("adder", kind::not_a_proxy),
      classify.operator()<int>("int", kind::not_a_proxy),
  };
  for (const row& r : rows) {
    BOOST_TEST(r.proxy_types == (r.expected != kind::not_a_proxy), r.type);
    BOOST_TEST(r.proxy_type == (r.expected == kind::plain), r.type);
    BOOST_TEST(r.callable_proxy_type == (r.expected == kind::callable), r.type);
  }
  // Used on values of both kinds, it counts the proxies among other objects.
  auto count_proxies = []<class... P>(const P&...) { return (0 + ... + int(wr::proxy_types<P>)); };
  auto a = wr::make_shared<adder>();
  auto b = wr::make_shared<plain>();
  BOOST_TEST(count_proxies(wr::weak_proxy<adder>(a), wr::weak_proxy<plain>(b),
                           wr::weak_ref<plain>(b), b, 1) == 2);
}

// PY-PROXY-5: "one test (proxy_types<P>) tells whether a type is a proxy, of either kind". The one
// test gives the right answer for proxies of both kinds and for everything else, look-alikes and
// wrappers of proxies included, used without naming either kind.
// Checks [weakref.proxy.types]/1.
BOOST_AUTO_TEST_CASE(PY_PROXY_5_one_test_for_any_proxy) {
  struct row {
    const char* type;
    bool is_proxy, proxy_types;
  };
  const auto ask = []<class P>(const char* name) {
    return row{name, is_weak_proxy<P>, wr::proxy_types<P>};
  };
  const row rows[] = {
      ask.operator()<wr::weak_proxy<plain>>("weak_proxy<plain>"),
      ask.operator()<wr::weak_proxy<adder>>("weak_proxy<adder>"),
      ask.operator()<wr::weak_proxy<int (*)(int)>>("weak_proxy<int (*)(int)>"),
      ask.operator()<wr::weak_proxy<sealed_overloaded_call>>("weak_proxy<sealed_overloaded_call>"),
      ask.operator()<wr::weak_proxy<wr::weak_proxy<plain>>>("weak_proxy<weak_proxy<plain>>"),
      ask.operator()<const wr::weak_proxy<adder>>("const weak_proxy<adder>"),
      ask.operator()<volatile wr::weak_proxy<plain>>("volatile weak_proxy<plain>"),
      ask.operator()<looks_like_a_proxy>("looks_like_a_proxy"),
      ask.operator()<wr::weak_ref<plain>>("weak_ref<plain>"),
      ask.operator()<wr::weak_ref<adder>>("weak_ref<adder>"),
      ask.operator()<std::shared_ptr<plain>>("shared_ptr<plain>"),
      ask.operator()<std::weak_ptr<plain>>("weak_ptr<plain>"),
      ask.operator()<std::optional<wr::weak_proxy<plain>>>("optional<weak_proxy<plain>>"),
      ask.operator()<std::reference_wrapper<wr::weak_proxy<plain>>>(
          "reference_wrapper<weak_proxy<plain>>"),
      ask.operator()<std::vector<wr::weak_proxy<adder>>>("vector<weak_proxy<adder>>"),
      ask.operator()<plain>("plain"),
      ask.operator()<adder>("adder"),
  };
  for (const row& r : rows) BOOST_TEST(r.proxy_types == r.is_proxy, r.type);

  // The one test, used on values without naming either kind.
  auto is_proxy = []<class P>(const P&) { return wr::proxy_types<P>; };
  auto a = wr::make_shared<adder>();
  auto b = wr::make_shared<plain>();
  const wr::weak_proxy<adder> pa(a);
  const wr::weak_proxy<plain> pb(b);
  BOOST_TEST(is_proxy(pa));
  BOOST_TEST(is_proxy(pb));
  BOOST_TEST(!is_proxy(wr::weak_ref<plain>(b)));
  BOOST_TEST(!is_proxy(looks_like_a_proxy{b}));
  BOOST_TEST(!is_proxy(b));
}

// PY-REFERR-1: "any use of a proxy whose referent is gone (member access, operator, call,
// conversion to bool, subscript, range) throws weakref::reference_error"
// Checks [weakref.error.reference]/1; [weakref.proxy.general]/3; [weakref.proxy.access]/2 and /4;
// [weakref.proxy.call]/2; [weakref.proxy.container]/4 and /7; [weakref.proxy.ops]/2 and /15;
// [weakref.proxy.obs]/1.
BOOST_AUTO_TEST_CASE(PY_REFERR_1_dead_proxy_use_throws_reference_error) {
  auto w = wr::make_shared<widget>(widget{1, "w"});
  auto n = wr::make_shared<int>(3);
  auto f = wr::make_shared<adder>();
  auto v = wr::make_shared<std::vector<int>>(std::vector<int>{1, 2});
  auto live = wr::make_shared<int>(4);
  wr::weak_proxy<widget> pw(w);
  wr::weak_proxy<int> pn(n);
  wr::weak_proxy<adder> pf(f);
  wr::weak_proxy<std::vector<int>> pv(v);
  wr::weak_proxy<int> plive(live);
  w.reset();
  n.reset();
  f.reset();
  v.reset();
  // member access
  BOOST_CHECK_EXCEPTION((void)pw->value, wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)pw->twice(), wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)pw.pin(), wr::reference_error, is_python_reference_error);
  // operators, on either side, unary, compound, increments
  BOOST_CHECK_EXCEPTION((void)(pn + 1), wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)(1 + pn), wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)(pn == 1), wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)(pn < 1), wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)(plive + pn), wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)-pn, wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION(pn += 1, wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION(++pn, wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)(pw + 1), wr::reference_error, is_python_reference_error);
  // call
  BOOST_CHECK_EXCEPTION((void)pf(1, 2), wr::reference_error, is_python_reference_error);
  // conversion to bool: not "false", an error
  BOOST_CHECK_EXCEPTION((void)static_cast<bool>(pn), wr::reference_error,
                        is_python_reference_error);
  // subscript
  BOOST_CHECK_EXCEPTION((void)pv[0], wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)pw[0], wr::reference_error, is_python_reference_error);
  // range
  BOOST_CHECK_EXCEPTION((void)pv.begin(), wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)pv.end(), wr::reference_error, is_python_reference_error);
  BOOST_CHECK_EXCEPTION((void)pv.size(), wr::reference_error, is_python_reference_error);
  int visited = 0;
  BOOST_CHECK_EXCEPTION(
      [&] {
        for (int x : pv) visited += x;
      }(),
      wr::reference_error, is_python_reference_error);
  BOOST_TEST(visited == 0);
  BOOST_TEST(*live == 4); // the live operand was not touched
  // lock() and expired() are the non-throwing ways to ask
  BOOST_CHECK_NO_THROW((void)pn.lock());
  BOOST_TEST(pn.expired());
}

// PY-REFERR-2: "the proxy error is a standard-derived exception with Python's message" (adapted:
// weakref::reference_error derives from std::runtime_error)
// Checks [weakref.error.reference]/1.
BOOST_AUTO_TEST_CASE(PY_REFERR_2_reference_error_is_a_runtime_error) {
  static_assert(std::is_base_of_v<std::runtime_error, wr::reference_error>);
  static_assert(std::is_base_of_v<std::exception, wr::reference_error>);
  auto obj = wr::make_shared<plain>();
  wr::weak_proxy<plain> p(obj);
  obj.reset();
  std::string message;
  bool caught_as_runtime_error = false;
  try {
    (void)p->value;
  } catch (const std::runtime_error& e) { // a generic handler catches it
    caught_as_runtime_error = dynamic_cast<const wr::reference_error*>(&e) != nullptr;
    message = e.what();
  }
  BOOST_TEST(caught_as_runtime_error);
  BOOST_TEST(message == python_reference_error);
}

BOOST_AUTO_TEST_SUITE_END()
