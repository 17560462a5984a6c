// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: CPython's own test suite for weakref, Lib/test/test_weakref.py, translated to C++
// (ReferencesTestCase, SubclassableWeakrefTestCase, ModuleTestCase; the mapping tests are in
// cpython_weakref_mapping.test.cpp). conformance/cpython-tests.md maps every CPython test to the
// test(s) here and says how each was translated. A comment above each test names the CPython
// test it ports.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>
#include <version>
#if defined(__cpp_lib_format)
#include <format>
#endif

#include "support.hpp"

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;
using conformance::recording_handler;

namespace {

// CPython's class C: an object with no == and no hash, and a data member standing for an
// attribute that may be absent (C++ objects have no dynamic attributes).
struct c_object {
  static inline int alive = 0;
  std::optional<int> foo;
  c_object() { ++alive; }
  c_object(const c_object&) = delete;
  ~c_object() { --alive; }
};

// CPython's class Object: compares and hashes by its argument.
struct object {
  int arg;
  explicit object(int a) : arg(a) {}
  friend bool operator==(const object& a, const object& b) { return a.arg == b.arg; }
};

// Counts the calls of a callback of either handle type (CPython's TestBase.callback).
struct counter {
  int calls = 0;
  auto ref_callback() {
    return [this](auto) { ++calls; };
  }
};

// Named concepts for the compile-time checks.
template <class T>
concept std_hashable =
    std::default_initializable<std::hash<T>> && requires(const std::hash<T>& h, const T& t) {
      { h(t) } -> std::convertible_to<std::size_t>;
    };
template <class R>
concept any_ordering =
    requires(const R& a, const R& b) { a < b; } || requires(const R& a, const R& b) { a <= b; } ||
    requires(const R& a, const R& b) { a > b; } || requires(const R& a, const R& b) { a >= b; };

template <class T>
bool listed(const std::vector<std::variant<wr::weak_ref<T>, wr::weak_proxy<T>>>& refs,
            const wr::weak_ref<T>& r) {
  return std::ranges::any_of(refs, [&](const auto& v) {
    const auto* ref = std::get_if<wr::weak_ref<T>>(&v);
    return ref != nullptr && ref->identical(r);
  });
}

// A referent hashable by std::hash (test_proxy_hash).
struct hashes_to_42 {};

} // namespace

template <>
struct std::hash<object> {
  std::size_t operator()(const object& o) const noexcept { return std::hash<int>{}(o.arg); }
};
template <>
struct std::hash<hashes_to_42> {
  std::size_t operator()(const hashes_to_42&) const noexcept { return 42; }
};

BOOST_AUTO_TEST_SUITE(cpython_weakref)

// ---------------------------------------------------------------------------------------------
// ReferencesTestCase

namespace {
// CPython's three factories (an instance, a function, a bound method), as C++ objects: a class
// object, a std::function, and a closure bound to an object it shares.
std::shared_ptr<c_object> make_instance() { return wr::make_shared<c_object>(); }
std::shared_ptr<std::function<int()>> make_function() {
  return wr::make_shared<std::function<int()>>([] { return 1; });
}
auto make_bound_method() {
  auto self = std::make_shared<int>(4);
  auto method = [self] { return *self; };
  return wr::make_shared<decltype(method)>(method);
}

template <class Factory>
void check_basic_ref(Factory factory) {
  auto o = factory();
  const wr::weak_ref r(o);
  BOOST_TEST(r() != nullptr);       // a reference to a live object is live
  BOOST_TEST(r().get() == o.get()); // and yields the very object
}

template <class Factory>
void check_basic_callback(Factory factory) {
  counter c;
  auto o = factory();
  const wr::weak_ref r(o, c.ref_callback());
  o.reset();
  BOOST_TEST(c.calls == 1);
  BOOST_TEST(r() == nullptr);
}
} // namespace

// test_basic_ref (its repr part: test_ref_repr's port below)
// Checks [weakref.ref.obs]/1.
BOOST_AUTO_TEST_CASE(PY_REF_1_cpython_basic_ref) {
  check_basic_ref(make_instance);
  check_basic_ref(make_function);
  check_basic_ref(make_bound_method);
}

// test_basic_callback
// Checks [weakref.ref.cons]/5; [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(PY_REF_12_cpython_basic_callback) {
  check_basic_callback(make_instance);
  check_basic_callback(make_function);
  check_basic_callback(make_bound_method);
}

// test_cfunction (a builtin C function object; here an object of non-class type, a pointer to
// function, made by the factory)
// Checks [weakref.factory]/4 and /8; [weakref.ref.obs]/1.
BOOST_AUTO_TEST_CASE(PY_INTRO_10_cpython_cfunction) {
  using fn = int (*)(int);
  auto f = wr::make_shared<fn>(+[](int x) { return x + 1; });
  const wr::weak_ref r(f);
  BOOST_TEST(r().get() == f.get());
  BOOST_TEST((*r())(1) == 2);
  f.reset();
  BOOST_TEST(r() == nullptr);
  check_basic_ref([] { return wr::make_shared<fn>(nullptr); });
  check_basic_callback([] { return wr::make_shared<fn>(nullptr); });
}

// test_multiple_callbacks
// Checks [weakref.ref.cons]/5; [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(PY_REF_15_cpython_multiple_callbacks) {
  counter c;
  auto o = make_instance();
  const wr::weak_ref r1(o, c.ref_callback());
  const wr::weak_ref r2(o, c.ref_callback());
  o.reset();
  BOOST_TEST(r1() == nullptr);
  BOOST_TEST(r2() == nullptr);
  BOOST_TEST(c.calls == 2);
}

