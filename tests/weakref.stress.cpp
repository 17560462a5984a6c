// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Concurrency stress (issue 7), run under TSan in CI: referents die on other threads while one
// thread owns and uses each container ([weakref.containers.general]/4: a container is used by
// one thread at a time, its elements may die on any thread), and while several threads create,
// copy, lock and destroy their own refs and proxies ([weakref.ref.general]/4). Each test is
// bounded by an operation count and a time budget that ends it only after a floor of
// operations, and a floor of operations that overlapped a death on another thread
// (conformance::death_watch), both asserted (time is never asserted: sanitizer and valgrind
// builds just do fewer operations above the floors), and checks its invariants afterwards: no
// dead entry ever visible, no live entry lost, every callback run exactly once, nothing leaked.
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <thread>
#include <vector>

#include "../conformance/handoff.hpp"
#include "support.hpp"
import weakref;

namespace {

constexpr std::uint32_t intact = 0x5EED5EEDu;

struct item {
  static inline std::atomic<long> alive{0};
  const long id;
  const bool kept; // the owner keeps this one: it must never vanish from a container
  std::uint32_t magic = intact;
  item(long i, bool k) : id(i), kept(k) { alive.fetch_add(1, std::memory_order_relaxed); }
  ~item() {
    magic = 0;
    alive.fetch_sub(1, std::memory_order_relaxed);
  }
};

using handoff = conformance::handoff<item>;

struct callback_record {
  std::atomic<int> calls{0};
};

} // namespace

BOOST_AUTO_TEST_SUITE(stress)

