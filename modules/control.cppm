// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <concepts>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <utility>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#include <sanitizer/tsan_interface.h>
#define WEAKREF_TSAN_ANNOTATIONS 1
#endif
#if __has_feature(address_sanitizer)
#define WEAKREF_NO_NODE_POOL 1 // every node from operator new, so ASan sees each use after free
#endif
#endif
export module weakref:control;
import :errors;

// Internal: nothing here is exported. It is an interface partition (re-exported by the primary
// interface, as [module.unit]/3 requires) only because the exported templates use it.
//
// The design, in the paper's section "Ownership and how the weak list is found":
//  - A weakly referenceable object lives in one allocation, the "chunk": the shared_ptr control
//    block, then a `header` (the weak list), the allocator, and the object.
//  - The control block's deleter is `detail::deleter`, one non-template type, so any
//    shared_ptr<U> into the object finds the header with std::get_deleter<deleter>.
//  - The deleter runs when the use count reaches zero: by then every std::weak_ptr is expired,
//    which is what "clears" every weak reference before any callback or ~T runs.
//  - The chunk is released when the control block is deallocated, i.e. when the weak count
//    reaches zero. Every ref node holds a std::weak_ptr, so the header outlives every node that
//    can still touch it: that is what makes a concurrent unlink safe.
namespace weakref::detail {

// Performance note: a member function defined in its class inside a named module is not
// implicitly inline ([dcl.inline]/4), and clang does not make the bodies of non-inline functions
// available to the importers' optimizer: every non-template function on a hot path below is
// declared `inline` explicitly so that it can be inlined into the user's code.

// A lock of one byte per referent. No user code ever runs while it is held
// ([weakref.ref.general]/5), so critical sections are a few pointer writes.
class spinlock {
  std::atomic<bool> locked_{false};

public:
  inline void lock() noexcept {
    while (locked_.exchange(true, std::memory_order_acquire))
      while (locked_.load(std::memory_order_relaxed)) std::this_thread::yield();
  }
  inline void unlock() noexcept { locked_.store(false, std::memory_order_release); }
  // For the debug-build checks of "Requires: lock held": true while some thread holds it.
  inline bool held() const noexcept { return locked_.load(std::memory_order_relaxed); }
};

// Performance: the nodes of weak_ref and weak_proxy are small blocks made and freed at the rate
// weak references are, and a general-purpose allocator costs more than the rest of creating and
// destroying one (malloc + free: ~150 of ~290 instructions, callgrind). So freed node blocks are
// kept per thread, by size class, for the next node of that thread: a block freed on another
// thread than it was made on simply moves to that thread's cache. Bounded (a few KiB per
// thread); the cache is emptied when its thread ends, and a block freed after that goes back to
// operator delete. Table entries have their own allocator and do not come here.
class node_pool {
  static constexpr std::size_t granule = 16;
  static constexpr std::size_t classes = 16; // blocks of 16, 32, ..., 256 bytes
  static constexpr unsigned char per_class = 32;

  struct block {
    block* next;
  };
  // Trivially destructible, so it can still be read after its thread's cleanup has run.
  struct cache {
    block* heads[classes];
    unsigned char counts[classes];
    bool registered; // the cleanup below is registered for this thread
    bool retired;    // the cleanup has run: no more caching on this thread
  };
  static inline thread_local constinit cache tls{};

  struct cleanup {
    cleanup() = default;
    cleanup(const cleanup&) = delete;
    cleanup& operator=(const cleanup&) = delete;
    ~cleanup() {
      cache& c = tls;
      c.retired = true;
      for (std::size_t k = 0; k < classes; ++k)
        while (block* b = c.heads[k]) {
          c.heads[k] = b->next;
          ::operator delete(b);
        }
    }
  };
  // Once per thread, on its first cached block: left out of line.
  static void register_cleanup() {
    thread_local cleanup at_thread_exit;
    (void)at_thread_exit;
  }

public:
  static inline void* allocate(std::size_t bytes) {
#ifndef WEAKREF_NO_NODE_POOL
    const std::size_t k = (bytes - 1) / granule;
    if (k < classes) {
      cache& c = tls;
      if (block* b = c.heads[k]) {
        c.heads[k] = b->next;
        --c.counts[k];
        return b;
      }
      return ::operator new((k + 1) * granule);
    }
#endif
    return ::operator new(bytes);
  }

