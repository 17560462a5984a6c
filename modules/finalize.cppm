// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <atomic>
#include <concepts>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
export module weakref:finalize;
import :errors;
import :control;
import :ref;

// [weakref.finalize] Python 3.4: weakref.finalize. A finalizer is a weak reference to its object
// whose callback is the finalizer itself, kept registered by the library (not by the program's
// handles) until it is called, detached, or run at exit.
//
// Who may touch what:
//  - The registry (one per program) lists the live finalizers, newest first, under a spinlock
//    that no user code runs under. A listed finalizer's reference holds one handle for the
//    registry, so it outlives every handle the program drops ([weakref.finalize.general]/3).
//  - The function and its arguments (the `finalizer_payload`) live in the node, next to one
//    atomic word: an alive bit, which the first call, detach, death or exit pass clears (whoever
//    clears it is the only one to call: at most once, [weakref.finalize.call]/5), and a count of
//    shares. peek() takes a share while the bit is set, so a call racing with a peek never
//    destroys what the peek is copying; the last share destroys the payload. Whoever uses the
//    payload holds a handle on the node.
namespace weakref::detail {

// The untyped part of every finalizer: its place in the registry.
struct finalizer_link {
  finalizer_link* prev = nullptr; // guarded by the registry's lock
  finalizer_link* next = nullptr; // guarded by the registry's lock
  bool listed = false;            // guarded by the registry's lock
  std::atomic<bool> at_exit{true};
  node_base* node = nullptr; // the finalizer's reference, set once when it is listed
  // Runs the finalizer if it is still alive, reporting an exception to the callback error
  // handler; what the exit pass calls.
  void (*run_at_exit)(finalizer_link*) noexcept = nullptr;
};

// [weakref.finalize.exit] Trivially destructible, so that it is still usable while the program's
// static objects are destroyed (a referent may die then).
class finalizer_registry {
  spinlock lock_;
  finalizer_link* newest_ = nullptr;    // guarded by lock_
  spinlock arm_lock_;                   // one std::atexit registration, even from two threads
  std::atomic<bool> exit_armed_{false}; // std::atexit registration done
  std::atomic<bool> shut_down_{false};  // the exit pass has run

public:
  // [weakref.finalize.exit]/4 Registers the exit pass with std::atexit the first time. Throws:
  // std::runtime_error if std::atexit cannot register it (then no finalizer is made: it could
  // never run at exit).
  inline void arm_exit_pass();
  // Lists l, which holds a handle on l->node for the registry.
  inline void list(finalizer_link* l) noexcept;
  // Takes l off the list; true if it was listed, and then the caller drops the registry's
  // handle (after the lock is released: dropping it may free the node).
  inline bool unlist(finalizer_link* l) noexcept;
  // Python: after the exit pass, finalizers are no longer called ([weakref.finalize.exit]/6).
  inline bool shut_down() const noexcept { return shut_down_.load(std::memory_order_acquire); }
  // [weakref.finalize.exit]/1 and /4 Calls the live finalizers whose at_exit flag is set, newest
  // first, including those that a finalizer creates meanwhile.
  void run_exit_pass() noexcept;
};

constinit finalizer_registry the_finalizer_registry;

void run_finalizers_at_exit() noexcept { the_finalizer_registry.run_exit_pass(); }

void finalizer_registry::arm_exit_pass() {
  if (exit_armed_.load(std::memory_order_acquire)) return;
  std::lock_guard guard(arm_lock_);
  if (exit_armed_.load(std::memory_order_relaxed)) return;
  if (std::atexit(&run_finalizers_at_exit) != 0)
    throw std::runtime_error("weakref::finalize: std::atexit cannot register the exit pass");
  exit_armed_.store(true, std::memory_order_release);
}

void finalizer_registry::list(finalizer_link* l) noexcept {
  std::lock_guard guard(lock_);
  l->next = newest_;
  if (newest_ != nullptr) newest_->prev = l;
  newest_ = l;
  l->listed = true;
}

bool finalizer_registry::unlist(finalizer_link* l) noexcept {
  std::lock_guard guard(lock_);
  if (!l->listed) return false;
  if (l->prev != nullptr)
    l->prev->next = l->next;
  else
    newest_ = l->next;
  if (l->next != nullptr) l->next->prev = l->prev;
  l->prev = l->next = nullptr;
  l->listed = false;
  return true;
}

void finalizer_registry::run_exit_pass() noexcept {
  for (;;) {
    finalizer_link* chosen = nullptr;
    {
      std::lock_guard guard(lock_);
      for (finalizer_link* l = newest_; l != nullptr; l = l->next)
        if (l->at_exit.load(std::memory_order_relaxed)) {
          chosen = l;
          break;
        }
      // The run below unlists it; the handle keeps its node (and so the link) alive until then.
      if (chosen != nullptr) acquire(chosen->node);
    }
    if (chosen == nullptr) break;
    node_base* const n = chosen->node;
    chosen->run_at_exit(chosen);
    release(n);
  }
  shut_down_.store(true, std::memory_order_release);
}

// [weakref.finalize.cons]/5 Debug builds: an argument that owns the object keeps it alive
// forever, since the registry holds the arguments (Python: "func, args and kwargs [must not]
// own any references to obj").
inline constexpr const char* argument_owns_object_message =
    "weakref: finalize: an argument owns the object, so the object can never die and the "
    "finalizer runs only at exit; pass a weak_ref or nothing that owns it\n";

// The function and the arguments, as the finalizer stores them.
template <class F, class... Args>
struct finalizer_payload {
  F func;
  std::tuple<Args...> args;

