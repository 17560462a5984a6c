// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
module;
#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <concepts>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <typeinfo>
#include <utility>
export module weakref:table;
import :errors;
import :control;

// Internal: the hash table shared by weak_value_map, weak_key_map and weak_set
// ([weakref.containers.general]). Nothing here is exported.
//
// Each element is a `table_entry`: a weak reference to the element's weakly held referent
// (registered in that referent's weak list, so weak_ref_count and weak_refs see it, like
// Python's KeyedRef), the table's bookkeeping, and the strongly held part (`payload`: the key of
// a weak_value_map, the value of a weak_key_map, nothing for a weak_set).
//
// Deaths happen on any thread; the container belongs to one thread at a time. So a death never
// touches the table: the entry's callback counts it as reported (`pending_count`, which size()
// subtracts) and queues it on a lock-free "inbox" (a Treiber stack) in the shared
// `table_core`. The owning thread removes inbox entries from the chains at the start of its next
// operation that looks up, inserts, erases or iterates (`purge`). Until then a dead entry stays
// in its chain and every lookup and iterator skips it: it is never observable
// ([weakref.containers.general]/5), and it never removes anything but itself (bpo-28427).
//
// The strongly held part goes inside the death, as in Python ([weakref.containers.general]/8):
// the death destroys the payload on its own thread, after reporting the entry and before
// queueing it, when the allocator may be used from any thread (`releases_anywhere`); otherwise
// the owner's purge destroys it. This is safe because the owner reads a payload only while it
// holds an owner of the entry's referent (a lookup's or an iterator's pin, or the caller's own
// key object), and then no death of that referent can be running.
//
// Who releases an entry, the owner erasing it or its referent's death, is settled under the
// referent's lock by the entry's place in the weak list: header::die() detaches every node
// there, and the owner's claim() takes the entry out there. Whoever takes it out first owns the
// entry's release. The table's handle keeps the entry alive until the owner has both taken it
// out of the chains and seen it queued (when a death took it), so a death needs no pin: its
// last touch of the entry is the queueing (D8; MAINTAINERS.md, Performance).
namespace weakref::detail {

// [weakref.containers.general]/5 Whether a payload may be destroyed, and its memory given back,
// on whatever thread a death runs: for std::allocator, and for a polymorphic_allocator whose
// resource is the new/delete one or a synchronized pool. Any other allocator may not be
// thread-safe (std::pmr::unsynchronized_pool_resource is not): its payloads wait for the owner.
template <class A>
inline constexpr bool is_std_allocator = false;
template <class T>
inline constexpr bool is_std_allocator<std::allocator<T>> = true;
template <class A>
inline constexpr bool is_polymorphic_allocator = false;
template <class T>
inline constexpr bool is_polymorphic_allocator<std::pmr::polymorphic_allocator<T>> = true;

template <class Alloc>
bool releases_anywhere(const Alloc& a) noexcept {
  if constexpr (is_std_allocator<Alloc>) {
    return true;
  } else if constexpr (is_polymorphic_allocator<Alloc>) {
    std::pmr::memory_resource* r = a.resource();
    return r == std::pmr::new_delete_resource() ||
           dynamic_cast<std::pmr::synchronized_pool_resource*>(r) != nullptr;
  } else {
    static_cast<void>(a);
    return false;
  }
}

// [weakref.ref.callback]/3: an entry's callback, the report of its element's death to its
// container, is of this unspecified type; callback<F>() finds this object when F is the type.
// Python's keyrefs and valuerefs likewise show the dictionary's own remove function.
struct container_report {};
inline constexpr container_report the_container_report{};

// Payloads released by deaths nested inside another payload's release on the same thread wait
// for the outermost one, which releases them in a loop: a chain of entries whose payloads own
// the next entry's referent (a weak_key_map<node, shared_ptr<node>> list) collapses inside the
// first death without a stack frame per link, as CPython's "trashcan" bounds deallocation. The
// link is node_base::next, which header::die() no longer uses once the callback runs.
struct entry_ops : node_ops {
  void (*release_payload)(node_base*) noexcept; // destroys the payload, then queues the entry
};
struct nested_releases {
  node_base* head = nullptr;
  bool running = false;
};
inline thread_local nested_releases this_thread_releases;

inline void release_payload_now_or_after(node_base* n) noexcept {
  nested_releases& q = this_thread_releases;
  if (q.running) {
    n->next = q.head;
    q.head = n;
    return;
  }
  q.running = true;
  for (node_base* m = n; m != nullptr;) {
    static_cast<const entry_ops*>(m->ops)->release_payload(m);
    m = q.head;
    if (m != nullptr) {
      q.head = m->next;
      m->next = nullptr;
    }
  }
  q.running = false;
}

// Bucket counts are primes and a hash's bucket is hash mod bucket_count, as in the standard
// library's unordered containers: hashes that are close (consecutive integers, the addresses of
// objects allocated one after another) land in buckets that are close, so a run of such inserts,
// and a rehash, write the bucket array almost in order. (A power-of-two count with a
// multiplicative mix spread them over the whole array: a cache and TLB miss per insert and per
// entry moved; weak_value_map insert at 1 M entries took 7.7 x the std baseline, now 1.7 x.)
//
// The least prime at or above each power of two from 2^3 to 2^62.
inline constexpr std::uint64_t bucket_primes[] = {11ull,
                                                  17ull,
                                                  37ull,
                                                  67ull,
                                                  131ull,
                                                  257ull,
                                                  521ull,
                                                  1031ull,
                                                  2053ull,
                                                  4099ull,
                                                  8209ull,
                                                  16411ull,
                                                  32771ull,
                                                  65537ull,
                                                  131101ull,
                                                  262147ull,
                                                  524309ull,
                                                  1048583ull,
                                                  2097169ull,
                                                  4194319ull,
                                                  8388617ull,
                                                  16777259ull,
                                                  33554467ull,
                                                  67108879ull,
                                                  134217757ull,
                                                  268435459ull,
                                                  536870923ull,
                                                  1073741827ull,
                                                  2147483659ull,
                                                  4294967311ull,
                                                  8589934609ull,
                                                  17179869209ull,
                                                  34359738421ull,
                                                  68719476767ull,
                                                  137438953481ull,
                                                  274877906951ull,
                                                  549755813911ull,
                                                  1099511627791ull,
                                                  2199023255579ull,
                                                  4398046511119ull,
                                                  8796093022237ull,
                                                  17592186044423ull,
                                                  35184372088891ull,
                                                  70368744177679ull,
                                                  140737488355333ull,
                                                  281474976710677ull,
                                                  562949953421381ull,
                                                  1125899906842679ull,
                                                  2251799813685269ull,
                                                  4503599627370517ull,
                                                  9007199254740997ull,
                                                  18014398509482143ull,
                                                  36028797018963971ull,
                                                  72057594037928017ull,
                                                  144115188075855881ull,
                                                  288230376151711813ull,
                                                  576460752303423619ull,
                                                  1152921504606847009ull,
                                                  2305843009213693967ull,
                                                  4611686018427388039ull};

// x mod d without a division, for x and d below 2^32 (Lemire, Kaser and Kurz, "Faster Remainder
// by Direct Computation", 2019): with magic = floor((2^64 - 1) / d) + 1, x mod d is the high
// 64 bits of (magic * x mod 2^64) * d: one widening multiplication where the compiler has a
// 128-bit type (3 instructions on x86-64), else two 64-bit ones (8, high_bits_by_halves).
constexpr std::uint64_t mod_magic(std::uint64_t d) noexcept { return ~std::uint64_t{0} / d + 1; }
// The high 64 bits of low * d, for d below 2^32, from 64-bit products only.
constexpr std::uint64_t high_bits_by_halves(std::uint64_t low, std::uint64_t d) noexcept {
  return ((low >> 32) * d + (((low & 0xFFFFFFFFu) * d) >> 32)) >> 32;
}
#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 wide_product; // __extension__: no -Wpedantic warning
#endif
constexpr std::uint64_t fast_mod(std::uint32_t x, std::uint64_t magic, std::uint64_t d) noexcept {
  const std::uint64_t low = magic * x;
#ifdef __SIZEOF_INT128__
  return static_cast<std::uint64_t>((static_cast<wide_product>(low) * d) >> 64);
#endif
  return high_bits_by_halves(low, d); // reached without a 128-bit type
}
// Both ways, whichever this compiler uses.
consteval bool fast_mod_agrees() {
  for (const std::uint64_t d : bucket_primes) {
    if (d > 0xFFFFFFFFu) break;
    const std::uint64_t samples[] = {0,     1,         d - 1,      d,          d + 1,
                                     2 * d, 3 * d - 1, 0x9E3779B9, 0x7FFFFFFF, 0xFFFFFFFF};
    for (const std::uint64_t x : samples)
      if (x <= 0xFFFFFFFFu && (fast_mod(static_cast<std::uint32_t>(x), mod_magic(d), d) != x % d ||
                               high_bits_by_halves(mod_magic(d) * x, d) != x % d))
        return false;
  }
  return true;
}
static_assert(fast_mod_agrees(), "weakref: fast_mod must compute x mod d");

// A hint that p will be read soon. A compiler extension where there is one, nothing otherwise:
// the module is ISO C++20 and uses no builtin unguarded.
inline void prefetch([[maybe_unused]] const void* p) noexcept {
#if defined(__has_builtin)
#if __has_builtin(__builtin_prefetch)
  __builtin_prefetch(p);
#endif
#endif
}

// The least bucket count at or above `wanted` buckets.
inline std::uint64_t bucket_count_for(double wanted) {
  for (const std::uint64_t p : bucket_primes)
    if (static_cast<double>(p) >= wanted) return p;
  throw std::length_error("weakref: too many buckets");
}

// How an entry is filed in its table's buckets: under the hash of its key, kept in the entry,
// since a purge or a rehash needs it when the key (a weakly held one) may be gone. The filing
// is the table's last template parameter; the containers give another under the identity
// policy (weakref:containers, filed_by_identity), which keeps the referent's address instead
// and computes the hash from it. Either is one word of the entry.
struct filed_by_hash {
  std::size_t filed_hash;

