// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Differential fuzz target: a random sequence of operations on refs, proxies and the three weak
// containers, each checked after every step against a simple reference model (model.hpp).
//
// One input = one program. The first bytes are read as operation codes and their arguments; a
// byte stream that runs out reads as zeros, so every input is a valid program. Built twice from
// this one file: as a libFuzzer target (the `fuzz` preset) and into a plain `main` that replays
// the committed corpus under CTest in every CI run (replay.cpp).
//
// What the model does NOT decide is which objects are alive: that is shared_ptr's business, so
// it is observed (each object's destructor updates the model). What the model decides is
// everything the library promises on top of it: which entries are visible
// ([weakref.containers.general]/5: a dead entry never, a live one always), what each lookup,
// insertion, erasure and set operation returns, size() (exact in a single-threaded program,
// [weakref.containers.general]/7), weak_ref_count, callbacks called exactly once and only for
// references alive at the death ([weakref.ref.death]), proxies throwing reference_error after
// death ([weakref.proxy.access]), type_error for what cannot be weakly referenced.
#include <algorithm>
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <memory_resource>
#include <optional>
#include <ranges>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "counting_resource.hpp"
#include "model.hpp"
import weakref;

namespace weakref_fuzz {
namespace {

// ---- the real objects -------------------------------------------------------------------

// A referent. `key` decides hashing and equality, so distinct objects can compare equal (the
// containers match referents by Hash and KeyEqual, as Python does); `id` is its identity.
// An object may own objects created before it (never after: no cycles, so nothing leaks).
// `value` and `cells` are what the forwarded operators of a proxy and the weak methods read and
// write (the program keeps a mirror of them, `state`); unsigned, so that arithmetic wraps.
struct object {
  struct state {
    std::uint32_t value;
    std::array<std::uint32_t, 3> cells;
  };

  const int id;
  const int key;
  std::vector<std::shared_ptr<object>> owns;
  model* world;
  std::uint32_t value;
  std::array<std::uint32_t, 3> cells;

  static state initial(int i, int k) {
    const auto u = static_cast<std::uint32_t>(i);
    return {u, {u, static_cast<std::uint32_t>(k), 0}};
  }

  object(int i, int k, model* w)
      : id(i), key(k), world(w), value(initial(i, k).value), cells(initial(i, k).cells) {
    world->born(id, this);
  }
  ~object() { world->died(id); }
  friend bool operator==(const object& a, const object& b) { return a.key == b.key; }

  // [weakref.proxy.ops], [weakref.proxy.call], [weakref.proxy.container]: what a proxy forwards.
  friend std::uint32_t operator+(const object& o, std::uint32_t x) { return o.value + x; }
  friend std::uint32_t operator+(std::uint32_t x, const object& o) { return x + o.value; }
  friend std::uint32_t operator-(const object& o, std::uint32_t x) { return o.value - x; }
  friend std::uint32_t operator-(std::uint32_t x, const object& o) { return x - o.value; }
  friend std::uint32_t operator*(const object& a, const object& b) { return a.value * b.value; }
  friend std::uint32_t operator/(const object& o, std::uint32_t x) { return o.value / x; }
  friend std::uint32_t operator%(const object& o, std::uint32_t x) { return o.value % x; }
  friend std::uint32_t operator&(const object& o, std::uint32_t x) { return o.value & x; }
  friend std::uint32_t operator|(const object& o, std::uint32_t x) { return o.value | x; }
  friend std::uint32_t operator^(std::uint32_t x, const object& o) { return x ^ o.value; }
  friend std::uint32_t operator<<(const object& o, std::uint32_t x) { return o.value << x; }
  friend std::uint32_t operator>>(const object& o, std::uint32_t x) { return o.value >> x; }
  friend bool operator==(const object& o, std::uint32_t x) { return o.value == x; }
  friend std::strong_ordering operator<=>(const object& a, const object& b) {
    return a.value <=> b.value;
  }
  friend std::strong_ordering operator<=>(const object& o, std::uint32_t x) {
    return o.value <=> x;
  }
  object& operator+=(std::uint32_t x) {
    value += x;
    return *this;
  }
  object& operator*=(std::uint32_t x) {
    value *= x;
    return *this;
  }
  std::uint32_t operator-=(std::uint32_t x) { return value -= x; } // not T&: returned as it is
  std::uint32_t operator-() const { return 0u - value; }
  std::uint32_t operator~() const { return ~value; }
  bool operator!() const { return value == 0; }
  object& operator++() {
    ++value;
    return *this;
  }
  object& operator--() {
    --value;
    return *this;
  }
  std::uint32_t operator++(int) { return value++; }
  std::uint32_t operator--(int) { return value--; }
  std::uint32_t operator()(std::uint32_t x) const {
    return value * x + static_cast<std::uint32_t>(id);
  }
  std::uint32_t& operator[](std::size_t i) { return cells[i]; }
  auto begin() { return cells.begin(); }
  auto end() { return cells.end(); }
  explicit operator bool() const { return value != 0; }

  // [weakref.method] What weak methods bind.
  std::uint32_t bump(std::uint32_t by) { return value += by; }
  std::uint32_t scale(std::uint32_t by) { return value * by; }
};

struct object_hash {
  std::size_t operator()(const object& o) const noexcept { return std::hash<int>{}(o.key); }
};

} // namespace
} // namespace weakref_fuzz

// [weakref.method.hash] A weak method is hashable when its object type is: by key, as the
// equality-policy containers hash it.
template <>
struct std::hash<weakref_fuzz::object> {
  std::size_t operator()(const weakref_fuzz::object& o) const noexcept {
    return weakref_fuzz::object_hash{}(o);
  }
};

namespace weakref_fuzz {
namespace {

// A strongly held part whose life the model follows: a key of the pmr weak_value_map, a value
// of the identity weak_key_maps. Each instance counts itself in `live` under its id while it
// exists (a default-constructed one, id -1, is not counted). Its text is too long for the small
// string buffer, so it allocates, from the container's memory resource when the container
// constructs it by uses-allocator construction ([weakref.containers.general]/2.2).
struct tracked {
  using allocator_type = std::pmr::polymorphic_allocator<char>;

  int id = -1;
  std::map<int, int>* live = nullptr;
  std::pmr::string text;

  explicit tracked(const allocator_type& a = {}) : text(a) {}
  tracked(int i, std::map<int, int>* l, const allocator_type& a = {})
      : id(i), live(l), text(label(i), a) {
    enter();
  }
  tracked(const tracked& o, const allocator_type& a = {})
      : id(o.id), live(o.live), text(o.text, a) {
    enter();
  }
  // A moved-from part still exists, so it still counts.
  tracked(tracked&& o, const allocator_type& a = {})
      : id(o.id), live(o.live), text(std::move(o.text), a) {
    enter();
  }
  tracked& operator=(const tracked& o) {
    leave();
    id = o.id;
    live = o.live;
    text = o.text;
    enter();
    return *this;
  }
  tracked& operator=(tracked&& o) {
    leave();
    id = o.id;
    live = o.live;
    text = std::move(o.text);
    enter();
    return *this;
  }
  ~tracked() { leave(); }
  friend bool operator==(const tracked& a, const tracked& b) { return a.id == b.id; }

  static std::string label(int i) {
    return "strongly held part number " + std::to_string(i) + " of a weak container";
  }

private:
  void enter() {
    if (live && id >= 0) ++(*live)[id];
  }
  void leave() {
    if (live && id >= 0 && --(*live)[id] == 0) live->erase(id);
  }
};

struct tracked_hash {
  using is_transparent = void;
  std::size_t operator()(const tracked& t) const noexcept { return std::hash<int>{}(t.id); }
  std::size_t operator()(int id) const noexcept { return std::hash<int>{}(id); }
};
struct tracked_equal {
  using is_transparent = void;
  bool operator()(const tracked& a, const tracked& b) const noexcept { return a.id == b.id; }
  bool operator()(const tracked& a, int b) const noexcept { return a.id == b; }
  bool operator()(int a, const tracked& b) const noexcept { return a == b.id; }
};

using value_map = weakref::weak_value_map<int, object>;
using key_map = weakref::weak_key_map<object, std::shared_ptr<object>, object_hash>;
using set = weakref::weak_set<object, object_hash>;
// The containers added for the pmr aliases, the identity policy and the release timing.
using by_identity = weakref::identity_hash<object>;
using same_object = weakref::identity_equal<object>;
using pmr_value_map = weakref::pmr::weak_value_map<tracked, object, tracked_hash, tracked_equal>;
using pmr_key_map = weakref::pmr::weak_key_map<object, tracked, by_identity, same_object>;
using pmr_set = weakref::pmr::weak_set<object, by_identity, same_object>;
using identity_key_map = weakref::weak_key_map<object, tracked, by_identity, same_object>;
using method_pointer = std::uint32_t (object::*)(std::uint32_t);
using method = weakref::weak_method<object, method_pointer>;

constexpr std::size_t slot_count = 8;
constexpr std::size_t ref_count = 8;
constexpr std::size_t proxy_count = 4;
constexpr int key_range = 6;

// One weak reference identity: every copy of a weak_ref shares `token`
// ([weakref.ref.general]/3), so the model can tell identities apart.
struct ref_token {
  int target;
  bool has_callback;
  int calls = 0;
  bool orphaned = false; // every handle went while the target was alive: must never call back
};

struct ref_slot {
  weakref::weak_ref<object> ref;
  std::shared_ptr<ref_token> token;
};

struct proxy_slot {
  weakref::weak_proxy<object> proxy;
  int target = -1;
};

// [weakref.finalize] One finalizer, as the model sees it: alive until called, detached or run
// by its object's death; its function counts its calls (at most one, [weakref.finalize.call]/2).
struct finalizer_token {
  int target;
  int arg;
  std::uint8_t action;
  bool alive = true;
  bool atexit = true;
  int calls = 0;          // counted by the function
  int expected_calls = 0; // counted by the model
};

class program;

// The function of the fuzzer's finalizers; copyable, so that peek() is available.
struct finalizer_function {
  program* prog;
  std::shared_ptr<finalizer_token> token;
  int operator()(int arg) const; // defined after program
};

using finalizer = weakref::finalize<object, finalizer_function, int>;
constexpr std::size_t finalizer_count = 4;

struct finalizer_slot {
  finalizer handle;
  std::shared_ptr<finalizer_token> token;
};

// [weakref.method] One weak method identity (copies share it, as weak_ref's copies do).
struct method_token {
  int target;
  int target_key;
  bool scale; // bound to object::scale, else to object::bump
  bool has_callback;
  std::uint8_t action;
  int calls = 0;
  bool orphaned = false;           // every handle went while the target was alive
  std::optional<std::size_t> hash; // [weakref.method.hash] cached when first taken
};
constexpr std::size_t method_count = 4;

struct method_slot {
  method handle;
  std::shared_ptr<method_token> token;
};

// Marks a container as in use for the duration of one of its operations, so that a callback
// run by a death inside that operation leaves it alone: like std containers, a weak container
// is not reentrant ([weakref.value.map]/3).
struct busy_guard {
  bool& flag;
  explicit busy_guard(bool& f) : flag(f) { flag = true; }
  ~busy_guard() { flag = false; }
};

class program {
public:
  program(input in, counting_resource* resource) : in_(in), resource_(resource) {
    make_pmr(resource_);
    pvm_model_.releases_at_death = pkm_model_.releases_at_death = false;
  }

  void run() {
    while (!in_.done() && steps_ < 512) {
      current_step = steps_;
      step();
      ++steps_;
      check();
    }
    teardown();
  }

private:
  // ---- helpers ---------------------------------------------------------------------------
  std::shared_ptr<object> slot(std::size_t i) { return slots_[i % slot_count]; } // a local pin