// [weakref.containers.general]/4-5 and /7 One owner thread inserts, looks up, iterates, erases
// (also through iterators, while iterating), copies and compares all three containers; two killer
// threads release the other owners at the same time. Throughout: a kept element is always found
// and always yielded by iteration, nothing yielded is destroyed. Afterwards: size() is exact
// and equals the kept elements, every callback ran exactly once, nothing leaked.
BOOST_AUTO_TEST_CASE(containers_owner_thread_against_two_killers) {
  const conformance::stress_budget budget(2'000'000, 10'000, std::chrono::seconds(4), 2'000);

  weakref::weak_value_map<long, item> values;
  weakref::weak_key_map<item, long, weakref::identity_hash<item>, weakref::identity_equal<item>>
      keys;
  weakref::weak_set<item, weakref::identity_hash<item>, weakref::identity_equal<item>> elements;

  conformance::death_watch deaths(budget.overlap_floor());
  handoff victims(16, &deaths);
  std::atomic<bool> stop{false};
  std::thread killer1([&] { victims.kill_until(stop); });
  std::thread killer2([&] { victims.kill_until(stop); });

  struct watched {
    weakref::weak_ref<item> ref;
    std::shared_ptr<callback_record> record;
  };
  std::vector<watched> watch; // refs that outlive their referents: called back exactly once
  std::vector<std::shared_ptr<item>> kept;
  // Every 8th object's death waits, inside, for an overlapping operation (death_watch::hold);
  // its callback runs before the entries are reported.
  std::vector<weakref::weak_ref<item>> holds;
  long operations = 0, failed = 0, overlapping = 0;

  auto intact_and_live = [&](const std::shared_ptr<item>& p) { return p && p->magic == intact; };
  for (long i = 0; budget.more(operations, overlapping); ++i) {
    const auto window = deaths.begin();
    const long operations_before = operations;
    const bool keep = i % 4 == 0;
    auto object = weakref::make_shared<item>(i, keep);
    values.insert_or_assign(i, object);
    keys.try_emplace(object, i);
    elements.add(object);
    operations += 3;
    if (i % 8 == 1)
      holds.emplace_back(object, [&deaths](weakref::weak_ref<item>) { deaths.hold(); });
    if (i % 16 == 0) {
      auto record = std::make_shared<callback_record>();
      watch.push_back(
          {weakref::weak_ref<item>(
               object, [record](weakref::weak_ref<item>) { record->calls.fetch_add(1); }),
           record});
      ++operations;
    }
    if (keep)
      kept.push_back(std::move(object));
    else
      victims.put(std::move(object));

    // Lookups: a kept element is always there; anything else is found alive or not at all.
    const std::shared_ptr<item>& probe = kept[static_cast<std::size_t>(i) % kept.size()];
    if (values.get(probe->id) != probe) ++failed;
    if (auto it = keys.find(*probe); it == keys.end() || (*it).second != probe->id) ++failed;
    if (!elements.contains(*probe)) ++failed;
    if (auto other = values.get(i / 2); other && !intact_and_live(other)) ++failed;
    operations += 4;

    if (i % 64 == 0) { // iterate all three; yield only intact objects, every kept one
      long kept_seen = 0;
      for (const auto& [key, value] : values) {
        if (!intact_and_live(value) || value->id != key) ++failed;
        kept_seen += value->kept;
        ++operations;
      }
      for (const auto& [key, value] : keys) {
        if (!intact_and_live(key) || key->id != value) ++failed;
        ++operations;
      }
      for (const auto& element : elements) {
        if (!intact_and_live(element)) ++failed;
        ++operations;
      }
      // At least the kept ones: those the owner dropped lately may still be alive elsewhere.
      if (kept_seen < static_cast<long>(kept.size())) ++failed;
    }
    if (i % 256 == 0) { // erase through iterators while iterating: the non-kept ones
      operations +=
          static_cast<long>(erase_if(values, [](const auto& kv) { return !kv.second->kept; }));
      operations +=
          static_cast<long>(erase_if(keys, [](const auto& kv) { return !kv.first->kept; }));
      operations += static_cast<long>(erase_if(elements, [](const auto& x) { return !x->kept; }));
      if (values.size() < kept.size() || elements.size() < kept.size()) ++failed;
    }
    if (i % 512 == 0) { // copies hold every kept element
      auto values_copy = values;
      auto elements_copy = elements.copy();
      for (const auto& k : kept)
        if (values_copy.get(k->id) != k || !elements_copy.contains(k)) ++failed;
      operations += 2 * static_cast<long>(kept.size());
    }
    if (i % 7 == 0 && kept.size() > 1) { // the owner drops one of its own: it dies here
      std::shared_ptr<item> gone = std::move(kept.front());
      kept.erase(kept.begin());
      victims.put(std::move(gone));
    }
    if (deaths.overlapped(window, operations - operations_before))
      overlapping += operations - operations_before;
  }
  stop = true;
  deaths.finish();
  killer1.join();
  killer2.join();
  victims.drain();

  BOOST_TEST_MESSAGE("stress: " << operations << " container operations (" << overlapping
                                << " overlapped a death), " << deaths.count()
                                << " killer releases, " << kept.size() << " kept");
  BOOST_TEST(operations >= budget.floor()); // real work was done, even under valgrind
  BOOST_TEST(overlapping >= budget.overlap_floor());
  BOOST_TEST(failed == 0);
  // Quiescent now: size() is exact ([weakref.containers.general]/7) and only kept ones remain.
  BOOST_TEST(values.size() == kept.size());
  BOOST_TEST(keys.size() == kept.size());
  BOOST_TEST(elements.size() == kept.size());
  BOOST_TEST(static_cast<std::size_t>(std::ranges::distance(values)) == kept.size());
  BOOST_TEST(static_cast<std::size_t>(std::ranges::distance(elements)) == kept.size());
  for (const auto& k : kept) {
    BOOST_TEST(values.at(k->id) == k);
    BOOST_TEST(keys.at(*k) == k->id);
    BOOST_TEST(elements.contains(k));
  }
  kept.clear();
  BOOST_TEST(values.empty());
  BOOST_TEST(keys.empty());
  BOOST_TEST(elements.empty());
  long wrong_calls = 0;
  for (const watched& w : watch) wrong_calls += w.record->calls.load() != 1;
  BOOST_TEST(wrong_calls == 0);
  BOOST_TEST(item::alive.load() == 0);
}

