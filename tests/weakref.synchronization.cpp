// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The *Synchronization:* paragraphs, checked the way ThreadSanitizer sees them: a plain
// (non-atomic) write on one thread before the first event, a plain read of it on the other thread
// after the second event, and no other synchronization between the two threads than the one the
// paragraph promises (no mutex, no join before the read, no acquire or release of the test's
// own; the only atomics of the test are relaxed). Under the tsan preset a missing happens-before
// is a reported data race, and the test fails; the values read, and the orders recorded, are
// asserted too, so that the tests mean something without TSan.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <memory_resource>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "../conformance/child_process.hpp"
#include "support.hpp"
import weakref;

using weakref::weak_ref;

namespace sync_test {

constexpr std::uint32_t intact = 0xC0FFEEu;

// A referent whose destructor overwrites a plain field: a read of `magic` that the destruction
// does not happen after, or before, is a data race under TSan, and reads 0 without it.
struct cell {
  int value = 0;
  std::uint32_t magic = intact;
  std::vector<int>* log = nullptr; // where the destructor records -1, if set
  explicit cell(int v = 0, std::vector<int>* l = nullptr) : value(v), log(l) {}
  cell(const cell&) = delete;
  cell& operator=(const cell&) = delete;
  ~cell() {
    if (log != nullptr) log->push_back(-1);
    magic = 0;
  }
  // -1 once destroyed (Boost.Test's assertions are for the main thread only).
  int get() const { return magic == intact ? value : -1; }
  friend bool operator==(const cell& a, const cell& b) {
    if (a.magic != intact || b.magic != intact) torn.fetch_add(1, std::memory_order_relaxed);
    return a.value == b.value;
  }
  static inline std::atomic<long> torn{0}; // comparisons that saw a destroyed cell
};

// A value compared through cell's ==: a weak_key_map's strongly held part, destroyed by the
// death of its key ([weakref.containers.general]/8).
struct held {
  std::shared_ptr<cell> c;
  friend bool operator==(const held& a, const held& b) { return *a.c == *b.c; }
};

// Yields a few times: lets the other thread run first, without ordering anything.
void dither(int times) {
  for (int i = 0; i < times; ++i) std::this_thread::yield();
}

// A strongly held part whose destructor, if it is the one stored in a container, copies the
// note: what the purge that destroys it reads. Moved-from copies read nothing.
struct noting {
  const int* note = nullptr;
  int* seen = nullptr;
  noting(const int* n, int* s) : note(n), seen(s) {}
  noting(noting&& o) noexcept
      : note(std::exchange(o.note, nullptr)), seen(std::exchange(o.seen, nullptr)) {}
  noting(const noting&) = delete;
  noting& operator=(const noting&) = delete;
  ~noting() {
    if (seen != nullptr) *seen = *note;
  }
};
struct noting_hash {
  std::size_t operator()(const noting&) const noexcept { return 0; }
};
struct noting_equal {
  bool operator()(const noting&, const noting&) const noexcept { return true; }
};

// ---- [weakref.error.callback] ----------------------------------------------------------------

int installed_note = 0; // written before the installation, read by the handler
int noted = -1;         // written by noting_handler, on the dying thread only
long quiet_handled = 0; // written by quiet_handler, on the dying thread only
void quiet_handler(std::exception_ptr) noexcept { ++quiet_handled; }
void noting_handler(std::exception_ptr) noexcept { noted = installed_note; }

// Restores the handler a test replaced.
struct handler_restorer {
  weakref::callback_error_handler saved = weakref::get_callback_error_handler();
  ~handler_restorer() { weakref::set_callback_error_handler(saved); }
};

// ---- [weakref.ref.hash] ----------------------------------------------------------------------

struct hashed {
  int id = 0;
};
thread_local bool may_hash = false; // only the caching thread's hash computes a value
int hash_note = 0;                  // written by that computation, before the caching

// ---- [weakref.finalize.exit] ----------------------------------------------------------------

// Constant-initialized before main, so before the first finalizer of the program registers the
// exit pass: destroyed after the exit pass has completed. In the child process of the exit test
// it joins the observing thread there (in any other process it has nothing to do).
struct after_the_exit_pass {
  std::thread* observer = nullptr;
  int fd = -1;
  std::atomic<int>* raced_calls = nullptr;
  ~after_the_exit_pass() {
    if (observer == nullptr) return;
    observer->join();
    conformance::say(fd, "raced finalizer calls: " + std::to_string(raced_calls->load()) + "\n");
  }
};
after_the_exit_pass joins_after_the_exit_pass;

int pass_note = 0; // written by a function the pass calls, read after a call finds it completed
int late_note = 0; // written before a finalizer is created while the pass runs
long observer_calls = 0;
struct count_call {
  void operator()() const { ++observer_calls; }
};

} // namespace sync_test

