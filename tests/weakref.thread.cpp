// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "../conformance/handoff.hpp"
#include "support.hpp"
import weakref;

using weakref::weak_proxy;
using weakref::weak_ref;

namespace {

constexpr std::uint32_t intact = 0xC0FFEEu;

struct payload {
  static inline std::atomic<long> alive{0};
  std::uint32_t magic = intact;
  payload() { alive.fetch_add(1, std::memory_order_relaxed); }
  ~payload() {
    magic = 0;
    alive.fetch_sub(1, std::memory_order_relaxed);
  }
};

// What one callback ref saw: how often its callback ran.
struct record {
  std::atomic<int> calls{0};
};

// Owners shared between the threads; each slot is replaced by a fresh object after its death.
class slots {
public:
  static constexpr std::size_t size = 8;

  std::shared_ptr<payload> get(std::size_t i) {
    std::lock_guard guard(mutex_[i]);
    return owner_[i];
  }
  // Takes the owner out and releases it outside the lock, so that the death (callbacks and all)
  // runs on this thread with no test lock held, then installs a fresh object. With a watch, the
  // release is bracketed as a death, and every 4th fresh object's death will wait, inside, for
  // an operation to overlap it (death_watch::hold, from a callback kept until that death).
  void kill_and_replace(std::size_t i, conformance::death_watch* watch = nullptr) {
    std::shared_ptr<payload> victim;
    {
      std::lock_guard guard(mutex_[i]);
      victim = std::move(owner_[i]);
    }
    std::optional<weak_ref<payload>> victim_holder = std::move(holder_[i]);
    holder_[i].reset();
    if (watch)
      watch->dying([&] { victim.reset(); });
    else
      victim.reset();
    victim_holder.reset();
    auto fresh = weakref::make_shared<payload>();
    if (watch && ++replaced_ % 4 == 0)
      holder_[i].emplace(fresh, [watch](weak_ref<payload>) { watch->hold(); });
    std::lock_guard guard(mutex_[i]);
    owner_[i] = std::move(fresh);
  }
  void clear() {
    for (std::size_t i = 0; i < size; ++i) {
      std::shared_ptr<payload> victim;
      {
        std::lock_guard guard(mutex_[i]);
        victim = std::move(owner_[i]);
      }
    }
  }

private:
  std::array<std::mutex, size> mutex_;
  std::array<std::shared_ptr<payload>, size> owner_;
  std::array<std::optional<weak_ref<payload>>, size> holder_; // the killing thread's only
  std::size_t replaced_ = 0;                                  // likewise
};

// A reference type whose callback receives itself ([weakref.ref.self]); `state` is destroyed
// after the self_callback member (declared last) has unbound the object.
struct guard_state {
  std::atomic<std::uint32_t> magic{intact};
  ~guard_state() { magic.store(0, std::memory_order_relaxed); }
};
class guarded_ref : public weak_ref<payload> {
public:
  template <class F>
  guarded_ref(const std::shared_ptr<payload>& p, F&& callback)
      : on_death_(*this, p, std::forward<F>(callback)) {}
  guard_state state;

private:
  weakref::self_callback<guarded_ref> on_death_;
};

struct stress_result {
  long operations = 0;
  long failed_checks = 0;
  long overlapping = 0; // operations that overlapped a death on another thread
};

} // namespace

BOOST_AUTO_TEST_SUITE(thread)

// [weakref.ref.self]/9: the derived object is destroyed on one thread while its callback runs
// on another (the referent died there). Each round forces the overlap: the destruction starts
// only once the callback is running, and the callback then gives a destruction that did not
// wait every chance to finish before it reads the object. It must always find it intact (and
// touch no freed memory: ASan, TSan), because the destruction waits for the call to return.
// Every destruction overlaps the death (conformance::death_watch): one per round, or it fails.
// Checks [weakref.ref.self]/10.
BOOST_AUTO_TEST_CASE(self_callback_destruction_waits_for_a_running_callback) {
  constexpr int rounds = 50;
  std::atomic<int> calls{0};
  std::atomic<int> saw_destroyed{0};
  conformance::death_watch watch;
  int overlaps = 0;
  for (int i = 0; i < rounds; ++i) {
    auto p = weakref::make_shared<payload>();
    std::atomic<bool> in_callback{false};
    std::atomic<bool> destroying{false};
    auto r = std::make_unique<guarded_ref>(p, [&](guarded_ref& self) {
      in_callback.store(true);
      while (!destroying.load()) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::milliseconds(1)); // not a timing assertion
      if (self.state.magic.load(std::memory_order_relaxed) != intact) saw_destroyed.fetch_add(1);
      calls.fetch_add(1);
    });
    std::thread killer(
        [&watch, owner = std::move(p)]() mutable { watch.dying([&] { owner.reset(); }); });
    while (!in_callback.load()) std::this_thread::yield();
    destroying.store(true);
    const auto window = watch.begin();
    r.reset(); // returns only after the callback has
    overlaps += watch.overlapped(window);
    killer.join();
  }
  BOOST_TEST_MESSAGE("self_callback: " << overlaps << " of " << rounds
                                       << " destructions overlapped the death");
  BOOST_TEST(overlaps >= rounds);
  BOOST_TEST(saw_destroyed.load() == 0);
  BOOST_TEST(calls.load() == rounds);
  BOOST_TEST(payload::alive.load() == 0);
}

