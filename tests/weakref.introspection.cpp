// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#include <boost/test/unit_test.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "support.hpp"
import weakref;

using weakref::weak_proxy;
using weakref::weak_ref;
using weakref::weak_ref_count;
using weakref::weak_refs;
using weakref_test::tracked;

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

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(count)

// PY-COUNT-1 getweakrefcount "Return the number of weak references and proxies which refer to object"
// Checks [weakref.introspection]/1.
BOOST_AUTO_TEST_CASE(fresh_object_has_zero) {
  auto obj = weakref::make_shared<tracked>(1);
  BOOST_TEST(weak_ref_count(obj) == 0u);
}

// PY-COUNT-1 "the number of weak references and proxies": both kinds are counted
// Checks [weakref.introspection]/1.
BOOST_AUTO_TEST_CASE(counts_refs_and_proxies) {
  auto obj = weakref::make_shared<tracked>(1);
  weak_ref<tracked> r1(obj);
  BOOST_TEST(weak_ref_count(obj) == 1u);
  weak_proxy<tracked> p1(obj);
  BOOST_TEST(weak_ref_count(obj) == 2u);
  weak_ref<tracked> r2(obj);
  weak_proxy<tracked> p2(obj);
  BOOST_TEST(weak_ref_count(obj) == 4u);
}

// [weakref.introspection]/1 "Each reference counts once however many handles (copies) it has"
BOOST_AUTO_TEST_CASE(copies_of_a_ref_count_once) {
  auto obj = weakref::make_shared<tracked>(1);
  weak_ref<tracked> r(obj);
  weak_ref<tracked> copy1(r);
  weak_ref<tracked> copy2;
  copy2 = r;
  weak_proxy<tracked> p(obj);
  weak_proxy<tracked> pcopy(p);
  BOOST_TEST(weak_ref_count(obj) == 2u);
  weak_ref<tracked> moved(std::move(copy1));
  BOOST_TEST(weak_ref_count(obj) == 2u);
}

// [weakref.ref.cons]/14 the reference is unregistered when its last handle goes, not before
BOOST_AUTO_TEST_CASE(drops_when_last_handle_is_destroyed) {
  auto obj = weakref::make_shared<tracked>(1);
  std::optional<weak_ref<tracked>> r(std::in_place, obj);
  std::optional<weak_ref<tracked>> copy(std::in_place, *r);
  weak_proxy<tracked> p(obj);
  BOOST_TEST(weak_ref_count(obj) == 2u);
  r.reset();
  BOOST_TEST(weak_ref_count(obj) == 2u); // the copy is still a handle to the reference
  copy.reset();
  BOOST_TEST(weak_ref_count(obj) == 1u);
  p = weak_proxy<tracked>();
  BOOST_TEST(weak_ref_count(obj) == 0u);
}

// PY-COUNT-1 refs with callbacks are weak references too
// Checks [weakref.introspection]/1.
BOOST_AUTO_TEST_CASE(counts_refs_with_callbacks) {
  auto obj = weakref::make_shared<tracked>(1);
  int calls = 0;
  weak_ref<tracked> r(obj, [&](weak_ref<tracked>) { ++calls; });
  weak_proxy<tracked> p(obj, [&](weak_proxy<tracked>) { ++calls; });
  weak_ref<tracked> plain(obj);
  BOOST_TEST(weak_ref_count(obj) == 3u);
  obj.reset();
  BOOST_TEST(calls == 2);
}

// [weakref.introspection]/1 "Returns 0 for an object that is not weakly referenceable, as Python does"
BOOST_AUTO_TEST_CASE(zero_for_std_make_shared_and_empty) {
  auto std_obj = std::make_shared<tracked>(1);
  BOOST_TEST(weak_ref_count(std_obj) == 0u);
  std::weak_ptr<tracked> w(std_obj); // std::weak_ptr is not a weakref reference
  BOOST_TEST(weak_ref_count(std_obj) == 0u);
  BOOST_TEST(weak_ref_count(std::shared_ptr<tracked>()) == 0u);
  BOOST_TEST(weak_ref_count(std::shared_ptr<int>(new int(3))) == 0u);
}

// [weakref.introspection]/1 count is of references, not of owners: shared_ptr copies do not count
BOOST_AUTO_TEST_CASE(owners_are_not_counted) {
  auto obj = weakref::make_shared<tracked>(1);
  weak_proxy<tracked> p(obj);
  auto owner = obj;
  std::weak_ptr<tracked> w(obj);
  BOOST_TEST(weak_ref_count(obj) == 1u);
  BOOST_TEST(weak_ref_count(owner) == 1u); // any owner of the object sees the same count
}