template <>
struct std::hash<sync_test::hashed> {
  std::size_t operator()(const sync_test::hashed& h) const {
    // Elsewhere the hash throws, so that nothing is cached there: the value a call returns on
    // that other thread is then the one cached by the caching thread.
    if (!sync_test::may_hash) throw std::runtime_error("not hashed on this thread");
    sync_test::hash_note = 7000 + h.id;
    return 4242;
  }
};

using namespace sync_test;

BOOST_AUTO_TEST_SUITE(synchronization)

// [weakref.error.callback]/3, /7 and /9 (and the load of /1): the installation of a handler by
// set_callback_error_handler on one thread happens before its call by a death on another thread
// whose load reads it, and before the return of a get_callback_error_handler that returns it.
// installed_note is written, plainly, before the installation; the dying thread reads it in the
// handler, a third thread after get_callback_error_handler returned the handler. Nothing else
// orders the threads.
BOOST_AUTO_TEST_CASE(installing_a_handler_happens_before_its_call_and_its_get) {
  handler_restorer restore;
  weakref::set_callback_error_handler(&quiet_handler);
  installed_note = 0;
  noted = -1;
  quiet_handled = 0;
  weakref::callback_error_handler previous = nullptr;
  int got_note = -1;

  std::thread dying([] {
    // Deaths with a throwing callback until one is handled by noting_handler.
    while (noted == -1) {
      auto obj = weakref::make_shared<int>(1);
      weak_ref<int> r(obj, [](weak_ref<int>) { throw std::runtime_error("callback fails"); });
      obj.reset();
      std::this_thread::yield();
    }
  });
  std::thread getting([&got_note] {
    while (weakref::get_callback_error_handler() != &noting_handler) std::this_thread::yield();
    got_note = installed_note;
  });
  std::thread installing([&previous] {
    dither(20);
    installed_note = 42;
    previous = weakref::set_callback_error_handler(&noting_handler);
  });
  installing.join();
  dying.join();
  getting.join();
  BOOST_TEST(noted == 42);
  BOOST_TEST(got_note == 42);
  BOOST_TEST(previous == &quiet_handler);
  BOOST_TEST_MESSAGE("deaths handled by the previous handler: " << quiet_handled);
}

// [weakref.ref.hash]/5: the caching of a hash value synchronizes with a call of hash(), on
// another handle to the same weak reference object, that returns the cached value. The referent's
// hash computes only on the caching thread (it throws elsewhere, caching nothing), and writes
// hash_note before returning; the other thread calls hash() until it returns, then reads
// hash_note.
BOOST_AUTO_TEST_CASE(caching_a_hash_synchronizes_with_a_call_returning_it) {
  for (int round = 0; round < 50; ++round) {
    auto obj = weakref::make_shared<hashed>(hashed{round});
    weak_ref<hashed> caching_handle(obj);
    weak_ref<hashed> reading_handle = caching_handle;
    std::size_t cached = 0, read = 0;
    int note = 0;
    long refused = 0;
    std::thread reader([&] {
      for (;;) {
        try {
          read = reading_handle.hash();
          break;
        } catch (const std::runtime_error&) {
          ++refused; // the referent's hash refused: nothing was cached yet
          std::this_thread::yield();
        }
      }
      note = hash_note;
    });
    std::thread cacher([&] {
      may_hash = true;
      cached = caching_handle.hash();
    });
    reader.join();
    cacher.join();
    BOOST_TEST(cached == 4242u);
    BOOST_TEST(read == 4242u);
    BOOST_TEST(note == 7000 + round);
  }
}

