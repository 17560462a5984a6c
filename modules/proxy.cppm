// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <concepts>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <ranges>
#include <type_traits>
#include <utility>
export module weakref:proxy;
import :errors;
import :control;
import :ref;

export namespace weakref {
template <class T>
class weak_proxy;
}

namespace weakref::detail {

template <class P>
inline constexpr bool is_proxy = false;
template <class T>
inline constexpr bool is_proxy<weak_proxy<T>> = true;

template <class U>
concept not_proxy = !is_proxy<std::remove_cvref_t<U>>;

// [weakref.proxy.ops]/2 P is the proxy operand of one of Proxy's operators: Proxy itself or a
// class derived from it, whatever its value category.
template <class P, class Proxy>
concept operand_of = std::derived_from<std::remove_cvref_t<P>, Proxy>;

// The result of proxy->: owns the referent until the end of the full-expression
// ([weakref.proxy.access]/2), so `p->f()` cannot see the referent die half way.
template <class T>
class pinned {
  std::shared_ptr<T> owner_;

public:
  explicit pinned(std::shared_ptr<T> owner) noexcept : owner_(std::move(owner)) {}
  T* operator->() const noexcept { return owner_.get(); }
};

// An operand of a forwarded operator: a proxy stands for its referent (Python unwraps proxies on
// both sides of a binary operator); anything else for itself.
template <class U>
struct operand {
  U&& value;
  U&& get() const noexcept { return std::forward<U>(value); }
};
template <class T>
struct proxy_operand {
  std::shared_ptr<T> owner;
  T& get() const noexcept { return *owner; }
};
template <class U>
auto make_operand(U&& u) {
  if constexpr (is_proxy<std::remove_cvref_t<U>>)
    return proxy_operand<typename std::remove_cvref_t<U>::element_type>{u.pin()};
  else
    return operand<U>{std::forward<U>(u)};
}
template <class U>
using unwrapped_t = decltype(make_operand(std::declval<U>()).get());

} // namespace weakref::detail

export namespace weakref {

// [weakref.proxy] Python: weakref.proxy (PY-PROXY-*). A weak reference used without explicit
// dereference: members through ->, operators, calls, subscripts and ranges forward to the
// referent; any use after the referent died throws reference_error (PY-REFERR-1). It shares the
// referent's weak list with weak_ref, so weak_ref_count and weak_refs see it.
//
// [weakref.proxy.general]/4 Remarks: a result that refers into the referent (a reference or an
// iterator) stays valid only while some owner keeps the referent alive, as for any raw
// reference; -> and pin() hold the referent for as long as their result lives.
template <class T>
class weak_proxy : public detail::registering_handle<T, weak_proxy<T>, detail::node_kind::proxy> {
  using base = detail::registering_handle<T, weak_proxy<T>, detail::node_kind::proxy>;

public:
  // [weakref.proxy.cons]/1-3 As weak_ref's (detail::registering_handle); Python: "callback is
  // the same as the parameter of the same name to the ref() function": it receives a handle to
  // this proxy (PY-PROXY-3). Copies share the identity, moves empty the source.
  using base::base;

  // [weakref.proxy.access]/1 Returns: an owner of the referent. Throws: reference_error if it
  // is gone.
  std::shared_ptr<T> pin() const {
    std::shared_ptr<T> owner = this->lock();
    if (!owner) throw reference_error("weakly-referenced object no longer exists");
    return owner;
  }
  // [weakref.proxy.access]/2
  detail::pinned<T> operator->() const { return detail::pinned<T>(pin()); }
  // [weakref.proxy.access]/3 The reference is valid while an owner keeps the referent alive.
  T& operator*() const { return *pin(); }

  // [weakref.proxy.obs] The escape hatches of C++ (a Python proxy has no attributes of its
  // own): lock() and expired() never throw.
  using base::expired;
  using base::lock;

  // [weakref.proxy.call] Only for the callable kind (PY-PROXY-2): Constraints: T& is invocable
  // with args.
  template <class... Args>
    requires std::invocable<T&, Args...>
  decltype(auto) operator()(Args&&... args) const {
    const std::shared_ptr<T> owner = pin();
    return std::invoke(*owner, std::forward<Args>(args)...);
  }

