// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Weak container benchmarks: each operation of weak_value_map, weak_key_map and weak_set
// (ours/<op>) against what a program without the library writes (std/<op>), measured in the same
// process; ratio_reporter.hpp prints ours / baseline against the brief's targets.
//
// The baselines:
//   weak_value_map<int, item>                vs unordered_map<int, weak_ptr<item>>
//   weak_key_map<item, int, identity policy> vs unordered_map<const item*, pair<weak_ptr<item>, int>>
//   weak_set<item, identity policy>          vs unordered_map<const item*, weak_ptr<item>>
// (the std maps keyed by owner identity hold a weak_ptr next to the address: it is what tells a
// live entry from a dead one whose address may be reused).
//
// The rows (n: entries in the container; times are per entry, i.e. per operation):
//   value_map_insert/n        insert_or_assign(k, p) into an empty map (growth included)
//                             vs insert_or_assign(k, weak_ptr(p))
//   value_map_lookup_hit/n    get(k), the value pinned  vs  find(k) + weak_ptr::lock()
//   value_map_lookup_miss/n   get(k) of an absent key   vs  find(k)
//   value_map_erase/n         erase(k) of every key     vs  erase(k)
//   value_map_iterate/n       visit every (k, v), v pinned  vs  visit every (k, w) + w.lock()
//   key_map_, set_lookup_miss/n, _erase/n, _iterate/n: the same, with a live referent that is
//                             not in the container, erase(*p), and every key pinned (std: lock())
//   value_map_purge/n         mass death: release every owner, then purge() (what the next
//                             non-const operation does first)  vs  release every owner, then
//                             std::erase_if(m, expired)
//   key_map_insert/n          try_emplace(p, k)         vs  try_emplace(p.get(), p, k)
//   key_map_lookup/n          get(*p) (value by copy)   vs  find(p.get()) + !expired()
//   key_map_purge/n           as value_map_purge
//   set_insert/n              insert(p)                 vs  try_emplace(p.get(), p)
//   set_lookup/n              contains(*p)              vs  find(p.get()) + !expired()
//   set_purge/n               as value_map_purge
//   bytes_per_entry/<c>/n     bytes a container holds per live entry, counted by a
//                             std::pmr::memory_resource given to both sides (weakref::pmr::
//                             containers vs std::pmr::unordered_map): entries, buckets and the
//                             table's own blocks, as requested from the resource (no malloc
//                             overhead). The same run checks "zero dead entries left behind":
//                             after every owner is released and the container purged, size() is
//                             0 and the resource holds exactly what an empty table with the
//                             same bucket count holds; otherwise the row is an error.
//   referent_bytes            bytes of one referent (struct item { int x; }) as allocated by
//                             weakref::allocate_shared vs std::allocate_shared (information: the
//                             factory's price, not a container's)
//
// Lookups with the key in hand: the caller of a key_map/set lookup owns the key object (it passes
// *p), so neither side needs to lock it to know it is alive; ours locks internally because
// table.find pins every candidate before matching. Lookups go through the keys in a fixed random
// order (not insertion order, which would walk both tables' nodes in allocation order).
//
// Referents: ours are made by weakref::make_shared (only those are weakly referenceable), the
// baseline's by std::make_shared, which is what a program without the library uses. The
// referent's size and layout (control block, weak list header, object in one chunk) is part of
// the price a user of the library pays, so the timed rows include its effect on the caches; it
// is shown on its own by referent_bytes and by weakref.bench.ref's factory_create_destroy.
// Creating referents is never timed, except where it is the operation (nowhere here).
//
// Memory: freed memory stays in the process (mallopt in main: no trimming of the heap's top, and
// blocks below 32 MiB come from the heap, not from fresh mappings), and every insert row fills and
// destroys one untimed container before its timed runs. Otherwise a row paid the kernel's
// first-touch page faults for whatever memory the benchmark run before it had returned: std's
// value_map_insert at 1 M took 23 ns per entry after other rows and 61 ns alone. What memory
// costs is shown by bytes_per_entry; the timed rows measure the containers on a warm heap.
//
// Timing: rows whose operation needs fresh state per batch (insert, erase, purge) use manual
// time around the batch only; setup (making referents, filling the map) and teardown are not
// timed. Each run performs a fixed number of operations (about 1 M: 1000 iterations of 1 K,
// 10 of 100 K, 1 of 1 M and of 10 M) instead of running for --benchmark_min_time, which keeps
// scripts/bench within minutes; the 10 M rows run one repetition (a single run of 10 M
// operations) instead of the command line's. --max_entries=N (this program's own flag) skips
// the rows with more than N entries: the CTest smoke test stops at 100 000.
//
// Memory at 10 M entries (checked by bytes_per_entry and referent_bytes at 1 M): an entry of ours
// is 104 B requested (a 112 B malloc chunk) + 8-16 B of buckets, a referent 96 B (112 B), an
// owner 16 B: ~2.5 GiB for the largest run of ours; the baseline's ~1 GiB. The machine has 24 GiB.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <memory_resource>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ratio_reporter.hpp"

