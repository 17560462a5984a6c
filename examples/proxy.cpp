// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// A proxy used as the object itself; using it after the referent died throws reference_error.
#include <cstdio>
#include <memory>
import weakref;

struct Rect {
  int w, h;
  int area() const { return w * h; }
};

int main() {
  auto rect = weakref::make_shared<Rect>(3, 4);
  weakref::weak_proxy<Rect> p(rect);
  std::printf("area: %d\n", p->area());
  rect.reset();
  try {
    p->area();
  } catch (const weakref::reference_error& e) {
    std::printf("after death: %s\n", e.what());
  }
}