  template <class R>
  filed_by_hash(std::size_t hash, const R&) noexcept : filed_hash(hash) {}
  inline std::size_t hash() const noexcept { return filed_hash; }
};

template <class R, class P, class Alloc, class Filing = filed_by_hash>
struct table_core;

template <class R, class P, class Alloc, class Filing>
struct table_entry : ref_node<R> {
  using core_type = table_core<R, P, Alloc, Filing>;

  // What a lookup reads (the weak_ptr above, then these up to the payload) comes first, next to
  // each other, and a small payload fills the padding after the two flags.
  table_entry* chain_next = nullptr; // owner thread only
  const Filing filing;               // taken while the referent was alive; survives its death
  bool retired = false;              // owner thread only: out of the chains
  bool claimed_by_death = false;     // owner thread only: claim() found that a death had taken it
  union {
    P payload;
  };
  // The iteration order, the order of insertion (owner thread only; see weak_table::first).
  table_entry* order_next = nullptr;
  table_entry* order_prev = nullptr;

  table_entry(header* h, const std::shared_ptr<R>& obj, std::size_t hv, core_type* c)
      : ref_node<R>(h, obj, c), filing(hv, *obj) {}
  ~table_entry() {}

  // The table's core: the entry's ops are its base (table_core), so this costs no instruction.
  core_type* core() const noexcept {
    const auto* ops = static_cast<const detail::entry_ops*>(this->ops);
    return static_cast<core_type*>(const_cast<detail::entry_ops*>(ops));
  }

