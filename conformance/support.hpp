// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Scaffolding shared by the conformance tests. A header with no import, so that every test file
// keeps its #includes before its `import weakref;`; support.cpp defines it against `wr`.
#pragma once

#include <atomic>
#include <chrono>
#include <compare>
#include <cstdint>
#include <cstddef>
#include <exception>
#include <functional>
#include <ranges>
#include <string>
#include <vector>

namespace conformance {

// Replaces the callback error handler while it lives and records what the handler receives.
class recording_handler {
public:
  recording_handler();
  ~recording_handler();
  recording_handler(const recording_handler&) = delete;
  recording_handler& operator=(const recording_handler&) = delete;

  static std::vector<std::string>& messages();

private:
  void (*previous_)(std::exception_ptr) noexcept;
};

// Runs f with stderr redirected to a temporary file; returns what was written to it.
std::string capture_stderr(const std::function<void()>& f);

// The bounds of a concurrency stress loop: it runs to `target` operations, and a time budget
// may end it earlier, but only after `floor` operations, and `overlap_floor` of them overlapped a
// death on another thread (conformance::death_watch): the work the test then asserts. A slow
// build (sanitizers; valgrind, which runs one thread at a time) does less work, never too little;
// only reaching `target` with too few overlaps fails the test's assertion on them.
class stress_budget {
public:
  stress_budget(long target, long floor, std::chrono::milliseconds time, long overlap_floor = 0)
      : target_(target), floor_(floor), overlap_floor_(overlap_floor),
        deadline_(std::chrono::steady_clock::now() + time) {}
  bool more(long done, long overlapped = 0) const {
    return done < target_ && (done < floor_ || overlapped < overlap_floor_ ||
                              std::chrono::steady_clock::now() < deadline_);
  }
  long floor() const noexcept { return floor_; }
  long overlap_floor() const noexcept { return overlap_floor_; }

private:
  long target_, floor_, overlap_floor_;
  std::chrono::steady_clock::time_point deadline_;
};

// A referent that knows its id (CPython's Object of the weak-dictionary tests: compares and
// hashes by it), counts its live instances and marks its memory dead when destroyed.
inline constexpr std::uint32_t intact = 0xC0FFEEu;
struct node {
  static inline std::atomic<int> alive{0};
  int id;
  std::uint32_t magic = intact;
  explicit node(int i) : id(i) { alive.fetch_add(1, std::memory_order_relaxed); }
  node(const node& o) : id(o.id) { alive.fetch_add(1, std::memory_order_relaxed); }
  node& operator=(const node&) = default;
  ~node() {
    magic = 0;
    alive.fetch_sub(1, std::memory_order_relaxed);
  }
  friend bool operator==(const node& a, const node& b) { return a.id == b.id; }
};
struct node_hash {
  std::size_t operator()(const node& n) const noexcept { return std::hash<int>{}(n.id); }
};

// Counts the live elements of a weak container by walking them (what size() must agree with).
template <class C>
std::size_t walked(const C& c) {
  return static_cast<std::size_t>(std::ranges::distance(c.begin(), c.end()));
}

// Probes for the relational operators of a type (PY-REF-7: references have none; PY-WS-2: weak
// sets have none). Concepts, so that a missing operator makes them false instead of making the
// test ill-formed.
template <class R>
concept has_less = requires(const R& a, const R& b) { a < b; };
template <class R>
concept has_less_equal = requires(const R& a, const R& b) { a <= b; };
template <class R>
concept has_greater = requires(const R& a, const R& b) { a > b; };
template <class R>
concept has_greater_equal = requires(const R& a, const R& b) { a >= b; };
template <class R>
concept has_three_way = requires(const R& a, const R& b) { a <=> b; };
template <class R>
concept any_ordering =
    has_less<R> || has_less_equal<R> || has_greater<R> || has_greater_equal<R> || has_three_way<R>;

} // namespace conformance