  // [weakref.proxy.container] Forwarded where T has them.
  template <class I>
    requires requires(T& t, I&& i) { t[std::forward<I>(i)]; }
  decltype(auto) operator[](I&& i) const {
    const std::shared_ptr<T> owner = pin();
    return (*owner)[std::forward<I>(i)];
  }
  auto begin() const
    requires std::ranges::range<T&>
  {
    return std::ranges::begin(*pin());
  }
  auto end() const
    requires std::ranges::range<T&>
  {
    return std::ranges::end(*pin());
  }
  auto size() const
    requires std::ranges::sized_range<T&>
  {
    return std::ranges::size(*pin());
  }
  bool empty() const
    requires requires(T& t) { std::ranges::empty(t); }
  {
    return std::ranges::empty(*pin());
  }

  // [weakref.proxy.ops]/1 Python: bool(proxy) is bool(referent).
  explicit operator bool() const
    requires std::constructible_from<bool, T&>
  {
    return static_cast<bool>(*pin());
  }

// [weakref.proxy.ops]/2 Binary operators forward to the referent, with a proxy operand on
// either side unwrapped (only the left one is the "proxy side" when both are proxies, so that
// the two candidates never tie). The proxy operand is a `const P&` with P deduced and checked by
// detail::operand_of before any constraint on the referent's operators: these friends are found
// by argument-dependent lookup whenever weak_proxy<T> is merely an associated class of an
// operand (a pointer to a proxy, an iterator into a vector of proxies), and a constraint that
// asked about T's operators for such an operand could depend on itself. (A const reference, as a
// `const weak_proxy&` parameter would be, keeps overload resolution against other operators of
// the operands as it was.)
#define WEAKREF_PROXY_BINARY(op)                                                                   \
  template <class P, class U>                                                                      \
    requires detail::operand_of<P, weak_proxy> &&                                                  \
             requires(T& t, detail::unwrapped_t<U> u) { t op std::forward<decltype(u)>(u); }       \
  friend decltype(auto) operator op(const P& p, U&& u) {                                           \
    const std::shared_ptr<T> owner = static_cast<const weak_proxy&>(p).pin();                      \
    auto rhs = detail::make_operand(std::forward<U>(u));                                           \
    return *owner op rhs.get();                                                                    \
  }
#define WEAKREF_PROXY_BINARY_REVERSED(op)                                                          \
  template <detail::not_proxy U, class P>                                                          \
    requires detail::operand_of<P, weak_proxy> &&                                                  \
             requires(U&& u, T& t) { std::forward<U>(u) op t; }                                    \
  friend decltype(auto) operator op(U&& u, const P& p) {                                           \
    const std::shared_ptr<T> owner = static_cast<const weak_proxy&>(p).pin();                      \
    return std::forward<U>(u) op * owner;                                                          \
  }
#define WEAKREF_PROXY_BOTH(op) WEAKREF_PROXY_BINARY(op) WEAKREF_PROXY_BINARY_REVERSED(op)
  WEAKREF_PROXY_BOTH(+)
  WEAKREF_PROXY_BOTH(-)
  WEAKREF_PROXY_BOTH(*)
  WEAKREF_PROXY_BOTH(/)
  WEAKREF_PROXY_BOTH(%)
  WEAKREF_PROXY_BOTH(&)
  WEAKREF_PROXY_BOTH(|)
  WEAKREF_PROXY_BOTH(^)
  WEAKREF_PROXY_BOTH(<<)
  WEAKREF_PROXY_BOTH(>>)
  WEAKREF_PROXY_BOTH(<)
  WEAKREF_PROXY_BOTH(>)
  WEAKREF_PROXY_BOTH(<=)
  WEAKREF_PROXY_BOTH(>=)
#undef WEAKREF_PROXY_BOTH
#undef WEAKREF_PROXY_BINARY_REVERSED
#undef WEAKREF_PROXY_BINARY