  // The inbox link reuses node_base::prev: once die() has detached the node from the weak list,
  // prev is no longer guarded by (or read under) the header's lock.
  table_entry* inbox_next() const noexcept { return static_cast<table_entry*>(this->prev); }
  void set_inbox_next(table_entry* e) noexcept { this->prev = e; }

  // The death callback: runs inside header::die() on the releasing thread, after die() took
  // the entry out of the weak list (so the owner's claim() now leaves it to this death), without
  // a pin (entry_ops' kept_while_linked): the table's handle keeps e, and through e's reference
  // the core, until the owner purges e, which it does only once e is queued. It reports the
  // entry (size() stops counting it), then, where the allocator allows it, destroys the payload
  // (user code), and last queues it for the owner's purge: no allocation, no lock, two atomic
  // read-modify-writes.
  static void on_death(node_base* n) {
    auto* e = static_cast<table_entry*>(n);
    core_type* c = e->core();
    c->pending_count.fetch_add(1, std::memory_order_relaxed);
    if (c->releases_anywhere)
      release_payload_now_or_after(n); // the payload, then queue(e)
    else
      queue(e); // the owner's purge destroys the payload
  }

  // The death's last touch of e and of its core: pushes e onto the inbox. Once the container is
  // gone (destroy() closed the inbox), no purge will come: the death drops the table's handle
  // itself, which frees e unless a keyrefs() handle still holds it.
  static void queue(table_entry* e) noexcept {
    core_type* const c = e->core();
    table_entry* head = c->inbox.load(std::memory_order_acquire);
    do {
      if (head == core_type::closed()) {
        release_unlinked(e);
        return;
      }
      e->set_inbox_next(head);
    } while (!c->inbox.compare_exchange_weak(head, e, std::memory_order_release,
                                             std::memory_order_acquire));
  }

  // Destroys the payload through the allocator of the entry's core (the table's, which the
  // owner's and the death's destruction both use).
  void destroy_payload() noexcept {
    using payload_allocator = typename std::allocator_traits<Alloc>::template rebind_alloc<P>;
    payload_allocator pa(core()->alloc);
    std::allocator_traits<payload_allocator>::destroy(pa, std::addressof(payload));
  }

  static void release_payload(node_base* n) noexcept {
    auto* e = static_cast<table_entry*>(n);
    e->destroy_payload();
    queue(e);
  }

