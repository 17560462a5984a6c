// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// C++23 code imports both std and weakref, in either order (the paper, on the reference
// implementation's module; [weakref.syn] declares what it exports). Built only by the `std` preset.
import std;
import weakref;

int main() {
  auto p = weakref::make_shared<std::string>("referent");
  int calls = 0;
  weakref::weak_ref<std::string> r(p, [&](weakref::weak_ref<std::string>) { ++calls; });
  weakref::weak_proxy<std::string> proxy(p);
  const bool alive =
      r() && *r() == "referent" && proxy.size() == 8 && weakref::weak_ref_count(p) == 2 &&
      std::hash<weakref::weak_ref<std::string>>{}(r) == std::hash<std::string>{}("referent");
  p.reset();
  const bool dead = !r() && calls == 1;
  std::println("alive: {}, dead: {}", alive, dead);
  return alive && dead ? 0 : 1;
}
