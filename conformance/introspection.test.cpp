// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Conformance: getweakrefcount and getweakrefs of the Python weakref documentation.
// Convention: each test is named PY_<AREA>_<n>_<what> after the rule of rules.json it checks,
// and uses the implementation under test only through the alias `wr`.
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

namespace {

struct base {
  virtual ~base() = default;
  int b = 1;
};
struct derived : base {
  int d = 2;
};

} // namespace

BOOST_AUTO_TEST_SUITE(introspection)

// PY-COUNT-1: "weak_ref_count(obj) is the number of distinct weak references and proxies to obj
// (copies count once; 0 if obj is not weakly referenceable)"
// Checks [weakref.introspection]/1; [weakref.ref.general]/3.
BOOST_AUTO_TEST_CASE(PY_COUNT_1_counts_distinct_refs_and_proxies) {
  auto obj = wr::make_shared<int>(1);
  BOOST_TEST(wr::weak_ref_count(obj) == 0u);
  wr::weak_ref<int> r1(obj);
  BOOST_TEST(wr::weak_ref_count(obj) == 1u);
  wr::weak_proxy<int> p1(obj);
  BOOST_TEST(wr::weak_ref_count(obj) == 2u);
  std::optional<wr::weak_ref<int>> r2(std::in_place, obj, [](wr::weak_ref<int>) {});
  wr::weak_proxy<int> p2(obj, [](wr::weak_proxy<int>) {});
  BOOST_TEST(wr::weak_ref_count(obj) == 4u);
  // Copies are the same reference: counted once.
  const wr::weak_ref<int> r1_copy = r1;
  const wr::weak_proxy<int> p1_copy = p1;
  std::vector<wr::weak_ref<int>> many_copies(10, r1);
  BOOST_TEST(wr::weak_ref_count(obj) == 4u);
  // Owners and std::weak_ptr are not weak references of this library.
  const std::shared_ptr<int> owner = obj;
  const std::weak_ptr<int> std_weak = obj;
  BOOST_TEST(wr::weak_ref_count(obj) == 4u);
  BOOST_TEST(wr::weak_ref_count(owner) == 4u); // asked through any owner
  // A reference is counted until its last handle goes.
  std::optional<wr::weak_ref<int>> r2_copy(*r2);
  r2.reset();
  BOOST_TEST(wr::weak_ref_count(obj) == 4u);
  r2_copy.reset();
  BOOST_TEST(wr::weak_ref_count(obj) == 3u);
  // Through a base-class owner, references of every element type are counted.
  auto d = wr::make_shared<derived>();
  const std::shared_ptr<base> as_base = d;
  wr::weak_ref<derived> rd(d);
  wr::weak_proxy<base> pb(as_base);
  BOOST_TEST(wr::weak_ref_count(d) == 2u);
  BOOST_TEST(wr::weak_ref_count(as_base) == 2u);
  // 0 for objects that are not weakly referenceable.
  const auto std_obj = std::make_shared<int>(1);
  const std::weak_ptr<int> std_obj_weak = std_obj;
  BOOST_TEST(wr::weak_ref_count(std_obj) == 0u);
  BOOST_TEST(wr::weak_ref_count(std::shared_ptr<int>(new int(2))) == 0u);
  BOOST_TEST(wr::weak_ref_count(std::shared_ptr<int>()) == 0u);
  static_assert(std::is_same_v<decltype(wr::weak_ref_count(obj)), std::size_t>);
}

