// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Death callbacks for cleanup: each open file registers a callback that runs when the last
// owner releases it, newest first, before the object is destroyed.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>
import weakref;

struct File {
  std::string name;
};

int main() {
  std::vector<weakref::weak_ref<File>> watchers;
  auto watch = [&](const std::shared_ptr<File>& f) {
    watchers.emplace_back(f, [name = f->name](weakref::weak_ref<File>) {
      std::printf("closing file '%s'\n", name.c_str());
    });
  };
  auto owners =
      std::vector{weakref::make_shared<File>("data.csv"), weakref::make_shared<File>("report.txt")};
  watch(owners[0]);
  watch(owners[1]);
  owners.pop_back(); // report.txt dies first
  owners.clear();
}