  static inline void deallocate(void* p, [[maybe_unused]] std::size_t bytes) noexcept {
#ifndef WEAKREF_NO_NODE_POOL
    const std::size_t k = (bytes - 1) / granule;
    cache& c = tls;
    if (k < classes && c.counts[k] < per_class && !c.retired) {
      if (!c.registered) {
        c.registered = true;
        register_cleanup();
      }
      block* b = ::new (p) block{c.heads[k]};
      c.heads[k] = b;
      ++c.counts[k];
      return;
    }
#endif
    ::operator delete(p);
  }
};

enum class node_kind : unsigned char { ref, proxy };

struct header;
struct node_base;

// What a node's type decides, one constant table per node type and kind (so a node carries one
// pointer for it, not four fields: every weak container entry is a node).
struct node_ops {
  node_kind kind;
  const void* element_tag;              // &type_tag<T>: which handle type may adopt the node
  void (*callback)(node_base*);         // null when there is no callback; may throw
  void (*dispose)(node_base*) noexcept; // frees the node
  // Non-null only for a view ([weakref.ref.conv]/2): the node of the reference it stands for.
  node_base* (*viewed)(node_base*) noexcept = nullptr;
  // Non-null exactly when `callback` is ([weakref.ref.callback]/4, Python's __callback__): the
  // type of the callback as the user gave it, and its address in the node (for a container
  // entry, whose callback the user did not give, an unspecified type: container_report).
  const std::type_info& (*callback_type)() noexcept = nullptr;
  const void* (*callback_target)(const node_base*) noexcept = nullptr;
  // The node's callback needs no pin: while the node is in a weak list, a handle that only its
  // callback's report can end keeps it alive (a container entry: the table's handle, D8).
  bool kept_while_linked = false;
  // While the node is linked, its weak list holds one of its handles (a reference with a
  // callback, D2): die() hands that handle to the callback as its argument, with no atomic
  // read-modify-write, and the last other handle goes only under the header's lock (release).
  bool list_holds_handle = false;
  // The argument's handle is the whole pin of the callback's call: the callback runs on a copy
  // of its function object (callback_node::call_on_copy), or cannot drop its argument before it
  // returns (a finalizer: callback_node::argument_outlives_call).
  bool pinned_by_argument = false;
};

// The identity of one weak reference or proxy: every copy of a weak_ref is a handle to the same
// node ([weakref.ref.general]/3). Handles count in `handles` (32 bits, as libstdc++'s shared_ptr
// counts); the node leaves the weak list and is freed when the last handle goes. 48 bytes.
struct node_base {
  std::atomic<std::uint32_t> handles{1};
  // Written under hdr->lock; atomic so that release() may read it without the lock (a node
  // once unlinked is never linked again). Relaxed: the lock and `handles` order the rest.
  std::atomic<bool> linked{false};
  std::atomic<bool> hash_cached{false}; // [weakref.ref.hash]/2
  header* const hdr;
  node_base* prev = nullptr; // guarded by hdr->lock
  node_base* next = nullptr; // guarded by hdr->lock; after death, the callback chain
  const node_ops* const ops;
  std::atomic<std::size_t> hash_value{0};

  inline node_base(header* h, const node_ops* o) noexcept : hdr(h), ops(o) {}
  node_base(const node_base&) = delete;
  node_base& operator=(const node_base&) = delete;

  // The nodes that handles make with new (ref_node, callback_node) come from the node pool; an
  // over-aligned callback_node does not.
  static inline void* operator new(std::size_t bytes) { return node_pool::allocate(bytes); }
  static inline void operator delete(void* p, std::size_t bytes) noexcept {
    node_pool::deallocate(p, bytes);
  }
  static inline void* operator new(std::size_t bytes, std::align_val_t a) {
    return ::operator new(bytes, a);
  }
  static inline void operator delete(void* p, std::size_t bytes, std::align_val_t a) noexcept {
    ::operator delete(p, bytes, a);
  }
};

template <class T>
inline constexpr char type_tag = 0;

// What the referent's type decides (one constant table per element type and allocator). The
// chunk's release needs none: the control block's allocator knows the block's type.
struct header_ops {
  void (*destroy_referent)(header*) noexcept;
};

// Per-referent state; lives in the chunk next to the object. 24 bytes: every weakly
// referenceable object carries it.
struct header {
  spinlock lock;
  bool cb_placed = false;    // the control block took its slot at the chunk's start
  std::uint16_t cb_slot = 0; // bytes reserved for the control block before the header
  std::uint32_t count = 0;   // refs and proxies alive, for weak_ref_count (PY-COUNT-1)
  // Newest first: the callback order of PY-REF-2. Guarded by lock; atomic only so that die()
  // may see an empty list without taking the lock (relaxed under the lock: the lock orders).
  std::atomic<node_base*> head{nullptr};
  const header_ops* ops = nullptr;