  // [weakref.proxy.ops]/2 Equality is declared in one direction only (C++20 rewrites x == p and
  // !=). proxy == proxy has its own overload whose two parameters have the same shape, so that
  // it and its rewritten form tie on conversions and the non-rewritten one is chosen
  // ([over.match.best.general]/2.8). Both check their proxy operands first, as above.
  template <class P, detail::not_proxy U>
    requires detail::operand_of<P, weak_proxy> && requires(T& t, U&& u) { t == std::forward<U>(u); }
  friend decltype(auto) operator==(const P& p, U&& u) {
    const std::shared_ptr<T> owner = static_cast<const weak_proxy&>(p).pin();
    return *owner == std::forward<U>(u);
  }
  template <class P, class Q>
    requires detail::operand_of<P, weak_proxy> && detail::is_proxy<std::remove_cvref_t<Q>> &&
             requires(T& t, typename std::remove_cvref_t<Q>::element_type& v) { t == v; }
  friend decltype(auto) operator==(const P& a, const Q& b) {
    const std::shared_ptr<T> left = static_cast<const weak_proxy&>(a).pin();
    const auto right = b.pin();
    return *left == *right;
  }

// [weakref.proxy.ops]/3 Compound assignment acts on the referent and yields the proxy (Python:
// `p += x` rebinds p to the proxy that __iadd__ returns).
#define WEAKREF_PROXY_COMPOUND(op)                                                                 \
  template <class U>                                                                               \
    requires requires(T& t, detail::unwrapped_t<U> u) { t op std::forward<decltype(u)>(u); }       \
  const weak_proxy& operator op(U && u) const {                                                    \
    const std::shared_ptr<T> owner = pin();                                                        \
    auto rhs = detail::make_operand(std::forward<U>(u));                                           \
    *owner op rhs.get();                                                                           \
    return *this;                                                                                  \
  }
  WEAKREF_PROXY_COMPOUND(+=)
  WEAKREF_PROXY_COMPOUND(-=)
  WEAKREF_PROXY_COMPOUND(*=)
  WEAKREF_PROXY_COMPOUND(/=)
  WEAKREF_PROXY_COMPOUND(%=)
  WEAKREF_PROXY_COMPOUND(&=)
  WEAKREF_PROXY_COMPOUND(|=)
  WEAKREF_PROXY_COMPOUND(^=)
  WEAKREF_PROXY_COMPOUND(<<=)
  WEAKREF_PROXY_COMPOUND(>>=)
#undef WEAKREF_PROXY_COMPOUND

// [weakref.proxy.ops]/4 Unary operators and increments.
#define WEAKREF_PROXY_UNARY(op)                                                                    \
  decltype(auto) operator op() const                                                               \
    requires requires(T& t) { op t; }                                                              \
  {                                                                                                \
    const std::shared_ptr<T> owner = pin();                                                        \
    return op * owner;                                                                             \
  }
  WEAKREF_PROXY_UNARY(-)
  WEAKREF_PROXY_UNARY(+)
  WEAKREF_PROXY_UNARY(~)
  WEAKREF_PROXY_UNARY(!)
#undef WEAKREF_PROXY_UNARY

  const weak_proxy& operator++() const
    requires requires(T& t) { ++t; }
  {
    ++*pin();
    return *this;
  }
  const weak_proxy& operator--() const
    requires requires(T& t) { --t; }
  {
    --*pin();
    return *this;
  }
  auto operator++(int) const
    requires requires(T& t) { t++; }
  {
    return (*pin())++;
  }
  auto operator--(int) const
    requires requires(T& t) { t--; }
  {
    return (*pin())--;
  }
};

template <class T>
weak_proxy(const std::shared_ptr<T>&) -> weak_proxy<T>;
template <class T, class F>
weak_proxy(const std::shared_ptr<T>&, F&&) -> weak_proxy<T>;

// [weakref.proxy.types] Python: ProxyType, CallableProxyType and ProxyTypes. The kind of a
// proxy is that of its referent type, as Python's callable() asks for __call__: callable when T
// is a pointer to function or a class with one non-template operator(). A type whose call
// operator is overloaded or a template cannot be told from the type alone: such a proxy is still
// invocable with the arguments T accepts, but it is classified as proxy_type.
template <class T>
concept callable_referent = std::is_function_v<std::remove_pointer_t<std::remove_cv_t<T>>> ||
                            (std::is_class_v<T> && requires { &T::operator(); });

template <class P>
concept proxy_types = detail::is_proxy<std::remove_cv_t<P>>;

template <class P>
concept callable_proxy_type =
    proxy_types<P> && callable_referent<typename std::remove_cv_t<P>::element_type>;

template <class P>
concept proxy_type = proxy_types<P> && !callable_proxy_type<P>;

} // namespace weakref
