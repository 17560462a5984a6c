// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The benchmarks' own harness (no Google Benchmark), for what the Google Benchmark programs
// cannot give:
//  - instructions per operation under valgrind's callgrind, ours and the baselines: times on
//    the shared 2-core machines move by 2x between runs, instruction counts do not
//    (scripts/instructions runs every row under callgrind and has this program print the table);
//  - times on libc++, the library's primary standard library, for which Debian ships no Google
//    Benchmark: the `bench-libcxx` preset builds this program with clang 19 + libc++ (the
//    `bench` preset builds it with libstdc++), and scripts/bench runs its --time mode.
//
//   weakref.instructions <row> <side> [n]    one run of a row's work on n entries (default
//                                            10000); callgrind collects only that work: client
//                                            requests switch collection on around it, so
//                                            set-up, referent creation and tear-down do not count
//   weakref.instructions --list              the rows callgrind counts: "row side side..."
//   weakref.instructions --table [--n=N] [--md=PATH] [--title=TEXT]
//                                            reads "row side instructions" lines (stdin), prints
//                                            instructions per operation (N per run), ours / each
//                                            baseline, against common.hpp's targets
//   weakref.instructions --time [--sizes=1000,100000,1000000] [--repetitions=5]
//                               [--ops=1000000] [--filter=TEXT] [--md=PATH] [--title=TEXT]
//                               [--tsv=PATH]
//                                            times every row whose name contains TEXT (the
//                                            container rows at each size) on every side,
//                                            repetitions interleaved at random, and prints the
//                                            ratio table (medians, spreads) against the targets;
//                                            --tsv also writes ours's and std's medians for
//                                            benchmarks/cpython.py (--ratio_tsv's format)
//
// The rows and sides are those of the Google Benchmark programs, with the same names (row
// definitions: containers.cpp and ref.cpp; the container adaptors are workloads.hpp's, shared):
//   <c>_insert, <c>_lookup_hit / _lookup, value_map_lookup_hit_in_order, <c>_lookup_miss,
//   <c>_erase, <c>_churn (erase an element of the full container and insert it again: this
//   harness only, no target), <c>_iterate, <c>_copy (copy-construct the filled container),
//   <c>_death, <c>_purge
//     for c = value_map, key_map, set; sides ours, std (unordered_map), flat (unordered_flat_map)
//   bytes_per_entry/<c>, referent_bytes (--time only: sizes, counted by an allocator)
//   ref_create_destroy, ref_create_destroy_callback, lock_live, factory_create_destroy,
//   death_callbacks/k:1, death_callbacks/k:16, finalize_create_call, death_finalize
//     sides ours, std; death_refs/k:1 (a death with one reference without callback: weak_ref,
//     or weak_ptr; no target); and callback_at_death, derived: (k:16 - k:1) / 15 per death,
//     the price of one more callback at a death against one more std::function call.
// Per operation: per entry for the container rows, per create, lock or call for the others, per
// death for death_callbacks and death_finalize.
//
// Timing (--time): each run repeats the row's measured region `iterations` times, about --ops
// operations in all (1000 iterations of 1 K entries, 10 of 100 K, 1 of 1 M; the rows that are
// not containers run batches of 1000 operations, or of 64 deaths as ref.cpp does), and adds the
// CPU time of this thread around each region (thread_cpu_clock, less the cost of reading it), as
// the Google Benchmark rows with manual time do. Set-up runs outside the regions. The process
// starts a thread first, so that libstdc++ counts shared_ptr owners atomically, as in the Google
// Benchmark programs (libc++ always does); freed memory stays in the process (mallopt), as in
// containers.cpp.
#include <malloc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <valgrind/callgrind.h>

#include "common.hpp"
#include "workloads.hpp"

import weakref;

namespace {

namespace wb = weakref_bench;
using wb::item;
using wb::ptr;

// ------------------------------------------------------------------------------------- adaptors

struct factory {
  static ptr make(int i) { return weakref::make_shared<item>(i); }
};
using ours_side = wb::ours_side<factory>;
using identity_hash = weakref::identity_hash<item>;
using identity_equal = weakref::identity_equal<item>;
using value_map_ours = wb::value_map_ours<ours_side, weakref::weak_value_map<int, item>,
                                          weakref::pmr::weak_value_map<int, item>>;
using key_map_ours =
    wb::key_map_ours<ours_side, weakref::weak_key_map<item, int, identity_hash, identity_equal>,
                     weakref::pmr::weak_key_map<item, int, identity_hash, identity_equal>>;
using set_ours = wb::set_ours<ours_side, weakref::weak_set<item, identity_hash, identity_equal>,
                              weakref::pmr::weak_set<item, identity_hash, identity_equal>>;

// ---------------------------------------------------------------------------------- measurement

// Where a row's results go, so that the compiler cannot drop the work.
volatile long long sink = 0;

// Makes the compiler assume that x is read and written here (as Google Benchmark's
// DoNotOptimize): its address escapes, and memory is clobbered.
template <class T>
void keep(T& x) {
  asm volatile("" : : "r"(std::addressof(x)) : "memory");
}

// Runs a row's measured regions: under callgrind, collection is on inside them only (outside
// valgrind, the client requests do nothing); with `timed`, their CPU time is added up.
struct meter {
  bool timed = false;
  std::size_t iterations = 1;           // times the row repeats its measured region
  std::chrono::nanoseconds overhead{0}; // of a pair of clock reads, taken out of each region
  std::chrono::nanoseconds total{0};    // the regions' time
  std::optional<double> value;          // a size row's result (bytes), instead of a time