  static void dispose(node_base* n) noexcept {
    core_type::free_entry(static_cast<table_entry*>(n));
  }

  // The ops of the entries, which their table's core holds (table_core). An entry is a weak
  // reference (kind ref: keyrefs() and valuerefs() adopt it as a weak_ref).
  static constexpr detail::entry_ops ops_of_entries() noexcept {
    return {{.kind = node_kind::ref,
             .element_tag = &type_tag<R>,
             .callback = &on_death,
             .dispose = &dispose,
             .callback_type = &report_type,
             .callback_target = &report_target,
             .kept_while_linked = true},
            &release_payload};
  }
  static const std::type_info& report_type() noexcept { return typeid(container_report); }
  static const void* report_target(const node_base*) noexcept { return &the_container_report; }
};

// The part of a table that outlives its container while any entry does (an entry a death on
// another thread has not queued yet, or one held by a keyrefs() handle), so it owns the
// allocator. A core is also the node_ops of its table's entries (its base, written only by its
// constructor): an entry's `ops` leads to its core (table_entry::core), so the entry keeps no
// pointer of its own to it (8 bytes an entry), and the ops outlive every entry (`refs`).
template <class R, class P, class Alloc, class Filing>
struct table_core : entry_ops {
  using entry = table_entry<R, P, Alloc, Filing>;
  using alloc_traits = std::allocator_traits<Alloc>;
  using entry_allocator = typename alloc_traits::template rebind_alloc<entry>;
  using entry_traits = std::allocator_traits<entry_allocator>;
  using bucket_allocator = typename alloc_traits::template rebind_alloc<entry*>;
  using bucket_traits = std::allocator_traits<bucket_allocator>;
  using core_allocator = typename alloc_traits::template rebind_alloc<table_core>;
  using core_traits = std::allocator_traits<core_allocator>;

  // 1 for the container, 1 for every entry not yet freed, and the references the owner has
  // taken in advance for entries to come (`prepaid`): make_entry takes them 64 at a time, so
  // that an insert does not pay an atomic read-modify-write for the core.
  std::atomic<std::size_t> refs{1};
  std::atomic<entry*> inbox{nullptr};        // closed() once the container is gone
  std::atomic<std::size_t> pending_count{0}; // entries reported dead, not yet purged
  [[no_unique_address]] Alloc alloc;
  const bool releases_anywhere; // deaths destroy the payloads (see releases_anywhere())

  // Owner thread only.
  std::size_t prepaid = 0; // references in `refs` for entries not yet made
  entry** buckets = nullptr;
  std::size_t bucket_count = 0;
  entry* order_head = nullptr; // the entries in the chains, oldest first
  entry* order_tail = nullptr;
  std::uint64_t magic = 0;         // mod_magic(bucket_count) when bucket_count < 2^32, else 0
  std::size_t size = 0;            // entries in the chains, alive or dead-not-yet-purged
  std::size_t retired_pending = 0; // retired by the owner, but their callback claimed them
  std::size_t grow_at = 0;         // the size beyond which the buckets must grow (0: none yet)
  float max_load_factor = 1.0f;
  // The memory of entries the owner freed, kept for its next entries (recycle_shell): at most
  // max_spare_shells, linked through their first bytes, none while the table is empty.
  struct spare_shell {
    spare_shell* next;
  };
  spare_shell* spare_shells = nullptr;
  std::size_t spare_count = 0;
  static constexpr std::size_t max_spare_shells = 64;

  explicit table_core(const Alloc& a)
      : entry_ops(entry::ops_of_entries()), alloc(a),
        releases_anywhere(detail::releases_anywhere(a)) {}

  // The value of `inbox` after destroy(): the address of no entry.
  alignas(entry) static inline constinit unsigned char closed_marker = 0;
  static entry* closed() noexcept { return reinterpret_cast<entry*>(&closed_marker); }

  static table_core* create(const Alloc& a) {
    core_allocator ca(a);
    table_core* c = std::to_address(core_traits::allocate(ca, 1));
    ::new (static_cast<void*>(c)) table_core(a);
    return c;
  }

  static void unref(table_core* c, std::size_t n = 1) noexcept {
    if (c->refs.fetch_sub(n, std::memory_order_acq_rel) != n) return;
    core_allocator ca(c->alloc);
    if (c->buckets) {
      bucket_allocator ba(c->alloc);
      bucket_traits::deallocate(ba, c->buckets, c->bucket_count);
    }
    c->~table_core();
    core_traits::deallocate(ca, c, 1);
  }

  // The entry's last handle is gone (on any thread): its payload was destroyed (by the owner or
  // by the death), so only the shell remains.
  static void free_entry(entry* e) noexcept {
    table_core* c = e->core();
    free_shell(e);
    unref(c);
  }

