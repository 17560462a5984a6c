// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The Python doc's first example (Weak Reference Objects): r() returns the referent while it is
// alive, nothing once it is gone.
#include <cstdio>
#include <memory>
import weakref;

struct Object {};

int main() {
  std::shared_ptr<Object> o = weakref::make_shared<Object>();
  weakref::weak_ref<Object> r(o);
  std::shared_ptr<Object> o2 = r();
  std::printf("o is o2: %s\n", o == o2 ? "true" : "false");
  o.reset();
  o2.reset(); // del o, o2
  std::printf("after del: %s\n", r() ? "r() is alive" : "r() is empty");
}