import weakref;

namespace {

// The referent: small, so that the containers' own costs dominate.
struct item {
  explicit item(int v) noexcept : x(v) {}
  int x;
};
using ptr = std::shared_ptr<item>;

using bench_clock = weakref_bench::thread_cpu_clock; // CPU time of this thread

// ------------------------------------------------------------------------------ counting memory

// Counts what a container requests from it (bytes and blocks outstanding); one thread only.
class counting_resource final : public std::pmr::memory_resource {
public:
  std::size_t live_bytes() const noexcept { return bytes_; }
  std::size_t live_blocks() const noexcept { return blocks_; }

private:
  void* do_allocate(std::size_t bytes, std::size_t align) override {
    void* p = std::pmr::new_delete_resource()->allocate(bytes, align);
    bytes_ += bytes;
    ++blocks_;
    return p;
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t align) override {
    std::pmr::new_delete_resource()->deallocate(p, bytes, align);
    bytes_ -= bytes;
    --blocks_;
  }
  bool do_is_equal(const std::pmr::memory_resource& other) const noexcept override {
    return this == &other;
  }

  std::size_t bytes_ = 0;
  std::size_t blocks_ = 0;
};

// A stateless allocator counting into globals: lets weakref::allocate_shared and
// std::allocate_shared lay out the referent exactly as make_shared does (an empty allocator).
inline std::size_t referent_live_bytes = 0;
template <class T>
struct counting_allocator {
  using value_type = T;
  counting_allocator() = default;
  template <class U>
  counting_allocator(const counting_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    referent_live_bytes += n * sizeof(T);
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    referent_live_bytes -= n * sizeof(T);
    std::allocator<T>().deallocate(p, n);
  }
  friend bool operator==(const counting_allocator&, const counting_allocator&) = default;
};

// ------------------------------------------------------------------------------------ adaptors

// One adaptor per (container, side): the map types and the operation under test, so that every
// benchmark body below is shared by ours and std.
struct ours_side {
  static ptr make(int i) { return weakref::make_shared<item>(i); }
  template <class Map>
  static void purge(Map& m) {
    m.purge();
  }
};
struct std_side {
  static ptr make(int i) { return std::make_shared<item>(i); }
  template <class Map>
  static void purge(Map& m) {
    std::erase_if(m, [](const auto& kv) {
      if constexpr (requires { kv.second.expired(); })
        return kv.second.expired();
      else
        return kv.second.first.expired();
    });
  }
};

using identity_hash = weakref::identity_hash<item>;
using identity_equal = weakref::identity_equal<item>;

struct value_map_ours : ours_side {
  using map_type = weakref::weak_value_map<int, item>;
  using pmr_map_type = weakref::pmr::weak_value_map<int, item>;
  template <class Map>
  static void insert(Map& m, int k, const ptr& p) {
    m.insert_or_assign(k, p);
  }
  static int lookup(const map_type& m, int k, const ptr&) {
    const ptr v = m.get(k);
    return v ? v->x : -1;
  }
  static bool absent(const map_type& m, int k, const ptr&) { return m.get(k) == nullptr; }
  static std::size_t erase(map_type& m, int k, const ptr&) { return m.erase(k); }
  static std::int64_t iterate(map_type& m) {
    std::int64_t sum = 0;
    for (const auto& [k, v] : m) sum += v->x;
    return sum;
  }
};
struct value_map_std : std_side {
  using map_type = std::unordered_map<int, std::weak_ptr<item>>;
  using pmr_map_type = std::pmr::unordered_map<int, std::weak_ptr<item>>;
  template <class Map>
  static void insert(Map& m, int k, const ptr& p) {
    m.insert_or_assign(k, std::weak_ptr<item>(p));
  }
  static int lookup(const map_type& m, int k, const ptr&) {
    const auto it = m.find(k);
    if (it == m.end()) return -1;
    const ptr v = it->second.lock();
    return v ? v->x : -1;
  }
  static bool absent(const map_type& m, int k, const ptr&) { return m.find(k) == m.end(); }
  static std::size_t erase(map_type& m, int k, const ptr&) { return m.erase(k); }
  static std::int64_t iterate(map_type& m) {
    std::int64_t sum = 0;
    for (const auto& [k, w] : m)
      if (const ptr v = w.lock()) sum += v->x;
    return sum;
  }
};

struct key_map_ours : ours_side {
  using map_type = weakref::weak_key_map<item, int, identity_hash, identity_equal>;
  using pmr_map_type = weakref::pmr::weak_key_map<item, int, identity_hash, identity_equal>;
  template <class Map>
  static void insert(Map& m, int k, const ptr& p) {
    m.try_emplace(p, k);
  }
  static int lookup(const map_type& m, int, const ptr& p) {
    const std::optional<int> v = m.get(*p);
    return v ? *v : -1;
  }
  static bool absent(const map_type& m, int, const ptr& p) { return !m.get(*p).has_value(); }
  static std::size_t erase(map_type& m, int, const ptr& p) { return m.erase(*p); }
  static std::int64_t iterate(map_type& m) {
    std::int64_t sum = 0;
    for (const auto& kv : m) sum += kv.second; // the key is pinned by the iterator
    return sum;
  }
};
struct key_map_std : std_side {
  using map_type = std::unordered_map<const item*, std::pair<std::weak_ptr<item>, int>>;
  using pmr_map_type = std::pmr::unordered_map<const item*, std::pair<std::weak_ptr<item>, int>>;
  template <class Map>
  static void insert(Map& m, int k, const ptr& p) {
    m.try_emplace(p.get(), p, k);
  }
  static int lookup(const map_type& m, int, const ptr& p) {
    const auto it = m.find(p.get());
    return it != m.end() && !it->second.first.expired() ? it->second.second : -1;
  }
  static bool absent(const map_type& m, int, const ptr& p) { return m.find(p.get()) == m.end(); }
  static std::size_t erase(map_type& m, int, const ptr& p) { return m.erase(p.get()); }
  static std::int64_t iterate(map_type& m) {
    std::int64_t sum = 0;
    for (const auto& [address, entry] : m)
      if (const ptr k = entry.first.lock()) sum += entry.second;
    return sum;
  }
};

struct set_ours : ours_side {
  using map_type = weakref::weak_set<item, identity_hash, identity_equal>;
  using pmr_map_type = weakref::pmr::weak_set<item, identity_hash, identity_equal>;
  template <class Map>
  static void insert(Map& m, int, const ptr& p) {
    m.insert(p);
  }
  static int lookup(const map_type& m, int, const ptr& p) { return m.contains(*p) ? 0 : -1; }
  static bool absent(const map_type& m, int, const ptr& p) { return !m.contains(*p); }
  static std::size_t erase(map_type& m, int, const ptr& p) { return m.erase(*p); }
  static std::int64_t iterate(map_type& m) {
    std::int64_t sum = 0;
    for (const ptr& k : m) sum += k->x;
    return sum;
  }
};
struct set_std : std_side {
  using map_type = std::unordered_map<const item*, std::weak_ptr<item>>;
  using pmr_map_type = std::pmr::unordered_map<const item*, std::weak_ptr<item>>;
  template <class Map>
  static void insert(Map& m, int, const ptr& p) {
    m.try_emplace(p.get(), p);
  }
  static int lookup(const map_type& m, int, const ptr& p) {
    const auto it = m.find(p.get());
    return it != m.end() && !it->second.expired() ? 0 : -1;
  }
  static bool absent(const map_type& m, int, const ptr& p) { return m.find(p.get()) == m.end(); }
  static std::size_t erase(map_type& m, int, const ptr& p) { return m.erase(p.get()); }
  static std::int64_t iterate(map_type& m) {
    std::int64_t sum = 0;
    for (const auto& [address, w] : m)
      if (const ptr k = w.lock()) sum += k->x;
    return sum;
  }
};

// -------------------------------------------------------------------------------------- helpers

std::size_t entries(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

template <class A>
std::vector<ptr> make_owners(std::size_t n) {
  std::vector<ptr> owners;
  owners.reserve(n);
  for (std::size_t i = 0; i < n; ++i) owners.push_back(A::make(static_cast<int>(i)));
  return owners;
}

template <class A, class Map>
void fill(Map& m, const std::vector<ptr>& owners) {
  for (std::size_t i = 0; i < owners.size(); ++i) A::insert(m, static_cast<int>(i), owners[i]);
}

// The keys 0..n-1 in a fixed random order (the same for both sides).
std::vector<int> shuffled_keys(std::size_t n) {
  std::vector<int> keys(n);
  std::iota(keys.begin(), keys.end(), 0);
  std::mt19937_64 random(20240611);
  std::shuffle(keys.begin(), keys.end(), random);
  return keys;
}

void per_entry(benchmark::State& state) {
  const auto n = static_cast<std::int64_t>(entries(state));
  state.counters[weakref_bench::ops_per_iteration] = static_cast<double>(n);
  state.SetItemsProcessed(state.iterations() * n);
}

double seconds(bench_clock::time_point t0, bench_clock::time_point t1) {
  return std::chrono::duration<double>(t1 - t0).count();
}

// ----------------------------------------------------------------------------------- benchmarks

// n inserts into an empty container (its growth included); the container's destruction is not
// timed.
template <class A>
void bench_insert(benchmark::State& state) {
  const std::size_t n = entries(state);
  const std::vector<ptr> owners = make_owners<A>(n);
  {
    typename A::map_type warm_up; // see "Memory" in the header comment
    fill<A>(warm_up, owners);
  }
  for (auto _ : state) {
    std::optional<typename A::map_type> m(std::in_place);
    const auto t0 = bench_clock::now();
    fill<A>(*m, owners);
    const auto t1 = bench_clock::now();
    if (m->size() != n) {
      state.SkipWithError("an insert was lost");
      break;
    }
    m.reset();
    state.SetIterationTime(seconds(t0, t1));
  }
  per_entry(state);
}

// n lookups of present keys, in random order; every one must hit.
template <class A>
void bench_lookup(benchmark::State& state) {
  const std::size_t n = entries(state);
  const std::vector<ptr> owners = make_owners<A>(n);
  typename A::map_type m;
  fill<A>(m, owners);
  const std::vector<int> keys = shuffled_keys(n);
  std::int64_t hits = 0;
  for (auto _ : state) {
    for (const int k : keys) {
      const int v = A::lookup(m, k, owners[static_cast<std::size_t>(k)]);
      benchmark::DoNotOptimize(v);
      hits += v >= 0;
    }
  }
  if (hits != state.iterations() * static_cast<std::int64_t>(n))
    state.SkipWithError("a lookup missed a live entry");
  per_entry(state);
}

// n lookups of absent keys (n..2n-1, or n live referents that are not in the container), in
// random order, in a container of n entries.
template <class A>
void bench_lookup_miss(benchmark::State& state) {
  const std::size_t n = entries(state);
  const std::vector<ptr> owners = make_owners<A>(n);
  const std::vector<ptr> strangers = make_owners<A>(n);
  typename A::map_type m;
  fill<A>(m, owners);
  const std::vector<int> keys = shuffled_keys(n);
  const int offset = static_cast<int>(n);
  std::int64_t misses = 0;
  for (auto _ : state)
    for (const int k : keys)
      misses += A::absent(m, k + offset, strangers[static_cast<std::size_t>(k)]);
  if (misses != state.iterations() * static_cast<std::int64_t>(n))
    state.SkipWithError("a lookup of an absent key hit");
  per_entry(state);
}

// Erases n keys in random order from a map of n entries (filled untimed).
template <class A>
void bench_erase(benchmark::State& state) {
  const std::size_t n = entries(state);
  const std::vector<ptr> owners = make_owners<A>(n);
  const std::vector<int> keys = shuffled_keys(n);
  typename A::map_type m;
  std::size_t erased = 0;
  for (auto _ : state) {
    fill<A>(m, owners);
    const auto t0 = bench_clock::now();
    for (const int k : keys) erased += A::erase(m, k, owners[static_cast<std::size_t>(k)]);
    const auto t1 = bench_clock::now();
    if (!m.empty()) {
      state.SkipWithError("erase left entries behind");
      break;
    }
    state.SetIterationTime(seconds(t0, t1));
  }
  benchmark::DoNotOptimize(erased);
  per_entry(state);
}

// Visits the n live entries, each value pinned (ours: by the iterator; std: lock()).
template <class A>
void bench_iterate(benchmark::State& state) {
  const std::size_t n = entries(state);
  const std::vector<ptr> owners = make_owners<A>(n);
  typename A::map_type m;
  fill<A>(m, owners);
  const auto expected = static_cast<std::int64_t>(n) * (static_cast<std::int64_t>(n) - 1) / 2;
  for (auto _ : state) {
    const std::int64_t sum = A::iterate(m);
    if (sum != expected) {
      state.SkipWithError("iteration missed a live entry");
      break;
    }
  }
  per_entry(state);
}

// Mass death: every referent of a full container loses its last owner, then the container
// drops the dead entries. Both are timed; making the referents and filling the map are not.
template <class A>
void bench_purge(benchmark::State& state) {
  const std::size_t n = entries(state);
  typename A::map_type m;
  std::vector<ptr> owners;
  owners.reserve(n);
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) owners.push_back(A::make(static_cast<int>(i)));
    fill<A>(m, owners);
    const auto t0 = bench_clock::now();
    owners.clear();
    A::purge(m);
    const auto t1 = bench_clock::now();
    if (m.size() != 0) {
      state.SkipWithError("dead entries left behind after purge");
      break;
    }
    state.SetIterationTime(seconds(t0, t1));
  }
  per_entry(state);
}

