// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// | and |= on the weak maps (Python 3.9, PEP 584): merge caches, the right operand winning.
#include <cstdio>
#include <memory>
#include <string>
import weakref;

struct Texture {
  std::string file;
};

int main() {
  auto grass = weakref::make_shared<Texture>("grass.png");
  auto stone = weakref::make_shared<Texture>("stone.png");
  auto hires = weakref::make_shared<Texture>("stone@2x.png");

  weakref::weak_value_map<std::string, Texture> defaults, overrides;
  defaults["grass"] = grass;
  defaults["stone"] = stone;
  overrides["stone"] = hires;

  auto merged = defaults | overrides; // a new map; the right operand wins
  std::printf("stone: %s\n", merged.at("stone")->file.c_str());
  defaults |= overrides; // in place
  std::printf("defaults: %zu, stone: %s\n", defaults.size(), defaults.at("stone")->file.c_str());
  hires.reset(); // the entries holding it leave every map
  std::printf("merged now holds %zu\n", merged.size());
}