  inline node_base* first() const noexcept { return head.load(std::memory_order_relaxed); }

  // The start of the allocation, where the control block's slot is: the header is placed
  // cb_slot bytes after it (allocate_shared), so the address is computed, not stored (8 bytes
  // fewer in every referent).
  inline void* chunk() noexcept { return reinterpret_cast<unsigned char*>(this) - cb_slot; }

  inline void link(node_base* n) noexcept {
    std::lock_guard guard(lock);
    node_base* const old = first();
    n->next = old;
    if (old) old->prev = n;
    head.store(n, std::memory_order_relaxed);
    n->linked.store(true, std::memory_order_relaxed);
    ++count;
  }

  // Requires: lock held and n->linked.
  inline void unlink(node_base* n) noexcept {
    assert(lock.held() && n->linked.load(std::memory_order_relaxed) &&
           "weakref: header::unlink requires the lock and a linked node");
    if (n->prev)
      n->prev->next = n->next;
    else
      head.store(n->next, std::memory_order_relaxed);
    if (n->next) n->next->prev = n->prev;
    n->prev = n->next = nullptr;
    n->linked.store(false, std::memory_order_relaxed);
    --count;
  }

  inline void die() noexcept;
  // die() once the weak list is found not empty: steps 1 to 3.
  inline void die_with_references() noexcept;
};

// The chunk is freed when the weak count reaches zero. libc++ decrements that count inside its
// shared library (__shared_weak_count::__release_weak), which ThreadSanitizer does not see, so
// the happens-before edge from every thread's last use of a header to the chunk's deallocation
// is stated here: each path that touched a header releases it just before dropping its weak or
// strong count, and the deallocation acquires it. The edge itself is real (the count is an
// acq_rel atomic); only its visibility to the tool is added. The annotated address is a plain
// field (`ops`, written once before the header is shared), not the header's first byte: that
// is the spinlock's, whose release-stores would replace, not join, the annotation's clock.
// No-ops in other builds.
inline void done_with_header([[maybe_unused]] header* h) noexcept {
#ifdef WEAKREF_TSAN_ANNOTATIONS
  __tsan_release(&h->ops);
#endif
}
inline void header_unreachable([[maybe_unused]] header* h) noexcept {
#ifdef WEAKREF_TSAN_ANNOTATIONS
  __tsan_acquire(&h->ops);
#endif
}

inline void acquire(node_base* n) noexcept { n->handles.fetch_add(1, std::memory_order_relaxed); }

// Takes a handle only while another still exists: a node whose count reached zero is being
// retired by its last owner and must not be revived. (A linked node whose weak list holds a
// handle never has a count below two: release() takes it to zero under the lock.)
inline bool try_acquire(node_base* n) noexcept {
  std::uint32_t c = n->handles.load(std::memory_order_relaxed);
  while (c != 0)
    if (n->handles.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel,
                                         std::memory_order_relaxed))
      return true;
  return false;
}

// Frees a node whose last handles are being dropped, called with h->lock held: the count goes
// to zero and the node leaves its weak list in one step under the lock, so that neither die()
// nor weak_refs() can find it again ([weakref.ref.cons]: a destroyed reference never calls
// back). Unlocks before the node is disposed of: dispose() may free the chunk h lives in.
inline void retire_locked(node_base* n, header* h) noexcept {
  n->handles.store(0, std::memory_order_relaxed);
  if (n->linked.load(std::memory_order_relaxed)) h->unlink(n);
  h->lock.unlock();
  done_with_header(h);
  n->ops->dispose(n);
}

