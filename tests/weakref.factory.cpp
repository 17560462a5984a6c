// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"
import weakref;

using weakref_test::allocation_stats;
using weakref_test::counting_allocator;
using weakref_test::tracked;

namespace {

struct throws_on_construction {
  static inline int attempts = 0;
  explicit throws_on_construction(bool fail) {
    ++attempts;
    if (fail) throw std::runtime_error("constructor failed");
  }
};

struct alignas(64) over_aligned {
  unsigned char bytes[64]{};
};

struct self_aware : std::enable_shared_from_this<self_aware> {
  int value = 7;
};

// Uses-allocator construction: a pmr-aware type receives the pmr allocator.
struct pmr_aware {
  using allocator_type = std::pmr::polymorphic_allocator<>;
  std::pmr::string text;
  explicit pmr_aware(const char* s, const allocator_type& a = {}) : text(s, a) {}
  pmr_aware(std::allocator_arg_t, const allocator_type& a, const char* s) : text(s, a) {}
};

} // namespace

BOOST_AUTO_TEST_SUITE(factory)

// [weakref.factory]/8: make_shared forwards its arguments and returns an owner.
BOOST_AUTO_TEST_CASE(make_shared_constructs_and_destroys_once) {
  {
    std::shared_ptr<tracked> p = weakref::make_shared<tracked>(42);
    BOOST_TEST(p->value == 42);
    BOOST_TEST(tracked::alive == 1);
    BOOST_TEST(p.use_count() == 1);
  }
  BOOST_TEST(tracked::alive == 0);
}

// PY-INTRO-5 "Not all objects can be weakly referenced": factory objects can.
// Checks [weakref.factory]/4 and /8.
BOOST_AUTO_TEST_CASE(factory_object_is_weakly_referenceable) {
  auto p = weakref::make_shared<tracked>(1);
  weakref::weak_ref<tracked> r(p);
  BOOST_TEST(r().get() == p.get());
}

// PY-INTRO-5: an object from std::make_shared cannot be weakly referenced; the type error names
// the fix.
// Checks [weakref.ref.cons]/4; [weakref.error.type]/1.
BOOST_AUTO_TEST_CASE(std_make_shared_object_is_rejected_with_type_error) {
  auto p = std::make_shared<tracked>(1);
  try {
    weakref::weak_ref<tracked> r(p);
    BOOST_FAIL("weak_ref accepted a std::make_shared object");
  } catch (const weakref::type_error& e) {
    BOOST_TEST(std::string(e.what()).find("weakref::make_shared") != std::string::npos);
  }
  BOOST_CHECK_THROW(weakref::weak_ref<tracked>(std::shared_ptr<tracked>()), weakref::type_error);
  BOOST_CHECK_THROW(weakref::weak_ref<tracked>(std::shared_ptr<tracked>(new tracked(3))),
                    weakref::type_error);
}

// [weakref.factory]/3: one allocation, like std::allocate_shared, freed exactly once.
BOOST_AUTO_TEST_CASE(allocate_shared_uses_one_allocation_of_the_given_allocator) {
  allocation_stats stats;
  {
    auto p = weakref::allocate_shared<tracked>(counting_allocator<tracked>(&stats), 5);
    BOOST_TEST(stats.allocations == 1u);
    BOOST_TEST(p->value == 5);
    weakref::weak_ref<tracked> r(p);
    p.reset();
    // The object is gone but the ref still holds the control block: the chunk stays.
    BOOST_TEST(tracked::alive == 0);
    BOOST_TEST(stats.deallocations == 0u);
  }
  BOOST_TEST(stats.deallocations == 1u);
  BOOST_TEST(stats.live_bytes == 0u);
}

// [weakref.factory]/7 Recommended practice: the one allocation is the object, the control block
// and the weak list's header; what the header and the control block's deleter and allocator add
// over std::allocate_shared's block is at most 48 bytes (issue 18's target) on the 64-bit
// targets whose sizes the library checks. Fails if the header or the control block's
// allocator grows by a pointer, or if the chunk is rounded to 16-byte units again.
BOOST_AUTO_TEST_CASE(a_referents_allocation_is_at_most_48_bytes_over_std_allocate_shared) {
  if constexpr (sizeof(void*) == 8 && sizeof(std::weak_ptr<int>) == 16) {
    allocation_stats ours;
    allocation_stats baseline;
    const auto a = weakref::allocate_shared<int>(counting_allocator<int>(&ours), 1);
    const auto b = std::allocate_shared<int>(counting_allocator<int>(&baseline), 1);
    BOOST_TEST(ours.allocations == 1u);
    BOOST_TEST(baseline.allocations == 1u);
    BOOST_TEST(ours.live_bytes <= baseline.live_bytes + 48u,
               "weakref::allocate_shared<int> takes " << ours.live_bytes
                                                      << " bytes, std::allocate_shared<int> "
                                                      << baseline.live_bytes);
  }
}

