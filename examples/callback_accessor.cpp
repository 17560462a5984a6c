// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The callback accessor (Python 3.4's ref.__callback__): a weak reference shows its callback
// while the referent lives, with std::function's target vocabulary, and none after the death.
#include <cstdio>
#include <memory>
#include <typeinfo>
import weakref;

struct Logger {
  const char* name;
  void operator()(weakref::weak_ref<int>) const { std::printf("%s: referent died\n", name); }
};

int main() {
  auto obj = weakref::make_shared<int>(42);
  weakref::weak_ref<int> r(obj, Logger{"audit"});
  if (const Logger* cb = r.callback<Logger>()) std::printf("callback: %s\n", cb->name);
  std::printf("has callback: %s\n", r.has_callback() ? "yes" : "no");
  obj.reset(); // "audit: referent died"
  std::printf("after death: %s\n", r.callback_type() == typeid(void) ? "none" : "still there");
}