  template <class G, class... A>
  explicit finalizer_payload(G&& g, A&&... a)
      : func(std::forward<G>(g)), args(std::forward<A>(a)...) {}
};

// The function object stored in the finalizer's reference node (its callback): the registry
// link, and the payload itself, in the node, with one atomic word saying who may use it.
template <class T, class F, class... Args>
class finalizer_state : public finalizer_link, argument_outlives_call_mark {
public:
  using payload = finalizer_payload<F, Args...>;
  using result = std::invoke_result_t<F&, Args&...>;
  // [weakref.finalize.call]/2 What an explicit call returns: whether it ran for a function
  // returning void, else its result, if it ran.
  using call_result = call_outcome<result>;

  // Builds the payload from the finalizer's forwarded arguments (a tuple of references).
  template <class... Given>
  explicit finalizer_state(std::tuple<Given...> given) {
    run_at_exit = &finalizer_state::exit_call;
    std::apply(
        [this](auto&&... a) { std::construct_at(&payload_, std::forward<decltype(a)>(a)...); },
        std::move(given));
  }
  finalizer_state(const finalizer_state&) = delete;
  finalizer_state& operator=(const finalizer_state&) = delete;
  // A state is destroyed dead (the registry holds a handle on its node while it is alive), its
  // payload already destroyed by the last share; were it destroyed alive, the payload goes here.
  ~finalizer_state() {
    if (word_.load(std::memory_order_relaxed) & alive_bit) std::destroy_at(&payload_);
  }

  bool alive() const noexcept { return word_.load(std::memory_order_acquire) & alive_bit; }

  // [weakref.finalize.call]/5 The first of a call, a detach, the death or the exit pass to clear
  // the alive bit wins the payload, with the finalizer's own share.
  bool take() noexcept {
    return word_.fetch_and(~alive_bit, std::memory_order_acq_rel) & alive_bit;
  }
  // peek(): a counted share of the payload, while the finalizer is alive.
  bool share() noexcept {
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    while (w & alive_bit)
      if (word_.compare_exchange_weak(w, w + one_share, std::memory_order_acq_rel,
                                      std::memory_order_relaxed))
        return true;
    return false;
  }
  // After the payload was taken no peek can start, so a single share is the taker's alone and
  // it may move from the payload; otherwise a peek is copying it, and the taker copies too.
  bool exclusive() const noexcept { return word_.load(std::memory_order_acquire) == one_share; }

  payload& objects() noexcept { return payload_; }

  // Drops a share at the end of the scope, however the scope ends; the last share of a dead
  // finalizer destroys the payload (Python drops func and args when the finalizer dies).
  class share_guard {
  public:
    explicit share_guard(finalizer_state& s) noexcept : s_(s) {}
    share_guard(const share_guard&) = delete;
    share_guard& operator=(const share_guard&) = delete;
    ~share_guard() { s_.drop(); }

  private:
    finalizer_state& s_;
  };

  // What the winner of take() holds to the end of its scope: the payload's first share and the
  // registry's handle. The finalizer leaves the registry at once (the exit pass must not find
  // it again), but the registry's handle is dropped only after the share: the payload lives in
  // the node, and the function's call or the payload's destruction (user code) may drop every
  // other handle of the finalizer (PY-IMPL-3).
  class taken_guard {
  public:
    explicit taken_guard(finalizer_state& s) noexcept
        : s_(s), listed_(the_finalizer_registry.unlist(&s)) {}
    taken_guard(const taken_guard&) = delete;
    taken_guard& operator=(const taken_guard&) = delete;
    ~taken_guard() {
      node_base* const n = s_.node;
      s_.drop();
      if (listed_) release(n);
    }