// test_multiple_selfref_callbacks: a callback of the second reference uses the first one, which
// must already be cleared.
// Checks [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(PY_IMPL_1_cpython_multiple_selfref_callbacks) {
  auto o = make_instance();
  std::optional<wr::weak_ref<c_object>> first;
  int calls = 0, saw_live = 0;
  const auto callback = [&](wr::weak_ref<c_object>) {
    ++calls;
    if ((*first)() != nullptr) ++saw_live;
  };
  first.emplace(o, callback);
  const wr::weak_ref<c_object> second(o, callback);
  o.reset();
  BOOST_TEST(calls == 2);
  BOOST_TEST(saw_live == 0);
}

// test_proxy_ref
// Checks [weakref.proxy.access]/4; [weakref.proxy.ops]/2.
BOOST_AUTO_TEST_CASE(PY_REFERR_1_cpython_proxy_ref) {
  struct truthy {
    int bar = 1;
    explicit operator bool() const { return true; }
  };
  counter c;
  auto o = wr::make_shared<truthy>();
  const wr::weak_proxy p1(o, c.ref_callback());
  const wr::weak_proxy p2(o, c.ref_callback());
  BOOST_TEST(p1->bar == 1);
  o.reset();
  BOOST_CHECK_THROW(static_cast<void>(p1->bar), wr::reference_error);
  BOOST_CHECK_THROW(static_cast<void>(p2->bar), wr::reference_error);
  const wr::weak_proxy<truthy> p3(wr::make_shared<truthy>()); // its referent dies at once
  BOOST_CHECK_THROW(static_cast<void>(static_cast<bool>(p3)), wr::reference_error);
  BOOST_TEST(c.calls == 2);
}

#if defined(__cpp_lib_format)
// test_ref_repr (the type with a __name__ property has no C++ counterpart) and the repr part of
// test_basic_ref
// Checks [weakref.format]/2-3.
BOOST_AUTO_TEST_CASE(PY_IMPL_20_cpython_ref_repr) {
  auto o = make_instance();
  const wr::weak_ref r(o);
  const std::regex live("<weakref at 0x[0-9a-fA-F]+; to '.*c_object' at 0x[0-9a-fA-F]+>");
  const std::string text = std::format("{}", r);
  BOOST_TEST(std::regex_match(text, live), text);
  BOOST_TEST(text.find(std::format("{}", static_cast<const void*>(o.get()))) != std::string::npos);
  o.reset();
  const std::string dead = std::format("{}", r);
  BOOST_TEST(std::regex_match(dead, std::regex("<weakref at 0x[0-9a-fA-F]+; dead>")), dead);
}

namespace {
// CPython's MyConfig (a dict subclass whose attribute lookup fails): a class derived from a
// standard container.
struct my_config : std::vector<int> {};
} // namespace

// test_repr_failure_gh99184: the representation names the referent's class, whatever the class
// Checks [weakref.format]/2-3.
BOOST_AUTO_TEST_CASE(PY_IMPL_20_cpython_repr_names_a_derived_container_class) {
  auto obj = wr::make_shared<my_config>();
  const wr::weak_ref r(obj);
  BOOST_TEST(std::format("{}", r).find("my_config") != std::string::npos);
}

// test_proxy_repr
// Checks [weakref.format]/4.
BOOST_AUTO_TEST_CASE(PY_IMPL_20_cpython_proxy_repr) {
  counter c;
  auto o = make_instance();
  const wr::weak_proxy p(o, c.ref_callback());
  const std::string text = std::format("{}", p);
  BOOST_TEST(
      std::regex_match(
          text, std::regex("<weakproxy at 0x[0-9a-fA-F]+; to '.*c_object' at 0x[0-9a-fA-F]+>")),
      text);
  o.reset();
  const std::string dead = std::format("{}", p); // formatting a dead proxy does not throw
  BOOST_TEST(std::regex_match(dead, std::regex("<weakproxy at 0x[0-9a-fA-F]+; dead>")), dead);
}
#endif

// test_ref_reuse: CPython hands back its existing callback-less reference; here a construction
// always makes a new reference (PY-REF-15), and a copy is how a reference is reused.
// Checks [weakref.ref.general]/3; [weakref.ref.cons]/7.
BOOST_AUTO_TEST_CASE(PY_IMPL_9_cpython_ref_reuse) {
  auto o = make_instance();
  const wr::weak_ref r1(o);
  const wr::weak_proxy p(o); // an intervening creation makes no difference
  const wr::weak_ref r2 = r1;
  BOOST_TEST(r2.identical(r1));
  BOOST_TEST(!wr::weak_ref(o).identical(r1)); // a construction is a new reference
  BOOST_TEST(wr::weak_ref_count(o) == 2u);
  {
    auto o2 = make_instance();
    std::optional<wr::weak_proxy<c_object>> proxy(std::in_place, o2);
    const wr::weak_ref a(o2);
    const wr::weak_ref b = a;
    BOOST_TEST(b.identical(a));
    BOOST_TEST(wr::weak_ref_count(o2) == 2u);
    proxy.reset();
    BOOST_TEST(wr::weak_ref_count(o2) == 1u);
  }
}

// test_proxy_reuse: the same for proxies
// Checks [weakref.proxy.cons]/7.
BOOST_AUTO_TEST_CASE(PY_IMPL_9_cpython_proxy_reuse) {
  auto o = make_instance();
  const wr::weak_proxy p1(o);
  const wr::weak_ref r(o);
  const wr::weak_proxy p2 = p1;
  BOOST_TEST(p2.identical(p1));
  BOOST_TEST(wr::weak_ref_count(o) == 2u);
}

namespace {
// CPython's check_proxy: changes through the object show through the proxy and back.
template <class T>
void check_proxy(const std::shared_ptr<T>& o, const wr::weak_proxy<T>& proxy) {
  o->foo = 1;
  BOOST_TEST((proxy->foo == 1));
  o->foo = 2;
  BOOST_TEST((proxy->foo == 2));
  o->foo.reset();
  BOOST_TEST(!proxy->foo.has_value());
  proxy->foo = 1;
  BOOST_TEST((o->foo == 1));
  proxy->foo = 2;
  BOOST_TEST((o->foo == 2));
  proxy->foo.reset();
  BOOST_TEST(!o->foo.has_value());
}
} // namespace

