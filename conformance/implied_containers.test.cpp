// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: the implied rules about the weak containers (PY-IMPL-3 for containers, PY-IMPL-4,
// -5, -6, -10, -12): what Python's weakref does without saying, or what its threads imply.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <ranges>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "handoff.hpp"
#include "support.hpp"

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

using conformance::walked;

namespace {

using conformance::intact;
using conformance::node;
using conformance::node_hash;

std::shared_ptr<node> make_node(int i) { return wr::make_shared<node>(i); }

using value_map_t = wr::weak_value_map<int, node>;
using key_map_t = wr::weak_key_map<node, int, node_hash>;
using set_t = wr::weak_set<node, node_hash>;
using identity_key_map =
    wr::weak_key_map<node, int, wr::identity_hash<node>, wr::identity_equal<node>>;
using identity_set = wr::weak_set<node, wr::identity_hash<node>, wr::identity_equal<node>>;

// The referent an iterator of each container points at.
std::shared_ptr<node> referent_of(const std::pair<const int, std::shared_ptr<node>>& kv) {
  return kv.second;
}
template <class R>
concept key_map_reference = requires(const R& kv) {
  { kv.first } -> std::convertible_to<std::shared_ptr<node>>;
};
template <key_map_reference KeyValue>
std::shared_ptr<node> referent_of(const KeyValue& kv) {
  return kv.first;
}
std::shared_ptr<node> referent_of(const std::shared_ptr<node>& p) { return p; }

// Inserts owner (whose id is i) into each kind of container.
void put(value_map_t& m, const std::shared_ptr<node>& owner) { m[owner->id] = owner; }
void put(key_map_t& m, const std::shared_ptr<node>& owner) { m[owner] = owner->id; }
void put(set_t& s, const std::shared_ptr<node>& owner) { s.add(owner); }

// Kills owners on its own thread, on request, and reports back: deaths on another thread at
// chosen moments of the test thread's work.
class remote_killer {
public:
  remote_killer() : thread_([this] { run(); }) {}
  ~remote_killer() {
    {
      std::lock_guard guard(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  // Hands the owners over and waits until the other thread has released them.
  void kill(std::vector<std::shared_ptr<node>> victims) {
    std::unique_lock guard(mutex_);
    victims_ = std::move(victims);
    pending_ = true;
    wake_.notify_all();
    done_.wait(guard, [this] { return !pending_; });
  }

private:
  void run() {
    std::unique_lock guard(mutex_);
    for (;;) {
      wake_.wait(guard, [this] { return stop_ || pending_; });
      if (pending_) {
        std::vector<std::shared_ptr<node>> victims = std::move(victims_);
        victims_.clear();
        guard.unlock();
        victims.clear(); // the deaths run here, on this thread
        guard.lock();
        pending_ = false;
        done_.notify_all();
      } else if (stop_) {
        return;
      }
    }
  }
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::shared_ptr<node>> victims_;
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;
};

// PY-IMPL-5 for one container: iterate while elements die (locally, or on another thread when
// killer is given). Checks that no dead element is yielded, that no live one is skipped, that
// none is yielded twice, and that the current element is kept alive by the iterator.
template <class C>
void iterate_while_dying(const char* what, remote_killer* killer) {
  constexpr int n = 120;
  C c;
  std::vector<std::shared_ptr<node>> owners;
  for (int i = 0; i < n; ++i) {
    owners.push_back(make_node(i));
    put(c, owners.back());
  }
  std::vector<bool> dead(n, false), seen(n, false);
  const auto kill = [&](std::vector<int> ids) {
    std::vector<std::shared_ptr<node>> victims;
    for (int k : ids) {
      const auto index = static_cast<std::size_t>(k);
      if (owners[index]) {
        victims.push_back(std::move(owners[index]));
        dead[index] = true;
      }
    }
    if (killer)
      killer->kill(std::move(victims));
    else
      victims.clear();
  };
  std::vector<int> before_loop;
  for (int i = 0; i < n; i += 7) before_loop.push_back(i);
  kill(before_loop); // dead, not yet purged
  long failures = 0;
  const C& view = c; // a const traversal: nothing is purged while it runs
  for (auto it = view.begin(); it != view.end(); ++it) {
    std::shared_ptr<node> current = referent_of(*it);
    if (!current || current->magic != intact) {
      ++failures;
      continue;
    }
    const int id = current->id;
    const auto index = static_cast<std::size_t>(id);
    if (dead[index]) ++failures; // a dead element yielded
    if (seen[index]) ++failures; // an element yielded twice
    seen[index] = true;
    const std::weak_ptr<node> watch = current;
    current.reset();
    std::vector<int> victims{id}; // the current one, and a few not yet visited
    for (int k = id + 1; k < n && k <= id + 6; k += 3)
      if (!seen[static_cast<std::size_t>(k)]) victims.push_back(k);
    kill(victims);
    if (watch.expired()) ++failures;                              // the iterator keeps it alive
    if (referent_of(*it).get() != watch.lock().get()) ++failures; // and still points at it
  }
  int skipped = 0;
  for (int i = 0; i < n; ++i)
    if (!seen[static_cast<std::size_t>(i)] && !dead[static_cast<std::size_t>(i)]) ++skipped;
  BOOST_TEST(failures == 0, what);
  BOOST_TEST(skipped == 0, what << ": a live element was skipped");
  BOOST_TEST(std::ranges::count(seen, true) > 0, what);
  BOOST_TEST(c.empty(), what); // every element died
}

// Storage a container obtained from its allocator and gave back.
struct storage_count {
  std::size_t allocations = 0, deallocations = 0, live_bytes = 0;
};

// An allocator that counts into a storage_count. Not std::allocator: the strongly held parts of
// a dead entry wait for the owner (or the container's destruction).
template <class T>
struct counting_allocator {
  using value_type = T;
  storage_count* count;
  explicit counting_allocator(storage_count* c) noexcept : count(c) {}
  template <class U>
  counting_allocator(const counting_allocator<U>& other) noexcept : count(other.count) {}
  T* allocate(std::size_t n) {
    ++count->allocations;
    count->live_bytes += n * sizeof(T);
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    ++count->deallocations;
    count->live_bytes -= n * sizeof(T);
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  friend bool operator==(const counting_allocator& a, const counting_allocator<U>& b) noexcept {
    return a.count == b.count;
  }
};

// A synchronized pool that counts what is allocated from it: with it, a death destroys the
// strongly held part of its entries itself ([weakref.containers.general]/8).
class counting_pool : public std::pmr::synchronized_pool_resource {
public:
  storage_count count;

protected:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    ++count.allocations;
    count.live_bytes += bytes;
    return synchronized_pool_resource::do_allocate(bytes, alignment);
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
    ++count.deallocations;
    count.live_bytes -= bytes;
    synchronized_pool_resource::do_deallocate(p, bytes, alignment);
  }
};

const storage_count& count_of(const storage_count& c) { return c; }
const storage_count& count_of(const counting_pool& pool) { return pool.count; }

// A strongly held part (a weak_value_map key, a weak_key_map value) that counts its instances.
struct counted_part {
  static inline int alive = 0;
  int n;
  explicit counted_part(int x) : n(x) { ++alive; }
  counted_part(const counted_part& other) : n(other.n) { ++alive; }
  ~counted_part() { --alive; }
  friend bool operator==(const counted_part& a, const counted_part& b) { return a.n == b.n; }
};
struct counted_part_hash {
  std::size_t operator()(const counted_part& p) const noexcept { return std::hash<int>{}(p.n); }
};

// PY-IMPL-3 for containers destroyed by a callback of a referent that has entries in them, with
// allocators of kind A (made from a Source: a storage_count or a counting_pool), one per
// container. A live object has entries in them too. After the death: every strongly held part
// was destroyed exactly once, every byte each container obtained was given back (those of the
// dying object's entries, which the death still held, included), the survivor is no longer
// referenced by them, and nothing else died.
template <template <class> class A, class Source>
void destroy_containers_in_a_callback(const char* path) {
  using values_t =
      wr::weak_value_map<counted_part, node, counted_part_hash, std::equal_to<counted_part>,
                         A<std::pair<const counted_part, std::shared_ptr<node>>>>;
  using keys_t = wr::weak_key_map<node, counted_part, node_hash, std::equal_to<node>,
                                  A<std::pair<const std::shared_ptr<node>, counted_part>>>;
  using elements_t = wr::weak_set<node, node_hash, std::equal_to<node>, A<std::shared_ptr<node>>>;
  for (const bool register_first : {true, false}) {
    const std::string what = std::string(path) + (register_first ? ", callback registered first"
                                                                 : ", callback registered last");
    Source values_storage, keys_storage, elements_storage;
    std::optional<values_t> values{std::in_place, A<int>(&values_storage)};
    std::optional<keys_t> keys{std::in_place, A<int>(&keys_storage)};
    std::optional<elements_t> elements{std::in_place, A<int>(&elements_storage)};
    auto object = make_node(1);
    auto survivor = make_node(2);
    int calls = 0;
    const auto destroy_all = [&](wr::weak_ref<node>) {
      ++calls;
      values.reset();
      keys.reset();
      elements.reset();
    };
    std::optional<wr::weak_ref<node>> ref;
    if (register_first) ref.emplace(object, destroy_all);
    for (const auto& o : {object, survivor}) {
      values->insert_or_assign(counted_part(o->id), o);
      keys->insert_or_assign(o, counted_part(o->id));
      elements->add(o);
    }
    if (!register_first) ref.emplace(object, destroy_all);
    BOOST_TEST(counted_part::alive == 4, what);
    BOOST_TEST(wr::weak_ref_count(survivor) == 3u, what); // one entry in each container
    const int nodes_before = node::alive;
    object.reset();
    BOOST_TEST(calls == 1, what);
    BOOST_TEST(node::alive == nodes_before - 1, what); // the dying object only
    BOOST_TEST(counted_part::alive == 0, what);        // every strongly held part, once
    BOOST_TEST(wr::weak_ref_count(survivor) == 0u, what);
    const std::pair<const char*, const storage_count*> storage[] = {
        {"weak_value_map", &count_of(values_storage)},
        {"weak_key_map", &count_of(keys_storage)},
        {"weak_set", &count_of(elements_storage)}};
    for (const auto& [container, c] : storage) {
      BOOST_TEST(c->allocations > 0u, what << ", " << container);
      BOOST_TEST(c->deallocations == c->allocations, what << ", " << container); // all given back
      BOOST_TEST(c->live_bytes == 0u, what << ", " << container);
    }
    survivor.reset();
    BOOST_TEST(node::alive == nodes_before - 2, what);
    BOOST_TEST(calls == 1, what);
  }
}

} // namespace

BOOST_AUTO_TEST_SUITE(implied_containers)

// PY-IMPL-3: "a callback may destroy the last handle of its own reference, or erase the container
// entry that holds it, safely".
// Checks [weakref.ref.death]/2; [weakref.containers.general]/14.
BOOST_AUTO_TEST_CASE(PY_IMPL_3_callback_may_erase_its_container_entry) {
  wr::weak_key_map<node, wr::weak_ref<node>, wr::identity_hash<node>, wr::identity_equal<node>>
      watches;
  auto watcher = make_node(1);
  auto target = make_node(2);
  int calls = 0;
  std::size_t erased = 99;
  bool cleared_inside = false;
  watches[watcher] = wr::weak_ref<node>(target, [&](wr::weak_ref<node> self) {
    ++calls;
    cleared_inside = self() == nullptr;
    erased = watches.erase(*watcher); // destroys the entry's handle to this very reference
  });
  BOOST_TEST(wr::weak_ref_count(target) == 1u);
  target.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(cleared_inside);
  BOOST_TEST(erased == 1u);
  BOOST_TEST(watches.empty());
  // The container remains usable.
  auto next = make_node(3);
  watches[watcher] = wr::weak_ref<node>(next);
  BOOST_TEST(watches.size() == 1u);
  BOOST_TEST((watches.at(*watcher)().get() == next.get()));
}

// PY-IMPL-3: "a callback may destroy the last handle of its own reference, or erase the container
// entry that holds it, safely". Here: the same through a weak_value_map whose key holds the
// reference.
// Checks [weakref.ref.death]/2; [weakref.containers.general]/14.
BOOST_AUTO_TEST_CASE(PY_IMPL_3_callback_may_erase_the_value_map_entry_holding_it) {
  struct ref_key {
    wr::weak_ref<node> ref;
    int id;
    bool operator==(const ref_key& o) const { return id == o.id; }
  };
  struct ref_key_hash {
    std::size_t operator()(const ref_key& k) const noexcept { return std::hash<int>{}(k.id); }
  };
  wr::weak_value_map<ref_key, node, ref_key_hash> m;
  auto value = make_node(1);
  auto target = make_node(2);
  int calls = 0;
  std::size_t erased = 99;
  m[ref_key{wr::weak_ref<node>(target,
                               [&](wr::weak_ref<node>) {
                                 ++calls;
                                 erased = m.erase(ref_key{{}, 7});
                               }),
            7}] = value;
  target.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(erased == 1u);
  BOOST_TEST(m.empty());
  BOOST_TEST(value.use_count() == 1);
}

// PY-IMPL-3: "a callback may destroy the last handle of its own reference, or erase the container
// entry that holds it, safely". Here: a callback of the dying referent may erase that referent's
// own entries (clear the containers), whether it runs before the entries' notifications (registered
// after them) or after (registered before).
// Checks [weakref.general]/4; [weakref.containers.general]/14 and /21.
BOOST_AUTO_TEST_CASE(PY_IMPL_3_callback_may_clear_the_entries_of_its_dying_referent) {
  for (const bool register_first : {true, false}) {
    value_map_t values;
    key_map_t keys;
    set_t elements;
    auto object = make_node(1);
    auto survivor = make_node(2);
    int calls = 0;
    const auto clear_all = [&](wr::weak_ref<node>) {
      ++calls;
      values.clear();
      keys.clear();
      elements.clear();
    };
    std::optional<wr::weak_ref<node>> ref;
    if (register_first) ref.emplace(object, clear_all);
    put(values, object);
    put(keys, object);
    put(elements, object);
    put(values, survivor);
    if (!register_first) ref.emplace(object, clear_all);
    object.reset();
    BOOST_TEST(calls == 1);
    BOOST_TEST(values.empty());
    BOOST_TEST(keys.empty());
    BOOST_TEST(elements.empty());
    put(values, survivor); // still usable
    put(keys, survivor);
    put(elements, survivor);
    BOOST_TEST(values.size() == 1u);
    BOOST_TEST(keys.size() == 1u);
    BOOST_TEST(elements.size() == 1u);
  }
}

// PY-IMPL-3: "a callback may destroy the last handle of its own reference, or erase the container
// entry that holds it, safely". Here: a callback of the dying referent may even destroy the
// containers holding its entries, whether it runs before the entries' notifications (registered
// after them: the death still holds those entries) or after (registered before), and whether
// the death or the container destroys the strongly held parts (the allocator decides).
// Checks [weakref.containers.general]/8 and /16.
BOOST_AUTO_TEST_CASE(PY_IMPL_3_callback_may_destroy_the_containers_of_its_dying_referent) {
  destroy_containers_in_a_callback<counting_allocator, storage_count>("counting allocator");
  destroy_containers_in_a_callback<std::pmr::polymorphic_allocator, counting_pool>(
      "synchronized pool");
}

// PY-IMPL-4: "a stale death never removes a newer entry stored under the same key or an equal
// element (CPython bpo-28427)". Here: the replaced value dies after the replacement.
// Checks [weakref.containers.general]/5; [weakref.value.map.modifiers]/8.
BOOST_AUTO_TEST_CASE(PY_IMPL_4_replaced_value_death_keeps_the_new_entry) {
  value_map_t m;
  auto old_value = make_node(1);
  auto new_value = make_node(2);
  m[5] = old_value;
  m[5] = new_value;
  old_value.reset();
  BOOST_TEST((m.at(5) == new_value));
  m.purge();
  BOOST_TEST((m.at(5) == new_value));
  BOOST_TEST(m.size() == 1u);
}

// PY-IMPL-4: "a stale death never removes a newer entry stored under the same key or an equal
// element (CPython bpo-28427)". Here: the old value dies first, its dead entry still in the table
// (not yet purged) when the new entry is stored, from a callback running before or after the
// entry's notification.
// Checks [weakref.containers.general]/5 and /9; [weakref.value.map.modifiers]/8.
BOOST_AUTO_TEST_CASE(PY_IMPL_4_dead_entry_and_new_entry_under_one_key) {
  for (const bool register_first : {true, false}) {
    value_map_t m;
    auto old_value = make_node(1);
    auto new_value = make_node(2);
    const auto store_new = [&](wr::weak_ref<node>) { m[5] = new_value; };
    std::optional<wr::weak_ref<node>> ref;
    if (register_first) ref.emplace(old_value, store_new);
    m[5] = old_value;
    if (!register_first) ref.emplace(old_value, store_new);
    old_value.reset();
    BOOST_TEST((m.at(5) == new_value), "registered first: " << register_first);
    m.purge();
    BOOST_TEST((m.at(5) == new_value), "registered first: " << register_first);
    BOOST_TEST(m.size() == 1u);
    BOOST_TEST(walked(m) == 1u);
  }
}

// PY-IMPL-4: "a stale death never removes a newer entry stored under the same key or an equal
// element (CPython bpo-28427)". Here: the same for an equal key of a weak_key_map.
// Checks [weakref.containers.general]/5 and /9; [weakref.key.map.modifiers]/1.
BOOST_AUTO_TEST_CASE(PY_IMPL_4_stale_key_death_keeps_the_entry_of_an_equal_key) {
  {
    key_map_t m;
    auto first = make_node(5), equal = make_node(5);
    m[first] = 1;
    BOOST_TEST(m.erase(*first) == 1u);
    m[equal] = 2;
    first.reset();
    m.purge();
    BOOST_TEST(m.at(*equal) == 2);
    BOOST_TEST(m.size() == 1u);
  }
  for (const bool register_first : {true, false}) {
    key_map_t m;
    auto first = make_node(5), equal = make_node(5);
    const auto store_equal = [&](wr::weak_ref<node>) { m[equal] = 2; };
    std::optional<wr::weak_ref<node>> ref;
    if (register_first) ref.emplace(first, store_equal);
    m[first] = 1;
    if (!register_first) ref.emplace(first, store_equal);
    first.reset();
    m.purge();
    BOOST_TEST(m.size() == 1u, "registered first: " << register_first);
    BOOST_TEST(m.at(*equal) == 2, "registered first: " << register_first);
    const auto refs = m.keyrefs();
    BOOST_TEST(refs.size() == 1u);
    BOOST_TEST((refs.front()().get() == equal.get()));
  }
}

// PY-IMPL-4: "a stale death never removes a newer entry stored under the same key or an equal
// element (CPython bpo-28427)". Here: the same for an equal element of a weak_set.
// Checks [weakref.containers.general]/5 and /9; [weakref.set.modifiers]/1.
BOOST_AUTO_TEST_CASE(PY_IMPL_4_stale_element_death_keeps_an_equal_element) {
  {
    set_t s;
    auto first = make_node(5), equal = make_node(5);
    s.add(first);
    s.discard(first);
    s.add(equal);
    first.reset();
    s.purge();
    BOOST_TEST(s.contains(equal));
    BOOST_TEST(s.size() == 1u);
  }
  for (const bool register_first : {true, false}) {
    set_t s;
    auto first = make_node(5), equal = make_node(5);
    const auto add_equal = [&](wr::weak_ref<node>) { s.add(equal); };
    std::optional<wr::weak_ref<node>> ref;
    if (register_first) ref.emplace(first, add_equal);
    s.add(first);
    if (!register_first) ref.emplace(first, add_equal);
    first.reset();
    s.purge();
    BOOST_TEST(s.size() == 1u, "registered first: " << register_first);
    BOOST_TEST(s.contains(*equal), "registered first: " << register_first);
    BOOST_TEST(((*s.begin()).get() == equal.get()));
  }
}

// PY-IMPL-5: "iterating a weak container while entries die never yields a dead entry nor skips a
// live one, and keeps the current element alive". Deaths in the loop body.
// Checks [weakref.containers.general]/5.
BOOST_AUTO_TEST_CASE(PY_IMPL_5_iteration_while_entries_die_in_the_loop) {
  iterate_while_dying<value_map_t>("weak_value_map", nullptr);
  iterate_while_dying<key_map_t>("weak_key_map", nullptr);
  iterate_while_dying<set_t>("weak_set", nullptr);
}

// PY-IMPL-5: "iterating a weak container while entries die never yields a dead entry nor skips a
// live one, and keeps the current element alive". Here: the same with the deaths running on another
// thread while the loop is suspended at an element.
// Checks [weakref.containers.general]/4-6.
BOOST_AUTO_TEST_CASE(PY_IMPL_5_iteration_while_entries_die_on_another_thread) {
  remote_killer killer;
  iterate_while_dying<value_map_t>("weak_value_map", &killer);
  iterate_while_dying<key_map_t>("weak_key_map", &killer);
  iterate_while_dying<set_t>("weak_set", &killer);
}

// PY-IMPL-6: "referents of a weak container's entries may die on any thread while the container's
// owner uses it: no live entry is lost, no dead one observed". Bounded stress: a time cap and an
// operation target; the operations that overlapped a death on a killer's thread
// (conformance::death_watch) are counted against a floor, which the time cap cannot cut.
// Checks [weakref.containers.general]/4-5 and /7.
BOOST_AUTO_TEST_CASE(PY_IMPL_6_entries_die_on_other_threads_while_the_owner_works) {
  const conformance::stress_budget budget(300'000, 20'000, std::chrono::milliseconds(1500), 2'000);

  value_map_t values;
  identity_key_map keys;
  identity_set elements;

  conformance::death_watch watch(budget.overlap_floor());
  conformance::handoff<node> victims(16, &watch);
  std::atomic<bool> stop{false};
  // Two threads release the objects handed to them, each holding some for a while.
  std::thread killer1([&] { victims.kill_until(stop); });
  std::thread killer2([&] { victims.kill_until(stop); });

  struct kept_entry {
    int id;
    std::shared_ptr<node> owner;
  };
  std::vector<kept_entry> kept;
  // Every 8th object's death waits, inside, for an overlapping operation (death_watch::hold);
  // its callback runs before the entries are reported.
  std::vector<wr::weak_ref<node>> holds;
  long operations = 0, failures = 0, overlapping = 0;
  int i = 0;
  for (; budget.more(operations, overlapping); ++i) {
    const auto window = watch.begin();
    const long operations_before = operations;
    auto object = make_node(i);
    values[i] = object;
    keys[object] = i;
    elements.add(object);
    operations += 3;
    if (i % 8 == 1) holds.emplace_back(object, [&watch](wr::weak_ref<node>) { watch.hold(); });
    if (i % 4 == 0) {
      kept.push_back({i, object});
    } else {
      victims.put(std::move(object));
    }
    // A kept entry is always found; any other lookup yields a live, intact object or nothing.
    const kept_entry& probe = kept[static_cast<std::size_t>(i) % kept.size()];
    if (values.get(probe.id) != probe.owner) ++failures;
    if (!keys.contains(*probe.owner) || keys.at(*probe.owner) != probe.id) ++failures;
    if (!elements.contains(*probe.owner)) ++failures;
    if (auto any = values.get(i / 2); any && (any->magic != intact || any->id != i / 2)) ++failures;
    operations += 4;
    if (i % 256 == 0) {
      // Traversals: only intact objects, and at least every kept one.
      std::size_t seen = 0;
      for (const auto& [id, value] : std::as_const(values)) {
        if (value->magic != intact || value->id != id) ++failures;
        ++seen;
      }
      if (seen < kept.size()) ++failures;
      seen = 0;
      for (auto [key, id] : keys) {
        if (key->magic != intact || key->id != id) ++failures;
        ++seen;
      }
      if (seen < kept.size()) ++failures;
      seen = 0;
      for (const auto& element : elements) {
        if (element->magic != intact) ++failures;
        ++seen;
      }
      if (seen < kept.size()) ++failures;
      operations += 3;
    }
    if (i % 9 == 0 && kept.size() > 1) { // the owner erases some of its own entries too
      const kept_entry gone = kept.front();
      kept.erase(kept.begin());
      if (values.erase(gone.id) != 1 || keys.erase(*gone.owner) != 1 ||
          elements.erase(*gone.owner) != 1)
        ++failures;
      operations += 3;
    }
    if (watch.overlapped(window, operations - operations_before))
      overlapping += operations - operations_before;
  }
  stop = true;
  watch.finish();
  killer1.join();
  killer2.join();
  victims.drain();
  BOOST_TEST_MESSAGE("PY-IMPL-6 stress: " << operations << " operations (" << overlapping
                                          << " overlapped a death), " << watch.count()
                                          << " killer releases, " << i << " objects");
  BOOST_TEST(operations >= budget.floor()); // the test did real work, even under a sanitizer
  BOOST_TEST(overlapping >= budget.overlap_floor());
  BOOST_TEST(failures == 0);
  // Every death has been reported: exactly the kept entries remain.
  BOOST_TEST(values.size() == kept.size());
  BOOST_TEST(keys.size() == kept.size());
  BOOST_TEST(elements.size() == kept.size());
  BOOST_TEST(walked(values) == kept.size());
  BOOST_TEST(walked(keys) == kept.size());
  BOOST_TEST(walked(elements) == kept.size());
  for (const kept_entry& k : kept) {
    BOOST_TEST((values.at(k.id) == k.owner));
    BOOST_TEST(keys.at(*k.owner) == k.id);
    BOOST_TEST(elements.contains(k.owner));
  }
  kept.clear();
  BOOST_TEST(values.empty());
  BOOST_TEST(keys.empty());
  BOOST_TEST(elements.empty());
}

// PY-IMPL-10: "a weak container's entries are weak references to their referents, counted by
// weak_ref_count and listed by weak_refs (Python's KeyedRef)".
// Checks [weakref.containers.general]/3; [weakref.introspection]/1 and /3;
// [weakref.value.map.cons]/8.
BOOST_AUTO_TEST_CASE(PY_IMPL_10_entries_are_counted_and_listed_as_weak_references) {
  value_map_t values;
  key_map_t keys;
  set_t elements;
  auto object = make_node(1);
  values[1] = object;
  values[2] = object; // one reference per entry
  keys[object] = 1;
  elements.add(object);
  const wr::weak_ref<node> plain(object);
  BOOST_TEST(wr::weak_ref_count(object) == 5u);
  {
    const auto listed = wr::weak_refs(object);
    BOOST_TEST(listed.size() == 5u);
    std::size_t refs = 0;
    for (const auto& r : listed)
      if (const auto* ref = std::get_if<wr::weak_ref<node>>(&r)) {
        ++refs;
        BOOST_TEST((ref->lock() == object));
      }
    BOOST_TEST(refs == 5u);
    // The listed references are the entries' own.
    const auto is_listed = [&](const wr::weak_ref<node>& r) {
      return std::ranges::any_of(listed, [&](const auto& v) {
        const auto* ref = std::get_if<wr::weak_ref<node>>(&v);
        return ref && ref->identical(r);
      });
    };
    for (const auto& r : values.valuerefs()) BOOST_TEST(is_listed(r));
    for (const auto& r : keys.keyrefs()) BOOST_TEST(is_listed(r));
    BOOST_TEST(is_listed(plain));
  } // (the listed handles would keep the references registered)
  // A copy of a container registers its own references; erasing an entry unregisters it.
  {
    const set_t copy = elements;
    BOOST_TEST(wr::weak_ref_count(object) == 6u);
  }
  BOOST_TEST(wr::weak_ref_count(object) == 5u);
  BOOST_TEST(values.erase(1) == 1u);
  BOOST_TEST(wr::weak_ref_count(object) == 4u);
  keys.clear();
  BOOST_TEST(wr::weak_ref_count(object) == 3u);
  elements.discard(object);
  BOOST_TEST(wr::weak_ref_count(object) == 2u);
  BOOST_TEST(wr::weak_refs(object).size() == 2u);
}

// PY-IMPL-12 (adapted): "a weak container's size() (Python len) counts its live entries". Here:
// size() counts the live entries, exactly whenever no referent is dying at that moment: after every
// death, with no operation of the owner in between.
// Checks [weakref.containers.general]/7 and /20.
BOOST_AUTO_TEST_CASE(PY_IMPL_12_size_is_exact_after_every_death) {
  static_assert(!std::ranges::sized_range<value_map_t>);
  static_assert(!std::ranges::sized_range<key_map_t>);
  static_assert(!std::ranges::sized_range<set_t>);
  value_map_t values;
  key_map_t keys;
  set_t elements;
  std::vector<std::shared_ptr<node>> owners;
  constexpr std::size_t n = 20;
  for (std::size_t i = 0; i < n; ++i) {
    owners.push_back(make_node(static_cast<int>(i)));
    put(values, owners.back());
    put(keys, owners.back());
    put(elements, owners.back());
    BOOST_TEST(values.size() == i + 1);
    BOOST_TEST(keys.size() == i + 1);
    BOOST_TEST(elements.size() == i + 1);
  }
  const value_map_t& cv = values;
  const key_map_t& ck = keys;
  const set_t& cs = elements;
  for (std::size_t i = 0; i < n; ++i) {
    owners[(i * 7) % n].reset();
    const std::size_t live = n - i - 1;
    BOOST_TEST(cv.size() == live);
    BOOST_TEST(ck.size() == live);
    BOOST_TEST(cs.size() == live);
    BOOST_TEST(walked(cv) == live);
    BOOST_TEST(walked(ck) == live);
    BOOST_TEST(walked(cs) == live);
    BOOST_TEST(cv.empty() == (live == 0));
  }
}

// PY-IMPL-12 (adapted): "a weak container's size() (Python len) counts its live entries". Here:
// size() never counts an element whose death has been reported: a callback running after the
// entries' (registered before them) sees it gone.
// Checks [weakref.containers.general]/7.
BOOST_AUTO_TEST_CASE(PY_IMPL_12_size_never_counts_a_reported_death) {
  value_map_t values;
  key_map_t keys;
  set_t elements;
  auto dying = make_node(1), staying = make_node(2);
  std::size_t sizes[3] = {99, 99, 99};
  const wr::weak_ref<node> older(dying, [&](wr::weak_ref<node>) {
    sizes[0] = std::as_const(values).size();
    sizes[1] = std::as_const(keys).size();
    sizes[2] = std::as_const(elements).size();
  });
  for (const auto& o : {dying, staying}) {
    put(values, o);
    put(keys, o);
    put(elements, o);
  }
  dying.reset();
  BOOST_TEST(sizes[0] == 1u);
  BOOST_TEST(sizes[1] == 1u);
  BOOST_TEST(sizes[2] == 1u);
}

// PY-IMPL-12 (adapted): "a weak container's size() (Python len) counts its live entries". Here:
// once deaths on other threads have completed, size() is exact again.
// Checks [weakref.containers.general]/7.
BOOST_AUTO_TEST_CASE(PY_IMPL_12_size_is_exact_after_deaths_on_other_threads) {
  value_map_t values;
  key_map_t keys;
  set_t elements;
  std::vector<std::shared_ptr<node>> owners, doomed;
  for (int i = 0; i < 200; ++i) {
    auto o = make_node(i);
    put(values, o);
    put(keys, o);
    put(elements, o);
    (i % 3 == 0 ? owners : doomed).push_back(std::move(o));
  }
  std::vector<std::shared_ptr<node>> first_half(doomed.begin(), doomed.begin() + 60);
  std::vector<std::shared_ptr<node>> second_half(doomed.begin() + 60, doomed.end());
  doomed.clear();
  std::thread a([v = std::move(first_half)]() mutable { v.clear(); });
  std::thread b([v = std::move(second_half)]() mutable { v.clear(); });
  a.join();
  b.join();
  BOOST_TEST(std::as_const(values).size() == owners.size());
  BOOST_TEST(std::as_const(keys).size() == owners.size());
  BOOST_TEST(std::as_const(elements).size() == owners.size());
  BOOST_TEST(walked(std::as_const(values)) == owners.size());
}

BOOST_AUTO_TEST_SUITE_END()
