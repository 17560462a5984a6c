// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "support.hpp"
import weakref;

using weakref::weak_proxy;
using weakref::weak_ref;
using weakref_test::opaque;
using weakref_test::tracked;

namespace {

constexpr const char* python_reference_error = "weakly-referenced object no longer exists";

// BOOST_CHECK_EXCEPTION predicate: the exception carries Python's ReferenceError message.
bool has_python_message(const weakref::reference_error& e) {
  return std::string(e.what()) == python_reference_error;
}

// A referent with data members and member functions, for ->.
struct widget {
  int value = 0;
  std::string name;
  int twice() const { return 2 * value; }
  void set(int v) { value = v; }
};

// A member function that releases the last owner other than the proxy's pin while it runs.
struct drops_its_owner {
  tracked guard{0};
  std::shared_ptr<drops_its_owner>* owner = nullptr;
  int drop_owner_then_count_alive() {
    owner->reset();
    return tracked::alive.load();
  }
};

// A callable referent: the "callable object" of CallableProxyType.
struct adder {
  int base = 0;
  int calls = 0;
  int operator()(int a, int b) {
    ++calls;
    return base + a + b;
  }
};

// A callable referent that returns a reference into itself.
struct slot {
  int v = 0;
  int& operator()() { return v; }
};

// A callable referent that releases its last other owner while it is being called.
struct drops_owner_when_called {
  tracked guard{0};
  std::shared_ptr<drops_owner_when_called>* owner = nullptr;
  int operator()() {
    owner->reset();
    return tracked::alive.load();
  }
};

struct plain {
  int value = 0;
};

struct not_callable {
  int value = 0;
};

// Detection of the forwarded operators and members, as concepts so that an absent operator is
// a substitution failure rather than an ill-formed program.
template <class P>
concept has_plus = requires(P p) { p + 1; };
template <class P>
concept has_reversed_plus = requires(P p) { 1 + p; };
template <class P>
concept has_proxy_plus_proxy = requires(P p, P q) { p + q; };
template <class P>
concept has_less = requires(P p) { p < 1; };
template <class P>
concept has_equal_to_int = requires(P p) { p == 1; };
template <class P>
concept has_negate = requires(P p) { -p; };
template <class P>
concept has_not = requires(P p) { !p; };
template <class P>
concept has_complement = requires(P p) { ~p; };
template <class P>
concept has_pre_increment = requires(P p) { ++p; };
template <class P>
concept has_post_decrement = requires(P p) { p--; };
template <class P>
concept has_plus_assign = requires(P p) { p += 1; };
template <class P>
concept has_subscript = requires(P p) { p[0]; };
template <class P>
concept has_size = requires(P p) { p.size(); };
template <class P>
concept has_empty = requires(P p) { p.empty(); };
template <class P>
concept has_begin = requires(P p) { p.begin(); };
template <class A, class B>
concept equality_between = requires(const A& a, const B& b) {
  a == b;
  a != b;
};
template <class A, class B>
concept less_between = requires(const A& a, const B& b) { a < b; };
template <class P>
concept has_hash_member = requires(P p) { p.hash(); };

} // namespace

BOOST_AUTO_TEST_SUITE(proxy)

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(access)

// Python proxy(): "supports use of the proxy in most contexts instead of requiring the explicit dereferencing"
// Checks [weakref.proxy.access]/3.
BOOST_AUTO_TEST_CASE(arrow_forwards_to_member) {
  auto obj = weakref::make_shared<widget>(widget{21, "w"});
  weak_proxy<widget> p(obj);
  BOOST_TEST(p->value == 21);
  BOOST_TEST(p->name == "w");
  BOOST_TEST(p->twice() == 42);
  p->set(5);
  BOOST_TEST(obj->value == 5);
  p->value = 8;
  BOOST_TEST(obj->value == 8);
}

// [weakref.proxy.access]/3 "owns the referent until the end of the full-expression"
BOOST_AUTO_TEST_CASE(arrow_pins_referent_for_full_expression) {
  const int before = tracked::alive;
  auto obj = weakref::make_shared<drops_its_owner>();
  obj->owner = &obj;
  weak_proxy<drops_its_owner> p(obj);
  BOOST_TEST(tracked::alive == before + 1);
  const int alive_during_call = p->drop_owner_then_count_alive();
  BOOST_TEST(alive_during_call == before + 1); // not destroyed while its member function ran
  BOOST_TEST(!obj);
  BOOST_TEST(tracked::alive == before); // destroyed once the full-expression ended
  BOOST_TEST(p.expired());
}

// [weakref.proxy.general]/4 No operator*: a reference to the referent would outlive the owner
// obtained for it. *p.pin() is the referent, owned for the full-expression.
template <class P>
concept dereferenceable = requires(const P& p) { *p; };
// Checks [weakref.proxy.general]/4; [weakref.proxy.access]/1.
BOOST_AUTO_TEST_CASE(no_star_the_referent_is_reached_through_pin) {
  static_assert(!dereferenceable<weak_proxy<widget>>);
  static_assert(!dereferenceable<weak_proxy<int>>);
  auto obj = weakref::make_shared<widget>(widget{3, "x"});
  weak_proxy<widget> p(obj);
  BOOST_TEST(&*p.pin() == obj.get());
  p.pin()->value = 17;
  BOOST_TEST(obj->value == 17);
}

// [weakref.proxy.access]/1 pin() "Returns: an owner of the referent"
BOOST_AUTO_TEST_CASE(pin_returns_an_owner_that_keeps_referent_alive) {
  const int before = tracked::alive;
  auto obj = weakref::make_shared<tracked>(4);
  weak_proxy<tracked> p(obj);
  std::shared_ptr<tracked> owner = p.pin();
  BOOST_TEST(owner.get() == obj.get());
  BOOST_TEST(obj.use_count() == 2);
  obj.reset();
  BOOST_TEST(tracked::alive == before + 1);
  BOOST_TEST(!p.expired());
  BOOST_TEST(p->value == 4);
  owner.reset();
  BOOST_TEST(tracked::alive == before);
  BOOST_TEST(p.expired());
}

// PY-INTRO-1 "A weak reference to an object is not enough to keep the object alive" (also for proxies)
// Checks [weakref.proxy.cons]/2; [weakref.proxy.obs]/1.
BOOST_AUTO_TEST_CASE(proxy_does_not_keep_referent_alive) {
  const int before = tracked::alive;
  auto obj = weakref::make_shared<tracked>(1);
  weak_proxy<tracked> p(obj);
  BOOST_TEST(obj.use_count() == 1);
  obj.reset();
  BOOST_TEST(tracked::alive == before);
  BOOST_TEST(p.expired());
}