  private:
    finalizer_state& s_;
    bool listed_;
  };

  // [weakref.finalize.call]/2 and /5-6 Marks the finalizer dead and, if it was alive (and the exit
  // pass has not run), calls func(args...) with the arguments as lvalues, as Python passes them.
  call_result call() {
    if (!take()) return call_result();
    const taken_guard guard{*this};
    if (the_finalizer_registry.shut_down()) return call_result();
    if constexpr (std::copy_constructible<F> && (std::copy_constructible<Args> && ...)) {
      if (!exclusive()) {
        // A peek is copying the payload on another thread: call a copy of it instead of the
        // objects being read.
        F func(payload_.func);
        std::tuple<Args...> args(payload_.args);
        return invoke(func, args);
      }
    }
    return invoke(payload_.func, payload_.args);
  }

  // The weak list calls the finalizer at the death, with a handle to its reference; an exception
  // goes to the callback error handler as any callback's ([weakref.finalize.call]/7). That
  // handle, which no user code can reach, holds the node for the whole call: the death needs no
  // pin of its own (the base argument_outlives_call_mark says so).
  void operator()(const weak_ref<T>&) { (void)call(); }

private:
  static constexpr std::uint32_t alive_bit = 1; // not yet taken
  static constexpr std::uint32_t one_share = 2; // shares: the finalizer's own, plus running peeks

  // The last share destroys the payload. Once the finalizer is dead no share can be added, so
  // a word of one share is the caller's alone: then no read-modify-write is needed.
  void drop() noexcept {
    if (word_.load(std::memory_order_acquire) == one_share ||
        word_.fetch_sub(one_share, std::memory_order_acq_rel) == one_share) {
      word_.store(0, std::memory_order_relaxed);
      std::destroy_at(&payload_);
    }
  }

  static call_result invoke(F& func, std::tuple<Args...>& args) {
    if constexpr (std::is_void_v<result>) {
      std::apply([&](Args&... a) { std::invoke(func, a...); }, args);
      return true;
    } else {
      return std::apply([&](Args&... a) { return call_result(std::invoke(func, a...)); }, args);
    }
  }

  static void exit_call(finalizer_link* l) noexcept {
    try {
      (void)static_cast<finalizer_state*>(l)->call();
    } catch (...) {
      get_callback_error_handler()(std::current_exception());
    }
  }

  std::atomic<std::uint32_t> word_{alive_bit | one_share};
  union {
    payload payload_; // built by the constructor; destroyed by the last share (drop)
  };
};

} // namespace weakref::detail

export namespace weakref {

// [weakref.finalize] Python 3.4: weakref.finalize(obj, func, *args) (PY3-FIN-*). A handle to a
// finalizer: copies share it (one finalizer, called at most once); dropping every handle does not
// unregister it ([weakref.finalize.general]/3). F and each of Args are stored decayed.
template <class T, class F, class... Args>
class finalize {
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "weakref::finalize<T, F, Args...>: T must be a non-array object type");
  static_assert(std::is_object_v<F> && (std::is_object_v<Args> && ...),
                "weakref::finalize<T, F, Args...>: F and Args are stored by value: object types "
                "(the deduction guide decays them; a reference_wrapper stores a reference)");
  static_assert(std::is_invocable_v<F&, Args&...>,
                "weakref::finalize<T, F, Args...>: F must be callable with lvalues of Args...");

  using state = detail::finalizer_state<T, F, Args...>;
  using payload = typename state::payload;
  using node = detail::callback_node<T, weak_ref<T>, state>;

public:
  using element_type = T;
  // [weakref.finalize.call]/2 bool when func returns void, else std::optional of its result.
  using call_result = typename state::call_result;

  // [weakref.finalize.obs]/2 Python: the (obj, func, args, kwargs) tuple of detach() and peek().
  struct info {
    std::shared_ptr<T> object;
    F func;
    std::tuple<Args...> args;
  };

  // [weakref.finalize.cons]/1 A handle to no finalizer: alive() is false, a call returns nothing.
  finalize() noexcept = default;