  // Destroys and deallocates the shell of an entry, keeping its reference on the core: the
  // owner, freeing an entry on its own thread, keeps that reference for its next entry
  // (`prepaid`) instead of returning it with an atomic read-modify-write.
  static void free_shell(entry* e) noexcept {
    entry_allocator ea(e->core()->alloc);
    e->~entry();
    entry_traits::deallocate(ea, e, 1);
  }

  // Owner thread only. The memory for a new entry: a spare shell, or the allocator's.
  entry* allocate_shell() {
    if (spare_shell* const shell = spare_shells) {
      spare_shells = shell->next;
      --spare_count;
      shell->~spare_shell();
      return reinterpret_cast<entry*>(shell);
    }
    entry_allocator ea(alloc);
    return std::to_address(entry_traits::allocate(ea, 1));
  }
  // Destroys e (its last handle gone, on the owner's thread) and, with std::allocator, keeps
  // its memory as a spare shell, unless there are enough. The operations that free entries
  // (finish, remove_queued, clear) give every spare back when they leave the table empty, so
  // that an emptied table holds no entry's memory, with one test per operation, not per entry.
  // An insertion after an erasure or a purge then costs no allocation and no deallocation
  // (malloc + free: ~130 instructions in glibc, even from its per-thread cache). A user's
  // allocator gets each entry's memory back when the entry goes, as from a node-based standard
  // container: its owner may count or bound what it has out (D8).
  void recycle_shell(entry* e) noexcept {
    e->~entry();
    if (is_std_allocator<Alloc> && spare_count < max_spare_shells) {
      spare_shells = ::new (static_cast<void*>(e)) spare_shell{spare_shells};
      ++spare_count;
      return;
    }
    entry_allocator ea(alloc);
    entry_traits::deallocate(ea, e, 1);
  }
  void release_spare_shells() noexcept {
    entry_allocator ea(alloc);
    while (spare_shell* const shell = spare_shells) {
      spare_shells = shell->next;
      shell->~spare_shell();
      entry_traits::deallocate(ea, reinterpret_cast<entry*>(shell), 1);
    }
    spare_count = 0;
  }

  // The bucket of a hash: hash mod bucket_count (see bucket_primes); without a division when
  // both are below 2^32 (std::hash of an int or an enum, with fewer than 2^32 buckets).
  std::size_t index(std::size_t hash) const noexcept {
    if (magic != 0 && hash <= 0xFFFFFFFFu)
      return static_cast<std::size_t>(
          fast_mod(static_cast<std::uint32_t>(hash), magic, bucket_count));
    return hash % bucket_count;
  }
};

// A container entry is 104 bytes for a payload of up to 4 bytes (MAINTAINERS.md, Performance:
// the 48-byte node, the weak_ptr, the chain link, the filing, the payload, the order links),
// where the sizes of [control] hold.
static_assert(!quoted_sizes_apply ||
                  sizeof(table_entry<int, int, std::allocator<int>, filed_by_hash>) == 104,
              "weakref: a weak container entry with an int payload is 104 bytes");

// The owner-side table. Facades (the three containers) supply hashing, matching and the public
// interface; this class supplies storage, the allocator model, death handling and traversal.
template <class R, class P, class Alloc, class Filing = filed_by_hash>
class weak_table {
public:
  using allocator_type = Alloc;
  using core_type = table_core<R, P, Alloc, Filing>;
  using entry = typename core_type::entry;
  using alloc_traits = std::allocator_traits<Alloc>;

  explicit weak_table(const Alloc& a) noexcept(std::is_nothrow_copy_constructible_v<Alloc>)
      : alloc_(a) {}
  weak_table(weak_table&& other) noexcept
      : alloc_(std::move(other.alloc_)), core_(std::exchange(other.core_, nullptr)) {}
  weak_table(const weak_table&) = delete;
  weak_table& operator=(const weak_table&) = delete;
  weak_table& operator=(weak_table&&) = delete;
  ~weak_table() { destroy(); }

  const Alloc& allocator() const noexcept { return alloc_; }

  // [weakref.containers.general]/7 size(): entries in the table minus those whose death has
  // been reported. Exact unless a referent is dying at this moment (its callbacks not yet run).
  std::size_t size() const noexcept {
    if (!core_) return 0;
    // A claimed entry may be counted as retired before its callback has counted it as pending.
    const auto pending =
        static_cast<long long>(core_->pending_count.load(std::memory_order_acquire));
    const long long dead_in_chains = pending - static_cast<long long>(core_->retired_pending);
    const auto in_chains = static_cast<long long>(core_->size);
    if (dead_in_chains <= 0) return core_->size;
    return dead_in_chains >= in_chains ? 0 : static_cast<std::size_t>(in_chains - dead_in_chains);
  }
  std::size_t bucket_count() const noexcept { return core_ ? core_->bucket_count : 0; }
  float max_load_factor() const noexcept { return core_ ? core_->max_load_factor : 1.0f; }
  void max_load_factor(float f) {
    if (!(f > 0.0f)) throw std::invalid_argument("weakref: max_load_factor must be positive");
    core_type& c = ensure_core();
    c.max_load_factor = f;
    c.grow_at = threshold(c);
    reserve(c.size);
  }
  std::size_t max_size() const noexcept {
    return std::allocator_traits<typename core_type::entry_allocator>::max_size(
        typename core_type::entry_allocator(alloc_));
  }