// [weakref.proxy.obs] "The escape hatches of C++ ...: they never throw"
// Checks [weakref.proxy.obs]/1.
BOOST_AUTO_TEST_CASE(lock_and_expired_never_throw) {
  static_assert(noexcept(std::declval<const weak_proxy<int>&>().lock()));
  static_assert(noexcept(std::declval<const weak_proxy<int>&>().expired()));
  auto obj = weakref::make_shared<int>(9);
  weak_proxy<int> p(obj);
  BOOST_TEST(!p.expired());
  BOOST_TEST((p.lock() == obj));
  obj.reset();
  BOOST_CHECK_NO_THROW(static_cast<void>(p.lock()));
  BOOST_CHECK_NO_THROW(static_cast<void>(p.expired()));
  BOOST_TEST(!p.lock());
  BOOST_TEST(p.expired());
  weak_proxy<int> empty;
  BOOST_TEST(!empty.lock());
  BOOST_TEST(empty.expired());
}

BOOST_AUTO_TEST_SUITE_END() // access

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(ops)

// [weakref.proxy.ops]/3 "Binary operators forward to the referent" (proxy on the left)
// Checks [weakref.proxy.ops]/5.
BOOST_AUTO_TEST_CASE(arithmetic_with_proxy_on_the_left) {
  auto obj = weakref::make_shared<int>(12);
  weak_proxy<int> p(obj);
  BOOST_TEST((p + 3) == 15);
  BOOST_TEST((p - 5) == 7);
  BOOST_TEST((p * 2) == 24);
  BOOST_TEST((p / 5) == 2);
  BOOST_TEST((p % 5) == 2);
  BOOST_TEST(*obj == 12); // a binary operator does not mutate
}

// [weakref.proxy.ops]/3 "with a proxy operand on either side unwrapped" (proxy on the right)
// Checks [weakref.proxy.ops]/5.
BOOST_AUTO_TEST_CASE(arithmetic_with_proxy_on_the_right) {
  auto obj = weakref::make_shared<int>(4);
  weak_proxy<int> p(obj);
  BOOST_TEST((3 + p) == 7);
  BOOST_TEST((10 - p) == 6);
  BOOST_TEST((5 * p) == 20);
  BOOST_TEST((18 / p) == 4);
  BOOST_TEST((18 % p) == 2);
}

// [weakref.proxy.ops]/3 bitwise and shift operators, both operand orders
// Checks [weakref.proxy.ops]/5.
BOOST_AUTO_TEST_CASE(bitwise_and_shift_in_both_orders) {
  auto obj = weakref::make_shared<int>(0b1100);
  weak_proxy<int> p(obj);
  BOOST_TEST((p & 0b1010) == 0b1000);
  BOOST_TEST((0b1010 & p) == 0b1000);
  BOOST_TEST((p | 0b0011) == 0b1111);
  BOOST_TEST((0b0011 | p) == 0b1111);
  BOOST_TEST((p ^ 0b0110) == 0b1010);
  BOOST_TEST((0b0110 ^ p) == 0b1010);
  BOOST_TEST((p << 1) == 0b11000);
  BOOST_TEST((1 << p) == 4096);
  BOOST_TEST((p >> 2) == 0b11);
  BOOST_TEST((65536 >> p) == 16);
}

// [weakref.proxy.ops]/3 comparisons forward to the referent, both operand orders
// Checks [weakref.proxy.ops]/5-6.
BOOST_AUTO_TEST_CASE(comparisons_in_both_orders) {
  auto obj = weakref::make_shared<int>(5);
  weak_proxy<int> p(obj);
  BOOST_TEST((p < 6));
  BOOST_TEST(!(p < 5));
  BOOST_TEST((4 < p));
  BOOST_TEST(!(5 < p));
  BOOST_TEST((p > 4));
  BOOST_TEST((6 > p));
  BOOST_TEST((p <= 5));
  BOOST_TEST(!(p <= 4));
  BOOST_TEST((5 <= p));
  BOOST_TEST((p >= 5));
  BOOST_TEST(!(4 >= p));
  BOOST_TEST((p == 5));
  BOOST_TEST((5 == p));
  BOOST_TEST(!(p == 6));
  BOOST_TEST((p != 6));
  BOOST_TEST((6 != p));
  BOOST_TEST(!(p != 5));
}

// [weakref.proxy.ops]/3 "a proxy operand on either side unwrapped": proxy op proxy
// Checks [weakref.proxy.ops]/5-6.
BOOST_AUTO_TEST_CASE(proxy_op_proxy_unwraps_both) {
  auto a = weakref::make_shared<int>(7);
  auto b = weakref::make_shared<int>(3);
  const weak_proxy<int> p(a);
  const weak_proxy<int> q(b);
  BOOST_TEST((p + q) == 10);
  BOOST_TEST((p - q) == 4);
  BOOST_TEST((q - p) == -4);
  BOOST_TEST((p * q) == 21);
  BOOST_TEST((p % q) == 1);
  BOOST_TEST((p < q) == false);
  BOOST_TEST((q < p) == true);
  BOOST_TEST((p >= q) == true);
  BOOST_TEST((p == q) == false);
  BOOST_TEST((p != q) == true);
  *b = 7;
  BOOST_TEST((p == q) == true); // equality of referents, not identity of proxies
}

// [weakref.proxy.ops]/3 proxy op proxy with non-const lvalue proxies (the common spelling);
// `p == q` must not be an ambiguous reversed-operator use ([over.match.oper]/9)
// Checks [weakref.proxy.ops]/5-6.
BOOST_AUTO_TEST_CASE(proxy_op_proxy_with_mutable_proxies) {
  auto a = weakref::make_shared<int>(2);
  auto b = weakref::make_shared<int>(2);
  weak_proxy<int> p(a);
  weak_proxy<int> q(b);
  const weak_proxy<int>& cq = q;
  BOOST_TEST((p + q) == 4);
  BOOST_TEST((p < q) == false);
  BOOST_TEST((p <= q) == true);
  BOOST_TEST((p == q) == true);
  BOOST_TEST((p != q) == false);
  BOOST_TEST((p == cq) == true);
  BOOST_TEST((cq == p) == true);
  *b = 3;
  BOOST_TEST((p == q) == false);
  BOOST_TEST((q != p) == true);
}

// [weakref.proxy.ops]/3 "a proxy operand on either side unwrapped" also when the element types
// differ (Python: proxy(a) == proxy(b) is a == b): every binary operator, == included
// Checks [weakref.proxy.ops]/5-6.
BOOST_AUTO_TEST_CASE(proxy_op_proxy_of_different_element_types) {
  auto a = weakref::make_shared<int>(2);
  auto c = weakref::make_shared<long>(2);
  weak_proxy<int> p(a);
  weak_proxy<long> r(c);
  BOOST_TEST((p + r) == 4L);
  BOOST_TEST((r * p) == 4L);
  BOOST_TEST((p < r) == false);
  BOOST_TEST((r >= p) == true);
  static_assert(less_between<weak_proxy<int>, weak_proxy<long>>);
  // Checked at run time so that the rest of the suite still builds while this fails.
  constexpr bool int_eq_long = equality_between<weak_proxy<int>, weak_proxy<long>>;
  constexpr bool long_eq_int = equality_between<weak_proxy<long>, weak_proxy<int>>;
  BOOST_TEST(int_eq_long);
  BOOST_TEST(long_eq_int);
}