// test_basic_proxy (UserList: std::vector; slices: iterator ranges)
// Checks [weakref.proxy.access]/3; [weakref.proxy.container]/3, /6 and /8; [weakref.proxy.ops]/6.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_basic_proxy) {
  auto o = make_instance();
  check_proxy(o, wr::weak_proxy(o));

  auto list = wr::make_shared<std::vector<int>>();
  const wr::weak_proxy p(list);
  BOOST_TEST(p.empty());
  p->push_back(12);
  BOOST_TEST(list->size() == 1u);
  BOOST_TEST(!p.empty());
  p->assign({2, 3});
  BOOST_TEST(list->size() == 2u);
  BOOST_TEST(p.size() == 2u);
  BOOST_TEST((std::ranges::find(p.begin(), p.end(), 3) != p.end()));
  p[1] = 5;
  BOOST_TEST((*list)[1] == 5);
  BOOST_TEST((p[1] == 5));
  auto list2 = wr::make_shared<std::vector<int>>(*list);
  const wr::weak_proxy p2(list2);
  BOOST_TEST((p == p2));
  std::vector<int> ten(10);
  for (int i = 0; i < 10; ++i) ten[static_cast<std::size_t>(i)] = i;
  auto list3 = wr::make_shared<std::vector<int>>(ten);
  const wr::weak_proxy p3(list3);
  BOOST_TEST((std::vector<int>(p3.begin(), p3.end()) == ten));
  BOOST_TEST(
      (std::vector<int>(p3.begin() + 5, p3.end()) == std::vector<int>(ten.begin() + 5, ten.end())));
  BOOST_TEST((std::vector<int>(p3.begin(), p3.begin() + 5) ==
              std::vector<int>(ten.begin(), ten.begin() + 5)));
  BOOST_TEST((std::vector<int>(p3.begin() + 2, p3.begin() + 5) ==
              std::vector<int>(ten.begin() + 2, ten.begin() + 5)));
}

namespace {
struct printable {
  int bytes() const { return 42; }
  friend std::ostream& operator<<(std::ostream& os, const printable&) { return os << "string"; }
};
} // namespace

// test_proxy_unicode: str() and bytes() of a proxy reach the referent's; here the referent's
// stream output and a conversion member
// Checks [weakref.proxy.ops]/4-5; [weakref.proxy.access]/3.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_proxy_unicode) {
  auto instance = wr::make_shared<printable>();
  const wr::weak_proxy p(instance);
  std::ostringstream os;
  os << p;
  BOOST_TEST(os.str() == "string");
  BOOST_TEST(p->bytes() == 42);
}

namespace {
struct indexable {
  explicit operator int() const { return 10; }
};
} // namespace

// test_proxy_index: C++ has no __index__ protocol; a proxy never converts implicitly, and the
// referent's integer conversion is reached through the pinned referent.
// Checks [weakref.proxy.access]/1.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_proxy_index) {
  auto o = wr::make_shared<indexable>();
  const wr::weak_proxy p(o);
  static_assert(!std::is_convertible_v<wr::weak_proxy<indexable>, int>);
  BOOST_TEST(static_cast<int>(*p.pin()) == 10);
}

namespace {
struct divides {
  friend int operator/(const divides&, int) { return 42; }
  int operator/=(int) { return 21; }
};
struct multiplies {
  friend int operator*(const multiplies&, int) { return 1729; }
  friend int operator*(int, const multiplies&) { return -163; }
  int operator*=(int) { return 561; }
};
} // namespace

// test_proxy_div (// and //= are / and /= in C++; Python rebinds p to the result of //=, C++
// returns it)
// Checks [weakref.proxy.ops]/5 and /10-12.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_proxy_div) {
  auto o = wr::make_shared<divides>();
  const wr::weak_proxy p(o);
  BOOST_TEST((p / 5) == 42);
  BOOST_TEST((p /= 5) == 21);
}

// test_proxy_matmul (C++ has no @: the same forwarding checked with *, its reflected form and *=)
// Checks [weakref.proxy.ops]/5 and /10-12.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_proxy_matmul) {
  auto o = wr::make_shared<multiplies>();
  const wr::weak_proxy p(o);
  BOOST_TEST((p * 5) == 1729);
  BOOST_TEST((5 * p) == -163);
  BOOST_TEST((p *= 5) == 561);
}

namespace {
// CPython's check_shared_without_callback: CPython shares one callback-less reference between
// all its makers; here every way of giving no callback (none, nullptr, a null pointer to
// function, an empty std::function) makes a reference without callback, each construction a new
// one, and copies share it.
template <template <class> class Handle>
void check_shared_without_callback() {
  using handle = Handle<object>;
  auto o = wr::make_shared<object>(1);
  void (*null_function)(handle) = nullptr;
  const std::function<void(handle)> empty_function;
  std::vector<handle> made;
  made.emplace_back(o);
  made.emplace_back(o, nullptr);
  made.emplace_back(o, null_function);
  made.emplace_back(o, empty_function);
  BOOST_TEST(wr::weak_ref_count(o) == made.size());
  for (std::size_t i = 0; i < made.size(); ++i)
    for (std::size_t j = 0; j < made.size(); ++j)
      BOOST_TEST(made[i].identical(made[j]) == (i == j));
  const handle copy = made.front();
  BOOST_TEST(copy.identical(made.front()));
  BOOST_TEST(wr::weak_ref_count(o) == made.size());
  recording_handler errors; // a callback that ran (there is none) could only be seen failing
  o.reset();
  BOOST_TEST(errors.messages().empty());
  for (const handle& h : made) BOOST_TEST(h.expired());
}
} // namespace

