// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The container workloads shared by containers.cpp (Google Benchmark) and instructions.cpp (its
// own harness, for callgrind and for the libc++ timings): the referent, the counting memory
// resource and allocator of the size rows, and one adaptor per (container, side) that names the
// map type and spells each operation, so that every benchmark
// body is written once for ours and the baselines. No weakref names here (a header must not
// import the module, and every #include comes before `import weakref;`): ours are templates
// instantiated by each program with the library's types.
//
// The sides and their maps:
//   ours   weak_value_map<int, item>, weak_key_map<item, int, identity policy>,
//          weak_set<item, identity policy>
//   std    unordered_map<int, weak_ptr<item>>,
//          unordered_map<const item*, pair<weak_ptr<item>, int>>,
//          unordered_map<const item*, weak_ptr<item>>
//   flat   boost::unordered_flat_map with the std baseline's key and mapped types (open
//          addressing, SIMD metadata: what a performance-minded user would pick instead).
// The baselines keyed by owner identity hold a weak_ptr next to the address: it is what tells a
// live entry from a dead one whose address may be reused. Dead entries: ours purge(); the
// baselines erase_if(expired) (std::erase_if, boost::unordered::erase_if).
#pragma once

// Boost 1.83 destroys elements through polymorphic_allocator::destroy, deprecated in C++20; the
// warning is reported inside Boost's header, where this pragma covers it.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
#include <boost/unordered/unordered_flat_map.hpp>
#pragma clang diagnostic pop

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <memory_resource>
#include <numeric>
#include <random>
#include <unordered_map>
#include <utility>
#include <vector>