// [weakref.proxy.ops]/3 class-type referent: non-commutative + on std::string, both orders
// Checks [weakref.proxy.ops]/5.
BOOST_AUTO_TEST_CASE(string_concatenation_keeps_operand_order) {
  auto obj = weakref::make_shared<std::string>("mid");
  weak_proxy<std::string> p(obj);
  const std::string left = "<" + p;
  const std::string right = p + ">";
  BOOST_TEST(left == "<mid");
  BOOST_TEST(right == "mid>");
  BOOST_TEST((p == std::string("mid")));
  BOOST_TEST((std::string("mid") == p));
  BOOST_TEST((p < std::string("n")));
}

// [weakref.proxy.ops] equality uses the referent's own == (tracked compares value): with a value
// on either side (/6-7), and between two proxies, whose referents are both compared (/8-9).
// Checks [weakref.proxy.ops]/6-9.
BOOST_AUTO_TEST_CASE(equality_uses_referent_operator) {
  auto obj = weakref::make_shared<tracked>(3);
  weak_proxy<tracked> p(obj);
  BOOST_TEST((p == tracked(3)));
  BOOST_TEST((tracked(3) == p));
  BOOST_TEST((p != tracked(4)));
  auto same = weakref::make_shared<tracked>(3), other = weakref::make_shared<tracked>(4);
  weak_proxy<tracked> q(same), r(other);
  BOOST_TEST((p == q)); // distinct objects, equal values
  BOOST_TEST((q == p));
  BOOST_TEST((p != r));
  BOOST_TEST(!(r == p));
  other.reset(); // a dead proxy on either side throws, as any forwarded operation
  BOOST_CHECK_THROW((void)(p == r), weakref::reference_error);
  BOOST_CHECK_THROW((void)(r == p), weakref::reference_error);
}

// [weakref.proxy.ops]/10 "Compound assignment acts on the referent and yields the proxy"
// Checks [weakref.proxy.ops]/11.
BOOST_AUTO_TEST_CASE(compound_assignment_mutates_referent) {
  auto obj = weakref::make_shared<int>(10);
  weak_proxy<int> p(obj);
  p += 5;
  BOOST_TEST(*obj == 15);
  p -= 3;
  BOOST_TEST(*obj == 12);
  p *= 2;
  BOOST_TEST(*obj == 24);
  p /= 5;
  BOOST_TEST(*obj == 4);
  p %= 3;
  BOOST_TEST(*obj == 1);
  p <<= 4;
  BOOST_TEST(*obj == 16);
  p >>= 1;
  BOOST_TEST(*obj == 8);
  p |= 3;
  BOOST_TEST(*obj == 11);
  p &= 6;
  BOOST_TEST(*obj == 2);
  p ^= 7;
  BOOST_TEST(*obj == 5);
}

// [weakref.proxy.ops]/10 "yields the proxy" (Python: `p += x` rebinds p to what __iadd__ returns)
// Checks [weakref.proxy.ops]/11-12.
BOOST_AUTO_TEST_CASE(compound_assignment_yields_the_proxy) {
  auto obj = weakref::make_shared<int>(1);
  weak_proxy<int> p(obj);
  const weak_proxy<int>& result = (p += 1);
  BOOST_TEST(&result == &p);
  (p += 1) *= 10;
  BOOST_TEST(*obj == 30);
}

// A referent whose in-place operators return something other than itself: a count, or nothing.
struct counter {
  int total = 0;
  int operator+=(int n) { return total += n; }
  void operator-=(int n) { total -= n; }
};

// [weakref.proxy.ops]/10 Python's proxy yields what the referent's in-place operator returned,
// unless that is the referent itself (then the proxy): `p /= 5` is not always the proxy.
// Checks [weakref.proxy.ops]/12.
BOOST_AUTO_TEST_CASE(compound_assignment_yields_the_referents_result_when_not_the_referent) {
  auto obj = weakref::make_shared<counter>();
  weak_proxy<counter> p(obj);
  static_assert(std::is_same_v<decltype(p += 1), int>);
  static_assert(std::is_void_v<decltype(p -= 1)>);
  static_assert(
      std::is_same_v<decltype(std::declval<weak_proxy<int>&>() /= 5), const weak_proxy<int>&>);
  BOOST_TEST((p += 4) == 4);
  BOOST_TEST((p += 3) == 7);
  p -= 2;
  BOOST_TEST(obj->total == 5);
}

// [weakref.proxy.ops]/10 a proxy on the right of a compound assignment is unwrapped
// Checks [weakref.proxy.ops]/11.
BOOST_AUTO_TEST_CASE(compound_assignment_with_proxy_operand) {
  auto a = weakref::make_shared<int>(10);
  auto b = weakref::make_shared<int>(4);
  weak_proxy<int> p(a);
  weak_proxy<int> q(b);
  p += q;
  BOOST_TEST(*a == 14);
  BOOST_TEST(*b == 4);
  auto s = weakref::make_shared<std::string>("ab");
  weak_proxy<std::string> ps(s);
  ps += "cd";
  BOOST_TEST(*s == "abcd");
}

// [weakref.proxy.ops]/13 "Unary operators and increments"
// Checks [weakref.proxy.ops]/14.
BOOST_AUTO_TEST_CASE(unary_operators_forward) {
  auto obj = weakref::make_shared<int>(6);
  weak_proxy<int> p(obj);
  BOOST_TEST(-p == -6);
  BOOST_TEST(+p == 6);
  BOOST_TEST(~p == ~6);
  BOOST_TEST(!p == false);
  *obj = 0;
  BOOST_TEST(!p == true);
  BOOST_TEST(*obj == 0); // unary operators do not mutate
}

// [weakref.proxy.ops]/13 prefix ++/-- mutate the referent and yield the proxy
// Checks [weakref.proxy.ops]/14.
BOOST_AUTO_TEST_CASE(prefix_increment_and_decrement) {
  auto obj = weakref::make_shared<int>(1);
  weak_proxy<int> p(obj);
  const weak_proxy<int>& r = ++p;
  BOOST_TEST(&r == &p);
  BOOST_TEST(*obj == 2);
  --p;
  --p;
  BOOST_TEST(*obj == 0);
}

// [weakref.proxy.ops]/13 postfix ++/-- mutate the referent and yield the old value
// Checks [weakref.proxy.ops]/14.
BOOST_AUTO_TEST_CASE(postfix_increment_and_decrement) {
  auto obj = weakref::make_shared<int>(5);
  weak_proxy<int> p(obj);
  const int old = p++;
  BOOST_TEST(old == 5);
  BOOST_TEST(*obj == 6);
  const int older = p--;
  BOOST_TEST(older == 6);
  BOOST_TEST(*obj == 5);
}