// Bytes per live entry, and zero dead entries left behind after a mass death and a purge.
template <class A>
void bench_bytes_per_entry(benchmark::State& state) {
  using map_type = typename A::pmr_map_type;
  using allocator = typename map_type::allocator_type;
  const std::size_t n = entries(state);
  double bytes = 0, blocks = 0;
  for (auto _ : state) {
    counting_resource resource;
    {
      std::vector<ptr> owners = make_owners<A>(n);
      map_type m{allocator(&resource)};
      fill<A>(m, owners);
      if (m.size() != n) {
        state.SkipWithError("an insert was lost");
        break;
      }
      bytes = static_cast<double>(resource.live_bytes()) / static_cast<double>(n);
      blocks = static_cast<double>(resource.live_blocks()) / static_cast<double>(n);

      owners.clear(); // mass death
      A::purge(m);
      // What an empty table with the same bucket count holds.
      counting_resource empty_resource;
      map_type empty{allocator(&empty_resource)};
      empty.rehash(m.bucket_count());
      const auto left = static_cast<double>(resource.live_bytes()) -
                        static_cast<double>(empty_resource.live_bytes());
      state.counters["dead_entries_left"] = static_cast<double>(m.size());
      state.counters["bytes_left_over"] = left;
      if (m.size() != 0 || empty.bucket_count() != m.bucket_count() || left != 0 ||
          resource.live_blocks() != empty_resource.live_blocks()) {
        state.SkipWithError("dead entries (or their memory) left behind after mass death + purge");
        break;
      }
    }
    if (resource.live_bytes() != 0) {
      state.SkipWithError("the container leaked memory");
      break;
    }
  }
  state.counters[weakref_bench::bytes_per_op] = bytes;
  state.counters["blocks_per_entry"] = blocks;
}

