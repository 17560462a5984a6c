// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <utility>
export module weakref:ref;
import :errors;
import :control;

export namespace weakref {
template <class T>
class weak_ref;
}

namespace weakref::detail {
template <class T>
weak_ref<T>* ref_base(weak_ref<T>* p) noexcept;
}

export namespace weakref {

// [weakref.ref.callback]/1: what may be passed as a callback for a handle type H.
template <class F, class H>
concept weak_callback =
    std::invocable<std::decay_t<F>&, H> && std::constructible_from<std::decay_t<F>, F> &&
    !std::same_as<std::remove_cvref_t<F>, std::nullptr_t>;

} // namespace weakref

namespace weakref::detail {

// What weak_ref and weak_proxy construct alike ([weakref.ref.cons]/1-2 and /5,
// [weakref.proxy.cons]/1-2 and /5):
// a new reference of kind Kind registered in obj's weak list, with an optional callback that
// receives a Handle; and swap. Copies share the identity and moves empty the source (handle).
template <class T, class Handle, node_kind Kind>
class registering_handle : public handle<T> {
public:
  // /1 Postconditions: expired() is true. The state of a moved-from handle.
  registering_handle() noexcept = default;

  // /2 Throws: type_error if obj was not made by make_shared or allocate_shared, or is empty
  // (PY-INTRO-5).
  explicit registering_handle(const std::shared_ptr<T>& obj)
      : handle<T>(make_node<T, Handle>(obj, Kind, no_callback{})) {}

  // /3 Effects: as above, and registers callback: when the referent is about to be finalized
  // and this reference (or a copy) still exists, callback(h) is called with a handle h to it
  // (PY-REF-12, -13, -14, PY-PROXY-3). A null function pointer or empty std::function registers
  // none.
  template <class F>
    requires weak_callback<F, Handle>
  registering_handle(const std::shared_ptr<T>& obj, F&& callback)
      : handle<T>(make_node<T, Handle>(obj, Kind, std::forward<F>(callback))) {}

  registering_handle(const std::shared_ptr<T>& obj, std::nullptr_t) : registering_handle(obj) {}

  // [weakref.ref.cons]/16 From a std::weak_ptr: as from w.lock(), and type_error if w is expired
  // (an expired weak_ptr owns nothing, as an empty shared_ptr). A template, so that an argument
  // that merely converts to a weak_ptr (a shared_ptr<Derived>) keeps choosing the constructors
  // above instead of being ambiguous between the two conversions.
  template <class U>
    requires std::convertible_to<U*, T*>
  explicit registering_handle(const std::weak_ptr<U>& w)
      : registering_handle(std::shared_ptr<T>(lock_or_throw(w))) {}
  template <class U, class F>
    requires std::convertible_to<U*, T*> && weak_callback<F, Handle>
  registering_handle(const std::weak_ptr<U>& w, F&& callback)
      : registering_handle(std::shared_ptr<T>(lock_or_throw(w)), std::forward<F>(callback)) {}
  template <class U>
    requires std::convertible_to<U*, T*>
  registering_handle(const std::weak_ptr<U>& w, std::nullptr_t) : registering_handle(w) {}

  void swap(Handle& other) noexcept { this->swap_node(other); }
  friend void swap(Handle& a, Handle& b) noexcept { a.swap(b); }

protected:
  // [weakref.ref.conv]/1-2 From a handle of the same kind to a U, where U* converts to T*
  // (Derived to Base, T to const T): implicit, as that pointer conversion is. The result is a
  // view of the same reference, not a new one: identical() to other, one registration, one
  // callback (which still receives the handle type it was registered with), one cached hash.
  // Protected: weak_ref and weak_proxy declare it for their own kind, with the wording's
  // parameter (const weak_ref<U>&, const weak_proxy<U>&).
  template <class U, class H>
    requires(!std::same_as<U, T>) && std::convertible_to<U*, T*>
  registering_handle(const registering_handle<U, H, Kind>& other)
      : handle<T>(view_of<U>(access::node(other))) {}

  // [weakref.ref.obs]/4 Returns: true if *this and other are handles to the same reference
  // (Python: `r1 is r2`), whatever their element types ([weakref.ref.conv]/2);
  // [weakref.proxy.obs] likewise. Protected, as the converting constructor.
  template <class U, class H>
  bool identical(const registering_handle<U, H, Kind>& other) const noexcept {
    return canonical(this->node_) == canonical(access::node(other));
  }

private:
  template <class U>
  static std::shared_ptr<U> lock_or_throw(const std::weak_ptr<U>& w) {
    std::shared_ptr<U> owner = w.lock();
    if (!owner)
      throw type_error("cannot create weak reference to an expired or empty std::weak_ptr");
    return owner;
  }