// [weakref.ref.death]/1: death, callbacks included, runs on the thread that released the last
// owner. The callback holds the death open until this thread has looked at the reference
// meanwhile: from here, during the death on the other thread, it is already cleared.
BOOST_AUTO_TEST_CASE(callbacks_run_on_the_releasing_thread) {
  auto p = weakref::make_shared<payload>();
  conformance::death_watch watch;
  conformance::turns turn;
  std::thread::id callback_thread;
  weak_ref<payload> r(p, [&](weak_ref<payload>) {
    callback_thread = std::this_thread::get_id();
    turn.reach(1);    // the death is in progress
    turn.wait_for(2); // until the test thread has looked at r
  });
  std::thread releaser(
      [&watch, owner = std::move(p)]() mutable { watch.dying([&] { owner.reset(); }); });
  const std::thread::id releaser_id = releaser.get_id();
  turn.wait_for(1);
  const auto window = watch.begin();
  const bool cleared = r() == nullptr && r.expired();
  const int overlaps = watch.overlapped(window);
  turn.reach(2);
  releaser.join();
  BOOST_TEST_MESSAGE("releasing thread: " << overlaps
                                          << " look at the reference overlapped the death");
  BOOST_TEST(overlaps >= 1);
  BOOST_TEST(cleared);
  BOOST_TEST((callback_thread == releaser_id));
  BOOST_TEST(payload::alive.load() == 0);
}

