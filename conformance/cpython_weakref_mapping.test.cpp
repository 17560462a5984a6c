// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: CPython's MappingTestCase (Lib/test/test_weakref.py), the tests of
// WeakKeyDictionary and WeakValueDictionary, translated to C++ for weak_key_map and
// weak_value_map. conformance/cpython-tests.md maps every CPython test to the test(s) here and
// says how each was translated; a comment above each test names the CPython test it ports.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <ranges>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>
#include <version>
#if defined(__cpp_lib_format)
#include <format>
#endif

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

constexpr int count = 10; // CPython's MappingTestCase.COUNT

// CPython's make_weak_keyed_dict and make_weak_valued_dict.
template <class Map>
std::vector<std::shared_ptr<node>> fill(Map& d) {
  std::vector<std::shared_ptr<node>> objects;
  for (int i = 0; i < count; ++i) {
    objects.push_back(make_node(i));
    if constexpr (requires { d.keyrefs(); })
      d[objects.back()] = i;
    else
      d[i] = objects.back();
  }
  return objects;
}

// The contents of a map as (key id, value id) pairs, for comparisons.
std::set<std::pair<int, int>> contents(const value_map_t& d) {
  std::set<std::pair<int, int>> s;
  for (const auto& [k, v] : d) s.emplace(k, v->id);
  return s;
}
std::set<std::pair<int, int>> contents(const key_map_t& d) {
  std::set<std::pair<int, int>> s;
  for (auto [k, v] : d) s.emplace(k->id, v);
  return s;
}

// Runs a function once, inside the next hash computed by a hooked hash function: a death (or
// any other effect) placed inside a container member, after the purge that member starts with.
struct death_hook {
  static inline std::function<void()> armed;
  static void fire() {
    if (!armed) return;
    std::function<void()> f = std::move(armed);
    armed = nullptr;
    f();
  }
};
struct hooked_node_hash {
  std::size_t operator()(const node& n) const {
    death_hook::fire();
    return std::hash<int>{}(n.id);
  }
};
struct hooked_int_hash {
  std::size_t operator()(int k) const {
    death_hook::fire();
    return std::hash<int>{}(k);
  }
};

// Releases the objects handed to it on its own thread, in batches after pseudo-random pauses,
// so that the deaths fall soon after each hand-off but at any moment of the owner's work
// (CPython's collect_in_thread: a collection every few milliseconds, at unknown moments).
class jittered_killer {
public:
  jittered_killer() : thread_([this] { run(); }) {}
  ~jittered_killer() {
    stop_ = true;
    thread_.join();
  }
  jittered_killer(const jittered_killer&) = delete;
  jittered_killer& operator=(const jittered_killer&) = delete;
  void put(std::shared_ptr<node> p) {
    std::lock_guard guard(mutex_);
    queue_.push_back(std::move(p));
  }

private:
  void run() {
    std::minstd_rand random(28427);
    std::vector<std::shared_ptr<node>> held;
    while (!stop_.load()) {
      for (volatile unsigned spin = random() % 64; spin != 0; spin = spin - 1) {
      }
      {
        std::lock_guard guard(mutex_);
        held.swap(queue_);
      }
      if (held.empty()) std::this_thread::yield();
      held.clear(); // they die here, at a moment unrelated to the owner's work
    }
    std::lock_guard guard(mutex_);
    queue_.clear();
  }
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::shared_ptr<node>> queue_;
  std::thread thread_;
};

} // namespace

BOOST_AUTO_TEST_SUITE(cpython_weakref_mapping)

// ---------------------------------------------------------------------------------------------
// Size while an iterator pins an element, and while deaths race with it

namespace {
template <class Map>
void check_len_pinned() {
  Map d;
  std::vector<std::shared_ptr<node>> items = fill(d);
  std::optional<typename Map::iterator> it(d.begin()); // keeps one element alive
  items.clear();
  BOOST_TEST(d.size() == 1u); // CPython: 0 or 1; here exactly the pinned element
  BOOST_TEST(walked(std::as_const(d)) == 1u);
  it.reset();
  BOOST_TEST(d.size() == 0u);
  BOOST_TEST(walked(std::as_const(d)) == 0u);
}
} // namespace

// test_weak_keyed_len_cycles (the items need no cycle to die)
// Checks [weakref.containers.general]/5 and /7.
BOOST_AUTO_TEST_CASE(PY_IMPL_12_cpython_weak_keyed_len_cycles) { check_len_pinned<key_map_t>(); }

// test_weak_valued_len_cycles
// Checks [weakref.containers.general]/5 and /7.
BOOST_AUTO_TEST_CASE(PY_IMPL_12_cpython_weak_valued_len_cycles) { check_len_pinned<value_map_t>(); }

namespace {
// CPython's check_len_race: the collector runs at an unknown moment; here the items die on
// another thread while the owner iterates and measures.
template <class Map>
void check_len_race() {
  for (int round = 1; round < 100; ++round) {
    Map d;
    std::vector<std::shared_ptr<node>> items = fill(d);
    const auto n = items.size();
    std::thread killer([doomed = std::move(items)]() mutable { doomed.clear(); });
    std::size_t n1 = 0, n2 = 0;
    {
      [[maybe_unused]] const auto it = std::as_const(d).begin(); // may hold an item alive
      n1 = d.size();
    }
    n2 = d.size();
    killer.join();
    BOOST_TEST(n1 <= n);
    BOOST_TEST(n2 <= n1);
    BOOST_TEST(d.size() == 0u);
  }
}
} // namespace

// test_weak_keyed_len_race
// Checks [weakref.containers.general]/4 and /7.
BOOST_AUTO_TEST_CASE(PY_IMPL_12_cpython_weak_keyed_len_race) { check_len_race<key_map_t>(); }

// test_weak_valued_len_race
// Checks [weakref.containers.general]/4 and /7.
BOOST_AUTO_TEST_CASE(PY_IMPL_12_cpython_weak_valued_len_race) { check_len_race<value_map_t>(); }

// ---------------------------------------------------------------------------------------------
// The basic behaviour

// test_weak_values (d.copy(), items, d[k], del, len; SF bug 447152)
// Checks [weakref.value.map]/1; [weakref.value.map.python]/20; [weakref.value.map.lookup]/7.
BOOST_AUTO_TEST_CASE(PY_WVD_1_cpython_weak_values) {
  value_map_t dict;
  std::vector<std::shared_ptr<node>> objects = fill(dict);
  for (const auto& o : objects) {
    BOOST_TEST(wr::weak_ref_count(o) == 1u);
    BOOST_TEST((dict.at(o->id) == o));
  }
  BOOST_TEST((contents(dict) == contents(dict.copy())));
  BOOST_TEST(dict.size() == static_cast<std::size_t>(count));
  objects.erase(objects.begin());
  BOOST_TEST(dict.size() == static_cast<std::size_t>(count - 1));
  objects.clear();
  BOOST_TEST(dict.size() == 0u);
  value_map_t fresh;
  BOOST_CHECK_THROW(fresh.at(1), wr::key_error);
  fresh[2] = make_node(2); // nothing else owns it
  BOOST_CHECK_THROW(fresh.at(2), wr::key_error);
}