  template <class F>
  void operator()(F&& f) {
    if (!timed) {
      CALLGRIND_TOGGLE_COLLECT;
      std::forward<F>(f)();
      CALLGRIND_TOGGLE_COLLECT;
      return;
    }
    const auto t0 = wb::thread_cpu_clock::now();
    std::forward<F>(f)();
    const auto t1 = wb::thread_cpu_clock::now();
    const auto region = t1 - t0 - overhead;
    if (region.count() > 0) total += region;
  }
};

std::chrono::nanoseconds clock_overhead() {
  std::vector<std::chrono::nanoseconds> reads(101);
  for (auto& r : reads) {
    const auto t0 = wb::thread_cpu_clock::now();
    const auto t1 = wb::thread_cpu_clock::now();
    r = t1 - t0;
  }
  std::nth_element(reads.begin(), reads.begin() + 50, reads.end());
  return reads[50];
}

int fail(const char* what) {
  std::fprintf(stderr, "weakref.instructions: %s\n", what);
  return 3;
}

// ---------------------------------------------------------------------------- container rows

// One container row (op: the name after the container's) on the side adapted by A.
template <class A>
int container_row(std::string_view op, std::size_t n, meter& m) {
  using map_type = typename A::map_type;
  const std::size_t iterations = m.iterations;
  const auto all = static_cast<long long>(iterations * n);
  if (op == "insert") {
    const std::vector<ptr> owners = wb::make_owners<A>(n);
    {
      map_type warm_up; // a warm heap, as in containers.cpp
      wb::fill<A>(warm_up, owners);
    }
    for (std::size_t i = 0; i < iterations; ++i) {
      std::optional<map_type> c(std::in_place);
      m([&] { wb::fill<A>(*c, owners); });
      if (c->size() != n) return fail("an insert was lost");
    }
    return 0;
  }
  if (op == "lookup_hit" || op == "lookup" || op == "lookup_hit_in_order" || op == "lookup_miss") {
    const bool miss = op == "lookup_miss";
    const std::vector<ptr> owners = wb::make_owners<A>(n);
    const std::vector<ptr> strangers = wb::make_owners<A>(miss ? n : 0);
    map_type c;
    wb::fill<A>(c, owners);
    std::vector<int> keys = wb::shuffled_keys(n);
    if (op == "lookup_hit_in_order") std::sort(keys.begin(), keys.end());
    const int offset = static_cast<int>(n);
    long long found = 0;
    for (std::size_t i = 0; i < iterations; ++i) {
      m([&] {
        if (miss) {
          for (const int k : keys)
            found += A::absent(c, k + offset, strangers[static_cast<std::size_t>(k)]);
        } else {
          for (const int k : keys)
            found += A::lookup(c, k, owners[static_cast<std::size_t>(k)]) >= 0;
        }
      });
    }
    sink = found;
    return found == all ? 0 : fail(miss ? "a lookup of an absent key hit" : "a lookup missed");
  }
  if (op == "erase") {
    const std::vector<ptr> owners = wb::make_owners<A>(n);
    const std::vector<int> keys = wb::shuffled_keys(n);
    map_type c;
    long long erased = 0;
    for (std::size_t i = 0; i < iterations; ++i) {
      wb::fill<A>(c, owners);
      m([&] {
        for (const int k : keys)
          erased += static_cast<long long>(A::erase(c, k, owners[static_cast<std::size_t>(k)]));
      });
      if (!c.empty()) return fail("erase left entries behind");
    }
    sink = erased;
    return erased == all ? 0 : fail("erase missed an entry");
  }
  if (op == "churn") {
    // A full container whose elements are replaced one at a time, as a cache's are: each
    // operation erases one key's element and inserts it again.
    const std::vector<ptr> owners = wb::make_owners<A>(n);
    const std::vector<int> keys = wb::shuffled_keys(n);
    map_type c;
    wb::fill<A>(c, owners);
    long long replaced = 0;
    for (std::size_t i = 0; i < iterations; ++i) {
      m([&] {
        for (const int k : keys) {
          const ptr& p = owners[static_cast<std::size_t>(k)];
          replaced += static_cast<long long>(A::erase(c, k, p));
          A::insert(c, k, p);
        }
      });
      if (c.size() != n) return fail("churn lost an entry");
    }
    sink = replaced;
    return replaced == all ? 0 : fail("churn missed an entry");
  }
  if (op == "iterate" || op == "copy") {
    const std::vector<ptr> owners = wb::make_owners<A>(n);
    map_type c;
    wb::fill<A>(c, owners);
    const auto expected = static_cast<std::int64_t>(n) * (static_cast<std::int64_t>(n) - 1) / 2;
    for (std::size_t i = 0; i < iterations; ++i) {
      if (op == "copy") {
        m([&] {
          map_type copy = c;
          sink = sink + static_cast<long long>(copy.size());
        });
        continue;
      }
      std::int64_t sum = 0;
      m([&] { sum = A::iterate(c); });
      if (sum != expected) return fail("iteration missed a live entry");
    }
    return 0;
  }
  if (op == "death" || op == "purge") {
    const bool purge = op == "purge";
    map_type c;
    for (std::size_t i = 0; i < iterations; ++i) {
      std::vector<ptr> owners = wb::make_owners<A>(n);
      wb::fill<A>(c, owners);
      m([&] {
        owners.clear(); // mass death
        if (purge) A::purge(c);
      });
      if (!purge) A::purge(c);
      if (c.size() != 0) return fail("dead entries left behind");
    }
    return 0;
  }
  return 2;
}

// bytes_per_entry/<c>: bytes the container requests per live entry (a counting memory_resource).
template <class A>
int bytes_row(std::size_t n, meter& m) {
  using map_type = typename A::pmr_map_type;
  using allocator = typename map_type::allocator_type;
  wb::counting_resource resource;
  {
    std::vector<ptr> owners = wb::make_owners<A>(n);
    map_type c{allocator(&resource)};
    wb::fill<A>(c, owners);
    if (c.size() != n) return fail("an insert was lost");
    m.value = static_cast<double>(resource.live_bytes()) / static_cast<double>(n);
    owners.clear();
    A::purge(c);
    if (c.size() != 0) return fail("dead entries left behind");
  }
  return resource.live_bytes() == 0 ? 0 : fail("the container leaked memory");
}

template <class Ours, class Std, class Flat>
int container_side(std::string_view op, std::string_view side, std::size_t n, meter& m) {
  const bool bytes = op == "bytes_per_entry";
  if (side == "ours") return bytes ? bytes_row<Ours>(n, m) : container_row<Ours>(op, n, m);
  if (side == "std") return bytes ? bytes_row<Std>(n, m) : container_row<Std>(op, n, m);
  if (side == "flat") return bytes ? bytes_row<Flat>(n, m) : container_row<Flat>(op, n, m);
  return 2;
}

// ----------------------------------------------------------------------------------- the floors

// Issue 18: a target that cannot be reached is explained by the floor of its row, "what the
// fastest possible code for that row costs". A floor is the std baseline's own code (its map,
// its weak_ptr, std::make_shared) plus only the atomic read-modify-writes that the guarantees
// ours keeps require, each done as cheaply as it can be: a one-byte spinlock inside the referent
// for its registrations (no list, no allocation), a counter and a lock-free stack for the
// deaths a container must see. Each floor does the read-modify-writes ours does (`scripts/
// instructions --atomics` counts both); what ours spends beyond its floor is the rest of its
// code and its memory. If the floor itself misses a target, no code with these guarantees meets
// it. The floors, and the guarantee behind each operation they add (MAINTAINERS.md,
// Performance, "The floors"):
//   ref_create_destroy   a registration with the referent on each side (weak_ref_count,
//                        weak_refs and callbacks need every reference in a list: PY-COUNT-1)
//   factory_create_destroy  no atomic, but a structure: the control block that
//                        std::get_deleter finds and the header beside the object (D1;
//                        floor_make_shared, below)
//   value_map_insert     the entry's registration (keyrefs and weak_ref_count see it), and the
//                        returned iterator's pin ([weakref.containers.general]/5)
//   value_map_erase      a pin while the key is compared (a death destroys the key on its own
//                        thread, [weakref.containers.general]/8), and the unregistration
//   value_map_iterate    the step's pin, and the owning value handed out (a copy of the pin)
//   value_map_death      the referent's lock (the death takes the entry's registration), the
//                        report (size() stops counting the entry), the queueing for the owner
//   value_map_purge      the death above, then the purge: the queue taken at once, and per
//                        entry the report's settlement and the baseline's erase
//   <c>_lookup...        nothing: a lookup hit pins and releases, as the baseline's does, so its
//                        floor is the baseline itself, and ours's gap there is ours alone
//   death_callbacks/k:K  the referent's lock, and per callback the release of the handle to its
//                        reference that the callback is passed (PY-REF-1)
//   finalize_create_call the registration with the referent and its removal, the registry's
//                        listing and unlisting, the take, the release of the registry's handle
//                        (floor_finalizer, below)
//   death_finalize       the referent's lock, the take, the unlisting, the registry's handle
// and the same rows of key_map and set, but for their erase, which finds the element by the
// address of the key object the caller holds (the identity policy), so needs no pin. Memory has
// a floor too:
//   bytes_per_entry/<c>  the baseline's node and two pointers: the link by which the referent
//                        lists its entries (the death's walk; then the owner's queue), and the
//                        owner the death reports to (floor_bytes, below)

// The one-byte spinlock of a floor's referent, which its registrations and its death take (it
// makes the referents non-copyable, as their registrations require).
struct floor_lock {
  void lock() noexcept {
    while (locked.exchange(true, std::memory_order_acquire))
      while (locked.load(std::memory_order_relaxed)) std::this_thread::yield();
  }
  void unlock() noexcept { locked.store(false, std::memory_order_release); }

  std::atomic<bool> locked{false};
};

// The referent of a container's or a reference's floor: the baseline's item, with its lock and
// a count of its registrations.
struct floor_item : item, floor_lock {
  using item::item;
  ~floor_item();