// [weakref.ref.general]/4-5: referents die on one thread while another creates, copies, locks
// and destroys refs and proxies to them; a third destroys refs as their referents die (callback
// refs alternate between a callback called in place, pinned by two handles, and one called as a
// copy, pinned by its argument's, [weakref.ref.callback]/2). Checks:
// no use after free (every successful lock sees an intact object), every callback runs at most
// once, every callback ref that outlived its referent was called exactly once, nothing leaks.
// The worker's and the reaper's operations that overlapped a death on the killer's thread are
// counted (conformance::death_watch), each against a floor. Bounded by an operation count and a
// wall-clock budget that cannot cut the asserted floors.
BOOST_AUTO_TEST_CASE(concurrent_death_create_lock_destroy) {
  const conformance::stress_budget budget(2'000'000, 20'000, std::chrono::seconds(8), 4'000);
  constexpr long reaper_floor = 500;

  conformance::death_watch watch(budget.overlap_floor());
  slots owners;
  for (std::size_t i = 0; i < slots::size; ++i) owners.kill_and_replace(i);

  std::atomic<bool> stop{false};
  std::atomic<long> callbacks_run{0};
  std::atomic<long> callback_refs{0};
  std::atomic<long> double_calls{0};

  struct kept {
    weak_ref<payload> ref;
    std::shared_ptr<record> rec;
  };

  // Refs kept to the end: every one of them must have been called back exactly once.
  std::vector<kept> survivors;
  // Refs handed to the reaper thread, destroyed there while their referents die elsewhere.
  std::mutex handoff_mutex;
  std::vector<weak_ref<payload>> handoff;

  // What every callback checks and counts, whichever way it holds its record.
  auto called_back = [&callbacks_run, &double_calls](const weak_ref<payload>& self, record& rec) {
    if (self.lock()) double_calls.fetch_add(1); // cleared before the callback: must be empty
    if (rec.calls.fetch_add(1) != 0) double_calls.fetch_add(1);
    callbacks_run.fetch_add(1, std::memory_order_relaxed);
  };
  auto make_callback = [&](const std::shared_ptr<record>& rec) {
    return [&called_back, rec](weak_ref<payload> self) { called_back(self, *rec); };
  };
  // Every other callback ref has a trivially copyable callback that cannot change itself, which
  // the library calls as a copy, pinned by its argument's handle alone ([weakref.ref.callback]/2);
  // its record is kept here, since the callback holds only its address.
  std::vector<std::shared_ptr<record>> copied_callback_records;
  auto make_copied_callback = [&](const std::shared_ptr<record>& rec) {
    copied_callback_records.push_back(rec);
    auto callback = [&called_back, r = rec.get()](weak_ref<payload> self) {
      called_back(self, *r);
    };
    static_assert(std::is_trivially_copyable_v<decltype(callback)>);
    return callback;
  };

  stress_result worker_result;
  std::thread worker([&] {
    std::vector<weak_ref<payload>> ring(64);
    std::vector<weak_proxy<payload>> proxies(16);
    std::size_t n = 0;
    while (budget.more(worker_result.operations, worker_result.overlapping)) {
      for (int burst = 0; burst < 256; ++burst, ++n) {
        const auto window = watch.begin();
        const std::size_t slot = n % slots::size;
        std::shared_ptr<payload> owner = owners.get(slot);
        if (!owner) continue;
        auto rec = std::make_shared<record>();
        weak_ref<payload> with_cb = n % 2 == 0
                                        ? weak_ref<payload>(owner, make_callback(rec))
                                        : weak_ref<payload>(owner, make_copied_callback(rec));
        callback_refs.fetch_add(1, std::memory_order_relaxed);
        weak_ref<payload> plain(owner);
        weak_ref<payload> copy = with_cb;
        if (weakref::weak_ref_count(owner) == 0) ++worker_result.failed_checks;
        owner.reset(); // the worker may be the last owner: death on this thread too
        if (auto locked = copy.lock(); locked && locked->magic != intact)
          ++worker_result.failed_checks;
        if (n % 997 == 0)
          survivors.push_back({with_cb, rec});
        else if (n % 5 == 0) {
          std::lock_guard guard(handoff_mutex);
          handoff.push_back(copy);
        }
        ring[n % ring.size()] = std::move(plain);
        if (std::shared_ptr<payload> again = owners.get(slot))
          proxies[n % proxies.size()] = weak_proxy<payload>(again);
        try {
          if (proxies[(n * 7) % proxies.size()]->magic != intact) ++worker_result.failed_checks;
        } catch (const weakref::reference_error&) {
        }
        worker_result.operations += 8;
        if (watch.overlapped(window, 8)) worker_result.overlapping += 8;
      }
    }
    watch.finish();
    stop = true;
  });

  std::thread killer([&] {
    std::size_t n = 0;
    while (!stop.load()) owners.kill_and_replace(n++ % slots::size, &watch);
  });

  long reaped_overlapping = 0; // refs the reaper destroyed while a death was in progress
  std::thread reaper([&] {
    while (!stop.load()) {
      std::vector<weak_ref<payload>> batch;
      {
        std::lock_guard guard(handoff_mutex);
        batch.swap(handoff);
      }
      for (weak_ref<payload>& ref : batch) { // destroys refs while the killer kills referents
        const auto window = watch.begin();
        ref = weak_ref<payload>();
        reaped_overlapping += watch.overlapped_quietly(window);
      }
      std::this_thread::yield();
    }
  });

  worker.join();
  killer.join();
  reaper.join();
  owners.clear();
  handoff.clear();

  BOOST_TEST_MESSAGE("stress: " << worker_result.operations << " ref operations ("
                                << worker_result.overlapping << " overlapped a death), "
                                << reaped_overlapping << " refs destroyed during a death, "
                                << watch.count() << " killer releases, " << callbacks_run.load()
                                << " callbacks run");
  BOOST_TEST(worker_result.operations >= budget.floor()); // real work, even under valgrind
  BOOST_TEST(worker_result.overlapping >= budget.overlap_floor());
  BOOST_TEST(reaped_overlapping >= reaper_floor);
  BOOST_TEST(worker_result.failed_checks == 0);
  BOOST_TEST(double_calls.load() == 0);
  BOOST_TEST(callbacks_run.load() <= callback_refs.load());
  BOOST_TEST(!survivors.empty());
  for (const kept& k : survivors) {
    BOOST_TEST(k.ref.expired());
    BOOST_TEST(k.rec->calls.load() == 1);
  }
  BOOST_TEST(payload::alive.load() == 0);
}

