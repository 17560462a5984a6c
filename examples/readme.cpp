// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The example of README.md, kept identical to it.
// clang-format off: the README prints this program as it is here, byte for byte.
#include <cstdio>
#include <memory>
import weakref;

struct Image { int id; };

int main() {
  auto img = weakref::make_shared<Image>(7);
  weakref::weak_ref<Image> r(img, [](weakref::weak_ref<Image>) { std::puts("image gone"); });
  if (auto o = r()) std::printf("image %d is alive\n", o->id); // the thread-safe idiom
  img.reset();                                                 // prints "image gone"
}