  std::shared_ptr<object> fresh(int key) {
    auto made = weakref::make_shared<object>(next_id_++, key % key_range, &world_);
    world_.track(made->id, made);
    states_.emplace(made->id, object::initial(made->id, made->key));
    keys_.emplace(made->id, made->key);
    return made;
  }

  // ---- the operations --------------------------------------------------------------------
  void step() {
    const std::size_t at = in_.position();
    const std::uint8_t op = in_.byte();
    if (op >= 240) {
      trace("step %zu at byte %zu extended op %u", steps_, at, op - 240u);
      extended_step(op - 240u);
      return;
    }
    trace("step %zu at byte %zu op %u", steps_, at, op % 30u);
    switch (op % 30u) {
    case 0: { // a new object in a slot; the old one may die here
      const std::size_t s = in_.byte() % slot_count;
      slots_[s] = fresh(in_.byte());
      break;
    }
    case 1:
      slots_[in_.byte() % slot_count].reset();
      break;
    case 2: { // an object owns an older one
      auto a = slot(in_.byte()), b = slot(in_.byte());
      if (a && b && b->id < a->id) a->owns.push_back(b);
      break;
    }
    case 3: {
      auto a = slot(in_.byte());
      if (a) {
        std::vector<std::shared_ptr<object>> gone;
        gone.swap(a->owns); // deaths run after `owns` is consistent again
      }
      break;
    }
    case 4:
      make_ref();
      break;
    case 5:
      refs_[in_.byte() % ref_count] = refs_[in_.byte() % ref_count];
      break; // copy
    case 6:
      release_ref(in_.byte() % ref_count);
      break;
    case 7: { // move: the source is left empty
      const std::size_t from = in_.byte() % ref_count, to = in_.byte() % ref_count;
      if (from != to) {
        release_ref(to);
        refs_[to] = std::move(refs_[from]);
        check_that(!refs_[from].ref.lock() && refs_[from].ref.expired(), "moved-from ref empty");
        refs_[from] = {};
      }
      break;
    }
    case 8:
      proxy_op();
      break;
    case 9:
      vm_insert(in_.byte() % 8, in_.byte(), in_.byte() % 3);
      break;
    case 10:
      vm_erase(in_.byte() % 8);
      break;
    case 11:
      vm_lookup(in_.byte() % 8);
      break;
    case 12:
      km_insert(in_.byte(), in_.byte(), in_.byte() % 3);
      break;
    case 13:
      km_erase(in_.byte());
      break;
    case 14:
      km_lookup(in_.byte());
      break;
    case 15:
      set_add(in_.byte() % 2, in_.byte());
      break;
    case 16:
      set_remove(in_.byte() % 2, in_.byte());
      break;
    case 17:
      set_algebra(in_.byte());
      break;
    case 18:
      set_compare();
      break;
    case 19:
      copy_op(in_.byte());
      break;
    case 20:
      erase_if_op(in_.byte());
      break;
    case 21:
      pop_op(in_.byte());
      break;
    case 22:
      clear_op(in_.byte());
      break;
    case 23: { // purge, reserve, rehash: no visible change
      const std::uint8_t which = in_.byte();
      busy_guard g1(vm_busy_), g2(km_busy_), g3(set_busy_[0]);
      if (which % 3 == 0) {
        vm_.purge();
        km_.purge();
        sets_[0].purge();
      }
      if (which % 3 == 1) {
        vm_.reserve(which);
        km_.reserve(which / 2);
        sets_[0].reserve(which / 4);
      }
      if (which % 3 == 2) {
        vm_.rehash(which);
        km_.rehash(0);
        sets_[0].rehash(which);
      }
      break;
    }
    case 24:
      iterate_with_death(in_.byte(), in_.byte());
      break;
    case 25:
      foreign_and_empty(in_.byte());
      break;
    case 26: { // swap the two sets, member and hidden friend
      busy_guard g0(set_busy_[0]), g1(set_busy_[1]);
      if (in_.byte() % 2)
        sets_[0].swap(sets_[1]);
      else
        swap(sets_[0], sets_[1]);
      std::swap(world_.sets[0], world_.sets[1]);
      break;
    }
    case 27:
      keyrefs_op();
      break;
    case 28: { // [weakref.ref.eq] both alive: the referents compare; else: the same reference
      const ref_slot& a = refs_[in_.byte() % ref_count];
      const ref_slot& b = refs_[in_.byte() % ref_count];
      if (!a.token || !b.token) break;
      auto pa = a.ref.lock(), pb = b.ref.lock();
      const bool expected = pa && pb ? pa->key == pb->key : a.token == b.token;
      check_that((a.ref == b.ref) == expected && (a.ref != b.ref) == !expected, "ref ==");
      break;
    }
    default:
      vm_subscript(in_.byte() % 8, in_.byte());
      break;
    }
  }

  // [weakref.ref.cons], [weakref.ref.callback] A ref with one of a few callbacks, some of
  // which mutate other objects: release an owner (a death inside a death), destroy another
  // ref (whose pending callback must still run), or change a container that is not in use.
  void make_ref() {
    const std::size_t r = in_.byte() % ref_count;
    auto target = slot(in_.byte());
    const std::uint8_t action = in_.byte();
    const std::uint8_t arg = in_.byte();
    if (!target) return;
    auto token = std::make_shared<ref_token>(ref_token{target->id, action % 7 != 0});
    ref_slot made;
    if (!token->has_callback) {
      made = {weakref::weak_ref<object>(target), token};
    } else {
      auto cb = [this, token, action, arg](weakref::weak_ref<object> self) {
        // [weakref.ref.death]/1 cleared before any callback.
        check_that(!self.lock() && self.expired(), "callback sees its ref cleared");
        ++token->calls;
        check_that(token->calls == 1, "a callback runs once");
        switch (action % 7) {
        case 1:
          slots_[arg % slot_count].reset();
          break;
        case 2:
          refs_[arg % ref_count] = {};
          break;
        case 3:
          if (!vm_busy_) vm_insert(arg % 8, arg / 8, 1);
          break;
        case 4:
          if (!set_busy_[arg % 2]) set_remove(arg % 2, arg / 2);
          break;
        case 5:
          if (!km_busy_) km_erase(arg);
          break;
        case 6:
          ++callback_failures_thrown_;
          throw callback_failure{};
        }
      };
      made = {weakref::weak_ref<object>(target, cb), token};
    }
    release_ref(r);
    refs_[r] = std::move(made);
    tokens_.push_back(std::move(token));
  }

  void release_ref(std::size_t r) { refs_[r] = {}; }

  // [weakref.proxy.access] A proxy forwards to a live referent and throws reference_error once
  // it has died.
  void proxy_op() {
    const std::size_t p = in_.byte() % proxy_count;
    if (auto target = slot(in_.byte()); target && in_.byte() % 2)
      proxies_[p] = {weakref::weak_proxy<object>(target), target->id};
    const std::size_t q = in_.byte() % proxy_count;
    if (proxies_[q].target < 0) return;
    const bool alive = world_.alive(proxies_[q].target);
    try {
      const int id = proxies_[q].proxy->id;
      check_that(alive && id == proxies_[q].target, "a live proxy reaches its referent");
    } catch (const weakref::reference_error&) {
      check_that(!alive, "only a dead proxy throws reference_error");
    }
  }

  // ---- weak_value_map ([weakref.value.map]) ------------------------------------------------
  void vm_insert(int k, std::uint8_t s, int how) {
    auto v = slot(s);
    if (!v) return;
    busy_guard g(vm_busy_);
    const std::optional<int> before = world_.vm_get(k);
    if (how == 0) {
      auto [it, inserted] = vm_.try_emplace(k, v);
      check_that(inserted == !before, "vm try_emplace inserts iff no live value");
      check_that((*it).first == k && (*it).second->id == (before ? *before : v->id),
                 "vm try_emplace's iterator");
      if (inserted) world_.vm_put(k, v->id);
    } else if (how == 1) {
      auto [it, inserted] = vm_.insert_or_assign(k, v);
      trace("  vm insert_or_assign %d -> id %d: inserted %d, before %d, yields id %d", k, v->id,
            int(inserted), before ? *before : -1, (*it).second ? (*it).second->id : -1);
      check_that(inserted == !before && (*it).second == v, "vm insert_or_assign");
      world_.vm_put(k, v->id);
    } else {
      auto [it, inserted] = vm_.insert({k, v});
      check_that(inserted == !before, "vm insert");
      if (inserted) world_.vm_put(k, v->id);
    }
  }

  void vm_subscript(int k, std::uint8_t s) {
    busy_guard g(vm_busy_);
    if (auto v = slot(s)) {
      vm_[k] = v; // Python: d[k] = v
      world_.vm_put(k, v->id);
    } else {
      const std::optional<int> before = world_.vm_get(k);
      try {
        std::shared_ptr<object> got = vm_[k];
        check_that(before && got->id == *before, "vm m[k] reads a live value");
      } catch (const weakref::key_error&) {
        check_that(!before, "vm m[k] throws key_error only when absent");
      }
    }
  }

  void vm_erase(int k) {
    busy_guard g(vm_busy_);
    const bool present = world_.vm_get(k).has_value();
    check_that(vm_.erase(k) == (present ? 1u : 0u), "vm erase(k) count");
    world_.vm_forget(k);
  }

  void vm_lookup(int k) {
    busy_guard g(vm_busy_);
    const std::optional<int> expected = world_.vm_get(k);
    const value_map& c = vm_;
    check_that(c.contains(k) == expected.has_value(), "vm contains");
    auto it = vm_.find(k);
    check_that((it != vm_.end()) == expected.has_value(), "vm find");
    if (expected) {
      check_that((*it).second->id == *expected, "vm find's value");
      check_that(vm_.at(k)->id == *expected && c.get(k)->id == *expected, "vm at/get");
    } else {
      check_that(c.get(k) == nullptr, "vm get of an absent key");
      try {
        (void)vm_.at(k);
        check_that(false, "vm at of an absent key throws");
      } catch (const weakref::key_error&) {
      }
    }
  }

  // ---- weak_key_map ([weakref.key.map]) ----------------------------------------------------
  // A weak_key_map operation may kill the key of the entry it finds: its purge destroys values
  // of dead entries, and replacing or erasing a value destroys it; either may have owned that
  // key (a value owning its own key is allowed, and keeps its entry until then). So an entry
  // `before` that is dead after the call may have been seen alive or not by it: both answers
  // are accepted then, and the model follows the one given.
  void km_insert(std::uint8_t ks, std::uint8_t vs, int how) {
    auto k = slot(ks);
    auto v = slot(vs); // may be empty: a null value is a value
    if (!k) return;
    busy_guard g(km_busy_);
    const std::optional<model::pair> before = world_.km_get(k->key);
    const int vid = v ? v->id : -1;
    auto answer_is_possible = [&](bool inserted) {
      const bool lost = before && !world_.alive(before->key_id);
      return lost || inserted == !before;
    };
    auto record = [&](bool inserted) {
      world_.km_put(k->key, {inserted ? k->id : before->key_id, vid});
    };
    if (how == 0) {
      auto [it, inserted] = km_.try_emplace(k, v);
      check_that(answer_is_possible(inserted), "km try_emplace inserts iff no live equal key");
      check_that((*it).first->id == (inserted ? k->id : before->key_id), "km keeps the first key");
      if (inserted) record(true);
    } else if (how == 1) {
      auto [it, inserted] = km_.insert_or_assign(k, v);
      check_that(answer_is_possible(inserted), "km insert_or_assign");
      check_that((*it).second == v, "km insert_or_assign's value");
      record(inserted);
    } else {
      auto it = km_.find(*k); // pins the key it finds
      const bool found = it != km_.end();
      check_that(found ? before && (*it).first->id == before->key_id
                       : !before || !world_.alive(before->key_id),
                 "km find");
      std::shared_ptr<object>& value = km_[k]; // value-initialized (null) when absent
      check_that(found ? (value ? value->id : -1) == before->value_id : value == nullptr,
                 "km operator[]");
      value = v;
      record(!found);
    }
  }