  // [weakref.finalize.cons]/2 Effects: registers a finalizer that calls func(args...) when obj
  // dies, when it is called, or at exit. Throws: type_error if obj is not weakly referenceable
  // (PY3-FIN-1), bad_alloc; then nothing is registered.
  template <class G, class... A>
    requires std::constructible_from<F, G> && (std::constructible_from<Args, A> && ...)
  finalize(const std::shared_ptr<T>& obj, G&& func, A&&... args) {
    (detail::diagnose_shared_owner(args, obj, detail::argument_owns_object_message), ...);
    detail::the_finalizer_registry.arm_exit_pass();
    // The payload is built in the node, after obj was found weakly referenceable.
    detail::ref_node<T>* const n = detail::make_callback_node<T, weak_ref<T>, state>(
        obj, detail::node_kind::ref,
        std::forward_as_tuple(std::forward<G>(func), std::forward<A>(args)...));
    state& s = static_cast<node*>(n)->fn;
    s.node = n;
    detail::acquire(n); // the registry's handle
    detail::the_finalizer_registry.list(&s);
    ref_ = detail::access::adopt<weak_ref<T>>(n);
  }

  // [weakref.finalize.call]/2 Python: f(). If the finalizer is alive, marks it dead and returns
  // what func(args...) returns (true for void); otherwise returns false or an empty optional.
  // An exception from func propagates; the finalizer is dead all the same.
  call_result operator()() const {
    state* const s = get();
    return s != nullptr ? s->call() : call_result();
  }

  // [weakref.finalize.obs]/3 Python: f.detach(). If the finalizer is alive and obj still lives,
  // marks it dead without calling it and returns obj, func and args; otherwise nothing.
  std::optional<info> detach() const {
    return inspect<true>([](state& s, std::shared_ptr<T>&& obj, payload& p) -> info {
      if constexpr (std::copy_constructible<F> && (std::copy_constructible<Args> && ...))
        if (!s.exclusive()) return info{std::move(obj), p.func, p.args};
      return info{std::move(obj), std::move(p.func), std::move(p.args)};
    });
  }

  // [weakref.finalize.obs]/7 Python: f.peek(). As detach(), but the finalizer stays alive and the
  // result holds copies.
  std::optional<info> peek() const
    requires std::copy_constructible<F> && (std::copy_constructible<Args> && ...)
  {
    return inspect<false>([](state&, std::shared_ptr<T>&& obj, payload& p) {
      return info{std::move(obj), p.func, p.args};
    });
  }

  // [weakref.finalize.obs]/1 Python: f.alive: not yet called, detached or run at exit.
  bool alive() const noexcept {
    const state* const s = get();
    return s != nullptr && s->alive();
  }

  // [weakref.finalize.exit]/1 Python: f.atexit, true unless set otherwise: whether the finalizer,
  // if still alive when the program exits, is called then.
  // Python: false once the finalizer is dead, and setting it then has no effect.
  bool atexit() const noexcept {
    const state* const s = get();
    return s != nullptr && s->alive() && s->at_exit.load(std::memory_order_relaxed);
  }
  void atexit(bool value) noexcept {
    state* const s = get();
    if (s != nullptr && s->alive()) s->at_exit.store(value, std::memory_order_relaxed);
  }

  // [weakref.finalize.obs]/10 True if both are handles to the same finalizer (Python: `f is g`).
  bool identical(const finalize& other) const noexcept { return ref_.identical(other.ref_); }

  // The finalizer's weak reference to obj ([weakref.finalize.general]/4): counted by
  // weak_ref_count and listed by weak_refs, as Python's is.
  const weak_ref<T>& ref() const noexcept { return ref_; }

private:
  // What detach() and peek() share: nothing unless the finalizer is alive and its object lives
  // (pinned for the result); the payload is taken (Take) or shared, and `make` builds the result
  // from it before the share is dropped.
  template <bool Take, class Make>
  std::optional<info> inspect(Make make) const {
    state* const s = get();
    if (s == nullptr) return std::nullopt;
    std::shared_ptr<T> obj = ref_.lock();
    if (!obj) return std::nullopt;
    if constexpr (Take) {
      if (!s->take()) return std::nullopt;
      const typename state::taken_guard guard{*s};
      return make(*s, std::move(obj), s->objects());
    } else {
      if (!s->share()) return std::nullopt;
      const typename state::share_guard guard{*s};
      return make(*s, std::move(obj), s->objects());
    }
  }

  state* get() const noexcept {
    detail::node_base* const n = detail::access::node(ref_);
    return n != nullptr ? &static_cast<node*>(n)->fn : nullptr;
  }

  weak_ref<T> ref_;
};

template <class T, class F, class... Args>
finalize(const std::shared_ptr<T>&, F&&, Args&&...)
    -> finalize<T, std::decay_t<F>, std::decay_t<Args>...>;

} // namespace weakref