  // Removes every entry whose referent's death has been reported and queued
  // ([weakref.containers.general]/8-9).
  void purge() noexcept {
    if (!core_ || core_->inbox.load(std::memory_order_relaxed) == nullptr) return;
    remove_queued(core_->inbox.exchange(nullptr, std::memory_order_acquire));
  }

  // Makes an entry for obj (the weakly held referent, whose header is h: require_header(obj))
  // and constructs its payload from args, through the allocator (uses-allocator construction,
  // as std::pmr containers do). The entry is registered with the referent but not yet in the
  // table.
  template <class... Args>
  entry* make_entry(header* h, const std::shared_ptr<R>& obj, std::size_t hash, Args&&... args) {
    assert(h != nullptr && h == header_of(obj) && "weakref: make_entry requires obj's header");
    core_type& c = ensure_core();
    entry* e = c.allocate_shell();
    ::new (static_cast<void*>(e)) entry(h, obj, hash, &c);
    try {
      std::uninitialized_construct_using_allocator(std::addressof(e->payload), alloc_,
                                                   std::forward<Args>(args)...);
    } catch (...) {
      core_type::free_shell(e);
      throw;
    }
    if (c.prepaid == 0) { // balanced by free_entry's unref, or by destroy() if never used
      c.refs.fetch_add(64, std::memory_order_relaxed);
      c.prepaid = 64;
    }
    --c.prepaid;
    h->link(e);
    return e;
  }

  // Releases an entry made by make_entry that never entered the table.
  void discard(entry* e) noexcept {
    e->retired = true;
    finish(e);
  }

  void link(entry* e) {
    reserve(core_->size + 1);
    entry*& head = core_->buckets[core_->index(e->filing.hash())];
    e->chain_next = head;
    head = e;
    ++core_->size;
    e->order_prev = core_->order_tail;
    (e->order_prev ? e->order_prev->order_next : core_->order_head) = e;
    core_->order_tail = e;
  }

  // Takes e out of the table (owner thread), whatever its referent's state.
  void erase(entry* e) noexcept {
    unlink(e);
    finish(e);
  }

  // The first entry in e's chain with this hash for which match(entry, referent) holds and
  // whose referent is alive, pinned.
  template <class Match>
  std::pair<entry*, std::shared_ptr<R>> find(std::size_t hash, Match&& match) const {
    if (!core_ || core_->bucket_count == 0) return {};
    for (entry* e = core_->buckets[core_->index(hash)]; e; e = e->chain_next) {
      if (e->filing.hash() != hash) continue;
      std::shared_ptr<R> pin = e->target.lock();
      if (pin && match(*e, *pin)) return {e, std::move(pin)};
    }
    return {};
  }

  // [weakref.containers.general]/4 under the identity policy (a filing that keeps the address
  // identity_hash hashes): the live entry whose referent is the object at `address`, not
  // pinned. Comparing addresses needs no referent, and the caller holds that object, so a live
  // entry with its address cannot die under the caller; an entry whose referent died (its
  // address perhaps reused by the caller's object) is told apart by its expired weak_ptr. A
  // load instead of find()'s lock and unlock of the referent's count.
  entry* find_by_address(std::size_t hash, const void* address) const noexcept {
    if (!core_ || core_->bucket_count == 0) return nullptr;
    for (entry* e = core_->buckets[core_->index(hash)]; e; e = e->chain_next)
      if (e->filing.address == address && !e->target.expired()) return e;
    return nullptr;
  }

  // Grows the bucket array for one more entry now, so that a following link() cannot throw.
  void reserve_one_more() { reserve(ensure_core().size + 1); }

  // Traversal follows the order of insertion, not the buckets: the entries were allocated in
  // that order, so a traversal reads memory mostly in order, and it never visits empty buckets
  // (D8). A position is a live entry, pinned, or the end. Dead entries are skipped.
  struct position {
    entry* e = nullptr;
    std::shared_ptr<R> pin;
  };
  position first() const {
    position p;
    if (core_) settle(p, core_->order_head);
    return p;
  }
  // Moves p to the next live entry, releasing the pin it held.
  void advance(position& p) const { settle(p, p.e->order_next); }

