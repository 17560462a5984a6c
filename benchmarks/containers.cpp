// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Weak container benchmarks: each operation of weak_value_map, weak_key_map and weak_set
// (ours/<op>) against what a program without the library writes, with std::unordered_map
// (std/<op>) and with boost::unordered_flat_map (flat/<op>), measured in the same process;
// ratio_reporter.hpp prints ours / each baseline against the targets of common.hpp. The maps
// and the spelling of each operation on each side are workloads.hpp's adaptors.
//
// The rows (n: entries in the container; times are per entry, i.e. per operation):
//   value_map_insert/n        insert_or_assign(k, p) into an empty map (growth included)
//                             vs insert_or_assign(k, weak_ptr(p))
//   value_map_lookup_hit/n    get(k), the value pinned  vs  find(k) + weak_ptr::lock(); the keys
//                             in a fixed random order
//   value_map_lookup_hit_in_order/n  the same, the keys in order 0..n-1 (insertion order)
//   value_map_lookup_miss/n   get(k) of an absent key   vs  find(k)
//   value_map_erase/n         erase(k) of every key, in random order  vs  erase(k)
//   value_map_iterate/n       visit every (k, v), v pinned  vs  visit every (k, w) + w.lock()
//   value_map_death/n         mass death alone: release the last owner of every value held by
//                             the map (ours: each death reports its entry to the map's inbox; the
//                             baselines: the object is destroyed, its control block stays for
//                             the map's weak_ptr); the purge that follows is not timed
//   value_map_purge/n         cleanup after mass death: release every owner, then purge() (what
//                             the next non-const operation does first)  vs  release every owner,
//                             then erase_if(m, expired)
//   key_map_, set_lookup_miss/n, _erase/n, _iterate/n, _death/n, _purge/n: the same, with a live
//                             referent that is not in the container, erase(*p), and every key
//                             pinned (baselines: lock())
//   key_map_insert/n          try_emplace(p, k)         vs  try_emplace(p.get(), p, k)
//   key_map_lookup/n          get(*p) (value by copy)   vs  find(p.get()) + !expired()
//   set_insert/n              insert(p)                 vs  try_emplace(p.get(), p)
//   set_lookup/n              contains(*p)              vs  find(p.get()) + !expired()
//   bytes_per_entry/<c>/n     bytes a container holds per live entry, counted by a
//                             std::pmr::memory_resource given to every side (weakref::pmr::
//                             containers, std::pmr::unordered_map, unordered_flat_map with a
//                             polymorphic_allocator): entries, buckets and the table's own
//                             blocks, as requested from the resource (no malloc overhead). The
//                             same run checks "zero dead entries left behind": after every owner
//                             is released and the container purged, size() is 0 and (ours and
//                             std) the resource holds exactly what an empty table with the same
//                             bucket count holds; otherwise the row is an error.
//   referent_bytes            bytes of one referent (struct item { int x; }) as allocated by
//                             weakref::allocate_shared vs std::allocate_shared (target: at most
//                             48 bytes more)
//
// Sizes: 1 K, 100 K and 1 M entries for every row but lookup_miss (100 K); 10 M too when
// --max_entries allows it (scripts/bench: BENCH_10M=1; memory below).
//
// Lookups with the key in hand: the caller of a key_map/set lookup owns the key object (it passes
// *p), so no side needs to lock it to know it is alive; ours locks internally because
// table.find pins every candidate before matching. Random-order lookups go through the keys in
// a fixed random order (not insertion order, which would walk the std table's nodes in
// allocation order); the in-order row shows that case.
//
// Referents: ours are made by weakref::make_shared (only those are weakly referenceable), the
// baselines' by std::make_shared, which is what a program without the library uses. The
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
// Timing: rows whose operation needs fresh state per batch (insert, erase, death, purge) use
// manual time around the batch only; setup (making referents, filling the map) and teardown are
// not timed. Each run performs a fixed number of operations (about 1 M: 1000 iterations of 1 K,
// 10 of 100 K, 1 of 1 M and of 10 M) instead of running for --benchmark_min_time, which keeps
// scripts/bench within minutes; the 10 M rows run one repetition (a single run of 10 M
// operations) instead of the command line's. --max_entries=N (this program's own flag, default
// 1 M) skips the rows with more than N entries; --ops_per_run=N sets the operations per run:
// the CTest smoke test runs every row once at 1 000 entries.
//
// Memory at 10 M entries (checked by bytes_per_entry and referent_bytes at 1 M): an entry of ours
// is 104 B requested (a 112 B malloc chunk) + 8-16 B of buckets, a referent 72 B (80 B), an
// owner 16 B: ~2.5 GiB for the largest run of ours; each baseline's ~1 GiB.
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
#include "workloads.hpp"