template <class Make>
void bench_referent_bytes(benchmark::State& state, Make make) {
  double bytes = 0;
  for (auto _ : state) {
    const std::size_t before = referent_live_bytes;
    ptr p = make();
    bytes = static_cast<double>(referent_live_bytes - before);
    benchmark::DoNotOptimize(p);
  }
  state.counters[weakref_bench::bytes_per_op] = bytes;
}

// ---------------------------------------------------------------------------------- registration

constexpr std::int64_t ops_per_run = 1'000'000;

// A row at n entries: about ops_per_run operations per run (see the header comment).
benchmark::internal::Benchmark* sized(benchmark::internal::Benchmark* b, std::int64_t n) {
  b->ArgName("n")->Arg(n)->Iterations(std::max<std::int64_t>(1, ops_per_run / n));
  if (n >= 10'000'000) b->Repetitions(1);
  return b;
}

void register_pair(const std::string& op, void (*ours)(benchmark::State&),
                   void (*baseline)(benchmark::State&), std::int64_t n, bool manual_time) {
  for (auto* b : {benchmark::RegisterBenchmark(("ours/" + op).c_str(), ours),
                  benchmark::RegisterBenchmark(("std/" + op).c_str(), baseline)}) {
    sized(b, n);
    if (manual_time) b->UseManualTime();
  }
}