  void km_erase(std::uint8_t ks) {
    auto k = slot(ks);
    if (!k) return;
    busy_guard g(km_busy_);
    const std::optional<model::pair> before = world_.km_get(k->key);
    const std::size_t erased = km_.erase(*k);
    const bool lost = before && !world_.alive(before->key_id);
    check_that(lost ? erased <= 1 : erased == (before ? 1u : 0u), "km erase(k) count");
    world_.km_forget(k->key);
  }

  void km_lookup(std::uint8_t ks) {
    auto k = slot(ks);
    if (!k) return;
    busy_guard g(km_busy_);
    auto it = km_.find(k); // purges first: the model is read after it
    const std::optional<model::pair> expected = world_.km_get(k->key);
    const key_map& c = km_;
    check_that(c.contains(*k) == expected.has_value(), "km contains");
    check_that((it != km_.end()) == expected.has_value(), "km find");
    if (expected) {
      check_that((*it).first->id == expected->key_id, "km find's key");
      const std::shared_ptr<object>& v = km_.at(*k);
      check_that((v ? v->id : -1) == expected->value_id, "km at");
      auto got = c.get(*k);
      check_that(got && (*got ? (*got)->id : -1) == expected->value_id, "km get");
    } else {
      check_that(!c.get(*k).has_value(), "km get of an absent key");
    }
  }

  // ---- weak_set ([weakref.set]) -------------------------------------------------------------
  void set_add(int which, std::uint8_t s) {
    auto x = slot(s);
    if (!x) return;
    busy_guard g(set_busy_[which]);
    const std::optional<int> before = world_.set_get(which, x->key);
    auto [it, inserted] = sets_[which].insert(x);
    check_that(inserted == !before && (*it)->id == (before ? *before : x->id), "set insert");
    if (inserted) world_.set_put(which, x->key, x->id);
  }

  void set_remove(int which, std::uint8_t s) {
    auto x = slot(s);
    if (!x) return;
    busy_guard g(set_busy_[which]);
    const bool present = world_.set_get(which, x->key).has_value();
    if (s % 2) {
      try {
        sets_[which].remove(x);
        check_that(present, "set remove of a present element");
      } catch (const weakref::key_error&) {
        check_that(!present, "set remove throws key_error only when absent");
      }
    } else {
      check_that(sets_[which].erase(*x) == (present ? 1u : 0u), "set erase count");
    }
    world_.set_forget(which, x->key);
  }

  // [weakref.set.algebra] Results keep *this's element when both hold equal objects.
  void set_algebra(std::uint8_t how) {
    busy_guard g0(set_busy_[0]), g1(set_busy_[1]);
    world_.prune();
    const model::set_type a = world_.sets[0], b = world_.sets[1];
    model::set_type expected;
    switch (how % 4) {
    case 0:
      expected = model::set_union(a, b);
      break;
    case 1:
      expected = model::set_intersection(a, b);
      break;
    case 2:
      expected = model::set_difference(a, b);
      break;
    default:
      expected = model::set_symmetric_difference(a, b);
      break;
    }
    if (how & 4) { // in place
      switch (how % 4) {
      case 0:
        sets_[0] |= sets_[1];
        break;
      case 1:
        sets_[0] &= sets_[1];
        break;
      case 2:
        sets_[0] -= sets_[1];
        break;
      default:
        sets_[0] ^= sets_[1];
        break;
      }
      world_.sets[0] = expected;
    } else {
      set result;
      switch (how % 4) {
      case 0:
        result = sets_[0] | sets_[1];
        break;
      case 1:
        result = sets_[0] & sets_[1];
        break;
      case 2:
        result = sets_[0] - sets_[1];
        break;
      default:
        result = sets_[0] ^ sets_[1];
        break;
      }
      check_set(result, expected, "set algebra result");
      if (how & 8) { // keep the result: it becomes set 1
        sets_[1] = std::move(result);
        world_.sets[1] = expected;
      }
    }
  }

  void set_compare() {
    busy_guard g0(set_busy_[0]), g1(set_busy_[1]);
    world_.prune();
    const model::set_type& a = world_.sets[0];
    const model::set_type& b = world_.sets[1];
    const bool sub = model::is_subset(a, b), super = model::is_subset(b, a);
    check_that((sets_[0] == sets_[1]) == (sub && super), "set ==");
    check_that(sets_[0].issubset(sets_[1]) == sub && sets_[0].issuperset(sets_[1]) == super,
               "set issubset issuperset");
    check_that((sets_[0] != sets_[1]) == !(sub && super), "set !=");
    check_that(sets_[0].isdisjoint(sets_[1]) == model::set_intersection(a, b).empty(),
               "set isdisjoint");
  }

  // ---- copies, erase_if, pop, clear ---------------------------------------------------------
  void copy_op(std::uint8_t how) {
    busy_guard g0(vm_busy_), g1(km_busy_), g2(set_busy_[0]), g3(set_busy_[1]);
    world_.prune();
    switch (how % 7) {
    case 6: // Python: d.update(d), s.update(s): no change ([weakref.value.map] update)
      vm_.update(vm_);
      km_.update(km_);
      sets_[0].update(sets_[0]);
      break;
    case 0: {
      value_map copy(vm_);
      check_vm(copy, "vm copy");
      if (how & 8) vm_ = std::move(copy);
      break;
    }
    case 1: {
      value_map copy;
      copy = vm_;
      check_that(copy == vm_, "vm copy assignment compares equal");
      vm_ = copy;
      break;
    }
    case 2: {
      key_map copy(km_);
      check_km(copy, "km copy");
      check_that(copy == km_, "km copy compares equal");
      if (how & 8) km_ = std::move(copy);
      break;
    }
    case 3: {
      set copy = sets_[0].copy();
      check_set(copy, world_.sets[0], "set copy");
      sets_[1] = copy;
      world_.sets[1] = world_.sets[0];
      break;
    }
    case 4: { // Python's update
      sets_[0].update(sets_[1]);
      world_.sets[0] = model::set_union(world_.sets[0], world_.sets[1]);
      break;
    }
    default: { // moved-from containers are empty and usable
      value_map moved(std::move(vm_));
      check_vm(moved, "vm moved");
      check_that(vm_.empty() && vm_.begin() == vm_.end(), "moved-from vm is empty");
      vm_ = std::move(moved);
      break;
    }
    }
  }

  void erase_if_op(std::uint8_t how) {
    const int parity = how / 4 % 2;
    world_.prune();
    switch (how % 4) {
    case 0: {
      busy_guard g(vm_busy_);
      const std::size_t n = erase_if(vm_, [&](const auto& kv) { return kv.first % 2 == parity; });
      check_that(
          n == std::erase_if(world_.vm, [&](const auto& kv) { return kv.first % 2 == parity; }),
          "vm erase_if count");
      break;
    }
    case 1: {
      // Erasing destroys values, which may kill keys of entries not yet visited: those are
      // skipped, so the count lies between the matching entries alive before and after.
      busy_guard g(km_busy_);
      std::vector<int> matching;
      for (const auto& [k, e] : world_.km)
        if (k % 2 == parity) matching.push_back(e.key_id);
      const std::size_t n =
          erase_if(km_, [&](const auto& kv) { return kv.first->key % 2 == parity; });
      const auto survivors =
          std::ranges::count_if(matching, [&](int id) { return world_.alive(id); });
      check_that(n <= matching.size() && n >= static_cast<std::size_t>(survivors),
                 "km erase_if count");
      std::erase_if(world_.km, [&](const auto& kv) { return kv.first % 2 == parity; });
      break;
    }
    default: {
      const int which = how % 2;
      busy_guard g(set_busy_[which]);
      const std::size_t n =
          erase_if(sets_[which], [&](const auto& x) { return x->key % 2 == parity; });
      check_that(n == std::erase_if(world_.sets[which],
                                    [&](const auto& kv) { return kv.first % 2 == parity; }),
                 "set erase_if count");
      break;
    }
    }
  }

  void pop_op(std::uint8_t how) {
    world_.prune();
    switch (how % 3) {
    case 0: {
      busy_guard g(vm_busy_);
      try {
        auto [k, v] = vm_.popitem();
        check_that(world_.vm_get(k) == v->id, "vm popitem yields a live entry");
        world_.vm.erase(k);
      } catch (const weakref::key_error&) {
        check_that(world_.vm.empty(), "vm popitem throws only when empty");
      }
      break;
    }
    case 1: {
      busy_guard g(km_busy_);
      try {
        auto [k, v] = km_.popitem();
        auto expected = world_.km_get(k->key);
        check_that(expected && expected->key_id == k->id && expected->value_id == (v ? v->id : -1),
                   "km popitem yields a live entry");
        world_.km.erase(k->key);
      } catch (const weakref::key_error&) {
        // popitem's purge destroys the values of dead entries, and such a value may have owned
        // the last live key: emptiness is judged after it (a finding: regress-key-map-popitem-
        // purge-kills-last-key).
        world_.prune();
        check_that(world_.km.empty(), "km popitem throws only when empty");
      }
      break;
    }
    default: {
      const int which = how / 3 % 2;
      busy_guard g(set_busy_[which]);
      try {
        auto x = sets_[which].pop();
        check_that(world_.set_get(which, x->key) == x->id, "set pop yields a live element");
        world_.sets[which].erase(x->key);
      } catch (const weakref::key_error&) {
        check_that(world_.sets[which].empty(), "set pop throws only when empty");
      }
      break;
    }
    }
  }

  void clear_op(std::uint8_t how) {
    switch (how % 4) {
    case 0: {
      busy_guard g(vm_busy_);
      vm_.clear();
      world_.vm.clear();
      break;
    }
    case 1: {
      busy_guard g(km_busy_);
      km_.clear();
      world_.km.clear();
      break;
    }
    default: {
      busy_guard g(set_busy_[how % 2]);
      sets_[how % 2].clear();
      world_.sets[how % 2].clear();
      break;
    }
    }
  }

  // [weakref.containers.general]/5 Deaths while iterating: the visited element is pinned, no
  // dead element is yielded, every element alive throughout is yielded once.
  void iterate_with_death(std::uint8_t which, std::uint8_t victim) {
    world_.prune();
    busy_guard g0(vm_busy_), g1(km_busy_), g2(set_busy_[0]);
    // (key, id): a weak_value_map may hold one value under several keys.
    std::multiset<std::pair<int, int>> seen;
    bool killed = false;
    auto kill_once = [&] {
      if (!killed) {
        killed = true;
        slots_[victim % slot_count].reset();
      }
    };
    std::set<std::pair<int, int>> at_start;
    switch (which % 3) {
    case 0:
      for (const auto& [k, v] : world_.vm) at_start.emplace(k, v);
      for (auto it = vm_.begin(); it != vm_.end(); ++it) {
        kill_once();
        auto [k, v] = *it;
        check_that(world_.alive(v->id) && world_.vm_get(k) == v->id, "vm iteration yields live");
        seen.emplace(k, v->id);
      }
      break;
    case 1:
      for (const auto& [k, e] : world_.km) at_start.emplace(-1, e.key_id);
      for (auto it = km_.begin(); it != km_.end(); ++it) {
        kill_once();
        auto [k, v] = *it;
        check_that(world_.alive(k->id), "km iteration yields live keys");
        seen.emplace(-1, k->id);
      }
      break;
    default:
      for (const auto& [k, id] : world_.sets[0]) at_start.emplace(-1, id);
      for (const std::shared_ptr<object>& x : sets_[0]) {
        kill_once();
        check_that(world_.alive(x->id), "set iteration yields live elements");
        seen.emplace(-1, x->id);
      }
      break;
    }
    for (const auto& e : seen)
      check_that(seen.count(e) == 1 && at_start.contains(e), "yielded once");
    for (const auto& e : at_start)
      if (world_.alive(e.second)) check_that(seen.contains(e), "a live element is never skipped");
  }