inline void release(node_base* n, std::uint32_t handles = 1) noexcept {
  header* h = n->hdr;
  // A node whose weak list holds a handle (a reference with a callback, D2): while it is linked,
  // the count never drops to the list's handle alone but under the lock, together with the
  // unlink, so that die() always finds a holder behind a linked node and can hand the list's
  // handle to the callback without a read-modify-write. Above that, a decrement is a CAS. (At
  // or below it, the death may have taken the node out since `linked` was read, and the count
  // may be ours alone: the lock, then the path for an unlinked node, decide.)
  if (n->ops->list_holds_handle) {
    while (n->linked.load(std::memory_order_acquire)) {
      std::uint32_t c = n->handles.load(std::memory_order_relaxed);
      while (c > handles + 1)
        if (n->handles.compare_exchange_weak(c, c - handles, std::memory_order_acq_rel,
                                             std::memory_order_relaxed))
          return;
      h->lock.lock();
      if (n->linked.load(std::memory_order_relaxed) &&
          n->handles.load(std::memory_order_acquire) == handles + 1)
        return retire_locked(n, h);
      // The death took the node out (the list's handle is its callback's argument now), or
      // weak_refs() took a handle: look again.
      h->lock.unlock();
    }
  }
  // The last handle, the common case: its holder is the only party that could copy it, so the
  // count can now grow only under the header's lock (die() and weak_refs() take handles there).
  // Checking again under the lock that we are the last replaces the count's decrement (one
  // atomic read-modify-write fewer). The acquire load orders every other holder's use of the
  // node, which ended with their own decrement, before the node is freed.
  if (n->handles.load(std::memory_order_acquire) == handles) {
    h->lock.lock();
    // Acquire again: the count may have gone up and back down meanwhile (die() pinned the node
    // and its callback released the pin), and that callback's writes must precede the free.
    if (n->handles.load(std::memory_order_acquire) == handles) return retire_locked(n, h);
    h->lock.unlock(); // a handle was taken meanwhile: not the last one after all
  }
  if (n->handles.fetch_sub(handles, std::memory_order_acq_rel) != handles) return;
  // The node's weak_ptr keeps the chunk, and so the header, alive until dispose(). A count of
  // zero is never raised again (try_acquire), so storing it again under the lock changes nothing.
  h->lock.lock();
  retire_locked(n, h);
}

// Drops one handle of a node that is in no weak list: only the holders of its handles can add
// one then (lock holders add handles to linked nodes only), so the last holder needs no header
// lock. Returns true when that was the last handle: the caller then frees the node. Requires:
// n is not linked, and it will not be linked again.
inline bool drop_last_unlinked(node_base* n) noexcept {
  if (n->handles.load(std::memory_order_acquire) != 1 &&
      n->handles.fetch_sub(1, std::memory_order_acq_rel) != 1)
    return false;
  assert(!n->linked.load(std::memory_order_relaxed) &&
         "weakref: a handle dropped without the lock requires an unlinked node");
  done_with_header(n->hdr);
  return true;
}

// Releases one handle of a node that is in no weak list (see drop_last_unlinked).
inline void release_unlinked(node_base* n) noexcept {
  if (drop_last_unlinked(n)) n->ops->dispose(n);
}

inline void report_callback_error(std::exception_ptr e) noexcept {
  get_callback_error_handler()(std::move(e));
}

// [weakref.ref.death]: runs on the thread that released the last owner, after the use count
// reached zero (so every weak reference is already cleared, PY-NOTE-1).
inline void header::die() noexcept {
  // 0. Nothing to clear or call back: no lock, and no call (this part is small enough to be
  //    inlined into the control block's release, the common death). Once the use count is zero
  //    no node can be linked any more (every constructor of a node takes an owner), and the
  //    use count's decrement made every earlier link visible here; a concurrent unlink only
  //    empties the list further.
  if (head.load(std::memory_order_acquire) == nullptr) {
    ops->destroy_referent(this);
    done_with_header(this);
    return;
  }
  die_with_references();
}

inline void header::die_with_references() noexcept {
  // 1. Detach every node; pin those with a callback so that a callback destroying another
  //    ref whose callback is still pending does not cancel it (CPython clears all refs before
  //    the first callback). The pin of a reference is the handle its weak list held, which
  //    becomes the callback's argument: a linked reference always has a holder besides the
  //    list (release() drops the last one only under this lock, unlinking the node, so "a ref
  //    destroyed before its referent died never calls back"), and its count cannot reach zero
  //    meanwhile. A callback that may drop its argument while its function object, in the node,
  //    runs (not pinned_by_argument) needs one handle more across the call (callback_node::call
  //    releases it). A container entry is not pinned (kept_while_linked): the table's handle
  //    keeps it until its callback has reported it, and its last handle cannot go while it is
  //    linked.
  node_base* chain = nullptr;
  node_base** tail = &chain;
  {
    std::lock_guard guard(lock);
    for (node_base* n = first(); n != nullptr;) {
      node_base* following = n->next;
      n->prev = n->next = nullptr;
      n->linked.store(false, std::memory_order_relaxed);
      if (n->ops->callback) {
        assert((n->ops->kept_while_linked || n->ops->list_holds_handle) &&
               "weakref: a node with a callback is kept by its table or by its weak list");
        if (n->ops->list_holds_handle && !n->ops->pinned_by_argument)
          n->handles.fetch_add(1, std::memory_order_relaxed); // held across the call
        *tail = n;
        tail = &n->next;
      }
      n = following;
    }
    head.store(nullptr, std::memory_order_relaxed);
    count = 0;
  }
  // 2. Callbacks, newest first (PY-REF-2), no lock held; exceptions go to the handler and the
  //    remaining callbacks still run (PY-REF-3).
  while (chain != nullptr) {
    node_base* n = chain;
    chain = n->next;
    n->next = nullptr;
    try {
      n->ops->callback(n); // takes over the handles of the pin
    } catch (...) {
      report_callback_error(std::current_exception());
    }
  }
  // 3. Only now is the referent destroyed.
  ops->destroy_referent(this);
  done_with_header(this);
}

