// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <typeinfo>
#include <utility>
export module weakref:method;
import :errors;
import :control;
import :ref;

namespace weakref::detail {

// The class a pointer to member belongs to: C for `R C::*`, function or data member alike.
template <class M>
struct member_class {};
template <class R, class C>
struct member_class<R C::*> {
  using type = C;
};

// [weakref.method.general]/1 What weak_method<T, M> binds: a pointer to a member function of T
// (or of a base of T), or a pointer to a data member of T whose value is called.
template <class M, class T>
concept member_of = std::is_member_pointer_v<M> && requires {
  typename member_class<M>::type;
  requires std::is_base_of_v<typename member_class<M>::type, T>;
};

// The call a weak_method forwards to obj ([weakref.method.call]/1): obj.*m(args...) for a member
// function, (obj.*m)(args...) for a callable data member.
template <class M, class T, class... A>
decltype(auto) call_member(M m, T& obj, A&&... args) {
  if constexpr (std::is_member_function_pointer_v<M>)
    return std::invoke(m, obj, std::forward<A>(args)...);
  else
    return std::invoke(obj.*m, std::forward<A>(args)...);
}

// [weakref.method.call]/2 Whether that call is well-formed, decided from the types alone:
// call_member's deduced return type would instantiate its body, making a wrong argument list a
// hard error instead of an unsatisfied constraint.
template <class M, class T, class... A>
concept member_invocable =
    (std::is_member_function_pointer_v<M> && std::is_invocable_v<M, T&, A...>) ||
    (std::is_member_object_pointer_v<M> && std::is_invocable_v<std::invoke_result_t<M, T&>, A...>);

} // namespace weakref::detail

export namespace weakref {

// [weakref.method] Python 3.4: WeakMethod (PY3-METH-*). A weak reference to a bound member:
// the object, held weakly, and a pointer to its member function (or callable data member). It
// lives as long as the object does, not as long as the expression that bound them: C++ has no
// bound-method temporary to die (PY3-METH-2). Copies share one reference (as weak_ref's).
template <class T, class M>
class weak_method {
  static_assert(detail::member_of<M, T>,
                "weakref::weak_method<T, M>: M must be a pointer to a member function of T (or of "
                "a base of T), or a pointer to a callable data member of T");

public:
  using element_type = T;
  using method_type = M;

  // [weakref.method.cons]/1 An empty weak_method: expired, calls nothing.
  weak_method() noexcept = default;
  weak_method(const weak_method&) noexcept = default;
  weak_method(weak_method&&) noexcept = default;
  weak_method& operator=(const weak_method&) noexcept = default;
  weak_method& operator=(weak_method&&) noexcept = default;

  // [weakref.method.cons]/2 Effects: a new weak reference to *obj bound to method. Throws:
  // type_error if obj is not weakly referenceable or method is null (Python: "argument should be
  // a bound method") (PY3-METH-1).
  weak_method(const std::shared_ptr<T>& obj, M method)
      : ref_((check(method), obj)), method_(method) {}
  weak_method(const std::shared_ptr<T>& obj, M method, std::nullptr_t) : weak_method(obj, method) {}

  // [weakref.method.cons]/5 As above, with a callback that receives a handle to this
  // weak_method (identical() to it) when obj dies, as weak_ref's does (PY3-METH-5). A null
  // function pointer or empty std::function registers none.
  template <class F>
    requires weak_callback<F, weak_method>
  weak_method(const std::shared_ptr<T>& obj, M method, F&& callback)
      : ref_((check(method), make_ref(obj, method, std::forward<F>(callback)))), method_(method) {}

  // [weakref.method.obs]/1 Python: wm() returns the bound method; here an owner of the object,
  // empty once it is gone. expired() is only a hint when other threads release owners.
  std::shared_ptr<T> lock() const noexcept { return ref_.lock(); }
  bool expired() const noexcept { return ref_.expired(); }
  M method() const noexcept { return method_; }
  // The weak reference to the object (its callback is this weak_method's).
  const weak_ref<T>& ref() const noexcept { return ref_; }