// [weakref.proxy.ops]/1 "bool(proxy) is bool(referent)": not "is the referent alive"
BOOST_AUTO_TEST_CASE(explicit_bool_forwards_to_referent) {
  static_assert(std::is_constructible_v<bool, weak_proxy<int>>);
  static_assert(!std::is_convertible_v<weak_proxy<int>, bool>);
  auto obj = weakref::make_shared<int>(0);
  weak_proxy<int> p(obj);
  BOOST_TEST(static_cast<bool>(p) == false); // alive, but its referent is falsy
  *obj = 3;
  BOOST_TEST(static_cast<bool>(p) == true);
  bool taken = false;
  if (p) taken = true;
  BOOST_TEST(taken);

  auto opt = weakref::make_shared<std::optional<int>>();
  weak_proxy<std::optional<int>> po(opt);
  BOOST_TEST(static_cast<bool>(po) == false);
  *opt = 0;
  BOOST_TEST(static_cast<bool>(po) == true); // the optional's own explicit bool
}

// [weakref.proxy.ops] operators are forwarded only "where T has them": opaque has none
// Checks [weakref.proxy.ops]/4, /6, /10 and /13; [weakref.proxy.container]/1 and /5.
BOOST_AUTO_TEST_CASE(operators_absent_when_referent_lacks_them) {
  using P = weak_proxy<opaque>;
  static_assert(!has_plus<P>);
  static_assert(!has_reversed_plus<P>);
  static_assert(!has_proxy_plus_proxy<P>);
  static_assert(!has_less<P>);
  static_assert(!has_equal_to_int<P>);
  static_assert(!std::equality_comparable<P>);
  static_assert(!has_negate<P>);
  static_assert(!has_not<P>);
  static_assert(!has_complement<P>);
  static_assert(!has_pre_increment<P>);
  static_assert(!has_post_decrement<P>);
  static_assert(!has_plus_assign<P>);
  static_assert(!std::is_constructible_v<bool, P>);
  static_assert(!has_subscript<P>);
  static_assert(!has_size<P>);
  static_assert(!has_empty<P>);
  static_assert(!has_begin<P>);
  static_assert(!std::invocable<P>);
  // The same detectors do see the operators where the referent has them.
  static_assert(has_plus<weak_proxy<int>> && has_reversed_plus<weak_proxy<int>>);
  static_assert(has_proxy_plus_proxy<weak_proxy<int>> && has_less<weak_proxy<int>>);
  static_assert(has_negate<weak_proxy<int>> && has_pre_increment<weak_proxy<int>>);
  static_assert(has_plus_assign<weak_proxy<int>> && has_subscript<weak_proxy<std::vector<int>>>);
  // A const referent has the non-mutating operators only.
  static_assert(has_plus<weak_proxy<const int>>);
  static_assert(!has_plus_assign<weak_proxy<const int>>);
  static_assert(!has_pre_increment<weak_proxy<const int>>);
  auto obj = weakref::make_shared<opaque>();
  P p(obj);
  p->value = 2; // member access is all an opaque referent offers
  BOOST_TEST(obj->value == 2);
}

BOOST_AUTO_TEST_SUITE_END() // ops

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(call)

// PY-PROXY-2 CallableProxyType "for proxies of callable objects": arguments and result forwarded
// Checks [weakref.proxy.call]/1.
BOOST_AUTO_TEST_CASE(call_forwards_arguments_and_result) {
  auto obj = weakref::make_shared<adder>(adder{100, 0});
  weak_proxy<adder> p(obj);
  const int r = p(20, 3);
  BOOST_TEST(r == 123);
  BOOST_TEST(p(1, 1) == 102);
  BOOST_TEST(obj->calls == 2); // called on the referent itself, not a copy
}

// [weakref.proxy.call] the result of the referent's call is forwarded as is (a reference stays one)
// Checks [weakref.proxy.call]/1.
BOOST_AUTO_TEST_CASE(call_returns_reference_into_referent) {
  auto obj = weakref::make_shared<slot>();
  weak_proxy<slot> p(obj);
  static_assert(std::is_same_v<decltype(p()), int&>);
  p() = 42;
  BOOST_TEST(obj->v == 42);
}

// [weakref.proxy.call] a lambda referent is callable
// Checks [weakref.proxy.call]/1; [weakref.proxy.types]/2.
BOOST_AUTO_TEST_CASE(lambda_referent_is_callable) {
  auto twice = [](int x) { return 2 * x; };
  using L = decltype(twice);
  auto obj = weakref::make_shared<L>(twice);
  weak_proxy<L> p(obj);
  BOOST_TEST(p(21) == 42);
  static_assert(weakref::callable_proxy_type<weak_proxy<L>>);
}

// [weakref.proxy.call] the call holds an owner (pin()) while the referent runs
// Checks [weakref.proxy.general]/3; [weakref.proxy.call]/1.
BOOST_AUTO_TEST_CASE(call_pins_referent_during_invocation) {
  const int before = tracked::alive;
  auto obj = weakref::make_shared<drops_owner_when_called>();
  obj->owner = &obj;
  weak_proxy<drops_owner_when_called> p(obj);
  const int alive_during_call = p();
  BOOST_TEST(alive_during_call == before + 1);
  BOOST_TEST(tracked::alive == before);
  BOOST_TEST(p.expired());
}

// [weakref.proxy.call] "Only for the callable kind ... Constraints: T& is invocable with args"
// Checks [weakref.proxy.call]/1.
BOOST_AUTO_TEST_CASE(invocability_follows_the_referent) {
  static_assert(!std::invocable<weak_proxy<not_callable>>);
  static_assert(!std::invocable<const weak_proxy<not_callable>&>);
  static_assert(std::invocable<weak_proxy<adder>, int, int>);
  static_assert(std::invocable<const weak_proxy<adder>&, int, int>);
  static_assert(!std::invocable<weak_proxy<adder>>);                   // wrong arity
  static_assert(!std::invocable<weak_proxy<adder>, std::string, int>); // wrong argument type
  static_assert(std::is_same_v<std::invoke_result_t<weak_proxy<adder>, int, int>, int>);
  auto obj = weakref::make_shared<adder>(adder{1, 0});
  const weak_proxy<adder> p(obj);
  BOOST_TEST(std::invoke(p, 2, 3) == 6);
}

BOOST_AUTO_TEST_SUITE_END() // call

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(container)

// [weakref.proxy.container] "Forwarded where T has them": operator[]
// Checks [weakref.proxy.container]/2-3.
BOOST_AUTO_TEST_CASE(subscript_reads_and_writes_referent) {
  auto obj = weakref::make_shared<std::vector<int>>(std::vector<int>{10, 20, 30});
  weak_proxy<std::vector<int>> p(obj);
  BOOST_TEST(p[0] == 10);
  BOOST_TEST(p[2] == 30);
  p[1] = 25;
  BOOST_TEST((*obj)[1] == 25);
  // The element comes with an owner of the referent; p[i] = p[j] assigns the element, and the
  // element converts to int& (valid while an owner keeps the referent alive).
  static_assert(!std::is_lvalue_reference_v<decltype(p[0])>);
  static_assert(std::is_convertible_v<decltype(p[0]), int&>);
  p[0] = p[2];
  BOOST_TEST((*obj)[0] == 30);
  BOOST_TEST((*obj)[2] == 30);
  int& element = p[1];
  BOOST_TEST(&element == &(*obj)[1]);
  // A subscript that yields a value is returned as it is.
  auto text = weakref::make_shared<std::string>("abc");
  weak_proxy<std::string> t(text);
  BOOST_TEST((t[1] == 'b'));
}