// [weakref.ref.cons]/3, [weakref.proxy.cons]/3, [weakref.method.cons]/3 and
// [weakref.ref.death]/5 (and a finalizer's registration as a weak reference): a registration on one
// thread happens before the death on another thread (the registering thread's release of its
// owner happens before step (1.1)), so the callbacks, called on the dying thread, read what the
// registering thread wrote before registering. The steps are in order: the callbacks find the
// object cleared (1.1), run most recently registered first, one at a time (1.3), and the object is
// destroyed after them (1.4). Two threads each release one of the two owners; either may be the
// last.
BOOST_AUTO_TEST_CASE(registrations_happen_before_the_death_on_another_thread) {
  long deaths_on_the_other_thread = 0;
  for (int round = 0; round < 100; ++round) {
    std::vector<int> log; // written on the dying thread only
    auto obj = weakref::make_shared<cell>(round, &log);
    std::shared_ptr<cell> registering_owner = obj;
    std::shared_ptr<cell> other_owner = std::move(obj);
    int ref_note = 0, proxy_note = 0, method_note = 0, finalizer_note = 0;
    bool cleared_in_callback = false;
    std::thread::id dying_thread;
    std::optional<weak_ref<cell>> ref;
    std::optional<weakref::weak_proxy<cell>> proxy;
    using method = weakref::weak_method<cell, int (cell::*)() const>;
    std::optional<method> bound;

    std::thread registering([&] {
      ref_note = 1;
      ref.emplace(registering_owner, [&](weak_ref<cell> self) {
        cleared_in_callback = self.expired() && !self.lock();
        dying_thread = std::this_thread::get_id();
        log.push_back(ref_note);
      });
      proxy_note = 2;
      proxy.emplace(registering_owner,
                    [&](weakref::weak_proxy<cell>) { log.push_back(proxy_note); });
      method_note = 3;
      bound.emplace(registering_owner, &cell::get, [&](method) { log.push_back(method_note); });
      finalizer_note = 4;
      weakref::finalize(registering_owner,
                        [&log, &finalizer_note] { log.push_back(finalizer_note); });
      registering_owner.reset();
    });
    std::thread other([&] {
      dither(round % 4);
      other_owner.reset();
    });
    const std::thread::id other_id = other.get_id();
    registering.join();
    other.join();
    if (dying_thread == other_id) ++deaths_on_the_other_thread;
    BOOST_TEST(cleared_in_callback);
    BOOST_TEST((log == std::vector<int>{4, 3, 2, 1, -1}));
  }
  BOOST_TEST_MESSAGE("deaths on the thread that did not register: " << deaths_on_the_other_thread
                                                                    << " of 100");
}

// [weakref.ref.cons]/15: the destruction of the last handle on one thread and the death on
// another are ordered by the weak list: if the unregistration comes first, the callback is not
// called and the weak reference object (its callback with it) is destroyed by the handle's
// destructor; otherwise the callback is called, and the weak reference object is destroyed after
// it returns, on the thread of the death, and the handle's destructor does not wait for the call.
// The callback's state is plain: it is written by the call and read by the callback's destructor.
// The call waits (by a relaxed flag, which orders nothing) until the handle's destructor has
// returned: a destructor that waited for the call would never return.
BOOST_AUTO_TEST_CASE(destroying_the_last_handle_races_the_death_without_waiting) {
  struct state {
    bool called = false, returned = false, destroyed = false, destroyed_after_return = false;
    bool handle_destroyed_first = false;
    std::thread::id called_on, destroyed_on;
    std::atomic<bool> handle_gone{false};
  };
  struct watcher {
    state* s;
    explicit watcher(state* st) : s(st) {}
    watcher(watcher&& o) noexcept : s(std::exchange(o.s, nullptr)) {}
    watcher(const watcher&) = delete;
    ~watcher() {
      if (s == nullptr) return;
      s->destroyed = true;
      s->destroyed_after_return = s->returned;
      s->destroyed_on = std::this_thread::get_id();
    }
    void operator()(weak_ref<cell>) {
      s->called = true;
      s->called_on = std::this_thread::get_id();
      for (long spins = 0; !s->handle_gone.load(std::memory_order_relaxed); ++spins) {
        if (spins == 20'000'000) return; // the handle's destructor is waiting: fails below
        std::this_thread::yield();
      }
      s->handle_destroyed_first = true;
      s->returned = true;
    }
  };
  long called = 0;
  for (int round = 0; round < 100; ++round) {
    state s;
    auto obj = weakref::make_shared<cell>(round);
    std::optional<weak_ref<cell>> handle;
    handle.emplace(obj, watcher(&s));
    std::thread releasing([&] {
      dither(round % 3);
      handle.reset();
      s.handle_gone.store(true, std::memory_order_relaxed);
    });
    std::thread dying([&obj] { obj.reset(); });
    const std::thread::id releasing_id = releasing.get_id(), dying_id = dying.get_id();
    releasing.join();
    dying.join();
    BOOST_TEST(s.destroyed);
    if (s.called) {
      ++called;
      BOOST_TEST(s.handle_destroyed_first);
      BOOST_TEST((s.called_on == dying_id));
      BOOST_TEST((s.destroyed_on == dying_id));
      BOOST_TEST(s.destroyed_after_return);
    } else {
      BOOST_TEST((s.destroyed_on == releasing_id));
    }
  }
  BOOST_TEST_MESSAGE("callbacks called: " << called << " of 100");
}