// test_weak_keys (d.copy(), items, d[k] = v, d[k], del, len, k in d)
// Checks [weakref.key.map]/1; [weakref.key.map.python]/20; [weakref.key.map.lookup]/1.
BOOST_AUTO_TEST_CASE(PY_WKD_1_cpython_weak_keys) {
  key_map_t dict;
  std::vector<std::shared_ptr<node>> objects = fill(dict);
  for (const auto& o : objects) {
    BOOST_TEST(wr::weak_ref_count(o) == 1u);
    BOOST_TEST(dict.at(*o) == o->id);
  }
  BOOST_TEST((contents(dict) == contents(dict.copy())));
  BOOST_TEST(dict.size() == static_cast<std::size_t>(count));
  objects.erase(objects.begin());
  BOOST_TEST(dict.size() == static_cast<std::size_t>(count - 1));
  objects.clear();
  BOOST_TEST(dict.size() == 0u);
  auto o = make_node(42);
  dict[o] = 7;
  BOOST_TEST(dict.contains(*o));
  BOOST_TEST(!dict.contains(node(34)));
}

namespace {
// CPython's check_iters: each iteration touches every item once.
template <class Map>
void check_iters(const Map& dict) {
  const auto items = contents(dict);
  std::multiset<std::pair<int, int>> seen;
  std::multiset<int> keys, values;
  for (auto&& [k, v] : dict) {
    if constexpr (std::is_same_v<Map, key_map_t>) {
      seen.emplace(k->id, v);
      keys.insert(k->id);
      values.insert(v);
    } else {
      seen.emplace(k, v->id);
      keys.insert(k);
      values.insert(v->id);
    }
  }
  BOOST_TEST((std::set<std::pair<int, int>>(seen.begin(), seen.end()) == items));
  BOOST_TEST(seen.size() == items.size());
  BOOST_TEST(keys.size() == items.size());
  BOOST_TEST(values.size() == items.size());
}
} // namespace

// test_weak_keyed_iters (items, keys, values, keyrefs, iterkeyrefs)
// Checks [weakref.key.map.iter]/2; [weakref.key.map.python]/21-22.
BOOST_AUTO_TEST_CASE(PY_WKD_8_cpython_weak_keyed_iters) {
  key_map_t dict;
  const std::vector<std::shared_ptr<node>> objects = fill(dict);
  check_iters(dict);
  const auto refs = dict.keyrefs();
  BOOST_TEST(refs.size() == objects.size());
  std::vector<std::shared_ptr<node>> objects2 = objects;
  for (const auto& r : refs) {
    const auto ob = r();
    BOOST_TEST(dict.contains(*ob));
    BOOST_TEST(dict.at(*ob) == ob->id);
    std::erase(objects2, ob);
  }
  BOOST_TEST(objects2.empty());
  objects2 = objects;
  BOOST_TEST(static_cast<std::size_t>(std::ranges::distance(dict.iterkeyrefs())) == objects.size());
  for (const wr::weak_ref<node> r : dict.iterkeyrefs()) {
    const auto ob = r();
    BOOST_TEST(dict.contains(*ob));
    BOOST_TEST(dict.at(*ob) == ob->id);
    std::erase(objects2, ob);
  }
  BOOST_TEST(objects2.empty());
}

// test_weak_valued_iters (items, keys, values, valuerefs, itervaluerefs)
// Checks [weakref.value.map.iter]/2; [weakref.value.map.python]/21-22.
BOOST_AUTO_TEST_CASE(PY_WVD_7_cpython_weak_valued_iters) {
  value_map_t dict;
  const std::vector<std::shared_ptr<node>> objects = fill(dict);
  check_iters(dict);
  const auto refs = dict.valuerefs();
  BOOST_TEST(refs.size() == objects.size());
  std::vector<std::shared_ptr<node>> objects2 = objects;
  for (const auto& r : refs) {
    const auto ob = r();
    BOOST_TEST((ob == dict.at(ob->id)));
    std::erase(objects2, ob);
  }
  BOOST_TEST(objects2.empty());
  objects2 = objects;
  BOOST_TEST(static_cast<std::size_t>(std::ranges::distance(dict.itervaluerefs())) ==
             objects.size());
  for (const wr::weak_ref<node> r : dict.itervaluerefs()) {
    const auto ob = r();
    BOOST_TEST((ob == dict.at(ob->id)));
    std::erase(objects2, ob);
  }
  BOOST_TEST(objects2.empty());
}

// ---------------------------------------------------------------------------------------------
// Issue 7105 and issue 21173: deaths while an iterator is alive, then the owner's own mutations

namespace {
// CPython's check_weak_destroy_while_iterating: an iteration is started, an object is
// destroyed, the rest of the iteration yields the remaining objects (or all but the dead one),
// and once the iteration is over the death has been committed. `range` makes the iteration
// (the map itself, or its keyrefs / valuerefs range).
template <class Map, class Range>
void check_weak_destroy_while_iterating(Map& dict, std::vector<std::shared_ptr<node>>& objects,
                                        Range range) {
  const std::size_t n = dict.size();
  {
    auto r = range(dict);
    auto it = std::ranges::begin(r);
    ++it; // one consumed
    objects.pop_back();
    const auto rest = static_cast<std::size_t>(std::ranges::distance(it, std::ranges::end(r)));
    BOOST_TEST((rest == objects.size() || rest == objects.size() - 1));
  }
  BOOST_TEST(dict.size() == n - 1);
}
const auto whole = [](auto& d) -> auto& { return d; };
const auto const_whole = [](auto& d) -> const auto& { return std::as_const(d); };
} // namespace

// test_weak_keys_destroy_while_iterating, first part (issue 7105): keys, items, values, keyrefs
// Checks [weakref.containers.general]/5; [weakref.key.map.python]/21.
BOOST_AUTO_TEST_CASE(PY_WKD_3_cpython_weak_keys_destroy_while_iterating) {
  key_map_t dict;
  std::vector<std::shared_ptr<node>> objects = fill(dict);
  check_weak_destroy_while_iterating(dict, objects, whole);
  check_weak_destroy_while_iterating(dict, objects, const_whole);
  check_weak_destroy_while_iterating(dict, objects, [](auto& d) { return d.iterkeyrefs(); });
}

// test_weak_values_destroy_while_iterating, first part (issue 7105): keys, items, values,
// itervaluerefs, valuerefs
// Checks [weakref.containers.general]/5; [weakref.value.map.python]/21.
BOOST_AUTO_TEST_CASE(PY_WVD_2_cpython_weak_values_destroy_while_iterating) {
  value_map_t dict;
  std::vector<std::shared_ptr<node>> objects = fill(dict);
  check_weak_destroy_while_iterating(dict, objects, whole);
  check_weak_destroy_while_iterating(dict, objects, const_whole);
  check_weak_destroy_while_iterating(dict, objects, [](auto& d) { return d.itervaluerefs(); });
}

