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
  std::size_t position() const { return pos_; } // of the next byte

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

  // An element the model lets go of while its referent is dead (an erase that cannot see it, an
  // insertion under its key) may still be counted by the container's size() while its death
  // runs, from a callback of that death ([weakref.containers.general]/7): such elements are
  // counted here, in the upper bound of size() during a death, until the next prune() (after a
  // step every death has been reported).
  std::size_t vm_dropped_dead = 0, km_dropped_dead = 0, sets_dropped_dead[2] = {0, 0};
  void vm_forget(int k) {
    if (auto it = vm.find(k); it != vm.end()) {
      vm_dropped_dead += !alive(it->second);
      vm.erase(it);
    }
  }
  void km_forget(int key) {
    if (auto it = km.find(key); it != km.end()) {
      km_dropped_dead += !alive(it->second.key_id);
      km.erase(it);
    }
  }
  void set_forget(int which, int key) {
    if (auto it = sets[which].find(key); it != sets[which].end()) {
      sets_dropped_dead[which] += !alive(it->second);
      sets[which].erase(it);
    }
  }
  void vm_put(int k, int id) {
    vm_forget(k);
    vm.emplace(k, id);
  }
  void km_put(int key, pair p) {
    km_forget(key);
    km.emplace(key, p);
  }
  void set_put(int which, int key, int id) {
    set_forget(which, key);
    sets[which].emplace(key, id);
  }

  // Alive means: some owner is left. A death starts when the last owner goes (that is when
  // every weak reference is cleared, [weakref.ref.death]/1), before the callbacks and ~T run,
  // so it is read off a std::weak_ptr, not off the destructor; the destructor tells that an
  // object is destroyed exactly once and that none is left at the end.
  void born(int id, const void* address) { constructed_.emplace(id, address); }
  void track(int id, const std::shared_ptr<void>& owner) { owners_.emplace(id, owner); }
  void died(int id) { check_that(constructed_.erase(id) == 1, "an object is destroyed once"); }
  bool alive(int id) const {
    auto it = owners_.find(id);
    return it != owners_.end() && !it->second.expired();
  }
  // How many std::shared_ptr own the object now (0 once it is dead).
  long owners(int id) const {
    auto it = owners_.find(id);
    return it == owners_.end() ? 0 : it->second.use_count();
  }
  std::size_t population() const { return constructed_.size(); }
  // The objects constructed and not yet destroyed, by id.
  const std::map<int, const void*>& objects() const { return constructed_; }

  // Entries whose referent died are not observable ([weakref.containers.general]/5).
  void prune() {
    vm_dropped_dead = km_dropped_dead = sets_dropped_dead[0] = sets_dropped_dead[1] = 0;
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
  std::map<int, const void*> constructed_;
  std::map<int, std::weak_ptr<void>> owners_;
};

// A weak container whose strongly held parts the fuzzer follows (each counts itself while it
// exists): which elements it holds, and which strongly held parts must still exist.
// [weakref.containers.general]/8: the death of an element reports it to the container at once;
// with std::allocator, or a polymorphic_allocator over a synchronized_pool_resource, it also
// destroys the strongly held part inside the death (`releases_at_death`); with any other
// allocator the part waits for the container's next purge (the next non-const lookup,
// insertion, erasure or iteration, or purge()).
struct held_model {
  struct element {
    int ref_id; // the weakly held object
    int part;   // the id of the strongly held part (-1: a default-constructed one, not counted)
  };
  std::map<int, element> elements; // by the model's key
  std::multiset<int> dead_held;    // parts of elements dead since the last purge: still there
  std::multiset<int> maybe_held;   // parts of elements that died during the last purging call
  bool releases_at_death = true;

  // Elements whose object died leave `elements`; their parts are held until the next purge
  // unless the death released them.
  void retire(const model& world, bool during_purge) {
    for (auto it = elements.begin(); it != elements.end();) {
      if (world.alive(it->second.ref_id)) {
        ++it;
        continue;
      }
      if (!releases_at_death && it->second.part >= 0)
        (during_purge ? maybe_held : dead_held).insert(it->second.part);
      it = elements.erase(it);
    }
  }
  // Around a member that purges: every element dead before it is gone after it, with its part.
  void before_purge(const model& world) {
    retire(world, false);
    dead_held.clear();
    maybe_held.clear();
  }
  void after_purge(const model& world) { retire(world, true); }
  // Everything goes (clear(), assignment, destruction).
  void reset() {
    elements.clear();
    dead_held.clear();
    maybe_held.clear();
  }
  std::optional<element> get(const model& world, int key) const {
    auto it = elements.find(key);
    if (it == elements.end() || !world.alive(it->second.ref_id)) return std::nullopt;
    return it->second;
  }
  std::size_t live_count(const model& world) const {
    std::size_t n = 0;
    for (const auto& [k, e] : elements) n += world.alive(e.ref_id);
    return n;
  }
  // The strongly held parts that must exist (at least) and may exist (at most), by id.
  void expected_parts(const model& world, std::map<int, int>& least,
                      std::map<int, int>& most) const {
    for (const auto& [k, e] : elements)
      if (e.part >= 0 && (world.alive(e.ref_id) || !releases_at_death)) {
        ++least[e.part];
        ++most[e.part];
      }
    for (int p : dead_held) {
      ++least[p];
      ++most[p];
    }
    for (int p : maybe_held) ++most[p];
  }
};

} // namespace weakref_fuzz