// [weakref.proxy.container]/8 Iterators own the referent (bpo-38395: Python keeps an object
// alive while it is iterated): a loop whose body drops the last other owner finishes on a live
// object. Under ASan, the loop read freed memory when begin()/end() were the vector's own.
BOOST_AUTO_TEST_CASE(a_loop_over_a_proxy_keeps_the_referent_alive) {
  auto owner = weakref::make_shared<std::vector<int>>(std::vector<int>{1, 2, 3, 4});
  weak_proxy<std::vector<int>> p(owner);
  int sum = 0;
  for (int x : p) {
    owner.reset(); // the last owner but the loop's
    sum += x;
  }
  BOOST_TEST(sum == 10);
  BOOST_TEST(p.expired()); // the loop's iterators were the last owners
  // The iterators have the referent's category and walk it as its own would.
  auto v = weakref::make_shared<std::vector<int>>(std::vector<int>{5, 6, 7});
  weak_proxy<std::vector<int>> q(v);
  static_assert(std::random_access_iterator<decltype(q.begin())>);
  static_assert(std::ranges::random_access_range<weak_proxy<std::vector<int>>>);
  BOOST_TEST((q.end() - q.begin()) == 3);
  BOOST_TEST(q.begin()[2] == 7);
  BOOST_TEST(*(q.begin() + 1) == 6);
  BOOST_TEST((q.begin() < q.end()));
  BOOST_TEST(std::ranges::distance(q) == 3);
  auto it = q.begin();
  v.reset();
  BOOST_TEST(!q.expired()); // an iterator alone keeps the referent
  BOOST_TEST(*it == 5);
}

// [weakref.proxy.container]/8 rbegin/rend and cbegin/cend forward, pinned as begin/end.
BOOST_AUTO_TEST_CASE(reverse_and_const_iteration_forward) {
  auto owner = weakref::make_shared<std::vector<int>>(std::vector<int>{1, 2, 3});
  weak_proxy<std::vector<int>> p(owner);
  std::vector<int> reversed;
  for (auto it = p.rbegin(); it != p.rend(); ++it) reversed.push_back(*it);
  BOOST_TEST((reversed == std::vector<int>{3, 2, 1}));
  static_assert(std::is_same_v<decltype(*p.cbegin()), const int&>);
  BOOST_TEST((p.cend() - p.cbegin()) == 3);
  auto last = p.rbegin();
  owner.reset();
  BOOST_TEST(*last == 3); // the reverse iterator owns the referent too
  BOOST_TEST(*++last == 2);
}

// [weakref.proxy.container]/3 A subscript result owns the referent while it lives.
BOOST_AUTO_TEST_CASE(a_subscript_result_keeps_the_referent_alive) {
  auto owner = weakref::make_shared<std::vector<std::string>>(std::vector<std::string>{"a", "b"});
  weak_proxy<std::vector<std::string>> p(owner);
  auto element = p[1];
  owner.reset();
  BOOST_TEST(!p.expired());
  BOOST_TEST((element == "b"));
  element = "c";
  BOOST_TEST(element.get() == "c");
}

// [weakref.proxy.container] size and empty
// Checks [weakref.proxy.container]/6.
BOOST_AUTO_TEST_CASE(size_and_empty_forward) {
  auto obj = weakref::make_shared<std::vector<int>>(std::vector<int>{1, 2, 3});
  weak_proxy<std::vector<int>> p(obj);
  BOOST_TEST(p.size() == 3u);
  BOOST_TEST(!p.empty());
  obj->clear();
  BOOST_TEST(p.size() == 0u);
  BOOST_TEST(p.empty());
}

// [weakref.proxy.container] begin/end: a proxy is a range (Python: iter(proxy))
// Checks [weakref.proxy.container]/6 and /8.
BOOST_AUTO_TEST_CASE(begin_end_iterate_referent) {
  static_assert(std::ranges::range<weak_proxy<std::vector<int>>&>);
  auto obj = weakref::make_shared<std::vector<int>>(std::vector<int>{1, 2, 3, 4});
  weak_proxy<std::vector<int>> p(obj);
  BOOST_TEST((p.begin().base() == obj->begin()));
  BOOST_TEST((p.end().base() == obj->end()));
  BOOST_TEST(std::accumulate(p.begin(), p.end(), 0) == 10);
}

// [weakref.proxy.container] range-for over the proxy visits and can mutate the referent's elements
// Checks [weakref.proxy.container]/8.
BOOST_AUTO_TEST_CASE(range_for_loop_over_proxy) {
  auto obj = weakref::make_shared<std::vector<int>>(std::vector<int>{1, 2, 3});
  weak_proxy<std::vector<int>> p(obj);
  int sum = 0;
  for (int x : p) sum += x;
  BOOST_TEST(sum == 6);
  for (int& x : p) x *= 10;
  BOOST_TEST((*obj == std::vector<int>{10, 20, 30}));
}

BOOST_AUTO_TEST_SUITE_END() // container

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(death)

// PY-REFERR-1 ReferenceError "raised when a proxy object is used but the underlying object has been collected"
// Checks [weakref.proxy.access]/4; [weakref.error.reference]/1.
BOOST_AUTO_TEST_CASE(arrow_after_death_throws_reference_error) {
  auto obj = weakref::make_shared<widget>();
  weak_proxy<widget> p(obj);
  obj.reset();
  BOOST_CHECK_EXCEPTION(static_cast<void>(p->value), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p->twice()), weakref::reference_error,
                        has_python_message);
}

// PY-REFERR-1 "used but the underlying object has been collected": pin() and ->
// Checks [weakref.proxy.access]/2.
BOOST_AUTO_TEST_CASE(pin_and_arrow_after_death_throw_reference_error) {
  auto obj = weakref::make_shared<int>(1);
  weak_proxy<int> p(obj);
  obj.reset();
  BOOST_CHECK_EXCEPTION(static_cast<void>(p.pin()), weakref::reference_error, has_python_message);
}

// PY-REFERR-1 calling a dead callable proxy raises ReferenceError; the referent is not called
// Checks [weakref.proxy.call]/2.
BOOST_AUTO_TEST_CASE(call_after_death_throws_reference_error) {
  auto obj = weakref::make_shared<adder>();
  weak_proxy<adder> p(obj);
  obj.reset();
  BOOST_CHECK_EXCEPTION(static_cast<void>(p(1, 2)), weakref::reference_error, has_python_message);
}

// PY-REFERR-1 binary operators with a dead proxy on either side raise ReferenceError
// Checks [weakref.proxy.ops]/15.
BOOST_AUTO_TEST_CASE(binary_operators_after_death_throw_reference_error) {
  auto obj = weakref::make_shared<int>(3);
  auto live = weakref::make_shared<int>(4);
  weak_proxy<int> p(obj);
  weak_proxy<int> q(live);
  obj.reset();
  BOOST_CHECK_EXCEPTION(static_cast<void>(p + 1), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(1 + p), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p << 1), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p < 1), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(1 < p), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p == 1), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(1 == p), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p != 1), weakref::reference_error, has_python_message);
  // A dead operand on the right of a live proxy also raises.
  BOOST_CHECK_EXCEPTION(static_cast<void>(q + p), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p + q), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(q == p), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(q != p), weakref::reference_error, has_python_message);
}