  // PY-INTRO-5: an empty or foreign shared_ptr cannot be weakly referenced: type_error, and the
  // container is unchanged.
  void foreign_and_empty(std::uint8_t how) {
    std::shared_ptr<object> bad;
    if (how % 2) bad = std::make_shared<object>(next_id_++, how % key_range, &world_);
    auto expect_type_error = [&](auto&& f, const char* what) {
      try {
        f();
        check_that(false, what);
      } catch (const weakref::type_error&) {
      }
    };
    busy_guard g0(vm_busy_), g1(km_busy_), g2(set_busy_[0]);
    switch (how / 2 % 4) {
    case 0:
      expect_type_error([&] { weakref::weak_ref<object> r(bad); }, "ref type_error");
      break;
    case 1:
      expect_type_error([&] { vm_.insert_or_assign(how % 8, bad); }, "vm type_error");
      break;
    case 2:
      expect_type_error([&] { km_.try_emplace(bad, nullptr); }, "km type_error");
      break;
    default:
      expect_type_error([&] { sets_[0].add(bad); }, "set type_error");
      break;
    }
  }

  // Python: keyrefs()/valuerefs() are the containers' own references: live ones lock to the
  // entries' referents, and holding them never keeps an entry visible after its death.
  void keyrefs_op() {
    busy_guard g0(vm_busy_), g1(km_busy_);
    world_.prune();
    std::multiset<int> v_ids, k_ids, v_expected, k_expected;
    for (const auto& r : vm_.valuerefs())
      if (auto p = r.lock()) v_ids.insert(p->id);
    for (const auto& r : km_.keyrefs())
      if (auto p = r.lock()) k_ids.insert(p->id);
    for (const auto& [k, v] : world_.vm) v_expected.insert(v);
    for (const auto& [k, e] : world_.km) k_expected.insert(e.key_id);
    check_that(v_ids == v_expected && k_ids == k_expected, "keyrefs/valuerefs");
  }

  // ---- the operations of op bytes 240 to 255 ------------------------------------------------
  // Bytes below 240 keep their meaning (op % 30), so that the older corpus still runs the
  // programs it was chosen for wherever it does not use one of these 16 bytes.
  void extended_step(unsigned op) {
    switch (op) {
    case 0:
    case 12:
      proxy_operators();
      break;
    case 1:
      make_finalizer();
      break;
    case 2:
      use_finalizer();
      break;
    case 3:
      make_method();
      break;
    case 4:
      use_method();
      break;
    case 5:
    case 13:
      pvm_op();
      break;
    case 6:
    case 14:
      identity_key_map_op(*pkm_, pkm_model_, pkm_live_, pkm_busy_);
      break;
    case 7:
      identity_key_map_op(ikm_, ikm_model_, ikm_live_, ikm_busy_);
      break;
    case 8:
    case 15:
      pset_op();
      break;
    case 9:
      rebuild_pmr(in_.byte());
      break;
    case 10:
      copy_new(in_.byte());
      break;
    default:
      iterate_new_with_death(in_.byte(), in_.byte());
      break;
    }
  }

  // ---- proxies: operators, call, subscript, range ([weakref.proxy.ops], [weakref.proxy.call],
  // [weakref.proxy.container]) --------------------------------------------------------------
  // Each result is checked against the mirror of the referent (`states_`); a proxy whose
  // referent died throws reference_error from every one of them and changes nothing
  // ([weakref.proxy.access]/1, PY-REFERR-1); lock() and expired() never throw.
  void proxy_operators() {
    const unsigned kind = in_.byte() % 16u;
    const proxy_slot& p = proxies_[in_.byte() % proxy_count];
    const proxy_slot& q = proxies_[in_.byte() % proxy_count];
    const std::uint32_t x = in_.byte();
    const std::size_t i = in_.byte() % 3, j = in_.byte() % 3;
    const bool two = kind == 2 || kind == 3 || kind == 10; // the ones with a second proxy
    if (p.target < 0 || (two && q.target < 0)) return;
    const bool alive = world_.alive(p.target) && (!two || world_.alive(q.target));
    trace("  proxy operator %u on ids %d, %d (alive %d) x %u", kind, p.target, q.target, int(alive),
          x);
    const weakref::weak_proxy<object>& a = p.proxy;
    const weakref::weak_proxy<object>& b = q.proxy;
    object::state& sa = states_.at(p.target);
    object::state& sb = states_.at(q.target < 0 ? p.target : q.target);
    if (kind == 15) { // [weakref.proxy.obs]
      auto owner = a.lock();
      check_that(alive ? owner && owner->id == p.target : !owner, "proxy lock()");
      check_that(a.expired() == !alive, "proxy expired()");
      return;
    }
    try {
      switch (kind) {
      case 0: {
        const std::uint32_t r1 = a + x, r2 = x + a;
        check_that(r1 == sa.value + x && r2 == x + sa.value, "proxy +");
        break;
      }
      case 1: {
        const std::uint32_t r1 = a - x, r2 = x - a, r3 = a / (x | 1u), r4 = a % (x | 1u);
        check_that(r1 == sa.value - x && r2 == x - sa.value && r3 == sa.value / (x | 1u) &&
                       r4 == sa.value % (x | 1u),
                   "proxy - / %");
        break;
      }
      case 2: { // both operands proxies: both are unwrapped
        const std::uint32_t product = a * b;
        const bool same = a == b, differ = a != b;
        check_that(product == sa.value * sb.value, "proxy * proxy");
        check_that(same == (keys_.at(p.target) == keys_.at(q.target)) && differ == !same,
                   "proxy == proxy compares the referents");
        break;
      }
      case 3: {
        const bool lt = a<b, le = a <= b, gt = a> b, ge = a >= b;
        check_that(lt == (sa.value < sb.value) && le == (sa.value <= sb.value) &&
                       gt == (sa.value > sb.value) && ge == (sa.value >= sb.value),
                   "proxy ordering");
        break;
      }
      case 4: {
        const bool eq = a == x, req = x == a, ne = a != x, lt = a<x, rgt = x> a;
        check_that(eq == (sa.value == x) && req == eq && ne == !eq && lt == (sa.value < x) &&
                       rgt == (x > sa.value),
                   "proxy compared with a value, either side");
        break;
      }
      case 5: {
        const std::uint32_t s = x % 32u;
        const std::uint32_t r1 = a & x, r2 = a | x, r3 = x ^ a, r4 = a << s, r5 = a >> s;
        check_that(r1 == (sa.value & x) && r2 == (sa.value | x) && r3 == (x ^ sa.value) &&
                       r4 == (sa.value << s) && r5 == (sa.value >> s),
                   "proxy bitwise and shifts");
        break;
      }
      case 6: { // [weakref.proxy.ops]/3 T& results give the proxy; others are returned
        const weakref::weak_proxy<object>& r1 = (a += x);
        sa.value += x;
        check_that(&r1 == &a, "proxy += returns the proxy");
        const std::uint32_t r2 = (a -= j);
        sa.value -= static_cast<std::uint32_t>(j);
        check_that(r2 == sa.value, "proxy -= returns the referent's result");
        const weakref::weak_proxy<object>& r3 = (a *= x);
        sa.value *= x;
        check_that(&r3 == &a, "proxy *= returns the proxy");
        break;
      }
      case 7: { // [weakref.proxy.ops]/4
        const std::uint32_t neg = -a, inv = ~a;
        const bool zero = !a;
        check_that(neg == 0u - sa.value && inv == ~sa.value && zero == (sa.value == 0),
                   "proxy unary operators");
        break;
      }
      case 8: {
        const weakref::weak_proxy<object>& r1 = ++a;
        ++sa.value;
        check_that(&r1 == &a, "proxy ++ returns the proxy");
        const std::uint32_t old = a++;
        check_that(old == sa.value++, "proxy postfix ++");
        const weakref::weak_proxy<object>& r2 = --a;
        --sa.value;
        check_that(&r2 == &a, "proxy -- returns the proxy");
        const std::uint32_t old2 = a--;
        check_that(old2 == sa.value--, "proxy postfix --");
        break;
      }
      case 9: { // [weakref.proxy.call] the callable kind
        static_assert(weakref::callable_proxy_type<weakref::weak_proxy<object>>);
        const std::uint32_t r = a(x);
        check_that(r == sa.value * x + static_cast<std::uint32_t>(p.target), "proxy call");
        break;
      }
      case 10: { // [weakref.proxy.container]/1 p[i] = q[j] assigns the element
        a[i] = b[j];
        sa.cells[i] = sb.cells[j];
        const std::uint32_t got = a[i];
        check_that(got == sa.cells[i], "proxy p[i] = q[j]");
        break;
      }
      case 11: {
        a[i] = x;
        sa.cells[i] = x;
        const std::uint32_t got = a[j];
        check_that(got == sa.cells[j] && (a[i] == x), "proxy subscript");
        break;
      }
      case 12: { // [weakref.proxy.container]/3 a range whose iterators own the referent
        std::uint32_t sum = 0;
        for (const std::uint32_t c : a) sum += c;
        const auto first = a.begin();
        check_that(sum == sa.cells[0] + sa.cells[1] + sa.cells[2] && a.size() == 3 && !a.empty() &&
                       std::ranges::distance(first, a.end()) == 3 &&
                       first[static_cast<std::ptrdiff_t>(i)] == sa.cells[i],
                   "proxy range");
        break;
      }
      case 13: { // [weakref.proxy.ops]/1
        const bool truth = static_cast<bool>(a);
        check_that(truth == (sa.value != 0), "proxy bool");
        break;
      }
      default: { // [weakref.proxy.access]
        const std::shared_ptr<object> owner = a.pin();
        check_that(owner->id == p.target && a->id == p.target, "proxy pin and ->");
        break;
      }
      }
      check_that(alive, "a proxy whose referent died throws reference_error");
    } catch (const weakref::reference_error&) {
      check_that(!alive, "only a proxy whose referent died throws reference_error");
    }
  }

