// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Allocation failure (issue 7): every allocation an operation makes is made to fail in turn
// (k = 0, 1, 2, ... until the operation completes without reaching the k-th), through the
// containers' allocator and through the global operator new (weak references and the factory's
// std::allocator use it). After each failure the operation must have thrown std::bad_alloc and:
//  - single-element insertions, reference and object creation: had no effect (strong guarantee,
//    [weakref.containers.general]/28, [weakref.ref.cons], [weakref.factory]);
//  - everything else: left a valid container holding only live elements that were there or were
//    being added (basic guarantee);
// and, once the container is gone, every byte is returned (checked here; ASan's LeakSanitizer
// and valgrind check the global heap).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support.hpp"
import weakref;

// ThreadSanitizer's runtime defines the global allocation functions itself (strongly, unlike
// AddressSanitizer's), so they cannot be replaced there: under TSan only the allocator-based
// failure points run. Every other build (dev, asan, std, valgrind) runs them all.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEAKREF_TEST_GLOBAL_NEW_FIXED 1
#endif
#endif

namespace {

// The fault injector: counts allocations on this thread while armed, fails the k-th one only
// (so that unwinding may allocate again), and remembers whether it fired.
struct injector {
  static inline thread_local long countdown = -1;
  static inline thread_local bool fired = false;
  static void arm(long k) {
    countdown = k;
    fired = false;
  }
  static bool disarm() {
    countdown = -1;
    return fired;
  }
  // Calls of the global operator new and operator delete on this thread, armed or not (not
  // counted where the global functions cannot be replaced: WEAKREF_TEST_GLOBAL_NEW_FIXED).
  [[maybe_unused]] static inline thread_local long news = 0;
  [[maybe_unused]] static inline thread_local long deletes = 0;
  static bool fail_now() {
    if (countdown < 0) return false;
    if (countdown-- != 0) return false;
    fired = true;
    return true;
  }
};

} // namespace

#ifndef WEAKREF_TEST_GLOBAL_NEW_FIXED
// The global allocation functions, replaced for this executable ([replacement.functions]) so
// that the injector also reaches the allocations made with std::allocator and plain `new`.
// Unarmed, they are malloc and free.
void* operator new(std::size_t n) {
  ++injector::news;
  if (injector::fail_now()) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  ++injector::news;
  if (injector::fail_now()) throw std::bad_alloc();
  const auto align = static_cast<std::size_t>(a);
  if (void* p =
          std::aligned_alloc(align, (std::max<std::size_t>(n, 1) + align - 1) / align * align))
    return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return ::operator new(n, std::nothrow);
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(n, a);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return ::operator new(n, a, std::nothrow);
}
namespace {
void release(void* p) noexcept {
  if (p != nullptr) ++injector::deletes;
  std::free(p);
}
} // namespace
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
#endif