// [weakref.introspection]/2 and /5: weak_ref_count and weak_refs read the weak list at one step
// of its total order. One thread registers n references, then destroys them; another reads
// weak_ref_count: its reads are at later and later steps, so the counts it sees rise, then fall,
// within [0, n]. weak_refs gives handles to registered references, of the object, each once.
BOOST_AUTO_TEST_CASE(introspection_reads_the_weak_list_at_one_step) {
  constexpr int n = 64;
  auto obj = weakref::make_shared<cell>(1);
  std::vector<weak_ref<cell>> refs;
  refs.reserve(n);
  std::vector<std::size_t> counts;
  counts.reserve(4096);
  bool weak_refs_ok = true;
  std::thread registering([&] {
    for (int i = 0; i < n; ++i) refs.emplace_back(obj);
    while (!refs.empty()) refs.pop_back();
  });
  std::thread reading([&] {
    for (int i = 0; i < 2000; ++i) {
      counts.push_back(weakref::weak_ref_count(obj));
      if (i % 8 == 0) {
        auto seen = weakref::weak_refs(obj);
        for (std::size_t j = 0; j < seen.size(); ++j) {
          const auto& r = std::get<weak_ref<cell>>(seen[j]);
          weak_refs_ok = weak_refs_ok && r.lock() == obj;
          for (std::size_t k = 0; k < j; ++k)
            weak_refs_ok = weak_refs_ok && !r.identical(std::get<weak_ref<cell>>(seen[k]));
        }
        weak_refs_ok = weak_refs_ok && seen.size() <= static_cast<std::size_t>(n);
      }
    }
  });
  registering.join();
  reading.join();
  BOOST_TEST(weak_refs_ok);
  std::size_t i = 1;
  while (i < counts.size() && counts[i - 1] <= counts[i]) ++i;
  while (i < counts.size() && counts[i - 1] >= counts[i]) ++i;
  BOOST_TEST(i == counts.size()); // rises, then falls
  for (std::size_t c : counts) BOOST_TEST(c <= static_cast<std::size_t>(n));
  BOOST_TEST(weakref::weak_ref_count(obj) == 0u);
}

// [weakref.finalize.obs]/9 (with [weakref.finalize.call]/5-6): a peek() on one thread runs
// concurrently with the call of the finalizer on another; the function modifies its argument, and
// a peek copies it: the function never modifies an object a peek reads, so every peek that finds
// the finalizer alive copies the original value, and TSan sees no race between the copies and
// the function's write.
BOOST_AUTO_TEST_CASE(peek_runs_concurrently_with_a_call) {
  struct box {
    int v = 7;
  };
  long copies = 0;
  for (int round = 0; round < 100; ++round) {
    auto obj = weakref::make_shared<int>(round);
    weakref::finalize peeking(obj, [](box& b) { b.v = -1; }, box{});
    const auto calling = peeking;
    bool intact_copies = true;
    bool called = false;
    std::thread peeker([&] {
      while (auto seen = peeking.peek()) {
        intact_copies = intact_copies && std::get<0>(seen->args).v == 7 && seen->object == obj;
        ++copies;
        std::this_thread::yield();
      }
    });
    std::thread caller([&] {
      dither(round % 5);
      called = calling();
    });
    peeker.join();
    caller.join();
    BOOST_TEST(called);
    BOOST_TEST(intact_copies);
    BOOST_TEST(!peeking.alive());
  }
  BOOST_TEST_MESSAGE("peeks that copied: " << copies);
}