// test_shared_ref_without_callback
// Checks [weakref.ref.cons]/2, /5 and /7.
BOOST_AUTO_TEST_CASE(PY_REF_10_cpython_shared_ref_without_callback) {
  check_shared_without_callback<wr::weak_ref>();
}

// test_shared_proxy_without_callback
// Checks [weakref.proxy.cons]/2, /5 and /7.
BOOST_AUTO_TEST_CASE(PY_REF_10_cpython_shared_proxy_without_callback) {
  check_shared_without_callback<wr::weak_proxy>();
}

namespace {
struct callable_object { // CPython's Callable
  std::optional<int> foo;
  std::string bar;
  void operator()(std::string x) { bar = std::move(x); }
};
} // namespace

// test_callable_proxy (keyword arguments have no C++ counterpart; wrong argument counts are
// compile-time errors instead of TypeError)
// Checks [weakref.proxy.call]/1; [weakref.proxy.types]/2.
BOOST_AUTO_TEST_CASE(PY_PROXY_2_cpython_callable_proxy) {
  auto o = wr::make_shared<callable_object>();
  const wr::weak_proxy p(o);
  check_proxy(o, p);
  static_assert(wr::callable_proxy_type<wr::weak_proxy<callable_object>>);
  p("twinkies!");
  BOOST_TEST(o->bar == "twinkies!");
  p(std::string("Splat."));
  BOOST_TEST(o->bar == "Splat.");
  static_assert(!std::invocable<const wr::weak_proxy<callable_object>&>);                // too few
  static_assert(!std::invocable<const wr::weak_proxy<callable_object>&, int, int, int>); // many
}

namespace {
struct deletes_items {
  std::optional<int> result;
  void erase(int accessor) { result = accessor; }
};
} // namespace

// test_proxy_deletion (SF bug 762891): C++ has no `del p[i]`; deleting an item through the
// proxy is a forwarded member call
// Checks [weakref.proxy.access]/3.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_proxy_deletion) {
  auto g = wr::make_shared<deletes_items>();
  const wr::weak_proxy f(g);
  f->erase(0);
  BOOST_TEST((f->result == 0));
}

namespace {
struct list_like : std::vector<int> {
  explicit operator bool() const { return !empty(); }
};
} // namespace

// test_proxy_bool (SF bug 1170766)
// Checks [weakref.proxy.ops]/1.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_proxy_bool) {
  auto lyst = wr::make_shared<list_like>();
  const wr::weak_proxy p(lyst);
  BOOST_TEST(static_cast<bool>(p) == static_cast<bool>(*lyst));
  lyst->push_back(1);
  BOOST_TEST(static_cast<bool>(p) == static_cast<bool>(*lyst));
}

namespace {
// A referent that releases its only outside owner from inside a forwarded use, then checks
// that it is still intact (CPython's MyObj, whose __iter__ deletes the last reference).
struct self_releasing {
  static inline int alive = 0;
  std::shared_ptr<self_releasing>* owner = nullptr;
  int magic = 0x5EED;
  std::vector<int> items{1, 2, 3};
  self_releasing() { ++alive; }
  ~self_releasing() {
    magic = 0;
    --alive;
  }
  // Releases the owner; returns whether *this survived it (the proxy's pin keeps it).
  bool release() {
    owner->reset();
    return magic == 0x5EED && alive == 1;
  }
  bool operator()() { return release(); }
  bool operator[](int) { return release(); }
  auto begin() {
    static_cast<void>(release());
    return items.begin();
  }
  auto end() { return items.end(); }
  friend bool operator+(self_releasing& s, int) { return s.release(); }
};
} // namespace

// test_proxy_iter (bpo-38395): the referent's last owner is released in the middle of a call
// forwarded by the proxy; the proxy keeps it alive until the call returns, through every kind
// of forwarding.
// Checks [weakref.proxy.general]/3-4; [weakref.proxy.container]/8; [weakref.proxy.call]/2.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_proxy_iter_referent_killed_mid_call) {
  const auto fresh = [](std::shared_ptr<self_releasing>& owner) {
    owner = wr::make_shared<self_releasing>();
    owner->owner = &owner;
    return wr::weak_proxy<self_releasing>(owner);
  };
  std::shared_ptr<self_releasing> obj;
  {
    const auto p = fresh(obj);
    BOOST_TEST(p()); // call
    BOOST_TEST(self_releasing::alive == 0);
    BOOST_CHECK_THROW(p(), wr::reference_error);
  }
  {
    const auto p = fresh(obj);
    BOOST_TEST(p->release()); // member access
    BOOST_TEST(self_releasing::alive == 0);
  }
  {
    const auto p = fresh(obj);
    BOOST_TEST(static_cast<bool>(p[0])); // subscript
    BOOST_TEST(self_releasing::alive == 0);
  }
  {
    const auto p = fresh(obj);
    BOOST_TEST((p + 1)); // operator
    BOOST_TEST(self_releasing::alive == 0);
  }
  {
    const auto p = fresh(obj);
    int sum = 0;
    for (int i : p) sum += i; // iteration: the iterator owns the referent while it is used
    BOOST_TEST(sum == 6);
    BOOST_TEST(self_releasing::alive == 0);
    BOOST_CHECK_THROW(p.begin(), wr::reference_error);
  }
}

// test_proxy_next: an iteration driven through a proxy yields the referent's elements
// Checks [weakref.proxy.container]/8.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_proxy_next) {
  auto arr = wr::make_shared<std::vector<int>>(std::vector<int>{4, 5, 6});
  const wr::weak_proxy it(arr);
  std::vector<int> seen;
  for (int x : it) seen.push_back(x);
  BOOST_TEST((seen == std::vector<int>{4, 5, 6}));
}

