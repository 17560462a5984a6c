// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// expected: weak_set<T, Hash>: Hash must be callable with const T&; for an element type without std::hash use weakref::identity_hash<T>
// PY-WS-2 (adapted): an element type without std::hash is rejected at compile time, and the
// diagnostic names the identity policy that makes it usable.
// Checks [weakref.set]/2.
#include <memory>
import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

struct no_hash {
  int value;
};

int main() {
  wr::weak_set<no_hash> set;
  return static_cast<int>(set.size());
}
