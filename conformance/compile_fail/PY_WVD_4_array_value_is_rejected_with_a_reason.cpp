// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// expected: the weakly held type of a weak container (weak_value_map<K, V>'s V
// PY-WVD-4: weak_value_map's values are held by weak references, so an array type, which cannot
// be weakly referenced, is rejected as the value type at compile time, with a diagnostic that
// says so.
// Checks [weakref.value.map]/2.
#include <memory>
import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

int main() {
  wr::weak_value_map<int, int[2]> map;
  return static_cast<int>(map.size());
}
