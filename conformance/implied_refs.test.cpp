// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: the rules implied by the Python weakref documentation for references and proxies
// (what CPython guarantees without the documentation spelling it out): clearing before the first
// callback, callbacks that destroy references, threads, unwinding, copies, and re-entrancy.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "handoff.hpp"
#include "support.hpp"

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;
using conformance::recording_handler;

namespace {

struct tracked {
  static inline std::atomic<int> alive{0};
  int value;
  explicit tracked(int v = 0) : value(v) { ++alive; }
  tracked(const tracked& other) : value(other.value) { ++alive; }
  ~tracked() { --alive; }
};

// Runs f on another thread and waits at most `limit`: a deadlock becomes a reported failure and
// an abort rather than a hung test run.
template <class F>
void run_with_deadline(F f, std::chrono::seconds limit = std::chrono::seconds(20)) {
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  std::thread worker([&] {
    f();
    done.set_value();
  });
  if (finished.wait_for(limit) != std::future_status::ready) {
    std::fputs("implied_refs: deadlock (no progress within the limit); aborting\n", stderr);
    std::fflush(stderr);
    std::abort();
  }
  worker.join();
}

// An object that can tell whether it was destroyed under a user's feet.
constexpr std::uint32_t intact = 0xC0FFEEu;
struct payload {
  static inline std::atomic<long> alive{0};
  std::uint32_t magic = intact;
  payload() { ++alive; }
  ~payload() {
    magic = 0;
    --alive;
  }
};

// Kills a referent while it is destroyed: during stack unwinding.
struct releases_on_unwind {
  std::shared_ptr<tracked> owner;
  ~releases_on_unwind() { owner.reset(); }
};

// Sets *destroyed when destroyed (and not moved from): tells whether a callback's own state was
// destroyed while the callback was still running.
struct canary {
  bool* destroyed;
  explicit canary(bool* d) : destroyed(d) {}
  canary(const canary& other) : destroyed(other.destroyed) {}
  canary(canary&& other) noexcept : destroyed(std::exchange(other.destroyed, nullptr)) {}
  canary& operator=(const canary&) = delete;
  ~canary() {
    if (destroyed) *destroyed = true;
  }
};

} // namespace

BOOST_AUTO_TEST_SUITE(implied_refs)

// PY-IMPL-1: "at a death every weak reference to the referent (refs, proxies, container entries)
// is cleared before the first callback runs"
// Checks [weakref.ref.death]/1; [weakref.containers.general]/5.
BOOST_AUTO_TEST_CASE(PY_IMPL_1_all_cleared_before_the_first_callback) {
  auto obj = wr::make_shared<tracked>(1);
  wr::weak_ref<tracked> plain_ref(obj);
  wr::weak_proxy<tracked> plain_proxy(obj);
  wr::weak_ref<tracked> older_with_callback(obj, [](wr::weak_ref<tracked>) {});
  wr::weak_set<tracked, wr::identity_hash<tracked>, wr::identity_equal<tracked>> set;
  set.insert(obj);
  wr::weak_value_map<int, tracked> map;
  map.insert_or_assign(1, obj);
  const std::vector<wr::weak_ref<tracked>> entry_refs = map.valuerefs(); // the entry itself
  BOOST_REQUIRE(entry_refs.size() == 1u);
  wr::weak_proxy<tracked> newer_proxy(obj, [](wr::weak_proxy<tracked>) {});
  int calls = 0;
  bool refs_cleared = false, proxies_cleared = false, entries_cleared = false;
  // Registered last, so its callback is the first to run.
  wr::weak_ref<tracked> first(obj, [&](wr::weak_ref<tracked> self) {
    ++calls;
    refs_cleared = !self() && !plain_ref() && !older_with_callback();
    proxies_cleared = plain_proxy.expired() && newer_proxy.expired();
    try {
      (void)plain_proxy->value;
      proxies_cleared = false;
    } catch (const wr::reference_error&) {
    }
    const auto& const_set = set;
    const auto& const_map = map;
    entries_cleared = !entry_refs[0]() && const_set.begin() == const_set.end() &&
                      !const_map.get(1) && !const_map.contains(1) &&
                      const_map.begin() == const_map.end();
  });
  obj.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(refs_cleared);
  BOOST_TEST(proxies_cleared);
  BOOST_TEST(entries_cleared);
}

