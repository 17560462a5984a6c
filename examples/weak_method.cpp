// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// weakref::weak_method (Python 3.4's WeakMethod): observers that do not keep their objects alive,
// stored as std::function or in a registry that each removes itself from when its object dies.
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>
import weakref;

struct Window {
  std::string title;
  void on_resize(int width) { std::printf("%s resized to %d\n", title.c_str(), width); }
};

using resize_slot = weakref::weak_method<Window, void (Window::*)(int)>;

struct slot_hash {
  std::size_t operator()(const resize_slot& s) const noexcept { return s.owner_hash(); }
};
struct slot_equal {
  bool operator()(const resize_slot& a, const resize_slot& b) const { return a.owner_equal(b); }
};

int main() {
  auto main_window = weakref::make_shared<Window>("main");
  auto dialog = weakref::make_shared<Window>("dialog");

  std::vector<std::function<void(int)>> listeners;
  listeners.push_back(weakref::weak_method(main_window, &Window::on_resize));

  std::unordered_set<resize_slot, slot_hash, slot_equal> slots;
  auto leave = [&slots](resize_slot dead) { slots.erase(dead); };
  slots.insert(resize_slot(dialog, &Window::on_resize, leave));

  for (auto& listen : listeners) listen(800); // "main resized to 800"
  for (const auto& slot : slots) slot(400);   // "dialog resized to 400"
  dialog.reset();                             // the dialog's slot leaves the registry
  std::printf("slots: %zu\n", slots.size());  // "slots: 0"
  main_window.reset();
  for (auto& listen : listeners) listen(640); // its window is gone: nothing happens
  resize_slot stale(weakref::make_shared<Window>("temporary"), &Window::on_resize);
  if (!stale(1)) std::printf("a dead weak method calls nothing\n"); // its window died at once
}
