// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Printing weak references and weak containers with std::format, as Python's repr prints them:
// the referent's type and address while it lives, "dead" after.
#include <cstdio>
#include <format>
#include <memory>
#include <string>
import weakref;

struct Image {
  std::string name;
};

int main() {
  auto logo = weakref::make_shared<Image>("logo.png");
  weakref::weak_ref<Image> ref(logo);
  std::printf("%s\n", std::format("{}", ref).c_str()); // <weakref at 0x...; to 'Image' at 0x...>

  auto size = weakref::make_shared<int>(640);
  weakref::weak_value_map<int, int> sizes;
  sizes[1] = size;
  std::printf("%s\n", std::format("{}", sizes).c_str()); // {1: 640}

  logo.reset();
  std::printf("%s\n", std::format("{}", ref).c_str()); // <weakref at 0x...; dead>
}