// test_proxy_bad_next (bpo-44720): iterating a proxy whose referent is not iterable is rejected
// at compile time instead of raising TypeError
// Checks [weakref.proxy.call]/1.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_proxy_bad_next) {
  using not_an_iterator = int (*)();
  static_assert(!std::ranges::range<const wr::weak_proxy<not_an_iterator>&>);
  static_assert(std::ranges::range<const wr::weak_proxy<std::vector<int>>&>);
  auto f = wr::make_shared<not_an_iterator>(+[] { return 0; });
  const wr::weak_proxy p(f);
  BOOST_TEST(p() == 0); // what it is: callable
}

// test_proxy_reversed
// Checks [weakref.proxy.container]/5-6 and /8.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_proxy_reversed) {
  auto obj = wr::make_shared<std::string>("abc");
  const wr::weak_proxy p(obj);
  BOOST_TEST(p.size() == 3u);
  BOOST_TEST(std::string(p.rbegin(), p.rend()) == "cba");
}

// test_proxy_hash: a proxy is never hashable, even when its referent is
// Checks [weakref.proxy.general]/3.
BOOST_AUTO_TEST_CASE(PY_PROXY_4_cpython_proxy_hash) {
  struct unhashable {};
  static_assert(std_hashable<hashes_to_42>);
  static_assert(!std_hashable<wr::weak_proxy<hashes_to_42>>);
  static_assert(!std_hashable<wr::weak_proxy<unhashable>>);
  auto obj = wr::make_shared<hashes_to_42>();
  const wr::weak_proxy p(obj);
  BOOST_TEST(std::hash<hashes_to_42>{}(*p.pin()) == 42u); // the referent's own hash is still there
}

// test_getweakrefcount (an int is not weakly referenceable: here, an object std::make_shared made)
// Checks [weakref.introspection]/1.
BOOST_AUTO_TEST_CASE(PY_COUNT_1_cpython_getweakrefcount) {
  counter c;
  auto o = make_instance();
  std::optional<wr::weak_ref<c_object>> ref1(std::in_place, o);
  std::optional<wr::weak_ref<c_object>> ref2(std::in_place, o, c.ref_callback());
  BOOST_TEST(wr::weak_ref_count(o) == 2u);
  std::optional<wr::weak_proxy<c_object>> proxy1(std::in_place, o);
  std::optional<wr::weak_proxy<c_object>> proxy2(std::in_place, o, c.ref_callback());
  BOOST_TEST(wr::weak_ref_count(o) == 4u);
  ref1.reset();
  ref2.reset();
  proxy1.reset();
  proxy2.reset();
  BOOST_TEST(wr::weak_ref_count(o) == 0u);
  BOOST_TEST(wr::weak_ref_count(std::make_shared<int>(1)) == 0u);
}

// test_getweakrefs
// Checks [weakref.introspection]/3.
BOOST_AUTO_TEST_CASE(PY_REFS_1_cpython_getweakrefs) {
  counter c;
  {
    auto o = make_instance();
    std::optional<wr::weak_ref<c_object>> ref1(std::in_place, o, c.ref_callback());
    const wr::weak_ref ref2(o, c.ref_callback());
    ref1.reset();
    const auto refs = wr::weak_refs(o);
    BOOST_TEST(refs.size() == 1u);
    BOOST_TEST(listed(refs, ref2));
  }
  auto o = make_instance();
  std::optional<wr::weak_ref<c_object>> ref1(std::in_place, o, c.ref_callback());
  std::optional<wr::weak_ref<c_object>> ref2(std::in_place, o, c.ref_callback());
  ref2.reset();
  {
    const auto refs = wr::weak_refs(o);
    BOOST_TEST(refs.size() == 1u);
    BOOST_TEST(listed(refs, *ref1));
  }
  ref1.reset();
  BOOST_TEST(wr::weak_refs(o).empty());
  BOOST_TEST(wr::weak_refs(std::make_shared<int>(1)).empty());
}

// test_newstyle_number_ops (a float subclass: a double)
// Checks [weakref.proxy.ops]/5.
BOOST_AUTO_TEST_CASE(PY_PROXY_1_cpython_newstyle_number_ops) {
  auto f = wr::make_shared<double>(2.0);
  const wr::weak_proxy p(f);
  BOOST_TEST((p + 1.0) == 3.0);
  BOOST_TEST((1.0 + p) == 3.0);
}

namespace {
struct bogus_error {};
} // namespace

// test_callbacks_protected (SF bug 478534): a referent dies while an exception propagates; its
// callback runs and the exception arrives intact
// Checks [weakref.ref.death]/3.
BOOST_AUTO_TEST_CASE(PY_IMPL_8_cpython_callbacks_protected) {
  std::vector<wr::weak_ref<std::function<void()>>> data;
  int removed = 0;
  const auto remove = [&](wr::weak_ref<std::function<void()>> k) {
    const auto before = data.size();
    std::erase_if(data, [&](const auto& r) { return r.identical(k); });
    removed += static_cast<int>(before - data.size());
  };
  const auto encapsulate = [&] {
    auto f = wr::make_shared<std::function<void()>>([] {});
    data.emplace_back(f, remove);
    throw bogus_error{};
  };
  for (int round = 1; round <= 2; ++round) {
    bool caught = false;
    try {
      encapsulate();
    } catch (const bogus_error&) {
      caught = true;
    }
    BOOST_TEST(caught);
    BOOST_TEST(removed == round);
    BOOST_TEST(data.empty());
  }
}

namespace {
// A referent with a destructor of its own (CPython's ObjectWithDel), which may own another.
struct with_destructor {
  static inline int destroyed = 0;
  std::shared_ptr<with_destructor> inner;
  std::shared_ptr<with_destructor> other;
  ~with_destructor() { ++destroyed; }
};
} // namespace