// [weakref.introspection]/1 weak_ref_count is noexcept
BOOST_AUTO_TEST_CASE(count_is_noexcept) {
  static_assert(noexcept(weak_ref_count(std::declval<const std::shared_ptr<int>&>())));
  static_assert(
      std::is_same_v<decltype(weak_ref_count(std::declval<const std::shared_ptr<int>&>())),
                     std::size_t>);
  auto obj = weakref::make_shared<int>(0);
  BOOST_TEST(weak_ref_count(obj) == 0u);
}

BOOST_AUTO_TEST_SUITE_END() // count

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(refs)

// PY-REFS-1 getweakrefs "Return a list of all weak reference and proxy objects which refer to object"
// Checks [weakref.introspection]/3.
BOOST_AUTO_TEST_CASE(result_type_is_vector_of_ref_or_proxy) {
  auto obj = weakref::make_shared<tracked>(1);
  static_assert(std::is_same_v<decltype(weak_refs(obj)),
                               std::vector<std::variant<weak_ref<tracked>, weak_proxy<tracked>>>>);
  BOOST_TEST(weak_refs(obj).empty());
}

// [weakref.introspection]/3 "newest first"; each element "identical() to it"; kinds: index 0 ref,
// 1 proxy
BOOST_AUTO_TEST_CASE(lists_newest_first_with_identity_and_kind) {
  auto obj = weakref::make_shared<tracked>(1);
  weak_ref<tracked> r1(obj);
  weak_proxy<tracked> p1(obj);
  weak_ref<tracked> r2(obj, [](weak_ref<tracked>) {});
  weak_proxy<tracked> p2(obj, [](weak_proxy<tracked>) {});
  const auto list = weak_refs(obj);
  BOOST_REQUIRE(list.size() == 4u);
  BOOST_TEST(list[0].index() == 1u);
  BOOST_TEST(list[1].index() == 0u);
  BOOST_TEST(list[2].index() == 1u);
  BOOST_TEST(list[3].index() == 0u);
  BOOST_TEST(std::get<1>(list[0]).identical(p2));
  BOOST_TEST(std::get<0>(list[1]).identical(r2));
  BOOST_TEST(std::get<1>(list[2]).identical(p1));
  BOOST_TEST(std::get<0>(list[3]).identical(r1));
}

// [weakref.introspection]/3 "Each element is a handle to the existing reference ..., never a new
// one"
BOOST_AUTO_TEST_CASE(returned_handles_do_not_add_to_the_count) {
  auto obj = weakref::make_shared<tracked>(1);
  weak_ref<tracked> r(obj);
  weak_proxy<tracked> p(obj);
  BOOST_TEST(weak_ref_count(obj) == 2u);
  auto list = weak_refs(obj);
  BOOST_TEST(list.size() == 2u);
  BOOST_TEST(weak_ref_count(obj) == 2u);
  auto again = weak_refs(obj);
  BOOST_TEST(again.size() == 2u); // the previous result is not listed as new references
  BOOST_TEST(weak_ref_count(obj) == 2u);
}

// [weakref.ref.general]/3 a listed handle is the reference: it keeps it registered after the original goes
BOOST_AUTO_TEST_CASE(returned_handle_keeps_reference_registered) {
  auto obj = weakref::make_shared<tracked>(5);
  std::optional<weak_proxy<tracked>> p(std::in_place, obj);
  auto list = weak_refs(obj);
  BOOST_REQUIRE(list.size() == 1u);
  p.reset();
  BOOST_TEST(weak_ref_count(obj) == 1u);
  BOOST_REQUIRE(list[0].index() == 1u);
  BOOST_TEST(std::get<1>(list[0])->value == 5); // and it works as the proxy it is
  list.clear();
  BOOST_TEST(weak_ref_count(obj) == 0u);
  BOOST_TEST(weak_refs(obj).empty());
}

// [weakref.introspection]/3 a listed handle behaves as the original: callback identity, death
BOOST_AUTO_TEST_CASE(returned_handle_is_cleared_with_referent) {
  auto obj = weakref::make_shared<tracked>(5);
  weak_ref<tracked> seen;
  weak_ref<tracked> r(obj, [&](weak_ref<tracked> handle) { seen = handle; });
  auto list = weak_refs(obj);
  BOOST_REQUIRE(list.size() == 1u);
  BOOST_REQUIRE(list[0].index() == 0u);
  const weak_ref<tracked> listed = std::get<0>(list[0]);
  BOOST_TEST((listed.lock() == obj));
  obj.reset();
  BOOST_TEST(listed.expired());
  BOOST_TEST(seen.identical(listed));
}

