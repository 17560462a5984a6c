// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Regression tests for library bugs found by the reliability work (issue 7): each names the
// bug it pins down; the fuzz corpus (tests/fuzz/corpus/regress-*) holds the fuzzer's inputs.
#include <boost/test/unit_test.hpp>

#include <memory>
#include <ranges>
#include <vector>

#include "support.hpp"
import weakref;

using weakref_test::tracked;

BOOST_AUTO_TEST_SUITE(regressions)

// [weakref.value.map] update(rg) is "insert_or_assign(k, v) for each (k, v) of rg", and Python's
// d.update(d) is a no-op. With rg the map itself, each insert_or_assign replaced the entry the
// loop's iterator stood on (freeing it: an iterator pins the value, not the entry) and the loop
// then advanced from freed memory.
// Checks [weakref.value.map.python]/17.
BOOST_AUTO_TEST_CASE(value_map_update_from_itself) {
  std::vector<std::shared_ptr<tracked>> values;
  weakref::weak_value_map<int, tracked> m;
  for (int i = 0; i < 40; ++i) {
    values.push_back(weakref::make_shared<tracked>(i));
    m.insert_or_assign(i, values.back());
  }
  m.update(m);
  BOOST_TEST(m.size() == values.size());
  BOOST_TEST(static_cast<std::size_t>(std::ranges::distance(m)) == values.size());
  for (int i = 0; i < 40; ++i) BOOST_TEST(m.at(i) == values[static_cast<std::size_t>(i)]);
}

// The same aliasing for weak_key_map (Python: d.update(d)) and weak_set (s |= s, s.update(s)).
// Checks [weakref.key.map.python]/17; [weakref.set.python]/11; [weakref.set.algebra]/1 and /10.
BOOST_AUTO_TEST_CASE(key_map_and_set_update_from_themselves) {
  std::vector<std::shared_ptr<tracked>> keys;
  weakref::weak_key_map<tracked, int, weakref::identity_hash<tracked>,
                        weakref::identity_equal<tracked>>
      m;
  weakref::weak_set<tracked, weakref::identity_hash<tracked>, weakref::identity_equal<tracked>> s;
  for (int i = 0; i < 40; ++i) {
    keys.push_back(weakref::make_shared<tracked>(i));
    m.try_emplace(keys.back(), i);
    s.add(keys.back());
  }
  m.update(m);
  s.update(s);
  s |= s;
  BOOST_TEST(m.size() == keys.size());
  BOOST_TEST(s.size() == keys.size());
  BOOST_TEST(static_cast<std::size_t>(std::ranges::distance(m)) == keys.size());
  for (int i = 0; i < 40; ++i) BOOST_TEST(m.at(*keys[static_cast<std::size_t>(i)]) == i);
}

BOOST_AUTO_TEST_SUITE_END()