// test_sf_bug_840829 and test_callback_gcs: a callback that runs CPython's collector. Here a
// callback releases other objects (deaths nested in the death), in a referent with its own
// destructor, and once more for a referent dying inside its owner's destruction.
// Checks [weakref.ref.general]/5; [weakref.ref.death]/6.
BOOST_AUTO_TEST_CASE(PY_IMPL_11_cpython_callback_releases_others_during_a_death) {
  with_destructor::destroyed = 0;
  int others_called = 0;
  std::vector<std::shared_ptr<with_destructor>> others;
  std::vector<wr::weak_ref<with_destructor>> other_refs;
  const auto make_others = [&] {
    for (int i = 0; i < 3; ++i) {
      others.push_back(wr::make_shared<with_destructor>());
      other_refs.emplace_back(others.back(), [&](auto) { ++others_called; });
    }
  };
  const auto collect = [&](wr::weak_ref<with_destructor>) { others.clear(); };
  {
    make_others();
    auto c = wr::make_shared<with_destructor>();
    const wr::weak_ref r(c, collect);
    c.reset();
    BOOST_TEST(with_destructor::destroyed == 4);
    BOOST_TEST(others_called == 3);
  }
  {
    make_others();
    auto c1 = wr::make_shared<with_destructor>();
    c1->inner = wr::make_shared<with_destructor>();
    const wr::weak_ref r(c1->inner, collect);
    auto c2 = wr::make_shared<with_destructor>();
    c2->other = c1;
    c1.reset(); // still alive: c2 owns it
    BOOST_TEST(with_destructor::destroyed == 4);
    c2.reset(); // c2, then c1, then c1->inner die, and the callback kills three more
    BOOST_TEST(with_destructor::destroyed == 10);
    BOOST_TEST(others_called == 6);
    BOOST_TEST(r.expired());
  }
}

namespace {
struct target {
  static inline std::optional<wr::weak_ref<target>> ref_from_del;
  static inline bool new_reference_refused = false;
  std::weak_ptr<target> self;
  std::optional<wr::weak_ref<target>> existing;
  ~target() {
    try {
      const wr::weak_ref<target> fresh(self); // no owner can be had any more
    } catch (const wr::type_error&) {
      new_reference_refused = true;
    }
    ref_from_del = existing; // a handle copied from an existing one is fine
  }
};
} // namespace

// test_ref_created_during_del (bug 1377858): a reference made in the referent's destructor.
// C++ cannot obtain an owner of an object being destroyed, so a new reference from its
// std::weak_ptr is refused (type_error); copying an existing handle works and stays usable.
// Checks [weakref.ref.death]/1; [weakref.ref.cons]/18; [weakref.ref.general]/5.
BOOST_AUTO_TEST_CASE(PY_IMPL_11_cpython_ref_created_during_del) {
  auto w = wr::make_shared<target>();
  w->self = w;
  w->existing.emplace(w);
  w.reset();
  BOOST_TEST(target::new_reference_refused);
  BOOST_TEST(target::ref_from_del.has_value());
  BOOST_TEST(target::ref_from_del->expired());
  BOOST_TEST((*target::ref_from_del)() == nullptr);
  target::ref_from_del.reset();
}

// test_classes (classes are not objects in C++): the callback receives the reference itself,
// here appended to a list by the callback
// Checks [weakref.ref.cons]/5; [weakref.ref.callback]/2.
BOOST_AUTO_TEST_CASE(PY_REF_13_cpython_classes) {
  std::vector<wr::weak_ref<c_object>> l;
  auto a_object = make_instance();
  const wr::weak_ref a(a_object, [&l](wr::weak_ref<c_object> r) { l.push_back(r); });
  a_object.reset();
  BOOST_TEST(a() == nullptr);
  BOOST_TEST(l.size() == 1u);
  BOOST_TEST(l.front().identical(a));
}

// test_equality, live part (comparing a ref with a non-ref, ALWAYS_EQ, does not compile here)
// Checks [weakref.ref.eq]/2.
BOOST_AUTO_TEST_CASE(PY_REF_6_cpython_equality_alive) {
  static_assert(!std::equality_comparable_with<wr::weak_ref<object>, object>);
  auto x = wr::make_shared<object>(1), y = wr::make_shared<object>(1),
       z = wr::make_shared<object>(2);
  const wr::weak_ref a(x), b(y), c(z), d(x);
  BOOST_TEST((a == b));
  BOOST_TEST(!(a != b));
  BOOST_TEST(!(a == c));
  BOOST_TEST((a != c));
  BOOST_TEST((a == d));
  BOOST_TEST(!(a != d));
}

// test_equality, dead part: by identity (a and d are distinct references here)
// Checks [weakref.ref.eq]/2.
BOOST_AUTO_TEST_CASE(PY_REF_19_cpython_equality_dead) {
  auto x = wr::make_shared<object>(1), y = wr::make_shared<object>(1),
       z = wr::make_shared<object>(2);
  const wr::weak_ref a(x), b(y), c(z), d(x);
  x.reset();
  y.reset();
  z.reset();
  for (const auto* r : {&a, &b, &c}) BOOST_TEST((*r)() == nullptr);
  BOOST_TEST(!(a == b));
  BOOST_TEST((a != b));
  BOOST_TEST(!(a == c));
  BOOST_TEST((a != c));
  BOOST_TEST((a == d) == a.identical(d));
  BOOST_TEST((a != d) == !a.identical(d));
  const wr::weak_ref e = a;
  BOOST_TEST((a == e)); // the same reference
}

// test_ordering: no ordering, alive or dead (a compile-time property)
// Checks [weakref.ref.eq]/6.
BOOST_AUTO_TEST_CASE(PY_REF_7_cpython_ordering) {
  static_assert(!any_ordering<wr::weak_ref<object>>);
  static_assert(std::equality_comparable<wr::weak_ref<object>>);
  auto x = wr::make_shared<object>(1);
  const wr::weak_ref a(x);
  BOOST_TEST((a == a));
}