// The deleter of every weakly referenceable object: one type, found by std::get_deleter.
struct deleter {
  header* hdr;
  template <class P>
  void operator()(P*) const noexcept {
    if (hdr) hdr->die();
  }
};

// The control block's size is not known to the library (it is the standard library's private
// type), so it is measured once per element type and allocator by building one shared_ptr with
// a probing allocator (probe_control_block; the factory's block keeps the result); afterwards
// the control block goes in the slot reserved at the chunk's start.
struct probe_result {
  std::size_t size = 0;
  std::size_t align = 0;
};

// Where the probe, running on this thread, records what it saw. Not a member of
// chunk_allocator: the allocator is stored in every control block, and one pointer there (the
// header) is 8 bytes fewer per referent than two.
inline thread_local constinit probe_result* probing = nullptr;

// The control block's allocator: its memory is the slot at the start of the chunk of the
// header `hdr`, a Block (weakref:factory's block<T, Alloc>), whose free_chunk releases the
// chunk when the control block goes: a direct call, not one through the header's ops.
template <class U, class Block>
struct chunk_allocator {
  using value_type = U;
  header* hdr; // null only in probe_control_block

  explicit chunk_allocator(header* h) noexcept : hdr(h) {}
  template <class V>
  chunk_allocator(const chunk_allocator<V, Block>& other) noexcept : hdr(other.hdr) {}

  U* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(U);
    if (hdr == nullptr) {
      probing->size = bytes;
      probing->align = alignof(U);
      return static_cast<U*>(::operator new(bytes));
    }
    if (!hdr->cb_placed && bytes <= hdr->cb_slot) {
      hdr->cb_placed = true;
      return static_cast<U*>(hdr->chunk());
    }
    // Only if a standard library allocates differently from what the probe saw.
    return static_cast<U*>(::operator new(bytes, std::align_val_t{alignof(U)}));
  }

  void deallocate(U* p, std::size_t) noexcept {
    if (hdr == nullptr) {
      ::operator delete(p);
      return;
    }
    if (static_cast<void*>(p) != hdr->chunk()) ::operator delete(p, std::align_val_t{alignof(U)});
    Block::free_chunk(hdr);
  }

  friend bool operator==(const chunk_allocator&, const chunk_allocator&) = default;
};

// The size and alignment of the control block of a shared_ptr<T> made with a deleter and a
// chunk_allocator<std::byte, Block>, as the factory makes it.
template <class T, class Block>
probe_result probe_control_block() {
  probe_result r;
  probing = &r;
  {
    std::shared_ptr<T> probe(static_cast<T*>(nullptr), deleter{nullptr},
                             chunk_allocator<std::byte, Block>{nullptr});
  }
  probing = nullptr;
  return r;
}

// The header of a factory-made object, or null (not weakly referenceable, PY-INTRO-5).
template <class T>
header* header_of(const std::shared_ptr<T>& obj) noexcept {
  if (obj.get() == nullptr) return nullptr;
  const deleter* d = std::get_deleter<deleter>(obj);
  return d ? d->hdr : nullptr;
}

// [weakref.ref.cons]/2, [weakref.containers.general]/3 The header of obj; throws type_error when
// obj cannot be weakly referenced (PY-INTRO-5: Python's "cannot create weak reference to ...").
template <class T>
header* require_header(const std::shared_ptr<T>& obj) {
  header* h = header_of(obj);
  if (h == nullptr)
    throw type_error(obj ? "cannot create weak reference to this object: only objects created by "
                           "weakref::make_shared or weakref::allocate_shared are weakly "
                           "referenceable"
                         : "cannot create weak reference to an empty shared_ptr");
  return h;
}

// The node behind a weak_ref<T> or weak_proxy<T>.
template <class T>
struct ref_node : node_base {
  std::weak_ptr<T> target;

  ref_node(header* h, const std::shared_ptr<T>& obj, const node_ops* o)
      : node_base(h, o), target(obj) {}
  ref_node(header* h, std::weak_ptr<T> w, const node_ops* o) noexcept
      : node_base(h, o), target(std::move(w)) {}