  template <class U>
  static ref_node<T>* view_of(node_base* n) {
    if (n == nullptr) return nullptr;
    std::weak_ptr<T> target = convert_weak<T>(static_cast<ref_node<U>*>(n)->target);
    node_base* const viewed = canonical(n);
    ref_node<T>* v = make_view<T>(viewed, std::move(target));
    acquire(viewed); // other holds a handle to it (or to a view holding one): not the last
    return v;
  }
};

} // namespace weakref::detail

export namespace weakref {

// [weakref.ref] Python: weakref.ref (PY-REF-*). A handle to a weak reference: copies share one
// identity (one registration, one callback, counted once) ([weakref.ref.general]/3).
template <class T>
class weak_ref : public detail::registering_handle<T, weak_ref<T>, detail::node_kind::ref> {
  using base = detail::registering_handle<T, weak_ref<T>, detail::node_kind::ref>;
  using base::node_;

public:
  // [weakref.ref.cons]/1-2 and /5 The constructors and swap (detail::registering_handle).
  // [weakref.ref.cons]/7 A copy is the same reference, not a new one (identity is shared); a
  // move leaves the source empty. [weakref.ref.cons]/14 Destroying the last handle before the
  // referent dies unregisters the reference: its callback never runs. (detail::handle.)
  using base::base;
  // The default constructor, which the converting constructor's declaration would suppress.
  weak_ref() noexcept = default;
  // [weakref.ref.conv]/1-2 (detail::registering_handle's, for weak_ref<U> exactly)
  template <class U>
    requires(!std::same_as<U, T>) && std::convertible_to<U*, T*>
  weak_ref(const weak_ref<U>& other) : base(other) {}
  // [weakref.ref.obs]/4 identical(other) (detail::registering_handle's, for weak_ref<U> exactly)
  template <class U>
  bool identical(const weak_ref<U>& other) const noexcept {
    return base::identical(other);
  }

  // [weakref.ref.obs]/1 Python: r() (PY-REF-1, PY-EX-1). Returns: an owner of the referent if it
  // is alive, else an empty shared_ptr. Atomic: the thread-safe idiom of PY-EX-3. lock() is the
  // same; expired() is true if the referent is gone (or *this is empty), only a hint when other
  // threads may release owners (PY-EX-3).
  std::shared_ptr<T> operator()() const noexcept { return this->lock(); }
  using base::expired;
  using base::lock;

  // [weakref.ref.hash]/2 Python: "Weak references are hashable if the object is hashable. They
  // will maintain their hash value even after the object was deleted. If hash() is called the
  // first time only after the object was deleted, the call will raise TypeError" (PY-REF-4, -18, -5).
  // The referent's hash runs with no library lock held.
  // [weakref.ref.conv]/2 The cache is the reference's, shared by its views of other types.
  std::size_t hash() const
    requires detail::hashable<T>
  {
    detail::node_base* const n = detail::canonical(node_);
    if (n == nullptr) throw type_error("weak object has gone away");
    if (n->hash_cached.load(std::memory_order_acquire))
      return n->hash_value.load(std::memory_order_relaxed);
    const std::shared_ptr<T> referent = this->lock();
    if (!referent) throw type_error("weak object has gone away");
    const std::size_t h = std::hash<std::remove_cv_t<T>>{}(*referent);
    n->hash_value.store(h, std::memory_order_relaxed);
    n->hash_cached.store(true, std::memory_order_release);
    return h;
  }

  // [weakref.ref.conv]/6 For APIs that take a std::weak_ptr: one sharing ownership with the
  // referent (expired once it died), as if converted from the weak_ptr that *this holds; empty
  // if *this is empty. Implicit, as weak_ptr<Derived> to weak_ptr<Base> is.
  template <class U>
    requires std::convertible_to<T*, U*>
  operator std::weak_ptr<U>() const noexcept {
    if (node_ == nullptr) return std::weak_ptr<U>();
    return detail::convert_weak<U>(static_cast<detail::ref_node<T>*>(node_)->target);
  }