// [weakref.containers.general]/4 Referents of values and keys die on another thread while the
// owning thread inserts, looks up, iterates and erases. Checks, throughout: every entry whose
// referent the owner keeps alive is found (no lost live entry) with the right value, iteration
// yields only intact objects, and at the end the containers hold exactly the surviving entries.
// The operations that overlapped a death on the killer's thread are counted against a floor.
// Checks [weakref.value.map]/3; [weakref.key.map]/3.
BOOST_AUTO_TEST_CASE(containers_under_concurrent_death) {
  const conformance::stress_budget budget(1'000'000, 20'000, std::chrono::seconds(8), 2'000);

  weakref::weak_value_map<long, payload> values;
  weakref::weak_key_map<payload, long, weakref::identity_hash<payload>,
                        weakref::identity_equal<payload>>
      keys;

  conformance::death_watch watch(budget.overlap_floor());
  conformance::handoff<payload> victims(32, &watch);
  std::atomic<bool> stop{false};
  std::thread killer([&] { victims.kill_until(stop); });

  struct kept_entry {
    long key;
    std::shared_ptr<payload> owner;
  };
  std::vector<kept_entry> kept;
  // Every 8th object's death waits, inside, for an overlapping operation (death_watch::hold);
  // its callback runs before the entries are reported.
  std::vector<weak_ref<payload>> holds;
  long operations = 0, failed = 0, overlapping = 0;
  for (long i = 0; budget.more(operations, overlapping); ++i) {
    const auto window = watch.begin();
    const long operations_before = operations;
    auto object = weakref::make_shared<payload>();
    values[i] = object;
    keys[object] = i;
    operations += 2;
    if (i % 8 == 1) holds.emplace_back(object, [&watch](weak_ref<payload>) { watch.hold(); });
    if (i % 3 == 0) {
      kept.push_back({i, object});
    } else {
      victims.put(std::move(object));
    }
    // Lookups of a kept entry must always succeed; of any other key, yield a live object or
    // nothing.
    const kept_entry& probe = kept[static_cast<std::size_t>(i) % kept.size()];
    if (values.get(probe.key) != probe.owner) ++failed;
    if (!keys.contains(*probe.owner) || keys.at(*probe.owner) != probe.key) ++failed;
    if (auto any = values.get(i / 2); any && any->magic != intact) ++failed;
    operations += 3;
    if (i % 64 == 0) {
      long seen = 0;
      for (const auto& [key, value] : values) {
        if (value->magic != intact) ++failed;
        ++seen;
      }
      for (auto [key, value] : keys)
        if (key->magic != intact) ++failed;
      if (seen < static_cast<long>(kept.size())) ++failed;
      operations += seen;
    }
    if (i % 7 == 0 && kept.size() > 1) { // the owner erases some of its own entries too
      const kept_entry gone = kept.front();
      kept.erase(kept.begin());
      if (values.erase(gone.key) != 1 || keys.erase(*gone.owner) != 1) ++failed;
      operations += 2;
    }
    if (watch.overlapped(window, operations - operations_before))
      overlapping += operations - operations_before;
  }
  stop = true;
  watch.finish();
  killer.join();
  victims.drain();

  BOOST_TEST_MESSAGE("container stress: "
                     << operations << " operations (" << overlapping << " overlapped a death), "
                     << watch.count() << " killer releases, " << kept.size() << " entries kept");
  BOOST_TEST(operations >= budget.floor());
  BOOST_TEST(overlapping >= budget.overlap_floor());
  BOOST_TEST(failed == 0);
  // Every death has been reported: exactly the kept entries remain.
  BOOST_TEST(values.size() == kept.size());
  BOOST_TEST(keys.size() == kept.size());
  BOOST_TEST(static_cast<std::size_t>(std::ranges::distance(values)) == kept.size());
  for (const kept_entry& k : kept) {
    BOOST_TEST(values.at(k.key) == k.owner);
    BOOST_TEST(keys.at(*k.owner) == k.key);
  }
  kept.clear();
  BOOST_TEST(values.empty());
  BOOST_TEST(keys.empty());
  BOOST_TEST(payload::alive.load() == 0);
}

// Records the thread that destroyed it.
struct records_its_end {
  std::atomic<std::thread::id>* where = nullptr;
  explicit records_its_end(std::atomic<std::thread::id>* w) : where(w) {}
  records_its_end(records_its_end&& o) noexcept : where(std::exchange(o.where, nullptr)) {}
  records_its_end& operator=(records_its_end&&) = delete;
  ~records_its_end() {
    if (where) where->store(std::this_thread::get_id());
  }
};