  // ---- finalize ([weakref.finalize]) -----------------------------------------------------------
public:
  // The finalizer's function: at most once, with its argument, either at its object's death
  // (the object is dead by then: its references were cleared first, [weakref.ref.death]) or by
  // an explicit call while the object lives.
  int run_finalizer(finalizer_token& t, int arg) {
    ++t.calls;
    check_that(t.calls == 1, "[weakref.finalize.call]/2 a finalizer's function runs at most once");
    check_that(arg == t.arg, "[weakref.finalize.call]/1 the function gets its arguments");
    const bool explicit_call = explicit_finalizer_ == &t;
    check_that(world_.alive(t.target) == explicit_call,
               "[weakref.finalize.call]/4 a finalizer runs at its object's death or when called");
    switch (t.action % 4) {
    case 1:
      slots_[static_cast<std::size_t>(arg) % slot_count].reset();
      break;
    case 2:
      observe_containers();
      break;
    case 3:
      ++callback_failures_thrown_;
      throw callback_failure{};
    }
    return arg * 3 + 1;
  }

private:
  void make_finalizer() {
    const std::size_t f = in_.byte() % finalizer_count;
    auto target = slot(in_.byte());
    const std::uint8_t action = in_.byte();
    const int arg = in_.byte();
    if (!target) return;
    trace("  finalizer %zu on id %d, action %u, argument %d", f, target->id, action % 4u, arg);
    auto token = std::make_shared<finalizer_token>(finalizer_token{target->id, arg, action});
    fins_[f] = {finalizer(target, finalizer_function{this, token}, arg), token};
    check_that(fins_[f].handle.alive() && fins_[f].handle.atexit(),
               "[weakref.finalize.cons]/2 a new finalizer is alive, atexit set");
    fin_tokens_.push_back(std::move(token));
  }

  void use_finalizer() {
    const unsigned how = in_.byte();
    finalizer_slot& a = fins_[in_.byte() % finalizer_count];
    finalizer_slot& b = fins_[in_.byte() % finalizer_count];
    const bool flag = how & 8u;
    finalizer_token* const t = a.token.get();
    trace("  finalizer use %u on target id %d (model alive %d)", how % 8u, t ? t->target : -1,
          t ? int(t->alive) : -1);
    switch (how % 8u) {
    case 0: // copies share the finalizer ([weakref.finalize.general]/1)
      b = a;
      break;
    case 1: // dropping or moving a handle never unregisters ([weakref.finalize.general]/2)
      if (&a != &b) {
        b.handle = std::move(a.handle);
        b.token = std::exchange(a.token, nullptr);
        check_that(!a.handle.alive() && !a.handle() && !a.handle.ref().lock(),
                   "[weakref.finalize.cons]/4 a moved-from finalize is empty");
      } else {
        a = {};
      }
      break;
    case 2: { // [weakref.finalize.call]/1
      if (!t) {
        check_that(!a.handle(), "[weakref.finalize.cons]/1 an empty finalize calls nothing");
        break;
      }
      const bool was_alive = t->alive;
      std::optional<int> r;
      bool threw = false;
      explicit_finalizer_ = t;
      try {
        r = a.handle();
      } catch (const callback_failure&) {
        threw = true;
        --callback_failures_thrown_; // it reached the caller, not the handler
      }
      explicit_finalizer_ = nullptr;
      if (was_alive) {
        ++t->expected_calls;
        t->alive = false;
        check_that(threw || r == t->arg * 3 + 1, "the first call returns the function's result");
      } else {
        check_that(!threw && !r, "a dead finalizer's call returns an empty optional");
      }
      check_that(!a.handle.alive(), "called: dead");
      break;
    }
    case 3:
    case 4: { // [weakref.finalize.obs]/3-4 detach() and peek(): obj, func and args
      const bool detach = how % 8u == 3;
      auto got = detach ? a.handle.detach() : a.handle.peek();
      const bool expected = t && t->alive;
      check_that(got.has_value() == expected, "detach/peek give something iff alive");
      if (got) {
        check_that(got->object && got->object->id == t->target && got->func.token.get() == t &&
                       std::get<0>(got->args) == t->arg,
                   "detach/peek give the object, the function and the arguments");
        if (detach) t->alive = false;
      }
      check_that(a.handle.alive() == (t && t->alive), "detach kills, peek does not");
      break;
    }
    case 5: // [weakref.finalize.obs]/1, [weakref.finalize.exit]/1
      check_that(a.handle.alive() == (t && t->alive), "finalize alive()");
      check_that(a.handle.atexit() == (t && t->alive && t->atexit), "finalize atexit()");
      break;
    case 6:
      a.handle.atexit(flag);
      if (t && t->alive) t->atexit = flag;
      check_that(a.handle.atexit() == (t && t->alive && t->atexit),
                 "atexit(bool) sets the flag of a live finalizer only");
      break;
    default: // [weakref.finalize.obs]/5, [weakref.finalize.general]/3
      if (t && b.token)
        check_that(a.handle.identical(b.handle) == (t == b.token.get()), "identical");
      if (t) {
        const auto owner = a.handle.ref().lock();
        check_that(world_.alive(t->target) ? owner && owner->id == t->target : !owner,
                   "the finalizer's ref() refers to its object");
        // [weakref.ref.callback]/3 ... until its object dies (a finding: the model expected it
        // after the death too; regress-finalizer-ref-callback-gone-at-death).
        check_that(a.handle.ref().has_callback() == world_.alive(t->target),
                   "the finalizer's reference has a callback while its object lives");
      }
      break;
    }
  }

  // ---- weak_method ([weakref.method]) ----------------------------------------------------------
  static method_pointer pointer_of(const method_token& t) {
    return t.scale ? &object::scale : &object::bump;
  }

  void make_method() {
    const std::size_t m = in_.byte() % method_count;
    auto target = slot(in_.byte());
    const std::uint8_t how = in_.byte();
    const std::uint8_t arg = in_.byte();
    if (!target) return;
    auto token = std::make_shared<method_token>(
        method_token{target->id, target->key, (how & 1u) != 0, (how & 2u) != 0, how, 0, false, {}});
    const method_pointer mp = pointer_of(*token);
    trace("  weak method %zu on id %d, %s, callback %d", m, target->id,
          token->scale ? "scale" : "bump", int(token->has_callback));
    method made;
    if (!token->has_callback) {
      made = method(target, mp);
    } else {
      // [weakref.method.cons]/3 The callback gets a handle to this weak method, dead by then.
      made = method(target, mp, [this, token, arg](const method& self) {
        check_that(self.expired() && !self.lock() && self.method() == pointer_of(*token),
                   "[weakref.method.cons]/3 the callback gets its weak method, dead");
        check_that(!self(1u), "[weakref.method.call]/1 a dead weak method calls nothing");
        ++token->calls;
        check_that(token->calls == 1, "a weak method's callback runs once");
        switch (token->action / 4u % 3u) {
        case 1:
          slots_[arg % slot_count].reset();
          break;
        case 2:
          observe_containers();
          break;
        }
      });
    }
    check_that(made.lock() == target && made.method() == mp, "a new weak method");
    methods_[m] = {std::move(made), token};
    method_tokens_.push_back(std::move(token));
  }

  void use_method() {
    const unsigned how = in_.byte();
    method_slot& a = methods_[in_.byte() % method_count];
    method_slot& b = methods_[in_.byte() % method_count];
    const std::uint32_t x = in_.byte();
    method_token* const t = a.token.get();
    const bool alive = t && world_.alive(t->target);
    trace("  weak method use %u on target id %d (alive %d)", how % 6u, t ? t->target : -1,
          int(alive));
    switch (how % 6u) {
    case 0:
      b = a;
      break;
    case 1:
      if (&a != &b) {
        b.handle = std::move(a.handle);
        b.token = std::exchange(a.token, nullptr);
        check_that(a.handle.expired() && !a.handle(x), "a moved-from weak method is empty");
      } else {
        a = {};
      }
      break;
    case 2: { // [weakref.method.call]/1 the member's result while the object lives, else empty
      const std::optional<std::uint32_t> r = a.handle(x);
      if (!alive) {
        check_that(!r, "a dead or empty weak method calls nothing");
        break;
      }
      object::state& s = states_.at(t->target);
      const std::uint32_t expected = t->scale ? s.value * x : (s.value += x);
      check_that(r == expected, "a weak method calls its member on its object");
      break;
    }
    case 3: { // [weakref.method.eq], [weakref.method.obs]/3
      if (!t || !b.token) break;
      const method_token* u = b.token.get();
      const bool both_alive = alive && world_.alive(u->target);
      const bool expected =
          t->scale == u->scale && (both_alive ? t->target_key == u->target_key : t == u);
      check_that((a.handle == b.handle) == expected, "weak method ==");
      check_that(a.handle.identical(b.handle) == (t == u), "weak method identical()");
      // [weakref.ref.owner] for weak methods: the object's identity and the member.
      check_that(a.handle.owner_equal(b.handle) == (t->scale == u->scale && t->target == u->target),
                 "weak method owner_equal()");
      if (t->target == u->target)
        check_that(a.handle.owner_hash() == b.handle.owner_hash(), "weak method owner_hash()");
      break;
    }
    case 4: { // [weakref.method.hash] cached when first taken, type_error first taken when dead
      if (!t) break;
      try {
        const std::size_t h = std::hash<method>{}(a.handle);
        if (!t->hash) {
          check_that(alive, "a hash first taken after the death throws");
          t->hash = std::hash<int>{}(t->target_key);
        }
        check_that(h == *t->hash, "a weak method's hash is its object's, kept after death");
      } catch (const weakref::type_error&) {
        check_that(!alive && !t->hash, "type_error only for a hash first taken after death");
      }
      break;
    }
    default: // observers
      if (t) {
        const auto owner = a.handle.lock();
        check_that(alive ? owner && owner->id == t->target : !owner, "weak method lock()");
        check_that(a.handle.expired() == !alive && a.handle.method() == pointer_of(*t) &&
                       a.handle.has_callback() == (t->has_callback && alive),
                   "weak method observers ([weakref.method.obs]/2: no callback after death)");
      }
      break;
    }
  }

  // ---- the pmr weak_value_map ([weakref.value.map], weakref::pmr) ------------------------------
  // Keys are tracked parts; elements are by key (0 to 7).
  tracked pkey(int k) { return tracked(k, &pvm_live_); }

  void pvm_op() {
    const unsigned kind = in_.byte() % 10u;
    const int k = in_.byte() % 8;
    auto v = slot(in_.byte());
    pmr_value_map& m = *pvm_;
    held_model& mm = pvm_model_;
    trace("  pmr vm kind %u key %d value id %d", kind, k, v ? v->id : -1);
    busy_guard g(pvm_busy_);
    if (kind == 5) { // const members do not purge ([weakref.containers.general]/9)
      const pmr_value_map& c = m;
      const auto expected = mm.get(world_, k);
      check_that(c.contains(k) == expected.has_value() && c.count(pkey(k)) == (expected ? 1u : 0u),
                 "pmr vm contains/count");
      const auto got = c.get(k);
      check_that(expected ? got && got->id == expected->ref_id : !got, "pmr vm get");
      return;
    }
    if ((kind == 0 || kind == 1) && !v) return; // nothing called: nothing purged
    mm.before_purge(world_);
    const auto before = mm.get(world_, k);
    switch (kind) {
    case 0: {
      auto [it, inserted] = m.try_emplace(pkey(k), v);
      check_that(inserted == !before && (*it).second->id == (before ? before->ref_id : v->id) &&
                     (*it).first.id == k,
                 "pmr vm try_emplace");
      if (inserted) mm.elements[k] = {v->id, k};
      break;
    }
    case 1: {
      auto [it, inserted] = m.insert_or_assign(pkey(k), v);
      check_that(inserted == !before && (*it).second == v, "pmr vm insert_or_assign");
      mm.elements[k] = {v->id, k};
      break;
    }
    case 2: // [weakref.value.map.subscript]
      if (v) {
        m[pkey(k)] = v;
        mm.elements[k] = {v->id, k};
      } else {
        try {
          const std::shared_ptr<object> got = m[pkey(k)];
          check_that(before && got->id == before->ref_id, "pmr vm m[k] reads the live value");
        } catch (const weakref::key_error&) {
          check_that(!before, "pmr vm m[k] throws key_error only when absent");
        }
      }
      break;
    case 3:
      check_that(m.erase(k) == (before ? 1u : 0u), "pmr vm erase(k) count");
      mm.elements.erase(k);
      break;
    case 4:
      if (v) { // setdefault: the live value, or inserts v
        const auto got = m.setdefault(pkey(k), v);
        check_that(got && got->id == (before ? before->ref_id : v->id), "pmr vm setdefault");
        if (!before) mm.elements[k] = {v->id, k};
      } else {
        const auto got = m.pop(k, nullptr);
        check_that(before ? got && got->id == before->ref_id : !got, "pmr vm pop");
        mm.elements.erase(k);
      }
      break;
    case 6: {
      auto it = m.find(k);
      check_that((it != m.end()) == before.has_value(), "pmr vm find");
      try {
        const auto got = m.at(k);
        check_that(before && got->id == before->ref_id, "pmr vm at");
      } catch (const weakref::key_error&) {
        check_that(!before, "pmr vm at throws key_error only when absent");
      }
      break;
    }
    case 7:
      if (v) {
        m.purge();
      } else {
        m.clear();
        mm.reset();
      }
      break;
    case 8: {
      const int parity = k % 2;
      std::size_t expected = 0;
      for (auto it = mm.elements.begin(); it != mm.elements.end();)
        if (it->first % 2 == parity) {
          expected += world_.alive(it->second.ref_id);
          it = mm.elements.erase(it);
        } else {
          ++it;
        }
      const std::size_t n = erase_if(m, [&](const auto& kv) { return kv.first.id % 2 == parity; });
      check_that(n == expected, "pmr vm erase_if count");
      break;
    }
    default:
      try {
        auto [key, value] = m.popitem();
        const auto e = mm.get(world_, key.id);
        check_that(e && e->ref_id == value->id, "pmr vm popitem yields a live element");
        mm.elements.erase(key.id);
      } catch (const weakref::key_error&) {
        check_that(mm.live_count(world_) == 0, "pmr vm popitem throws only when empty");
      }
      break;
    }
    mm.after_purge(world_);
  }