// test_hashing, live and hashed before death
// Checks [weakref.ref.hash]/3 and /6.
BOOST_AUTO_TEST_CASE(PY_REF_18_cpython_hashing) {
  auto x = wr::make_shared<object>(42), y = wr::make_shared<object>(42);
  const wr::weak_ref a(x), b(y);
  const std::size_t h = std::hash<wr::weak_ref<object>>{}(a);
  BOOST_TEST(h == std::hash<int>{}(42));
  x.reset();
  y.reset();
  BOOST_TEST(std::hash<wr::weak_ref<object>>{}(a) == h);
}

// test_hashing, first hashed after death
// Checks [weakref.ref.hash]/4.
BOOST_AUTO_TEST_CASE(PY_REF_5_cpython_hashing_dead) {
  auto y = wr::make_shared<object>(42);
  const wr::weak_ref b(y);
  y.reset();
  BOOST_CHECK_THROW(std::hash<wr::weak_ref<object>>{}(b), wr::type_error);
}

namespace {
// CPython's C of test_trashcan_16602: a reference to its parent, whose callback looks at the
// node itself through a reference to it.
struct chain_node {
  static inline int alive = 0;
  int magic = 0x5EED;
  std::optional<wr::weak_ref<chain_node>> wparent;
  chain_node() { ++alive; }
  ~chain_node() {
    magic = 0;
    --alive;
  }
};
} // namespace

// test_trashcan_16602: a long chain of deaths (each key's value owns the next key) collapses
// inside the first one; every callback on the way sees its node alive and intact or gone. The
// chain is made far longer than CPython's 100, so that a recursive collapse would exhaust the
// stack.
// Checks [weakref.containers.general]/8; [weakref.ref.death]/6.
BOOST_AUTO_TEST_CASE(PY_IMPL_24_cpython_trashcan_16602) {
  constexpr int n = 100'000;
  wr::weak_key_map<chain_node, std::shared_ptr<chain_node>, wr::identity_hash<chain_node>,
                   wr::identity_equal<chain_node>>
      d;
  int callbacks = 0, torn = 0;
  const int before = chain_node::alive;
  auto root = wr::make_shared<chain_node>();
  std::shared_ptr<chain_node> c = root;
  for (int i = 0; i < n; ++i) {
    auto child = wr::make_shared<chain_node>();
    child->wparent.emplace(c, [&, wself = wr::weak_ref<chain_node>(child)](auto) {
      ++callbacks;
      if (const auto o = wself(); o && o->magic != 0x5EED) ++torn;
    });
    d[c] = child;
    c = std::move(child);
  }
  root.reset();
  BOOST_TEST(chain_node::alive == before + 1); // the last node: `c` owns it
  BOOST_TEST(callbacks == n);
  BOOST_TEST(torn == 0);
  BOOST_TEST(d.size() == 0u);
  BOOST_TEST(conformance::walked(d) == 0u);
}

// test_no_memory_when_clearing (gh-118331): memory runs out while a referent with 50 callbacks
// dies. The library's own steps of a death cannot fail; what can is user code: each callback
// fails with std::bad_alloc, and none of that escapes the release.
// Checks [weakref.ref.death]/3; [weakref.error.callback]/1.
BOOST_AUTO_TEST_CASE(PY_REF_3_cpython_no_memory_when_clearing) {
  recording_handler errors;
  const int before = c_object::alive;
  auto obj = make_instance();
  int calls = 0;
  std::vector<wr::weak_ref<c_object>> wrs;
  for (int i = 0; i < 50; ++i)
    wrs.emplace_back(obj, [&](auto) {
      ++calls;
      throw std::bad_alloc();
    });
  BOOST_CHECK_NO_THROW(obj.reset());
  BOOST_TEST(calls == 50);
  BOOST_TEST(errors.messages().size() == 50u);
  BOOST_TEST(c_object::alive == before);
}

// ---------------------------------------------------------------------------------------------
// SubclassableWeakrefTestCase

namespace {
struct my_ref : wr::weak_ref<object> {
  int value;
  mutable bool called = false;
  explicit my_ref(const std::shared_ptr<object>& ob, int v = 42)
      : wr::weak_ref<object>(ob), value(v) {}
  template <class F>
  my_ref(const std::shared_ptr<object>& ob, F&& callback)
      : wr::weak_ref<object>(ob, std::forward<F>(callback)), value(42) {}
  std::shared_ptr<object> operator()() const {
    called = true;
    return wr::weak_ref<object>::operator()();
  }
};
} // namespace

// test_subclass_refs
// Checks [weakref.ref.types]/2.
BOOST_AUTO_TEST_CASE(PY_SUB_3_cpython_subclass_refs) {
  auto o = wr::make_shared<object>(7);
  const my_ref mr(o, 24);
  BOOST_TEST(mr().get() == o.get());
  BOOST_TEST(mr.called);
  BOOST_TEST(mr.value == 24);
  o.reset();
  mr.called = false;
  BOOST_TEST(mr() == nullptr);
  BOOST_TEST(mr.called);
}

// test_subclass_refs_dont_replace_standard_refs: CPython lists its callback-less basic reference
// first; here the list is newest first (PY-REFS-1), whatever the references' classes
// Checks [weakref.introspection]/3.
BOOST_AUTO_TEST_CASE(PY_REFS_1_cpython_subclass_refs_dont_replace_standard_refs) {
  auto o = wr::make_shared<object>(42);
  const my_ref r1(o);
  const wr::weak_ref<object> r2(o);
  BOOST_TEST(!r1.identical(r2));
  {
    const auto refs = wr::weak_refs(o);
    BOOST_TEST(refs.size() == 2u);
    BOOST_TEST(std::get<0>(refs[0]).identical(r2));
    BOOST_TEST(std::get<0>(refs[1]).identical(r1));
  }
  BOOST_TEST(wr::weak_ref_count(o) == 2u);
  const my_ref r3(o);
  BOOST_TEST(wr::weak_ref_count(o) == 3u);
  const auto refs = wr::weak_refs(o);
  BOOST_TEST(refs.size() == 3u);
  BOOST_TEST(std::get<0>(refs[0]).identical(r3));
  BOOST_TEST(std::get<0>(refs[1]).identical(r2));
  BOOST_TEST(std::get<0>(refs[2]).identical(r1));
}

