// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// expected: T must be a non-array object type (weak_proxy<T> likewise)
// PY-INTRO-10 (adapted): any non-array object type can be weakly referenced; a weak_proxy of an
// array type is rejected at compile time, as a weak_ref of one is, with a diagnostic that says so.
// Checks [weakref.proxy.general]/2.
#include <memory>
import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

int main() {
  wr::weak_proxy<int[4]> p;
  return p.expired() ? 0 : 1;
}