  // ---- the identity weak_key_maps: pmr over the counting resource, and std::allocator
  // ([weakref.key.map], [weakref.containers.identity]) -------------------------------------------
  // Keys match by identity: the model's key is the object's id, so an equal object that is
  // another object is another key. Values are tracked parts.
  template <class Map>
  void identity_key_map_op(Map& m, held_model& mm, std::map<int, int>& live, bool& busy) {
    const unsigned kind = in_.byte() % 10u;
    auto k = slot(in_.byte());
    const int v = in_.byte();
    if (!k) return;
    trace("  identity km kind %u key id %d value %d", kind, k->id, v);
    busy_guard g(busy);
    auto value = [&] { return tracked(v, &live); };
    if (kind == 5) { // const lookups, by the object and by its address (identity/4)
      const Map& c = m;
      const auto expected = mm.get(world_, k->id);
      const bool has = expected.has_value();
      check_that(c.contains(*k) == has && c.contains(k.get()) == has &&
                     c.count(*k) == (has ? 1u : 0u) && (c.find(k.get()) != c.end()) == has,
                 "identity km lookups");
      const std::optional<tracked> got = c.get(*k);
      check_that(has ? got && got->id == expected->part : !got, "identity km get");
      return;
    }
    mm.before_purge(world_);
    const auto before = mm.get(world_, k->id);
    switch (kind) {
    case 0: {
      auto [it, inserted] = m.try_emplace(k, value());
      check_that(inserted == !before && (*it).first == k &&
                     (*it).second.id == (before ? before->part : v),
                 "identity km try_emplace");
      if (inserted) mm.elements[k->id] = {k->id, v};
      break;
    }
    case 1: {
      auto [it, inserted] = m.insert_or_assign(k, value());
      check_that(inserted == !before && (*it).second.id == v, "identity km insert_or_assign");
      mm.elements[k->id] = {k->id, v};
      break;
    }
    case 2: { // operator[]: a value-initialized value for a new key, then assigned
      tracked& r = m[k];
      check_that(r.id == (before ? before->part : -1), "identity km operator[]");
      r = value();
      mm.elements[k->id] = {k->id, v};
      break;
    }
    case 3: {
      const std::size_t n = v % 2 ? m.erase(*k) : m.erase(k.get());
      check_that(n == (before ? 1u : 0u), "identity km erase count");
      mm.elements.erase(k->id);
      break;
    }
    case 4: {
      const tracked got = m.pop(*k, tracked());
      check_that(got.id == (before ? before->part : -1), "identity km pop");
      mm.elements.erase(k->id);
      break;
    }
    case 6: {
      auto it = m.find(*k);
      check_that((it != m.end()) == before.has_value(), "identity km find");
      try {
        const tracked& got = m.at(k.get());
        check_that(before && got.id == before->part, "identity km at");
      } catch (const weakref::key_error&) {
        check_that(!before, "identity km at throws key_error only when absent");
      }
      break;
    }
    case 7:
      if (v % 2) {
        m.purge();
      } else {
        m.clear();
        mm.reset();
      }
      break;
    case 8: {
      const int parity = v % 2;
      std::size_t expected = 0;
      for (auto it = mm.elements.begin(); it != mm.elements.end();)
        if (it->first % 2 == parity) {
          expected += world_.alive(it->first);
          it = mm.elements.erase(it);
        } else {
          ++it;
        }
      const std::size_t n = erase_if(m, [&](const auto& kv) { return kv.first->id % 2 == parity; });
      check_that(n == expected, "identity km erase_if count");
      break;
    }
    default:
      if (v % 2) {
        const tracked& got = m.setdefault(k, value());
        check_that(got.id == (before ? before->part : v), "identity km setdefault");
        if (!before) mm.elements[k->id] = {k->id, v};
      } else {
        try {
          auto [key, got] = m.popitem();
          const auto e = mm.get(world_, key->id);
          check_that(e && e->part == got.id, "identity km popitem yields a live element");
          mm.elements.erase(key->id);
        } catch (const weakref::key_error&) {
          check_that(mm.live_count(world_) == 0, "identity km popitem throws only when empty");
        }
      }
      break;
    }
    mm.after_purge(world_);
  }

  // ---- the pmr identity weak_set ([weakref.set], [weakref.containers.identity]) ---------------
  void pset_op() {
    const unsigned kind = in_.byte() % 8u;
    auto x = slot(in_.byte());
    const std::uint8_t arg = in_.byte();
    trace("  identity set kind %u element id %d", kind, x ? x->id : -1);
    busy_guard g(pset_busy_);
    pmr_set& s = *pset_;
    std::erase_if(pset_ids_, [&](int id) { return !world_.alive(id); });
    const bool present = x && pset_ids_.contains(x->id);
    switch (kind) {
    case 0:
      if (!x) break;
      check_that(std::as_const(s).contains(*x) == present &&
                     std::as_const(s).contains(x.get()) == present &&
                     std::as_const(s).count(*x) == (present ? 1u : 0u),
                 "identity set lookups");
      break;
    case 1: {
      if (!x) break;
      auto [it, inserted] = s.insert(x);
      check_that(inserted == !present && *it == x, "identity set insert");
      pset_ids_.insert(x->id);
      break;
    }
    case 2:
      if (!x) break;
      if (arg % 2) {
        s.add(x);
        pset_ids_.insert(x->id);
      } else {
        s.discard(*x);
        pset_ids_.erase(x->id);
      }
      break;
    case 3:
      if (!x) break;
      try {
        s.remove(*x);
        check_that(present, "identity set remove of a present element");
      } catch (const weakref::key_error&) {
        check_that(!present, "identity set remove throws key_error only when absent");
      }
      pset_ids_.erase(x->id);
      break;
    case 4:
      if (!x) break;
      check_that(s.erase(x.get()) == (present ? 1u : 0u), "identity set erase by address");
      pset_ids_.erase(x->id);
      break;
    case 5:
      try {
        const auto got = s.pop();
        check_that(pset_ids_.contains(got->id) && world_.alive(got->id),
                   "identity set pop yields a live element");
        pset_ids_.erase(got->id);
      } catch (const weakref::key_error&) {
        check_that(pset_ids_.empty(), "identity set pop throws only when empty");
      }
      break;
    case 6:
      if (arg % 2) {
        s.purge();
      } else {
        s.clear();
        pset_ids_.clear();
      }
      break;
    default: {
      const int parity = arg % 2;
      const std::size_t n = erase_if(s, [&](const auto& e) { return e->id % 2 == parity; });
      check_that(n == static_cast<std::size_t>(
                          std::erase_if(pset_ids_, [&](int id) { return id % 2 == parity; })),
                 "identity set erase_if count");
      break;
    }
    }
  }

  // Destroys the pmr containers (their parts with them) and makes new ones, empty, over the
  // counting resource itself (a death leaves the part to the next purge) or over a
  // synchronized_pool_resource on top of it (a death destroys the part at once).
  void rebuild_pmr(std::uint8_t how) {
    busy_guard g0(pvm_busy_), g1(pkm_busy_), g2(pset_busy_);
    pvm_.reset();
    pkm_.reset();
    pset_.reset();
    pvm_model_.reset();
    pkm_model_.reset();
    pset_ids_.clear();
    check_that(pvm_live_.empty() && pkm_live_.empty(),
               "destroying a container destroys every strongly held part, dead or alive");
    if (!pool_)
      check_that(resource_->balanced(), "[weakref.containers.general]/15 a destroyed container "
                                        "gave back every byte it took");
    const bool pooled = how % 2;
    trace("  pmr containers rebuilt over %s", pooled ? "a pool" : "the counting resource");
    if (pooled && !pool_) pool_.emplace(resource_);
    make_pmr(pooled ? static_cast<std::pmr::memory_resource*>(&*pool_) : resource_);
    pvm_model_.releases_at_death = pkm_model_.releases_at_death = pooled;
  }

  void make_pmr(std::pmr::memory_resource* r) {
    pvm_.emplace(pmr_value_map::allocator_type(r));
    pkm_.emplace(pmr_key_map::allocator_type(r));
    pset_.emplace(pmr_set::allocator_type(r));
  }

