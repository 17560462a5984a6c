// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The reference model of the differential fuzzer: plain std::maps that say what each weak
// container must hold, and the set of objects alive (learned from their destructors, because
// which objects live is std::shared_ptr's business, not the library's).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>

namespace weakref_fuzz {

inline std::size_t current_step = 0;
inline bool tracing = std::getenv("WEAKREF_FUZZ_TRACE") != nullptr;

// A failed check is a finding: say which, and abort so that libFuzzer keeps the input.
inline void check_that(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "weakref fuzz: check failed at step %zu: %s\n", current_step, what);
  std::abort();
}

template <class... Args>
void trace(const char* format, Args... args) {
  if (!tracing) return;
  std::fprintf(stderr, format, args...);
  std::fputc('\n', stderr);
}

// The exception some callbacks throw, and how many times the handler saw it.
struct callback_failure {};
inline std::size_t callback_failures_reported = 0;

// The fuzzer's bytes; reads as zeros once exhausted, so every input is a complete program.
class input {
public:
  input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  bool done() const { return pos_ >= size_; }

private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

class model {
public:
  struct pair {
    int key_id;
    int value_id; // -1: a null value
  };
  // A set (and what a set algebra result must be), by the elements' key field, which is what
  // the fuzzer's Hash and KeyEqual look at: key field -> the id of the element kept.
  using set_type = std::map<int, int>;

  std::map<int, int> vm;  // weak_value_map: key -> value id
  std::map<int, pair> km; // weak_key_map: key field -> key id and value id
  set_type sets[2];       // weak_set

  // Alive means: some owner is left. A death starts when the last owner goes (that is when
  // every weak reference is cleared, [weakref.ref.death]/1), before the callbacks and ~T run,
  // so it is read off a std::weak_ptr, not off the destructor; the destructor tells that an
  // object is destroyed exactly once and that none is left at the end.
  void born(int id) { constructed_.insert(id); }
  void track(int id, const std::shared_ptr<void>& owner) { owners_.emplace(id, owner); }
  void died(int id) { check_that(constructed_.erase(id) == 1, "an object is destroyed once"); }
  bool alive(int id) const {
    auto it = owners_.find(id);
    return it != owners_.end() && !it->second.expired();
  }
  std::size_t population() const { return constructed_.size(); }

  // Entries whose referent died are not observable ([weakref.containers.general]/5).
  void prune() {
    std::erase_if(vm, [&](const auto& kv) { return !alive(kv.second); });
    std::erase_if(km, [&](const auto& kv) { return !alive(kv.second.key_id); });
    for (set_type& s : sets) std::erase_if(s, [&](const auto& kv) { return !alive(kv.second); });
  }

  std::optional<int> vm_get(int k) const {
    auto it = vm.find(k);
    if (it == vm.end() || !alive(it->second)) return std::nullopt;
    return it->second;
  }
  std::optional<pair> km_get(int key) const {
    auto it = km.find(key);
    if (it == km.end() || !alive(it->second.key_id)) return std::nullopt;
    return it->second;
  }
  std::optional<int> set_get(int which, int key) const {
    auto it = sets[which].find(key);
    if (it == sets[which].end() || !alive(it->second)) return std::nullopt;
    return it->second;
  }

  // [weakref.set.algebra] over live sets; *this's (a's) element is kept when both have one.
  static set_type set_union(const set_type& a, const set_type& b) {
    set_type r = a;
    for (const auto& [k, id] : b) r.try_emplace(k, id);
    return r;
  }
  static set_type set_intersection(const set_type& a, const set_type& b) {
    set_type r;
    for (const auto& [k, id] : a)
      if (b.contains(k)) r.emplace(k, id);
    return r;
  }
  static set_type set_difference(const set_type& a, const set_type& b) {
    set_type r;
    for (const auto& [k, id] : a)
      if (!b.contains(k)) r.emplace(k, id);
    return r;
  }
  static set_type set_symmetric_difference(const set_type& a, const set_type& b) {
    set_type r = set_difference(a, b);
    for (const auto& [k, id] : b)
      if (!a.contains(k)) r.emplace(k, id);
    return r;
  }
  static bool is_subset(const set_type& a, const set_type& b) {
    for (const auto& [k, id] : a)
      if (!b.contains(k)) return false;
    return true;
  }

private:
  std::set<int> constructed_;
  std::map<int, std::weak_ptr<void>> owners_;
};

} // namespace weakref_fuzz
