// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// The Python doc's ExtendedRef: a ref subclass that counts successful calls and returns the
// referent together with that count.
#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <utility>
import weakref;

template <class T>
class extended_ref : public weakref::weak_ref<T> {
public:
  using weakref::weak_ref<T>::weak_ref;

  std::optional<std::pair<std::shared_ptr<T>, std::size_t>> operator()() {
    std::shared_ptr<T> ob = weakref::weak_ref<T>::operator()();
    if (!ob) return std::nullopt;
    return std::pair{std::move(ob), ++counter_};
  }

private:
  std::size_t counter_ = 0;
};

int main() {
  auto answer = weakref::make_shared<int>(42);
  extended_ref<int> r(answer);
  for (int i = 0; i < 2; ++i)
    if (auto hit = r()) std::printf("call %zu -> %d\n", hit->second, *hit->first);
  answer.reset();
  std::printf("after death: %s\n", r() ? "alive" : "empty");
}