  // Copies, moves and assignments of the new containers, across memory resources too
  // ([weakref.containers.general]/15).
  void copy_new(std::uint8_t how) {
    busy_guard g0(pvm_busy_), g1(pkm_busy_), g2(ikm_busy_), g3(pset_busy_);
    trace("  copies of the new containers: %u", how % 6u);
    switch (how % 6) {
    case 0: { // a copy uses select_on_container_copy_construction: the default resource
      const pmr_value_map copy(*pvm_);
      check_pvm(copy, "pmr vm copy");
      check_that(copy.get_allocator().resource() == std::pmr::get_default_resource(),
                 "a pmr copy takes the default resource");
      if (how & 8) {
        pvm_model_.before_purge(world_);
        *pvm_ = copy; // no propagation: the elements are copied into pvm_'s resource
        pvm_model_.after_purge(world_);
      }
      break;
    }
    case 1: { // allocator-extended copy, then a move assignment between equal allocators
      pmr_key_map copy(*pkm_, pkm_->get_allocator());
      check_identity_km(copy, pkm_model_, "pmr km copy");
      check_that(copy == *pkm_, "pmr km copy compares equal");
      pkm_model_.before_purge(world_);
      *pkm_ = std::move(copy);
      pkm_model_.after_purge(world_);
      break;
    }
    case 2: {
      identity_key_map copy(ikm_);
      check_identity_km(copy, ikm_model_, "identity km copy");
      ikm_model_.before_purge(world_);
      if (how & 8)
        ikm_ = std::move(copy);
      else
        ikm_ = copy;
      ikm_model_.after_purge(world_);
      break;
    }
    case 3: { // a move takes the elements over, with those whose death is reported
      pmr_key_map moved(std::move(*pkm_));
      check_that(pkm_->empty() && std::as_const(*pkm_).begin() == std::as_const(*pkm_).end(),
                 "a moved-from pmr km is empty");
      check_identity_km(moved, pkm_model_, "pmr km moved");
      *pkm_ = std::move(moved);
      // Neither step purges; whether an assignment purges what it takes is not said.
      pkm_model_.maybe_held.insert(pkm_model_.dead_held.begin(), pkm_model_.dead_held.end());
      pkm_model_.dead_held.clear();
      break;
    }
    case 4: { // unequal resources: copied into one, moved back element by element
      pmr_value_map other{pmr_value_map::allocator_type(std::pmr::new_delete_resource())};
      other = *pvm_;
      check_pvm(other, "pmr vm copied across resources");
      pvm_model_.before_purge(world_);
      *pvm_ = std::move(other);
      pvm_model_.after_purge(world_);
      check_that(pvm_->get_allocator().resource() != std::pmr::new_delete_resource(),
                 "move assignment does not propagate a polymorphic_allocator");
      break;
    }
    default: { // Python: d.update(d) and s.update(s) change nothing; a set copy is equal
      pvm_model_.before_purge(world_);
      pvm_->update(*pvm_);
      pvm_model_.after_purge(world_);
      pkm_model_.before_purge(world_);
      pkm_->update(*pkm_);
      pkm_model_.after_purge(world_);
      const pmr_set copy = pset_->copy();
      check_that(copy == *pset_, "identity set copy compares equal");
      check_pset(copy, "identity set copy");
      break;
    }
    }
  }

  // [weakref.containers.general]/5 as in iterate_with_death, for the new containers; the purge
  // of begin() comes before the death, so a part released only by a purge stays.
  void iterate_new_with_death(std::uint8_t which, std::uint8_t victim) {
    bool killed = false;
    auto kill_once = [&] {
      if (!killed) {
        killed = true;
        slots_[victim % slot_count].reset();
      }
    };
    trace("  iterate new container %u, victim slot %u", which % 4u, victim % slot_count);
    std::multiset<int> seen;
    std::set<std::pair<int, int>> at_start; // (model key, object id)
    auto held_loop = [&](auto& m, held_model& mm, bool& busy, auto key_of) {
      busy_guard g(busy);
      mm.before_purge(world_);
      for (const auto& [k, e] : mm.elements) at_start.emplace(k, e.ref_id);
      for (auto it = m.begin(); it != m.end(); ++it) {
        kill_once();
        const auto [k, id] = key_of(*it);
        const auto e = mm.get(world_, k);
        check_that(world_.alive(id) && e && e->ref_id == id, "iteration yields live elements");
        seen.insert(k);
      }
      mm.after_purge(world_);
    };
    switch (which % 4) {
    case 0:
      held_loop(*pvm_, pvm_model_, pvm_busy_,
                [](const auto& kv) { return std::pair(kv.first.id, kv.second->id); });
      break;
    case 1:
      held_loop(*pkm_, pkm_model_, pkm_busy_,
                [](const auto& kv) { return std::pair(kv.first->id, kv.first->id); });
      break;
    case 2:
      held_loop(ikm_, ikm_model_, ikm_busy_,
                [](const auto& kv) { return std::pair(kv.first->id, kv.first->id); });
      break;
    default: {
      busy_guard g(pset_busy_);
      std::erase_if(pset_ids_, [&](int id) { return !world_.alive(id); });
      for (int id : pset_ids_) at_start.emplace(id, id);
      for (const std::shared_ptr<object>& x : *pset_) {
        kill_once();
        check_that(world_.alive(x->id) && pset_ids_.contains(x->id),
                   "identity set iteration yields live elements");
        seen.insert(x->id);
      }
      break;
    }
    }
    for (int k : seen)
      check_that(seen.count(k) == 1 &&
                     std::ranges::any_of(at_start, [&](const auto& e) { return e.first == k; }),
                 "yielded once, and only what was there");
    for (const auto& [k, id] : at_start)
      if (world_.alive(id)) check_that(seen.contains(k), "a live element is never skipped");
  }

  // [weakref.containers.general]/5 and /7 From a callback, during a death: no container that is not
  // in use shows a dead element (the dying object's elements included, reported yet or not),
  // and size() lies between the live elements and the elements not yet known dead (those the
  // model holds, and those it dropped while dead: model::vm_dropped_dead).
  void observe_containers() {
    if (tearing_down_) return;
    auto sized = [](std::size_t n, std::size_t least, std::size_t most) {
      return least <= n && n <= most;
    };
    if (!vm_busy_) {
      std::size_t live = 0;
      for (const auto& [k, id] : world_.vm) live += world_.alive(id);
      for (const auto& [k, v] : std::as_const(vm_))
        check_that(world_.alive(v->id) && world_.vm.contains(k) && world_.vm.at(k) == v->id,
                   "during a death, vm shows live elements only");
      check_that(sized(vm_.size(), live, world_.vm.size() + world_.vm_dropped_dead),
                 "during a death, vm size()");
    }
    if (!km_busy_) {
      std::size_t live = 0;
      for (const auto& [k, e] : world_.km) live += world_.alive(e.key_id);
      for (const auto& [k, v] : std::as_const(km_))
        check_that(world_.alive(k->id) && world_.km.contains(k->key) &&
                       world_.km.at(k->key).key_id == k->id,
                   "during a death, km shows live elements only");
      check_that(sized(km_.size(), live, world_.km.size() + world_.km_dropped_dead),
                 "during a death, km size()");
    }
    for (int w = 0; w < 2; ++w) {
      if (set_busy_[w]) continue;
      std::size_t live = 0;
      for (const auto& [k, id] : world_.sets[w]) live += world_.alive(id);
      for (const std::shared_ptr<object>& x : std::as_const(sets_[w]))
        check_that(world_.alive(x->id) && world_.sets[w].contains(x->key) &&
                       world_.sets[w].at(x->key) == x->id,
                   "during a death, a set shows live elements only");
      check_that(sized(sets_[w].size(), live, world_.sets[w].size() + world_.sets_dropped_dead[w]),
                 "during a death, set size()");
    }
    auto held = [&](const auto& m, const held_model& mm, auto key_of) {
      for (const auto& kv : m) {
        const auto [k, id] = key_of(kv);
        check_that(world_.alive(id) && mm.elements.contains(k) && mm.elements.at(k).ref_id == id,
                   "during a death, a new container shows live elements only");
      }
      check_that(sized(m.size(), mm.live_count(world_), mm.elements.size()),
                 "during a death, a new container's size()");
    };
    if (!pvm_busy_)
      held(std::as_const(*pvm_), pvm_model_,
           [](const auto& kv) { return std::pair(kv.first.id, kv.second->id); });
    if (!pkm_busy_)
      held(std::as_const(*pkm_), pkm_model_,
           [](const auto& kv) { return std::pair(kv.first->id, kv.first->id); });
    if (!ikm_busy_)
      held(std::as_const(ikm_), ikm_model_,
           [](const auto& kv) { return std::pair(kv.first->id, kv.first->id); });
    if (!pset_busy_) {
      std::size_t live = 0;
      for (int id : pset_ids_) live += world_.alive(id);
      for (const std::shared_ptr<object>& x : std::as_const(*pset_))
        check_that(world_.alive(x->id) && pset_ids_.contains(x->id),
                   "during a death, the identity set shows live elements only");
      check_that(sized(pset_->size(), live, pset_ids_.size()), "during a death, set size()");
    }
  }

  // ---- the checks of the new containers, finalizers and weak methods ---------------------------
  void check_pvm(const pmr_value_map& m, const char* what) {
    std::vector<std::pair<int, int>> got;
    // (Its iterators yield pairs by value: the keys seen here are copies, made without the
    // container's allocator, so the resource of the stored keys cannot be checked here.)
    for (const auto& [k, v] : m) got.emplace_back(k.id, v->id);
    std::ranges::sort(got);
    std::vector<std::pair<int, int>> expected;
    for (const auto& [k, e] : pvm_model_.elements)
      if (world_.alive(e.ref_id)) expected.emplace_back(k, e.ref_id);
    check_that(got == expected && m.size() == expected.size(), what);
  }

  template <class Map>
  void check_identity_km(const Map& m, const held_model& mm, const char* what) {
    std::vector<std::pair<int, int>> got;
    for (const auto& [k, v] : m) {
      got.emplace_back(k->id, v.id);
      if constexpr (!std::is_same_v<Map, identity_key_map>)
        check_that(v.text.get_allocator().resource() == m.get_allocator().resource(), what);
    }
    std::ranges::sort(got);
    std::vector<std::pair<int, int>> expected;
    for (const auto& [k, e] : mm.elements)
      if (world_.alive(e.ref_id)) expected.emplace_back(k, e.part);
    check_that(got == expected && m.size() == expected.size(), what);
  }

  void check_pset(const pmr_set& s, const char* what) {
    std::vector<int> got;
    for (const std::shared_ptr<object>& x : s) got.push_back(x->id);
    std::ranges::sort(got);
    std::vector<int> expected;
    for (int id : pset_ids_)
      if (world_.alive(id)) expected.push_back(id);
    check_that(got == expected && s.size() == expected.size(), what);
  }

  // [weakref.containers.general]/8-9 Release timing: the strongly held parts that exist are those
  // of the live elements, plus, under an allocator that waits for the purge, those of the
  // elements dead since the last purge.
  void check_parts(const held_model& mm, const std::map<int, int>& live, const char* what) {
    std::map<int, int> least, most;
    mm.expected_parts(world_, least, most);
    for (const auto& [id, n] : live) {
      const auto lo = least.find(id), hi = most.find(id);
      check_that((lo == least.end() ? 0 : lo->second) <= n && hi != most.end() && n <= hi->second,
                 what);
    }
    for (const auto& [id, n] : least) {
      const auto it = live.find(id);
      check_that(it != live.end() && it->second >= n, what);
    }
  }

  // [weakref.containers.general]/8 With std::allocator, a weak_key_map value is destroyed inside
  // the death of its key, chains of such values included, before the death returns. So after
  // every step each object's owners are exactly the ones the program can name: slots, objects'
  // `owns`, and the values of km_'s live elements. A value kept until a later purge would be
  // one owner too many.
  void audit_owners() {
    std::map<int, long> expected;
    for (const auto& s : slots_)
      if (s) ++expected[s->id];
    for (const auto& [id, address] : world_.objects())
      for (const auto& o : static_cast<const object*>(address)->owns) ++expected[o->id];
    for (const auto& [k, e] : world_.km)
      if (e.value_id >= 0 && world_.alive(e.key_id)) ++expected[e.value_id];
    for (const auto& [id, address] : world_.objects())
      check_that(world_.owners(id) == expected[id],
                 "[weakref.containers.general]/8 a dead key's value is released in its death");
  }