namespace {

using weakref_test::tracked;

// A stateful allocator whose allocations also go through the injector, and which counts the
// bytes it has out, so that a leak of the container's own storage is caught exactly.
struct ledger {
  long live_bytes = 0;
};
template <class T>
struct failing_allocator {
  using value_type = T;
  ledger* book;
  explicit failing_allocator(ledger* b) noexcept : book(b) {}
  template <class U>
  failing_allocator(const failing_allocator<U>& o) noexcept : book(o.book) {}
  T* allocate(std::size_t n) {
    if (injector::fail_now()) throw std::bad_alloc();
    T* p = std::allocator<T>().allocate(n);
    book->live_bytes += static_cast<long>(n * sizeof(T));
    return p;
  }
  void deallocate(T* p, std::size_t n) noexcept {
    book->live_bytes -= static_cast<long>(n * sizeof(T));
    std::allocator<T>().deallocate(p, n);
  }
  template <class U>
  friend bool operator==(const failing_allocator& a, const failing_allocator<U>& b) noexcept {
    return a.book == b.book;
  }
};

long points_tried = 0; // reported by the last test

// Runs attempt(k) for k = 0, 1, ... until the k-th allocation is no longer reached; attempt
// arms the injector at k around the operation and checks the outcome. Returns how many
// allocations the operation makes.
template <class Attempt>
long for_each_failure_point(Attempt attempt) {
  for (long k = 0; k < 10'000; ++k) {
    if (!attempt(k)) return k;
    ++points_tried;
  }
  BOOST_FAIL("an operation that never stops allocating");
  return 0;
}

// Runs op with the k-th allocation failing; true if the injection fired (op then had to throw
// std::bad_alloc, which is checked), false if op completed without reaching it.
template <class Op>
bool run_failing_at(long k, Op&& op) {
  bool threw = false;
  injector::arm(k);
  try {
    op();
  } catch (const std::bad_alloc&) {
    threw = true;
  }
  const bool fired = injector::disarm();
  BOOST_TEST(threw == fired); // a failed allocation is reported, never swallowed
  return fired;
}

using string_alloc = failing_allocator<char>;
using pmr_string = std::basic_string<char, std::char_traits<char>, string_alloc>;

// std::hash<K>, except for strings with the failing allocator: libstdc++ 12 hashes only the
// basic_strings of std::allocator (libc++ hashes a basic_string whatever its allocator).
template <class K>
struct key_hash : std::hash<K> {};
template <>
struct key_hash<pmr_string> {
  std::size_t operator()(const pmr_string& s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

template <class K, class V>
using value_map =
    weakref::weak_value_map<K, V, key_hash<K>, std::equal_to<K>,
                            failing_allocator<std::pair<const K, std::shared_ptr<V>>>>;
template <class K, class V>
using key_map = weakref::weak_key_map<K, V, weakref::identity_hash<K>, weakref::identity_equal<K>,
                                      failing_allocator<std::pair<const std::shared_ptr<K>, V>>>;
template <class T>
using set = weakref::weak_set<T, weakref::identity_hash<T>, weakref::identity_equal<T>,
                              failing_allocator<std::shared_ptr<T>>>;

// What a container observably holds, to compare before and after a failed operation.
template <class Map>
std::vector<std::pair<int, const tracked*>> contents_of_value_map(const Map& m) {
  std::vector<std::pair<int, const tracked*>> out;
  for (const auto& [k, v] : m) out.emplace_back(k, v.get());
  std::ranges::sort(out);
  return out;
}

std::vector<std::shared_ptr<tracked>> objects(int n) {
  std::vector<std::shared_ptr<tracked>> out;
  for (int i = 0; i < n; ++i) out.push_back(weakref::make_shared<tracked>(i));
  return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(alloc_failure)

// [weakref.factory] "If an exception is thrown, the function has no effect": no object is
// constructed or left behind, and the allocator gets back what it gave.
// Checks [weakref.factory]/5.
BOOST_AUTO_TEST_CASE(allocate_shared_is_all_or_nothing) {
  ledger book;
  const int before = tracked::alive.load();
  const long allocations = for_each_failure_point([&](long k) {
    std::shared_ptr<tracked> made;
    const bool fired = run_failing_at(
        k, [&] { made = weakref::allocate_shared<tracked>(failing_allocator<tracked>(&book), 7); });
    if (fired) {
      BOOST_TEST(!made);
      BOOST_TEST(tracked::alive.load() == before);
    }
    made.reset();
    BOOST_TEST(book.live_bytes == 0);
    return fired;
  });
  BOOST_TEST(allocations >= 1);
}

#ifndef WEAKREF_TEST_GLOBAL_NEW_FIXED
// Checks [weakref.factory]/5 and /8.
BOOST_AUTO_TEST_CASE(make_shared_is_all_or_nothing) {
  const long allocations = for_each_failure_point([&](long k) {
    const int before = tracked::alive.load();
    std::shared_ptr<tracked> made;
    const bool fired = run_failing_at(k, [&] { made = weakref::make_shared<tracked>(7); });
    if (fired) {
      BOOST_TEST(!made);
      BOOST_TEST(tracked::alive.load() == before);
    }
    return fired;
  });
  BOOST_TEST(allocations >= 1);
}

// [weakref.ref.cons] A reference that cannot be made is not registered: weak_ref_count is
// unchanged and the referent dies later with no callback.
// Checks [weakref.ref.cons]/4 and /6; [weakref.proxy.cons]/4 and /6.
BOOST_AUTO_TEST_CASE(refs_and_proxies_are_all_or_nothing) {
  auto obj = weakref::make_shared<tracked>(1);
  std::vector<weakref::weak_ref<tracked>> kept{weakref::weak_ref<tracked>(obj)};
  int calls = 0;
  auto attempt = [&](auto make) {
    return for_each_failure_point([&](long k) {
      const std::size_t count = weakref::weak_ref_count(obj);
      const bool fired = run_failing_at(k, make);
      if (fired) BOOST_TEST(weakref::weak_ref_count(obj) == count);
      return fired;
    });
  };
  const std::string long_capture(100, 'x'); // a callback too big for any small-buffer storage
  // A plain reference or proxy may take its node from the thread's node pool without
  // allocating (then there is no failure point to try); the callback forms always allocate.
  attempt([&] { weakref::weak_ref<tracked> r(obj); });
  BOOST_TEST(attempt([&] {
               kept.emplace_back(obj,
                                 [&calls, long_capture](weakref::weak_ref<tracked>) { ++calls; });
               kept.pop_back(); // made: dropped again, so the count check stays meaningful
             }) >= 1);
  attempt([&] { weakref::weak_proxy<tracked> p(obj); });
  BOOST_TEST(attempt([&] {
               weakref::weak_ref<tracked> r(
                   obj, std::function<void(weakref::weak_ref<tracked>)>(
                            [&calls, long_capture](weakref::weak_ref<tracked>) { ++calls; }));
             }) >= 1);
  obj.reset();
  BOOST_TEST(calls == 0); // no half-made reference calls back
  BOOST_TEST(kept.front().expired());
}

// weak_refs() builds a vector, and converting a handle to a base's makes a view of the same
// reference: when an allocation fails, std::bad_alloc propagates and nothing changes (no handle
// is left behind, no reference is registered, the source handle is intact).
// Checks [weakref.introspection]/4; [weakref.ref.conv]/4.
BOOST_AUTO_TEST_CASE(weak_refs_and_conversions_report_allocation_failure) {
  struct base_t {
    virtual ~base_t() = default;
  };
  struct derived_t : base_t {};
  auto obj = weakref::make_shared<derived_t>();
  const weakref::weak_ref<derived_t> r1(obj), r2(obj);
  const weakref::weak_proxy<derived_t> p(obj);
  const auto unchanged = [&] {
    BOOST_TEST(weakref::weak_ref_count(obj) == 3u);
    BOOST_TEST(r1.lock() == obj);
    BOOST_TEST(weakref::weak_refs(obj).size() == 3u); // no stray handle keeps a node
  };
  BOOST_TEST(for_each_failure_point([&](long k) {
               const bool fired = run_failing_at(k, [&] { (void)weakref::weak_refs(obj); });
               unchanged();
               return fired;
             }) >= 1);
  const long conversion_points = for_each_failure_point([&](long k) {
    const bool fired = run_failing_at(k, [&] {
      const weakref::weak_ref<base_t> b = r1;
      BOOST_TEST(b.identical(r1));
    });
    unchanged();
    return fired;
  });
  BOOST_TEST_MESSAGE("a conversion made " << conversion_points << " allocations");
}
#endif

// [weakref.containers.general]/28 Single-element insertions have no effect when they throw,
// including when the insertion has to grow the bucket array, and when weak_value_map's
// insert_or_assign replaces an element. Keys are strings that allocate (through the
// container's allocator, by uses-allocator construction).
BOOST_AUTO_TEST_CASE(value_map_single_insertions_are_strong) {
  ledger book;
  auto objs = objects(12);
  const pmr_string::allocator_type sa(&book);
  // (int) keys: a table with 8 elements, so that the 9th insertion rehashes.
  auto strong = [&](auto op) {
    return for_each_failure_point([&](long k) {
      value_map<int, tracked> m{
          failing_allocator<std::pair<const int, std::shared_ptr<tracked>>>(&book)};
      for (int i = 0; i < 8; ++i) m.insert_or_assign(i, objs[static_cast<std::size_t>(i)]);
      const auto before = contents_of_value_map(m);
      const std::size_t count = weakref::weak_ref_count(objs[9]);
      const bool fired = run_failing_at(k, [&] { op(m); });
      if (fired) {
        BOOST_TEST((contents_of_value_map(m) == before));
        BOOST_TEST(m.size() == before.size());
        BOOST_TEST(weakref::weak_ref_count(objs[9]) == count);
      }
      return fired;
    });
  };
  BOOST_TEST(strong([&](auto& m) { m.try_emplace(100, objs[9]); }) >= 1);
  BOOST_TEST(strong([&](auto& m) { m.insert_or_assign(100, objs[9]); }) >= 1);
  BOOST_TEST(strong([&](auto& m) { m.insert_or_assign(3, objs[9]); }) >= 1); // replacing
  BOOST_TEST(strong([&](auto& m) { m.insert({100, objs[9]}); }) >= 1);
  BOOST_TEST(strong([&](auto& m) { m[100] = objs[9]; }) >= 1);
  BOOST_TEST(strong([&](auto& m) { m[5] = objs[9]; }) >= 1);
  BOOST_TEST(strong([&](auto& m) { m.setdefault(100, objs[9]); }) >= 1);

  // Allocating keys.
  for_each_failure_point([&](long k) {
    value_map<pmr_string, tracked> m{
        failing_allocator<std::pair<const pmr_string, std::shared_ptr<tracked>>>(&book)};
    m.try_emplace(pmr_string("a key long enough to allocate its characters", sa), objs[0]);
    const bool fired = run_failing_at(k, [&] {
      m.try_emplace(pmr_string("another key long enough to allocate its characters", sa), objs[1]);
    });
    if (fired) {
      BOOST_TEST(m.size() == 1u);
      BOOST_TEST(m.contains(pmr_string("a key long enough to allocate its characters", sa)));
    }
    return fired;
  });
  BOOST_TEST(book.live_bytes == 0);
}

// Checks [weakref.containers.general]/28; [weakref.key.map.modifiers]/3 and /8;
// [weakref.set.modifiers]/3.
BOOST_AUTO_TEST_CASE(key_map_and_set_single_insertions_are_strong) {
  ledger book;
  auto objs = objects(12);
  const pmr_string::allocator_type sa(&book);
  using km_type = key_map<tracked, pmr_string>;
  using km_alloc = km_type::allocator_type;
  auto strong_km = [&](auto op) {
    return for_each_failure_point([&](long k) {
      km_type m{km_alloc(&book)};
      for (int i = 0; i < 8; ++i)
        m.try_emplace(objs[static_cast<std::size_t>(i)],
                      "a value long enough to allocate its characters");
      std::vector<std::pair<const tracked*, std::string>> before;
      for (const auto& [key, value] : m) before.emplace_back(key.get(), std::string(value));
      std::ranges::sort(before);
      const bool fired = run_failing_at(k, [&] { op(m); });
      if (fired) {
        std::vector<std::pair<const tracked*, std::string>> after;
        for (const auto& [key, value] : m) after.emplace_back(key.get(), std::string(value));
        std::ranges::sort(after);
        BOOST_TEST((after == before));
        BOOST_TEST(m.size() == before.size());
        BOOST_TEST(!m.contains(*objs[9]));
      }
      return fired;
    });
  };
  BOOST_TEST(strong_km([&](km_type& m) {
               m.try_emplace(objs[9], "another value long enough to allocate its characters");
             }) >= 1);
  BOOST_TEST(strong_km([&](km_type& m) {
               m.insert_or_assign(objs[9], pmr_string("another value long enough to allocate", sa));
             }) >= 1);
  BOOST_TEST(strong_km([&](km_type& m) { m[objs[9]]; }) >= 1);
  BOOST_TEST(strong_km([&](km_type& m) {
               m.setdefault(objs[9],
                            pmr_string("a default long enough to allocate its characters", sa));
             }) >= 1);

  auto strong_set = [&](auto op) {
    return for_each_failure_point([&](long k) {
      set<tracked> s{failing_allocator<std::shared_ptr<tracked>>(&book)};
      for (int i = 0; i < 8; ++i) s.add(objs[static_cast<std::size_t>(i)]);
      const std::size_t count = weakref::weak_ref_count(objs[9]);
      const bool fired = run_failing_at(k, [&] { op(s); });
      if (fired) {
        BOOST_TEST(s.size() == 8u);
        BOOST_TEST(static_cast<std::size_t>(std::ranges::distance(s)) == 8u);
        BOOST_TEST(!s.contains(objs[9]));
        BOOST_TEST(weakref::weak_ref_count(objs[9]) == count);
      }
      return fired;
    });
  };
  BOOST_TEST(strong_set([&](auto& s) { s.add(objs[9]); }) >= 1);
  BOOST_TEST(strong_set([&](auto& s) { s.insert(objs[9]); }) >= 1);
  BOOST_TEST(strong_set([&](auto& s) { s.emplace(objs[9]); }) >= 1);
  BOOST_TEST(book.live_bytes == 0);
}

// Moving between unequal allocators that do not propagate moves element by element, which
// allocates: a failure throws std::bad_alloc; the assigned map is valid and holds only live
// elements of the source, the source keeps all its elements, and every byte comes back.
// Checks [weakref.value.map.cons]/13.
BOOST_AUTO_TEST_CASE(element_by_element_move_is_basic) {
  ledger book_a, book_b;
  auto objs = objects(10);
  using vm_type = value_map<int, tracked>;
  const vm_type::allocator_type from_alloc(&book_a), to_alloc(&book_b);
  const auto moved = [&](auto move) {
    return for_each_failure_point([&](long k) {
      vm_type from(from_alloc);
      for (int i = 0; i < 8; ++i) from.insert_or_assign(i, objs[static_cast<std::size_t>(i)]);
      const bool fired = run_failing_at(k, [&] { move(from); });
      if (fired) {
        BOOST_TEST(from.size() == 8u);
        for (int i = 0; i < 8; ++i) BOOST_TEST(from.get(i) == objs[static_cast<std::size_t>(i)]);
      }
      return fired;
    });
  };
  BOOST_TEST(moved([&](vm_type& from) {
               vm_type to(to_alloc);
               to.insert_or_assign(9, objs[9]);
               try {
                 to = std::move(from);
               } catch (const std::bad_alloc&) {
                 std::size_t n = 0;
                 for (const auto& [key, value] : to) {
                   BOOST_TEST(
                       (key >= 0 && key < 8 && value == objs[static_cast<std::size_t>(key)]));
                   ++n;
                 }
                 BOOST_TEST(n == to.size());
                 throw;
               }
             }) >= 1);
  BOOST_TEST(moved([&](vm_type& from) { vm_type to(std::move(from), to_alloc); }) >= 1);
  BOOST_TEST(book_a.live_bytes == 0);
  BOOST_TEST(book_b.live_bytes == 0);
}

// Basic guarantee for everything else: after a failure the container is valid (size() agrees
// with iteration), holds only live elements it had or was given, is still usable, and frees
// everything when it goes.
// Checks [weakref.containers.general]/28; [weakref.set.algebra]/6 and /9;
// [weakref.value.map.cons]/10; [weakref.value.map.python]/18; [weakref.containers.bucket]/10.
BOOST_AUTO_TEST_CASE(other_operations_are_basic) {
  ledger book;
  auto objs = objects(24);
  using s_type = set<tracked>;
  const s_type::allocator_type a(&book);
  std::set<const tracked*> universe;
  for (const auto& o : objs) universe.insert(o.get());

  auto valid = [&](const s_type& s) {
    std::size_t n = 0;
    for (const auto& x : s) {
      BOOST_TEST(universe.contains(x.get()));
      ++n;
    }
    BOOST_TEST(n == s.size());
  };
  auto basic = [&](auto op) {
    return for_each_failure_point([&](long k) {
      s_type s(a), t(a);
      for (int i = 0; i < 12; ++i) s.add(objs[static_cast<std::size_t>(i)]);
      for (int i = 6; i < 20; ++i) t.add(objs[static_cast<std::size_t>(i)]);
      const bool fired = run_failing_at(k, [&] { op(s, t); });
      if (fired) {
        valid(s);
        valid(t);
        s.add(objs[23]); // still usable
        BOOST_TEST(s.contains(objs[23]));
      }
      return fired;
    });
  };
  BOOST_TEST(basic([](s_type& s, s_type&) { s_type copy(s); }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type& t) { s = t; }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type& t) { s |= t; }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type& t) { s &= t; }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type& t) { s -= t; }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type& t) { s ^= t; }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type& t) { (void)(s | t); }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type& t) { (void)(s & t); }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type& t) { (void)(s ^ t); }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type& t) { (void)(s == t); }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type&) { s.reserve(1000); }) >= 1);
  BOOST_TEST(basic([](s_type& s, s_type&) { s.rehash(1000); }) >= 1);

  using vm_type = value_map<int, tracked>;
  const vm_type::allocator_type va(&book);
  auto basic_vm = [&](auto op) {
    return for_each_failure_point([&](long k) {
      vm_type m(va);
      for (int i = 0; i < 12; ++i) m.insert_or_assign(i, objs[static_cast<std::size_t>(i)]);
      const bool fired = run_failing_at(k, [&] { op(m); });
      if (fired) {
        std::size_t n = 0;
        for (const auto& [key, value] : m) {
          BOOST_TEST((key >= 0 && key < 24 && value == objs[static_cast<std::size_t>(key)]));
          ++n;
        }
        BOOST_TEST(n == m.size());
      }
      return fired;
    });
  };
  BOOST_TEST(basic_vm([](vm_type& m) { vm_type copy(m); }) >= 1);
  BOOST_TEST(basic_vm([&](vm_type& m) {
               std::vector<std::pair<const int, std::shared_ptr<tracked>>> more;
               for (int i = 12; i < 24; ++i)
                 more.emplace_back(i, objs[static_cast<std::size_t>(i)]);
               m.update(more);
             }) >= 1);