namespace weakref_bench {

// The referent: small, so that the containers' own costs dominate.
struct item {
  explicit item(int v) noexcept : x(v) {}
  int x;
};
using ptr = std::shared_ptr<item>;

// ------------------------------------------------------------------------------ counting memory
// The memory_resource and the allocator of the size rows (bytes_per_entry, referent_bytes).

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

// ---------------------------------------------------------------------------------------- sides

// Ours: referents from the library's factory (only those are weakly referenceable), given by
// the program as Factory::make(int).
template <class Factory>
struct ours_side {
  static ptr make(int i) { return Factory::make(i); }
  template <class Map>
  static void purge(Map& m) {
    m.purge();
  }
  static constexpr bool exact_leftover_check = true;
};

// Whether a baseline's mapped value (a weak_ptr, or key_map's (weak_ptr, value) pair) has expired.
template <class Mapped>
bool mapped_expired(const Mapped& mapped) noexcept {
  if constexpr (requires { mapped.expired(); })
    return mapped.expired();
  else
    return mapped.first.expired();
}
template <class Entry>
bool entry_expired(const Entry& kv) noexcept {
  return mapped_expired(kv.second);
}

struct std_side {
  static ptr make(int i) { return std::make_shared<item>(i); }
  template <class Map>
  static void purge(Map& m) {
    std::erase_if(m, [](const auto& kv) { return entry_expired(kv); });
  }
  // bytes_per_entry compares a purged table with an empty one of the same bucket count.
  static constexpr bool exact_leftover_check = true;
};

struct flat_side {
  static ptr make(int i) { return std::make_shared<item>(i); }
  template <class Map>
  static void purge(Map& m) {
    boost::unordered::erase_if(m, [](const auto& kv) { return entry_expired(kv); });
  }
  // rehash(bucket_count()) of an empty flat map does not give the same capacity back: its
  // bytes_per_entry run checks size() == 0 and that nothing leaks, not the bytes left over.
  static constexpr bool exact_leftover_check = false;
};

// ------------------------------------------------------------------------------- baseline maps

template <class K, class V>
using pmr_flat_map =
    boost::unordered_flat_map<K, V, boost::hash<K>, std::equal_to<K>,
                              std::pmr::polymorphic_allocator<std::pair<const K, V>>>;

using std_value_map = std::unordered_map<int, std::weak_ptr<item>>;
using std_pmr_value_map = std::pmr::unordered_map<int, std::weak_ptr<item>>;
using flat_value_map = boost::unordered_flat_map<int, std::weak_ptr<item>>;
using flat_pmr_value_map = pmr_flat_map<int, std::weak_ptr<item>>;

using key_entry = std::pair<std::weak_ptr<item>, int>;
using std_key_map = std::unordered_map<const item*, key_entry>;
using std_pmr_key_map = std::pmr::unordered_map<const item*, key_entry>;
using flat_key_map = boost::unordered_flat_map<const item*, key_entry>;
using flat_pmr_key_map = pmr_flat_map<const item*, key_entry>;

using std_set = std::unordered_map<const item*, std::weak_ptr<item>>;
using std_pmr_set = std::pmr::unordered_map<const item*, std::weak_ptr<item>>;
using flat_set = boost::unordered_flat_map<const item*, std::weak_ptr<item>>;
using flat_pmr_set = pmr_flat_map<const item*, std::weak_ptr<item>>;

// ------------------------------------------------------------------------------------ adaptors
// Each: map_type, pmr_map_type, and
//   insert(m, k, p)   the entry for key k (value_map) or referent p (key_map, set); always
//                     inlined into the row, on every side, so that a row that inserts from two
//                     places (churn) does not turn it into a call on one side and not the other
//   lookup(m, k, p)   the value found (>= 0), pinned where the row pins it; -1 if absent
//   absent(m, k, p)   true when k (or p) is not in m
//   erase(m, k, p)    erase by key (or by the referent), the count erased
//   iterate(m)        visit every live entry, pinned (ours: by the iterator; baselines: lock())
//   first(m)          the value of one live element, pinned (for the copy row)
// Lookups with the key in hand: the caller of a key_map/set lookup owns the key object (it
// passes *p), so neither side needs to lock it to know it is alive.

template <class Side, class Map, class PmrMap>
struct value_map_ours : Side {
  using map_type = Map;
  using pmr_map_type = PmrMap;
  template <class M>
  [[gnu::always_inline]] static void insert(M& m, int k, const ptr& p) {
    m.insert_or_assign(k, p);
  }
  static int lookup(const Map& m, int k, const ptr&) {
    const ptr v = m.get(k);
    return v ? v->x : -1;
  }
  static bool absent(const Map& m, int k, const ptr&) { return m.get(k) == nullptr; }
  static std::size_t erase(Map& m, int k, const ptr&) { return m.erase(k); }
  static std::int64_t iterate(Map& m) {
    std::int64_t sum = 0;
    for (const auto& [k, v] : m) sum += v->x;
    return sum;
  }
};

template <class Side, class Map, class PmrMap>
struct value_map_baseline : Side {
  using map_type = Map;
  using pmr_map_type = PmrMap;
  template <class M>
  [[gnu::always_inline]] static void insert(M& m, int k, const ptr& p) {
    m.insert_or_assign(k, std::weak_ptr<item>(p));
  }
  static int lookup(const Map& m, int k, const ptr&) {
    const auto it = m.find(k);
    if (it == m.end()) return -1;
    const ptr v = it->second.lock();
    return v ? v->x : -1;
  }
  static bool absent(const Map& m, int k, const ptr&) { return m.find(k) == m.end(); }
  static std::size_t erase(Map& m, int k, const ptr&) { return m.erase(k); }
  static std::int64_t iterate(Map& m) {
    std::int64_t sum = 0;
    for (const auto& [k, w] : m)
      if (const ptr v = w.lock()) sum += v->x;
    return sum;
  }
};

template <class Side, class Map, class PmrMap>
struct key_map_ours : Side {
  using map_type = Map;
  using pmr_map_type = PmrMap;
  template <class M>
  [[gnu::always_inline]] static void insert(M& m, int k, const ptr& p) {
    m.try_emplace(p, k);
  }
  static int lookup(const Map& m, int, const ptr& p) {
    const auto v = m.get(*p);
    return v ? *v : -1;
  }
  static bool absent(const Map& m, int, const ptr& p) { return !m.get(*p).has_value(); }
  static std::size_t erase(Map& m, int, const ptr& p) { return m.erase(*p); }
  static std::int64_t iterate(Map& m) {
    std::int64_t sum = 0;
    for (const auto& kv : m) sum += kv.second; // the key is pinned by the iterator
    return sum;
  }
};

template <class Side, class Map, class PmrMap>
struct key_map_baseline : Side {
  using map_type = Map;
  using pmr_map_type = PmrMap;
  template <class M>
  [[gnu::always_inline]] static void insert(M& m, int k, const ptr& p) {
    m.try_emplace(p.get(), p, k);
  }
  static int lookup(const Map& m, int, const ptr& p) {
    const auto it = m.find(p.get());
    return it != m.end() && !it->second.first.expired() ? it->second.second : -1;
  }
  static bool absent(const Map& m, int, const ptr& p) { return m.find(p.get()) == m.end(); }
  static std::size_t erase(Map& m, int, const ptr& p) { return m.erase(p.get()); }
  static std::int64_t iterate(Map& m) {
    std::int64_t sum = 0;
    for (const auto& [address, entry] : m)
      if (const ptr k = entry.first.lock()) sum += entry.second;
    return sum;
  }
};

template <class Side, class Map, class PmrMap>
struct set_ours : Side {
  using map_type = Map;
  using pmr_map_type = PmrMap;
  template <class M>
  [[gnu::always_inline]] static void insert(M& m, int, const ptr& p) {
    m.insert(p);
  }
  static int lookup(const Map& m, int, const ptr& p) { return m.contains(*p) ? 0 : -1; }
  static bool absent(const Map& m, int, const ptr& p) { return !m.contains(*p); }
  static std::size_t erase(Map& m, int, const ptr& p) { return m.erase(*p); }
  static std::int64_t iterate(Map& m) {
    std::int64_t sum = 0;
    for (const ptr& k : m) sum += k->x;
    return sum;
  }
};

template <class Side, class Map, class PmrMap>
struct set_baseline : Side {
  using map_type = Map;
  using pmr_map_type = PmrMap;
  template <class M>
  [[gnu::always_inline]] static void insert(M& m, int, const ptr& p) {
    m.try_emplace(p.get(), p);
  }
  static int lookup(const Map& m, int, const ptr& p) {
    const auto it = m.find(p.get());
    return it != m.end() && !it->second.expired() ? 0 : -1;
  }
  static bool absent(const Map& m, int, const ptr& p) { return m.find(p.get()) == m.end(); }
  static std::size_t erase(Map& m, int, const ptr& p) { return m.erase(p.get()); }
  static std::int64_t iterate(Map& m) {
    std::int64_t sum = 0;
    for (const auto& [address, w] : m)
      if (const ptr k = w.lock()) sum += k->x;
    return sum;
  }
};

using value_map_std = value_map_baseline<std_side, std_value_map, std_pmr_value_map>;
using value_map_flat = value_map_baseline<flat_side, flat_value_map, flat_pmr_value_map>;
using key_map_std = key_map_baseline<std_side, std_key_map, std_pmr_key_map>;
using key_map_flat = key_map_baseline<flat_side, flat_key_map, flat_pmr_key_map>;
using set_std = set_baseline<std_side, std_set, std_pmr_set>;
using set_flat = set_baseline<flat_side, flat_set, flat_pmr_set>;

// -------------------------------------------------------------------------------------- helpers

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

// The keys 0..n-1 in a fixed random order (the same for every side).
inline std::vector<int> shuffled_keys(std::size_t n) {
  std::vector<int> keys(n);
  std::iota(keys.begin(), keys.end(), 0);
  std::mt19937_64 random(20240611);
  std::shuffle(keys.begin(), keys.end(), random);
  return keys;
}

} // namespace weakref_bench