// PY-IMPL-2: "a callback that destroys another reference whose callback is still pending does
// not cancel that callback"
// Checks [weakref.ref.death]/2.
BOOST_AUTO_TEST_CASE(PY_IMPL_2_destroying_a_pending_reference_does_not_cancel_it) {
  auto obj = wr::make_shared<tracked>(1);
  std::vector<std::string> order;
  std::optional<wr::weak_ref<tracked>> older_ref;
  std::optional<wr::weak_proxy<tracked>> older_proxy;
  older_ref.emplace(obj, [&](wr::weak_ref<tracked>) { order.push_back("older_ref"); });
  older_proxy.emplace(obj, [&](wr::weak_proxy<tracked>) { order.push_back("older_proxy"); });
  wr::weak_ref<tracked> newest(obj, [&](wr::weak_ref<tracked>) {
    order.push_back("newest");
    older_ref.reset(); // the last handles of references whose callbacks are pending
    older_proxy.reset();
  });
  obj.reset();
  BOOST_TEST(order == (std::vector<std::string>{"newest", "older_proxy", "older_ref"}),
             boost::test_tools::per_element());
  BOOST_TEST(!older_ref.has_value());
  BOOST_TEST(!older_proxy.has_value());
}

// PY-IMPL-3: "a callback may destroy the last handle of its own reference, or erase the container
// entry that holds it, safely" (here: the reference part)
// Checks [weakref.ref.death]/2; [weakref.ref.general]/3.
BOOST_AUTO_TEST_CASE(PY_IMPL_3_callback_destroys_last_outside_handle_of_its_reference) {
  auto obj = wr::make_shared<tracked>(1);
  int calls = 0;
  bool state_destroyed_early = false;
  bool state_destroyed = false;
  std::optional<wr::weak_ref<tracked>> r;
  std::string seen_label;
  r.emplace(obj, [&, label = std::string("own state"),
                  guard = canary(&state_destroyed)](wr::weak_ref<tracked>) {
    ++calls;
    r.reset(); // the program's last handle of this very reference
    state_destroyed_early = state_destroyed;
    seen_label = label; // the callback's own state is still there
  });
  obj.reset();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!r.has_value());
  BOOST_TEST(!state_destroyed_early);
  BOOST_TEST(seen_label == "own state");
  BOOST_TEST(state_destroyed); // released once the callback has returned
}

// PY-IMPL-3: "a callback may destroy the last handle of its own reference, or erase the container
// entry that holds it, safely" (here: the handle the callback received is the last one)
// Checks [weakref.ref.death]/2; [weakref.ref.callback]/2.
BOOST_AUTO_TEST_CASE(PY_IMPL_3_callback_destroys_the_handle_it_received) {
  // After dropping the handle, the callback reads only these statics, never its captures, so
  // that a library that destroyed the callback under it fails this test instead of making it
  // read freed memory.
  static bool state_destroyed;
  static bool state_destroyed_early;
  static int calls;
  state_destroyed = false;
  state_destroyed_early = false;
  calls = 0;
  std::string seen_label;
  auto obj = wr::make_shared<tracked>(1);
  {
    std::optional<wr::weak_ref<tracked>> r;
    r.emplace(obj, [&r, &seen_label, label = std::string("own state"),
                    guard = canary(&state_destroyed)](wr::weak_ref<tracked> self) {
      ++calls;
      std::string* out = &seen_label;
      const std::string* own = &label;
      r.reset();                      // the program's handle goes ...
      self = wr::weak_ref<tracked>(); // ... then the one the callback received: the last one
      state_destroyed_early = state_destroyed;
      if (!state_destroyed_early) *out = *own; // the callback's own state, if it still exists
    });
    obj.reset();
  }
  BOOST_TEST(calls == 1);
  BOOST_TEST(!state_destroyed_early); // the callback was not destroyed while it ran
  BOOST_TEST(seen_label == "own state");
  BOOST_TEST(state_destroyed); // released once the callback has returned
}