#ifndef WEAKREF_TEST_GLOBAL_NEW_FIXED
  BOOST_TEST(basic_vm([](vm_type& m) { (void)m.valuerefs(); }) >= 1); // a std::vector: global new
#endif
  BOOST_TEST(book.live_bytes == 0);
  BOOST_TEST_MESSAGE("allocation failure: " << points_tried << " failure points tried");
}

#ifndef WEAKREF_TEST_GLOBAL_NEW_FIXED
// [weakref.containers.general]/15 With std::allocator, the memory of an entry the container
// erased or purged serves its next insertion (no operator new, no operator delete), while the
// container is not empty; the erasure that empties it gives every such memory back. (With the
// allocator of a user, every entry's storage goes back when the entry goes: the tests of
// value_map/cpp_api count it, e.g. non_const_at_purges.)
BOOST_AUTO_TEST_CASE(a_freed_entrys_memory_serves_the_next_insertion_until_the_table_empties) {
  std::vector<std::shared_ptr<tracked>> objs;
  for (int i = 0; i < 4; ++i) objs.push_back(weakref::make_shared<tracked>(i));
  weakref::weak_value_map<int, tracked> m;
  m.reserve(16); // no bucket allocation below
  for (int i = 0; i < 3; ++i) m.insert_or_assign(i, objs[static_cast<std::size_t>(i)]);
  BOOST_TEST(m.erase(0) == 1u);
  const auto allocations = [] { return injector::news; };
  long before = allocations();
  m.insert_or_assign(3, objs[3]); // into the erased entry's memory
  BOOST_TEST(allocations() == before);
  before = allocations();
  m.insert_or_assign(0, objs[0]); // no memory left over: the allocator's
  BOOST_TEST(allocations() == before + 1);

  { // A purged entry's memory too.
    auto dying = weakref::make_shared<tracked>(9);
    m.insert_or_assign(9, dying);
  }
  m.purge();
  before = allocations();
  m.insert_or_assign(10, objs[1]);
  BOOST_TEST(allocations() == before);

  // Emptied one element at a time: the last erasure gives back its entry and the four kept.
  BOOST_TEST(m.erase(0) == 1u);
  BOOST_TEST(m.erase(1) == 1u);
  BOOST_TEST(m.erase(2) == 1u);
  BOOST_TEST(m.erase(3) == 1u);
  const long deletes_before = injector::deletes;
  BOOST_TEST(m.erase(10) == 1u);
  BOOST_TEST(m.empty());
  BOOST_TEST(injector::deletes == deletes_before + 1 + 4);

  // At most 64 are kept: of 70 erasures that leave the table non-empty, 6 give memory back.
  for (int i = 0; i < 71; ++i) m.insert_or_assign(100 + i, objs[0]);
  long deletes = injector::deletes;
  for (int i = 0; i < 70; ++i) BOOST_TEST(m.erase(100 + i) == 1u);
  BOOST_TEST(injector::deletes == deletes + 6);
  deletes = injector::deletes;
  BOOST_TEST(m.erase(170) == 1u);
  BOOST_TEST(injector::deletes == deletes + 1 + 64);
}
#endif

BOOST_AUTO_TEST_SUITE_END()
