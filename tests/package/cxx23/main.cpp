// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// A C++23 consumer of the installed package: `import std;` and `import weakref;`, nothing
// #included.
import std;
import weakref;

struct Image {
  std::string name;
};

int main() {
  auto logo = weakref::make_shared<Image>("logo.png");
  int callbacks = 0;
  weakref::weak_ref<Image> ref(logo, [&](weakref::weak_ref<Image>) { ++callbacks; });
  weakref::weak_proxy<Image> proxy(logo);
  weakref::weak_value_map<std::string, Image> cache;
  cache["logo"] = logo;

  // [weakref.format]: <weakref at 0x...; to 'Image' at 0x...>
  const std::string at = std::format("{}", static_cast<const void*>(logo.get()));
  const bool alive = ref() == logo && proxy->name == "logo.png" && cache.size() == 1 &&
                     weakref::weak_ref_count(logo) == 3 &&
                     std::format("{}", ref).ends_with("; to 'Image' at " + at + ">");
  logo.reset();
  const bool dead = !ref() && callbacks == 1 && cache.empty() && proxy.expired() &&
                    std::format("{}", proxy).ends_with("; dead>");
  std::println("C++23 consumer: alive {}, dead {}", alive ? "ok" : "FAILED",
               dead ? "ok" : "FAILED");
  return alive && dead ? 0 : 1;
}