namespace {
// How a test context schedules the death of one object while an iterator is alive:
// `reported` kills it at once (its death is reported, the element not yet removed: the next
// member that purges removes it); `inside` arms the hash hook, so that the object dies inside
// the next member call, after that member's purge, while the member looks up its key.
enum class death_timing { reported, inside };

// CPython's testcontext (test_weak_*_destroy_while_iterating): starts an iteration, schedules
// the death of an object other than the one the iterator holds, and yields (the id of) the
// object to recreate. The iterator lives until the context ends.
template <class Map>
class destroy_context {
public:
  destroy_context(Map& dict, std::vector<std::shared_ptr<node>>& objects, death_timing when)
      : it_(dict.begin()) {
    const std::shared_ptr<node> held = pinned(*it_);
    auto victim = std::ranges::find_if(objects | std::views::reverse,
                                       [&](const auto& o) { return o != held; });
    id_ = (*victim)->id;
    std::shared_ptr<node> doomed = std::move(*victim);
    objects.erase(std::next(victim).base());
    if (when == death_timing::reported)
      doomed.reset();
    else
      death_hook::armed = [d = std::move(doomed)]() mutable { d.reset(); };
  }
  ~destroy_context() { death_hook::armed = nullptr; }
  destroy_context(const destroy_context&) = delete;
  destroy_context& operator=(const destroy_context&) = delete;
  int id() const noexcept { return id_; }

private:
  static std::shared_ptr<node> pinned(const auto& kv) {
    if constexpr (requires { kv.first->id; })
      return kv.first;
    else
      return kv.second;
  }
  typename Map::iterator it_;
  int id_ = -1;
};

using hooked_key_map = wr::weak_key_map<node, int, hooked_node_hash>;
using hooked_value_map = wr::weak_value_map<int, node, hooked_int_hash>;

// Size agrees with iteration and is `expected`.
template <class Map>
void check_size(const Map& d, std::size_t expected, const char* what, death_timing when) {
  const char* timing = when == death_timing::reported ? "reported" : "inside";
  // An armed death has run inside the member (every member checked here hashes a key).
  BOOST_TEST(!death_hook::armed, what << " (" << timing << "): the death did not run inside");
  BOOST_TEST(d.size() == expected, what << " (" << timing << ")");
  BOOST_TEST(walked(d) == expected, what << " (" << timing << ")");
}
} // namespace

// test_weak_keys_destroy_while_iterating, second part: check_weak_destroy_and_mutate_while_
// iterating (issue 7105). With an iterator alive and a death pending, the owner looks up,
// erases, pops and re-inserts the dead object's key (an equal new one), updates from a copy and
// clears; the size is checked after each. Each step runs with the death reported before the
// member call, and with the death inside the call, after its purge.
// Checks [weakref.containers.general]/5, /7 and /21; [weakref.key.map.python]/9 and /17.
BOOST_AUTO_TEST_CASE(PY_IMPL_21_cpython_weak_keys_mutate_while_iterating) {
  for (const death_timing when : {death_timing::reported, death_timing::inside}) {
    hooked_key_map dict;
    std::vector<std::shared_ptr<node>> objects = fill(dict);
    std::shared_ptr<node> k; // CPython's k: the recreated key, alive until the next context
    {
      destroy_context ctx(dict, objects, when);
      k = make_node(ctx.id());
      BOOST_TEST(!dict.contains(*k));
      check_size(dict, objects.size(), "in", when);
    }
    {
      destroy_context ctx(dict, objects, when);
      k = make_node(ctx.id());
      BOOST_TEST(dict.erase(*k) == 0u); // CPython: del raises KeyError
      check_size(dict, objects.size(), "del", when);
    }
    BOOST_TEST(!dict.contains(*k));
    {
      destroy_context ctx(dict, objects, when);
      k = make_node(ctx.id());
      BOOST_CHECK_THROW(dict.pop(*k), wr::key_error);
      check_size(dict, objects.size(), "pop", when);
    }
    BOOST_TEST(!dict.contains(*k));
    int v = -1;
    {
      destroy_context ctx(dict, objects, when);
      k = make_node(ctx.id());
      v = ctx.id();
      dict[k] = v;
      check_size(dict, objects.size() + 1, "d[k] = v", when);
    }
    BOOST_TEST(dict.at(*k) == v);
    const hooked_key_map ddict = dict;
    {
      destroy_context ctx(dict, objects, when);
      dict.update(ddict);
      check_size(dict, objects.size() + 1, "update", when);
    }
    BOOST_TEST((dict == ddict));
    {
      destroy_context ctx(dict, objects, when);
      dict.clear();
      BOOST_TEST(dict.size() == 0u);
      BOOST_TEST(walked(dict) == 0u);
    }
    BOOST_TEST(dict.size() == 0u);
  }
}

// test_weak_values_destroy_while_iterating, second part (issue 7105), for values
// Checks [weakref.containers.general]/5, /7 and /21; [weakref.value.map.python]/9 and /17.
BOOST_AUTO_TEST_CASE(PY_IMPL_21_cpython_weak_values_mutate_while_iterating) {
  for (const death_timing when : {death_timing::reported, death_timing::inside}) {
    hooked_value_map dict;
    std::vector<std::shared_ptr<node>> objects = fill(dict);
    int k = -1;
    std::shared_ptr<node> v; // CPython's v: the recreated value, alive until the next context
    {
      destroy_context ctx(dict, objects, when);
      k = ctx.id();
      BOOST_TEST(!dict.contains(k));
      check_size(dict, objects.size(), "in", when);
    }
    {
      destroy_context ctx(dict, objects, when);
      k = ctx.id();
      BOOST_TEST(dict.erase(k) == 0u);
      check_size(dict, objects.size(), "del", when);
    }
    BOOST_TEST(!dict.contains(k));
    {
      destroy_context ctx(dict, objects, when);
      k = ctx.id();
      BOOST_CHECK_THROW(dict.pop(k), wr::key_error);
      check_size(dict, objects.size(), "pop", when);
    }
    BOOST_TEST(!dict.contains(k));
    {
      destroy_context ctx(dict, objects, when);
      k = ctx.id();
      v = make_node(k);
      dict[k] = v;
      check_size(dict, objects.size() + 1, "d[k] = v", when);
    }
    BOOST_TEST((dict.at(k) == v));
    const hooked_value_map ddict = dict;
    {
      destroy_context ctx(dict, objects, when);
      dict.update(ddict);
      check_size(dict, objects.size() + 1, "update", when);
    }
    BOOST_TEST((dict == ddict));
    {
      destroy_context ctx(dict, objects, when);
      dict.clear();
      BOOST_TEST(dict.size() == 0u);
      BOOST_TEST(walked(dict) == 0u);
    }
    BOOST_TEST(dict.size() == 0u);
  }
}

// test_weak_keys_destroy_while_iterating, third part: check_weak_del_and_len_while_iterating
// (issue 21173). Each context kills one object while an iterator is alive; pop, insertion,
// popitem, erasure and clear keep size() exact. (CPython's len is exact too: it subtracts the
// removals its iterators defer.)
// Checks [weakref.containers.general]/7; [weakref.key.map.python]/13-14.
BOOST_AUTO_TEST_CASE(PY_IMPL_21_cpython_weak_keys_del_and_len_while_iterating) {
  key_map_t dict;
  std::vector<std::shared_ptr<node>> objects = fill(dict);
  const auto o = make_node(123456);
  std::size_t n = 0;
  const auto first_key = [&] { return (*dict.begin()).first; };
  {
    destroy_context ctx(dict, objects, death_timing::reported);
    n = dict.size();
    BOOST_TEST(n == objects.size());
    BOOST_TEST(dict.pop(*first_key()) >= 0);
    BOOST_TEST(dict.size() == n - 1);
    dict[o] = o->id;
    BOOST_TEST(dict.size() == n);
  }
  {
    destroy_context ctx(dict, objects, death_timing::reported);
    BOOST_TEST(dict.size() == n - 1);
    const auto item = dict.popitem();
    BOOST_TEST(item.first->magic == intact); // a live element, never the dead one
    BOOST_TEST(dict.size() == n - 2);
  }
  {
    destroy_context ctx(dict, objects, death_timing::reported);
    BOOST_TEST(dict.size() == n - 3);
    BOOST_TEST(dict.erase(*first_key()) == 1u);
    BOOST_TEST(dict.size() == n - 4);
  }
  {
    destroy_context ctx(dict, objects, death_timing::reported);
    BOOST_TEST(dict.size() == n - 5);
    dict.popitem();
    BOOST_TEST(dict.size() == n - 6);
  }
  {
    destroy_context ctx(dict, objects, death_timing::reported);
    dict.clear();
    BOOST_TEST(dict.size() == 0u);
  }
  BOOST_TEST(dict.size() == 0u);
  BOOST_TEST(walked(dict) == 0u);
}