  void check_new() {
    pvm_model_.retire(world_, false);
    pkm_model_.retire(world_, false);
    ikm_model_.retire(world_, false);
    std::erase_if(pset_ids_, [&](int id) { return !world_.alive(id); });
    check_pvm(*pvm_, "pmr vm contents");
    check_identity_km(*pkm_, pkm_model_, "pmr identity km contents");
    check_identity_km(ikm_, ikm_model_, "identity km contents");
    check_pset(*pset_, "pmr identity set contents");
    check_parts(pvm_model_, pvm_live_, "release timing: pmr vm keys");
    check_parts(pkm_model_, pkm_live_, "release timing: pmr km values");
    check_parts(ikm_model_, ikm_live_, "release timing: identity km values (std::allocator)");
    audit_owners();

    // Finalizers: the death of the object calls a live one, once.
    for (auto it = fin_tokens_.begin(); it != fin_tokens_.end();) {
      finalizer_token& t = **it;
      if (t.alive && !world_.alive(t.target)) {
        t.alive = false;
        ++t.expected_calls;
      }
      check_that(t.calls == t.expected_calls,
                 "[weakref.finalize.call] a finalizer is called once: by a call or its death");
      const bool held =
          std::ranges::any_of(fins_, [&](const finalizer_slot& f) { return f.token.get() == &t; });
      if (!held && !world_.alive(t.target))
        it = fin_tokens_.erase(it);
      else
        ++it;
    }
    for (const finalizer_slot& f : fins_)
      if (f.token) check_that(f.handle.alive() == f.token->alive, "finalize alive() after death");

    // Weak methods: as refs ([weakref.method.cons]/3).
    for (const method_slot& m : methods_) {
      if (!m.token) continue;
      const bool alive = world_.alive(m.token->target);
      auto p = m.handle.lock();
      check_that(alive ? p && p->id == m.token->target : !p, "a weak method locks iff alive");
    }
    check_callbacks(method_tokens_, methods_);
  }

  // What the new parts add to weak_ref_count(s) ([weakref.introspection]): elements,
  // finalizers alive or held ([weakref.finalize.general]/2-3), weak methods held.
  std::size_t new_weak_refs(int id) const {
    std::size_t n = 0;
    for (const auto& [k, e] : pvm_model_.elements) n += e.ref_id == id;
    for (const auto& [k, e] : pkm_model_.elements) n += e.ref_id == id;
    for (const auto& [k, e] : ikm_model_.elements) n += e.ref_id == id;
    n += pset_ids_.contains(id);
    for (const auto& t : fin_tokens_)
      n += t->target == id && (t->alive || std::ranges::any_of(fins_, [&](const finalizer_slot& f) {
                                 return f.token == t;
                               }));
    for (const auto& t : method_tokens_)
      n += t->target == id &&
           std::ranges::any_of(methods_, [&](const method_slot& m) { return m.token == t; });
    return n;
  }

  // ---- the checks after every step ---------------------------------------------------------
  template <class Set>
  void check_set(const Set& s, const model::set_type& expected, const char* what) {
    model::set_type live;
    for (const auto& [k, id] : expected)
      if (world_.alive(id)) live[k] = id;
    std::vector<std::pair<int, int>> got;
    std::vector<std::shared_ptr<object>> pins;
    for (const std::shared_ptr<object>& x : s) {
      got.emplace_back(x->key, x->id);
      pins.push_back(x);
    }
    std::ranges::sort(got);
    check_that(got == std::vector<std::pair<int, int>>(live.begin(), live.end()), what);
    check_that(s.size() == live.size(), what);
    for (const auto& x : pins) {
      auto it = s.find(*x);
      check_that(it != s.end() && (*it)->id == x->id && s.contains(x), what);
    }
  }

  void check_vm(const value_map& m, const char* what) {
    std::vector<std::pair<int, int>> got;
    for (const auto& [k, v] : m) got.emplace_back(k, v->id);
    std::ranges::sort(got);
    std::vector<std::pair<int, int>> expected;
    for (const auto& [k, id] : world_.vm)
      if (world_.alive(id)) expected.emplace_back(k, id);
    check_that(got == expected, what);
    check_that(m.size() == expected.size(), what);
    for (const auto& [k, id] : expected) check_that(m.get(k)->id == id, what);
  }

  void check_km(const key_map& m, const char* what) {
    std::vector<std::tuple<int, int, int>> got;
    for (const auto& [k, v] : m) got.emplace_back(k->key, k->id, v ? v->id : -1);
    std::ranges::sort(got);
    std::vector<std::tuple<int, int, int>> expected;
    for (const auto& [k, e] : world_.km)
      if (world_.alive(e.key_id)) expected.emplace_back(k, e.key_id, e.value_id);
    check_that(got == expected, what);
    check_that(m.size() == expected.size(), what);
  }

  // The callbacks of the reference identities in `tokens` (refs, or weak methods, whose handles
  // are `slots`): none before the death; once for an identity with a handle alive at the death;
  // never for one whose every handle went first (PY-REF-11, PY-REF-12). Forgets identities
  // that are dead and unheld.
  template <class Token, class Slots>
  void check_callbacks(std::vector<std::shared_ptr<Token>>& tokens, const Slots& slots) {
    for (auto it = tokens.begin(); it != tokens.end();) {
      Token& t = **it;
      const bool held =
          std::ranges::any_of(slots, [&](const auto& slot) { return slot.token.get() == &t; });
      const bool alive = world_.alive(t.target);
      if (alive) {
        check_that(t.calls == 0, "no callback before the death");
        if (!held) t.orphaned = true;
      } else if (t.orphaned || !t.has_callback) {
        check_that(t.calls == 0, "a reference gone before its referent never calls back");
      } else if (held) {
        check_that(t.calls == 1, "a reference alive at the death is called back once");
      } else {
        check_that(t.calls <= 1, "at most one callback");
      }
      if (!alive && !held)
        it = tokens.erase(it);
      else
        ++it;
    }
  }

  void check() {
    world_.prune();
    check_vm(vm_, "vm contents");
    check_km(km_, "km contents");
    check_set(sets_[0], world_.sets[0], "set 0 contents");
    check_set(sets_[1], world_.sets[1], "set 1 contents");
    check_that(callback_failures_reported == callback_failures_thrown_,
               "[weakref.error.callback] every callback exception reaches the handler");

    // Refs: a ref locks exactly while its referent lives; callbacks ran once for every
    // identity alive at the death, never for one that went before it.
    for (const ref_slot& r : refs_) {
      if (!r.token) continue;
      const bool alive = world_.alive(r.token->target);
      auto p = r.ref.lock();
      check_that(alive ? p && p->id == r.token->target : !p, "a ref locks iff its referent lives");
      check_that(r.ref.expired() == !alive, "expired()");
    }
    check_callbacks(tokens_, refs_);

    check_new();

    // [weakref.introspection] weak_ref_count counts every identity: refs, proxies, entries.
    for (const auto& s : slots_) {
      if (!s) continue;
      std::size_t expected = 0;
      for (const auto& t : tokens_)
        if (t->target == s->id &&
            std::ranges::any_of(refs_, [&](const ref_slot& r) { return r.token == t; }))
          ++expected;
      for (const proxy_slot& p : proxies_) expected += p.target == s->id;
      for (const auto& [k, id] : world_.vm) expected += id == s->id;
      for (const auto& [k, e] : world_.km) expected += e.key_id == s->id;
      for (const auto& set : world_.sets)
        for (const auto& [k, id] : set) expected += id == s->id;
      expected += new_weak_refs(s->id);
      check_that(weakref::weak_ref_count(s) == expected, "weak_ref_count");
    }
  }

  void teardown() {
    tearing_down_ = true;
    // Every ref goes before its referent: none of these may call back.
    std::vector<std::shared_ptr<ref_token>> doomed;
    for (const auto& t : tokens_)
      if (world_.alive(t->target)) doomed.push_back(t);
    std::vector<std::shared_ptr<method_token>> doomed_methods;
    for (const auto& t : method_tokens_)
      if (world_.alive(t->target)) doomed_methods.push_back(t);
    for (ref_slot& r : refs_) r = {};
    for (proxy_slot& p : proxies_) p = {};
    for (method_slot& m : methods_) m = {};
    // Finalizers stay registered without handles ([weakref.finalize.general]/2): the deaths
    // below call the live ones.
    for (finalizer_slot& f : fins_) f = {};
    vm_.clear();
    km_.clear();
    sets_[0].clear();
    sets_[1].clear();
    pvm_->clear();
    pkm_->clear();
    ikm_.clear();
    pset_->clear();
    check_that(pvm_live_.empty() && pkm_live_.empty() && ikm_live_.empty(),
               "[weakref.containers.general]/9 clear() destroys every strongly held part");
    for (auto& s : slots_) s.reset();
    check_that(world_.population() == 0, "every object is destroyed at the end (no leak)");
    for (const auto& t : doomed) check_that(t->calls == 0, "refs destroyed first never call back");
    for (const auto& t : doomed_methods)
      check_that(t->calls == 0, "weak methods destroyed first never call back");
    for (const auto& t : fin_tokens_) {
      if (t->alive) ++t->expected_calls;
      check_that(t->calls == t->expected_calls,
                 "a finalizer without handles is still called at its object's death");
    }
    check_that(callback_failures_reported == callback_failures_thrown_,
               "every callback exception reaches the handler");
  }

  input in_;
  std::size_t steps_ = 0;
  std::size_t callback_failures_thrown_ = 0;
  int next_id_ = 0;
  model world_;
  // Declared after world_ (destroyed first, while the model can still hear deaths) and in this
  // order so that the containers outlive the refs whose callbacks use them.
  value_map vm_;
  key_map km_;
  set sets_[2];
  bool vm_busy_ = false, km_busy_ = false, set_busy_[2] = {false, false};
  // The new containers, and what they need: the resource and the pool under the pmr ones, and
  // the counts of their tracked parts, declared first so that they outlive them.
  counting_resource* resource_;
  std::optional<std::pmr::synchronized_pool_resource> pool_;
  std::map<int, int> pvm_live_, pkm_live_, ikm_live_;
  held_model pvm_model_, pkm_model_, ikm_model_;
  std::set<int> pset_ids_;
  std::optional<pmr_value_map> pvm_;
  std::optional<pmr_key_map> pkm_;
  std::optional<pmr_set> pset_;
  identity_key_map ikm_;
  bool pvm_busy_ = false, pkm_busy_ = false, ikm_busy_ = false, pset_busy_ = false;
  bool tearing_down_ = false;
  std::map<int, object::state> states_; // the mirror of each object's value and cells
  std::map<int, int> keys_;             // each object's key
  std::shared_ptr<object> slots_[slot_count];
  std::vector<std::shared_ptr<ref_token>> tokens_;
  ref_slot refs_[ref_count];
  proxy_slot proxies_[proxy_count];
  std::vector<std::shared_ptr<finalizer_token>> fin_tokens_;
  finalizer_slot fins_[finalizer_count];
  const finalizer_token* explicit_finalizer_ =
      nullptr; // the finalizer being called by use_finalizer
  std::vector<std::shared_ptr<method_token>> method_tokens_;
  method_slot methods_[method_count];
};

int finalizer_function::operator()(int arg) const { return prog->run_finalizer(*token, arg); }

// Callbacks that throw: the exception goes to the handler, the death goes on
// ([weakref.error.callback]/1).
void count_callback_error(std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const callback_failure&) {
    ++callback_failures_reported;
  } catch (...) {
    check_that(false, "only the fuzzer's own exception reaches the handler");
  }
}

} // namespace
} // namespace weakref_fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool handler_installed = [] {
    weakref::set_callback_error_handler(&weakref_fuzz::count_callback_error);
    return true;
  }();
  (void)handler_installed;
  weakref_fuzz::callback_failures_reported = 0;
  weakref_fuzz::counting_resource resource;
  weakref_fuzz::program(weakref_fuzz::input(data, size), &resource).run();
  // [weakref.containers.general]/15 The pmr containers gave back every byte they took.
  weakref_fuzz::check_that(resource.balanced(),
                           "every byte allocated from the counting resource was deallocated");
  return 0;
}