void register_benchmarks(std::int64_t max_entries) {
  std::vector<std::int64_t> sizes;
  for (const std::int64_t n : {1'000, 100'000, 1'000'000, 10'000'000})
    if (n <= max_entries) sizes.push_back(n);
  const std::int64_t fixed = std::min<std::int64_t>(100'000, max_entries); // the unscaled rows

  // Registration order is the table's order.
  for (const std::int64_t n : sizes)
    register_pair("value_map_insert", bench_insert<value_map_ours>, bench_insert<value_map_std>, n,
                  true);
  for (const std::int64_t n : sizes)
    register_pair("value_map_lookup_hit", bench_lookup<value_map_ours>, bench_lookup<value_map_std>,
                  n, false);
  register_pair("value_map_lookup_miss", bench_lookup_miss<value_map_ours>,
                bench_lookup_miss<value_map_std>, fixed, false);
  register_pair("value_map_erase", bench_erase<value_map_ours>, bench_erase<value_map_std>, fixed,
                true);
  register_pair("value_map_iterate", bench_iterate<value_map_ours>, bench_iterate<value_map_std>,
                fixed, false);
  for (const std::int64_t n : sizes)
    register_pair("value_map_purge", bench_purge<value_map_ours>, bench_purge<value_map_std>, n,
                  true);

  for (const std::int64_t n : sizes)
    register_pair("key_map_insert", bench_insert<key_map_ours>, bench_insert<key_map_std>, n, true);
  for (const std::int64_t n : sizes)
    register_pair("key_map_lookup", bench_lookup<key_map_ours>, bench_lookup<key_map_std>, n,
                  false);
  register_pair("key_map_lookup_miss", bench_lookup_miss<key_map_ours>,
                bench_lookup_miss<key_map_std>, fixed, false);
  register_pair("key_map_erase", bench_erase<key_map_ours>, bench_erase<key_map_std>, fixed, true);
  register_pair("key_map_iterate", bench_iterate<key_map_ours>, bench_iterate<key_map_std>, fixed,
                false);
  for (const std::int64_t n : sizes)
    register_pair("key_map_purge", bench_purge<key_map_ours>, bench_purge<key_map_std>, n, true);

  for (const std::int64_t n : sizes)
    register_pair("set_insert", bench_insert<set_ours>, bench_insert<set_std>, n, true);
  for (const std::int64_t n : sizes)
    register_pair("set_lookup", bench_lookup<set_ours>, bench_lookup<set_std>, n, false);
  register_pair("set_lookup_miss", bench_lookup_miss<set_ours>, bench_lookup_miss<set_std>, fixed,
                false);
  register_pair("set_erase", bench_erase<set_ours>, bench_erase<set_std>, fixed, true);
  register_pair("set_iterate", bench_iterate<set_ours>, bench_iterate<set_std>, fixed, false);
  for (const std::int64_t n : sizes)
    register_pair("set_purge", bench_purge<set_ours>, bench_purge<set_std>, n, true);

  // Sizes: deterministic, so one run each.
  for (const std::int64_t n : {1'000, 100'000, 1'000'000}) {
    if (n > max_entries) continue;
    for (auto* b : {
             benchmark::RegisterBenchmark("ours/bytes_per_entry/value_map",
                                          bench_bytes_per_entry<value_map_ours>),
             benchmark::RegisterBenchmark("std/bytes_per_entry/value_map",
                                          bench_bytes_per_entry<value_map_std>),
             benchmark::RegisterBenchmark("ours/bytes_per_entry/key_map",
                                          bench_bytes_per_entry<key_map_ours>),
             benchmark::RegisterBenchmark("std/bytes_per_entry/key_map",
                                          bench_bytes_per_entry<key_map_std>),
             benchmark::RegisterBenchmark("ours/bytes_per_entry/set",
                                          bench_bytes_per_entry<set_ours>),
             benchmark::RegisterBenchmark("std/bytes_per_entry/set",
                                          bench_bytes_per_entry<set_std>),
         })
      b->ArgName("n")->Arg(n)->Iterations(1)->Repetitions(1);
  }
  benchmark::RegisterBenchmark(
      "ours/referent_bytes", bench_referent_bytes<ptr (*)()>,
      [] { return weakref::allocate_shared<item>(counting_allocator<item>(), 1); })
      ->Iterations(1)
      ->Repetitions(1);
  benchmark::RegisterBenchmark(
      "std/referent_bytes", bench_referent_bytes<ptr (*)()>,
      [] { return std::allocate_shared<item>(counting_allocator<item>(), 1); })
      ->Iterations(1)
      ->Repetitions(1);
}

} // namespace

int main(int argc, char** argv) {
  // Freed memory stays in the process (see "Memory" in the header comment).
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  // This program's own flag, taken out before the others are passed on.
  std::int64_t max_entries = 10'000'000;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.rfind("--max_entries=", 0) == 0)
      max_entries = std::strtoll(argv[i] + std::strlen("--max_entries="), nullptr, 10);
    else
      argv[kept++] = argv[i];
  }
  argv[kept] = nullptr;
  register_benchmarks(max_entries);
  return weakref_bench::run_main(
      kept, argv, "weakref.bench.containers", weakref_bench::brief_targets(),
      "Times are per entry; /n: entries in the container. Each run performs ~1 M operations "
      "(1000 iterations at n = 1 K, 10 at 100 K, 1 at 1 M and 10 M); the n = 10 M rows are a "
      "single run. bytes_per_entry: bytes requested from a counting memory_resource per live "
      "entry (entries, buckets, table); its run also checks that a mass death + purge leaves "
      "size() == 0 and exactly an empty table's bytes (else the row is an error).");
}
