// A C++20 consumer of the installed package: standard headers #included, then the module.
#include <cstdio>
#include <memory>
#include <string>
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

  const bool alive = ref() == logo && proxy->name == "logo.png" && cache.size() == 1 &&
                     weakref::weak_ref_count(logo) == 3;
  logo.reset();
  const bool dead = !ref() && callbacks == 1 && cache.empty() && proxy.expired();
  std::printf("C++20 consumer: alive %s, dead %s\n", alive ? "ok" : "FAILED",
              dead ? "ok" : "FAILED");
  return alive && dead ? 0 : 1;
}
