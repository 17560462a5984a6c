// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// Observers held weakly: a subject notifies whoever is still alive, and never keeps an observer
// alive by itself.
#include <cstdio>
#include <memory>
#include <string>
import weakref;

struct Observer {
  std::string name;
  void notify(const char* event) const { std::printf("%s got %s\n", name.c_str(), event); }
};

struct Subject {
  weakref::weak_set<Observer, weakref::identity_hash<Observer>, weakref::identity_equal<Observer>>
      observers;
  void emit(const char* event) {
    for (const std::shared_ptr<Observer>& o : observers) o->notify(event);
  }
};

int main() {
  Subject subject;
  auto a = weakref::make_shared<Observer>("a");
  auto b = weakref::make_shared<Observer>("b");
  subject.observers.add(a);
  subject.observers.add(b);
  b.reset();
  subject.emit("saved");
  std::printf("observers: %zu\n", subject.observers.size());
}