namespace {
// A small callback of trivially copyable type that cannot change itself (its call operator is
// const): what the library may call as a copy. It drops every handle of its own reference, then
// makes new references with callbacks of its own type but another marker, which take the memory
// its reference object had if that was freed, and records the marker it reads from its own state.
struct marker_callback {
  std::optional<wr::weak_ref<tracked>>* program_handle;
  const std::shared_ptr<tracked>* other; // alive throughout
  std::uintptr_t marker;
  static inline int calls = 0;
  static inline std::uintptr_t seen = 0;

  void operator()(wr::weak_ref<tracked> self) const {
    ++calls;
    program_handle->reset();        // the program's handle goes ...
    self = wr::weak_ref<tracked>(); // ... then the one the callback received: the last one
    std::vector<wr::weak_ref<tracked>> reuse;
    for (int i = 0; i < 8; ++i) reuse.emplace_back(*other, marker_callback{nullptr, nullptr, 0});
    seen = marker;
  }
};
static_assert(std::is_trivially_copyable_v<marker_callback>);
} // namespace

// PY-IMPL-3: "a callback may destroy the last handle of its own reference, or erase the container
// entry that holds it, safely" (here: a small callback of trivially copyable type, which the
// library may call as a copy instead of holding the reference object across the call, reads its
// own state after the last handle went and new references took the freed memory)
// Checks [weakref.ref.death]/2; [weakref.ref.callback]/2.
BOOST_AUTO_TEST_CASE(PY_IMPL_3_trivially_copyable_callback_destroys_the_handle_it_received) {
  marker_callback::calls = 0;
  marker_callback::seen = 0;
  const auto other = wr::make_shared<tracked>(2);
  auto obj = wr::make_shared<tracked>(1);
  {
    std::optional<wr::weak_ref<tracked>> r;
    r.emplace(obj, marker_callback{&r, &other, 0x5eed'cafe});
    obj.reset();
  }
  BOOST_TEST(marker_callback::calls == 1);
  BOOST_TEST(marker_callback::seen == 0x5eed'cafeu);
}

// PY-IMPL-3: "a callback may destroy the last handle of its own reference, or erase the container
// entry that holds it, safely" (here: a proxy, and handles kept in a container of references)
// Checks [weakref.ref.death]/2.
BOOST_AUTO_TEST_CASE(PY_IMPL_3_callback_clears_the_container_holding_its_handles) {
  auto obj = wr::make_shared<tracked>(1);
  std::vector<wr::weak_proxy<tracked>> proxies;
  std::vector<int> order;
  for (int i = 0; i < 4; ++i)
    proxies.emplace_back(obj, [&, i](wr::weak_proxy<tracked>) {
      order.push_back(i);
      proxies.clear(); // destroys the last program handles of every proxy, its own included
    });
  obj.reset();
  BOOST_TEST(order == (std::vector<int>{3, 2, 1, 0}), boost::test_tools::per_element());
  BOOST_TEST(proxies.empty());
}

// PY-IMPL-7: "refs and proxies may be created, copied, locked and destroyed on any thread while
// their referent dies on another"
// Checks [weakref.ref.general]/4; [weakref.ref.death]/1; [weakref.proxy.general]/3.
BOOST_AUTO_TEST_CASE(PY_IMPL_7_concurrent_use_while_the_referent_dies) {
  const conformance::stress_budget budget(400'000, 10'000, std::chrono::milliseconds(1500), 2'000);
  constexpr long reaper_floor = 500;
  conformance::death_watch watch(budget.overlap_floor());
  constexpr std::size_t slots = 4;
  std::array<std::mutex, slots> slot_mutex;
  std::array<std::shared_ptr<payload>, slots> owner;
  for (auto& o : owner) o = wr::make_shared<payload>();
  auto get = [&](std::size_t i) {
    std::lock_guard guard(slot_mutex[i]);
    return owner[i];
  };

  std::atomic<bool> stop{false};
  std::atomic<long> callbacks{0}, double_calls{0}, uncleared_in_callback{0};
  struct record {
    std::atomic<int> calls{0};
  };
  struct kept {
    wr::weak_ref<payload> ref;
    std::shared_ptr<record> rec;
  };
  std::vector<kept> survivors;
  std::mutex handoff_mutex;
  std::vector<wr::weak_ref<payload>> handoff;
  long operations = 0, failed = 0, overlapping = 0;

  std::thread worker([&] {
    std::vector<wr::weak_ref<payload>> ring(32);
    std::vector<wr::weak_proxy<payload>> proxies(8);
    for (std::size_t n = 0; budget.more(operations, overlapping);) {
      for (int burst = 0; burst < 128; ++burst, ++n) {
        const auto window = watch.begin();
        std::shared_ptr<payload> o = get(n % slots);
        if (!o) continue;
        auto rec = std::make_shared<record>();
        wr::weak_ref<payload> with_cb(o, [&, rec](wr::weak_ref<payload> self) {
          if (self.lock()) ++uncleared_in_callback;
          if (rec->calls.fetch_add(1) != 0) ++double_calls;
          ++callbacks;
        });
        wr::weak_ref<payload> plain(o);
        wr::weak_ref<payload> copy = with_cb;
        proxies[n % proxies.size()] = wr::weak_proxy<payload>(o);
        o.reset(); // the worker may be the last owner: deaths on this thread too
        if (auto locked = copy.lock(); locked && locked->magic != intact) ++failed;
        try {
          if (proxies[(n * 3) % proxies.size()]->magic != intact) ++failed;
        } catch (const wr::reference_error&) {
        }
        if (n % 1009 == 0) {
          survivors.push_back({with_cb, rec});
        } else if (n % 3 == 0) {
          std::lock_guard guard(handoff_mutex);
          handoff.push_back(copy); // destroyed on another thread
        }
        ring[n % ring.size()] = std::move(plain);
        operations += 8;
        if (watch.overlapped(window, 8)) overlapping += 8;
      }
    }
    watch.finish();
    stop = true;
  });
  std::thread killer([&] {
    // Every 4th object's death waits, inside, for an operation of the worker to overlap it
    // (death_watch::hold), through a callback the killer registers and keeps until the death.
    std::array<std::optional<wr::weak_ref<payload>>, slots> holders;
    for (std::size_t n = 0; !stop.load(); ++n) {
      std::shared_ptr<payload> victim;
      auto fresh = wr::make_shared<payload>();
      std::optional<wr::weak_ref<payload>> victim_holder = std::move(holders[n % slots]);
      holders[n % slots].reset();
      if (n % 4 == 0)
        holders[n % slots].emplace(fresh, [&watch](wr::weak_ref<payload>) { watch.hold(); });
      {
        std::lock_guard guard(slot_mutex[n % slots]);
        victim = std::exchange(owner[n % slots], std::move(fresh));
      }
      watch.dying([&] { victim.reset(); }); // the death runs here, concurrently with the worker
    }
  });
  long reaped_overlapping = 0; // refs destroyed by the reaper while a death was in progress
  std::thread reaper([&] {
    while (!stop.load()) {
      std::vector<wr::weak_ref<payload>> batch;
      {
        std::lock_guard guard(handoff_mutex);
        batch.swap(handoff);
      }
      for (wr::weak_ref<payload>& ref : batch) {
        const auto window = watch.begin();
        ref = wr::weak_ref<payload>();
        reaped_overlapping += watch.overlapped_quietly(window);
      }
      std::this_thread::yield();
    }
  });
  worker.join();
  killer.join();
  reaper.join();
  for (auto& o : owner) o.reset();
  handoff.clear();

  BOOST_TEST_MESSAGE("implied_refs stress: "
                     << operations << " operations (" << overlapping << " overlapped a death), "
                     << reaped_overlapping << " refs destroyed during a death, " << watch.count()
                     << " killer releases, " << callbacks.load() << " callbacks");
  BOOST_TEST(operations >= budget.floor()); // real work was done, even in a sanitizer build
  BOOST_TEST(overlapping >= budget.overlap_floor());
  BOOST_TEST(reaped_overlapping >= reaper_floor);
  BOOST_TEST(failed == 0);
  BOOST_TEST(double_calls.load() == 0);
  BOOST_TEST(uncleared_in_callback.load() == 0);
  BOOST_TEST(!survivors.empty());
  for (const kept& k : survivors) {
    BOOST_TEST(k.ref.expired());
    BOOST_TEST(k.rec->calls.load() == 1); // a reference that outlived its referent: called once
  }
  survivors.clear();
  BOOST_TEST(payload::alive.load() == 0);
}

// PY-IMPL-8: "a referent dying during stack unwinding neither terminates the program nor
// replaces the exception in flight, even if a callback throws"
// Checks [weakref.ref.death]/3.
BOOST_AUTO_TEST_CASE(PY_IMPL_8_death_during_unwinding) {
  recording_handler handler;
  auto obj = wr::make_shared<tracked>(1);
  int calls = 0;
  int uncaught_in_callback = 0;
  wr::weak_ref<tracked> r(obj, [&](wr::weak_ref<tracked>) {
    ++calls;
    uncaught_in_callback = std::uncaught_exceptions();
    throw std::logic_error("thrown while unwinding");
  });
  wr::weak_proxy<tracked> p(obj, [&](wr::weak_proxy<tracked> self) {
    ++calls;
    (void)self->value; // throws reference_error while unwinding
  });
  std::string caught;
  try {
    releases_on_unwind guard{std::move(obj)};
    throw std::runtime_error("in flight");
  } catch (const std::exception& e) {
    caught = e.what();
  }
  BOOST_TEST(caught == "in flight"); // not replaced, and we are still running
  BOOST_TEST(calls == 2);
  BOOST_TEST(uncaught_in_callback == 1); // the death really happened during unwinding
  BOOST_TEST(recording_handler::messages().size() == 2u);
  BOOST_TEST(tracked::alive == 0);
}

// PY-IMPL-9: "copies of a ref are the same reference: one registration, one callback, one cached
// hash, equal after death, counted once; a move empties the source"
// Checks [weakref.ref.general]/3; [weakref.ref.cons]/7-9; [weakref.ref.hash]/6.
BOOST_AUTO_TEST_CASE(PY_IMPL_9_copies_are_the_same_reference) {
  auto obj = wr::make_shared<std::string>("key");
  int calls = 0;
  wr::weak_ref<std::string> r(obj, [&](wr::weak_ref<std::string>) { ++calls; });
  const wr::weak_ref<std::string> copy = r;
  wr::weak_ref<std::string> assigned;
  assigned = r;
  std::vector<wr::weak_ref<std::string>> more(5, r);
  BOOST_TEST(copy.identical(r));
  BOOST_TEST(assigned.identical(r));
  BOOST_TEST(wr::weak_ref_count(obj) == 1u);                       // one registration, counted once
  BOOST_TEST(wr::weak_refs(obj).size() == 1u);                     // listed once
  const std::size_t h = std::hash<wr::weak_ref<std::string>>{}(r); // hashed through r only

  // A move transfers the reference and empties the source.
  wr::weak_ref<std::string> moved = std::move(assigned);
  BOOST_TEST(moved.identical(r));
  BOOST_TEST(assigned.expired()); // NOLINT(bugprone-use-after-move): specified state
  BOOST_TEST(assigned() == nullptr);
  BOOST_TEST(!assigned.identical(r));
  BOOST_TEST(wr::weak_ref_count(obj) == 1u);

  obj.reset();
  BOOST_TEST(calls == 1); // one callback, however many handles
  // One cached hash: the copy was never hashed, yet has r's hash after death (no type_error).
  BOOST_TEST(std::hash<wr::weak_ref<std::string>>{}(copy) == h);
  BOOST_TEST(std::hash<wr::weak_ref<std::string>>{}(more[3]) == h);
  // Equal after death: they are the same reference.
  BOOST_TEST((copy == r));
  BOOST_TEST((moved == r));
  BOOST_TEST((more[0] == more[4]));

  // The same for proxies: one registration, one callback.
  auto obj2 = wr::make_shared<std::string>("p");
  int proxy_calls = 0;
  wr::weak_proxy<std::string> p(obj2, [&](wr::weak_proxy<std::string>) { ++proxy_calls; });
  std::vector<wr::weak_proxy<std::string>> proxy_copies(3, p);
  BOOST_TEST(wr::weak_ref_count(obj2) == 1u);
  wr::weak_proxy<std::string> moved_proxy = std::move(p);
  BOOST_TEST(p.expired()); // NOLINT(bugprone-use-after-move): specified state
  BOOST_TEST(moved_proxy.identical(proxy_copies[0]));
  obj2.reset();
  BOOST_TEST(proxy_calls == 1);
}

// PY-IMPL-11: "callbacks and the referent's destructor may copy and destroy weak references to
// the dying referent, and create and use others, without deadlock: no library lock is held while
// user code runs"
// Checks [weakref.general]/3-4; [weakref.ref.general]/5; [weakref.ref.death]/4 and /6.
BOOST_AUTO_TEST_CASE(PY_IMPL_11_no_library_lock_held_while_user_code_runs) {
  struct self_aware {
    std::optional<wr::weak_ref<self_aware>> self_ref;
    std::optional<wr::weak_proxy<self_aware>> self_proxy;
    std::shared_ptr<tracked> neighbour; // dies inside this destructor
    std::size_t* count_seen_in_destructor = nullptr;
    ~self_aware() {
      // Copy and destroy references to the dying referent (each takes its weak list's lock).
      std::optional<wr::weak_ref<self_aware>> copy = self_ref;
      copy.reset();
      self_ref.reset();
      self_proxy.reset();
      // Create and use references to another object, and kill that one (a nested death).
      wr::weak_ref<tracked> other(neighbour);
      *count_seen_in_destructor = wr::weak_ref_count(neighbour);
      neighbour.reset();
    }
  };
  // Observations, made on the worker thread and checked here once it has finished.
  int calls = 0, nested_calls = 0;
  std::size_t count_seen_in_destructor = 0, count_seen_in_callback = 0;
  std::size_t refs_listed_in_callback = 0;
  int value_seen_in_callback = 0;
  bool plain_gone = false;
  run_with_deadline([&] {
    auto obj = wr::make_shared<self_aware>();
    obj->self_ref.emplace(obj);
    obj->self_proxy.emplace(obj);
    obj->neighbour = wr::make_shared<tracked>(5);
    obj->count_seen_in_destructor = &count_seen_in_destructor;
    std::optional<wr::weak_ref<self_aware>> plain(std::in_place, obj);
    std::optional<wr::weak_proxy<self_aware>> proxy(std::in_place, obj, nullptr);
    auto another = wr::make_shared<tracked>(6);
    std::optional<wr::weak_ref<self_aware>> r;
    r.emplace(obj, [&](wr::weak_ref<self_aware> self) {
      ++calls;
      wr::weak_ref<self_aware> copy = self; // copy and drop a handle of the pinned reference
      copy = wr::weak_ref<self_aware>();
      plain.reset(); // destroy references to the dying referent (unlinks under its lock)
      proxy.reset();
      // Create and use references to another object, inspect it, and make it die here.
      wr::weak_ref<tracked> fresh(another, [&](wr::weak_ref<tracked>) { ++nested_calls; });
      wr::weak_proxy<tracked> fresh_proxy(another);
      count_seen_in_callback = wr::weak_ref_count(another);
      refs_listed_in_callback = wr::weak_refs(another).size();
      value_seen_in_callback = fresh_proxy->value;
      another.reset();
    });
    obj.reset();
    plain_gone = !plain.has_value();
  });
  BOOST_TEST(calls == 1);
  BOOST_TEST(nested_calls == 1);
  BOOST_TEST(count_seen_in_callback == 2u);
  BOOST_TEST(refs_listed_in_callback == 2u);
  BOOST_TEST(value_seen_in_callback == 6);
  BOOST_TEST(count_seen_in_destructor == 1u);
  BOOST_TEST(plain_gone);
  BOOST_TEST(tracked::alive == 0);
}

BOOST_AUTO_TEST_SUITE_END()