// test_weak_values_destroy_while_iterating, third part (issue 21173), for values
// Checks [weakref.containers.general]/7; [weakref.value.map.python]/13-14.
BOOST_AUTO_TEST_CASE(PY_IMPL_21_cpython_weak_values_del_and_len_while_iterating) {
  value_map_t dict;
  std::vector<std::shared_ptr<node>> objects = fill(dict);
  const auto o = make_node(123456);
  std::size_t n = 0;
  const auto first_key = [&] { return (*dict.begin()).first; };
  {
    destroy_context ctx(dict, objects, death_timing::reported);
    n = dict.size();
    BOOST_TEST(n == objects.size());
    BOOST_TEST(dict.pop(first_key()) != nullptr);
    BOOST_TEST(dict.size() == n - 1);
    dict[o->id] = o;
    BOOST_TEST(dict.size() == n);
  }
  {
    destroy_context ctx(dict, objects, death_timing::reported);
    BOOST_TEST(dict.size() == n - 1);
    const auto item = dict.popitem();
    BOOST_TEST(item.second->magic == intact);
    BOOST_TEST(dict.size() == n - 2);
  }
  {
    destroy_context ctx(dict, objects, death_timing::reported);
    BOOST_TEST(dict.size() == n - 3);
    BOOST_TEST(dict.erase(first_key()) == 1u);
    BOOST_TEST(dict.size() == n - 4);
  }
  {
    destroy_context ctx(dict, objects, death_timing::reported);
    BOOST_TEST(dict.size() == n - 5);
    dict.popitem();
    BOOST_TEST(dict.size() == n - 6);
  }
  {
    destroy_context ctx(dict, objects, death_timing::reported);
    dict.clear();
    BOOST_TEST(dict.size() == 0u);
  }
  BOOST_TEST(dict.size() == 0u);
  BOOST_TEST(walked(dict) == 0u);
}

// setdefault, pop and popitem on an element dead but not yet removed (the death inside the
// member, after its purge; CPython's pending removals, test_weak_*_destroy_while_iterating):
// setdefault inserts a new element next to the dead one, pop misses it, popitem never returns
// it, and the size stays exact.
// Checks [weakref.containers.general]/5 and /7; [weakref.key.map.python]/5-6, /10 and /13-14;
// [weakref.value.map.python]/5-6, /10 and /13-14.
BOOST_AUTO_TEST_CASE(PY_IMPL_21_setdefault_pop_popitem_on_dead_unpurged_elements) {
  {
    hooked_key_map dict;
    std::vector<std::shared_ptr<node>> objects = fill(dict);
    auto doomed = std::move(objects.back());
    objects.pop_back();
    const auto equal = make_node(doomed->id);
    death_hook::armed = [&doomed] { doomed.reset(); };
    BOOST_TEST(dict.setdefault(equal, 77) == 77); // the dead element's value is not returned
    check_size(dict, objects.size() + 1, "setdefault", death_timing::inside);
    BOOST_TEST(dict.at(*equal) == 77);
    doomed = std::move(objects.back());
    objects.pop_back();
    death_hook::armed = [&doomed] { doomed.reset(); };
    BOOST_TEST(dict.pop(node(doomed->id), -1) == -1);
    check_size(dict, objects.size() + 1, "pop", death_timing::inside);
    while (objects.size() >= 2) { // popitem while another element's death is reported
      const std::size_t before = dict.size();
      auto kill = std::move(objects.back());
      objects.pop_back();
      const int dead_id = kill->id;
      kill.reset();
      BOOST_TEST(dict.size() == before - 1);
      const auto item = dict.popitem();
      BOOST_TEST(item.first->id != dead_id);
      BOOST_TEST(item.first->magic == intact);
      std::erase(objects, item.first);
      check_size(dict, before - 2, "popitem", death_timing::reported);
    }
  }
  {
    hooked_value_map dict;
    std::vector<std::shared_ptr<node>> objects = fill(dict);
    auto doomed = std::move(objects.back());
    objects.pop_back();
    const int k = doomed->id;
    const auto fresh = make_node(k);
    death_hook::armed = [&doomed] { doomed.reset(); };
    BOOST_TEST((dict.setdefault(k, fresh) == fresh));
    check_size(dict, objects.size() + 1, "setdefault", death_timing::inside);
    doomed = std::move(objects.back());
    objects.pop_back();
    const auto fallback = make_node(-1);
    const int kp = doomed->id;
    death_hook::armed = [&doomed] { doomed.reset(); };
    BOOST_TEST((dict.pop(kp, fallback) == fallback));
    check_size(dict, objects.size() + 1, "pop", death_timing::inside);
    auto kill = std::move(objects.back());
    objects.pop_back();
    const int dead_id = kill->id;
    kill.reset();
    const auto item = dict.popitem();
    BOOST_TEST(item.first != dead_id);
    BOOST_TEST(item.second->magic == intact);
    check_size(dict, objects.size(), "popitem", death_timing::reported);
  }
}

// ---------------------------------------------------------------------------------------------
// Construction, popitem, setdefault, update, del

// test_make_weak_keyed_dict_from_dict
// Checks [weakref.key.map.cons]/1; [weakref.value.map.cons]/1.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_make_weak_keyed_dict_from_dict) {
  const auto o = make_node(3);
  const key_map_t dict{{o, 364}};
  BOOST_TEST(dict.at(*o) == 364);
  const std::map<std::shared_ptr<node>, int> plain{{o, 364}};
  const key_map_t from_plain(plain.begin(), plain.end());
  BOOST_TEST(from_plain.at(*o) == 364);
}

// test_make_weak_keyed_dict_from_weak_keyed_dict
// Checks [weakref.key.map.cons]/1; [weakref.value.map.cons]/1 and /8.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_make_weak_keyed_dict_from_weak_keyed_dict) {
  const auto o = make_node(3);
  const key_map_t dict{{o, 364}};
  const key_map_t dict2(dict);
  const key_map_t dict3(dict.begin(), dict.end());
  BOOST_TEST(dict.at(*o) == 364);
  BOOST_TEST(dict2.at(*o) == 364);
  BOOST_TEST(dict3.at(*o) == 364);
}

// test_make_weak_valued_dict_from_dict
// Checks [weakref.value.map.cons]/1.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_make_weak_valued_dict_from_dict) {
  const auto o = make_node(3);
  const value_map_t dict{{364, o}};
  BOOST_TEST((dict.at(364) == o));
  const std::map<int, std::shared_ptr<node>> plain{{364, o}};
  const value_map_t from_plain(plain.begin(), plain.end());
  BOOST_TEST((from_plain.at(364) == o));
}