// [weakref.containers.general]/10: the report of an element by a death on another thread
// synchronizes with the purge, on the owning thread, that removes it. The dying thread writes a
// plain note before releasing the last owner. The containers allocate from an
// unsynchronized_pool_resource, so the purge destroys the element's strongly held part
// ([weakref.containers.general]/8), on the owning thread: its destructor reads the note. (size()
// cannot tell that a purge removed the element: it also leaves out elements reported but not
// yet purged, [weakref.containers.general]/7.)
BOOST_AUTO_TEST_CASE(a_report_synchronizes_with_the_purge_that_removes_it) {
  for (int round = 0; round < 100; ++round) {
    std::pmr::unsynchronized_pool_resource pool;
    weakref::pmr::weak_value_map<noting, cell, noting_hash, noting_equal> values(&pool);
    weakref::pmr::weak_key_map<cell, noting, weakref::identity_hash<cell>,
                               weakref::identity_equal<cell>>
        keys(&pool);
    int note = 0, seen_by_values = 0, seen_by_keys = 0;
    auto obj = weakref::make_shared<cell>(round);
    values.try_emplace(noting(&note, &seen_by_values), obj);
    keys.try_emplace(obj, &note, &seen_by_keys);
    std::thread dying([&] {
      dither(round % 4);
      note = round + 1;
      obj.reset();
    });
    while (seen_by_values == 0 || seen_by_keys == 0) {
      values.purge();
      keys.purge();
      std::this_thread::yield();
    }
    dying.join();
    BOOST_TEST(seen_by_values == round + 1);
    BOOST_TEST(seen_by_keys == round + 1);
    BOOST_TEST(values.empty());
    BOOST_TEST(keys.empty());
  }
}

// [weakref.value.map.eq]/2 and [weakref.key.map.eq]/2: each element is pinned while it takes
// part in ==, so no element is destroyed while its values are compared (cell's == reads the
// plain field its destructor writes); an element whose death happens before the comparison does
// not take part. Another thread kills elements of both maps while the owning thread compares.
BOOST_AUTO_TEST_CASE(comparisons_pin_elements_that_die_on_another_thread) {
  constexpr int n = 16;
  for (int round = 0; round < 100; ++round) {
    weakref::weak_value_map<int, cell> x, y;
    using key_map = weakref::weak_key_map<cell, held, weakref::identity_hash<cell>,
                                          weakref::identity_equal<cell>>;
    key_map kx, ky;
    std::vector<std::shared_ptr<cell>> dying_owners, kept;
    for (int i = 0; i < n; ++i) {
      auto a = weakref::make_shared<cell>(i);
      auto b = weakref::make_shared<cell>(i);
      x[i] = a;
      y[i] = b;
      // The keys die; the values (strongly held) are compared, and destroyed by the deaths. The
      // keys are not the values of x and y: pinning one does not pin the other.
      auto key = weakref::make_shared<cell>(i);
      kx.try_emplace(key, held{std::make_shared<cell>(i)});
      ky.try_emplace(key, held{std::make_shared<cell>(i)});
      for (auto* o : {&a, &b, &key}) (i % 2 == 0 ? kept : dying_owners).push_back(std::move(*o));
    }
    std::thread dying([&dying_owners] {
      while (!dying_owners.empty()) {
        dying_owners.pop_back();
        dither(20); // spreads the deaths over the comparisons
      }
    });
    for (int k = 0; k < 100; ++k) {
      (void)(x == y); // either result: deaths not ordered with the comparison may take part
      (void)(kx == ky);
      std::this_thread::yield();
    }
    dying.join();
    BOOST_TEST(cell::torn.load(std::memory_order_relaxed) == 0);
    // The deaths happen before these comparisons: the dead elements do not take part.
    BOOST_TEST((x == y));
    BOOST_TEST((kx == ky));
    BOOST_TEST(x.size() == static_cast<std::size_t>(n / 2));
    BOOST_TEST(kx.size() == static_cast<std::size_t>(n / 2));
  }
}