// A class derived from a proxy is a proxy operand of the forwarded operators.
struct named_proxy : weak_proxy<int> {
  using weak_proxy<int>::weak_proxy;
};

// [weakref.proxy.ops]/3 The forwarded operators are hidden friends, so argument-dependent lookup
// finds them whenever weak_proxy<T> is only an associated class of an operand: a pointer to a
// proxy, an iterator into a vector of proxies. Such operands get their own operators, and
// checking the proxy operators' constraints for them must not recurse into itself (clang 22
// rejected the unconstrained proxy parameter: "satisfaction of constraint depends on itself",
// reached through Boost.Test's expression templates on weak_proxy<int>* operands).
BOOST_AUTO_TEST_CASE(operands_merely_associated_with_proxies_use_their_own_operators) {
  auto obj = weakref::make_shared<int>(5);
  std::vector<weak_proxy<int>> proxies{weak_proxy<int>(obj), weak_proxy<int>(obj)};
  const weak_proxy<int>* first = &proxies[0];
  const weak_proxy<int>* second = &proxies[1];
  BOOST_TEST(first == &proxies.front());
  BOOST_TEST(first != second);
  BOOST_TEST(second - first == 1);
  BOOST_TEST(first < second);
  const auto begin = proxies.cbegin();
  // Iterators have no operator<<: Boost.Test gets their comparison and difference, not them.
  BOOST_TEST((begin != proxies.cend()));
  BOOST_TEST((proxies.cend() - begin) == 2);
  static_assert(std::totally_ordered<const weak_proxy<int>*>);
  static_assert(std::random_access_iterator<std::vector<weak_proxy<int>>::iterator>);
  // The proxies themselves still forward, on either side, and so do derived proxies. (A proxy
  // on the right of a literal is parenthesized: Boost.Test's captured left operand has operator
  // templates as generic as the proxy's, and the two would be ambiguous.)
  BOOST_TEST(proxies[0] == 5);
  BOOST_TEST((5 == proxies[1]));
  BOOST_TEST((proxies[0] == proxies[1]));
  BOOST_TEST(proxies[0] + 1 == 6);
  BOOST_TEST((10 - proxies[1] == 5));
  const named_proxy named(obj);
  BOOST_TEST(named * 2 == 10);
  BOOST_TEST((2 * named == 10));
  BOOST_TEST((named == proxies[0]));
  BOOST_TEST(named == 5);
}

// PY-REFERR-1 compound assignment, unary operators and increments on a dead proxy raise
// Checks [weakref.proxy.ops]/15.
BOOST_AUTO_TEST_CASE(mutating_and_unary_operators_after_death_throw_reference_error) {
  auto obj = weakref::make_shared<int>(3);
  auto live = weakref::make_shared<int>(4);
  weak_proxy<int> p(obj);
  weak_proxy<int> q(live);
  obj.reset();
  BOOST_CHECK_EXCEPTION(p += 1, weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(q += p, weakref::reference_error, has_python_message);
  BOOST_TEST(*live == 4); // the live referent was not touched
  BOOST_CHECK_EXCEPTION(static_cast<void>(-p), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(!p), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(~p), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(++p, weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(--p, weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p++), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p--), weakref::reference_error, has_python_message);
}

// PY-REFERR-1 bool(proxy) of a dead proxy raises: it is not "false"
// Checks [weakref.proxy.ops]/2.
BOOST_AUTO_TEST_CASE(bool_after_death_throws_reference_error) {
  auto obj = weakref::make_shared<int>(1);
  weak_proxy<int> p(obj);
  obj.reset();
  BOOST_CHECK_EXCEPTION(static_cast<void>(static_cast<bool>(p)), weakref::reference_error,
                        has_python_message);
}

// PY-REFERR-1 subscript, size, empty, begin, end and range-for on a dead proxy raise
// Checks [weakref.proxy.container]/4 and /7.
BOOST_AUTO_TEST_CASE(container_use_after_death_throws_reference_error) {
  auto obj = weakref::make_shared<std::vector<int>>(std::vector<int>{1, 2});
  weak_proxy<std::vector<int>> p(obj);
  obj.reset();
  BOOST_CHECK_EXCEPTION(static_cast<void>(p[0]), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p.size()), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p.empty()), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p.begin()), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(p.end()), weakref::reference_error, has_python_message);
  int visited = 0;
  BOOST_CHECK_EXCEPTION(
      [&] {
        for (int x : p) visited += x;
      }(),
      weakref::reference_error, has_python_message);
  BOOST_TEST(visited == 0);
}

// [weakref.proxy.cons]/1 "Postconditions: expired() is true": a default proxy is used like a dead one
BOOST_AUTO_TEST_CASE(default_constructed_proxy_throws_reference_error) {
  weak_proxy<widget> p;
  BOOST_TEST(p.expired());
  BOOST_CHECK_EXCEPTION(static_cast<void>(p->value), weakref::reference_error, has_python_message);
  BOOST_CHECK_EXCEPTION(static_cast<void>(*p.pin()), weakref::reference_error, has_python_message);
}

