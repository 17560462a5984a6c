// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
// A proxy passed to code that was written for the object itself: a function template that walks a
// range of readings, and a std::function that wants a callable. Neither knows about weak
// references, and neither keeps the objects alive; once they are gone, the next use throws.
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>
import weakref;

// Written for a std::vector<double>; any range of numbers will do.
double total(const auto& readings) {
  double sum = 0;
  for (double r : readings) sum += r;
  return sum;
}

struct Scale {
  double factor;
  double operator()(double x) const { return x * factor; }
};

int main() {
  auto readings = weakref::make_shared<std::vector<double>>(std::vector{1.5, 2.5, 4.0});
  auto scale = weakref::make_shared<Scale>(2.0);

  weakref::weak_proxy<std::vector<double>> readings_proxy(readings);
  std::function<double(double)> transform = weakref::weak_proxy<Scale>(scale); // a callable proxy

  const double first = readings_proxy[0]; // the element, read while the proxy's owner holds it
  std::printf("total: %g of %zu readings, first %g\n", total(readings_proxy), readings_proxy.size(),
              first);
  std::printf("scaled: %g\n", transform(21));

  scale.reset(); // the std::function holds only a weak proxy: the Scale is gone
  try {
    transform(1);
  } catch (const weakref::reference_error& e) {
    std::printf("after death: %s\n", e.what());
  }
}