// test_subclass_refs_dont_conflate_callbacks
// Checks [weakref.ref.types]/2; [weakref.ref.cons]/5.
BOOST_AUTO_TEST_CASE(PY_SUB_1_cpython_subclass_refs_dont_conflate_callbacks) {
  auto o = wr::make_shared<object>(42);
  int first = 0, second = 0;
  const my_ref r1(o, [&](wr::weak_ref<object>) { ++first; });
  const my_ref r2(o, [&](wr::weak_ref<object>) { ++second; });
  BOOST_TEST(!r1.identical(r2));
  const auto refs = wr::weak_refs(o);
  BOOST_TEST(listed(refs, r1));
  BOOST_TEST(listed(refs, r2));
  o.reset();
  BOOST_TEST(first == 1);
  BOOST_TEST(second == 1);
}

namespace {
// CPython's MyRef of test_subclass_refs_with_cycle: a derived reference that may own its
// referent (r1.o = o) and another reference (r1.r = r2). Its callback is registered through
// self_callback, the member that makes the derived object Python's reference object.
struct owning_ref : wr::weak_ref<c_object> {
  std::shared_ptr<c_object> o;
  std::unique_ptr<owning_ref> r;
  template <class F>
  owning_ref(const std::shared_ptr<c_object>& ob, F&& callback)
      : on_death_(*this, ob, std::forward<F>(callback)) {}

private:
  wr::self_callback<owning_ref> on_death_; // the last member
};
// The same with the callback given to the weak_ref base directly.
struct plain_owning_ref : wr::weak_ref<c_object> {
  using wr::weak_ref<c_object>::weak_ref;
  std::shared_ptr<c_object> o;
};
} // namespace

// test_subclass_refs_with_cycle (bpo-3100): a reference that owns its referent's last owner is
// destroyed; the referent dies in that destruction, and the reference being destroyed is not
// called back. Once with the reference owning the referent, once with the referent owned by a
// second reference that the first owns.
// Checks [weakref.ref.self]/9; [weakref.ref.cons]/14.
BOOST_AUTO_TEST_CASE(PY_IMPL_23_cpython_subclass_refs_with_cycle) {
  int calls = 0;
  const auto callback = [&](owning_ref&) { ++calls; };
  const int before = c_object::alive;
  {
    auto o = make_instance();
    auto r1 = std::make_unique<owning_ref>(o, callback);
    r1->o = o;
    o.reset();
    BOOST_TEST(c_object::alive == before + 1);
    r1.reset();
    BOOST_TEST(c_object::alive == before);
    BOOST_TEST(calls == 0);
  }
  {
    auto o = make_instance();
    auto r1 = std::make_unique<owning_ref>(o, callback);
    auto r2 = std::make_unique<owning_ref>(o, callback);
    r2->o = o;
    r1->r = std::move(r2);
    o.reset();
    r1.reset();
    BOOST_TEST(c_object::alive == before);
    BOOST_TEST(calls == 0);
  }
  // Adapted: a callback given to the weak_ref base (not through self_callback) receives only
  // that base handle, which still exists while the derived members are destroyed, so it runs,
  // with a reference already cleared; it cannot reach the derived object being destroyed.
  {
    int plain_calls = 0;
    bool cleared = false;
    auto o = make_instance();
    auto r = std::make_unique<plain_owning_ref>(o, [&](wr::weak_ref<c_object> self) {
      ++plain_calls;
      cleared = self.expired();
    });
    r->o = o;
    o.reset();
    r.reset();
    BOOST_TEST(c_object::alive == before);
    BOOST_TEST(plain_calls == 1);
    BOOST_TEST(cleared);
  }
}

namespace {
// A referent that owns a reference to itself.
struct owns_its_reference {
  std::optional<wr::weak_ref<owns_its_reference>> self;
};
} // namespace

// Not a CPython test: the mirror case of bpo-3100, a reference owned by its own referent. It
// still exists when the referent dies (its owner is destroyed only after the callbacks, as
// CPython clears references before the instance's attributes), so it is called back, cleared,
// and then destroyed with the referent.
// Checks [weakref.ref.death]/1-2.
BOOST_AUTO_TEST_CASE(PY_REF_11_reference_owned_by_its_referent_is_called_back) {
  int calls = 0;
  bool cleared = false;
  auto o = wr::make_shared<owns_its_reference>();
  o->self.emplace(o, [&](wr::weak_ref<owns_its_reference> r) {
    ++calls;
    cleared = r.expired();
  });
  const std::weak_ptr<owns_its_reference> watch = o;
  o.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(cleared);
  BOOST_TEST(watch.expired());
}

// ---------------------------------------------------------------------------------------------
// ModuleTestCase

// test_names: the module's names (ReferenceType, ProxyType, CallableProxyType, WeakSet,
// WeakKeyDictionary, WeakValueDictionary; WeakMethod: issue 16) exist under the names the
// library gives them
// Checks [weakref.ref.types]/1; [weakref.proxy.types]/1-2.
BOOST_AUTO_TEST_CASE(PY_INTRO_13_cpython_module_names) {
  static_assert(wr::ref_type<wr::weak_ref<object>>);
  static_assert(wr::proxy_type<wr::weak_proxy<object>>);
  static_assert(wr::callable_proxy_type<wr::weak_proxy<callable_object>>);
  static_assert(wr::proxy_types<wr::weak_proxy<object>>);
  const wr::weak_set<object> s;
  const wr::weak_key_map<object, int> k;
  const wr::weak_value_map<int, object> v;
  BOOST_TEST(s.empty());
  BOOST_TEST(k.empty());
  BOOST_TEST(v.empty());
}

BOOST_AUTO_TEST_SUITE_END()