// PY-REFS-1: "weak_refs(obj) lists handles to the existing weak references and proxies to obj,
// newest first, never new ones"
// Checks [weakref.introspection]/3.
BOOST_AUTO_TEST_CASE(PY_REFS_1_lists_existing_refs_and_proxies_newest_first) {
  auto obj = wr::make_shared<int>(5);
  static_assert(std::is_same_v<decltype(wr::weak_refs(obj)),
                               std::vector<std::variant<wr::weak_ref<int>, wr::weak_proxy<int>>>>);
  BOOST_TEST(wr::weak_refs(obj).empty());
  wr::weak_ref<int> r1(obj);
  wr::weak_proxy<int> p1(obj);
  wr::weak_ref<int> r2(obj, [](wr::weak_ref<int>) {});
  wr::weak_proxy<int> p2(obj, [](wr::weak_proxy<int>) {});
  const wr::weak_ref<int> r1_copy = r1; // copies are listed once
  {
    wr::weak_ref<int> destroyed(obj); // gone: not listed
  }
  const auto list = wr::weak_refs(obj);
  BOOST_REQUIRE(list.size() == 4u);
  // Newest first, each of its kind, each the existing reference (identical), not a new one.
  BOOST_REQUIRE(list[0].index() == 1u);
  BOOST_REQUIRE(list[1].index() == 0u);
  BOOST_REQUIRE(list[2].index() == 1u);
  BOOST_REQUIRE(list[3].index() == 0u);
  BOOST_TEST(std::get<1>(list[0]).identical(p2));
  BOOST_TEST(std::get<0>(list[1]).identical(r2));
  BOOST_TEST(std::get<1>(list[2]).identical(p1));
  BOOST_TEST(std::get<0>(list[3]).identical(r1));
  BOOST_TEST(wr::weak_ref_count(obj) == 4u); // listing made no new reference
  BOOST_TEST(wr::weak_refs(obj).size() == 4u);
  // The listed handles are the references: they work, and are cleared with the referent.
  BOOST_TEST(std::get<0>(list[3])().get() == obj.get());
  BOOST_TEST(*std::get<1>(list[0]).pin() == 5);
  obj.reset();
  BOOST_TEST(std::get<0>(list[3]).expired());
  BOOST_TEST(std::get<1>(list[2]).expired());
  // None for objects that are not weakly referenceable.
  BOOST_TEST(wr::weak_refs(std::make_shared<int>(1)).empty());
  BOOST_TEST(wr::weak_refs(std::shared_ptr<int>()).empty());
}

// PY-REFS-1 with PY-COUNT-1: every reference to the object is listed, whatever its element type
// (a weak_ref<Base> to a Derived object, a proxy), so the list has weak_ref_count elements, as
// CPython's tests assume; each is the existing reference seen as one to the object.
// Checks [weakref.introspection]/3.
BOOST_AUTO_TEST_CASE(PY_REFS_1_lists_every_reference_whatever_its_type) {
  auto d = wr::make_shared<derived>();
  const std::shared_ptr<base> b = d;
  wr::weak_ref<derived> rd(d);
  wr::weak_ref<base> rb(b);
  wr::weak_proxy<base> pb(b);
  BOOST_TEST(wr::weak_ref_count(d) == 3u);
  const auto of_derived = wr::weak_refs(d);
  BOOST_REQUIRE(of_derived.size() == wr::weak_ref_count(d));
  BOOST_REQUIRE(of_derived[0].index() == 1u);
  BOOST_REQUIRE(of_derived[1].index() == 0u);
  BOOST_REQUIRE(of_derived[2].index() == 0u);
  BOOST_TEST(std::get<1>(of_derived[0]).identical(pb));
  BOOST_TEST(std::get<0>(of_derived[1]).identical(rb));
  BOOST_TEST(std::get<0>(of_derived[2]).identical(rd));
  BOOST_TEST(std::get<0>(of_derived[1])().get() == d.get());
  const auto of_base = wr::weak_refs(b);
  BOOST_REQUIRE(of_base.size() == 3u);
  BOOST_TEST(std::get<0>(of_base[2]).identical(rd));
  BOOST_TEST(std::get<0>(of_base[1])().get() == b.get());
  BOOST_TEST(wr::weak_ref_count(d) == 3u); // listing made no new reference
}

BOOST_AUTO_TEST_SUITE_END()