  // As Python's dict.clear(): the table is emptied first and the payloads destroyed after, so
  // that user code run by their destructors finds an empty, consistent table, and what it
  // inserts stays.
  void clear() noexcept {
    purge();
    if (!core_) return;
    std::fill_n(core_->buckets, core_->bucket_count, nullptr);
    entry* const detached = std::exchange(core_->order_head, nullptr);
    core_->order_tail = nullptr;
    core_->size = 0;
    for (entry* e = detached; e; e = e->order_next) {
      e->retired = true;
      claim(e);
    }
    for (entry* e = detached; e;) { // retired: order_next now links this list alone
      entry* next = e->order_next;
      if (payload_is_ours(e)) destroy_payload(e);
      drop(e);
      e = next;
    }
    if (core_->size == 0) core_->release_spare_shells();
  }

  // Grows the buckets so that n entries stay within max_load_factor. The common case, room
  // already there, is one integer comparison (insert calls this for every element).
  void reserve(std::size_t n) {
    core_type& c = ensure_core();
    if (n <= c.grow_at && c.bucket_count != 0) return;
    grow(c, n);
  }

  void rehash(std::size_t n) {
    core_type& c = ensure_core();
    const double least = static_cast<double>(c.size) / static_cast<double>(c.max_load_factor);
    const std::size_t count = to_size(bucket_count_for(std::max(static_cast<double>(n), least)));
    if (count != c.bucket_count) rehash_to(count);
  }

  // Swaps storage and allocators (the caller decides whether allocators may be swapped).
  void swap(weak_table& other) noexcept {
    using std::swap;
    swap(alloc_, other.alloc_);
    swap(core_, other.core_);
  }
  // Swaps storage only; valid when the allocators compare equal.
  void swap_storage(weak_table& other) noexcept { std::swap(core_, other.core_); }
  void take_storage(weak_table& other) noexcept {
    destroy();
    core_ = std::exchange(other.core_, nullptr);
  }
  void set_allocator(const Alloc& a) { alloc_ = a; }

private:
  core_type& ensure_core() {
    if (!core_) core_ = core_type::create(alloc_);
    return *core_;
  }

  // reserve(n)'s slow path, kept apart so that the common case inlines into every insert.
  void grow(core_type& c, std::size_t n) {
    const double wanted = static_cast<double>(n) / static_cast<double>(c.max_load_factor);
    if (c.bucket_count != 0 && wanted <= static_cast<double>(c.bucket_count)) {
      c.grow_at = n; // a load factor that did not round to an integer threshold
      return;
    }
    const double more = static_cast<double>(c.bucket_count) + 1; // growing, never staying
    rehash_to(to_size(bucket_count_for(std::max(wanted, more))));
  }

  // The largest size the buckets hold within max_load_factor (exact: reserve checks the bound
  // with the same division when it is reached).
  static std::size_t threshold(const core_type& c) noexcept {
    const double most =
        static_cast<double>(c.bucket_count) * static_cast<double>(c.max_load_factor);
    if (!(most < static_cast<double>(std::numeric_limits<std::size_t>::max())))
      return std::numeric_limits<std::size_t>::max();
    std::size_t n = static_cast<std::size_t>(most);
    // n / mlf <= bucket_count must hold for every size up to the threshold.
    while (n > 0 && static_cast<double>(n) / static_cast<double>(c.max_load_factor) >
                        static_cast<double>(c.bucket_count))
      --n;
    return n;
  }

  static std::size_t to_size(std::uint64_t count) {
    if (count > std::numeric_limits<std::size_t>::max() / sizeof(entry*))
      throw std::length_error("weakref: too many buckets");
    return static_cast<std::size_t>(count);
  }

  static void destroy_payload(entry* e) noexcept { e->destroy_payload(); }

  // Takes e out of the chains (owner thread); its payload is left to the caller.
  void unlink(entry* e) noexcept {
    entry** link = &core_->buckets[core_->index(e->filing.hash())];
    while (*link != e) link = &(*link)->chain_next;
    *link = e->chain_next;
    e->chain_next = nullptr;
    (e->order_prev ? e->order_prev->order_next : core_->order_head) = e->order_next;
    (e->order_next ? e->order_next->order_prev : core_->order_tail) = e->order_prev;
    e->retired = true;
    --core_->size;
  }