  std::uint32_t registrations = 0; // under the lock
};

// A reference with a callback (death_callbacks' floor): the callback, and the count of the
// handles of its reference, one of which the death passes to the callback (PY-REF-1) and
// releases after it: atomically, as other copies may be released on other threads meanwhile.
struct floor_callback {
  std::function<void()> fn;
  std::atomic<std::uint32_t> handles{2}; // the reference's own, and the one the death passes
};

// The referent of death_callbacks' floor: its references with a callback.
struct floor_callback_item : item, floor_lock {
  using item::item;
  ~floor_callback_item() {
    lock();
    floor_callback* const first = std::exchange(callbacks, nullptr);
    const std::size_t k = std::exchange(count, 0);
    unlock();
    for (std::size_t i = 0; i < k; ++i) {
      first[i].fn();
      first[i].handles.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  floor_callback* callbacks = nullptr; // under the lock
  std::size_t count = 0;
};

// What a floor container's deaths report to it: a count and a stack of the dead entries' keys
// (one container at a time, so one of each). The links are the map's own memory in ours; here
// one per key, made before the row runs.
struct dead_key {
  int key;
  const item* address; // the key of the identity-keyed containers
  dead_key* next;
};
struct floor_inbox {
  std::atomic<std::size_t> pending{0};
  std::atomic<dead_key*> head{nullptr};
  std::vector<dead_key> links;
};
floor_inbox inbox;

floor_item::~floor_item() {
  lock();
  const bool registered = registrations != 0;
  registrations = 0;
  unlock();
  if (!registered) return;
  inbox.pending.fetch_add(1, std::memory_order_relaxed); // the report: size() stops counting it
  dead_key* d = &inbox.links[static_cast<std::size_t>(x)];
  dead_key* top = inbox.head.load(std::memory_order_relaxed);
  do d->next = top;
  while (!inbox.head.compare_exchange_weak(top, d, std::memory_order_release,
                                           std::memory_order_relaxed));
}

floor_item& floor_of(const ptr& p) noexcept { return static_cast<floor_item&>(*p); }

struct floor_side {
  static ptr make(int i) {
    if (inbox.links.size() <= static_cast<std::size_t>(i))
      inbox.links.resize(static_cast<std::size_t>(i) + 1);
    ptr p = std::make_shared<floor_item>(i);
    inbox.links[static_cast<std::size_t>(i)] = {i, p.get(), nullptr};
    return p;
  }
  template <class Map>
  static void purge(Map& m) {
    for (dead_key* d = inbox.head.exchange(nullptr, std::memory_order_acquire); d;) {
      dead_key* next = d->next;
      if constexpr (std::is_same_v<typename Map::key_type, int>)
        m.erase(d->key);
      else
        m.erase(d->address);
      inbox.pending.fetch_sub(1, std::memory_order_relaxed);
      d = next;
    }
  }
};

// The floor of a container row, on the map of the baseline adaptor Base (value_map_std,
// key_map_std, set_std): the baseline's operation, with the read-modify-writes of "the floors"
// above. A weak_value_map compares its keys under a pin; the identity-keyed containers find
// their elements by the address of a key object the caller holds, which needs none.
template <class Base>
struct floor_container : floor_side {
  using map_type = typename Base::map_type;
  static constexpr bool by_address = !std::is_same_v<typename map_type::key_type, int>;

  static const std::weak_ptr<item>& weak(const typename map_type::value_type& kv) noexcept {
    if constexpr (requires { kv.second.expired(); })
      return kv.second;
    else
      return kv.second.first; // key_map_std's (weak_ptr, value) pair
  }
  static void registration(const ptr& p, int change) noexcept {
    floor_item& f = floor_of(p);
    f.lock();
    f.registrations += static_cast<std::uint32_t>(change);
    f.unlock();
  }

  // The lookups have no floor of their own: they are the baseline's (container_row names them).
  static int lookup(const map_type& m, int k, const ptr& p) { return Base::lookup(m, k, p); }
  static bool absent(const map_type& m, int k, const ptr& p) { return Base::absent(m, k, p); }
  template <class M>
  static void insert(M& m, int k, const ptr& p) {
    Base::insert(m, k, p);
    registration(p, 1);
    ptr pin(p); // the returned iterator's
    keep(pin);
  }
  static std::size_t erase(map_type& m, int k, const ptr& p) {
    if constexpr (by_address) {
      const auto it = m.find(p.get());
      if (it == m.end() || weak(*it).expired()) return 0;
      registration(p, -1);
      m.erase(it);
    } else {
      const auto it = m.find(k);
      if (it == m.end()) return 0;
      const ptr pin = weak(*it).lock(); // while the key is compared
      if (!pin) return 0;
      registration(pin, -1);
      m.erase(it);
    }
    return 1;
  }
  static std::int64_t iterate(map_type& m) {
    std::int64_t sum = 0;
    for (const auto& kv : m)
      if (const ptr pin = weak(kv).lock()) {
        ptr out = pin; // the owning value handed out
        keep(out);
        sum += out->x;
      }
    return sum;
  }
};

// The floor of a row of containers (the ops container_row has a floor for).
int floor_container_row(std::string_view container, std::string_view op, std::size_t n, meter& m) {
  if (op != "insert" && op != "lookup_hit" && op != "lookup_hit_in_order" && op != "lookup" &&
      op != "erase" && op != "iterate" && op != "death" && op != "purge")
    return 2;
  const int status =
      container == "value_map" ? container_row<floor_container<wb::value_map_std>>(op, n, m)
      : container == "key_map" ? container_row<floor_container<wb::key_map_std>>(op, n, m)
                               : container_row<floor_container<wb::set_std>>(op, n, m);
  // The rows that end with their containers still full leave their referents' deaths queued
  // (a floor container does not unregister when it is destroyed); the death rows purge theirs.
  const bool purged = inbox.pending.load() == 0 && inbox.head.load() == nullptr;
  inbox.pending.store(0);
  inbox.head.store(nullptr);
  inbox.links.clear();
  if (status == 0 && !purged && (op == "death" || op == "purge"))
    return fail("a floor death was not purged");
  return status;
}

// The floor of bytes_per_entry/<c>: the baseline's node and the two pointers that a
// registration needs, nothing else. The death must reach every entry of its referent, so the
// referent lists them, through a link in each entry; it must tell the entry's owner, so the entry
// names it; and the owner must learn which entries died, so the death queues each entry on the
// same link, which the referent's list no longer uses (as ours reuses node_base::next). The
// list is singly linked (an unregistration walks the referent's list: ours is doubly linked, for
// an unlink in constant time); the count of the registrations is the referent's, not an entry's.
// The purge scans the table, as the baseline's does (a table of its own would unlink the entries
// its queue names, as ours does; no byte either way).
struct floor_owner;
struct floor_registration {
  floor_registration* next = nullptr; // the referent's list; after the death, the owner's queue
  floor_owner* owner = nullptr;
};
struct floor_owner {
  std::atomic<std::size_t> pending{0};
  std::atomic<floor_registration*> dead{nullptr};
};

// The referent of the bytes floor: the list of the entries registered with it.
struct floor_listed_item : item, floor_lock {
  using item::item;
  ~floor_listed_item() {
    lock();
    floor_registration* r = std::exchange(registered, nullptr);
    unlock();
    while (r != nullptr) {
      floor_registration* const following = r->next;
      floor_owner& o = *r->owner;
      o.pending.fetch_add(1, std::memory_order_relaxed);
      floor_registration* top = o.dead.load(std::memory_order_relaxed);
      do r->next = top;
      while (!o.dead.compare_exchange_weak(top, r, std::memory_order_release,
                                           std::memory_order_relaxed));
      r = following;
    }
  }

  floor_registration* registered = nullptr; // under the lock
};

// The adaptor of the bytes floor over the baseline adaptor Base: Base's key and mapped value,
// with a registration beside the mapped value.
template <class Base>
struct floor_bytes {
  using base_map = typename Base::pmr_map_type;
  using key_type = typename base_map::key_type;
  struct mapped {
    typename base_map::mapped_type baseline;
    floor_registration registration;
  };
  using pmr_map_type = std::pmr::unordered_map<key_type, mapped>;
  static inline floor_owner owner;    // one container at a time
  static inline std::size_t reported; // the deaths the last purge found queued

  static ptr make(int i) { return std::make_shared<floor_listed_item>(i); }
  static void insert(pmr_map_type& m, int k, const ptr& p) {
    std::weak_ptr<item> w(p);
    const auto [it, fresh] = [&] {
      if constexpr (std::is_same_v<key_type, int>)
        return m.try_emplace(k, mapped{std::move(w), {}});
      else if constexpr (std::is_same_v<typename base_map::mapped_type, std::weak_ptr<item>>)
        return m.try_emplace(p.get(), mapped{std::move(w), {}});
      else
        return m.try_emplace(p.get(), mapped{{std::move(w), k}, {}});
    }();
    if (!fresh) return;
    auto& f = static_cast<floor_listed_item&>(*p);
    f.lock();
    it->second.registration = {f.registered, &owner};
    f.registered = &it->second.registration;
    f.unlock();
  }
  static void purge(pmr_map_type& m) {
    // The queue first: its links are in the entries that the scan frees.
    reported = 0;
    for (floor_registration* r = owner.dead.exchange(nullptr, std::memory_order_acquire); r;
         r = r->next)
      ++reported;
    owner.pending.fetch_sub(reported, std::memory_order_relaxed);
    std::erase_if(m, [](const auto& kv) { return wb::mapped_expired(kv.second.baseline); });
  }
};

// bytes_per_entry/<c> on the floor side; fails unless every entry's death reached its owner.
template <class Base>
int floor_bytes_row(std::size_t n, meter& m) {
  using A = floor_bytes<Base>;
  const int status = bytes_row<A>(n, m);
  if (status == 0 && (A::reported != n || A::owner.pending.load() != 0))
    return fail("a floor entry's death was not reported to its owner");
  return status;
}

// The floors of the finalizer rows (finalize_create_call, death_finalize). A finalizer is the
// baseline's weak_ptr and std::function, and what its guarantees add, each at its cheapest:
// the registration with its referent (weak_ref_count counts it, the death calls it: the
// referent's lock, on creation and on destruction); a registry that lists it, so that it lives
// while the program holds no handle ([weakref.finalize.general]/3) and the exit pass finds it (a
// one-byte lock, on listing and on unlisting); the take, which lets one caller of the call, the
// death and detach() call the function ([weakref.finalize.call]/5: an exchange); and the
// registry's handle, released only after the call, because the function may drop every other
// handle while it runs ([weakref.finalize.call]/6: a decrement; its count is set, not
// incremented, on creation). Its memory is made before the row runs, as the dead_key links are:
// a finalizer outlives its handles, so it cannot be on the stack, and ours takes its node from
// a per-thread pool.
struct floor_finalizer {
  std::function<void()> fn;
  std::weak_ptr<item> referent;          // peek() and alive() lock it
  std::atomic<bool> pending{true};       // the take
  std::atomic<std::uint32_t> handles{0}; // the program's and the registry's
  floor_finalizer* prev = nullptr;       // the registry's list, under its lock
  floor_finalizer* next = nullptr;
};
struct floor_registry : floor_lock {
  void list(floor_finalizer* f) noexcept {
    lock();
    f->prev = nullptr;
    f->next = head;
    if (head) head->prev = f;
    head = f;
    unlock();
  }
  void unlist(floor_finalizer* f) noexcept {
    lock();
    if (f->prev)
      f->prev->next = f->next;
    else
      head = f->next;
    if (f->next) f->next->prev = f->prev;
    unlock();
  }
  floor_finalizer* head = nullptr;
};
floor_registry finalizers;

// Makes f the finalizer of p (a floor referent: its lock and its count of registrations), held
// by the registry and by `handles - 1` handles of the program.
template <class R, class F>
void floor_finalize(floor_finalizer& f, const std::shared_ptr<R>& p, F&& fn,
                    std::uint32_t handles) {
  std::destroy_at(&f.fn); // the last use's: built in place, as the baseline's is
  std::construct_at(&f.fn, std::forward<F>(fn));
  f.referent = p;
  f.pending.store(true, std::memory_order_relaxed);
  f.handles.store(handles, std::memory_order_relaxed);
  p->lock();
  ++p->registrations;
  p->unlock();
  finalizers.list(&f);
}
// The call, by the program or by the death: whoever takes the finalizer calls it.
void floor_call(floor_finalizer& f) {
  if (!f.pending.exchange(false, std::memory_order_acq_rel)) return;
  finalizers.unlist(&f);
  f.fn();
  f.handles.fetch_sub(1, std::memory_order_acq_rel); // the registry's
}

// The referent of death_finalize's floor: its finalizer.
struct floor_finalized_item : item, floor_lock {
  using item::item;
  ~floor_finalized_item() {
    lock();
    floor_finalizer* const f = std::exchange(finalizer, nullptr);
    registrations = 0;
    unlock();
    if (f == nullptr) return;
    floor_call(*f);
    // The registry's handle was the last: the finalizer goes, with its weak_ptr.
    if (f->handles.load(std::memory_order_acquire) == 0) f->referent.reset();
  }
  std::uint32_t registrations = 0;      // under the lock
  floor_finalizer* finalizer = nullptr; // under the lock
};

int floor_finalizer_row(std::string_view row, std::size_t n, meter& m) {
  long long calls = 0;
  if (row == "finalize_create_call") {
    const auto obj = std::make_shared<floor_item>(1);
    floor_finalizer f;
    for (std::size_t i = 0; i < m.iterations; ++i)
      m([&] {
        for (std::size_t j = 0; j < n; ++j) {
          floor_finalize(f, obj, [&calls] { calls += 1; }, 2);
          floor_call(f);
          // The program's handle goes, the last one: it unregisters (no decrement, as ours's
          // last release) and releases the weak_ptr.
          if (f.handles.load(std::memory_order_acquire) == 1) {
            obj->lock();
            --obj->registrations;
            obj->unlock();
            f.referent.reset();
          }
        }
      });
    sink = calls;
    if (obj->registrations != 0) return fail("a floor finalizer's registration was left behind");
    return calls == static_cast<long long>(m.iterations * n)
               ? 0
               : fail("not every floor finalizer ran");
  }
  if (row != "death_finalize") return 2;
  // A death with one finalizer, which the program holds no handle of.
  std::vector<std::shared_ptr<floor_finalized_item>> objects(n);
  for (std::size_t i = 0; i < m.iterations; ++i) {
    const auto records = std::make_unique<floor_finalizer[]>(n);
    for (std::size_t o = 0; o < n; ++o) {
      objects[o] = std::make_shared<floor_finalized_item>(1);
      floor_finalize(records[o], objects[o], [&calls] { calls += 1; }, 1);
      objects[o]->lock();
      objects[o]->finalizer = &records[o];
      objects[o]->unlock();
    }
    m([&] {
      for (auto& obj : objects) obj.reset();
    });
  }
  sink = calls;
  if (finalizers.head != nullptr) return fail("a floor finalizer was left listed");
  return calls == static_cast<long long>(m.iterations * n) ? 0
                                                           : fail("not every floor finalizer ran");
}

// The floor of factory_create_destroy: std::make_shared's one allocation and its one atomic
// read-modify-write per owner released, with what a weakly referenceable object needs besides
// (no atomic among it):
//  - a control block made from a pointer, a deleter and an allocator (std::shared_ptr's
//    constructor), not make_shared's: std::get_deleter finds only a deleter, and it is how a
//    reference reaches the referent's weak list from any shared_ptr to it (D1);
//  - the 24-byte header beside the object, in the same allocation: the weak list, its lock and
//    count, and how the object is destroyed (a pointer: the deleter is one type for every
//    referent, or get_deleter could not name it for a shared_ptr to a base);
//  - at the death, the check that the weak list is empty (a load; this row makes no reference),
//    then the object's destruction through that pointer; the chunk goes with the control block.
// The control block takes a slot at the chunk's start, measured before the row runs (ours
// measures it on first use, per type).
struct floor_header {
  floor_lock lock;
  std::uint32_t count = 0;
  std::atomic<void*> head{nullptr};
  void (*destroy)(floor_header*) noexcept = nullptr;
};
static_assert(sizeof(void*) != 8 || sizeof(floor_header) == 24,
              "the floor's header is as large as ours's");

template <class T>
struct floor_block : floor_header {
  alignas(T) unsigned char storage[sizeof(T)];

  T* object() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  static void destroy_object(floor_header* h) noexcept {
    std::destroy_at(static_cast<floor_block*>(h)->object());
  }
};

// The size of the control block (rounded to a pointer's alignment), which the probe below
// records: a null header means "probing", on both the allocator and the deleter.
std::size_t floor_control_block_bytes = 0;

struct floor_deleter {
  floor_header* h;
  template <class T>
  void operator()(T*) const noexcept {
    if (h == nullptr) return; // the probe's
    // This row makes no reference: a death with references is not the floor's to run.
    if (h->head.load(std::memory_order_acquire) != nullptr) std::abort();
    h->destroy(h);
  }
};

template <class U>
struct floor_chunk_allocator {
  using value_type = U;
  floor_header* h;

  explicit floor_chunk_allocator(floor_header* header) noexcept : h(header) {}
  template <class V>
  floor_chunk_allocator(const floor_chunk_allocator<V>& other) noexcept : h(other.h) {}

  static unsigned char* chunk(floor_header* header) noexcept {
    return reinterpret_cast<unsigned char*>(header) - floor_control_block_bytes;
  }
  U* allocate(std::size_t k) {
    if (h == nullptr) { // the probe: records the size, and allocates apart
      floor_control_block_bytes =
          (sizeof(U) * k + alignof(void*) - 1) / alignof(void*) * alignof(void*);
      return std::allocator<U>().allocate(k);
    }
    if (sizeof(U) * k > floor_control_block_bytes || alignof(U) > alignof(void*))
      throw std::bad_alloc(); // not the control block the probe measured
    return reinterpret_cast<U*>(chunk(h));
  }
  void deallocate(U* p, std::size_t k) noexcept {
    if (h == nullptr) return std::allocator<U>().deallocate(p, k);
    ::operator delete(chunk(h)); // the whole chunk: the header and the object's storage too
  }
  template <class V>
  bool operator==(const floor_chunk_allocator<V>& other) const noexcept {
    return h == other.h;
  }
};

// Called by the factory's floor row before it makes any referent (outside its measured region).
void floor_probe_control_block() {
  static int dummy = 0;
  const std::shared_ptr<int> probe(&dummy, floor_deleter{nullptr},
                                   floor_chunk_allocator<int>(nullptr));
}

template <class T, class... Args>
std::shared_ptr<T> floor_make_shared(Args&&... args) {
  using block = floor_block<T>;
  static_assert(alignof(block) <= alignof(void*), "the floor's chunk is aligned for a pointer");
  auto* chunk =
      static_cast<unsigned char*>(::operator new(floor_control_block_bytes + sizeof(block)));
  block* b = ::new (static_cast<void*>(chunk + floor_control_block_bytes)) block;
  b->destroy = &block::destroy_object;
  try {
    std::construct_at(reinterpret_cast<T*>(b->storage), std::forward<Args>(args)...);
  } catch (...) {
    ::operator delete(chunk);
    throw;
  }
  return std::shared_ptr<T>(b->object(), floor_deleter{b}, floor_chunk_allocator<T>(b));
}

int floor_factory_row(std::size_t n, meter& m) {
  floor_probe_control_block();
  for (std::size_t i = 0; i < m.iterations; ++i)
    m([&] {
      for (std::size_t j = 0; j < n; ++j) {
        std::shared_ptr<int> p = floor_make_shared<int>(1);
        keep(p);
      }
    });
  // What the floor pays for: the header is found from the shared_ptr, as a reference finds it.
  const std::shared_ptr<int> p = floor_make_shared<int>(2);
  const floor_deleter* d = std::get_deleter<floor_deleter>(p);
  if (d == nullptr || static_cast<floor_block<int>*>(d->h)->object() != p.get() || *p != 2)
    return fail("the floor's referent does not reach its header");
  return 0;
}

// The floor of ref_create_destroy: the baseline's weak_ptr copy and release, and a
// registration with the referent on each side.
int floor_ref_row(std::string_view row, std::size_t n, meter& m) {
  if (row.starts_with("death_callbacks/k:")) {
    // The floor of a death with k callbacks: the baseline's death and k std::function calls,
    // the referent's lock (the death takes the references out of its list), and per callback
    // the release of the handle it was passed. The references hold weak_ptrs, as any that can
    // be locked must, so the death releases the weak count its owners held (as ours does).
    const std::size_t k = std::strtoul(row.data() + row.find(':') + 1, nullptr, 10);
    long long calls = 0;
    std::vector<std::shared_ptr<floor_callback_item>> objects(n);
    std::vector<std::weak_ptr<floor_callback_item>> refs;
    for (std::size_t i = 0; i < m.iterations; ++i) {
      const auto records = std::make_unique<floor_callback[]>(n * k);
      refs.reserve(n * k);
      for (std::size_t o = 0; o < n; ++o) {
        objects[o] = std::make_shared<floor_callback_item>(1);
        for (std::size_t j = 0; j < k; ++j) {
          records[o * k + j].fn = [&calls] { ++calls; };
          refs.emplace_back(objects[o]);
        }
        objects[o]->lock();
        objects[o]->callbacks = &records[o * k];
        objects[o]->count = k;
        objects[o]->unlock();
      }
      m([&] {
        for (auto& obj : objects) obj.reset();
      });
      refs.clear();
    }
    sink = calls;
    return calls == static_cast<long long>(m.iterations * n * k)
               ? 0
               : fail("not every floor callback ran");
  }
  if (row == "finalize_create_call" || row == "death_finalize")
    return floor_finalizer_row(row, n, m);
  if (row == "factory_create_destroy") return floor_factory_row(n, m);
  if (row != "ref_create_destroy") return 2;
  const auto obj = std::make_shared<floor_item>(1);
  const std::weak_ptr<floor_item> w(obj);
  for (std::size_t i = 0; i < m.iterations; ++i)
    m([&] {
      for (std::size_t j = 0; j < n; ++j) {
        std::weak_ptr<floor_item> copy(w);
        keep(copy);
        obj->lock();
        ++obj->registrations;
        obj->unlock();
        keep(copy);
        obj->lock();
        --obj->registrations;
        obj->unlock();
      }
    });
  return obj->registrations == 0 ? 0 : fail("a floor registration was left behind");
}

// ---------------------------------------------------------------------------- the other rows

// The rows of ref.cpp, on n objects or n operations per measured region.
int ref_row(std::string_view row, bool ours, std::size_t n, meter& m) {
  const std::size_t iterations = m.iterations;
  const auto all = static_cast<long long>(iterations * n);
  if (row == "ref_create_destroy" || row == "ref_create_destroy_callback") {
    const bool callback = row == "ref_create_destroy_callback";
    long long calls = 0;
    if (ours) {
      const std::shared_ptr<int> obj = weakref::make_shared<int>(1);
      for (std::size_t i = 0; i < iterations; ++i)
        m([&] {
          for (std::size_t j = 0; j < n; ++j) {
            if (callback) {
              weakref::weak_ref<int> r(obj, [&calls](weakref::weak_ref<int>) { ++calls; });
              keep(r);
            } else {
              weakref::weak_ref<int> r(obj);
              keep(r);
            }
          }
        });
    } else {
      const std::shared_ptr<int> obj = std::make_shared<int>(1);
      const std::weak_ptr<int> w(obj);
      for (std::size_t i = 0; i < iterations; ++i)
        m([&] {
          for (std::size_t j = 0; j < n; ++j) {
            std::weak_ptr<int> copy(w);
            keep(copy);
            if (callback) {
              std::function<void()> f([&calls] { ++calls; });
              keep(f);
            }
          }
        });
    }
    sink = calls;
    return 0;
  }
  if (row == "lock_live") {
    long long live = 0;
    auto lock_loop = [&](const auto& r) {
      for (std::size_t i = 0; i < iterations; ++i)
        m([&] {
          for (std::size_t j = 0; j < n; ++j) {
            std::shared_ptr<int> p = r.lock();
            keep(p);
            live += p != nullptr;
          }
        });
    };
    if (ours) {
      const std::shared_ptr<int> obj = weakref::make_shared<int>(1);
      lock_loop(weakref::weak_ref<int>(obj));
    } else {
      const std::shared_ptr<int> obj = std::make_shared<int>(1);
      lock_loop(std::weak_ptr<int>(obj));
    }
    sink = live;
    return live == all ? 0 : fail("lock() of a live referent failed");
  }
  if (row == "factory_create_destroy") {
    for (std::size_t i = 0; i < iterations; ++i)
      m([&] {
        for (std::size_t j = 0; j < n; ++j) {
          std::shared_ptr<int> p = ours ? weakref::make_shared<int>(1) : std::make_shared<int>(1);
          keep(p);
        }
      });
    return 0;
  }
  if (row.starts_with("death_callbacks/k:") || row.starts_with("death_refs/k:") ||
      row == "death_finalize") {
    const bool finalizer = row == "death_finalize";
    const bool plain = row.starts_with("death_refs/"); // references without callback
    const std::size_t k = finalizer ? 1 : std::strtoul(row.data() + row.find(':') + 1, nullptr, 10);
    long long calls = 0;
    std::vector<std::shared_ptr<int>> objects(n);
    std::vector<weakref::weak_ref<int>> refs;
    std::vector<std::weak_ptr<int>> weak_ptrs;
    std::vector<std::function<void()>> callbacks;
    for (std::size_t i = 0; i < iterations; ++i) {
      refs.reserve(n * k);
      callbacks.reserve(n * k);
      weak_ptrs.reserve(n * k);
      for (auto& obj : objects) {
        if (plain) {
          obj = ours ? weakref::make_shared<int>(1) : std::make_shared<int>(1);
          for (std::size_t j = 0; j < k; ++j) {
            if (ours)
              refs.emplace_back(obj);
            else
              weak_ptrs.emplace_back(obj);
          }
        } else if (!ours) {
          obj = std::make_shared<int>(1);
          for (std::size_t j = 0; j < k; ++j) callbacks.emplace_back([&calls] { ++calls; });
        } else if (finalizer) {
          obj = weakref::make_shared<int>(1);
          weakref::finalize(obj, [&calls](int by) { calls += by; }, 1);
        } else {
          obj = weakref::make_shared<int>(1);
          for (std::size_t j = 0; j < k; ++j)
            refs.emplace_back(obj, [&calls](weakref::weak_ref<int>) { ++calls; });
        }
      }
      m([&] {
        for (std::size_t o = 0; o < n; ++o) {
          objects[o].reset();
          if (!ours && !plain)
            for (std::size_t j = 0; j < k; ++j) callbacks[o * k + j]();
        }
      });
      if (plain) { // every reference must have been cleared: count those that were not
        for (const auto& w : weak_ptrs) calls += w.expired() ? 0 : 1;
        for (const auto& r : refs) calls += r.expired() ? 0 : 1;
      }
      refs.clear();
      weak_ptrs.clear();
      callbacks.clear();
    }
    sink = calls;
    if (plain) return calls == 0 ? 0 : fail("a reference outlived its referent's death");
    return calls == all * static_cast<long long>(k) ? 0 : fail("not every callback ran");
  }
  if (row == "finalize_create_call") {
    long long calls = 0;
    const std::shared_ptr<int> obj = ours ? weakref::make_shared<int>(1) : std::make_shared<int>(1);
    const std::weak_ptr<int> w(obj);
    for (std::size_t i = 0; i < iterations; ++i)
      m([&] {
        for (std::size_t j = 0; j < n; ++j) {
          if (ours) {
            weakref::finalize f(obj, [&calls](int by) { calls += by; }, 1);
            f();
          } else {
            std::weak_ptr<int> copy(w);
            std::function<void()> callback([&calls] { calls += 1; });
            callback();
            keep(copy);
          }
        }
      });
    sink = calls;
    return calls == all ? 0 : fail("not every finalizer ran");
  }
  if (row == "referent_bytes") {
    const std::size_t before = wb::referent_live_bytes;
    const ptr p = ours ? weakref::allocate_shared<item>(wb::counting_allocator<item>(), 1)
                       : std::allocate_shared<item>(wb::counting_allocator<item>(), 1);
    m.value = static_cast<double>(wb::referent_live_bytes - before);
    return 0;
  }
  return 2;
}

// --------------------------------------------------------------------------------------- rows

struct row_info {
  std::string name;
  bool sized;        // a container row: run at each size
  bool bytes;        // its result is a size, not a time: --time only
  std::size_t sides; // ours, std[, flat]
  std::size_t batch; // the rows that are not containers: operations per region (--time)
  bool timed = true; // part of --time (lookup_miss: at one size only, see below)
};

std::vector<row_info> all_rows() {
  std::vector<row_info> rows;
  for (const std::string c : {"value_map", "key_map", "set"}) {
    const std::string lookup = c == "value_map" ? "_lookup_hit" : "_lookup";
    for (const std::string op : {"_insert", lookup.c_str(), "_lookup_hit_in_order", "_lookup_miss",
                                 "_erase", "_churn", "_iterate", "_copy", "_death", "_purge"}) {
      if (op == "_lookup_hit_in_order" && c != "value_map") continue;
      rows.push_back({c + op, true, false, 3, 0, op != "_copy"});
    }
  }
  for (const std::string c : {"value_map", "key_map", "set"})
    rows.push_back({"bytes_per_entry/" + c, true, true, 3, 0});
  for (const std::string r : {"ref_create_destroy", "ref_create_destroy_callback", "lock_live",
                              "factory_create_destroy", "finalize_create_call"})
    rows.push_back({r, false, false, 2, 1000});
  for (const std::string r :
       {"death_refs/k:1", "death_callbacks/k:1", "death_callbacks/k:16", "death_finalize"})
    rows.push_back({r, false, false, 2, 64});
  rows.push_back({"referent_bytes", false, true, 2, 1});
  return rows;
}

// callback_at_death: the derived row (see the header comment).
struct derived {
  const char* name;
  const char* minuend;
  const char* subtrahend;
  double divisor;
};
constexpr derived derived_rows[] = {
    {"callback_at_death", "death_callbacks/k:16", "death_callbacks/k:1", 15}};

int run(std::string_view row, std::string_view side, std::size_t n, meter& m) {
  if (side == "floor") {
    if (row == "bytes_per_entry/value_map") return floor_bytes_row<wb::value_map_std>(n, m);
    if (row == "bytes_per_entry/key_map") return floor_bytes_row<wb::key_map_std>(n, m);
    if (row == "bytes_per_entry/set") return floor_bytes_row<wb::set_std>(n, m);
    for (const std::string_view c : {"value_map", "key_map", "set"})
      if (row.size() > c.size() && row.starts_with(c) && row[c.size()] == '_')
        return floor_container_row(c, row.substr(c.size() + 1), n, m);
    return floor_ref_row(row, n, m);
  }
  for (const std::string_view c : {"value_map", "key_map", "set"}) {
    if (row.starts_with("bytes_per_entry/") && row.substr(16) == c) {
      if (c == "value_map")
        return container_side<value_map_ours, wb::value_map_std, wb::value_map_flat>(
            "bytes_per_entry", side, n, m);
      if (c == "key_map")
        return container_side<key_map_ours, wb::key_map_std, wb::key_map_flat>("bytes_per_entry",
                                                                               side, n, m);
      return container_side<set_ours, wb::set_std, wb::set_flat>("bytes_per_entry", side, n, m);
    }
    if (row.size() > c.size() && row.starts_with(c) && row[c.size()] == '_') {
      const std::string_view op = row.substr(c.size() + 1);
      if (c == "value_map")
        return container_side<value_map_ours, wb::value_map_std, wb::value_map_flat>(op, side, n,
                                                                                     m);
      if (c == "key_map")
        return container_side<key_map_ours, wb::key_map_std, wb::key_map_flat>(op, side, n, m);
      return container_side<set_ours, wb::set_std, wb::set_flat>(op, side, n, m);
    }
  }
  if (side != "ours" && side != "std") return 2;
  return ref_row(row, side == "ours", n, m);
}

// ---------------------------------------------------------------------------------- the tables

struct cell {
  std::vector<double> samples; // per operation, one per repetition
  std::optional<double> median() const {
    if (samples.empty()) return std::nullopt;
    std::vector<double> v = samples;
    std::sort(v.begin(), v.end());
    const std::size_t k = v.size();
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
  }
  std::optional<double> spread() const {
    if (samples.size() < 2) return std::nullopt;
    double mean = 0, var = 0;
    for (double x : samples) mean += x;
    mean /= static_cast<double>(samples.size());
    for (double x : samples) var += (x - mean) * (x - mean);
    var /= static_cast<double>(samples.size() - 1);
    return mean > 0 ? std::sqrt(var) / mean : std::optional<double>();
  }
};

std::string number(double x) {
  char s[32];
  std::snprintf(s, sizeof s, x < 100 ? "%.2f" : "%.1f", x);
  return s;
}

// A cell's text: its median (with " B" for a size), and its spread where it has one.
std::string cell_text(std::optional<double> value, std::optional<double> spread, bool bytes) {
  if (!value) return "-";
  std::string text = number(*value) + (bytes ? " B" : "");
  if (spread) {
    char p[16];
    std::snprintf(p, sizeof p, *spread < 0.1 ? " ±%.1f%%" : " ±%.0f%%", *spread * 100);
    text += p;
  }
  return text;
}

// A table of measured rows (name -> the three sides), in `order`, with the derived rows after
// their minuends. unit: "ns", "instr" or "" (sizes carry " B").
void print_table(std::ostream& out, const std::vector<std::string>& order,
                 const std::map<std::string, std::array<cell, wb::sides>>& rows,
                 const std::map<std::string, bool>& is_bytes, std::string_view unit,
                 bool instructions, bool markdown) {
  bool flat = false;
  for (const auto& [name, sides] : rows) flat = flat || !sides[2].samples.empty();
  const std::vector<wb::target> targets = wb::brief_targets();
  std::vector<std::vector<std::string>> lines;
  auto add = [&](const std::string& name, const std::optional<double>(&v)[wb::sides],
                 const std::optional<double>(&sp)[wb::sides], bool bytes) {
    std::string text[wb::sides];
    for (std::size_t s = 0; s < wb::sides; ++s) text[s] = cell_text(v[s], sp[s], bytes);
    lines.push_back(
        wb::ratio_cells(name, text, v, wb::find_target(targets, name), instructions, flat));
  };
  for (const std::string& name : order) {
    const auto it = rows.find(name);
    if (it == rows.end()) continue;
    std::optional<double> v[wb::sides], sp[wb::sides];
    for (std::size_t s = 0; s < wb::sides; ++s) {
      v[s] = it->second[s].median();
      sp[s] = it->second[s].spread();
    }
    add(name, v, sp, is_bytes.contains(name) && is_bytes.at(name));
    for (const derived& d : derived_rows) {
      if (name != d.minuend || !rows.contains(d.subtrahend)) continue;
      std::optional<double> dv[wb::sides], none[wb::sides];
      for (std::size_t s = 0; s < wb::sides; ++s) {
        const auto b = rows.at(d.subtrahend)[s].median();
        if (v[s] && b) dv[s] = (*v[s] - *b) / d.divisor;
      }
      add(d.name, dv, none, false);
    }
  }
  wb::print_grid(out, wb::ratio_head(unit, flat), lines, markdown);
}

std::string option(int argc, char** argv, std::string_view name, std::string fallback) {
  const std::string prefix = "--" + std::string(name) + "=";
  for (int i = 2; i < argc; ++i)
    if (std::string_view(argv[i]).starts_with(prefix)) return argv[i] + prefix.size();
  return fallback;
}

int write_md(const std::string& path, const std::string& title, const std::string& table,
             const std::string& footnote) {
  if (path.empty()) return 0;
  std::ofstream md(path);
  md << "### " << title << "\n\n" << table << "\n" << footnote << "\n";
  if (!md) return fail("cannot write the Markdown table");
  return 0;
}

// --tsv=PATH of --time: a line per row, "name<TAB>ours<TAB>std" (medians per operation, "-" for
// none), the format of the Google Benchmark programs' --ratio_tsv, which benchmarks/cpython.py
// reads.
int write_tsv(const std::string& path, const std::vector<std::string>& order,
              const std::map<std::string, std::array<cell, wb::sides>>& rows) {
  if (path.empty()) return 0;
  std::ofstream tsv(path);
  for (const std::string& name : order) {
    const auto it = rows.find(name);
    if (it == rows.end()) continue;
    tsv << name;
    for (std::size_t s = 0; s < 2; ++s) { // wb::side_names: ours, std
      const std::optional<double> v = it->second[s].median();
      tsv << '\t';
      if (v)
        tsv << *v;
      else
        tsv << '-';
    }
    tsv << '\n';
  }
  if (!tsv) return fail("cannot write the TSV file");
  return 0;
}

// The "row side count" lines of scripts/instructions (stdin), per operation of a run of n, by
// side (the index of the side's name in `sides`).
template <std::size_t K>
std::map<std::string, std::array<cell, K>> read_counts(double n, const char* const (&sides)[K]) {
  std::map<std::string, std::array<cell, K>> rows;
  std::string name, side;
  double count = 0;
  while (std::cin >> name >> side >> count)
    for (std::size_t s = 0; s < K; ++s)
      if (side == sides[s]) rows[name][s].samples.push_back(count / n);
  return rows;
}

// --sizes (the container rows' entries), for --time and --floors.
std::vector<std::size_t> sizes_option(int argc, char** argv) {
  std::vector<std::size_t> sizes;
  std::istringstream list(option(argc, argv, "sizes", "1000,100000,1000000"));
  for (std::string size; std::getline(list, size, ',');)
    sizes.push_back(static_cast<std::size_t>(std::strtoull(size.c_str(), nullptr, 10)));
  return sizes;
}

// One timed run of a row's side (--time, --floors): its result per operation (a size row's
// bytes, else nanoseconds), or the run's failure status.
struct timed_result {
  int status = 0;
  double per_op = 0;
};
timed_result timed_run(const std::string& name, std::string_view row, const char* side,
                       std::size_t n, std::size_t iterations, std::chrono::nanoseconds overhead) {
  meter m;
  m.timed = true;
  m.iterations = iterations;
  m.overhead = overhead;
  if (const int status = run(row, side, n, m); status != 0) {
    std::fprintf(stderr, "weakref.instructions: %s %s failed (%d)\n", name.c_str(), side, status);
    return {status};
  }
  return {0, m.value ? *m.value
                     : static_cast<double>(m.total.count()) / static_cast<double>(iterations * n)};
}

// --list: what scripts/instructions runs under callgrind.
int list_rows() {
  for (const row_info& r : all_rows()) {
    if (r.bytes) continue;
    std::printf("%s", r.name.c_str());
    for (std::size_t s = 0; s < r.sides; ++s) std::printf(" %s", wb::side_names[s]);
    std::printf("\n");
  }
  return 0;
}

// --table: the instruction counts of scripts/instructions, per operation.
int instruction_table(int argc, char** argv) {
  const double n = std::strtod(option(argc, argv, "n", "10000").c_str(), nullptr);
  const auto rows = read_counts(n, wb::side_names);
  std::vector<std::string> order;
  for (const row_info& r : all_rows()) order.push_back(r.name);
  std::ostringstream table;
  print_table(table, order, rows, {}, "instr", true, true);
  const std::string title = option(
      argc, argv, "title", wb::standard_library() + ": instructions per operation (callgrind)");
  const std::string footnote =
      "Instructions per operation (entry, create, lock, call or death), counted by valgrind's "
      "callgrind around each row's work only (scripts/instructions; n = " +
      option(argc, argv, "n", "10000") +
      " per run; exactly repeatable, blind to cache misses). ours/std, ours/flat: instruction "
      "ratios; targets: benchmarks/common.hpp, the instruction target where one is set "
      "(ref_create_destroy: 3 x), else the time target. callback_at_death = (death_callbacks/k:16 "
      "- death_callbacks/k:1) / 15.";
  std::cout << table.str() << "\n" << footnote << "\n";
  return write_md(option(argc, argv, "md", ""), title, table.str(), footnote);
}

// --time: the timing table (the libc++ build's, in scripts/bench).
int time_table(int argc, char** argv) {
  const std::vector<std::size_t> sizes = sizes_option(argc, argv);
  const int repetitions = std::atoi(option(argc, argv, "repetitions", "5").c_str());
  const auto ops = static_cast<std::size_t>(
      std::strtoull(option(argc, argv, "ops", "1000000").c_str(), nullptr, 10));
  const std::string filter = option(argc, argv, "filter", "");
  const std::size_t miss_size = std::min<std::size_t>(100'000, sizes.empty() ? 0 : sizes.back());

  struct job {
    std::string name; // as in the table: the row, and /n:<size> for a container row
    std::string row;
    std::size_t side, n, iterations;
    bool bytes;
  };
  std::vector<job> jobs;
  std::vector<std::string> order;
  std::map<std::string, bool> is_bytes;
  for (const row_info& r : all_rows()) {
    if (!r.timed || (!filter.empty() && r.name.find(filter) == std::string::npos)) continue;
    std::vector<std::pair<std::string, std::size_t>> at; // name, n
    if (!r.sized) {
      at.emplace_back(r.name, r.batch);
    } else {
      for (const std::size_t n : sizes) {
        const bool miss = r.name.ends_with("_lookup_miss");
        if ((miss && n != miss_size) || (r.bytes && n > 1'000'000)) continue;
        at.emplace_back(r.name + "/n:" + std::to_string(n), n);
      }
    }
    for (const auto& [name, n] : at) {
      order.push_back(name);
      is_bytes[name] = r.bytes;
      const std::size_t iterations = r.bytes ? 1 : std::max<std::size_t>(1, ops / n);
      for (std::size_t s = 0; s < r.sides; ++s)
        jobs.push_back({name, r.name, s, n, iterations, r.bytes});
    }
  }
  if (jobs.empty()) return fail("no row matched");

  // Every repetition of every job, interleaved at random (sizes once: they do not vary).
  std::vector<const job*> schedule;
  for (int rep = 0; rep < repetitions; ++rep)
    for (const job& j : jobs)
      if (rep == 0 || !j.bytes) schedule.push_back(&j);
  std::shuffle(schedule.begin(), schedule.end(), std::mt19937(20240611));

  const auto overhead = clock_overhead();
  std::map<std::string, std::array<cell, wb::sides>> rows;
  std::size_t done = 0;
  for (const job* j : schedule) {
    const timed_result r =
        timed_run(j->name, j->row, wb::side_names[j->side], j->n, j->iterations, overhead);
    if (r.status != 0) return r.status;
    rows[j->name][j->side].samples.push_back(r.per_op);
    if (++done % 50 == 0) std::fprintf(stderr, "  %zu of %zu runs\n", done, schedule.size());
  }

  std::ostringstream table;
  print_table(table, order, rows, is_bytes, "ns", false, true);
  const std::string title =
      option(argc, argv, "title",
             wb::standard_library() + ": times, our own harness (weakref.instructions --time)");
  const std::string footnote =
      "Our own harness (benchmarks/instructions.cpp --time, no Google Benchmark): the rows of "
      "weakref.bench.containers and weakref.bench.ref, CPU time of the thread around each "
      "measured region less the clock's own cost, per operation; median of " +
      std::to_string(repetitions) + " repetitions interleaved at random, ± stddev / mean; ~" +
      std::to_string(ops) +
      " operations per run (batches of 1000 operations, or of 64 deaths, for the rows that are "
      "not containers). Targets: benchmarks/common.hpp, checked against each baseline. "
      "callback_at_death = (death_callbacks/k:16 - death_callbacks/k:1) / 15.";
  std::cout << "\n" << title << "\n" << table.str() << "\n" << footnote << "\n";
  if (const int status = write_tsv(option(argc, argv, "tsv", ""), order, rows); status != 0)
    return status;
  return write_md(option(argc, argv, "md", ""), title, table.str(), footnote);
}

// --------------------------------------------------------------------------- the floors' tables

// The rows that have a floor (see "the floors" above), and the sides of their table.
struct floor_row {
  const char* name;
  bool sized;         // a container row: run at each size
  std::size_t batch;  // the other rows: operations per region (--floors)
  bool bytes = false; // its result is a size, not a time: --floors only, run once
};
constexpr floor_row floor_rows[] = {{"ref_create_destroy", false, 1000},
                                    {"factory_create_destroy", false, 1000},
                                    {"value_map_insert", true, 0},
                                    {"value_map_lookup_hit", true, 0},
                                    {"value_map_lookup_hit_in_order", true, 0},
                                    {"value_map_erase", true, 0},
                                    {"value_map_iterate", true, 0},
                                    {"value_map_death", true, 0},
                                    {"value_map_purge", true, 0},
                                    {"key_map_insert", true, 0},
                                    {"key_map_lookup", true, 0},
                                    {"key_map_erase", true, 0},
                                    {"key_map_iterate", true, 0},
                                    {"key_map_death", true, 0},
                                    {"key_map_purge", true, 0},
                                    {"set_insert", true, 0},
                                    {"set_lookup", true, 0},
                                    {"set_erase", true, 0},
                                    {"set_iterate", true, 0},
                                    {"set_death", true, 0},
                                    {"set_purge", true, 0},
                                    {"death_callbacks/k:1", false, 64},
                                    {"death_callbacks/k:16", false, 64},
                                    {"finalize_create_call", false, 1000},
                                    {"death_finalize", false, 64},
                                    {"bytes_per_entry/value_map", true, 0, true},
                                    {"bytes_per_entry/key_map", true, 0, true},
                                    {"bytes_per_entry/set", true, 0, true}};
constexpr std::size_t floor_side_count = 3;
constexpr const char* floor_sides[floor_side_count] = {"std", "floor", "ours"};

// The floors' table: each row's baseline, floor and ours, the ratios, and whether the floor and
// ours meet the row's target (against the baseline).
void print_floor_table(std::ostream& out, const std::vector<std::string>& order,
                       const std::map<std::string, std::array<cell, floor_side_count>>& rows,
                       const std::map<std::string, bool>& is_bytes, std::string_view unit,
                       bool instructions) {
  using values = std::array<std::optional<double>, floor_side_count>;
  const std::vector<wb::target> targets = wb::brief_targets();
  std::vector<std::vector<std::string>> lines;
  auto add = [&](const std::string& name, const values& v,
                 const std::array<std::string, floor_side_count>& text) {
    auto ratio = [&](std::size_t a, std::size_t b) -> std::string {
      if (!v[a] || !v[b] || *v[b] <= 0) return "-";
      char r[32];
      std::snprintf(r, sizeof r, "%.2f", *v[a] / *v[b]);
      return r;
    };
    const wb::target* t = wb::find_target(targets, name);
    auto met = [&](std::size_t a) -> std::string {
      if (!t || !v[a] || !v[0] || *v[0] <= 0) return "-";
      return wb::target_met(*t, instructions, *v[a], *v[0]) ? "yes" : "NO";
    };
    lines.push_back({name, text[0], text[1], text[2], ratio(1, 0), ratio(2, 0), ratio(2, 1),
                     t ? wb::target_text(*t, instructions) : "-", met(1), met(2)});
  };
  for (const std::string& name : order) {
    const auto it = rows.find(name);
    if (it == rows.end()) continue;
    values v;
    std::array<std::string, floor_side_count> text;
    const bool bytes = is_bytes.contains(name) && is_bytes.at(name);
    for (std::size_t s = 0; s < floor_side_count; ++s) {
      v[s] = it->second[s].median();
      text[s] = cell_text(v[s], it->second[s].spread(), bytes);
    }
    add(name, v, text);
  }
  // callback_at_death, derived as in the other tables.
  for (const derived& d : derived_rows) {
    if (!rows.contains(d.minuend) || !rows.contains(d.subtrahend)) continue;
    values v;
    std::array<std::string, floor_side_count> text;
    for (std::size_t s = 0; s < floor_side_count; ++s) {
      const auto a = rows.at(d.minuend)[s].median();
      const auto b = rows.at(d.subtrahend)[s].median();
      if (a && b) v[s] = (*a - *b) / d.divisor;
      text[s] = cell_text(v[s], std::nullopt, false);
    }
    add(d.name, v, text);
  }
  const std::string u(unit);
  wb::print_grid(out,
                 {"operation", "std " + u, "floor " + u, "ours " + u, "floor/std", "ours/std",
                  "ours/floor", "target", "met (floor)", "met (ours)"},
                 lines, true);
}

const std::string floor_footnote =
    "floor: the std baseline's code plus only the atomic read-modify-writes that ours's "
    "guarantees require, each as cheap as it can be (for factory_create_destroy, no atomic: the "
    "control block that std::get_deleter finds, and the header; benchmarks/instructions.cpp, "
    "\"the floors\"; MAINTAINERS.md, Performance). Where the floor misses a target, no code with "
    "these guarantees and the baseline's structure meets it; ours/floor is what ours spends "
    "beyond them (below 1 where ours's structure is better: the identity-keyed purge).";

// --list-floors: what scripts/instructions --floors runs under callgrind.
int list_floors() {
  for (const floor_row& r : floor_rows)
    if (!r.bytes) std::printf("%s std floor ours\n", r.name);
  return 0;
}

// --floors-table: the instruction counts of scripts/instructions --floors, per operation.
int floor_instruction_table(int argc, char** argv) {
  const double n = std::strtod(option(argc, argv, "n", "10000").c_str(), nullptr);
  const auto rows = read_counts(n, floor_sides);
  std::vector<std::string> order;
  for (const floor_row& r : floor_rows) order.push_back(r.name);
  std::ostringstream table;
  print_floor_table(table, order, rows, {}, "instr", true);
  const std::string title = option(
      argc, argv, "title", wb::standard_library() + ": the floors, instructions (callgrind)");
  const std::string footnote = "Instructions per operation (scripts/instructions --floors; n = " +
                               option(argc, argv, "n", "10000") + " per run). " + floor_footnote;
  std::cout << table.str() << "\n" << footnote << "\n";
  return write_md(option(argc, argv, "md", ""), title, table.str(), footnote);
}

// --floors: the floors' times, each row's three sides interleaved at random.
int floor_time_table(int argc, char** argv) {
  const std::vector<std::size_t> sizes = sizes_option(argc, argv);
  const int repetitions = std::atoi(option(argc, argv, "repetitions", "5").c_str());
  const auto ops = static_cast<std::size_t>(
      std::strtoull(option(argc, argv, "ops", "1000000").c_str(), nullptr, 10));
  struct job {
    std::string name, row;
    std::size_t side, n, iterations;
    bool bytes;
  };
  const std::string filter = option(argc, argv, "filter", "");
  std::vector<job> jobs;
  std::vector<std::string> order;
  std::map<std::string, bool> is_bytes;
  for (const floor_row& r : floor_rows) {
    if (!filter.empty() && std::string_view(r.name).find(filter) == std::string_view::npos)
      continue;
    std::vector<std::pair<std::string, std::size_t>> at; // name, n
    if (r.sized)
      for (const std::size_t n : sizes) at.emplace_back(r.name + ("/n:" + std::to_string(n)), n);
    else
      at.emplace_back(r.name, r.batch);
    for (const auto& [name, n] : at) {
      order.push_back(name);
      is_bytes[name] = r.bytes;
      const std::size_t iterations = r.bytes ? 1 : std::max<std::size_t>(1, ops / n);
      for (std::size_t s = 0; s < floor_side_count; ++s)
        jobs.push_back({name, r.name, s, n, iterations, r.bytes});
    }
  }
  // Sizes once: they do not vary.
  std::vector<const job*> schedule;
  for (int rep = 0; rep < repetitions; ++rep)
    for (const job& j : jobs)
      if (rep == 0 || !j.bytes) schedule.push_back(&j);
  std::shuffle(schedule.begin(), schedule.end(), std::mt19937(20240611));

  const auto overhead = clock_overhead();
  std::map<std::string, std::array<cell, floor_side_count>> rows;
  for (const job* j : schedule) {
    const timed_result r =
        timed_run(j->name, j->row, floor_sides[j->side], j->n, j->iterations, overhead);
    if (r.status != 0) return r.status;
    rows[j->name][j->side].samples.push_back(r.per_op);
  }
  std::ostringstream table;
  print_floor_table(table, order, rows, is_bytes, "ns", false);
  const std::string title =
      option(argc, argv, "title",
             wb::standard_library() + ": the floors, times (weakref.instructions --floors)");
  const std::string footnote =
      "CPU time per operation, as weakref.instructions --time; median of " +
      std::to_string(repetitions) +
      " repetitions interleaved at random; cells in B: bytes "
      "requested per live entry, as in the --time table (the floor: the baseline's node and a "
      "registration's two pointers). " +
      floor_footnote;
  std::cout << "\n" << title << "\n" << table.str() << "\n" << footnote << "\n";
  return write_md(option(argc, argv, "md", ""), title, table.str(), footnote);
}

} // namespace

int main(int argc, char** argv) {
  // Freed memory stays in the process, as in containers.cpp.
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  // libstdc++ counts shared_ptr owners atomically once a thread has been started (see
  // ratio_reporter.hpp): the state of the Google Benchmark programs, and of any program that
  // uses weak references across threads.
  std::thread([] {}).join();

  const std::string_view mode = argc > 1 ? argv[1] : "";
  if (mode == "--list") return list_rows();
  if (mode == "--table") return instruction_table(argc, argv);
  if (mode == "--time") return time_table(argc, argv);
  if (mode == "--list-floors") return list_floors();
  if (mode == "--floors-table") return floor_instruction_table(argc, argv);
  if (mode == "--floors") return floor_time_table(argc, argv);
  if (argc < 3 || mode.starts_with("--")) {
    std::fputs("usage: weakref.instructions <row> <ours|std|flat|floor> [n] | --list | --table "
               "[--n=N] [--md=PATH] | --time [--sizes=...] [--repetitions=R] [--ops=N] "
               "[--filter=TEXT] [--md=PATH] [--tsv=PATH] | --list-floors | --floors-table [--n=N] "
               "[--md=PATH] | --floors [--sizes=...] [--repetitions=R] [--ops=N] [--filter=TEXT] "
               "[--md=PATH]\n",
               stderr);
    return 2;
  }
  const std::size_t n = argc > 3 ? static_cast<std::size_t>(std::atol(argv[3])) : 10000;
  meter m;
  const int status = run(mode, argv[2], n, m);
  if (status == 2)
    std::fprintf(stderr, "weakref.instructions: no row %s on side %s\n", argv[1], argv[2]);
  return status;
}