  // [weakref.method.call]/1 If the object lives, calls the member on it, keeping the object
  // alive for the call, and returns the member's result (true for void); otherwise false or an
  // empty optional: absence is a value, not an exception, so that a dead observer is skipped.
  template <class... A>
    requires detail::member_invocable<M, T, A...>
  auto operator()(A&&... args) const {
    using result =
        decltype(detail::call_member(method_, std::declval<T&>(), std::forward<A>(args)...));
    using outcome = detail::call_outcome<result>;
    const std::shared_ptr<T> obj = ref_.lock();
    if (!obj) return outcome();
    if constexpr (std::is_void_v<result>) {
      detail::call_member(method_, *obj, std::forward<A>(args)...);
      return outcome(true);
    } else {
      return outcome(detail::call_member(method_, *obj, std::forward<A>(args)...));
    }
  }

  // [weakref.method.obs]/2 Python 3.4: __callback__ (as weak_ref's, [weakref.ref.callback]).
  bool has_callback() const noexcept { return ref_.has_callback(); }
  const std::type_info& callback_type() const noexcept { return ref_.callback_type(); }
  template <class F>
  const F* callback() const noexcept {
    return ref_.template callback<F>();
  }

  // [weakref.method.obs]/3 Handles to the same weak_method (Python: `a is b`).
  bool identical(const weak_method& other) const noexcept {
    return method_ == other.method_ && ref_.identical(other.ref_);
  }

  // [weakref.method.eq] Python: while both objects live, equal when the objects compare equal
  // (by T's ==, by address if T has none) and the members are the same; once either is dead,
  // only if identical (PY3-METH-3).
  friend bool operator==(const weak_method& a, const weak_method& b) {
    return a.method_ == b.method_ && a.ref_ == b.ref_;
  }

  // [weakref.method.hash] Python: the hash of the object, cached when first taken, kept after
  // death, type_error if first taken after death (PY3-METH-4).
  std::size_t hash() const
    requires detail::hashable<T>
  {
    return ref_.hash();
  }
  // [weakref.ref.owner] for weak_method: the object's identity, for identity-keyed registries.
  std::size_t owner_hash() const noexcept { return ref_.owner_hash(); }
  bool owner_equal(const weak_method& other) const noexcept {
    return method_ == other.method_ && ref_.owner_equal(other.ref_);
  }

private:
  // The callback registered with the reference: gives the user's callback this weak_method.
  template <class Fn>
  struct adapter : detail::callback_wrapper {
    M method;
    Fn fn;
    const Fn& user_callback() const noexcept { return fn; }
    void operator()(weak_ref<T> r) { std::invoke(fn, weak_method(std::move(r), method)); }
  };

  static void check(M method) {
    if (method == nullptr) throw type_error("weakref::weak_method: the member pointer is null");
  }

  template <class F>
  static weak_ref<T> make_ref(const std::shared_ptr<T>& obj, M method, F&& callback) {
    if (detail::is_null_callback(callback)) return weak_ref<T>(obj);
    return weak_ref<T>(obj, adapter<std::decay_t<F>>{{}, method, std::forward<F>(callback)});
  }

  weak_method(weak_ref<T>&& r, M method) noexcept : ref_(std::move(r)), method_(method) {}

  weak_ref<T> ref_;
  M method_{};
};

template <class T, class M>
weak_method(const std::shared_ptr<T>&, M) -> weak_method<T, M>;
template <class T, class M, class F>
weak_method(const std::shared_ptr<T>&, M, F&&) -> weak_method<T, M>;

} // namespace weakref

// [weakref.method.hash] Enabled exactly when std::hash<T> is.
template <class T, class M>
  requires weakref::detail::hashable<T>
struct std::hash<weakref::weak_method<T, M>> {
  std::size_t operator()(const weakref::weak_method<T, M>& m) const { return m.hash(); }
};
