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

// [weakref.proxy.ops]/3 P is the proxy operand of one of Proxy's operators: Proxy itself or a
// class derived from it, whatever its value category.
template <class P, class Proxy>
concept operand_of = std::derived_from<std::remove_cvref_t<P>, Proxy>;

// The result of proxy->: owns the referent until the end of the full-expression
// ([weakref.proxy.access]/3), so `p->f()` cannot see the referent die half way.
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

// [weakref.proxy.types]/2 Whether a class has a member named operator() of any form (overloaded,
// a template, inherited): a class derived from it and from call_probe finds the name in two
// bases, and taking its address is ambiguous exactly when the class has one. Final classes
// cannot be derived from; for them only a single non-template operator() can be seen.
struct call_probe {
  void operator()() const;
};
template <class T>
struct call_detector : T, call_probe {};
template <class T>
concept has_call_member =
    std::is_class_v<T> && ((!std::is_final_v<T> && !requires { &call_detector<T>::operator(); }) ||
                           (std::is_final_v<T> && requires { &T::operator(); }));

// [weakref.proxy.container]/8 An iterator obtained through a proxy: the referent's iterator and
// an owner of the referent, so the referent lives as long as any iterator into it (Python keeps
// an object alive while it is iterated; CPython's proxy did not, bpo-38395). It has the
// referent's iterator's category, up to random access.
template <class I>
using pinned_iterator_concept = std::conditional_t<
    std::random_access_iterator<I>, std::random_access_iterator_tag,
    std::conditional_t<std::bidirectional_iterator<I>, std::bidirectional_iterator_tag,
                       std::conditional_t<std::forward_iterator<I>, std::forward_iterator_tag,
                                          std::input_iterator_tag>>>;

template <class T, class I>
class pinned_iterator {
  template <class, class>
  friend class pinned_iterator;

  std::shared_ptr<T> owner_;
  I it_{};

public:
  using iterator_concept = pinned_iterator_concept<I>;
  using value_type = std::iter_value_t<I>;
  using difference_type = std::iter_difference_t<I>;

  pinned_iterator() = default;
  pinned_iterator(std::shared_ptr<T> owner, I it) noexcept(std::is_nothrow_move_constructible_v<I>)
      : owner_(std::move(owner)), it_(std::move(it)) {}

  // The referent's iterator, valid while this iterator (or another owner) lives.
  const I& base() const noexcept { return it_; }

  decltype(auto) operator*() const { return *it_; }
  auto operator->() const
    requires std::is_pointer_v<I> || requires(const I& i) { i.operator->(); }
  {
    if constexpr (std::is_pointer_v<I>)
      return it_;
    else
      return it_.operator->();
  }
  decltype(auto) operator[](difference_type n) const
    requires std::random_access_iterator<I>
  {
    return it_[n];
  }

  pinned_iterator& operator++() {
    ++it_;
    return *this;
  }
  pinned_iterator operator++(int)
    requires std::forward_iterator<I>
  {
    pinned_iterator old = *this;
    ++it_;
    return old;
  }
  void operator++(int)
    requires(!std::forward_iterator<I>)
  {
    ++it_;
  }
  pinned_iterator& operator--()
    requires std::bidirectional_iterator<I>
  {
    --it_;
    return *this;
  }
  pinned_iterator operator--(int)
    requires std::bidirectional_iterator<I>
  {
    pinned_iterator old = *this;
    --it_;
    return old;
  }
  pinned_iterator& operator+=(difference_type n)
    requires std::random_access_iterator<I>
  {
    it_ += n;
    return *this;
  }
  pinned_iterator& operator-=(difference_type n)
    requires std::random_access_iterator<I>
  {
    it_ -= n;
    return *this;
  }
  friend pinned_iterator operator+(pinned_iterator i, difference_type n)
    requires std::random_access_iterator<I>
  {
    return i += n;
  }
  friend pinned_iterator operator+(difference_type n, pinned_iterator i)
    requires std::random_access_iterator<I>
  {
    return i += n;
  }
  friend pinned_iterator operator-(pinned_iterator i, difference_type n)
    requires std::random_access_iterator<I>
  {
    return i -= n;
  }