// [weakref.factory]/3 Effects: construction through the allocator (uses-allocator construction
// for pmr), memory from the resource.
BOOST_AUTO_TEST_CASE(allocate_shared_with_pmr_resource) {
  std::byte buffer[4096];
  std::pmr::monotonic_buffer_resource resource(buffer, sizeof buffer,
                                               std::pmr::null_memory_resource());
  std::pmr::polymorphic_allocator<pmr_aware> alloc(&resource);
  auto p = weakref::allocate_shared<pmr_aware>(alloc, "a string long enough to allocate memory");
  auto* where = reinterpret_cast<std::byte*>(p.get());
  BOOST_TEST((where >= buffer && where < buffer + sizeof buffer));
  BOOST_TEST((p->text.get_allocator().resource() == &resource));
  weakref::weak_ref<pmr_aware> r(p);
  BOOST_TEST(weakref::weak_ref_count(p) == 1u);
}

// [weakref.factory]/5 Throws: a throwing constructor leaks nothing.
BOOST_AUTO_TEST_CASE(throwing_constructor_releases_the_allocation) {
  allocation_stats stats;
  BOOST_CHECK_THROW(weakref::allocate_shared<throws_on_construction>(
                        counting_allocator<throws_on_construction>(&stats), true),
                    std::runtime_error);
  BOOST_TEST(stats.allocations == 1u);
  BOOST_TEST(stats.deallocations == 1u);
  BOOST_TEST(stats.live_bytes == 0u);
}

// [weakref.factory]/3: alignment of T is honoured.
BOOST_AUTO_TEST_CASE(over_aligned_type_is_aligned) {
  std::vector<std::shared_ptr<over_aligned>> owners;
  for (int i = 0; i < 16; ++i) {
    owners.push_back(weakref::make_shared<over_aligned>());
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(owners.back().get()) % 64 == 0u);
  }
}

// [weakref.factory]/9: enable_shared_from_this works on factory objects and the result is
// weakly referenceable too.
BOOST_AUTO_TEST_CASE(enable_shared_from_this_still_works) {
  auto p = weakref::make_shared<self_aware>();
  std::shared_ptr<self_aware> again = p->shared_from_this();
  BOOST_TEST(again.get() == p.get());
  BOOST_TEST(p.use_count() == 2);
  weakref::weak_ref<self_aware> r(again);
  BOOST_TEST(weakref::weak_ref_count(p) == 1u);
  p.reset();
  again.reset();
  BOOST_TEST(r.expired());
}

// [weakref.factory]/10: shared_ptrs converted to a base or aliasing a member find the same
// weak list: the referent is the owned object.
BOOST_AUTO_TEST_CASE(converted_and_aliased_owners_are_weakly_referenceable) {
  struct base {
    virtual ~base() = default;
    int b = 1;
  };
  struct derived : base {
    int d = 2;
  };
  auto p = weakref::make_shared<derived>();
  std::shared_ptr<base> as_base = p;
  std::shared_ptr<int> member(p, &p->d);
  weakref::weak_ref<base> rb(as_base);
  weakref::weak_ref<int> rm(member);
  BOOST_TEST(weakref::weak_ref_count(p) == 2u);
  BOOST_TEST(*rm() == 2);
  as_base.reset();
  member.reset();
  p.reset();
  BOOST_TEST(rb.expired());
  BOOST_TEST(rm.expired());
}

// PY-INTRO-6 "Several built-in types such as list and dict do not directly support weak
// references but can add support through subclassing". Adapted: in C++ no subclass is needed;
// any object type made by the factory is weakly referenceable, standard types and scalars
// included (Python's Dict(dict) example becomes make_shared<std::map<...>>).
// Checks [weakref.factory]/4 and /8.
BOOST_AUTO_TEST_CASE(standard_types_and_scalars_are_weakly_referenceable) {
  auto dict = weakref::make_shared<std::map<std::string, int>>(
      std::map<std::string, int>{{"red", 1}, {"green", 2}, {"blue", 3}});
  auto list = weakref::make_shared<std::vector<int>>(3, 7);
  auto number = weakref::make_shared<long>(42L);
  weakref::weak_ref<std::map<std::string, int>> rd(dict);
  weakref::weak_ref<std::vector<int>> rl(list);
  weakref::weak_ref<long> rn(number);
  BOOST_TEST(rd()->at("green") == 2);
  BOOST_TEST(rl()->size() == 3u);
  BOOST_TEST(*rn() == 42L);
  dict.reset();
  list.reset();
  number.reset();
  BOOST_TEST((rd.expired() && rl.expired() && rn.expired()));
}

// [weakref.factory]/3: const element types.
BOOST_AUTO_TEST_CASE(const_element_type) {
  std::shared_ptr<const tracked> p = weakref::make_shared<const tracked>(9);
  weakref::weak_ref<const tracked> r(p);
  BOOST_TEST(r()->value == 9);
  p.reset();
  BOOST_TEST(tracked::alive == 0);
}

BOOST_AUTO_TEST_SUITE_END()
