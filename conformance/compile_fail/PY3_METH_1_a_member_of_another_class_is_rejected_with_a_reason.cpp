// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// expected: weakref::weak_method<T, M>: M must be a pointer to a member function of T
// PY3-METH-1: a weak method binds an object to one of its own members (Python: "argument should
// be a bound method"); a member of an unrelated class is a compile-time error with a reason.
// Checks [weakref.method.general]/2.
#include <memory>
import weakref;
namespace wr = WEAKREF_CONFORMANCE_NAMESPACE;

struct window {
  void on_resize(int) {}
};
struct document {};

int main() {
  auto doc = wr::make_shared<document>();
  wr::weak_method<document, void (window::*)(int)> m(doc, &window::on_resize);
  return m(1) ? 0 : 1;
}