  // Comparisons and distances with the iterators and sentinels of the same referent type.
  template <class S>
    requires std::sentinel_for<S, I>
  friend bool operator==(const pinned_iterator& i, const pinned_iterator<T, S>& s) {
    return i.it_ == s.it_;
  }
  template <class S>
    requires std::sized_sentinel_for<S, I>
  friend difference_type operator-(const pinned_iterator<T, S>& s, const pinned_iterator& i) {
    return s.it_ - i.it_;
  }
  friend bool operator<(const pinned_iterator& a, const pinned_iterator& b)
    requires std::totally_ordered<I>
  {
    return a.it_ < b.it_;
  }
  friend bool operator>(const pinned_iterator& a, const pinned_iterator& b)
    requires std::totally_ordered<I>
  {
    return a.it_ > b.it_;
  }
  friend bool operator<=(const pinned_iterator& a, const pinned_iterator& b)
    requires std::totally_ordered<I>
  {
    return a.it_ <= b.it_;
  }
  friend bool operator>=(const pinned_iterator& a, const pinned_iterator& b)
    requires std::totally_ordered<I>
  {
    return a.it_ >= b.it_;
  }
};

// [weakref.proxy.container]/1 The result of a subscript that names an element of the referent:
// the element and an owner of the referent. It reads by conversion or get(), writes by
// assignment (also from another such result: p[i] = p[j] assigns the element, as Python's
// d[i] = d[j]), and compares as the element. A reference to the element bound from it (by the
// conversion) is, like `*p.pin()`, valid only while some owner keeps the referent alive.
template <class T, class R>
class pinned_element {
  std::shared_ptr<T> owner_;
  std::remove_reference_t<R>* element_;

public:
  pinned_element(std::shared_ptr<T> owner, R element) noexcept
      : owner_(std::move(owner)), element_(std::addressof(element)) {}
  pinned_element(const pinned_element&) = default;

  R get() const noexcept { return *element_; }
  operator R() const noexcept { return *element_; }

  template <class U>
    requires std::assignable_from<R, U&&>
  const pinned_element& operator=(U&& value) const {
    *element_ = std::forward<U>(value);
    return *this;
  }
  const pinned_element& operator=(const pinned_element& other) const
    requires std::assignable_from<R, R>
  {
    *element_ = *other.element_;
    return *this;
  }

  template <class U>
    requires(!std::same_as<std::remove_cvref_t<U>, pinned_element>) &&
            requires(R e, const U& u) { e == u; }
  friend decltype(auto) operator==(const pinned_element& e, const U& u) {
    return *e.element_ == u;
  }
  friend decltype(auto) operator==(const pinned_element& a, const pinned_element& b)
    requires requires(R e) { e == e; }
  {
    return *a.element_ == *b.element_;
  }
};

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
  // [weakref.proxy.cons]/1-2 and /5 As weak_ref's (detail::registering_handle); Python: "callback
  // is the same as the parameter of the same name to the ref() function": it receives a handle to
  // this proxy (PY-PROXY-3). Copies share the identity, moves empty the source.
  using base::base;
  // The default constructor, which the converting constructor's declaration would suppress.
  weak_proxy() noexcept = default;
  // [weakref.ref.conv]/1-2 (detail::registering_handle's, for weak_proxy<U> exactly)
  template <class U>
    requires(!std::same_as<U, T>) && std::convertible_to<U*, T*>
  weak_proxy(const weak_proxy<U>& other) : base(other) {}
  // [weakref.proxy.obs] identical(other) (detail::registering_handle's, for weak_proxy<U> exactly)
  template <class U>
  bool identical(const weak_proxy<U>& other) const noexcept {
    return base::identical(other);
  }

  // [weakref.proxy.access]/1 Returns: an owner of the referent. Throws: reference_error if it
  // is gone.
  std::shared_ptr<T> pin() const {
    std::shared_ptr<T> owner = this->lock();
    if (!owner) throw reference_error("weakly-referenced object no longer exists");
    return owner;
  }
  // [weakref.proxy.access]/3
  detail::pinned<T> operator->() const { return detail::pinned<T>(pin()); }

