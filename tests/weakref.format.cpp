// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <concepts>
#include <format>
#include <memory>
#include <regex>
#include <string>
#include <version>

#include "support.hpp"
import weakref;

using weakref_test::opaque;

namespace {

// [weakref.format]/5: formattable exactly when std::formatter<X, char> is enabled (a disabled
// specialization is not default constructible, [format.formatter.spec]/5).
template <class X>
concept formattable = std::semiregular<std::formatter<X, char>>;

struct Shape {
  virtual ~Shape() = default;
};
struct Circle : Shape {
  int r = 1;
};

// A type with neither std::formatter nor ==: weak references to it still format, containers of
// it do not.
struct secret {
  int value = 0;
};
struct secret_hash {
  std::size_t operator()(const secret& s) const noexcept { return std::hash<int>{}(s.value); }
};
struct secret_equal {
  bool operator()(const secret& a, const secret& b) const noexcept { return a.value == b.value; }
};

// The address std::format writes for a pointer (0x followed by lowercase hex digits).
std::string address(const void* p) { return std::format("{}", p); }

// A derived ref (Python: a ref subclass) formats as its base.
struct tagged_ref : weakref::weak_ref<int> {
  using weakref::weak_ref<int>::weak_ref;
};

} // namespace

static_assert(formattable<weakref::weak_ref<int>>);
static_assert(formattable<weakref::weak_ref<secret>>);
static_assert(formattable<tagged_ref>);
static_assert(formattable<weakref::weak_proxy<secret>>);
static_assert(formattable<weakref::weak_value_map<std::string, int>>);
static_assert(formattable<weakref::weak_key_map<int, std::string>>);
static_assert(formattable<weakref::weak_set<int>>);
static_assert(formattable<weakref::pmr::weak_set<int>>);
// [weakref.format]/5 Constraints: the elements are formattable.
static_assert(!formattable<weakref::weak_value_map<int, secret>>);
static_assert(!formattable<weakref::weak_value_map<secret, int, secret_hash, secret_equal>>);
static_assert(!formattable<weakref::weak_key_map<secret, int, secret_hash, secret_equal>>);
static_assert(!formattable<weakref::weak_key_map<int, secret>>);
static_assert(!formattable<weakref::weak_set<secret, secret_hash, secret_equal>>);

BOOST_AUTO_TEST_SUITE(format)

BOOST_AUTO_TEST_SUITE(ref)

// [weakref.format]/2 Python: repr(r) is "<weakref at 0x...; to 'T' at 0x...>".
BOOST_AUTO_TEST_CASE(live_ref_names_type_and_address) {
  auto p = weakref::make_shared<opaque>();
  weakref::weak_ref<opaque> r(p);
  const std::string text = std::format("{}", r);
  const std::regex repr("<weakref at 0x[0-9a-f]+; to 'weakref_test::opaque' at (0x[0-9a-f]+)>");
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_match(text, m, repr), text);
  BOOST_TEST(m[1].str() == address(p.get()));
}

// [weakref.format]/2 Python: "<weakref at 0x...; dead>" once the referent is gone; the ref's own
// address does not change.
BOOST_AUTO_TEST_CASE(dead_ref_says_dead) {
  auto p = weakref::make_shared<int>(1);
  weakref::weak_ref<int> r(p);
  const std::string alive = std::format("{}", r);
  p.reset();
  const std::string dead = std::format("{}", r);
  const std::regex repr("<weakref at (0x[0-9a-f]+); dead>");
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_match(dead, m, repr), dead);
  BOOST_TEST(alive.starts_with("<weakref at " + m[1].str() + "; to 'int' at 0x"), alive);
}

// [weakref.format]/2 The ref's address is the weak reference object's: copies share it, another
// reference to the same referent has its own ([weakref.ref.general]/3).
BOOST_AUTO_TEST_CASE(copies_share_the_address_other_refs_do_not) {
  auto p = weakref::make_shared<int>(1);
  weakref::weak_ref<int> r(p);
  weakref::weak_ref<int> copy = r;
  weakref::weak_ref<int> other(p);
  BOOST_TEST(std::format("{}", r) == std::format("{}", copy));
  BOOST_TEST(std::format("{}", r) != std::format("{}", other));
}

// [weakref.format]/2-3 The dynamic type and the most derived object's address, as Python's
// type(o).__name__ and id(o).
BOOST_AUTO_TEST_CASE(dynamic_type_and_most_derived_address) {
  std::shared_ptr<Circle> circle = weakref::make_shared<Circle>();
  std::shared_ptr<Shape> shape = circle;
  weakref::weak_ref<Shape> r(shape);
  BOOST_TEST(std::format("{}", r).ends_with("; to '(anonymous namespace)::Circle' at " +
                                            address(circle.get()) + ">"),
             std::format("{}", r));
}

// [weakref.format]/2 An empty handle (default-constructed or moved-from) has no reference
// object: its address is null and it is dead.
BOOST_AUTO_TEST_CASE(empty_ref) {
  weakref::weak_ref<int> r;
  BOOST_TEST(std::format("{}", r) == std::format("<weakref at {}; dead>", address(nullptr)));
}

// Checks [weakref.format]/2.
BOOST_AUTO_TEST_CASE(derived_ref_formats_as_weakref) {
  auto p = weakref::make_shared<int>(1);
  tagged_ref r(p);
  BOOST_TEST(std::format("{}", r) ==
             std::format("{}", static_cast<const weakref::weak_ref<int>&>(r)));
}

