// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// expected: weak_key_map<K, V, Hash>: Hash must be callable with const K&; for a key type without std::hash use weakref::identity_hash<K>
// PY-WKD-5 (adapted): a weak key type without std::hash is rejected at compile time, and the
// diagnostic names the identity policy that makes it usable.
// Checks [weakref.key.map]/2.
#include <memory>
import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

struct no_hash {
  int value;
};

int main() {
  wr::weak_key_map<no_hash, int> map;
  return static_cast<int>(map.size());
}