private:
  // An iterator of the referent, obtained by `get`, with an owner of the referent.
  template <class Get>
  auto pinned_iterator_from(Get get) const {
    std::shared_ptr<T> owner = pin();
    auto it = get(*owner);
    return detail::pinned_iterator<T, decltype(it)>(std::move(owner), std::move(it));
  }

public:
  // [weakref.proxy.general]/4 There is no operator*: a reference to the referent would outlive
  // the owner the proxy obtained for it. `*p.pin()` is the referent, owned until the end of the
  // full-expression.

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

  // [weakref.proxy.container] Forwarded where T has them. A subscript that names an element
  // (an lvalue) yields it with an owner of the referent (detail::pinned_element); iterators
  // carry one too (detail::pinned_iterator), so a loop over a proxy finishes on a live object.
  template <class I>
    requires requires(T& t, I&& i) { t[std::forward<I>(i)]; }
  decltype(auto) operator[](I&& i) const {
    std::shared_ptr<T> owner = pin();
    using result = decltype((*owner)[std::forward<I>(i)]);
    if constexpr (std::is_lvalue_reference_v<result>) {
      result element = (*owner)[std::forward<I>(i)];
      return detail::pinned_element<T, result>(std::move(owner), element);
    } else {
      return (*owner)[std::forward<I>(i)];
    }
  }
  auto begin() const
    requires std::ranges::range<T&>
  {
    return pinned_iterator_from(std::ranges::begin);
  }
  auto end() const
    requires std::ranges::range<T&>
  {
    return pinned_iterator_from(std::ranges::end);
  }
  auto cbegin() const
    requires requires(T& t) { std::ranges::cbegin(t); }
  {
    return pinned_iterator_from(std::ranges::cbegin);
  }
  auto cend() const
    requires requires(T& t) { std::ranges::cend(t); }
  {
    return pinned_iterator_from(std::ranges::cend);
  }
  auto rbegin() const
    requires requires(T& t) { std::ranges::rbegin(t); }
  {
    return pinned_iterator_from(std::ranges::rbegin);
  }
  auto rend() const
    requires requires(T& t) { std::ranges::rend(t); }
  {
    return pinned_iterator_from(std::ranges::rend);
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

// [weakref.proxy.ops]/3 Binary operators forward to the referent, with a proxy operand on
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

  // [weakref.proxy.ops]/3 Equality is declared in one direction only (C++20 rewrites x == p and
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

// [weakref.proxy.ops]/10 Compound assignment acts on the referent. Python's proxy returns
// itself when the referent's in-place operator returned the referent, and that operator's
// result otherwise; here the referent's operator returning T& (the referent, by the convention
// of [over.oper]) yields the proxy, and any other result is returned as it is.
#define WEAKREF_PROXY_COMPOUND(op)                                                                 \
  template <class U>                                                                               \
    requires requires(T& t, detail::unwrapped_t<U> u) { t op std::forward<decltype(u)>(u); }       \
  decltype(auto) operator op(U&& u) const {                                                        \
    const std::shared_ptr<T> owner = pin();                                                        \
    auto rhs = detail::make_operand(std::forward<U>(u));                                           \
    if constexpr (std::is_same_v<decltype(*owner op rhs.get()), T&>) {                             \
      *owner op rhs.get();                                                                         \
      return static_cast<const weak_proxy&>(*this);                                                \
    } else {                                                                                       \
      return *owner op rhs.get();                                                                  \
    }                                                                                              \
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

// [weakref.proxy.ops]/13 Unary operators and increments.
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
// is a pointer to function or a class with a call operator of any form (overloaded or a
// template: std::plus<>, a generic lambda). The one case the type cannot tell is a final class
// whose operator() is overloaded or a template: it is classified as proxy_type, though such a
// proxy is still invocable with the arguments T accepts.
template <class T>
concept callable_referent = std::is_function_v<std::remove_pointer_t<std::remove_cv_t<T>>> ||
                            detail::has_call_member<std::remove_cv_t<T>>;

template <class P>
concept proxy_types = detail::is_proxy<std::remove_cv_t<P>>;

template <class P>
concept callable_proxy_type =
    proxy_types<P> && callable_referent<typename std::remove_cv_t<P>::element_type>;

template <class P>
concept proxy_type = proxy_types<P> && !callable_proxy_type<P>;

} // namespace weakref