// [weakref.format]/1 No format-spec.
BOOST_AUTO_TEST_CASE(format_spec_is_rejected) {
  auto p = weakref::make_shared<int>(1);
  weakref::weak_ref<int> r(p);
  const std::string spec = "{:>40}";
  BOOST_CHECK_THROW((void)std::vformat(spec, std::make_format_args(r)), std::format_error);
}

BOOST_AUTO_TEST_SUITE_END() // ref

BOOST_AUTO_TEST_SUITE(proxy)

// [weakref.format]/4 Python: repr(proxy) is "<weakproxy at 0x...; to 'T' at 0x...>", and a dead
// proxy formats without throwing reference_error.
BOOST_AUTO_TEST_CASE(live_and_dead_proxy) {
  auto p = weakref::make_shared<std::string>("text");
  weakref::weak_proxy<std::string> proxy(p);
  const std::string alive = std::format("{}", proxy);
  BOOST_TEST(alive.starts_with("<weakproxy at 0x"), alive);
  BOOST_TEST(alive.ends_with("' at " + address(p.get()) + ">"), alive);
  BOOST_TEST(alive.find("basic_string") != std::string::npos, alive);
  p.reset();
  const std::string dead = std::format("{}", proxy);
  BOOST_TEST(std::regex_match(dead, std::regex("<weakproxy at 0x[0-9a-f]+; dead>")), dead);
}

BOOST_AUTO_TEST_SUITE_END() // proxy

BOOST_AUTO_TEST_SUITE(python3)

// [weakref.format]/6 Python 3.4: repr(finalize) is "<finalize object at 0x...; for 'T' at 0x...>"
// while it is alive, "<finalize object at 0x...; dead>" once called, detached or empty.
BOOST_AUTO_TEST_CASE(finalize_alive_and_dead) {
  auto p = weakref::make_shared<opaque>();
  weakref::finalize f(p, [] {});
  const std::string alive = std::format("{}", f);
  const std::regex live_repr("<finalize object at (0x[0-9a-f]+); for 'weakref_test::opaque' at " +
                             address(p.get()) + ">");
  std::smatch m;
  BOOST_TEST_REQUIRE(std::regex_match(alive, m, live_repr), alive);
  const std::string self = m[1];
  f();
  BOOST_TEST(std::format("{}", f) == "<finalize object at " + self + "; dead>");
  BOOST_TEST(std::format("{}", decltype(f)()) == "<finalize object at 0x0; dead>");
}

// [weakref.format]/7 A weak_method formats as its reference to the object, as Python's
// WeakMethod (a ref) does.
BOOST_AUTO_TEST_CASE(weak_method_as_its_reference) {
  struct counter {
    int n = 0;
    void add(int k) { n += k; }
  };
  auto p = weakref::make_shared<counter>();
  weakref::weak_method m(p, &counter::add);
  BOOST_TEST(std::format("{}", m) == std::format("{}", m.ref()));
  BOOST_TEST(std::format("{}", m).starts_with("<weakref at 0x"));
  p.reset();
  BOOST_TEST(std::format("{}", m).ends_with("; dead>"));
}

BOOST_AUTO_TEST_SUITE_END() // python3

BOOST_AUTO_TEST_SUITE(containers)

// [weakref.format]/5 As std formats a set: "{a, b}", live elements only.
BOOST_AUTO_TEST_CASE(set_lists_live_elements) {
  auto a = weakref::make_shared<int>(1);
  auto b = weakref::make_shared<int>(2);
  weakref::weak_set<int> s{a, b};
  const std::string both = std::format("{}", s);
  BOOST_TEST((both == "{1, 2}" || both == "{2, 1}"), both);
  b.reset();
  BOOST_TEST(std::format("{}", s) == "{1}");
  a.reset();
  BOOST_TEST(std::format("{}", s) == "{}");
}

// [weakref.format]/5 As std formats a map: "{k: v}", the value being the referent.
BOOST_AUTO_TEST_CASE(value_map_writes_key_and_referent) {
  auto v = weakref::make_shared<int>(42);
  weakref::weak_value_map<int, int> m;
  m[7] = v;
  BOOST_TEST(std::format("{}", m) == "{7: 42}");
  v.reset();
  BOOST_TEST(std::format("{}", m) == "{}");
}

// Checks [weakref.format]/5.
BOOST_AUTO_TEST_CASE(key_map_writes_referent_and_value) {
  auto k = weakref::make_shared<int>(3);
  weakref::weak_key_map<int, double> m;
  m[k] = 0.5;
  BOOST_TEST(std::format("{}", m) == "{3: 0.5}");
  k.reset();
  BOOST_TEST(std::format("{}", m) == "{}");
}

// [weakref.format]/5 Strings are written with the debug format where the standard library has
// one (C++23, as std::range_formatter does), else as by "{}".
BOOST_AUTO_TEST_CASE(strings_as_the_standard_writes_them_in_ranges) {
  auto v = weakref::make_shared<std::string>("logo.png");
  weakref::pmr::weak_value_map<std::string, std::string> m;
  m["logo"] = v;
#if defined(__cpp_lib_format_ranges)
  BOOST_TEST(std::format("{}", m) == R"({"logo": "logo.png"})");
#else
  BOOST_TEST(std::format("{}", m) == "{logo: logo.png}");
#endif
}

BOOST_AUTO_TEST_SUITE_END() // containers

BOOST_AUTO_TEST_SUITE_END() // format