// PY-REFERR-2 the error is a std::runtime_error, so generic handlers see it
// Checks [weakref.error.reference]/1.
BOOST_AUTO_TEST_CASE(reference_error_is_a_runtime_error) {
  auto obj = weakref::make_shared<int>(1);
  weak_proxy<int> p(obj);
  obj.reset();
  BOOST_CHECK_THROW(static_cast<void>(*p.pin()), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END() // death

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(identity)

// [weakref.ref.general]/3 copies are handles to the same reference (identity is shared)
BOOST_AUTO_TEST_CASE(copies_share_identity) {
  auto obj = weakref::make_shared<int>(1);
  weak_proxy<int> p(obj);
  weak_proxy<int> copy(p);
  weak_proxy<int> assigned;
  assigned = p;
  BOOST_TEST(copy.identical(p));
  BOOST_TEST(assigned.identical(p));
  weak_proxy<int> other(obj);
  BOOST_TEST(!other.identical(p)); // a second proxy() call is a different object
}

// [weakref.proxy.cons]/1 a moved-from proxy is in the default state (expired); the target takes the identity
// Checks [weakref.proxy.cons]/1 and /7; [weakref.ref.cons]/8 and /11.
BOOST_AUTO_TEST_CASE(move_empties_source) {
  auto obj = weakref::make_shared<int>(5);
  weak_proxy<int> p(obj);
  const weak_proxy<int> witness(p);
  weak_proxy<int> moved(std::move(p));
  BOOST_TEST(moved.identical(witness));
  BOOST_TEST(p.expired()); // NOLINT(bugprone-use-after-move): the documented moved-from state
  BOOST_TEST(!p.lock());
  BOOST_TEST(!p.identical(witness));
  BOOST_CHECK_EXCEPTION(static_cast<void>(*p.pin()), weakref::reference_error, has_python_message);
  BOOST_TEST(*moved.pin() == 5);

  weak_proxy<int> target;
  target = std::move(moved);
  BOOST_TEST(target.identical(witness));
  BOOST_TEST(moved.expired()); // NOLINT(bugprone-use-after-move)
}

// [weakref.proxy.cons]/4 "Throws: type_error as weak_ref's constructor" (PY-INTRO-5 "Not all objects can be weakly referenced")
BOOST_AUTO_TEST_CASE(proxy_of_std_make_shared_object_throws_type_error) {
  auto obj = std::make_shared<int>(1);
  BOOST_CHECK_THROW(weak_proxy<int>{obj}, weakref::type_error);
  bool called = false;
  BOOST_CHECK_THROW((weak_proxy<int>{obj, [&](weak_proxy<int>) { called = true; }}),
                    weakref::type_error);
  obj.reset();
  BOOST_TEST(!called);
}

// [weakref.proxy.cons]/4 type_error for an empty shared_ptr (there is no object to refer to)
BOOST_AUTO_TEST_CASE(proxy_of_empty_shared_ptr_throws_type_error) {
  BOOST_CHECK_THROW(weak_proxy<int>{std::shared_ptr<int>()}, weakref::type_error);
  BOOST_CHECK_THROW(weak_proxy<int>{std::shared_ptr<int>(nullptr)}, weakref::type_error);
}

BOOST_AUTO_TEST_SUITE_END() // identity

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(conversion)

struct gadget : widget {
  int extra = 1;
};

// [weakref.proxy.cons]/8, [weakref.ref.conv]/1 Implicit where the pointer conversion is, never
// towards a weak_ref or a derived or unrelated type.
static_assert(std::is_convertible_v<weak_proxy<gadget>, weak_proxy<widget>>);
static_assert(std::is_convertible_v<weak_proxy<gadget>, weak_proxy<const gadget>>);
static_assert(!std::is_constructible_v<weak_proxy<gadget>, weak_proxy<widget>>);
static_assert(!std::is_constructible_v<weak_proxy<adder>, weak_proxy<widget>>);
static_assert(!std::is_constructible_v<weak_ref<widget>, weak_proxy<gadget>>);
static_assert(!std::is_constructible_v<weak_proxy<widget>, weak_ref<gadget>>);

// [weakref.ref.conv]/2 as for weak_ref: the converted proxy is the same proxy seen through the
// base, it forwards to the base subobject, its callback receives the registered type, and once
// the referent is gone it throws reference_error (PY-REFERR-1).
// Checks [weakref.proxy.cons]/8; [weakref.ref.conv]/3.
BOOST_AUTO_TEST_CASE(derived_to_base_is_the_same_proxy) {
  auto g = weakref::make_shared<gadget>();
  g->value = 21;
  int calls = 0;
  weak_proxy<gadget> derived(g, [&](weak_proxy<gadget>) { ++calls; });
  const weak_proxy<widget> base = derived;
  BOOST_TEST(base->twice() == 42);
  BOOST_TEST(&*base.pin() == static_cast<widget*>(g.get()));
  BOOST_TEST(base.identical(derived));
  BOOST_TEST(weakref::weak_ref_count(g) == 1u);
  g.reset();
  BOOST_TEST(calls == 1);
  BOOST_CHECK_EXCEPTION((void)base->twice(), weakref::reference_error, has_python_message);
}

BOOST_AUTO_TEST_SUITE_END() // conversion

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(kinds)

// Python proxy(): "Proxy objects are not hashable regardless of the referent"
// Checks [weakref.proxy.general]/3.
BOOST_AUTO_TEST_CASE(proxy_is_not_hashable) {
  static_assert(!std::is_default_constructible_v<std::hash<weak_proxy<int>>>);
  static_assert(!std::is_invocable_v<std::hash<weak_proxy<int>>, const weak_proxy<int>&>);
  static_assert(!std::is_default_constructible_v<std::hash<weak_proxy<std::string>>>);
  static_assert(
      !std::is_invocable_v<std::hash<weak_proxy<std::string>>, const weak_proxy<std::string>&>);
  static_assert(!std::is_default_constructible_v<std::hash<weak_proxy<opaque>>>);
  static_assert(!has_hash_member<weak_proxy<int>>);
  // ... whereas a ref to the same hashable referent is hashable (PY-REF-4).
  static_assert(std::is_default_constructible_v<std::hash<weak_ref<int>>>);
  auto obj = weakref::make_shared<int>(7);
  weak_ref<int> r(obj);
  BOOST_TEST(std::hash<weak_ref<int>>{}(r) == std::hash<int>{}(7));
}

// PY-PROXY-2 "a type of either ProxyType or CallableProxyType, depending on whether object is callable"
// Checks [weakref.proxy.types]/1-2.
BOOST_AUTO_TEST_CASE(kind_concepts_classify_proxies) {
  using callable_p = weak_proxy<adder>;
  using plain_p = weak_proxy<plain>;
  static_assert(weakref::callable_proxy_type<callable_p>);
  static_assert(!weakref::proxy_type<callable_p>);
  static_assert(weakref::proxy_type<plain_p>);
  static_assert(!weakref::callable_proxy_type<plain_p>);
  static_assert(weakref::proxy_type<weak_proxy<int>>);
  static_assert(weakref::proxy_type<weak_proxy<std::vector<int>>>);
  // cv-qualified proxy types are still proxies of the same kind
  static_assert(weakref::callable_proxy_type<const callable_p>);
  static_assert(weakref::proxy_type<const plain_p>);
  // The kind concepts and the call operator agree for these referents.
  static_assert(std::invocable<callable_p, int, int> == weakref::callable_proxy_type<callable_p>);
  static_assert(std::invocable<plain_p> == weakref::callable_proxy_type<plain_p>);
  // A pointer to function is callable, as in Python.
  using function_p = weak_proxy<int (*)(int)>;
  static_assert(weakref::callable_proxy_type<function_p>);
  static_assert(std::invocable<function_p, int>);
  auto fn = weakref::make_shared<int (*)(int)>(+[](int x) { return x * 2; });
  BOOST_TEST(function_p(fn)(21) == 42);
  auto obj = weakref::make_shared<adder>();
  callable_p p(obj);
  BOOST_TEST(p(1, 2) == 3);
}

// Python ProxyTypes: "Sequence containing all the type objects for proxies"
// Checks [weakref.proxy.types]/1.
BOOST_AUTO_TEST_CASE(proxy_types_covers_both_kinds_only) {
  static_assert(weakref::proxy_types<weak_proxy<adder>>);
  static_assert(weakref::proxy_types<weak_proxy<plain>>);
  static_assert(weakref::proxy_types<const weak_proxy<plain>>);
  // Not proxies: a weak reference (ReferenceType) and a plain value.
  static_assert(!weakref::proxy_types<weak_ref<plain>>);
  static_assert(!weakref::proxy_type<weak_ref<plain>>);
  static_assert(!weakref::callable_proxy_type<weak_ref<plain>>);
  static_assert(!weakref::callable_proxy_type<weak_ref<adder>>);
  static_assert(!weakref::proxy_types<int>);
  static_assert(!weakref::proxy_type<int>);
  static_assert(!weakref::callable_proxy_type<int>);
  static_assert(!weakref::proxy_types<plain>);
  static_assert(!weakref::proxy_types<adder>);
  static_assert(!weakref::proxy_types<std::shared_ptr<plain>>);
  // Every proxy is of exactly one kind.
  static_assert(weakref::proxy_type<weak_proxy<adder>> !=
                weakref::callable_proxy_type<weak_proxy<adder>>);
  static_assert(weakref::proxy_type<weak_proxy<plain>> !=
                weakref::callable_proxy_type<weak_proxy<plain>>);
  auto obj = weakref::make_shared<plain>();
  weak_proxy<plain> p(obj);
  BOOST_TEST(!p.expired());
}

BOOST_AUTO_TEST_SUITE_END() // kinds

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(callback)

// PY-PROXY-3 "callback is the same as the parameter of the same name to the ref() function":
// it receives this proxy (a handle identical() to it)
// Checks [weakref.proxy.cons]/5.
BOOST_AUTO_TEST_CASE(callback_receives_identical_proxy) {
  auto obj = weakref::make_shared<tracked>(1);
  weak_proxy<tracked> seen;
  int calls = 0;
  weak_proxy<tracked> p(obj, [&](weak_proxy<tracked> handle) {
    ++calls;
    seen = handle;
  });
  obj.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(seen.identical(p));
  BOOST_TEST(seen.expired());
}

// PY-REF-14 "the referent will no longer be available": inside the callback the proxy is dead
// Checks [weakref.proxy.cons]/5; [weakref.proxy.access]/2; [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(callback_sees_dead_proxy) {
  auto obj = weakref::make_shared<int>(1);
  bool expired_in_callback = false;
  bool threw_reference_error = false;
  weak_proxy<int> p(obj, [&](weak_proxy<int> handle) {
    expired_in_callback = handle.expired() && !handle.lock();
    try {
      static_cast<void>(handle.pin());
    } catch (const weakref::reference_error&) {
      threw_reference_error = true;
    }
  });
  obj.reset();
  BOOST_TEST(expired_in_callback);
  BOOST_TEST(threw_reference_error);
}

// PY-NOTE-1 "Weak references to an object are cleared before the object's __del__() is called"
// Checks [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(callback_runs_before_referent_is_destroyed) {
  const int before = tracked::alive;
  auto obj = weakref::make_shared<tracked>(1);
  int alive_in_callback = -1;
  weak_proxy<tracked> p(obj, [&](weak_proxy<tracked>) { alive_in_callback = tracked::alive; });
  obj.reset();
  BOOST_TEST(alive_in_callback == before + 1);
  BOOST_TEST(tracked::alive == before);
}

