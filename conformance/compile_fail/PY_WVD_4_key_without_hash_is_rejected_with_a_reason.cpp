// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// expected: weak_value_map<K, V, Hash>: Hash must be callable with const K&
// PY-WVD-4: weak_value_map's keys are held strongly and matched by Hash and KeyEqual; a key type
// that the hash function cannot hash is rejected at compile time, with a diagnostic that says so.
// Checks [weakref.value.map]/2.
#include <memory>
import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

struct no_hash {
  int value;
  friend bool operator==(const no_hash&, const no_hash&) = default;
};

int main() {
  wr::weak_value_map<no_hash, int> map;
  return static_cast<int>(map.size());
}