// test_make_weak_valued_dict_from_weak_valued_dict
// Checks [weakref.value.map.cons]/1 and /8.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_make_weak_valued_dict_from_weak_valued_dict) {
  const auto o = make_node(3);
  const value_map_t dict{{364, o}};
  const value_map_t dict2(dict);
  const value_map_t dict3(dict.begin(), dict.end());
  BOOST_TEST((dict.at(364) == o));
  BOOST_TEST((dict2.at(364) == o));
  BOOST_TEST((dict3.at(364) == o));
}

// test_make_weak_valued_dict_misc: wrong constructor arguments are compile-time errors; keyword
// arguments have no C++ counterpart, so the keys CPython passes by keyword are ordinary keys
// Checks [weakref.value.map.cons]/1.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_make_weak_valued_dict_misc) {
  using string_map = wr::weak_value_map<std::string, node>;
  using plain = std::map<std::string, std::shared_ptr<node>>;
  static_assert(!std::constructible_from<string_map, plain, plain>);
  static_assert(!std::constructible_from<string_map, int, int, int, int, int, int>);
  const auto o = make_node(3);
  for (const char* kw : {"self", "dict", "other", "iterable"}) {
    const string_map d{{kw, o}};
    BOOST_TEST(d.size() == 1u);
    BOOST_TEST((*d.begin()).first == kw);
    BOOST_TEST((d.at(kw) == o));
  }
}

namespace {
// CPython's check_popitem: two items, popped one at a time, each with its own value.
template <class Map, class K, class V>
void check_popitem(const K& key1, const V& value1, const K& key2, const V& value2) {
  Map weakdict;
  weakdict.insert_or_assign(key1, value1);
  weakdict.insert_or_assign(key2, value2);
  BOOST_TEST(weakdict.size() == 2u);
  for (std::size_t left = 1;; --left) {
    const auto [k, v] = weakdict.popitem();
    BOOST_TEST(weakdict.size() == left);
    BOOST_TEST((k == key1 ? v == value1 : (k == key2 && v == value2)));
    if (left == 0) break;
  }
}
} // namespace

// test_weak_valued_dict_popitem
// Checks [weakref.value.map.python]/13-14.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_weak_valued_dict_popitem) {
  const auto c1 = make_node(1), c2 = make_node(2);
  check_popitem<wr::weak_value_map<std::string, node>>(std::string("key1"), c1, std::string("key2"),
                                                       c2);
}

// test_weak_keyed_dict_popitem
// Checks [weakref.key.map.python]/13-14.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_weak_keyed_dict_popitem) {
  const auto c1 = make_node(1), c2 = make_node(2);
  check_popitem<wr::weak_key_map<node, std::string, node_hash>>(c1, std::string("value 1"), c2,
                                                                std::string("value 2"));
}

// test_weak_valued_dict_setdefault
// Checks [weakref.value.map.python]/1 and /5-6.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_weak_valued_dict_setdefault) {
  wr::weak_value_map<std::string, node> weakdict;
  const auto value1 = make_node(1), value2 = make_node(2);
  BOOST_TEST((weakdict.setdefault("key", value1) == value1));
  BOOST_TEST(weakdict.contains("key"));
  BOOST_TEST((weakdict.get("key") == value1));
  BOOST_TEST((weakdict.at("key") == value1));
  BOOST_TEST((weakdict.setdefault("key", value2) == value1));
  BOOST_TEST(weakdict.contains("key"));
  BOOST_TEST((weakdict.get("key") == value1));
  BOOST_TEST((weakdict.at("key") == value1));
}

// test_weak_keyed_dict_setdefault
// Checks [weakref.key.map.python]/1 and /5-6.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_weak_keyed_dict_setdefault) {
  wr::weak_key_map<node, std::string, node_hash> weakdict;
  const auto key = make_node(1);
  BOOST_TEST(weakdict.setdefault(key, "value 1") == "value 1");
  BOOST_TEST(weakdict.contains(*key));
  BOOST_TEST((weakdict.get(*key) == "value 1"));
  BOOST_TEST(weakdict.at(*key) == "value 1");
  BOOST_TEST(weakdict.setdefault(key, "value 2") == "value 1");
  BOOST_TEST(weakdict.contains(*key));
  BOOST_TEST((weakdict.get(*key) == "value 1"));
  BOOST_TEST(weakdict.at(*key) == "value 1");
}

namespace {
// CPython's check_update: update from a plain mapping, then every key of each is in the other,
// with the same value.
template <class Map, class Plain>
void check_update(const Plain& dict) {
  Map weakdict;
  weakdict.update(dict);
  BOOST_TEST(weakdict.size() == dict.size());
  for (auto&& [k, v] : weakdict) {
    BOOST_TEST(dict.contains(k));
    BOOST_TEST((dict.at(k) == v));
  }
  for (const auto& [k, v] : dict) {
    if constexpr (std::is_same_v<typename Map::key_type, std::shared_ptr<node>>) {
      BOOST_TEST(weakdict.contains(*k));
      BOOST_TEST((weakdict.at(*k) == v));
      BOOST_TEST((weakdict.get(*k) == v));
    } else {
      BOOST_TEST(weakdict.contains(k));
      BOOST_TEST((weakdict.at(k) == v));
      BOOST_TEST((weakdict.get(k) == v));
    }
  }
}
template <class Map>
concept updatable_without_argument = requires(Map& m) { m.update(); };
template <class Map, class A>
concept updatable_with_two = requires(Map& m, const A& a) { m.update(a, a); };
} // namespace

// test_weak_valued_dict_update (keys of one type: C++ maps are typed; calls with no or two
// arguments do not compile; keyword arguments have no C++ counterpart)
// Checks [weakref.value.map.python]/17.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_weak_valued_dict_update) {
  using string_map = wr::weak_value_map<std::string, node>;
  const std::map<std::string, std::shared_ptr<node>> dict{
      {"1", make_node(1)}, {"a", make_node(2)}, {"c", make_node(3)}};
  check_update<string_map>(dict);
  static_assert(!updatable_without_argument<string_map>);
  static_assert(!updatable_with_two<string_map, std::map<std::string, std::shared_ptr<node>>>);
  const auto o = make_node(3);
  for (const char* kw : {"self", "dict", "other", "iterable"}) {
    string_map d;
    d.update({{kw, o}});
    BOOST_TEST(d.size() == 1u);
    BOOST_TEST((d.at(kw) == o));
  }
}

// test_weak_keyed_dict_update
// Checks [weakref.key.map.python]/17.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_weak_keyed_dict_update) {
  const std::map<std::shared_ptr<node>, int> dict{
      {make_node(1), 1}, {make_node(2), 2}, {make_node(3), 3}};
  check_update<key_map_t>(dict);
}

// test_weak_keyed_delitem
// Checks [weakref.key.map.modifiers]/10.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_weak_keyed_delitem) {
  wr::weak_key_map<node, std::string, node_hash> d;
  const auto o1 = make_node(1), o2 = make_node(2);
  d[o1] = "something";
  d[o2] = "something";
  BOOST_TEST(d.size() == 2u);
  BOOST_TEST(d.erase(*o1) == 1u);
  BOOST_TEST(d.size() == 1u);
  BOOST_TEST(((*d.begin()).first == o2));
}

