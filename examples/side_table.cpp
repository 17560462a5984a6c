// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// A side table: extra data attached to objects owned elsewhere, without changing their type.
// The entry (and its value) goes away with the object.
#include <cstdio>
#include <memory>
#include <string>
import weakref;

struct Widget {
  int id;
};

int main() {
  weakref::weak_key_map<Widget, std::string, weakref::identity_hash<Widget>,
                        weakref::identity_equal<Widget>>
      tooltips;
  auto ok = weakref::make_shared<Widget>(1);
  auto cancel = weakref::make_shared<Widget>(2);
  tooltips[ok] = "Apply the changes";
  tooltips[cancel] = "Discard the changes";
  std::printf("%s\n", tooltips.at(*cancel).c_str());
  cancel.reset();
  std::printf("tooltips: %zu\n", tooltips.size());
}