import weakref;

namespace {

using weakref_bench::counting_allocator;
using weakref_bench::counting_resource;
using weakref_bench::fill;
using weakref_bench::item;
using weakref_bench::make_owners;
using weakref_bench::ptr;
using weakref_bench::referent_live_bytes;
using weakref_bench::shuffled_keys;

using bench_clock = weakref_bench::thread_cpu_clock; // CPU time of this thread

// ------------------------------------------------------------------------------------ adaptors

// Ours, from workloads.hpp's templates (the baselines are defined there in full).
struct factory {
  static ptr make(int i) { return weakref::make_shared<item>(i); }
};
using ours_side = weakref_bench::ours_side<factory>;
using identity_hash = weakref::identity_hash<item>;
using identity_equal = weakref::identity_equal<item>;
using value_map_ours = weakref_bench::value_map_ours<ours_side, weakref::weak_value_map<int, item>,
                                                     weakref::pmr::weak_value_map<int, item>>;
using key_map_ours = weakref_bench::key_map_ours<
    ours_side, weakref::weak_key_map<item, int, identity_hash, identity_equal>,
    weakref::pmr::weak_key_map<item, int, identity_hash, identity_equal>>;
using set_ours =
    weakref_bench::set_ours<ours_side, weakref::weak_set<item, identity_hash, identity_equal>,
                            weakref::pmr::weak_set<item, identity_hash, identity_equal>>;
using weakref_bench::key_map_flat;
using weakref_bench::key_map_std;
using weakref_bench::set_flat;
using weakref_bench::set_std;
using weakref_bench::value_map_flat;
using weakref_bench::value_map_std;

// -------------------------------------------------------------------------------------- helpers

std::size_t entries(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
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

// n lookups of present keys, in random order (or in key order 0..n-1: InOrder); every one must
// hit.
template <class A, bool InOrder = false>
void bench_lookup(benchmark::State& state) {
  const std::size_t n = entries(state);
  const std::vector<ptr> owners = make_owners<A>(n);
  typename A::map_type m;
  fill<A>(m, owners);
  std::vector<int> keys = shuffled_keys(n);
  if (InOrder) std::sort(keys.begin(), keys.end());
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
// drops the dead entries. Both are timed (Death: the deaths only); making the referents,
// filling the map and (Death) the purge are not.
template <class A, bool Death = false>
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
    if (!Death) A::purge(m);
    const auto t1 = bench_clock::now();
    if (Death) A::purge(m);
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
      state.counters["dead_entries_left"] = static_cast<double>(m.size());
      if (m.size() != 0) {
        state.SkipWithError("dead entries left behind after mass death + purge");
        break;
      }
      if constexpr (A::exact_leftover_check) {
        // What an empty table with the same bucket count holds.
        counting_resource empty_resource;
        map_type empty{allocator(&empty_resource)};
        empty.rehash(m.bucket_count());
        const auto left = static_cast<double>(resource.live_bytes()) -
                          static_cast<double>(empty_resource.live_bytes());
        state.counters["bytes_left_over"] = left;
        if (empty.bucket_count() != m.bucket_count() || left != 0 ||
            resource.live_blocks() != empty_resource.live_blocks()) {
          state.SkipWithError("dead entries' memory left behind after mass death + purge");
          break;
        }
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

std::int64_t ops_per_run = 1'000'000; // --ops_per_run (the smoke test: 1 iteration per row)

// A row at n entries: about ops_per_run operations per run (see the header comment).
benchmark::internal::Benchmark* sized(benchmark::internal::Benchmark* b, std::int64_t n) {
  b->ArgName("n")->Arg(n)->Iterations(std::max<std::int64_t>(1, ops_per_run / n));
  if (n >= 10'000'000) b->Repetitions(1);
  return b;
}

using bench_fn = void (*)(benchmark::State&);

// The three sides of a row at n entries.
void register_row(const std::string& op, bench_fn ours, bench_fn std_baseline, bench_fn flat,
                  std::int64_t n, bool manual_time) {
  for (auto* b : {benchmark::RegisterBenchmark(("ours/" + op).c_str(), ours),
                  benchmark::RegisterBenchmark(("std/" + op).c_str(), std_baseline),
                  benchmark::RegisterBenchmark(("flat/" + op).c_str(), flat)}) {
    sized(b, n);
    if (manual_time) b->UseManualTime();
  }
}

// Every row of one container (Ours, Std, Flat: its adaptors), in the table's order.
template <class Ours, class Std, class Flat>
void register_container(const std::string& c, const std::vector<std::int64_t>& sizes,
                        std::int64_t fixed) {
  const std::string lookup = c == "value_map" ? "_lookup_hit" : "_lookup";
  auto each_size = [&](const std::string& row, bench_fn o, bench_fn s, bench_fn f, bool manual) {
    for (const std::int64_t n : sizes) register_row(c + row, o, s, f, n, manual);
  };
  each_size("_insert", bench_insert<Ours>, bench_insert<Std>, bench_insert<Flat>, true);
  each_size(lookup, bench_lookup<Ours>, bench_lookup<Std>, bench_lookup<Flat>, false);
  if (c == "value_map")
    each_size("_lookup_hit_in_order", bench_lookup<Ours, true>, bench_lookup<Std, true>,
              bench_lookup<Flat, true>, false);
  register_row(c + "_lookup_miss", bench_lookup_miss<Ours>, bench_lookup_miss<Std>,
               bench_lookup_miss<Flat>, fixed, false);
  each_size("_erase", bench_erase<Ours>, bench_erase<Std>, bench_erase<Flat>, true);
  each_size("_iterate", bench_iterate<Ours>, bench_iterate<Std>, bench_iterate<Flat>, false);
  each_size("_death", bench_purge<Ours, true>, bench_purge<Std, true>, bench_purge<Flat, true>,
            true);
  each_size("_purge", bench_purge<Ours>, bench_purge<Std>, bench_purge<Flat>, true);
}

void register_benchmarks(std::int64_t max_entries) {
  std::vector<std::int64_t> sizes;
  for (const std::int64_t n : {1'000, 100'000, 1'000'000, 10'000'000})
    if (n <= max_entries) sizes.push_back(n);
  const std::int64_t fixed = std::min<std::int64_t>(100'000, max_entries); // the unscaled rows

  // Registration order is the table's order.
  register_container<value_map_ours, value_map_std, value_map_flat>("value_map", sizes, fixed);
  register_container<key_map_ours, key_map_std, key_map_flat>("key_map", sizes, fixed);
  register_container<set_ours, set_std, set_flat>("set", sizes, fixed);

  // Sizes: deterministic, so one run each.
  for (const std::int64_t n : {1'000, 100'000, 1'000'000}) {
    if (n > max_entries) continue;
    for (auto* b : {
             benchmark::RegisterBenchmark("ours/bytes_per_entry/value_map",
                                          bench_bytes_per_entry<value_map_ours>),
             benchmark::RegisterBenchmark("std/bytes_per_entry/value_map",
                                          bench_bytes_per_entry<value_map_std>),
             benchmark::RegisterBenchmark("flat/bytes_per_entry/value_map",
                                          bench_bytes_per_entry<value_map_flat>),
             benchmark::RegisterBenchmark("ours/bytes_per_entry/key_map",
                                          bench_bytes_per_entry<key_map_ours>),
             benchmark::RegisterBenchmark("std/bytes_per_entry/key_map",
                                          bench_bytes_per_entry<key_map_std>),
             benchmark::RegisterBenchmark("flat/bytes_per_entry/key_map",
                                          bench_bytes_per_entry<key_map_flat>),
             benchmark::RegisterBenchmark("ours/bytes_per_entry/set",
                                          bench_bytes_per_entry<set_ours>),
             benchmark::RegisterBenchmark("std/bytes_per_entry/set",
                                          bench_bytes_per_entry<set_std>),
             benchmark::RegisterBenchmark("flat/bytes_per_entry/set",
                                          bench_bytes_per_entry<set_flat>),
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
  // This program's own flags, taken out before the others are passed on.
  std::int64_t max_entries = 1'000'000;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.rfind("--max_entries=", 0) == 0)
      max_entries = std::strtoll(argv[i] + std::strlen("--max_entries="), nullptr, 10);
    else if (arg.rfind("--ops_per_run=", 0) == 0)
      ops_per_run = std::strtoll(argv[i] + std::strlen("--ops_per_run="), nullptr, 10);
    else
      argv[kept++] = argv[i];
  }
  argv[kept] = nullptr;
  register_benchmarks(max_entries);
  return weakref_bench::run_main(
      kept, argv, "weakref.bench.containers", weakref_bench::brief_targets(),
      "Times are per entry; /n: entries in the container. Each run performs ~1 M operations "
      "(1000 iterations at n = 1 K, 10 at 100 K, 1 at 1 M and 10 M); the n = 10 M rows, when "
      "run, are a single run. _death: the deaths alone; _purge: the deaths and the cleanup. "
      "bytes_per_entry: bytes requested from a counting memory_resource per live entry "
      "(entries, buckets, table); its run also checks that a mass death + purge leaves size() "
      "== 0 and (ours, std) exactly an empty table's bytes (else the row is an error).");
}