// test_weak_valued_delitem
// Checks [weakref.value.map.modifiers]/18-19.
BOOST_AUTO_TEST_CASE(PY_WVD_4_cpython_weak_valued_delitem) {
  wr::weak_value_map<std::string, node> d;
  const auto o1 = make_node(1), o2 = make_node(2);
  d["something"] = o1;
  d["something else"] = o2;
  BOOST_TEST(d.size() == 2u);
  BOOST_TEST(d.erase("something") == 1u);
  BOOST_TEST(d.size() == 1u);
  const auto [k, v] = *d.begin();
  BOOST_TEST(k == "something else");
  BOOST_TEST((v == o2));
}

namespace {
template <class Map, class A>
concept erasable_by = requires(Map& m, const A& a) { m.erase(a); };
template <class Map, class A>
concept readable_by = requires(Map& m, const A& a) { m.at(a); };
} // namespace

// test_weak_keyed_bad_delitem: a missing key (C++ erase returns 0 as std::unordered_map's; pop
// and at throw key_error), and a key that cannot be weakly referenced (an int: rejected at compile
// time; an object std::make_shared made: type_error when inserted)
// Checks [weakref.key.map.modifiers]/3 and /10; [weakref.key.map.lookup]/4;
// [weakref.key.map.python]/11.
BOOST_AUTO_TEST_CASE(PY_WKD_5_cpython_weak_keyed_bad_delitem) {
  key_map_t d;
  const auto o = make_node(1);
  BOOST_TEST(d.erase(*o) == 0u);
  BOOST_CHECK_THROW(d.pop(*o), wr::key_error);
  BOOST_CHECK_THROW(d.at(*o), wr::key_error);
  static_assert(!erasable_by<key_map_t, int>);
  static_assert(!readable_by<key_map_t, int>);
  const auto foreign = std::make_shared<node>(13);
  BOOST_CHECK_THROW(d[foreign] = 13, wr::type_error);
  BOOST_TEST(d.erase(foreign) == 0u);
  BOOST_CHECK_THROW(d.at(foreign), wr::key_error);
  BOOST_TEST(d.empty());
}

// ---------------------------------------------------------------------------------------------
// SF bug 742860: cascading deletes

namespace {
// CPython's C of test_weak_keyed_cascading_deletes: == (and here also the hash) may run a
// side effect that releases the last owner of another key.
struct cascade_key {
  static inline std::function<void()> on_compare;
  static inline std::function<void()> on_hash;
  static inline int alive = 0;
  int value;
  explicit cascade_key(int v) : value(v) { ++alive; }
  cascade_key(const cascade_key& o) : value(o.value) { ++alive; }
  cascade_key& operator=(const cascade_key&) = default;
  ~cascade_key() { --alive; }
  friend bool operator==(const cascade_key& a, const cascade_key& b) {
    if (on_compare) on_compare();
    return a.value == b.value;
  }
};
struct cascade_hash {
  std::size_t operator()(const cascade_key& k) const {
    if (cascade_key::on_hash) cascade_key::on_hash();
    return std::hash<int>{}(k.value);
  }
};
// Every key in one bucket chain: == runs against every live key before the match.
struct colliding_hash {
  std::size_t operator()(const cascade_key&) const noexcept { return 7; }
};
struct cascade_reset {
  ~cascade_reset() {
    cascade_key::on_compare = nullptr;
    cascade_key::on_hash = nullptr;
  }
};

// Keys in the map's own iteration order, reversed (CPython: list(d.keys()), reversed), owned
// only by the returned vector.
template <class Map>
std::vector<std::shared_ptr<cascade_key>>
keys_reversed(Map& d, std::vector<std::shared_ptr<cascade_key>>&& made) {
  std::vector<std::shared_ptr<cascade_key>> objs;
  for (auto [k, v] : d) objs.push_back(k);
  made.clear();
  std::ranges::reverse(objs);
  return objs;
}
} // namespace

// test_weak_keyed_cascading_deletes: each erasure's == releases the last owner of the key the
// loop would reach last; the loop runs twice and the map ends empty
// Checks [weakref.containers.general]/14; [weakref.key.map.modifiers]/10.
BOOST_AUTO_TEST_CASE(PY_IMPL_22_cpython_weak_keyed_cascading_deletes) {
  const cascade_reset reset;
  const int before = cascade_key::alive;
  wr::weak_key_map<cascade_key, int, cascade_hash> d;
  std::vector<std::shared_ptr<cascade_key>> made;
  for (int i = 0; i < 4; ++i) {
    made.push_back(wr::make_shared<cascade_key>(i));
    d[made.back()] = i;
  }
  std::vector<std::shared_ptr<cascade_key>> objs = keys_reversed(d, std::move(made));
  cascade_key::on_compare = [&] { objs.pop_back(); }; // CPython: del objs[-1]
  int count = 0;
  for (std::size_t i = 0; i < objs.size(); ++i) {
    ++count;
    BOOST_TEST(d.erase(*objs[i]) == 1u);
  }
  cascade_key::on_compare = nullptr;
  BOOST_TEST(d.size() == 0u);
  BOOST_TEST(walked(d) == 0u);
  BOOST_TEST(count == 2);
  objs.clear();
  BOOST_TEST(cascade_key::alive == before);
}

// SF bug 742860 with every key in one bucket chain: each comparison made by a lookup or an
// erasure releases the last owner of another key, one that the walk along the chain has not
// reached yet (between the comparison and the key looked up, which is the chain's last: CPython's
// first comparison deleted the last key its iteration would see). The walk meets those dead keys
// and goes on: the lookups still find their keys, and erasures remove them. The chain's order is
// measured, not assumed: a lookup compares its key with every live key ahead of it in the chain.
// Checks [weakref.containers.general]/14; [weakref.key.map.lookup]/1 and /3.
BOOST_AUTO_TEST_CASE(PY_IMPL_22_cascading_deletes_in_one_bucket_chain) {
  const cascade_reset reset;
  const int before = cascade_key::alive;
  for (const bool erase : {false, true}) {
    wr::weak_key_map<cascade_key, int, colliding_hash> d;
    std::vector<std::shared_ptr<cascade_key>> alive;
    for (int i = 0; i < 12; ++i) {
      alive.push_back(wr::make_shared<cascade_key>(i));
      d[alive.back()] = i;
    }
    std::vector<const cascade_key*> ahead; // the keys before the target, nearest to it first
    long released = 0;
    const std::function<void()> release_ahead = [&] {
      while (!ahead.empty()) {
        const cascade_key* victim = ahead.front();
        ahead.erase(ahead.begin());
        const auto it = std::ranges::find(alive, victim, &std::shared_ptr<cascade_key>::get);
        if (it != alive.end()) {
          alive.erase(it);
          ++released;
          return;
        }
      }
    };
    long failures = 0, rounds = 0;
    while (!alive.empty()) {
      std::vector<std::pair<int, const cascade_key*>> depth; // comparisons to find each key
      for (const auto& key : alive) {
        int compares = 0;
        cascade_key::on_compare = [&] { ++compares; };
        if (!std::as_const(d).contains(*key)) ++failures;
        depth.emplace_back(compares, key.get());
      }
      cascade_key::on_compare = release_ahead;
      std::ranges::sort(depth, std::greater{}); // the chain's last key first
      const auto target =
          std::ranges::find(alive, depth.front().second, &std::shared_ptr<cascade_key>::get);
      const std::shared_ptr<cascade_key> k = *target;
      alive.erase(target);
      ahead.clear();
      for (auto it = depth.begin() + 1; it != depth.end(); ++it) ahead.push_back(it->second);
      ++rounds;
      if (erase) {
        if (d.erase(*k) != 1u) ++failures;
        ahead.clear();
        if (d.contains(*k)) ++failures;
      } else {
        if (d.at(*k) != k->value) ++failures;
        ahead.clear();
        if (d.find(*k) == d.end() || !d.contains(*k) || d.get(*k) != k->value) ++failures;
      }
    }
    cascade_key::on_compare = nullptr;
    BOOST_TEST(failures == 0, (erase ? "erase" : "lookup"));
    BOOST_TEST(released > 0); // deaths did happen during the walks
    BOOST_TEST(rounds > 1);
    BOOST_TEST(d.size() == 0u);
    BOOST_TEST(walked(d) == 0u);
  }
  BOOST_TEST(cascade_key::alive == before);
}