  static void destroy(node_base* n) noexcept { delete static_cast<ref_node*>(n); }
  // A weak_ref's or weak_proxy's node without callback.
  template <node_kind K>
  static const node_ops* plain_ops() noexcept {
    static constexpr node_ops ops{K, &type_tag<T>, nullptr, &destroy};
    return &ops;
  }
};

// The sizes that the comments above and MAINTAINERS.md (Performance) quote, checked where they
// hold: 64-bit targets whose std::weak_ptr is two pointers (libc++ and libstdc++ both).
inline constexpr bool quoted_sizes_apply = sizeof(void*) == 8 && sizeof(std::weak_ptr<int>) == 16;
static_assert(!quoted_sizes_apply || sizeof(node_base) == 48, "weakref: node_base is 48 bytes");
static_assert(!quoted_sizes_apply || sizeof(header) == 24, "weakref: header is 24 bytes");
static_assert(!quoted_sizes_apply || sizeof(ref_node<int>) == 64,
              "weakref: a weak_ref node without callback is 64 bytes");

// The reference a handle's node stands for: the node itself, or the one a view was made of.
// Identity, the cached hash and the callback are the viewed node's ([weakref.ref.conv]/2).
inline node_base* canonical(node_base* n) noexcept {
  return n != nullptr && n->ops->viewed != nullptr ? n->ops->viewed(n) : n;
}

// A weak_ptr<T> from a weak_ptr<U>, U* convertible to T*. Where T is a non-virtual base (or U
// itself), the pointer conversion is a fixed offset and std::weak_ptr's converting constructor
// is used, dead referent or not; through a virtual base it needs the live object, so the
// referent is pinned for the conversion (libstdc++ does the same), and a dead one gives an
// empty weak_ptr.
template <class T, class U>
std::weak_ptr<T> convert_weak(const std::weak_ptr<U>& w) noexcept {
  if constexpr (requires(const volatile T* p) { static_cast<const volatile U*>(p); })
    return std::weak_ptr<T>(w);
  else
    return std::weak_ptr<T>(std::shared_ptr<T>(w.lock()));
}

// [weakref.ref.conv]/2 A handle of element type T onto an existing reference of another element
// type (or the same reference listed by weak_refs through another type): it holds one handle
// on that reference, which keeps the identity, the registration, the callback and the cached
// hash, and a weak_ptr<T> of its own, so that lock() is the same code for every handle. A view
// is never in a weak list, so weak_ref_count counts the reference once.
template <class T>
struct view_node : ref_node<T> {
  node_base* const original; // one of its handles is this view's

  view_node(node_base* o, std::weak_ptr<T> w) noexcept
      : ref_node<T>(o->hdr, std::move(w),
                    o->ops->kind == node_kind::ref ? view_ops<node_kind::ref>()
                                                   : view_ops<node_kind::proxy>()),
        original(o) {}

  template <node_kind K>
  static const node_ops* view_ops() noexcept {
    static constexpr node_ops ops{K, &type_tag<T>, nullptr, &dispose, &viewed};
    return &ops;
  }
  static node_base* viewed(node_base* n) noexcept { return static_cast<view_node*>(n)->original; }
  static void dispose(node_base* n) noexcept;
};

// A view of element type T of the reference n (a canonical node), taking over one of n's
// handles, which the caller has taken. Throws bad_alloc (then the handle is still the caller's).
template <class T>
ref_node<T>* make_view(node_base* n, std::weak_ptr<T> target) {
  return new view_node<T>(n, std::move(target));
}

template <class T>
class handle;

// Grants the nodes, the containers and the introspection functions access to a handle's node.
struct access {
  // A new handle of type Handle to n, taking over one of n's handle counts.
  template <class Handle>
  static Handle adopt(node_base* n) noexcept {
    Handle h;
    static_cast<handle<typename Handle::element_type>&>(h).node_ = n;
    return h;
  }
  // The weak reference object a handle designates, shared by its copies ([weakref.format]/2).
  template <class Handle>
  static const void* identity(const Handle& h) noexcept {
    return canonical(node(h));
  }
  // The node of any handle (of any element type).
  template <class Handle>
  static node_base* node(const Handle& h) noexcept {
    return static_cast<const handle<typename Handle::element_type>&>(h).node_;
  }
};

// What weak_ref<T> and weak_proxy<T> have in common: a counted handle to one node, so that
// copies share the reference's identity ([weakref.ref.general]/3) and the node is unregistered
// with its last handle ([weakref.ref.cons]/14).
template <class T>
class handle {
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "weakref::weak_ref<T>: T must be a non-array object type (weak_proxy<T> likewise)");

