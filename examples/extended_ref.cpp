// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The Python doc's ExtendedRef: a ref subclass that counts successful calls and returns the
// referent together with that count. As in Python, its optional callback receives the
// ExtendedRef itself (through a self_callback member), not a plain weak_ref.
#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <utility>
import weakref;

template <class T>
class extended_ref : public weakref::weak_ref<T> {
public:
  explicit extended_ref(const std::shared_ptr<T>& ob) : weakref::weak_ref<T>(ob) {}
  template <class F>
  extended_ref(const std::shared_ptr<T>& ob, F&& callback)
      : callback_(*this, ob, std::forward<F>(callback)) {}

  std::optional<std::pair<std::shared_ptr<T>, std::size_t>> operator()() {
    std::shared_ptr<T> ob = weakref::weak_ref<T>::operator()();
    if (!ob) return std::nullopt;
    return std::pair{std::move(ob), ++counter_};
  }
  std::size_t calls() const noexcept { return counter_; }

private:
  std::size_t counter_ = 0;
  weakref::self_callback<extended_ref> callback_; // last: bound after the members it may read
};

int main() {
  auto answer = weakref::make_shared<int>(42);
  extended_ref<int> r(answer, [](extended_ref<int>& self) {
    std::printf("callback: the ref that was called %zu times\n", self.calls());
  });
  for (int i = 0; i < 2; ++i)
    if (auto hit = r()) std::printf("call %zu -> %d\n", hit->second, *hit->first);
  answer.reset();
  std::printf("after death: %s\n", r() ? "alive" : "empty");
}