  // [weakref.ref.callback]/4-6 Python 3.4: ref.__callback__, "the callback currently associated
  // with the weakref; if there is none, or if the referent is dead, this is None" (PY3-CB-1,
  // -2). has_callback() tells whether there is one; callback_type() is its type as the user gave
  // it (typeid(void) when there is none), and callback<F>() its address when its type is F
  // (std::function::target's vocabulary); all three see none once the referent is dead.
  bool has_callback() const noexcept { return callback_node() != nullptr; }
  const std::type_info& callback_type() const noexcept {
    const detail::node_base* const n = callback_node();
    return n != nullptr ? n->ops->callback_type() : typeid(void);
  }
  template <class F>
  const F* callback() const noexcept {
    const detail::node_base* const n = callback_node();
    if (n == nullptr || n->ops->callback_type() != typeid(F)) return nullptr;
    return static_cast<const F*>(n->ops->callback_target(n));
  }

  // [weakref.ref.owner] Identity of the referent, stable after death: the basis of the identity
  // policy of the weak containers, and usable for types with neither == nor hash.
  std::size_t owner_hash() const noexcept {
    return std::hash<const void*>{}(node_ ? static_cast<const void*>(node_->hdr) : nullptr);
  }
  bool owner_equal(const weak_ref& other) const noexcept {
    return (node_ ? node_->hdr : nullptr) == (other.node_ ? other.node_->hdr : nullptr);
  }

  // [weakref.ref.eq] Python: "If the referents are still alive, two references have the same
  // equality relationship as their referents (regardless of the callback). If either referent
  // has been deleted, the references are equal only if the reference objects are the same
  // object" (PY-REF-6, -19). A T without == compares by address. There is deliberately no ordering
  // (PY-REF-7): no operator<, operator<=>.
  friend bool operator==(const weak_ref& a, const weak_ref& b) {
    const std::shared_ptr<T> pa = a.lock();
    const std::shared_ptr<T> pb = b.lock();
    if (!pa || !pb) return a.identical(b);
    if constexpr (std::equality_comparable<T>)
      return static_cast<bool>(*pa == *pb);
    else
      return pa.get() == pb.get();
  }

private:
  // The node holding this reference's callback while the referent lives, else null.
  const detail::node_base* callback_node() const noexcept {
    const detail::node_base* const n = detail::canonical(node_);
    if (n == nullptr || n->ops->callback == nullptr || this->expired()) return nullptr;
    return n;
  }
};

// As std::weak_ptr's: weak_ref r(obj) deduces weak_ref<T> from a shared_ptr<T>.
template <class T>
weak_ref(const std::shared_ptr<T>&) -> weak_ref<T>;
template <class T, class F>
weak_ref(const std::shared_ptr<T>&, F&&) -> weak_ref<T>;
template <class T>
weak_ref(const std::weak_ptr<T>&) -> weak_ref<T>;
template <class T, class F>
weak_ref(const std::weak_ptr<T>&, F&&) -> weak_ref<T>;

// [weakref.ref.types] Python: ReferenceType. Satisfied by weak_ref<T> and by classes derived
// from it (Python: "Specialized versions of ref objects can be created through subclassing").
// Detected by deduction against the base, so no weak_ref<X> is instantiated for unrelated types
// (std::hash<R> below is checked for every R a program hashes).
template <class R>
concept ref_type = requires(std::remove_cvref_t<R>* p) { detail::ref_base(p); };

} // namespace weakref

namespace weakref::detail {

// [weakref.ref.self]/8-9 What a self_callback shares with the dispatcher in its reference's node:
// which object to call, and whether a call is running, so that the object's destruction can wait
// for a call running on another thread (as std::stop_callback's destructor does) and never
// starts one after it.
class self_binding {
  spinlock lock_;
  bool running_ = false;   // guarded by lock_
  void* self_;             // the derived object; null once it is going; guarded by lock_
  std::thread::id runner_; // guarded by lock_, meaningful while running_

public:
  inline explicit self_binding(void* self) noexcept : self_(self) {}