public:
  using element_type = T;

  // [weakref.ref.obs]/1, [weakref.proxy.obs]: never throw.
  std::shared_ptr<T> lock() const noexcept {
    return node_ ? static_cast<ref_node<T>*>(node_)->target.lock() : std::shared_ptr<T>();
  }
  bool expired() const noexcept {
    return node_ == nullptr || static_cast<ref_node<T>*>(node_)->target.expired();
  }

protected:
  handle() noexcept = default;
  explicit handle(ref_node<T>* n) noexcept : node_(n) {}
  handle(const handle& other) noexcept : node_(other.node_) {
    if (node_) acquire(node_);
  }
  handle(handle&& other) noexcept : node_(std::exchange(other.node_, nullptr)) {}
  handle& operator=(const handle& other) noexcept {
    handle(other).swap_node(*this);
    return *this;
  }
  handle& operator=(handle&& other) noexcept {
    handle(std::move(other)).swap_node(*this);
    return *this;
  }
  ~handle() {
    if (node_) release(node_);
  }
  void swap_node(handle& other) noexcept { std::swap(node_, other.node_); }

  node_base* node_ = nullptr;

private:
  friend struct access;
};

// The base of the library's function objects that wrap a user's callback (self_callback's
// dispatcher, weak_method's adapter) and expose it as user_callback(). Not exported, so no user
// type can derive from it: a user's callback that happens to have a member user_callback() is
// still the callback shown ([weakref.ref.callback]/4-6).
struct callback_wrapper {};

// The callback a user gave, inside the function object a node stores: the object itself, or
// what a wrapper of the library exposes as user_callback().
template <class F>
const auto& user_callback(const F& f) noexcept {
  if constexpr (std::is_base_of_v<callback_wrapper, F>)
    return f.user_callback();
  else
    return f;
}

// The base of a library function object that takes its argument by const reference and lets
// no user code reach it, so that its argument outlives its call (a finalizer's state). Like
// callback_wrapper, a base that no user type can name, not a member name: a user's callback
// could declare any member, and one taken for this mark would be called without the pin it needs.
struct argument_outlives_call_mark {};

// MayCopy: F is the user's callback (or a wrapper of it that keeps no address of itself), so a
// copy of it may be called instead (call_on_copy); false for the library's own function objects
// whose address is known elsewhere (a finalizer's state, self_callback's binding).
template <class T, class Handle, class F, bool MayCopy = false>
struct callback_node : ref_node<T> {
  F fn;

  template <class G>
  callback_node(header* h, const std::shared_ptr<T>& obj, node_kind k, G&& g)
      : ref_node<T>(h, obj,
                    k == node_kind::ref ? callback_ops<node_kind::ref>()
                                        : callback_ops<node_kind::proxy>()),
        fn(std::forward<G>(g)) {
    // The creator's handle and the weak list's, which the node is about to enter (D2).
    this->handles.store(2, std::memory_order_relaxed);
  }

  // [weakref.ref.callback]/2 A user's function object that is trivially copyable and destroyed,
  // small, and callable as const (a lambda without `mutable`, a function pointer: a call that
  // cannot change it) is called as a copy on the stack, made while the argument's handle holds
  // the node. The copy costs less than holding the node across the call, which is an atomic
  // read-modify-write on each side of it.
  static constexpr bool call_on_copy =
      MayCopy && std::is_trivially_copy_constructible_v<F> && std::is_trivially_destructible_v<F> &&
      sizeof(F) <= 8 * sizeof(void*) && std::is_invocable_v<const F&, Handle&&>;
  // A library function object that takes its argument by const reference and lets no user code
  // reach it (a finalizer's state) derives from argument_outlives_call_mark: the argument, a
  // temporary of the call, then holds the node until the call returns.
  static constexpr bool argument_outlives_call = std::is_base_of_v<argument_outlives_call_mark, F>;

  template <node_kind K>
  static const node_ops* callback_ops() noexcept {
    static constexpr node_ops ops{.kind = K,
                                  .element_tag = &type_tag<T>,
                                  .callback = &call,
                                  .dispose = &destroy,
                                  .callback_type = &callback_type,
                                  .callback_target = &callback_target,
                                  .list_holds_handle = true,
                                  .pinned_by_argument = call_on_copy || argument_outlives_call};
    return &ops;
  }

  using user_callback_type = std::remove_cvref_t<decltype(user_callback(std::declval<const F&>()))>;
  static const std::type_info& callback_type() noexcept { return typeid(user_callback_type); }
  static const void* callback_target(const node_base* n) noexcept {
    return std::addressof(user_callback(static_cast<const callback_node*>(n)->fn));
  }