  // e is retired. Takes e out of its referent's weak list, under the referent's lock, unless
  // a death has detached it already (header::die, under the same lock): then that death reports
  // and queues e, and the owner takes an extra handle, because the inbox brings e back and a
  // purge, possibly one run by user code while the payload is destroyed, drops the table's.
  // Either way the caller then holds a handle that keeps e alive until its drop(e), which follows
  // the destruction of the payload.
  void claim(entry* e) noexcept {
    header* h = e->hdr;
    bool taken_by_death;
    {
      std::lock_guard guard(h->lock);
      taken_by_death = !e->linked.load(std::memory_order_relaxed);
      if (!taken_by_death) h->unlink(e);
    }
    if (!taken_by_death) return;
    e->claimed_by_death = true;
    ++core_->retired_pending;
    acquire(e);
  }

  // Destroys a retired entry's payload and releases it. The payload's destructor is user code
  // that may use the container again ([weakref.containers.general]/8): by now the table is
  // consistent, and e is kept alive by the handle claim() left to the caller.
  void finish(entry* e) noexcept {
    claim(e);
    if (payload_is_ours(e)) destroy_payload(e);
    drop(e);
    if (core_->size == 0) core_->release_spare_shells();
  }

  // After claim(e): the owner destroys the payload unless a death claimed e first and destroys
  // it itself (releases_anywhere).
  bool payload_is_ours(const entry* e) const noexcept {
    return !core_->releases_anywhere || !e->claimed_by_death;
  }

  // Releases a handle the owner holds on a retired entry, which is out of its referent's weak
  // list (claim() or the death took it out), so that only handle holders can add a handle
  // (drop_last_unlinked). If it was the last, the owner frees the entry here, keeping its memory
  // for a later entry (recycle_shell), and the entry's reference on the core becomes the
  // owner's for that entry; if another party still holds one (a keyrefs() handle), that party
  // frees it later, with the core kept alive for it by that reference.
  void drop(entry* e) noexcept {
    if (!drop_last_unlinked(e)) return;
    core_->recycle_shell(e);
    ++core_->prepaid;
  }

  // The purge proper: the entries of an inbox list (each reported, queued, and out of its weak
  // list) leave the chains; their payloads are destroyed unless their deaths did that.
  void remove_queued(entry* e) noexcept {
    while (e) {
      entry* next = e->inbox_next();
      core_->pending_count.fetch_sub(1, std::memory_order_relaxed);
      if (e->retired) {
        --core_->retired_pending; // the owner took it out already
      } else {
        unlink(e);
        if (!core_->releases_anywhere)
          destroy_payload(e); // user code: the table is consistent, e is ours alone
      }
      drop(e);
      e = next;
    }
    if (core_->size == 0) core_->release_spare_shells();
  }

  // Moves p to the first live entry from e on, pinned, or to the end; asks for each entry's
  // successor while it tries to pin the entry. p's previous pin is released last, once p is
  // settled: the release may end a referent's life and run user code, which may purge the
  // entries this loop walks.
  void settle(position& p, entry* e) const {
    std::shared_ptr<R> pin;
    for (; e; e = e->order_next) {
      prefetch(e->order_next);
      if ((pin = e->target.lock())) break;
    }
    p.e = e;
    p.pin = std::move(pin);
  }

  void rehash_to(std::size_t count) {
    core_type& c = *core_;
    typename core_type::bucket_allocator ba(alloc_);
    entry** fresh = std::to_address(core_type::bucket_traits::allocate(ba, count));
    for (std::size_t i = 0; i < count; ++i) fresh[i] = nullptr;
    entry** old = c.buckets;
    const std::size_t old_count = c.bucket_count;
    c.buckets = fresh;
    c.bucket_count = count;
    c.magic = count <= 0xFFFFFFFFu ? mod_magic(count) : 0;
    c.grow_at = threshold(c);
    // Every entry in the chains is in the order list too: walking that list visits the entries
    // alone, not the empty buckets, and reads them in the order they were allocated. Within a
    // chain the newest entry comes first, as link() leaves it; no lookup depends on that order.
    for (entry* e = c.order_head; e; e = e->order_next) {
      entry*& head = fresh[c.index(e->filing.hash())];
      e->chain_next = head;
      head = e;
    }
    if (old) core_type::bucket_traits::deallocate(ba, old, old_count);
  }

  // The container is going away: release every entry, then close the inbox, taking what it
  // holds: a death that took an entry and has not queued it yet (it may be destroying the
  // payload, user code) finds the inbox closed and drops the table's handle itself
  // (table_entry::queue). Nothing waits for another thread ([weakref.containers.general]/16).
  // The core goes with the last of the container and the entries.
  void destroy() noexcept {
    if (!core_) return;
    clear();
    remove_queued(core_->inbox.exchange(core_type::closed(), std::memory_order_acq_rel));
    core_->release_spare_shells();
    core_type::unref(core_, 1 + core_->prepaid);
    core_ = nullptr;
  }

  [[no_unique_address]] Alloc alloc_;
  core_type* core_ = nullptr;
};

} // namespace weakref::detail