// [weakref.containers.general]/8 The strongly held part is destroyed inside the death, on the
// thread where the death happens, while the owner keeps using the container: under TSan, the
// owner's lookups (which compare stored std::string keys) and iterations race with nothing.
BOOST_AUTO_TEST_CASE(strong_parts_are_destroyed_on_the_dying_thread) {
  std::atomic<std::thread::id> where{};
  weakref::weak_key_map<payload, records_its_end, weakref::identity_hash<payload>,
                        weakref::identity_equal<payload>>
      ends;
  auto marked = weakref::make_shared<payload>();
  ends.try_emplace(marked, &where);
  std::thread([owner = std::move(marked)]() mutable { owner.reset(); }).join();
  const std::thread::id releaser = where.load();
  BOOST_TEST((releaser != std::thread::id{}));
  BOOST_TEST((releaser != std::this_thread::get_id()));
  BOOST_TEST(ends.size() == 0u);

  const conformance::stress_budget budget(200'000, 5'000, std::chrono::seconds(4), 1'000);
  weakref::weak_value_map<std::string, payload> by_name;
  weakref::weak_key_map<payload, std::string, weakref::identity_hash<payload>,
                        weakref::identity_equal<payload>>
      names;
  conformance::death_watch watch(budget.overlap_floor());
  conformance::handoff<payload> victims(32, &watch);
  std::atomic<bool> stop{false};
  std::thread killer([&] { victims.kill_until(stop); });
  const auto kept = weakref::make_shared<payload>();
  by_name["kept, with a name too long for the small-string buffer"] = kept;
  names[kept] = "kept";
  std::vector<weak_ref<payload>> holds; // every 8th death waits for an overlapping operation
  long operations = 0, failed = 0, overlapping = 0;
  for (long i = 0; budget.more(operations, overlapping); ++i) {
    const auto window = watch.begin();
    const long operations_before = operations;
    auto object = weakref::make_shared<payload>();
    std::string name = "entry number " + std::to_string(i) + ", long enough to be allocated";
    by_name[name] = object;
    names[object] = std::move(name);
    if (i % 8 == 1) holds.emplace_back(object, [&watch](weak_ref<payload>) { watch.hold(); });
    victims.put(std::move(object)); // its key string and its name die on the killer's thread
    if (by_name.get("kept, with a name too long for the small-string buffer") != kept) ++failed;
    if (names.get(*kept) != std::optional<std::string>("kept")) ++failed;
    if (by_name.contains("entry number " + std::to_string(i / 2) + ", long enough to be allocated"))
      ++operations;
    if (i % 32 == 0)
      for (const auto& [key, value] : by_name)
        if (value->magic != intact || key.empty()) ++failed;
    operations += 4;
    if (watch.overlapped(window, operations - operations_before))
      overlapping += operations - operations_before;
  }
  stop = true;
  watch.finish();
  killer.join();
  victims.drain();
  BOOST_TEST_MESSAGE("strong parts on the dying thread: " << operations << " operations ("
                                                          << overlapping << " overlapped a death)");
  BOOST_TEST(overlapping >= budget.overlap_floor());
  BOOST_TEST(failed == 0);
  BOOST_TEST(by_name.size() == 1u);
  BOOST_TEST(names.size() == 1u);
}

// [weakref.containers.general]/8 With a std::pmr::unsynchronized_pool_resource, a death on
// another thread leaves the value (allocated from the pool) to the owner: under TSan, the
// owner's allocations from the pool race with nothing on the dying thread.
BOOST_AUTO_TEST_CASE(strong_parts_from_an_unsynchronized_pool_wait_for_the_owner) {
  const conformance::stress_budget budget(100'000, 2'000, std::chrono::seconds(3), 500);
  std::pmr::unsynchronized_pool_resource pool;
  weakref::pmr::weak_key_map<payload, std::pmr::string, weakref::identity_hash<payload>,
                             weakref::identity_equal<payload>>
      names(&pool);
  conformance::death_watch watch(budget.overlap_floor());
  conformance::handoff<payload> victims(32, &watch);
  std::atomic<bool> stop{false};
  std::thread killer([&] { victims.kill_until(stop); });
  std::vector<weak_ref<payload>> holds; // every 8th death waits for an overlapping insertion
  long operations = 0, overlapping = 0;
  for (long i = 0; budget.more(operations, overlapping); ++i) {
    auto object = weakref::make_shared<payload>();
    if (i % 8 == 1) holds.emplace_back(object, [&watch](weak_ref<payload>) { watch.hold(); });
    const auto window = watch.begin(); // the insertion (and its purge) against the deaths
    names.try_emplace(object, "a name long enough to be allocated from the pool, number " +
                                  std::to_string(i));
    overlapping += watch.overlapped(window);
    victims.put(std::move(object));
    operations += 1;
  }
  stop = true;
  watch.finish();
  killer.join();
  victims.drain();
  BOOST_TEST_MESSAGE("unsynchronized pool: " << operations << " insertions (" << overlapping
                                             << " overlapped a death)");
  BOOST_TEST(overlapping >= budget.overlap_floor());
  names.purge();
  BOOST_TEST(names.size() == 0u);
  BOOST_TEST(std::ranges::distance(names) == 0);
}

// [weakref.containers.general]/16 A container's destructor does not wait for a death in progress
// on another thread. Here the dying thread's value destructor waits for the container to be gone
// (the death reports the entry, destroys the value, and only then queues the entry), which a
// destructor that waited for the death to queue its entry would not allow: the value gives up
// after 10 s, and the test fails. The death then finds the container gone and releases the entry
// itself (under ASan, a leak of the entry or of the table's storage fails the test too).
BOOST_AUTO_TEST_CASE(container_destruction_does_not_wait_for_a_death_destroying_a_value) {
  struct waits_for_the_container {
    std::atomic<bool>* started;
    std::atomic<bool>* container_gone;
    std::atomic<bool>* saw_it_gone;
    waits_for_the_container(std::atomic<bool>* s, std::atomic<bool>* g, std::atomic<bool>* w)
        : started(s), container_gone(g), saw_it_gone(w) {}
    waits_for_the_container(const waits_for_the_container&) = delete;
    waits_for_the_container& operator=(const waits_for_the_container&) = delete;
    ~waits_for_the_container() {
      started->store(true);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!container_gone->load() && std::chrono::steady_clock::now() < give_up)
        std::this_thread::yield();
      saw_it_gone->store(container_gone->load());
    }
  };
  using map =
      weakref::weak_key_map<payload, waits_for_the_container, weakref::identity_hash<payload>,
                            weakref::identity_equal<payload>>;
  std::atomic<bool> started{false}, container_gone{false}, saw_it_gone{false};
  const long alive_before = payload::alive.load();
  auto key = weakref::make_shared<payload>();
  std::optional<map> values(std::in_place);
  values->try_emplace(key, &started, &container_gone, &saw_it_gone);
  std::thread dying([owner = std::move(key)]() mutable { owner.reset(); });
  while (!started.load()) std::this_thread::yield();
  values.reset(); // returns while the value's destructor runs on the dying thread
  container_gone.store(true);
  dying.join();
  BOOST_TEST(saw_it_gone.load());
  BOOST_TEST(payload::alive.load() == alive_before);
}