// SF bug 742860 for weak_value_map: the == of a strongly held key releases the last owner of
// another element's value, one the walk along the chain has not reached yet; that element's
// key is destroyed inside the death, during the walk
// Checks [weakref.containers.general]/8 and /14.
BOOST_AUTO_TEST_CASE(PY_IMPL_22_cascading_deletes_through_value_map_keys) {
  const cascade_reset reset;
  const int before = cascade_key::alive;
  wr::weak_value_map<cascade_key, node, colliding_hash> d;
  constexpr std::size_t n = 12;
  std::vector<std::shared_ptr<node>> values;
  for (std::size_t i = 0; i < n; ++i) {
    values.push_back(make_node(static_cast<int>(i)));
    d.insert_or_assign(cascade_key(static_cast<int>(i)), values.back());
  }
  std::size_t current = 0;
  long released = 0;
  cascade_key::on_compare = [&] { // the value of the oldest key after the one looked up
    for (std::size_t j = current + 1; j < n; ++j)
      if (values[j]) {
        values[j].reset();
        ++released;
        return;
      }
  };
  long failures = 0;
  for (current = 0; current < n; ++current) {
    if (!values[current]) continue; // died during an earlier walk
    const auto v = d.get(cascade_key(static_cast<int>(current)));
    if (v != values[current] || v->magic != intact) ++failures;
    if (d.erase(cascade_key(static_cast<int>(current))) != 1u) ++failures;
  }
  cascade_key::on_compare = nullptr;
  BOOST_TEST(failures == 0);
  BOOST_TEST(released > 0);
  BOOST_TEST(d.size() == 0u);
  BOOST_TEST(walked(d) == 0u);
  values.clear();
  BOOST_TEST(cascade_key::alive == before);
}

// SF bug 742860 through the hash: hashing the argument of a lookup or erasure releases the last
// owner of another key; the operation still finds its own key
// Checks [weakref.containers.general]/14.
BOOST_AUTO_TEST_CASE(PY_IMPL_22_hash_releasing_another_key) {
  const cascade_reset reset;
  wr::weak_key_map<cascade_key, int, cascade_hash> d;
  std::vector<std::shared_ptr<cascade_key>> objs;
  for (int i = 0; i < 8; ++i) {
    objs.push_back(wr::make_shared<cascade_key>(i));
    d[objs.back()] = i;
  }
  cascade_key::on_hash = [&] {
    if (objs.size() > 1) objs.pop_back();
  };
  BOOST_TEST(d.at(*objs.front()) == 0);
  BOOST_TEST(d.size() == 7u);
  BOOST_TEST(d.contains(*objs.front()));
  BOOST_TEST(d.size() == 6u);
  BOOST_TEST(d.erase(*objs.front()) == 1u);
  BOOST_TEST(d.size() == 4u);
  cascade_key::on_hash = nullptr;
  BOOST_TEST(walked(d) == 4u);
  BOOST_TEST(objs.size() == 5u);
}

#if defined(__cpp_lib_format)
// test_make_weak_valued_dict_repr: CPython shows the class and address; a weak container is
// formatted as its live elements, as std::format formats a map
// Checks [weakref.format]/5.
BOOST_AUTO_TEST_CASE(PY_IMPL_20_cpython_make_weak_valued_dict_repr) {
  wr::weak_value_map<int, int> dict;
  BOOST_TEST(std::format("{}", dict) == "{}");
  auto v = wr::make_shared<int>(5);
  dict[1] = v;
  BOOST_TEST(std::format("{}", dict) == "{1: 5}");
  v.reset();
  BOOST_TEST(std::format("{}", dict) == "{}");
}

// test_make_weak_keyed_dict_repr
// Checks [weakref.format]/5.
BOOST_AUTO_TEST_CASE(PY_IMPL_20_cpython_make_weak_keyed_dict_repr) {
  wr::weak_key_map<int, int> dict;
  BOOST_TEST(std::format("{}", dict) == "{}");
  auto k = wr::make_shared<int>(5);
  dict[k] = 1;
  BOOST_TEST(std::format("{}", dict) == "{5: 1}");
  k.reset();
  BOOST_TEST(std::format("{}", dict) == "{}");
}
#endif

// ---------------------------------------------------------------------------------------------
// Threads: values die on other threads while the owner works (CPython collects in another
// thread). Bounded stress: an operation target and a time cap, never less than the floor.

// test_threaded_weak_valued_setdefault: setdefault never returns an empty or dead value
// Checks [weakref.containers.general]/4; [weakref.value.map.python]/5-6.
BOOST_AUTO_TEST_CASE(PY_IMPL_6_cpython_threaded_weak_valued_setdefault) {
  const conformance::stress_budget budget(100'000, 5'000, std::chrono::milliseconds(1500));
  value_map_t d;
  long i = 0, failures = 0;
  {
    jittered_killer victims;
    for (; budget.more(i); ++i) {
      auto fresh = make_node(static_cast<int>(i));
      auto x = d.setdefault(10, fresh);
      if (!x || x->magic != intact) ++failures; // CPython: x is not None
      victims.put(std::move(x));
      victims.put(std::move(fresh));
    }
  } // the killer releases what it still holds
  BOOST_TEST(i >= budget.floor());
  BOOST_TEST(failures == 0);
  BOOST_TEST(d.size() == 0u);
}

// test_threaded_weak_valued_pop: pop(k, default) returns the value or the default, never an
// empty or dead value, and leaves no element under k
// Checks [weakref.containers.general]/4; [weakref.value.map.python]/9-10.
BOOST_AUTO_TEST_CASE(PY_IMPL_6_cpython_threaded_weak_valued_pop) {
  const conformance::stress_budget budget(100'000, 5'000, std::chrono::milliseconds(1500));
  value_map_t d;
  const auto fallback = make_node(-1);
  long i = 0, failures = 0, died_first = 0;
  {
    jittered_killer victims;
    for (; budget.more(i); ++i) {
      auto fresh = make_node(static_cast<int>(i));
      d[10] = fresh;
      const node* const expected = fresh.get();
      victims.put(std::move(fresh)); // from here it may die at any moment
      const auto x = d.pop(10, fallback);
      if (!x || x->magic != intact || (x.get() != expected && x != fallback)) ++failures;
      if (x == fallback) ++died_first;
      if (d.contains(10)) ++failures;
    }
  } // the killer releases what it still holds
  BOOST_TEST(i >= budget.floor());
  BOOST_TEST_MESSAGE("threaded pop: " << i << " iterations, " << died_first
                                      << " values died before pop found them");
  BOOST_TEST(failures == 0);
  BOOST_TEST(d.size() == 0u);
}