// [weakref.ref.cons]/14 a destroyed reference is no longer listed
BOOST_AUTO_TEST_CASE(destroyed_refs_are_not_listed) {
  auto obj = weakref::make_shared<tracked>(1);
  weak_ref<tracked> r1(obj);
  std::optional<weak_ref<tracked>> r2(std::in_place, obj);
  weak_proxy<tracked> p(obj);
  r2.reset();
  const auto list = weak_refs(obj);
  BOOST_REQUIRE(list.size() == 2u);
  BOOST_TEST(std::get<1>(list[0]).identical(p));
  BOOST_TEST(std::get<0>(list[1]).identical(r1));
}

// [weakref.introspection]/3 copies of one reference are listed once
BOOST_AUTO_TEST_CASE(copies_are_listed_once) {
  auto obj = weakref::make_shared<tracked>(1);
  weak_ref<tracked> r(obj);
  weak_ref<tracked> copy(r);
  weak_proxy<tracked> p(obj);
  weak_proxy<tracked> pcopy(p);
  const auto list = weak_refs(obj);
  BOOST_REQUIRE(list.size() == 2u);
  BOOST_TEST(std::get<1>(list[0]).identical(pcopy));
  BOOST_TEST(std::get<0>(list[1]).identical(copy));
}

// PY-INTRO-5 "Not all objects can be weakly referenced": none listed for them
// Checks [weakref.introspection]/3.
BOOST_AUTO_TEST_CASE(empty_for_non_factory_objects) {
  auto std_obj = std::make_shared<tracked>(1);
  std::weak_ptr<tracked> w(std_obj);
  BOOST_TEST(weak_refs(std_obj).empty());
  BOOST_TEST(weak_refs(std::shared_ptr<tracked>()).empty());
  BOOST_TEST(weak_refs(std::shared_ptr<int>(new int(1))).empty());
}

// [weakref.introspection]/3 Every reference is listed whatever its element type, so the size is
// weak_ref_count (PY-COUNT-1 and PY-REFS-1 agree, as CPython's tests assume). This replaces a
// test of the former deviation, where weak_refs(shared_ptr<Derived>) left out a weak_ref<Base>.
BOOST_AUTO_TEST_CASE(every_reference_is_listed_whatever_its_type) {
  auto d = weakref::make_shared<derived>();
  std::shared_ptr<base> b = d;
  weak_ref<derived> rd(d);
  weak_ref<base> rb(b);
  weak_proxy<base> pb(b);
  weakref::weak_set<int> ints;
  ints.insert(std::shared_ptr<int>(d, &d->d)); // an entry: a reference to a subobject
  BOOST_TEST(weak_ref_count(d) == 4u);

  const auto of_derived = weak_refs(d);
  BOOST_REQUIRE(of_derived.size() == weak_ref_count(d));
  BOOST_REQUIRE(of_derived[1].index() == 1u);
  BOOST_TEST(std::get<1>(of_derived[1]).identical(pb)); // the existing references
  BOOST_TEST(std::get<0>(of_derived[2]).identical(rb));
  BOOST_TEST(std::get<0>(of_derived[3]).identical(rd));
  BOOST_TEST((std::get<0>(of_derived[2]).lock() == d)); // each seen as a reference to *d
  BOOST_TEST(std::get<1>(of_derived[1])->d == 2);
  BOOST_TEST(weak_ref_count(d) == 4u); // listing made no new reference

  const auto of_base = weak_refs(b);
  BOOST_REQUIRE(of_base.size() == 4u);
  BOOST_TEST(std::get<0>(of_base[3]).identical(rd));
  BOOST_TEST((std::get<0>(of_base[2]).lock() == b));

  d.reset();
  b.reset();
  BOOST_TEST(std::get<0>(of_derived[3]).expired());
  BOOST_TEST(std::get<1>(of_derived[1]).expired());
}

// [weakref.introspection]/6 Through a std::weak_ptr: the same count and list; 0 and none once
// it has expired.
BOOST_AUTO_TEST_CASE(accept_a_std_weak_ptr) {
  auto obj = weakref::make_shared<tracked>(1);
  const std::weak_ptr<tracked> w = obj;
  weak_ref<tracked> r(obj);
  weak_proxy<tracked> p(obj);
  BOOST_TEST(weak_ref_count(w) == 2u);
  const auto list = weak_refs(w);
  BOOST_REQUIRE(list.size() == 2u);
  BOOST_TEST(std::get<1>(list[0]).identical(p));
  BOOST_TEST(std::get<0>(list[1]).identical(r));
  static_assert(noexcept(weak_ref_count(w)));
  obj.reset();
  BOOST_TEST(weak_ref_count(w) == 0u);
  BOOST_TEST(weak_refs(w).empty());
  BOOST_TEST(weak_ref_count(std::weak_ptr<tracked>()) == 0u);
}

BOOST_AUTO_TEST_SUITE_END() // refs

BOOST_AUTO_TEST_SUITE_END() // introspection
