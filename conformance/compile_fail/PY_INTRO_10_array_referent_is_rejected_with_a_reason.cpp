// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// expected: weak_ref<T>: T must be a non-array object type
// PY-INTRO-10 (adapted): any non-array object type can be weakly referenced; an array type is
// rejected at compile time with a diagnostic that says so.
// Checks [weakref.ref.general]/2.
#include <memory>
import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

int main() {
  wr::weak_ref<int[]> r;
  return r.expired() ? 0 : 1;
}