// [weakref.ref.general]/4, [weakref.ref.death] Three threads create, copy, lock and destroy refs
// and proxies (with callbacks) to objects that a fourth thread keeps killing and replacing;
// some callbacks release another object, so deaths cascade on the killing thread. Afterwards:
// every ref kept until its referent's death was called back exactly once, no callback ran
// twice or saw its ref alive, no lock ever yielded a destroyed object, nothing leaked.
BOOST_AUTO_TEST_CASE(refs_and_proxies_across_threads) {
  // Per worker, but for the operations that overlapped a death: all workers together.
  const conformance::stress_budget budget(600'000, 4'000, std::chrono::seconds(4), 3'000);
  constexpr std::size_t slot_count = 8;
  conformance::death_watch deaths(budget.overlap_floor());

  std::array<std::mutex, slot_count> slot_mutex;
  std::array<std::shared_ptr<item>, slot_count> slots;
  std::array<std::shared_ptr<item>, slot_count> hostages; // released by callbacks: cascades
  std::mutex hostage_mutex;
  auto get = [&](std::size_t i) {
    std::lock_guard guard(slot_mutex[i % slot_count]);
    return slots[i % slot_count];
  };
  for (std::size_t i = 0; i < slot_count; ++i)
    slots[i] = weakref::make_shared<item>(long(i), false);

  std::atomic<long> bad{0}, callbacks{0};
  struct watched {
    weakref::weak_ref<item> ref;
    std::shared_ptr<callback_record> record;
  };
  std::array<std::vector<watched>, 3> watch;
  std::array<long, 3> operations{};
  std::array<long, 3> overlapping{}; // operations that overlapped a death on the killer
  std::atomic<int> workers_running{3};

  auto worker = [&](int w) {
    std::vector<weakref::weak_ref<item>> ring(32);
    std::vector<weakref::weak_proxy<item>> proxies(8);
    for (long n = 0; budget.more(operations[w], deaths.overlapping()); ++n) {
      const auto window = deaths.begin();
      std::shared_ptr<item> owner = get(static_cast<std::size_t>(n + w));
      if (!owner) continue;
      auto record = std::make_shared<callback_record>();
      const bool cascade = n % 3 == 0;
      weakref::weak_ref<item> with_callback(
          owner, [&, record, cascade](weakref::weak_ref<item> self) {
            if (self.lock()) bad.fetch_add(1); // cleared before callbacks
            if (record->calls.fetch_add(1) != 0) bad.fetch_add(1);
            callbacks.fetch_add(1, std::memory_order_relaxed);
            if (cascade) { // a death inside a death, on this (the killing) thread
              std::shared_ptr<item> victim;
              std::lock_guard guard(hostage_mutex);
              victim = std::move(hostages[static_cast<std::size_t>(callbacks.load()) % slot_count]);
            }
          });
      weakref::weak_ref<item> copy = with_callback;
      if (!(copy == with_callback)) bad.fetch_add(1);
      proxies[static_cast<std::size_t>(n) % proxies.size()] = weakref::weak_proxy<item>(owner);
      owner.reset(); // this thread may be the last owner: the death runs here
      if (auto locked = copy.lock(); locked && locked->magic != intact) bad.fetch_add(1);
      try {
        if (proxies[static_cast<std::size_t>(n * 5) % proxies.size()]->magic != intact)
          bad.fetch_add(1);
      } catch (const weakref::reference_error&) {
      }
      if (n % 50 == 0) watch[w].push_back({std::move(copy), record});
      ring[static_cast<std::size_t>(n) % ring.size()] = std::move(with_callback);
      operations[w] += 6;
      if (deaths.overlapped(window, 6)) overlapping[w] += 6;
    }
    if (workers_running.fetch_sub(1) == 1) deaths.finish();
  };

  std::thread killer([&] {
    // Every 4th object's death waits, inside, for an operation of a worker to overlap it
    // (death_watch::hold), through a callback the killer registers and keeps until the death.
    std::array<std::optional<weakref::weak_ref<item>>, slot_count> holders;
    for (std::size_t n = 0; workers_running.load() > 0; ++n) {
      const std::size_t i = n % slot_count;
      std::shared_ptr<item> victim;
      auto fresh = weakref::make_shared<item>(long(n), false);
      std::optional<weakref::weak_ref<item>> victim_holder = std::move(holders[i]);
      holders[i].reset();
      if (n % 4 == 0)
        holders[i].emplace(fresh, [&deaths](weakref::weak_ref<item>) { deaths.hold(); });
      auto hostage = weakref::make_shared<item>(long(n), false);
      {
        std::lock_guard guard(slot_mutex[i]);
        victim = std::exchange(slots[i], std::move(fresh));
      }
      {
        std::lock_guard guard(hostage_mutex);
        hostages[i] = std::move(hostage); // may release the previous hostage here
      }
      // The death, and its callbacks, on this thread, no test lock held.
      deaths.dying([&] { victim.reset(); });
    }
  });
  std::thread w0(worker, 0), w1(worker, 1), w2(worker, 2);
  w0.join();
  w1.join();
  w2.join();
  killer.join();
  for (auto& s : slots) s.reset();
  {
    std::lock_guard guard(hostage_mutex);
    for (auto& h : hostages) h.reset();
  }

  const long total = operations[0] + operations[1] + operations[2];
  BOOST_TEST_MESSAGE("stress: " << total << " ref/proxy operations (" << overlapping[0] << ", "
                                << overlapping[1] << " and " << overlapping[2]
                                << " overlapped a death), " << deaths.count()
                                << " killer releases, " << callbacks.load() << " callbacks");
  BOOST_TEST(total >= 3 * budget.floor());
  BOOST_TEST(deaths.overlapping() >= budget.overlap_floor());
  BOOST_TEST(bad.load() == 0);
  long wrong_calls = 0, watched_count = 0;
  for (const auto& per_worker : watch)
    for (const watched& w : per_worker) {
      ++watched_count;
      wrong_calls += !w.ref.expired() || w.record->calls.load() != 1;
    }
  BOOST_TEST(watched_count > 0);
  BOOST_TEST(wrong_calls == 0);
  BOOST_TEST(item::alive.load() == 0);
}

BOOST_AUTO_TEST_SUITE_END()