// [weakref.containers.general]/7 An element that the owner takes out while its weakly held
// object is dying on another thread (the death has taken the element's entry out of the weak
// list and has not reported it yet) is counted once: the owner notes that the death will report
// it. Here clear() takes it out while a callback that runs before the entry's own holds the
// death; once the death has ended, size() counts the two elements inserted since, before and
// after the purge that takes the entry back. It fails if clear() did not note the element
// (size() one short: mutation fault claim-forgets-pending).
BOOST_AUTO_TEST_CASE(an_element_taken_out_during_its_death_is_not_subtracted_twice) {
  weakref::weak_value_map<int, payload> m;
  const auto keep = weakref::make_shared<payload>();
  auto victim = weakref::make_shared<payload>();
  m.insert_or_assign(1, victim);
  std::atomic<bool> in_death{false}, cleared{false};
  // Registered after the element's entry, so its callback runs first (newest first): inside the
  // death, after the entry has left the weak list, before the entry's callback reports it.
  const weak_ref<payload> gate(victim, [&](weak_ref<payload>) {
    in_death.store(true);
    while (!cleared.load()) std::this_thread::yield();
  });
  std::thread dying([owner = std::move(victim)]() mutable { owner.reset(); });
  while (!in_death.load()) std::this_thread::yield();
  m.clear();
  m.insert_or_assign(2, keep);
  m.insert_or_assign(3, keep);
  cleared.store(true);
  dying.join();
  BOOST_TEST(m.size() == 2u);
  m.purge();
  BOOST_TEST(m.size() == 2u);
  BOOST_TEST(conformance::walked(m) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
