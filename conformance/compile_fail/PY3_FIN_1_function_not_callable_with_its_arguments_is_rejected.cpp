// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// expected: F must be callable with lvalues of Args...
// PY3-FIN-1 (adapted): finalize(obj, func, args...) calls func(args...) at obj's death; a function
// that cannot be called with those arguments is rejected when the finalizer is made, with a
// diagnostic that says so, not when the object dies.
// Checks [weakref.finalize.general]/2.
#include <memory>
#include <string>
import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

int main() {
  auto obj = wr::make_shared<int>(1);
  wr::finalize f(obj, [](int) {}, std::string("not an int"));
  return f.alive() ? 0 : 1;
}
