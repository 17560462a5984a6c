// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Test doubles shared by the unit tests. Header, not module: a test helper must not become part
// of the module's interface.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "../conformance/support.hpp"

namespace weakref_test {

// Counts live instances, so tests can assert exactly when a referent is destroyed.
struct tracked {
  static inline std::atomic<int> alive{0};
  int value;
  explicit tracked(int v = 0) : value(v) { ++alive; }
  tracked(const tracked& o) : value(o.value) { ++alive; }
  ~tracked() { --alive; }
  friend bool operator==(const tracked& a, const tracked& b) { return a.value == b.value; }
};

// A referent type with neither == nor std::hash.
struct opaque {
  int value = 0;
};

// A stateful policy: elements (keys) match when equal modulo m.
struct mod_hash {
  int m = 1000;
  std::size_t operator()(int x) const noexcept { return static_cast<std::size_t>(x % m); }
};
struct mod_equal {
  int m = 1000;
  bool operator()(int a, int b) const noexcept { return a % m == b % m; }
};

// A transparent policy for std::string keys (with std::equal_to<>): looked up by
// std::string_view, which does not convert to std::string implicitly, so a lookup that compiles
// made no std::string ([weakref.containers.lookup]/3).
struct transparent_string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

// M's lookups (find, contains, count, equal_range, erase) and element access (at, get, pop)
// accept a Q ([weakref.containers.lookup]).
// [weakref.containers.union] M | Q and M |= Q are expressions (a weak map and a range of pairs).
template <class M, class Q>
concept unites_with = requires(const M& m, M& target, const Q& q) {
  m | q;
  target |= q;
};

template <class M, class Q>
concept looks_up_by = requires(M& m, const M& c, const Q& q) {
  m.find(q);
  c.find(q);
  c.contains(q);
  c.count(q);
  m.equal_range(q);
  c.equal_range(q);
  m.erase(q);
};
template <class M, class Q>
concept accesses_by = requires(M& m, const M& c, const Q& q) {
  m.at(q);
  c.at(q);
  c.get(q);
  m.pop(q);
};

// A stateful allocator that counts allocations and live bytes per instance family.
struct allocation_stats {
  std::size_t allocations = 0;
  std::size_t deallocations = 0;
  std::size_t live_bytes = 0;
};

template <class T>
struct counting_allocator {
  using value_type = T;
  allocation_stats* stats;
  explicit counting_allocator(allocation_stats* s) noexcept : stats(s) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& o) noexcept : stats(o.stats) {}
  T* allocate(std::size_t n) {
    ++stats->allocations;
    stats->live_bytes += n * sizeof(T);
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    ++stats->deallocations;
    stats->live_bytes -= n * sizeof(T);
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  friend bool operator==(const counting_allocator& a, const counting_allocator<U>& b) noexcept {
    return a.stats == b.stats;
  }
};

// The conformance suite's scaffolding serves the unit tests too: the suite stands alone (for other
// implementations), the tests build its support.cpp against `weakref` (tests/CMakeLists.txt).
using capture_callback_errors = conformance::recording_handler;
using conformance::capture_stderr;
using conformance::walked;

} // namespace weakref_test