// test_threaded_weak_valued_consistency (bpo-28427): the replaced value dies on another thread;
// the new element stays. CPython checks len(d) == 1; here the element found and the iteration
// are exact, and size() may also count one value whose death is in progress on the killer thread
// (PY-IMPL-12): never fewer than the live element.
// Checks [weakref.containers.general]/4-5 and /7; [weakref.value.map.modifiers]/8.
BOOST_AUTO_TEST_CASE(PY_IMPL_4_cpython_threaded_weak_valued_consistency) {
  const conformance::stress_budget budget(200'000, 10'000, std::chrono::milliseconds(1500));
  value_map_t d;
  long i = 0, failures = 0;
  {
    jittered_killer victims;
    for (; budget.more(i); ++i) {
      auto o = make_node(static_cast<int>(i));
      d[10] = o;
      if (d.get(10) != o) ++failures;
      if (walked(std::as_const(d)) != 1u) ++failures;
      const std::size_t n = d.size();
      if (n < 1u || n > 2u) ++failures;
      victims.put(std::move(o)); // lose the reference
    }
  } // the killer releases what it still holds
  BOOST_TEST(i >= budget.floor());
  BOOST_TEST(failures == 0);
  BOOST_TEST(d.size() == 0u);
}

// test_weak_valued_consistency (bpo-28427, deterministic): the replaced value's element is kept
// alive through its reference (CPython: d.data[10]) and dies after the replacement
// Checks [weakref.containers.general]/5; [weakref.value.map.modifiers]/8.
BOOST_AUTO_TEST_CASE(PY_IMPL_4_cpython_weak_valued_consistency) {
  value_map_t d;
  auto first = make_node(1);
  d[10] = first;
  const wr::weak_ref<node> wr_old = d.valuerefs().front();
  const auto o = make_node(2);
  d[10] = o;
  first.reset();
  BOOST_TEST(d.size() == 1u);
  BOOST_TEST((d.at(10) == o));
  BOOST_TEST(wr_old.expired());
}

namespace {
// CPython's check_threaded_weak_dict_copy (bpo-35615): a big map is copied, by construction and
// by assignment, again and again, while another thread releases its weakly held objects in a
// random order. Every copy holds only live, intact, consistent elements, and once they are all
// dead the copies are empty. `put` fills the map from a key and a value; `doomed` picks the
// objects to release (the keys of a weak_key_map, the values of a weak_value_map); `check`
// counts the inconsistent elements of a copy.
template <class Map, class Put, class Pick, class Check>
void check_threaded_copy(Put put, Pick doomed, Check check) {
  constexpr int n = 20'000;
  Map d;
  std::vector<std::shared_ptr<node>> keys, values;
  for (int i = 0; i < n; ++i) {
    keys.push_back(make_node(i));
    values.push_back(make_node(i));
    put(d, keys.back(), values.back());
  }
  std::vector<std::shared_ptr<node>> victims = std::move(doomed(keys, values));
  std::atomic<bool> done{false};
  std::thread collector([&done, v = std::move(victims)]() mutable {
    std::minstd_rand random(35615);
    while (!v.empty()) {
      std::uniform_int_distribution<std::size_t> pick(0, v.size() - 1);
      std::swap(v[pick(random)], v.back());
      v.pop_back();
    }
    done = true;
  });
  long copies = 0, failures = 0;
  std::optional<Map> last;
  try {
    do {
      const Map copied(d);
      failures += check(copied);
      if (copied.size() > static_cast<std::size_t>(n)) ++failures;
      Map assigned;
      assigned = d;
      failures += check(assigned);
      last.emplace(std::move(assigned));
      copies += 2;
    } while (!done.load());
  } catch (const std::exception& e) {
    BOOST_ERROR("a copy threw: " << e.what());
  }
  collector.join();
  if (!last) return;
  BOOST_TEST_MESSAGE("bpo-35615 port: " << copies << " copies");
  BOOST_TEST(failures == 0);
  BOOST_TEST(d.size() == 0u);
  BOOST_TEST(last->size() == 0u);
  BOOST_TEST(walked(*last) == 0u);
}

const auto the_keys = [](auto& keys, auto&) -> auto& { return keys; };
const auto the_values = [](auto&, auto& values) -> auto& { return values; };

template <class Map>
long inconsistent_keyed(const Map& copy) {
  long bad = 0;
  for (auto [k, v] : copy) {
    if constexpr (std::is_same_v<typename Map::mapped_type, node>) {
      if (k->magic != intact || v.magic != intact || k->id != v.id) ++bad;
    } else {
      if (k->magic != intact || v->magic != intact || k->id != v->id) ++bad;
    }
  }
  return bad;
}
template <class Map>
long inconsistent_valued(const Map& copy) {
  long bad = 0;
  for (const auto& [k, v] : copy) {
    if constexpr (std::is_same_v<typename Map::key_type, node>) {
      if (k.magic != intact || v->magic != intact || k.id != v->id) ++bad;
    } else {
      if (k->magic != intact || v->magic != intact || k->id != v->id) ++bad;
    }
  }
  return bad;
}
} // namespace

// test_threaded_weak_key_dict_copy (bpo-35615): CPython's copy() shares the values; here the
// values are shared_ptrs, copied as such
// Checks [weakref.containers.general]/4; [weakref.value.map.cons]/8.
BOOST_AUTO_TEST_CASE(PY_IMPL_6_cpython_threaded_weak_key_dict_copy) {
  using map = wr::weak_key_map<node, std::shared_ptr<node>, node_hash>;
  check_threaded_copy<map>([](map& d, const auto& k, const auto& v) { d[k] = v; }, the_keys,
                           inconsistent_keyed<map>);
}

// test_threaded_weak_key_dict_deepcopy (bpo-35615): CPython's deepcopy copies the values; here
// the values are held by value, copied with the map
// Checks [weakref.containers.general]/4; [weakref.value.map.cons]/8.
BOOST_AUTO_TEST_CASE(PY_IMPL_6_cpython_threaded_weak_key_dict_deepcopy) {
  using map = wr::weak_key_map<node, node, node_hash>;
  check_threaded_copy<map>([](map& d, const auto& k, const auto& v) { d.insert_or_assign(k, *v); },
                           the_keys, inconsistent_keyed<map>);
}

// test_threaded_weak_value_dict_copy (bpo-35615): the keys are shared_ptrs, shared by the copy
// Checks [weakref.containers.general]/4; [weakref.value.map.cons]/8.
BOOST_AUTO_TEST_CASE(PY_IMPL_6_cpython_threaded_weak_value_dict_copy) {
  using map = wr::weak_value_map<std::shared_ptr<node>, node>;
  check_threaded_copy<map>([](map& d, const auto& k, const auto& v) { d[k] = v; }, the_values,
                           inconsistent_valued<map>);
}

// test_threaded_weak_value_dict_deepcopy (bpo-35615): the keys are held by value, copied
// Checks [weakref.containers.general]/4; [weakref.value.map.cons]/8.
BOOST_AUTO_TEST_CASE(PY_IMPL_6_cpython_threaded_weak_value_dict_deepcopy) {
  using map = wr::weak_value_map<node, node, node_hash>;
  check_threaded_copy<map>([](map& d, const auto& k, const auto& v) { d[*k] = v; }, the_values,
                           inconsistent_valued<map>);
}

BOOST_AUTO_TEST_SUITE_END()