// [weakref.method.general]/4: distinct weak_method objects for one object are called
// concurrently on two threads while the object dies on a third; each call pins the object, so
// the member (which reads the plain field the destructor writes) never overlaps the destruction.
BOOST_AUTO_TEST_CASE(distinct_weak_methods_are_used_concurrently) {
  for (int round = 0; round < 50; ++round) {
    auto obj = weakref::make_shared<cell>(5);
    weakref::weak_method first(obj, &cell::get);
    auto second = first;
    long calls[2] = {0, 0};
    bool values_ok[2] = {true, true};
    auto call_until_dead = [](const auto& m, long& count, bool& ok) {
      while (auto result = m()) {
        ok = ok && *result == 5;
        ++count;
        std::this_thread::yield();
      }
    };
    std::thread a([&] { call_until_dead(first, calls[0], values_ok[0]); });
    std::thread b([&] { call_until_dead(second, calls[1], values_ok[1]); });
    std::thread dying([&obj, round] {
      dither(round % 8);
      obj.reset();
    });
    a.join();
    b.join();
    dying.join();
    BOOST_TEST(values_ok[0]);
    BOOST_TEST(values_ok[1]);
    BOOST_TEST(!first());
  }
}

// [weakref.finalize.exit]/3 and /5, and [weakref.finalize.cons]/3, in a child process that
// exits while another thread of it uses finalizers:
// - the completion of the exit pass synchronizes with a call that finds it completed: a
//   function the pass calls writes pass_note, plainly; the other thread calls finalizers whose
//   atexit flag is false (the pass never calls them) until one calls nothing, then reads
//   pass_note;
// - a finalizer called by the other thread while the pass runs is called once, by one of them;
// - a flag cleared before exit (happens before the pass) is read: that finalizer is not called;
//   a flag cleared by the other thread while the pass runs is an atomic object (no data race);
// - a finalizer's registration happens before the pass reads it: the finalizers created before
//   exit are called; one created by the other thread while the pass runs, after a plain write,
//   reads that write if the pass calls it.
// The other thread waits for the pass with a relaxed flag, which orders nothing.
BOOST_AUTO_TEST_CASE(the_exit_pass_is_ordered_with_calls_on_another_thread) {
  const conformance::child_result child = conformance::run_in_child([](int fd) {
    static std::atomic<bool> pass_started{false};
    static std::atomic<int> raced_calls{0};
    // Locals: std::exit destroys none, so every object here stays alive.
    auto obj = weakref::make_shared<int>(0);
    std::vector<weakref::finalize<int, count_call>> pool;
    for (int i = 0; i < 4096; ++i) {
      pool.emplace_back(obj, count_call{});
      pool.back().atexit(false);
    }
    // The pass calls the newest first.
    weakref::finalize raced(obj, [] { raced_calls.fetch_add(1, std::memory_order_relaxed); });
    weakref::finalize flag_raced(obj, [] {});
    weakref::finalize cleared(obj, [fd] { conformance::say(fd, "cleared flag called\n"); });
    cleared.atexit(false);
    weakref::finalize noting(obj, [] { pass_note = 1; });
    weakref::finalize starting(obj, [] { pass_started.store(true, std::memory_order_relaxed); });
    joins_after_the_exit_pass.fd = fd;
    joins_after_the_exit_pass.raced_calls = &raced_calls;
    joins_after_the_exit_pass.observer = new std::thread([&, fd] {
      while (!pass_started.load(std::memory_order_relaxed)) std::this_thread::yield();
      if (raced()) conformance::say(fd, "raced finalizer called by the observer\n");
      flag_raced.atexit(false);
      late_note = 5;
      weakref::finalize(obj, [fd] {
        conformance::say(fd, late_note == 5 ? "late finalizer read its note\n"
                                            : "late finalizer read no note\n");
      });
      for (auto& g : pool) {
        if (!g()) {
          conformance::say(fd, "pass completed, note " + std::to_string(pass_note) + "\n");
          return;
        }
        std::this_thread::yield();
      }
      conformance::say(fd, "the pass outlasted the pool\n");
    });
    std::exit(0);
  });
  if (!child.supported) {
    BOOST_TEST_MESSAGE("no fork() here: the exit pass is not checked");
    BOOST_TEST(!child.supported);
    return;
  }
  BOOST_TEST_MESSAGE(child.output);
  BOOST_TEST(child.exited);
  BOOST_TEST(child.exit_code == 0); // a race TSan reports ends the child with its exit code
  BOOST_TEST(child.output.find("pass completed, note 1\n") != std::string::npos);
  BOOST_TEST(child.output.find("raced finalizer calls: 1\n") != std::string::npos);
  BOOST_TEST(child.output.find("cleared flag called") == std::string::npos);
  BOOST_TEST(child.output.find("late finalizer read no note") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