// PY-REF-2 "called from the most recently registered callback to the oldest", refs and proxies mixed
// Checks [weakref.proxy.general]/1; [weakref.ref.death]/1.
BOOST_AUTO_TEST_CASE(callbacks_run_lifo_mixed_with_refs) {
  auto obj = weakref::make_shared<int>(0);
  std::vector<std::string> order;
  weak_ref<int> r1(obj, [&](weak_ref<int>) { order.push_back("r1"); });
  weak_proxy<int> p1(obj, [&](weak_proxy<int>) { order.push_back("p1"); });
  weak_ref<int> r2(obj, [&](weak_ref<int>) { order.push_back("r2"); });
  weak_proxy<int> p2(obj, [&](weak_proxy<int>) { order.push_back("p2"); });
  weak_proxy<int> p3(obj); // no callback: not in the order
  obj.reset();
  BOOST_TEST((order == std::vector<std::string>{"p2", "r2", "p1", "r1"}));
}

// PY-REF-11 "and the returned weakref object is still alive": a surviving copy keeps the callback, run once
// Checks [weakref.proxy.cons]/7; [weakref.ref.general]/3.
BOOST_AUTO_TEST_CASE(callback_runs_once_while_a_copy_survives) {
  auto obj = weakref::make_shared<int>(0);
  int calls = 0;
  weak_proxy<int> copy;
  {
    weak_proxy<int> p(obj, [&](weak_proxy<int> handle) {
      ++calls;
      BOOST_TEST(handle.identical(copy));
    });
    copy = p;
    weak_proxy<int> another_copy(p);
  }
  obj.reset();
  BOOST_TEST(calls == 1);
}

// [weakref.ref.cons]/14 "Destroying the last handle before the referent dies ...: its callback
// never runs"
BOOST_AUTO_TEST_CASE(destroyed_proxy_never_calls_back) {
  auto obj = weakref::make_shared<int>(0);
  int calls = 0;
  {
    weak_proxy<int> p(obj, [&](weak_proxy<int>) { ++calls; });
  }
  obj.reset();
  BOOST_TEST(calls == 0);
}

// PY-REF-10 "If callback is provided and not None": nullptr means no callback
// Checks [weakref.proxy.cons]/2 and /5.
BOOST_AUTO_TEST_CASE(null_callback_registers_none) {
  weakref_test::capture_callback_errors
      capture; // an empty std::function would report bad_function_call
  auto obj = weakref::make_shared<int>(0);
  weak_proxy<int> p(obj, nullptr);
  void (*fp)(weak_proxy<int>) = nullptr;
  weak_proxy<int> q(obj, fp);
  std::function<void(weak_proxy<int>)> empty_fn;
  weak_proxy<int> s(obj, empty_fn);
  BOOST_TEST(*p.pin() == 0);
  BOOST_CHECK_NO_THROW(obj.reset()); // calling a null callback would crash or throw
  BOOST_TEST(p.expired());
  BOOST_TEST(q.expired());
  BOOST_TEST(s.expired());
  BOOST_TEST(weakref_test::capture_callback_errors::messages().empty());
}

// PY-REF-3 "Exceptions raised by the callback will be noted ... but cannot be propagated" (proxies too)
// Checks [weakref.ref.death]/3; [weakref.error.callback]/1.
BOOST_AUTO_TEST_CASE(throwing_proxy_callback_is_reported_not_propagated) {
  weakref_test::capture_callback_errors capture;
  auto obj = weakref::make_shared<int>(0);
  bool older_ran = false;
  weak_proxy<int> older(obj, [&](weak_proxy<int>) { older_ran = true; });
  weak_proxy<int> p(obj, [](weak_proxy<int> handle) { static_cast<void>(handle.pin()); });
  BOOST_CHECK_NO_THROW(obj.reset());
  BOOST_TEST(older_ran);
  BOOST_REQUIRE(weakref_test::capture_callback_errors::messages().size() == 1u);
  BOOST_TEST(weakref_test::capture_callback_errors::messages()[0] == python_reference_error);
}

BOOST_AUTO_TEST_SUITE_END() // callback

BOOST_AUTO_TEST_SUITE_END() // proxy