  // On the dying thread: the object to call, now marked as in use; null if it is gone.
  inline void* enter() noexcept {
    std::lock_guard guard(lock_);
    if (self_ != nullptr) {
      running_ = true;
      runner_ = std::this_thread::get_id();
    }
    return self_;
  }
  inline void leave() noexcept {
    std::lock_guard guard(lock_);
    running_ = false;
  }
  // From the object's destruction: once this returns no call is running on another thread and
  // none will start. A call running on this thread (the callback destroying its own object)
  // is not waited for: after it returns, leave() touches only this state, which is in the node.
  inline void unbind() noexcept {
    const std::thread::id me = std::this_thread::get_id();
    for (;;) {
      {
        std::lock_guard guard(lock_);
        if (!running_ || runner_ == me) {
          self_ = nullptr;
          return;
        }
      }
      std::this_thread::yield();
    }
  }
};

template <class Derived, class F>
struct self_init {
  Derived* self;
  F&& callback;
};

// The callback stored in the node: calls the user's callback with the derived object, if it is
// still bound, instead of with the weak_ref<T> handle that the node passes.
template <class Derived, class Fn>
struct self_dispatch : callback_wrapper {
  self_binding binding;
  Fn fn;

  template <class F>
  explicit self_dispatch(self_init<Derived, F>&& init)
      : binding(static_cast<void*>(init.self)), fn(std::forward<F>(init.callback)) {}

  // What weak_ref::callback() shows: the user's callback, not this dispatcher.
  const Fn& user_callback() const noexcept { return fn; }

  template <class Handle>
  void operator()(Handle&&) {
    void* const self = binding.enter();
    if (self == nullptr) return;
    struct done {
      self_binding& b;
      ~done() { b.leave(); }
    } guard{binding};
    std::invoke(fn, *static_cast<Derived*>(self));
  }
};

} // namespace weakref::detail

export namespace weakref {

// [weakref.ref.self] Python passes a ref subclass's callback the subclass instance. A
// self_callback<Derived>, a data member of a class Derived derived from weak_ref<T>, registers
// a new reference as Derived's weak_ref<T> base, whose callback receives the Derived object
// itself. It is bound to that object while the member lives: declared as Derived's last data
// member, it is initialized after, and destroyed before, every other member, so the callback
// never sees a member not yet or no longer constructed ([class.cdtor]).
template <class Derived>
class self_callback {
public:
  // [weakref.ref.self]/1 No callback (Derived's constructors that register none).
  self_callback() noexcept = default;

  // [weakref.ref.self]/4 Effects: creates a new reference to *obj with callback, stores
  // it in self's weak_ref<T> base (as by assignment), and binds it to self.
  template <class T, class F>
    requires std::invocable<std::decay_t<F>&, Derived&> &&
             std::constructible_from<std::decay_t<F>, F>
  self_callback(Derived& self, const std::shared_ptr<T>& obj, F&& callback) {
    static_assert(std::derived_from<Derived, weak_ref<T>>,
                  "weakref::self_callback<Derived>: Derived must be derived from weak_ref<T>, "
                  "where T is the element type of the shared_ptr it is constructed from");
    weak_ref<T>& base = self;
    if (detail::is_null_callback(callback)) {
      base = weak_ref<T>(obj);
      return;
    }
    using dispatch = detail::self_dispatch<Derived, std::decay_t<F>>;
    using node = detail::callback_node<T, weak_ref<T>, dispatch>;
    detail::ref_node<T>* n = detail::make_callback_node<T, weak_ref<T>, dispatch>(
        obj, detail::node_kind::ref,
        detail::self_init<Derived, F>{&self, std::forward<F>(callback)});
    binding_ = &static_cast<node*>(n)->fn.binding;
    detail::acquire(n); // this member's own handle: the binding outlives the member
    node_ = n;
    base = detail::access::adopt<weak_ref<T>>(n);
  }

  // [weakref.ref.self]/11 The binding belongs to one object: a copy or a move of Derived would
  // need the new object's address, which a member's copy constructor does not know.
  self_callback(const self_callback&) = delete;
  self_callback& operator=(const self_callback&) = delete;

  // [weakref.ref.self]/9 Unbinds (waiting for a call running on another thread), then drops
  // this member's handle: if the reference has no other handle, it is unregistered.
  ~self_callback() {
    if (binding_ != nullptr) binding_->unbind();
    if (node_ != nullptr) detail::release(node_);
  }

private:
  detail::node_base* node_ = nullptr;
  detail::self_binding* binding_ = nullptr;
};

} // namespace weakref

// [weakref.ref.hash]/1 Enabled exactly when std::hash<T> is, for weak_ref<T> and classes derived
// from it; disabled (as a std::hash primary) otherwise.
template <class R>
  requires weakref::ref_type<R> && weakref::detail::hashable<typename R::element_type>
struct std::hash<R> {
  std::size_t operator()(const R& r) const { return r.hash(); }
};