  // Consumes the handles of die()'s pin: the weak list's becomes the callback's argument; the
  // other, unless the argument is the whole pin (pinned_by_argument), is held until the call
  // returns, because a callback may drop its argument (even as the last handle) while it runs,
  // and the function object it is running lives in this node (PY-IMPL-3).
  static void call(node_base* n) {
    if constexpr (call_on_copy) {
      F copy = static_cast<callback_node*>(n)->fn; // made while the argument's handle holds n
      std::invoke(copy, access::adopt<Handle>(n));
    } else if constexpr (argument_outlives_call) {
      // The temporary handle lives to the end of this full-expression.
      std::invoke(static_cast<callback_node*>(n)->fn, access::adopt<Handle>(n));
    } else {
      struct unpin {
        node_base* node;
        ~unpin() { release(node); }
      } keep{n};
      std::invoke(static_cast<callback_node*>(n)->fn, access::adopt<Handle>(n));
    }
  }
  static void destroy(node_base* n) noexcept { delete static_cast<callback_node*>(n); }
};

// What a call that may not happen returns (finalize's call, weak_method's call): whether it ran,
// for a function returning void, else its result if it ran ([weakref.finalize.call]/2,
// [weakref.method.call]/1).
template <class R>
using call_outcome = std::conditional_t<std::is_void_v<R>, bool, std::optional<std::decay_t<R>>>;

template <class T>
inline constexpr bool is_shared_ptr = false;
template <class T>
inline constexpr bool is_shared_ptr<std::shared_ptr<T>> = true;

// Debug builds: a diagnostic on stderr when v is a shared_ptr sharing obj's ownership, an owner
// kept where only a weak reference belongs: a value of weak_key_map owning its key
// ([weakref.key.map]/5), an argument of finalize owning its object ([weakref.finalize.cons]/5).
// Detected where it is cheap: any other owner (a capture, a member) goes unseen.
template <class V, class T>
void diagnose_shared_owner([[maybe_unused]] const V& v,
                           [[maybe_unused]] const std::shared_ptr<T>& obj,
                           [[maybe_unused]] const char* message) noexcept {
#ifndef NDEBUG
  if constexpr (is_shared_ptr<V>)
    if (v && !v.owner_before(obj) && !obj.owner_before(v)) std::fputs(message, stderr);
#endif
}

// Python: "If callback is provided and not None" (PY-REF-10): a null function pointer or an
// empty std::function means no callback.
template <class F>
bool is_null_callback(const F& f) noexcept {
  if constexpr (requires { f == nullptr; })
    return f == nullptr;
  else
    return false;
}

struct no_callback {};

// A new reference to obj whose callback is a Fn made from f (Fn is decay_t<F> but for
// self_callback's dispatcher, which is made in place), registered in obj's weak list.
template <class T, class Handle, class Fn, bool MayCopy = false, class F>
ref_node<T>* make_callback_node(const std::shared_ptr<T>& obj, node_kind kind, F&& f) {
  header* h = require_header(obj);
  ref_node<T>* n = new callback_node<T, Handle, Fn, MayCopy>(h, obj, kind, std::forward<F>(f));
  h->link(n);
  return n;
}

template <class T, class Handle, class F>
ref_node<T>* make_node(const std::shared_ptr<T>& obj, node_kind kind, F&& f) {
  if constexpr (!std::is_same_v<std::decay_t<F>, no_callback>)
    if (!is_null_callback(f))
      return make_callback_node<T, Handle, std::decay_t<F>, true>(obj, kind, std::forward<F>(f));
  header* h = require_header(obj);
  const node_ops* plain = kind == node_kind::ref
                              ? ref_node<T>::template plain_ops<node_kind::ref>()
                              : ref_node<T>::template plain_ops<node_kind::proxy>();
  ref_node<T>* n = new ref_node<T>(h, obj, plain);
  h->link(n);
  return n;
}

template <class T>
void view_node<T>::dispose(node_base* n) noexcept {
  node_base* const o = static_cast<view_node*>(n)->original;
  delete static_cast<view_node*>(n);
  release(o);
}

// Python: "Proxy objects are not hashable regardless of the referent"; for refs, hashable
// exactly when the referent type is ([weakref.ref.hash]/1).
template <class T>
concept hashable = requires(const std::remove_cv_t<T>& t) {
  { std::hash<std::remove_cv_t<T>>{}(t) } -> std::convertible_to<std::size_t>;
};

} // namespace weakref::detail
